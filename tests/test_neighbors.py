"""Cosine nearest neighbours and word polarity."""

from __future__ import annotations

import numpy as np
import pytest

from embedtut.neighbors import (
    axis_neighbors,
    cosine,
    cosine_neighbors,
    cosine_similarity,
    neighbor_rank,
    remove_top_directions,
    top_directions,
    word_positive_rate,
)

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


def test_similarity_helpers():
    np.testing.assert_allclose(cosine_similarity([[1, 0], [1, 1]], [[2, 0], [-1, -1]]), [1.0, -1.0])
    rng = np.random.default_rng(0)
    # 200 vectors that mostly differ along one direction, plus small noise
    axis = np.array([3.0, 4.0, 0.0]) / 5
    ref = rng.normal(size=(200, 1)) * 10 * axis + rng.normal(scale=0.1, size=(200, 3))
    mean, directions, shares = top_directions(ref, 1)
    assert abs(abs(directions[0] @ axis) - 1) < 1e-3 and shares[0] > 0.99
    removed = remove_top_directions(ref, ref, 1)
    assert np.abs(removed @ directions[0]).max() < 1e-9 and np.abs(removed @ axis).max() < 0.01
    ranks = neighbor_rank(ref[:5] * 2, [0, 1, 2, 3, 4], ref)
    assert (ranks == 0).all()
    with pytest.raises(ValueError, match="same shape"):
        cosine_similarity([1, 0], [1, 0, 0])
    with pytest.raises(ValueError, match="targets"):
        neighbor_rank(ref[:2], [0], ref)


def test_axis_neighbors_rank_by_position_along_the_principal_direction():
    rng = np.random.default_rng(0)
    position = np.array([0.0, 1.0, 5.0, 5.5, 9.0, 2.0])
    direction = np.array([3.0, 4.0]) / 5
    table = position[:, None] * direction + rng.normal(0, 1e-3, (6, 2))
    ids, where = axis_neighbors(table, [2, 0], k=2)
    assert ids.tolist() == [[3, 5], [1, 5]]  # 5.5 and 2.0 nearest 5.0; 1.0 and 2.0 nearest 0.0
    assert abs(abs(where[0, 0] - where[0, 1]) - 3.5) < 0.01  # positions 5.5 and 2.0
    assert axis_neighbors(table, [2], k=1, candidates=[0, 1, 2])[0].tolist() == [[1]]
    with pytest.raises(ValueError, match="k="):
        axis_neighbors(table, [2], k=3, candidates=[0, 1, 2])
    with pytest.raises(ValueError, match="queries"):
        axis_neighbors(table, [6], k=1)
