"""Plotting helpers shared by the chapters (matplotlib only)."""

from __future__ import annotations


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
):
    """Plot ``y`` against ``x`` on log-log axes, one line per value of ``hue``.

    Args:
        table: a ``pandas.DataFrame`` such as :func:`embedtut.bench.sweep` returns.
        x, y, hue: column names.
        ax: the axes to draw on; a new figure when ``None``.

    Returns:
        The matplotlib axes.
    """
    import matplotlib.pyplot as plt

    if ax is None:
        _, ax = plt.subplots(figsize=(6, 4))
    for name, group in table.groupby(hue, sort=False):
        group = group.sort_values(x)
        ax.plot(group[x], group[y], marker=marker, label=str(name))
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel(xlabel or x)
    ax.set_ylabel(ylabel or y)
    if title:
        ax.set_title(title)
    ax.grid(True, which="both", alpha=0.3)
    ax.legend()
    return ax
