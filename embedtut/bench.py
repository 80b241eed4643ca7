"""Timing harness: how long a call takes, and how that changes along a sweep.

Timings are for comparing two ways of doing the same thing on the same machine, never
for absolute claims: the book prints them, marks them as machine-dependent, and asserts
only their ratios and trends.
"""

from __future__ import annotations

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
    """Wait for asynchronous results (TensorFlow tensors) to be computed."""
    items = result if isinstance(result, (list, tuple)) else [result]
    for item in items:
        if hasattr(item, "numpy"):
            item.numpy()


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
):
    """Time several cases along a parameter and return a tidy table.

    Args:
        param: the swept parameter's name (a column of the table).
        values: the values it takes.
        cases: case name -> factory; ``factory(value)`` sets the case up (untimed) and
            returns the zero-argument callable to time.

    Returns:
        A ``pandas.DataFrame`` with one row per (value, case): columns ``param``,
        ``"case"``, ``"median_s"`` and ``"best_s"``.
    """
    import pandas as pd

    rows = []
    for value in values:
        for name, factory in cases.items():
            timing = time_call(factory(value), repeat=repeat, warmup=warmup, number=number)
            rows.append(
                {param: value, "case": name, "median_s": timing.median, "best_s": timing.best}
            )
    return pd.DataFrame(rows)
