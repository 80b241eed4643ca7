"""Timing harness: how long a call takes, and how that changes along a sweep.

Timings are for comparing two ways of doing the same thing on the same machine, never
for absolute claims: the book prints them, marks them as machine-dependent, and asserts
only their ratios and trends.
"""

from __future__ import annotations

import os
import statistics
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Timing:
    """Seconds per call: the median and the fastest of ``runs``."""

    median: float
    best: float
    runs: tuple[float, ...]


def _block(result: Any) -> None:
    """Wait for asynchronous results (TensorFlow tensors) to be computed.

    Walks lists, tuples and dicts, and the parts of ``tf.IndexedSlices``-like objects
    (``values``, ``indices``), calling ``.numpy()`` on every tensor found.
    """
    if isinstance(result, (list, tuple)):
        for item in result:
            _block(item)
    elif isinstance(result, dict):
        for item in result.values():
            _block(item)
    elif hasattr(result, "numpy"):
        result.numpy()
    elif hasattr(result, "values") and hasattr(result, "indices"):
        _block(result.values)
        _block(result.indices)


def time_call(
    fn: Callable[[], Any], *, repeat: int = 7, warmup: int = 2, number: int = 1
) -> Timing:
    """Time ``fn()``: ``warmup`` untimed calls, then ``repeat`` timed rounds.

    Each round calls ``fn`` ``number`` times and records seconds per call. Results
    that are tensors are materialised inside the timed region, so lazy work counts.
    """
    if repeat < 1 or number < 1 or warmup < 0:
        raise ValueError("repeat and number must be >= 1 and warmup >= 0")
    for _ in range(warmup):
        _block(fn())
    runs = []
    for _ in range(repeat):
        start = time.perf_counter()
        for _ in range(number):
            _block(fn())
        runs.append((time.perf_counter() - start) / number)
    return Timing(median=statistics.median(runs), best=min(runs), runs=tuple(runs))


def sweep(
    param: str,
    values: Iterable[Any],
    cases: Mapping[str, Callable[[Any], Callable[[], Any]]],
    *,
    repeat: int = 5,
    warmup: int = 2,
    number: int = 1,
    measures: Mapping[str, Callable[[Callable[[], Any]], float]] | None = None,
):
    """Time several cases along a parameter and return a tidy table.

    Args:
        param: the swept parameter's name (a column of the table).
        values: the values it takes.
        cases: case name -> factory; ``factory(value)`` sets the case up (untimed) and
            returns the zero-argument callable to time.
        repeat, warmup, number: passed to :func:`time_call`.
        measures: extra columns: column name -> ``measure(fn)``, called once on each
            case's callable after it is timed, e.g. ``{"peak_bytes": peak_memory}``.

    Returns:
        A ``pandas.DataFrame`` with one row per (value, case): columns ``param``,
        ``"case"``, ``"median_s"``, ``"best_s"``, then one per measure.
    """
    import pandas as pd

    if not isinstance(param, str) or param in ("case", "median_s", "best_s"):
        raise ValueError(
            f"param must be a column name other than case/median_s/best_s, not {param!r}"
        )
    if not cases:
        raise ValueError("cases is empty: give at least one name -> factory")
    measures = dict(measures or {})
    clash = set(measures) & {param, "case", "median_s", "best_s"}
    if clash:
        raise ValueError(f"measure names {sorted(clash)} clash with the table's own columns")
    values = list(values)
    if not values:
        raise ValueError(f"no values to sweep {param!r} over")
    rows = []
    for value in values:
        for name, factory in cases.items():
            fn = factory(value)
            timing = time_call(fn, repeat=repeat, warmup=warmup, number=number)
            row = {param: value, "case": name, "median_s": timing.median, "best_s": timing.best}
            for column, measure in measures.items():
                row[column] = measure(fn)
            rows.append(row)
    return pd.DataFrame(rows)


def pivot(table, param: str, value: str = "median_s"):
    """A :func:`sweep` table in wide form: one row per ``param`` value, one column per case."""
    for column in (param, "case", value):
        if column not in table.columns:
            raise ValueError(f"the table has no column {column!r}; it has {list(table.columns)}")
    wide = table.pivot(index=param, columns="case", values=value)
    wide.columns.name = None
    return wide[list(dict.fromkeys(table["case"]))]


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
