"""Timing harness: robust comparisons of two or more ways of doing the same thing.

Timings are for comparing variants on the same machine, never for absolute claims. The
book's timing checks all go through :func:`compare` (and :func:`sweep`, built on it):

* the variants run **interleaved** (A, B, A, B, ... after a warm-up, the order reversed
  every other round), so a burst of background load hits all of them alike;
* each is timed over many rounds and summarised by a **low quantile** (by default the
  fastest fifth), which background load, since it only ever slows a call down, moves
  far less than the mean or the median;
* a ratio comes with the **spread** of the per-round ratios it was measured with
  (:class:`Ratio`), and :meth:`Ratio.require` turns a claim ("at least 5 times slower")
  into an assertion whose message says what was measured.

Where a claim can be checked without a clock (ops in a graph, bytes allocated, rows
changed), the book checks that first; a timing shows the size of the effect.
"""

from __future__ import annotations

import math
import os
import statistics
import time
from collections.abc import Callable, Hashable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

DEFAULT_QUANTILE = 0.2
"""The statistic :func:`compare` summarises a variant's rounds with: their 20th percentile."""


@dataclass(frozen=True)
class Timing:
    """Seconds per call over ``runs`` rounds: the median, the fastest, and a low quantile."""

    median: float
    best: float
    runs: tuple[float, ...]

    def quantile(self, q: float = DEFAULT_QUANTILE) -> float:
        """The ``q``-quantile of the rounds (``0`` is the fastest), linearly interpolated."""
        return _quantile(self.runs, q)


def _quantile(values: Iterable[float], q: float) -> float:
    if not 0.0 <= q <= 1.0:
        raise ValueError(f"a quantile lies in [0, 1], not {q}")
    ordered = sorted(values)
    if not ordered:
        raise ValueError("no values to take a quantile of")
    position = q * (len(ordered) - 1)
    low, high = math.floor(position), math.ceil(position)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


def _block(result: Any) -> None:
    """Wait for asynchronous results (TensorFlow tensors, JAX arrays) to be computed.

    Walks lists, tuples and dicts, and the parts of ``tf.IndexedSlices``-like objects
    (``values``, ``indices``), calling ``.block_until_ready()`` on every JAX array found
    (JAX dispatches asynchronously: without it a timing measures the dispatch, not the
    work) and ``.numpy()`` on every other tensor.
    """
    if isinstance(result, (list, tuple)):
        for item in result:
            _block(item)
    elif isinstance(result, dict):
        for item in result.values():
            _block(item)
    elif hasattr(result, "block_until_ready"):
        result.block_until_ready()
    elif hasattr(result, "numpy"):
        result.numpy()
    elif hasattr(result, "values") and hasattr(result, "indices"):
        _block(result.values)
        _block(result.indices)


def _timed(fn: Callable[[], Any], number: int) -> float:
    start = time.perf_counter()
    for _ in range(number):
        _block(fn())
    return (time.perf_counter() - start) / number


@dataclass(frozen=True)
class Ratio:
    """How many times longer variant ``slow`` took than variant ``fast``.

    Attributes:
        estimate: the ratio of the two variants' low quantiles: the number claims are
            checked against.
        low, high: the 25th and 75th percentiles of the per-round ratios (round ``i`` of
            one variant over round ``i`` of the other, measured back to back): the spread
            the estimate was measured with.
        rounds: how many paired rounds there were.
        slow, fast: the two variants' names.
    """

    estimate: float
    low: float
    high: float
    rounds: int
    slow: Hashable = "a"
    fast: Hashable = "b"

    def __str__(self) -> str:
        return (
            f"{self.estimate:.2f}x (per-round ratios {self.low:.2f}-{self.high:.2f}, "
            f"{self.rounds} rounds)"
        )

    def require(
        self, *, at_least: float | None = None, at_most: float | None = None, claim: str = ""
    ) -> None:
        """Assert ``at_least <= estimate <= at_most``.

        Raises:
            AssertionError: the estimate is outside the bound; the message names the
                claim, the bound, the measured ratio and its spread.
            ValueError: no bound was given.
        """
        if at_least is None and at_most is None:
            raise ValueError("give at_least, at_most or both")
        what = f"{self.slow} / {self.fast}" + (f" ({claim})" if claim else "")
        if at_least is not None and not self.estimate >= at_least:
            raise AssertionError(f"{what}: expected at least {at_least}x, measured {self}")
        if at_most is not None and not self.estimate <= at_most:
            raise AssertionError(f"{what}: expected at most {at_most}x, measured {self}")


