"""The polarity probe and neighbour overlap."""

from __future__ import annotations

import numpy as np
import pytest

from embedtut.probes import neighbor_overlap, polarity_probe


def test_probe_finds_a_linear_direction_and_not_noise():
    rng = np.random.default_rng(0)
    table = rng.normal(size=(400, 5))
    target = table @ np.array([1.0, -2.0, 0.0, 0.5, 0.0])
    rows = np.arange(400)
    assert polarity_probe(table, target, rows) > 0.99
    noise = rng.normal(size=400)
    assert polarity_probe(table, noise, rows) < 0.05


def test_probe_input_checks():
    table = np.zeros((10, 2))
    with pytest.raises(ValueError):
        polarity_probe(table, np.zeros(9), range(10))
    with pytest.raises(ValueError):
        polarity_probe(table, np.full(10, np.nan), range(10))
    with pytest.raises(ValueError):
        polarity_probe(table, np.arange(10.0), range(10), folds=1)
    with pytest.raises(ValueError):
        polarity_probe(table, np.ones(10), range(10))  # constant target


def test_neighbor_overlap_identical_and_random():
    rng = np.random.default_rng(1)
    table = rng.normal(size=(200, 8))
    assert neighbor_overlap(table, table, range(20), k=5) == 1.0
    other = rng.normal(size=(200, 8))
    assert neighbor_overlap(table, other, range(50), k=5) < 0.15
    with pytest.raises(ValueError):
        neighbor_overlap(table, other[:100], range(5))
