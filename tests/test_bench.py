"""The timing harness: its table's shape and columns, and its refusals."""

import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest

from embedtut.bench import Timing, _block, peak_memory, pivot, sweep, time_call


def test_time_call_counts_runs():
    calls = []
    timing = time_call(lambda: calls.append(1), repeat=3, warmup=2, number=4)
    assert isinstance(timing, Timing)
    assert len(calls) == 2 + 3 * 4
    assert len(timing.runs) == 3
    assert timing.best == min(timing.runs) <= timing.median


@pytest.mark.parametrize("kwargs", [{"repeat": 0}, {"number": 0}, {"warmup": -1}])
def test_time_call_refuses_bad_counts(kwargs):
    with pytest.raises(ValueError, match="repeat and number"):
        time_call(lambda: None, **kwargs)


def test_sweep_table_shape_columns_and_measures():
    seen = []
    cases = {
        "a": lambda n: lambda: seen.append(("a", n)),
        "b": lambda n: lambda: seen.append(("b", n)),
    }
    table = sweep("n", [1, 10, 100], cases, repeat=2, warmup=1, measures={"size": lambda fn: 7.0})
    assert table.shape == (6, 5)
    assert list(table.columns) == ["n", "case", "median_s", "best_s", "size"]
    assert table["n"].tolist() == [1, 1, 10, 10, 100, 100]
    assert table["case"].tolist() == ["a", "b"] * 3
    assert (table["size"] == 7.0).all()
    assert (table["best_s"] <= table["median_s"]).all()
    # 1 warmup + 2 timed calls; this measure does not call fn.
    assert seen.count(("a", 10)) == 3
    wide = pivot(table, "n")
    assert wide.shape == (3, 2) and list(wide.columns) == ["a", "b"]
    assert list(wide.index) == [1, 10, 100]


@pytest.mark.parametrize(
    "args,kwargs,match",
    [
        (("n", [1], {}), {}, "cases is empty"),
        (("n", [], {"a": lambda n: lambda: None}), {}, "no values"),
        (("case", [1], {"a": lambda n: lambda: None}), {}, "param"),
        (("n", [1], {"a": lambda n: lambda: None}), {"measures": {"best_s": len}}, "clash"),
    ],
)
def test_sweep_refuses_bad_arguments(args, kwargs, match):
    with pytest.raises(ValueError, match=match):
        sweep(*args, **kwargs)


def test_pivot_names_a_missing_column():
    table = sweep("n", [1], {"a": lambda n: lambda: None}, repeat=1, warmup=0)
    with pytest.raises(ValueError, match="no column 'V'"):
        pivot(table, "V")


def test_block_walks_nested_results():
    seen = []

    class Fake:
        def __init__(self, name):
            self.name = name

        def numpy(self):
            seen.append(self.name)

    class Slices:
        values, indices = Fake("values"), Fake("indices")

    _block([Fake("a"), {"k": (Fake("b"),)}, Slices()])
    assert seen == ["a", "b", "values", "indices"]


def test_peak_memory_refuses_without_allocator_stats(monkeypatch):
    monkeypatch.delenv("TF_CPU_ALLOCATOR_USE_BFC", raising=False)
    with pytest.raises(RuntimeError, match="enable_cpu_memory_stats"):
        peak_memory(lambda: None)


def test_peak_memory_counts_the_bytes_a_call_allocates():
    # A fresh process: the allocator choice is fixed at TensorFlow's first op.
    code = textwrap.dedent(
        """
        from embedtut.bench import enable_cpu_memory_stats, peak_memory
        enable_cpu_memory_stats()
        import tensorflow as tf
        x = tf.ones((1000,))
        small = peak_memory(lambda: x * 2)
        big = peak_memory(lambda: tf.ones((1000, 1000)) * 2)
        print(small, big)
        """
    )
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=env, check=True
    )
    small, big = (int(v) for v in out.stdout.split())
    assert 4000 <= small < 100_000
    assert big >= 4_000_000  # at least the 1000 × 1000 float32 result
    assert np.isfinite(big)