def require_on_cpu(
    ratio: Any,
    *,
    at_least: float | None = None,
    at_most: float | None = None,
    claim: str = "",
    gpus: Sequence[Any] | None = None,
) -> None:
    """Check a cost claim that was measured, and holds, on a CPU; with a GPU, say it was not.

    The book's cost ratios were measured on a CPU, where they rest on work such as one
    pass over a whole table taking tens of milliseconds; a GPU changes those costs (that
    pass takes microseconds there), so its thresholds say nothing about one. With no GPU
    visible this is ``ratio.require(at_least=..., at_most=..., claim=...)``; with one, the
    check is skipped and a line saying so, with the bound and the measured ratio, is
    printed: never a silent pass.

    Args:
        ratio: a :class:`Ratio`.
        at_least, at_most, claim: as for :meth:`Ratio.require`.
        gpus: the visible GPUs; by default ``tf.config.list_physical_devices("GPU")``.

    Raises:
        AssertionError: no GPU is visible and the ratio is outside the bound.
        ValueError: no bound was given.
    """
    if at_least is None and at_most is None:
        raise ValueError("give at_least, at_most or both")
    if gpus is None:
        import tensorflow as tf

        gpus = tf.config.list_physical_devices("GPU")
    if not gpus:
        ratio.require(at_least=at_least, at_most=at_most, claim=claim)
        return
    bound = " and ".join(
        f"{word} {value}x"
        for word, value in (("at least", at_least), ("at most", at_most))
        if value is not None
    )
    print(
        f"SKIPPED, {len(gpus)} GPU(s) visible: {claim or 'cost claim'} "
        f"({ratio.slow} / {ratio.fast} {bound} is a claim about a CPU); measured {ratio}"
    )


@dataclass(frozen=True)
class Comparison:
    """Interleaved timings of several variants: what :func:`compare` returns.

    Attributes:
        timings: variant name -> its :class:`Timing` (seconds per call, per round, in the
            order the rounds ran).
        number: variant name -> calls per timed round.
        quantile: the quantile :meth:`seconds` and :meth:`ratio` summarise rounds with.
    """

    timings: Mapping[Hashable, Timing]
    number: Mapping[Hashable, int]
    quantile: float = DEFAULT_QUANTILE

    def seconds(self, name: Hashable) -> float:
        """The variant's robust time per call: the ``quantile`` of its rounds."""
        return self._timing(name).quantile(self.quantile)

    def ratio(self, slow: Hashable, fast: Hashable) -> Ratio:
        """How many times longer ``slow`` took than ``fast``, with the per-round spread."""
        a, b = self._timing(slow), self._timing(fast)
        paired = [x / y for x, y in zip(a.runs, b.runs, strict=True) if y > 0]
        if not paired:
            raise ValueError(f"{fast!r} took no measurable time in any round")
        return Ratio(
            estimate=self.seconds(slow) / self.seconds(fast),
            low=_quantile(paired, 0.25),
            high=_quantile(paired, 0.75),
            rounds=len(paired),
            slow=slow,
            fast=fast,
        )

    def table(self):
        """One row per variant: robust, median and fastest seconds per call, rounds, calls."""
        import pandas as pd

        return pd.DataFrame(
            [
                {
                    "variant": name,
                    "robust_s": self.seconds(name),
                    "median_s": t.median,
                    "best_s": t.best,
                    "rounds": len(t.runs),
                    "calls_per_round": self.number[name],
                }
                for name, t in self.timings.items()
            ]
        ).set_index("variant")

    def _timing(self, name: Hashable) -> Timing:
        if name not in self.timings:
            raise KeyError(f"no variant {name!r}; measured: {list(self.timings)}")
        return self.timings[name]


