"""The shared log-log plot helper."""

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import pandas as pd  # noqa: E402
import pytest  # noqa: E402

from embedtut.plotting import loglog, slope_guide  # noqa: E402


def _table():
    return pd.DataFrame(
        {
            "V": [10, 100, 1000, 10, 100, 1000],
            "case": ["a"] * 3 + ["b"] * 3,
            "median_s": [1.0, 1.1, 1.2, 1.0, 10.0, 100.0],
        }
    )


def test_loglog_returns_log_axes_with_one_line_per_case():
    ax = loglog(_table(), "V", "median_s", styles={"b": {"linestyle": "--"}}, title="t")
    assert ax.get_xscale() == "log" and ax.get_yscale() == "log"
    labels = [line.get_label() for line in ax.get_lines()]
    assert labels == ["a", "b"]
    assert ax.get_lines()[1].get_linestyle() == "--"
    assert list(ax.get_lines()[1].get_ydata()) == [1.0, 10.0, 100.0]
    assert ax.get_title() == "t" and ax.get_legend() is not None
    plt.close("all")


def test_loglog_draws_on_given_axes():
    _, axes = plt.subplots(1, 2)
    ax = loglog(_table(), "V", "median_s", ax=axes[1], legend=False)
    assert ax is axes[1] and ax.get_legend() is None
    plt.close("all")


def test_loglog_refuses_missing_columns_and_nonpositive_values():
    with pytest.raises(ValueError, match="no column"):
        loglog(_table(), "N", "median_s")
    bad = _table().assign(median_s=0.0)
    with pytest.raises(ValueError, match="log axis"):
        loglog(bad, "V", "median_s")
    with pytest.raises(ValueError, match="empty"):
        loglog(_table().iloc[:0], "V", "median_s")


def test_slope_guide_has_the_requested_slope():
    ax = loglog(_table(), "V", "median_s")
    line = slope_guide(ax, 1.0, 10, 1.0, label="∝ V")
    xs, ys = line.get_xdata(), line.get_ydata()
    assert ys[-1] / ys[0] == pytest.approx(xs[-1] / xs[0])
    with pytest.raises(ValueError, match="positive"):
        slope_guide(ax, 1.0, 0, 1.0)
    plt.close("all")
