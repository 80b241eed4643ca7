"""Tests for embedtut.nbsvm on tiny synthetic data."""

import numpy as np
import pytest
import scipy.sparse as sp

from embedtut.nbsvm import (
    NBSVM,
    RANK_LIMIT,
    binary_ngrams,
    interpolate,
    log_count_ratio,
    ngram_keys,
)

R = RANK_LIMIT
# Two reviews: [5, 0, 7, 7, 8] and [9, 5]; rank 0 is a word outside the vocabulary.
RANKS = np.array([5, 0, 7, 7, 8, 9, 5], dtype=np.int32)
OFFSETS = np.array([0, 5, 7])

# A toy corpus: word 1 = "great" (positive), 2 = "awful" (negative), 3..6 neutral words.
TOY = [[1, 3, 4], [3, 1, 1, 5], [6, 1], [4, 2, 3], [2, 2, 5], [6, 5, 2]]
TOY_LABELS = np.array([1, 1, 1, 0, 0, 0])


def docs(reviews):
    lengths = [len(r) for r in reviews]
    return np.concatenate(reviews).astype(np.int32), np.cumsum([0] + lengths)


def test_ngram_keys_are_exact_and_stay_inside_reviews():
    keys, rows = ngram_keys(RANKS, OFFSETS, ngram=3)
    got = sorted(zip(rows.tolist(), keys.tolist(), strict=True))
    bigram = lambda a, b: a * R + b  # noqa: E731
    trigram = lambda a, b, c: (a * R + b) * R + c  # noqa: E731
    want = sorted(
        [(0, 5), (0, 7), (0, 7), (0, 8), (1, 9), (1, 5)]  # words; rank 0 dropped
        + [(0, bigram(7, 7)), (0, bigram(7, 8)), (1, bigram(9, 5))]  # none across 0 or reviews
        + [(0, trigram(7, 7, 8))]
    )
    assert got == want
    # vocab_size cuts ranks above it, with their n-grams
    keys, _ = ngram_keys(RANKS, OFFSETS, ngram=2, vocab_size=7)
    assert sorted(keys.tolist()) == sorted([5, 7, 7, 5, bigram(7, 7)])


def test_binary_ngrams_are_presence_indicators():
    x, columns = binary_ngrams(RANKS, OFFSETS, ngram=2)
    assert np.all(np.diff(columns) > 0)
    dense = x.toarray()
    assert set(np.unique(dense)) == {0.0, 1.0}  # word 7 occurs twice: still 1
    assert dense[0, np.searchsorted(columns, 7)] == 1.0
    assert dense.sum(axis=1).tolist() == [5.0, 3.0]  # {5,7,8,77,78} and {9,5,95}
    # fixed columns: unseen n-grams are dropped, known ones land in their column
    test_x, same = binary_ngrams(np.array([7, 8, 4]), np.array([0, 3]), ngram=2, columns=columns)
    assert same is columns or np.array_equal(same, columns)
    assert test_x.shape == (1, len(columns))
    hit = columns[test_x.toarray()[0] == 1].tolist()
    assert hit == sorted([7, 8, 7 * R + 8])


def test_log_count_ratio_matches_hand_computation():
    x = np.array([[1, 1, 0, 0], [1, 0, 0, 0], [0, 1, 1, 0], [0, 0, 1, 0]])
    y = np.array([1, 1, 0, 0])
    # p = 1 + [2, 1, 0] = [3, 2, 1], |p| = 6; q = 1 + [0, 1, 2] = [1, 2, 3], |q| = 6;
    # column 3 is never used: r = 0, and it stays out of both norms.
    r = log_count_ratio(sp.csr_matrix(x), y, alpha=1.0)
    np.testing.assert_allclose(r, [np.log(3.0), 0.0, -np.log(3.0), 0.0], atol=1e-12)
    # alpha = 0.5: p = [2.5, 1.5, 0.5] / 4.5, q = [0.5, 1.5, 2.5] / 4.5
    np.testing.assert_allclose(
        log_count_ratio(x, y, alpha=0.5)[:3], np.log([5.0, 1.0, 0.2]), atol=1e-12
    )


def test_interpolation():
    w = np.array([1.0, -3.0, 0.0, 2.0])
    np.testing.assert_allclose(interpolate(w, 0.25), 0.75 * 1.5 + 0.25 * w)
    np.testing.assert_allclose(interpolate(w, 1.0), w)
    np.testing.assert_allclose(interpolate(w, 0.0), np.full(4, 1.5))
    mask = np.array([True, True, False, False])  # mean |w| over the first two = 2
    np.testing.assert_allclose(interpolate(w, 0.5, mask=mask), 0.5 * 2.0 + 0.5 * w)