def compare(
    variants: Mapping[Hashable, Callable[[], Any]],
    *,
    rounds: int = 15,
    warmup: int = 2,
    min_round_s: float = 2e-3,
    quantile: float = DEFAULT_QUANTILE,
) -> Comparison:
    """Time several variants interleaved, for claims about their ratios.

    After ``warmup`` untimed calls of each, every variant's number of calls per round is
    calibrated so a round lasts at least ``min_round_s`` (fast calls are repeated within a
    round, so the timer's resolution and Python's overhead stay small). Then ``rounds``
    rounds run; in each, every variant is timed once, in order A, B, C and then C, B, A in
    the next round, so slow drifts and background load affect all variants alike. Results
    that are tensors are materialised inside the timed region.

    Args:
        variants: name -> zero-argument callable, already set up (traced, built).
        rounds: timed rounds per variant (at least 3).
        warmup: untimed calls of each variant before calibration.
        min_round_s: the shortest a round may last, in seconds.
        quantile: how to summarise a variant's rounds (``0`` = fastest).

    Returns:
        A :class:`Comparison`; ``comparison.ratio("slow", "fast").require(at_least=3)``
        checks a claim.
    """
    if not variants:
        raise ValueError("variants is empty: give at least one name -> callable")
    if rounds < 3 or warmup < 0 or min_round_s < 0:
        raise ValueError("rounds must be >= 3, warmup >= 0 and min_round_s >= 0")
    if not 0.0 <= quantile <= 1.0:
        raise ValueError(f"quantile lies in [0, 1], not {quantile}")
    names = list(variants)
    for name in names:
        for _ in range(warmup):
            _block(variants[name]())
    number = {}
    for name in names:
        once = _timed(variants[name], 1)
        number[name] = max(1, math.ceil(min_round_s / once)) if once > 0 else 1
    runs: dict[Hashable, list[float]] = {name: [] for name in names}
    for r in range(rounds):
        for name in names if r % 2 == 0 else reversed(names):
            runs[name].append(_timed(variants[name], number[name]))
    timings = {
        name: Timing(median=statistics.median(v), best=min(v), runs=tuple(v))
        for name, v in runs.items()
    }
    return Comparison(timings=timings, number=number, quantile=quantile)


@dataclass(frozen=True)
class Sweep:
    """Interleaved timings of several cases along a parameter: what :func:`sweep` returns.

    Attributes:
        param: the swept parameter's name.
        table: tidy ``pandas.DataFrame``, one row per (value, case): columns ``param``,
            ``"case"``, ``"robust_s"``, ``"median_s"``, ``"best_s"``, then one per measure.
        comparison: the :class:`Comparison` behind it; its variants are ``(case, value)``.
    """

    param: str
    table: Any
    comparison: Comparison

    def pivot(self, value: str = "robust_s"):
        """The table in wide form: one row per parameter value, one column per case."""
        return pivot(self.table, self.param, value)

    def ratio(self, slow: tuple[str, Any], fast: tuple[str, Any]) -> Ratio:
        """Ratio of two ``(case, value)`` points, e.g. ``(("Adam", 10**6), ("Adam", 10**4))``."""
        return self.comparison.ratio(tuple(slow), tuple(fast))

    def growth(self, case: str, high: Any, low: Any) -> Ratio:
        """How many times longer ``case`` took at parameter ``high`` than at ``low``."""
        return self.ratio((case, high), (case, low))


def sweep(
    param: str,
    values: Iterable[Any],
    cases: Mapping[str, Callable[[Any], Callable[[], Any]]],
    *,
    rounds: int = 15,
    warmup: int = 2,
    min_round_s: float = 2e-3,
    quantile: float = DEFAULT_QUANTILE,
    measures: Mapping[str, Callable[[Callable[[], Any]], float]] | None = None,
) -> Sweep:
    """Time several cases along a parameter, all points interleaved, as a tidy table.

    Every ``(case, value)`` point is set up first (untimed); then all of them are timed
    together by :func:`compare`, so a growth ratio (the same case at two values) and a
    speed-up (two cases at one value) are both measured under the same conditions.

    Args:
        param: the swept parameter's name (a column of the table).
        values: the values it takes.
        cases: case name -> factory; ``factory(value)`` sets the case up (untimed) and
            returns the zero-argument callable to time.
        rounds, warmup, min_round_s, quantile: passed to :func:`compare`.
        measures: extra columns: column name -> ``measure(fn)``, called once on each
            point's callable after all timing, e.g. ``{"peak_bytes": peak_memory}``.

    Returns:
        A :class:`Sweep`: ``.table``, ``.pivot()``, ``.ratio()``, ``.growth()``.
    """
    import pandas as pd

    own = ("case", "robust_s", "median_s", "best_s")
    if not isinstance(param, str) or param in own:
        raise ValueError(f"param must be a column name other than {'/'.join(own)}, not {param!r}")
    if not cases:
        raise ValueError("cases is empty: give at least one name -> factory")
    measures = dict(measures or {})
    clash = set(measures) & {param, *own}
    if clash:
        raise ValueError(f"measure names {sorted(clash)} clash with the table's own columns")
    values = list(values)
    if not values:
        raise ValueError(f"no values to sweep {param!r} over")
    points = {(name, value): factory(value) for value in values for name, factory in cases.items()}
    comparison = compare(
        points, rounds=rounds, warmup=warmup, min_round_s=min_round_s, quantile=quantile
    )
    rows = []
    for (name, value), fn in points.items():
        timing = comparison.timings[(name, value)]
        row = {
            param: value,
            "case": name,
            "robust_s": comparison.seconds((name, value)),
            "median_s": timing.median,
            "best_s": timing.best,
        }
        for column, measure in measures.items():
            row[column] = measure(fn)
        rows.append(row)
    return Sweep(param=param, table=pd.DataFrame(rows), comparison=comparison)


