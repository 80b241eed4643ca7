"""Tests for embedtut.quantized: the table-sized-result reader and a small lookup run on JAX."""

import pytest

from embedtut import quantized
from embedtut.backends import run_on_backend

HLO = """
%fused_computation (param_0: s8[5000,16]) -> f32[5000,16] {
  %convert.1 = f32[5000,16]{1,0} convert(%param_0)
}

ENTRY %main (table: s8[5000,16], ids: s32[8,4]) -> f32[8,4,16] {
  %table = s8[5000,16]{1,0} parameter(0)
  %ids = s32[8,4]{1,0} parameter(1)
  %copy.15 = s8[5000,16]{1,0} copy(%table)
  %gather = f32[8,4,16]{2,1,0} gather(%copy.15, %ids)
  ROOT %tuple = (f32[8,4,16]{2,1,0}, f32[50000]{0}) tuple(%gather, %other)
}
"""


def test_table_sized_results_reads_only_the_top_level_program():
    found = quantized.table_sized_results(HLO, 5000)
    assert found == ["%copy.15 = s8[5000,16]{1,0} copy(%table)"]
    assert quantized.table_sized_results(HLO, 50000) == [
        "ROOT %tuple = (f32[8,4,16]{2,1,0}, f32[50000]{0}) tuple(%gather, %other)"
    ]
    assert quantized.table_sized_results(HLO, 16) == []


def test_lookup_function_refuses_other_backends_and_modes():
    import keras

    if keras.backend.backend() != "jax":
        with pytest.raises(ValueError, match="KERAS_BACKEND=jax"):
            quantized.lookup_function(10, 4, "int8")
    with pytest.raises(ValueError, match="mode"):
        quantized.lookup_function(10, 4, "int2")


def test_lookup_costs_on_jax_materialise_no_table():
    result = run_on_backend(
        "jax",
        "embedtut.quantized:lookup_costs",
        vocab_sizes=[5_000, 20_000],
        batch=8,
        length=10,
        rounds=3,
        timeout_s=120,
    )
    rows = {(r["mode"], r["vocab_size"]): r for r in result["rows"]}
    assert sorted(rows) == sorted((m, v) for m in quantized.MODES for v in (5_000, 20_000))
    assert all(r["table_sized"] == [] and r["seconds"] > 0 for r in rows.values())
    assert rows[("float32", 20_000)]["vs_float32"] == 1.0
    assert rows[("int8", 5_000)]["vs_smallest"] == 1.0
