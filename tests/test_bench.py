"""The timing harness: its table's shape and columns, and its refusals."""

import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest

from embedtut.bench import (
    BackgroundLoad,
    Ratio,
    Sweep,
    Timing,
    _block,
    compare,
    peak_memory,
    pivot,
    require_on_cpu,
    sweep,
)


def test_sweep_table_shape_columns_and_measures():
    seen = []
    cases = {
        "a": lambda n: lambda: seen.append(("a", n)),
        "b": lambda n: lambda: seen.append(("b", n)),
    }
    result = sweep(
        "n",
        [1, 10, 100],
        cases,
        rounds=3,
        warmup=1,
        min_round_s=0,
        measures={"size": lambda fn: 7.0},
    )
    assert isinstance(result, Sweep)
    table = result.table
    assert table.shape == (6, 6)
    assert list(table.columns) == ["n", "case", "robust_s", "median_s", "best_s", "size"]
    assert table["n"].tolist() == [1, 1, 10, 10, 100, 100]
    assert table["case"].tolist() == ["a", "b"] * 3
    assert (table["best_s"] <= table["robust_s"]).all()
    # 1 warmup + 1 calibration call + 3 timed rounds of one call each; measures run after.
    assert seen.count(("a", 10)) == 5
    wide = result.pivot()
    assert wide.shape == (3, 2) and list(wide.columns) == ["a", "b"]
    assert list(wide.index) == [1, 10, 100]
    assert result.growth("a", 100, 1).rounds == 3


def test_sweep_sets_every_point_up_before_timing_any():
    events = []

    def factory(n):
        events.append(("setup", n))
        return lambda: events.append(("call", n))

    sweep("n", [1, 2], {"a": factory}, rounds=3, warmup=0, min_round_s=0)
    first_call = next(i for i, e in enumerate(events) if e[0] == "call")
    assert [e for e in events[:first_call]] == [("setup", 1), ("setup", 2)]


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
    table = sweep("n", [1], {"a": lambda n: lambda: None}, rounds=3, warmup=0).table
    with pytest.raises(ValueError, match="no column 'V'"):
        pivot(table, "V")


def test_compare_interleaves_and_reverses_the_order_each_round():
    order = []
    compare(
        {"a": lambda: order.append("a"), "b": lambda: order.append("b")},
        rounds=4,
        warmup=0,
        min_round_s=0,
    )
    # one calibration call each, then rounds: a b | b a | a b | b a
    assert order == ["a", "b"] + ["a", "b", "b", "a", "a", "b", "b", "a"]


def test_compare_calibrates_calls_per_round():
    calls = {"fast": 0}

    def fast():
        calls["fast"] += 1

    result = compare({"fast": fast}, rounds=3, warmup=0, min_round_s=0.005)
    n = result.number["fast"]
    assert n > 10  # an empty call is far below 5 ms: many calls make up one round
    assert calls["fast"] == 1 + 3 * n
    assert result.table().loc["fast", "calls_per_round"] == n


def _spin(n):
    total = 0
    for i in range(n):
        total += i * i
    return total


def test_compare_detects_a_deliberately_slowed_variant():
    result = compare(
        {"slow": lambda: _spin(80_000), "fast": lambda: _spin(10_000)}, rounds=9, warmup=1
    )
    ratio = result.ratio("slow", "fast")
    assert ratio.slow == "slow" and ratio.fast == "fast" and ratio.rounds == 9
    ratio.require(at_least=3.0, claim="8 times the work")  # expected about 8
    assert ratio.low <= ratio.high
    with pytest.raises(AssertionError, match=r"expected at most 1.5x, measured .*x \(per-round"):
        ratio.require(at_most=1.5)
    result.ratio("fast", "slow").require(at_most=0.34)


def test_verdict_does_not_flip_under_background_load():
    def verdict():
        result = compare(
            {"slow": lambda: _spin(80_000), "fast": lambda: _spin(10_000)}, rounds=9, warmup=1
        )
        return result.ratio("slow", "fast").estimate >= 3.0

    quiet = verdict()
    with BackgroundLoad(workers=2, seconds=60) as load:
        busy = verdict()
        assert load.running == 2  # the load really ran throughout
    assert quiet and busy
    assert load.running == 0  # stopped on exit


def test_compare_and_require_refuse_bad_arguments():
    with pytest.raises(ValueError, match="empty"):
        compare({})
    with pytest.raises(ValueError, match="rounds"):
        compare({"a": lambda: None}, rounds=2)
    with pytest.raises(ValueError, match="quantile"):
        compare({"a": lambda: None}, quantile=1.5)
    result = compare({"a": lambda: None}, rounds=3, warmup=0, min_round_s=0)
    with pytest.raises(KeyError, match="no variant 'b'"):
        result.ratio("a", "b")
    with pytest.raises(ValueError, match="at_least, at_most"):
        Ratio(1.0, 1.0, 1.0, 3).require()
    with pytest.raises(ValueError, match="workers"):
        BackgroundLoad(workers=0)


def test_background_load_workers_stop_by_themselves():
    import time

    load = BackgroundLoad(workers=1, seconds=0.5)
    with load:
        time.sleep(1.5)
        assert load.running == 0


def test_quantile_interpolates():
    timing = Timing(median=2.0, best=1.0, runs=(4.0, 1.0, 3.0, 2.0, 5.0))
    assert timing.quantile(0) == 1.0 and timing.quantile(1) == 5.0
    assert timing.quantile(0.5) == 3.0 and timing.quantile(0.125) == 1.5


def test_block_walks_nested_results():
    seen = []

    class Fake:
        def __init__(self, name):
            self.name = name

        def numpy(self):
            seen.append(self.name)

    class Slices:
        values, indices = Fake("values"), Fake("indices")

    class JaxLike:
        def block_until_ready(self):
            seen.append("jax")

    _block([Fake("a"), {"k": (Fake("b"),)}, Slices(), JaxLike()])
    assert seen == ["a", "b", "values", "indices", "jax"]


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


def test_require_on_cpu_checks_without_a_gpu_and_says_so_when_it_skips(capsys):
    ratio = Ratio(2.0, 1.8, 2.2, 9, slow="big", fast="small")
    require_on_cpu(ratio, at_least=1.5, at_most=3, gpus=[])
    with pytest.raises(AssertionError, match="grows.*expected at least 3x, measured 2.00x"):
        require_on_cpu(ratio, at_least=3, claim="grows", gpus=[])
    assert capsys.readouterr().out == ""
    require_on_cpu(ratio, at_least=3, claim="grows", gpus=["GPU:0"])
    out = capsys.readouterr().out
    assert out.startswith("SKIPPED, 1 GPU(s) visible: grows (big / small at least 3x")
    assert "measured 2.00x" in out
    with pytest.raises(ValueError, match="at_least"):
        require_on_cpu(ratio, gpus=["GPU:0"])