def pivot(table, param: str, value: str = "robust_s"):
    """A :func:`sweep` table in wide form: one row per ``param`` value, one column per case."""
    for column in (param, "case", value):
        if column not in table.columns:
            raise ValueError(f"the table has no column {column!r}; it has {list(table.columns)}")
    wide = table.pivot(index=param, columns="case", values=value)
    wide.columns.name = None
    return wide[list(dict.fromkeys(table["case"]))]


_LOAD_WORKER = """
import sys, time
deadline = time.monotonic() + float(sys.argv[1])
block = bytearray(32 * 2**20)
while time.monotonic() < deadline:
    sum(i * i for i in range(20_000))  # arithmetic
    bytes(block)  # 32 MiB copied: memory traffic
"""


class BackgroundLoad:
    """CPU load beside a measurement: ``workers`` busy processes, each ending by itself.

    Each worker alternates pure-Python arithmetic with 32 MiB memory copies, so it
    competes for both the cores and the memory bandwidth, like another training job.
    Use it as a context manager; the workers are stopped on exit, and each stops by
    itself after ``seconds`` whatever happens to this process.

    >>> with BackgroundLoad(workers=2, seconds=60):
    ...     comparison = compare({...})          # doctest: +SKIP
    """

    def __init__(self, workers: int = 2, *, seconds: float = 600.0) -> None:
        if workers < 1 or seconds <= 0:
            raise ValueError("workers must be >= 1 and seconds > 0")
        self.workers, self.seconds = workers, seconds
        self._procs: list[Any] = []

    def __enter__(self) -> BackgroundLoad:
        import subprocess
        import sys

        self._procs = [
            subprocess.Popen([sys.executable, "-c", _LOAD_WORKER, str(self.seconds)])
            for _ in range(self.workers)
        ]
        return self

    def __exit__(self, *exc: object) -> None:
        for proc in self._procs:
            proc.kill()
        for proc in self._procs:
            proc.wait()
        self._procs = []

    @property
    def running(self) -> int:
        """How many workers are still running."""
        return sum(proc.poll() is None for proc in self._procs)


_BFC = "TF_CPU_ALLOCATOR_USE_BFC"


def enable_cpu_memory_stats() -> None:
    """Make TensorFlow's CPU allocator keep statistics, so :func:`peak_memory` works on CPU.

    TensorFlow's default CPU allocator reports no memory use
    (``tf.config.experimental.get_memory_info("CPU:0")`` stays at zero). Setting
    ``TF_CPU_ALLOCATOR_USE_BFC=true`` swaps in its BFC allocator, which counts the bytes
    it hands out. The variable is read when TensorFlow creates its CPU device, at the
    first op, so call this before running any TensorFlow or Keras computation.
    """
    os.environ[_BFC] = "true"


def peak_memory(fn: Callable[[], Any], *, device: str = "CPU:0") -> int:
    """Peak bytes TensorFlow's allocator handed out during ``fn()``, above what it held before.

    The count covers every tensor TensorFlow allocates on ``device`` while ``fn`` runs,
    its outputs included; it does not cover memory libraries take for themselves outside
    TensorFlow's allocator (scratch buffers of oneDNN kernels, Python objects).

    Raises:
        RuntimeError: the allocator keeps no statistics; on CPU call
            :func:`enable_cpu_memory_stats` before TensorFlow's first op.
    """
    import tensorflow as tf

    if device.upper().startswith("CPU") and os.environ.get(_BFC, "").lower() not in ("1", "true"):
        raise RuntimeError(
            "TensorFlow's CPU allocator keeps no memory statistics: call "
            "embedtut.bench.enable_cpu_memory_stats() before TensorFlow's first op "
            f"(it sets {_BFC}=true)"
        )
    tf.config.experimental.reset_memory_stats(device)
    before = tf.config.experimental.get_memory_info(device)["current"]
    result = fn()
    _block(result)
    info = tf.config.experimental.get_memory_info(device)
    del result
    if info["peak"] == 0:
        raise RuntimeError(
            f"TensorFlow reports no memory use on {device}: its allocator was created "
            f"before {_BFC}=true was set; call embedtut.bench.enable_cpu_memory_stats() "
            "before TensorFlow's first op, in a fresh process"
        )
    return int(info["peak"] - before)
