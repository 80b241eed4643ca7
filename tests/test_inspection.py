"""Tests for embedtut.inspection: neighbours, sentiment axis, PCA, Projector export."""

import numpy as np
import pytest

from embedtut.inspection import (
    export_projector,
    nearest_words,
    pca_2d,
    sentiment_extremes,
    sentiment_scores,
)

WORDS = ["the", "good", "bad", "great", "awful", "film"]
INDEX = {w: i + 1 for i, w in enumerate(WORDS)}
# Rows by rank (row 0 unused): good ~ great, bad ~ awful.
TABLE = np.array(
    [
        [0.0, 0.0],
        [0.1, 0.1],  # the
        [1.0, 0.1],  # good
        [-1.0, 0.1],  # bad
        [0.9, 0.2],  # great
        [-0.8, 0.0],  # awful
        [0.0, 1.0],  # film
    ]
)


def test_nearest_words_finds_the_synonym():
    result = nearest_words(TABLE, INDEX, "good", k=2, candidates=None)
    assert result[0][0] == "great"
    assert result[0][1] == pytest.approx(
        TABLE[2] @ TABLE[4] / np.linalg.norm(TABLE[2]) / np.linalg.norm(TABLE[4])
    )
    assert nearest_words(TABLE, INDEX, "bad", k=1)[0][0] == "awful"


def test_nearest_words_index_from_and_errors():
    shifted = np.vstack([np.zeros((3, 2)), TABLE])  # rank r in row r + 3
    assert nearest_words(shifted, INDEX, "good", k=1, index_from=3)[0][0] == "great"
    with pytest.raises(ValueError, match="not in the word index"):
        nearest_words(TABLE, INDEX, "zzz")
    with pytest.raises(ValueError, match="no row"):
        nearest_words(TABLE[:3], INDEX, "film")


def test_sentiment_scores_and_extremes():
    scores = sentiment_scores(TABLE, np.array([[2.0], [0.0]]))
    np.testing.assert_allclose(scores, 2 * TABLE[:, 0])
    pos, neg = sentiment_extremes(scores, WORDS, k=2)
    assert pos == ["good", "great"]
    assert neg == ["bad", "awful"]
    with pytest.raises(ValueError, match="dimensions"):
        sentiment_scores(TABLE, np.ones(3))
    with pytest.raises(ValueError, match="needs"):
        sentiment_extremes(scores, WORDS, k=4)


def test_sentiment_extremes_with_offset_and_rank_window():
    scores = np.concatenate([np.zeros(3), sentiment_scores(TABLE, [1.0, 0.0])])
    pos, neg = sentiment_extremes(scores, WORDS, k=1, index_from=3, max_rank=3)
    assert pos == ["good"] and neg == ["bad"]


def test_pca_2d_recovers_a_line():
    rng = np.random.default_rng(0)
    t = rng.normal(size=50)
    x = np.outer(t, [3.0, 4.0, 0.0]) + rng.normal(scale=1e-3, size=(50, 3))
    points, explained = pca_2d(x)
    assert points.shape == (50, 2)
    assert explained[0] > 0.999
    assert abs(np.corrcoef(points[:, 0], t)[0, 1]) > 0.999
    np.testing.assert_allclose(points.mean(axis=0), 0.0, atol=1e-9)
    with pytest.raises(ValueError, match="at least 2"):
        pca_2d(np.ones((1, 3)))


def test_export_projector_format(tmp_path):
    vectors = np.array([[0.5, -1.25], [3.0, 0.0]])
    vpath, mpath = export_projector(vectors, ["good", "tab\there"], tmp_path / "proj")
    assert vpath.name == "vectors.tsv" and mpath.name == "metadata.tsv"
    lines = vpath.read_text(encoding="utf-8").splitlines()
    assert lines == ["0.5\t-1.25", "3\t0"]
    assert mpath.read_text(encoding="utf-8") == "good\ntab here\n"  # one column: no header
    parsed = np.loadtxt(vpath, delimiter="\t")
    np.testing.assert_allclose(parsed, vectors)


def test_export_projector_extra_columns_get_a_header(tmp_path):
    _, mpath = export_projector(np.eye(2), ["a", "b"], tmp_path, extra={"score": [1.5, -2]})
    assert mpath.read_text(encoding="utf-8").splitlines() == ["word\tscore", "a\t1.5", "b\t-2"]


def test_export_projector_rejects_bad_input(tmp_path):
    with pytest.raises(ValueError, match="labels"):
        export_projector(np.eye(2), ["a"], tmp_path)
    with pytest.raises(ValueError, match="NaN"):
        export_projector(np.array([[np.nan, 1.0]]), ["a"], tmp_path)
    with pytest.raises(ValueError, match="extra column"):
        export_projector(np.eye(2), ["a", "b"], tmp_path, extra={"s": [1]})