@pytest.mark.parametrize("loss, beta", [("squared_hinge", 0.25), ("logistic", 1.0)])
def test_nbsvm_separable_toy_set(loss, beta):
    ranks, offsets = docs(TOY)
    x, columns = binary_ngrams(ranks, offsets, ngram=2)
    model = NBSVM(C=1.0, beta=beta, loss=loss).fit(x, TOY_LABELS)
    assert model.score(x, TOY_LABELS) == 1.0
    test = [[1], [2], [5, 1, 6], [3, 2, 4]]
    tx, _ = binary_ngrams(*docs(test), ngram=2, columns=columns)
    assert model.predict(tx).tolist() == [1, 0, 1, 0]
    # the model is W&M's: w' = interpolate(w), scores = (r ∘ x̂) · w' (no bias)
    np.testing.assert_allclose(model.coef_, interpolate(model.raw_coef_, beta, mask=model.seen_))
    scaled = tx.toarray() * model.r_
    np.testing.assert_allclose(model.decision_function(tx), scaled @ model.coef_)
    assert model.intercept_ == 0.0


def test_nbsvm_binarizes_counts():
    ranks, offsets = docs(TOY)
    x, _ = binary_ngrams(ranks, offsets, ngram=1)
    counts = x.multiply(np.arange(1, x.shape[1] + 1)[None, :]).tocsr() * 3  # any positive values
    a = NBSVM(C=0.5).fit(x, TOY_LABELS)
    b = NBSVM(C=0.5).fit(counts, TOY_LABELS)
    np.testing.assert_allclose(a.r_, b.r_)
    np.testing.assert_allclose(a.coef_, b.coef_)
    np.testing.assert_allclose(a.decision_function(x), b.decision_function(counts * 7))
    # the log-count ratio of the model is that of the binary features
    np.testing.assert_allclose(a.r_, log_count_ratio(x, TOY_LABELS))


def test_unseen_training_columns_get_no_weight():
    x = sp.csr_matrix(np.array([[1, 0, 0], [0, 1, 0]]))  # column 2: no training row
    model = NBSVM().fit(x, np.array([1, 0]))
    assert model.seen_.tolist() == [True, True, False]
    assert model.r_[2] == 0.0
    assert model.decision_function(sp.csr_matrix([[0, 0, 1]]))[0] == 0.0


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"C": 0}, "C must be"),
        ({"C": -1.0}, "C must be"),
        ({"beta": 1.5}, "beta must be"),
        ({"alpha": 0}, "alpha must be"),
        ({"loss": "hinge"}, "loss must be"),
        ({"fit_intercept": 1}, "fit_intercept"),
        ({"max_iter": 0}, "max_iter"),
    ],
)
def test_nbsvm_bad_arguments(kwargs, match):
    with pytest.raises(ValueError, match=match):
        NBSVM(**kwargs)


def test_bad_data():
    x = sp.csr_matrix(np.eye(4))
    with pytest.raises(RuntimeError, match="not fitted"):
        NBSVM().predict(x)
    with pytest.raises(ValueError, match="both classes"):
        NBSVM().fit(x, np.ones(4, dtype=int))
    with pytest.raises(ValueError, match="0 \\(negative\\) or 1"):
        NBSVM().fit(x, np.array([0, 1, 2, 1]))
    with pytest.raises(ValueError, match="0/1 integers"):
        NBSVM().fit(x, np.array([0.0, 1.0, 0.0, 1.0]))
    with pytest.raises(ValueError, match="one entry per row"):
        NBSVM().fit(x, np.array([0, 1, 0]))
    with pytest.raises(ValueError, match="negative entries"):
        NBSVM().fit(-x, np.array([0, 1, 0, 1]))
    with pytest.raises(TypeError, match="scipy.sparse"):
        NBSVM().fit([[1, 0]], np.array([0, 1]))
    model = NBSVM().fit(x, np.array([0, 1, 0, 1]))
    with pytest.raises(ValueError, match="features"):
        model.predict(sp.csr_matrix(np.eye(3)))
    with pytest.raises(ValueError, match="beta"):
        interpolate(np.ones(3), -0.1)
    with pytest.raises(ValueError, match="no non-zero"):
        log_count_ratio(sp.csr_matrix((2, 3)), np.array([0, 1]))


@pytest.mark.parametrize(
    "ranks, offsets, kwargs, match",
    [
        (RANKS, OFFSETS, {"ngram": 4}, "ngram must be"),
        (RANKS, OFFSETS, {"ngram": 0}, "ngram must be"),
        (RANKS, OFFSETS, {"ngram": True}, "ngram must be"),
        (RANKS, OFFSETS, {"vocab_size": 0}, "vocab_size"),
        (RANKS, np.array([0, 5]), {}, "offsets must"),
        (RANKS, np.array([0, 6, 5, 7]), {}, "non-decreasing"),
        (RANKS.astype(float), OFFSETS, {}, "integer"),
        (np.array([1, -1]), np.array([0, 2]), {}, ">= 0"),
        (np.array([1, RANK_LIMIT]), np.array([0, 2]), {}, "RANK_LIMIT"),
    ],
)
def test_ngram_bad_input(ranks, offsets, kwargs, match):
    with pytest.raises(ValueError, match=match):
        ngram_keys(ranks, offsets, **kwargs)


def test_binary_ngrams_bad_columns():
    with pytest.raises(ValueError, match="sorted and distinct"):
        binary_ngrams(RANKS, OFFSETS, columns=np.array([7, 5]))
