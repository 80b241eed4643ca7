"""Cosine nearest neighbours and word polarity."""

from __future__ import annotations

import numpy as np
import pytest

from embedtut.neighbors import cosine, cosine_neighbors, word_positive_rate

TABLE = np.array(
    [
        [1.0, 0.0],
        [10.0, 1.0],  # nearly the direction of row 0, but long
        [0.0, 1.0],
        [-1.0, 0.0],
        [0.0, 0.0],  # zero row
    ]
)


def test_neighbours_are_by_angle_not_length():
    ids, sims = cosine_neighbors(TABLE, [0], k=3)
    assert ids.tolist() == [[1, 2, 4]]  # zero row ties with row 2 at 0, smaller id first
    np.testing.assert_allclose(sims[0, 0], 10 / np.sqrt(101))
    assert sims[0, 1] == pytest.approx(0.0)


def test_self_and_candidates():
    ids, _ = cosine_neighbors(TABLE, [0, 2], k=1, exclude_self=False)
    assert ids[:, 0].tolist() == [0, 2]
    ids, _ = cosine_neighbors(TABLE, [0], k=2, candidates=[2, 3])
    assert ids.tolist() == [[2, 3]]


def test_bad_input_is_refused():
    with pytest.raises(ValueError, match="2-D"):
        cosine_neighbors(np.zeros(3), [0])
    with pytest.raises(ValueError, match="queries"):
        cosine_neighbors(TABLE, [9])
    with pytest.raises(ValueError, match="k=5"):
        cosine_neighbors(TABLE, [0], k=5)


def test_cosine_of_two_rows():
    assert cosine(TABLE, 0, 3) == pytest.approx(-1.0)
    assert cosine(TABLE, 0, 4) == 0.0


def test_word_positive_rate_counts_each_text_once():
    texts = [np.array([1, 1, 2]), np.array([2, 3]), np.array([1])]
    rate = word_positive_rate(texts, np.array([1, 0, 0]), 5)
    np.testing.assert_allclose(rate[1:4], [0.5, 0.5, 0.0])
    assert np.isnan(rate[4]) and np.isnan(rate[0])
    with pytest.raises(ValueError, match="labels"):
        word_positive_rate(texts, np.array([1, 0]), 5)
