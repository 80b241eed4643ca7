"""Plotting helpers shared by the chapters (matplotlib only)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any


def loglog(
    table,
    x: str,
    y: str,
    *,
    hue: str = "case",
    ax=None,
    title: str | None = None,
    xlabel: str | None = None,
    ylabel: str | None = None,
    marker: str = "o",
    styles: Mapping[str, Mapping[str, Any]] | None = None,
    legend: bool = True,
):
    """Plot ``y`` against ``x`` on log-log axes, one line per value of ``hue``.

    Args:
        table: a tidy ``pandas.DataFrame``, such as the ``table`` of the
            :class:`embedtut.bench.Sweep` that :func:`embedtut.bench.sweep` returns.
        x, y, hue: column names.
        ax: the axes to draw on; a new figure when ``None``.
        styles: optional keyword arguments for ``ax.plot`` per value of ``hue``, e.g.
            ``{"one_hot": {"linestyle": "--"}}``.
        legend: draw a legend.

    Returns:
        The matplotlib axes.

    Raises:
        ValueError: a column is missing, or ``x``/``y`` hold values that are not
            positive (a log axis cannot show them).
    """
    import matplotlib.pyplot as plt
    import numpy as np

    missing = [c for c in (x, y, hue) if c not in table.columns]
    if missing:
        raise ValueError(f"the table has no column(s) {missing}; it has {list(table.columns)}")
    if len(table) == 0:
        raise ValueError("the table is empty: nothing to plot")
    for column in (x, y):
        values = np.asarray(table[column], dtype=float)
        if not (np.isfinite(values) & (values > 0)).all():
            raise ValueError(
                f"column {column!r} has values that are not positive and finite "
                f"(min {np.nanmin(values)!r}); a log axis cannot show them"
            )
    styles = styles or {}
    if ax is None:
        _, ax = plt.subplots(figsize=(6, 4))
    for name, group in table.groupby(hue, sort=False):
        group = group.sort_values(x)
        kwargs = {"marker": marker, "label": str(name), **styles.get(name, {})}
        ax.plot(group[x], group[y], **kwargs)
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel(xlabel or x)
    ax.set_ylabel(ylabel or y)
    if title:
        ax.set_title(title)
    ax.grid(True, which="both", alpha=0.3)
    if legend:
        ax.legend()
    return ax


def slope_guide(ax, slope: float, x0: float, y0: float, *, label: str | None = None, **kwargs):
    """Draw a dashed reference line ``y = y0 · (x / x0) ** slope`` across ``ax``'s x range.

    On log-log axes it is a straight line of the given slope through ``(x0, y0)``: slope 1
    is "proportional to x", slope 0 is "does not grow". Returns the line.
    """
    import numpy as np

    if x0 <= 0 or y0 <= 0:
        raise ValueError(f"(x0, y0) must be positive to lie on log axes, got ({x0}, {y0})")
    lo, hi = ax.get_xlim()
    xs = np.geomspace(max(lo, 1e-300), hi, 50)
    style = {"color": "0.5", "linestyle": ":", "linewidth": 1, **kwargs}
    (line,) = ax.plot(xs, y0 * (xs / x0) ** slope, label=label, **style)
    ax.set_xlim(lo, hi)
    return line
