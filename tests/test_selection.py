"""Configurations x seeds on validation, their summary and epochs to a threshold."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from embedtut.recipes import recipe_model
from embedtut.selection import epochs_to_reach, summarise, validation_runs


def _data(n, seed):
    rng = np.random.default_rng(seed)
    x = rng.integers(1, 20, size=(n, 6)).astype("int32")
    y = (x < 10).sum(axis=1) > 3
    return x, y.astype("float32")


def test_validation_runs_table_and_summary():
    runs = validation_runs(
        {("pooled", d): (lambda d=d: recipe_model("pooled", 20, d, maxlen=6)) for d in (1, 2)},
        _data(64, 0),
        _data(32, 1),
        seeds=(0, 1),
        epochs=2,
        batch_size=16,
        names=("model", "dim"),
        keep_models=lambda key, seed: seed == 0,
    )
    assert len(runs.table) == 2 * 2 * 2 and set(runs.models) == {
        (("pooled", 1), 0),
        (("pooled", 2), 0),
    }
    summary = summarise(runs.table)
    assert list(summary.index) == [("pooled", 1), ("pooled", 2)]
    assert (summary.seeds == 2).all() and (summary.params == [22, 43]).all()
    again = validation_runs(
        {("pooled", 1): lambda: recipe_model("pooled", 20, 1, maxlen=6)},
        _data(64, 0),
        _data(32, 1),
        seeds=(0,),
        epochs=2,
        batch_size=16,
        names=("model", "dim"),
    )
    first = runs.table[(runs.table.dim == 1) & (runs.table.seed == 0)]
    assert np.allclose(first.val_loss.to_numpy(), again.table.val_loss.to_numpy())  # seeded


def test_summarise_and_epochs_to_reach_by_hand():
    table = pd.DataFrame(
        {
            "config": ["a"] * 4 + ["b"] * 2,
            "seed": [0, 0, 1, 1, 0, 0],
            "epoch": [1, 2, 1, 2, 1, 2],
            "loss": 0.0,
            "accuracy": [0.7, 0.9, 0.6, 0.8, 0.5, 0.6],
            "val_loss": 0.0,
            "val_accuracy": [0.70, 0.65, 0.60, 0.80, 0.5, 0.55],
            "params": 3,
            "epoch_seconds": 1.0,
        }
    )
    s = summarise(table)
    assert s.loc["a", "val_accuracy"] == pytest.approx(0.75)
    assert s.loc["a", "val_sd"] == pytest.approx(np.std([0.7, 0.8], ddof=1))
    assert s.loc["a", "gap"] == pytest.approx(((0.9 - 0.65) + (0.8 - 0.8)) / 2)
    doubled = pd.concat([table[table.config == "a"], table[table.config == "b"]])  # labels repeat
    doubled.index = [0, 1, 2, 3, 0, 1]
    assert summarise(doubled).equals(s)
    reached = epochs_to_reach(table, 0.7)
    assert reached.loc[("a", 0), "epoch"] == 1 and reached.loc[("a", 1), "epoch"] == 2
    assert np.isnan(reached.loc[("b", 0), "epoch"])


def test_validation_runs_checks():
    with pytest.raises(ValueError):
        validation_runs({}, _data(4, 0), _data(4, 1))
    with pytest.raises(ValueError):
        validation_runs({"a": lambda: None}, _data(4, 0), _data(4, 1), epochs=0)
