"""Tests for embedtut.traffic: the HLO reader, the traffic models, and both on simulated devices."""

import pytest

from embedtut import scale, traffic
from embedtut.backends import run_on_backend

HLO = """
  %all-reduce = f32[32,20,16]{2,1,0} all-reduce(%x), channel_id=4, replica_groups={}
  %fusion = f32[32,20,16]{2,1,0} fusion(%all-reduce, %param), kind=kLoop
  ROOT %all-reduce.3 = (f32[], f32[250,16]{1,0}) all-reduce(%a, %b), channel_id=5
  %all-gather-start = bf16[8,4]{1,0} all-gather-start(%c), dimensions={1}
  %all-gather-done = bf16[8,4]{1,0} all-gather-done(%all-gather-start)
"""


def test_collectives_reads_ops_and_bytes():
    found = traffic.collectives(HLO)
    assert [f["op"] for f in found] == ["all-reduce", "all-reduce", "all-gather"]
    assert [f["bytes"] for f in found] == [32 * 20 * 16 * 4, 4 + 250 * 16 * 4, 8 * 4 * 2]


def test_describe_drops_layouts():
    line = traffic.describe(traffic.collectives(HLO))
    assert line == (
        "all-reduce f32[32,20,16]; all-reduce (f32[], f32[250,16]); all-gather bf16[8,4]"
    )


def test_lookup_traffic_model():
    rows = traffic.lookup_bytes(
        vocab_size=1000, dim=16, ids_per_batch_shard=640, model_shards=4, sharding="rows"
    )
    assert rows == {"forward": 640 * 16 * 4, "gradient": 250 * 16 * 4}
    columns = traffic.lookup_bytes(
        vocab_size=1000, dim=16, ids_per_batch_shard=640, model_shards=4, sharding="columns"
    )
    assert columns == {"forward": 0, "gradient": 250 * 16 * 4}
    with pytest.raises(ValueError, match="sharding"):
        traffic.lookup_bytes(
            vocab_size=10, dim=4, ids_per_batch_shard=1, model_shards=2, sharding="tables"
        )


def test_tables_bytes_model():
    kw = dict(tables=4, vocab_size=1000, dim=16, batch_shard=32, length=10, model_shards=4)
    assert traffic.tables_bytes(**kw, sharding="rows") == {
        "forward": 4 * 32 * 10 * 16 * 4,
        "gradient": 1000 * 16 * 4,
        "head": 64 * 4,
    }
    assert traffic.tables_bytes(**kw, sharding="columns")["forward"] == 32 * 4 * 16 * 4
    tables = traffic.tables_bytes(**kw, sharding="tables")
    assert tables == {"forward": 32 * 4, "gradient": 1000 * 16 * 4, "head": (64 + 16) * 4}
    assert traffic.tables_bytes(**kw, sharding="replicated")["gradient"] == 4 * 1000 * 16 * 4
    with pytest.raises(ValueError, match="sharding"):
        traffic.tables_bytes(**kw, sharding="diagonal")
    with pytest.raises(ValueError, match="tables"):
        traffic.tables_bytes(**{**kw, "tables": 0}, sharding="rows")


def test_models_match_compiled_programs_on_simulated_devices():
    result = run_on_backend(
        "jax",
        "embedtut.traffic:self_check",
        env={"XLA_FLAGS": f"{scale.SIMULATED_DEVICES_FLAG}=4"},
        devices=4,
        timeout_s=120,
    )
    assert sorted(result["bytes"]) == sorted(
        [f"one table, {s}" for s in scale.SHARDINGS]
        + [f"tables, {s}" for s in traffic.TABLE_SHARDINGS]
    )
    for layout, (measured, model) in result["bytes"].items():
        # + the scalar loss, summed over the batch axis; one column-sharded table's loss is
        # first summed over the model axis too (the columns meet only there)
        loss = 8 if layout == "one table, columns" else 4
        assert measured == model + loss, layout
    assert "use a multiple of 2 tables, not 3" in result["uneven"]
