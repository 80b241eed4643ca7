"""Movie ids of the IMDB reviews, and validation splits that keep each movie on one side."""

from __future__ import annotations

import itertools
import re
from collections import Counter

import numpy as np
import pytest
from conftest import tiny_tree, write_archive

from embedtut import data
from embedtut.cache import sha256_of
from embedtut.data import IMDBDataError, load_reviews, movie_ids
from embedtut.splits import grouped_split

# The tiny corpus's movies, one per review in file order (see conftest's tiny_tree).
MOVIES = {
    "train/neg": [101, 101, 102],
    "train/pos": [102, 103, 103],
    "test/neg": [201, 202, 202],
    "test/pos": [203, 203, 101],
    "train/unsup": [301 + k // 4 for k in range(12)],
}


def _url(movie: int) -> str:
    return f"http://www.imdb.com/title/tt{movie:07d}/usercomments"


def tiny_tree_with_urls(**lines: list[str]) -> dict[str, str]:
    """The conftest tiny tree plus its ``urls_*.txt`` files (``lines`` replaces some)."""
    files = tiny_tree()
    for group, movies in MOVIES.items():
        split, label = group.split("/")
        name = f"aclImdb/{split}/urls_{label}.txt"
        urls = lines.get(f"{split}_{label}", [_url(m) for m in movies])
        if urls is not None:
            files[name] = "".join(line + "\n" for line in urls)
    return files


@pytest.fixture
def archive_with(cache, tmp_path, monkeypatch):
    """Build a tiny archive (known to the loader) from a file tree."""

    built = itertools.count()

    def build(files: dict[str, str]):
        path = write_archive(tmp_path / f"tiny-{next(built)}.tar.gz", files)
        monkeypatch.setitem(data.KNOWN_ARCHIVES, sha256_of(path), "tiny test archive")
        return path

    return build


# --- movie ids: the tiny corpus ---------------------------------------------------------


def test_movie_ids_follow_file_order_and_the_shuffle(archive_with):
    archive = archive_with(tiny_tree_with_urls())
    plain = movie_ids("train", source=archive, per_class=3, seed=None)
    assert plain.tolist() == MOVIES["train/neg"] + MOVIES["train/pos"]
    assert plain.dtype == np.int64
    assert movie_ids("test", source=archive, per_class=3, seed=None).tolist() == (
        MOVIES["test/neg"] + MOVIES["test/pos"]
    )
    assert movie_ids("unsup", source=archive, per_class=3).tolist() == (
        np.array(MOVIES["train/unsup"])[data._order(12, 113)].tolist()
    )
    order = np.arange(6)
    np.random.RandomState(113).shuffle(order)
    assert movie_ids("train", source=archive, per_class=3).tolist() == plain[order].tolist()


@pytest.mark.parametrize("seed", [None, 113, 7])
@pytest.mark.parametrize("split", ["train", "test"])
def test_movie_ids_are_aligned_with_labels_ids_and_texts(archive_with, split, seed):
    archive = archive_with(tiny_tree_with_urls())
    reviews = load_reviews(split, source=archive, per_class=3, seed=seed)
    movies = movie_ids(split, source=archive, per_class=3, seed=seed)
    texts = tiny_tree()
    for movie, label, review_id, text in zip(
        movies, reviews.labels, reviews.ids, reviews.texts, strict=True
    ):
        folder = f"{split}/{'pos' if label else 'neg'}"
        assert movie == MOVIES[folder][review_id]
        assert text == texts[f"aclImdb/{folder}/{review_id}_{9 if label else 2}.txt"]


def test_movie_ids_are_aligned_with_load_imdb(archive_with):
    from embedtut.sequences import load_imdb, tokenized

    # one movie per review, so that a movie names its review
    unique = {"train_neg": [_url(1), _url(2), _url(3)], "train_pos": [_url(4), _url(5), _url(6)]}
    archive = archive_with(tiny_tree_with_urls(**unique))
    file_order = movie_ids("train", source=archive, per_class=3, seed=None)
    tokens = tokenized("train", source=archive, per_class=3)
    row_of = {movie: i for i, movie in enumerate(file_order.tolist())}
    (x, y), _ = load_imdb(source=archive, per_class=3, seed=113, start_char=None, index_from=0)
    movies = movie_ids("train", source=archive, per_class=3, seed=113)
    assert sorted(movies.tolist()) == [1, 2, 3, 4, 5, 6]
    for movie, row, label in zip(movies.tolist(), x, y, strict=True):
        assert row.tolist() == tokens.review(row_of[movie]).tolist()
        assert label == tokens.labels[row_of[movie]] == (movie > 3)


# --- movie ids: failure paths ----------------------------------------------------------


def test_missing_urls_file_is_explained(archive_with):
    archive = archive_with(tiny_tree_with_urls(train_pos=None))
    assert len(load_reviews("train", source=archive, per_class=3)) == 6  # reviews are fine
    with pytest.raises(IMDBDataError, match=r"urls_pos\.txt is missing.*full archive"):
        movie_ids("train", source=archive, per_class=3)
    # the test split has its own files and still works
    assert len(movie_ids("test", source=archive, per_class=3)) == 6


@pytest.mark.parametrize(
    "lines, count",
    [([_url(101)] * 2, 2), ([_url(101)] * 4, 4), ([], 0)],
)
def test_urls_file_of_the_wrong_length_is_refused(archive_with, lines, count):
    archive = archive_with(tiny_tree_with_urls(train_neg=lines))
    with pytest.raises(IMDBDataError, match=rf"urls_neg\.txt has {count} lines for 3 reviews"):
        movie_ids("train", source=archive, per_class=3)


def test_review_ids_with_a_gap_are_refused(archive_with):
    files = tiny_tree_with_urls()
    files["aclImdb/train/pos/5_9.txt"] = files.pop("aclImdb/train/pos/2_9.txt")
    archive = archive_with(files)  # still 3 reviews per folder: the count check passes
    with pytest.raises(IMDBDataError, match=r"ids 0 to 5\).*line k must belong to review k"):
        movie_ids("train", source=archive, per_class=3)


@pytest.mark.parametrize(
    "bad", ["http://www.imdb.com/name/nm0000001/", "", "tt0453418", "http://example.com/title/tt1/"]
)
def test_a_line_that_is_not_a_title_url_is_refused(archive_with, bad):
    lines = [_url(201), bad, _url(202)]
    archive = archive_with(tiny_tree_with_urls(test_neg=lines))
    with pytest.raises(IMDBDataError, match=r"urls_neg\.txt, line 2: .* is not an IMDb title URL"):
        movie_ids("test", source=archive, per_class=3)


def test_bad_split_name_for_movie_ids(cache, tiny_archive):
    with pytest.raises(ValueError, match="split must be one of"):
        movie_ids("validation", source=tiny_archive[0])


# --- grouped split: properties on synthetic groups ------------------------------------


def synthetic(n_groups: int = 400, seed: int = 1) -> tuple[np.ndarray, np.ndarray]:
    """Groups of 1 to 30 rows with skewed labels, rows in a shuffled order."""
    rng = np.random.default_rng(seed)
    sizes = rng.integers(1, 31, n_groups)
    groups = np.repeat(rng.choice(10**6, n_groups, replace=False), sizes)
    positive_rate = np.repeat(rng.choice([0.1, 0.5, 0.9], n_groups), sizes)
    labels = (rng.random(len(groups)) < positive_rate).astype(np.int8)
    order = rng.permutation(len(groups))
    return groups[order], labels[order]


@pytest.mark.parametrize("fraction", [0.1, 0.2, 0.5])
def test_grouped_split_keeps_groups_whole_and_classes_at_their_share(fraction):
    groups, labels = synthetic()
    train_idx, val_idx = grouped_split(groups, labels, validation_fraction=fraction, seed=3)
    assert np.array_equal(np.sort(np.concatenate([train_idx, val_idx])), np.arange(len(groups)))
    assert np.all(np.diff(train_idx) > 0) and np.all(np.diff(val_idx) > 0)
    assert train_idx.dtype == val_idx.dtype == np.int64
    assert np.intersect1d(groups[train_idx], groups[val_idx]).size == 0
    for c in (0, 1):
        target = round(fraction * np.count_nonzero(labels == c))
        taken = np.count_nonzero(labels[val_idx] == c)
        assert target - 30 <= taken <= target  # never above; short by a few rows


def test_grouped_split_without_labels_matches_the_size_only():
    groups, labels = synthetic()
    _, val_idx = grouped_split(groups, validation_fraction=0.2, seed=0)
    target = round(0.2 * len(groups))
    assert target - 30 <= len(val_idx) <= target


def test_grouped_split_is_deterministic_and_independent_of_row_order():
    groups, labels = synthetic()
    first = grouped_split(groups, labels, seed=5)
    again = grouped_split(groups, labels, seed=5)
    assert all(np.array_equal(a, b) for a, b in zip(first, again, strict=True))
    other = grouped_split(groups, labels, seed=6)
    assert not np.array_equal(first[1], other[1])
    # the same groups go to validation whatever order the rows come in
    order = np.random.default_rng(0).permutation(len(groups))
    _, val_shuffled = grouped_split(groups[order], labels[order], seed=5)
    assert set(groups[order][val_shuffled].tolist()) == set(groups[first[1]].tolist())


@pytest.mark.parametrize(
    "kwargs, error, message",
    [
        ({"validation_fraction": 0}, ValueError, "strictly between 0 and 1"),
        ({"validation_fraction": 1.0}, ValueError, "strictly between 0 and 1"),
        ({"validation_fraction": -0.2}, ValueError, "strictly between 0 and 1"),
        ({"validation_fraction": "0.2"}, ValueError, "strictly between 0 and 1"),
        ({"seed": None}, TypeError, "seed must be a non-negative integer"),
        ({"seed": 1.5}, TypeError, "seed must be a non-negative integer"),
        ({"seed": True}, TypeError, "seed must be a non-negative integer"),
        ({"seed": -1}, ValueError, "seed must be a non-negative integer"),
    ],
)
def test_grouped_split_bad_arguments(kwargs, error, message):
    groups, labels = synthetic(20)
    with pytest.raises(error, match=message):
        grouped_split(groups, labels, **kwargs)


def test_grouped_split_bad_shapes_and_impossible_splits():
    with pytest.raises(ValueError, match="non-empty 1-D array"):
        grouped_split(np.array([], dtype=np.int64))
    with pytest.raises(ValueError, match="non-empty 1-D array"):
        grouped_split(np.zeros((2, 3), dtype=np.int64))
    with pytest.raises(TypeError, match="integer ids"):
        grouped_split(np.array([1.0, 2.0]))
    with pytest.raises(ValueError, match="one entry per row"):
        grouped_split(np.array([1, 2, 3]), np.array([0, 1]))
    with pytest.raises(ValueError, match="all rows belong to one group"):
        grouped_split(np.array([7, 7, 7, 7]))
    # every group is larger than the validation share: nothing fits
    with pytest.raises(ValueError, match="leaves the validation side empty"):
        grouped_split(np.repeat([1, 2, 3], 10), validation_fraction=0.2)
    # a fraction so small that it rounds to no row
    with pytest.raises(ValueError, match="leaves the validation side empty"):
        grouped_split(np.arange(10), validation_fraction=0.01)
    with pytest.raises(ValueError, match="leaves the training side empty"):
        grouped_split(np.arange(10), validation_fraction=0.99)


# --- the real corpus ----------------------------------------------------------------------

_WORD = re.compile(r"[a-z]{3,}")


def boundary_votes(texts: list[str], movies: np.ndarray) -> Counter:
    """Where two movies meet in a folder, which side each of the two reviews resembles.

    Reviews of one movie share rare words (names, places, plot). For the last review
    of a movie and the first of the next one, compare the mean number of rare words
    (in 2 to 30 reviews) it shares with the other reviews of its own movie and of the
    neighbouring one: "own", "other" or "tie".
    """
    words = [set(_WORD.findall(t.lower())) for t in texts]
    df = Counter(w for s in words for w in s)
    rare = [{w for w in s if 2 <= df[w] <= 30} for s in words]
    starts = np.flatnonzero(np.r_[True, movies[1:] != movies[:-1]])
    ends = np.r_[starts[1:], len(movies)]

    def overlap(f, lo, hi):
        others = [i for i in range(lo, hi) if i != f]
        return np.mean([len(rare[f] & rare[i]) for i in others]) if others else None

    votes = Counter()
    for k in range(1, len(starts)):
        (ps, pe), (s, e) = (starts[k - 1], ends[k - 1]), (starts[k], ends[k])
        for f, own, other in ((s, (s, e), (ps, pe)), (s - 1, (ps, pe), (s, e))):
            a, b = overlap(f, *own), overlap(f, *other)
            if a is not None and b is not None:
                votes["own" if a > b else "other" if a < b else "tie"] += 1
    return votes


def test_real_urls_match_reviews_line_for_line(real_imdb):
    reviews = load_reviews("train", source=real_imdb, seed=None)
    movies = movie_ids("train", source=real_imdb, seed=None)  # checks lines == files, ids 0..N-1
    for label in (0, 1):
        texts = [t for t, y in zip(reviews.texts, reviews.labels, strict=True) if y == label]
        folder = movies[reviews.labels == label]
        # each movie's reviews are consecutive lines of its file
        assert np.count_nonzero(np.diff(folder)) + 1 == len(np.unique(folder))
        shares = {}
        for shift in (0, 1, -1):  # line k is review k, k - 1 or k + 1
            votes = boundary_votes(texts, np.roll(folder, shift))
            shares[shift] = votes["own"] / (votes["own"] + votes["other"])
        # measured: 0.984 and 0.983 aligned; 0.31 to 0.44 when shifted by one line
        assert shares[0] > 0.95 and shares[1] < 0.5 and shares[-1] < 0.5, shares


def test_real_movie_counts_and_the_overlap_of_a_review_level_split(real_imdb):
    train = movie_ids("train", source=real_imdb)  # the order of load_imdb()'s x_train
    test = movie_ids("test", source=real_imdb)
    unsup = movie_ids("unsup", source=real_imdb)
    assert len(train) == len(test) == 25_000 and len(unsup) == 50_000
    movies, counts = np.unique(train, return_counts=True)
    assert len(movies) == 3_456 and counts.max() == 30  # Maas et al.: at most 30 per movie
    assert len(np.unique(test)) == 3_581 and np.unique(test, return_counts=True)[1].max() == 30
    assert np.intersect1d(movies, test).tolist() == [406_816]  # one shared movie
    assert np.intersect1d(unsup, np.r_[train, test]).size == 0
    # Keras's validation_split=0.2 holds out the last 5,000 rows, before any shuffling
    seen = np.isin(train[-5_000:], train[:-5_000]).mean()
    assert round(seen, 3) == 0.966


def test_real_grouped_split(real_imdb):
    reviews = load_reviews("train", source=real_imdb)
    movies = movie_ids("train", source=real_imdb)
    train_idx, val_idx = grouped_split(movies, reviews.labels, validation_fraction=0.2, seed=0)
    assert len(train_idx) == 20_000 and len(val_idx) == 5_000
    assert np.bincount(reviews.labels[val_idx]).tolist() == [2_500, 2_500]
    assert np.intersect1d(movies[train_idx], movies[val_idx]).size == 0
    # the same movies whatever the order of the rows (file order here)
    plain = movie_ids("train", source=real_imdb, seed=None)
    labels = load_reviews("train", source=real_imdb, seed=None).labels
    _, val_plain = grouped_split(plain, labels, validation_fraction=0.2, seed=0)
    assert set(plain[val_plain].tolist()) == set(movies[val_idx].tolist())
