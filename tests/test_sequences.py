"""Integer sequences with keras.datasets.imdb's conventions, and their cache."""

from __future__ import annotations

import tarfile
from unittest import mock

import numpy as np
import pytest

from embedtut import sequences
from embedtut.cache import cache_dir
from embedtut.sequences import decode, get_word_index, load_imdb, tokenize

# Ranks of the tiny training corpus (see conftest): by count, ties alphabetically.
RANKS = {
    "great": 1,
    "awful": 2,
    "is": 3,
    "the": 4,
    "acting": 5,
    "cast": 6,
    "film": 7,
    "a": 8,
    "an": 9,
    "fun": 10,
    "i": 11,
    "it": 12,
    "just": 13,
    "loved": 14,
    "plot": 15,
    "story": 16,
}
# The first negative training review, "An awful film.<br />Awful acting.", with index_from=3
FIRST = [1, 12, 5, 10, 5, 8]


@pytest.fixture
def tiny(tmp_path, tiny_archive, cache):
    with tarfile.open(tiny_archive[0]) as tar:
        tar.extractall(tmp_path / "corpus", filter="data")
    return tmp_path / "corpus" / "aclImdb"


def load(tiny, **kwargs):
    kwargs.setdefault("seed", None)
    return load_imdb(source=tiny, per_class=3, **kwargs)


def test_standardize_handles_line_breaks_case_and_punctuation():
    assert tokenize(["Don't <br /><br />STOP!", "a<br/>b", "Naïve, well-made"]) == [
        ["dont", "stop"],
        ["a", "b"],
        ["naïve", "wellmade"],
    ]


def test_word_index_ranks_by_training_frequency(tiny):
    assert get_word_index(source=tiny, per_class=3) == RANKS


def test_keras_conventions(tiny):
    (x_train, y_train), (x_test, y_test) = load(tiny)
    assert x_train[0].tolist() == FIRST
    assert y_train.tolist() == [0, 0, 0, 1, 1, 1] and y_test.tolist() == [0, 0, 0, 1, 1, 1]
    # a test word never seen in training becomes the out-of-vocabulary id
    assert x_test[5].tolist() == [1, 2, 4]  # "Zebra great."
    assert all(x.dtype == np.int32 for x in x_train)


def test_num_words_skip_top_and_dropping_oov(tiny):
    assert load(tiny, num_words=6)[0][0][0].tolist() == [1, 2, 5, 2, 5, 2]
    # Keras applies skip_top to the start mark as well
    assert load(tiny, skip_top=5)[0][0][0].tolist() == [2, 12, 5, 10, 5, 8]
    assert load(tiny, num_words=6, oov_char=None)[0][0][0].tolist() == [1, 5, 5]
    assert load(tiny, start_char=None, index_from=0)[0][0][0].tolist() == [9, 2, 7, 2, 5]
    with pytest.raises(ValueError, match="keeps no word"):
        load(tiny, num_words=3)


def keras_load_data(train, test, **kwargs):
    """Run the installed ``keras.datasets.imdb.load_data`` on given integer reviews.

    Only the download and the file are replaced: ``train`` and ``test`` are
    ``(reviews, labels)`` with each review a sequence of word ranks, as in ``imdb.npz``.
    """
    from keras.src.datasets import imdb as keras_imdb

    def ragged(rows):
        out = np.empty(len(rows), dtype=object)
        out[:] = [[int(w) for w in row] for row in rows]
        return out

    arrays = {
        "x_train": ragged(train[0]),
        "y_train": np.asarray(train[1]),
        "x_test": ragged(test[0]),
        "y_test": np.asarray(test[1]),
    }
    with (
        mock.patch.object(keras_imdb, "get_file", return_value="imdb.npz"),
        mock.patch.object(keras_imdb.npz_utils, "load_npz", return_value=arrays),
    ):
        return keras_imdb.load_data(**kwargs)


def keras_input(tiny):
    """The tiny corpus as Keras's loader expects it: test-only words skipped, labels = order."""
    train = sequences.tokenized("train", source=tiny, per_class=3)
    test = sequences.tokenized("test", source=tiny, per_class=3)
    train_rows = [train.review(i) for i in range(len(train))]
    test_rows = [test.review(i)[test.review(i) > 0] for i in range(len(test))]
    return (train_rows, train.labels), (test_rows, np.arange(len(test))), test


@pytest.mark.parametrize(
    "kwargs",
    [
        {"num_words": 20},
        {"num_words": 8},
        {"num_words": 8, "skip_top": 5},
        {"num_words": 8, "oov_char": None},
        {"num_words": 20, "start_char": None, "index_from": 0},
        {"num_words": 20, "start_char": 7, "oov_char": 9, "index_from": 10},
    ],
)
def test_same_id_conventions_as_keras_loader(tiny, kwargs):
    # the installed Keras loader, fed the book's tokens, gives the same training arrays
    train, test, _ = keras_input(tiny)
    (kx, ky), _ = keras_load_data(train, test, seed=113, **kwargs)
    (bx, by), _ = load(tiny, seed=113, **kwargs)
    assert [list(x) for x in kx] == [x.tolist() for x in bx]
    np.testing.assert_array_equal(ky, by)


def test_differences_from_keras_loader(tiny):
    train, test, test_split = keras_input(tiny)
    # the test split: Keras draws its order from the generator that shuffled the training
    # split; load_imdb gives each split a fresh RandomState(seed)
    _, (kx, korder) = keras_load_data(train, test, num_words=20, seed=113)
    _, (bx, _) = load(tiny, num_words=20, seed=113)
    rng = np.random.RandomState(113)
    rng.shuffle(np.arange(6))
    second = np.arange(6)
    rng.shuffle(second)
    fresh = np.arange(6)
    np.random.RandomState(113).shuffle(fresh)
    assert korder.tolist() == second.tolist() != fresh.tolist()
    # test-only words: skipped in Keras's data, oov_char in load_imdb
    _, (plain, _) = load(tiny, num_words=20)  # file order
    for row, i in zip(kx, korder, strict=True):
        seen = np.concatenate(([True], test_split.review(i) > 0))
        assert list(row) == plain[i][seen].tolist()
    assert plain[5].tolist() == [1, 2, 4]  # "Zebra great.": zebra becomes oov_char
    # num_words=None: Keras keeps ids below the largest one, so the largest becomes oov_char
    (kx, _), _ = keras_load_data(train, test, num_words=None, seed=113)
    (bx, _), _ = load(tiny, num_words=None, seed=113)
    largest = max(max(x) for x in bx)
    assert largest == len(RANKS) + 3 and all(2 not in x.tolist() for x in bx)
    assert [list(x) for x in kx] == [[w if w < largest else 2 for w in x.tolist()] for x in bx]


def test_padding_and_truncation_keep_every_review(tiny):
    (x_train, _), (x_test, _) = load(tiny, maxlen=4)
    assert x_train.shape == (6, 4) and x_train.dtype == np.int32  # nothing dropped
    assert x_train[0].tolist() == FIRST[-4:]  # truncated at the front
    assert x_test[3].tolist() == [0, 0, 1, 4]  # "Great!" padded at the front
    (x_train, _), (x_test, _) = load(tiny, maxlen=4, padding="post", truncating="post")
    assert x_train[0].tolist() == FIRST[:4]
    assert x_test[3].tolist() == [1, 4, 0, 0]
    with pytest.raises(ValueError, match="padding and truncating"):
        load(tiny, maxlen=4, padding="middle")
    with pytest.raises(ValueError, match="maxlen must be a positive"):
        load(tiny, maxlen=0)


def test_seed_shuffles_features_and_labels_together(tiny):
    (plain, y_plain), _ = load(tiny, maxlen=8)
    (shuffled, y_shuffled), _ = load(tiny, maxlen=8, seed=113)
    order = np.arange(6)
    np.random.RandomState(113).shuffle(order)
    np.testing.assert_array_equal(shuffled, plain[order])
    np.testing.assert_array_equal(y_shuffled, y_plain[order])


def test_decode_round_trip(tiny):
    (x_train, _), _ = load(tiny, maxlen=8)
    assert decode(x_train[0], source=tiny, per_class=3) == "<START> an awful film awful acting"
    assert (
        decode([0, 1, 4, 2], source=tiny, per_class=3, pad="<PAD>") == "<PAD> <START> great <OOV>"
    )


def test_cache_hit_skips_tokenising(tiny, monkeypatch):
    first = load(tiny, num_words=10, maxlen=5)
    files = sorted(p.name for p in cache_dir().glob("imdb-*.npz"))
    assert len([f for f in files if f.startswith("imdb-sequences-")]) == 1

    def fail(*args, **kwargs):
        raise AssertionError("tokenised again despite the cache")

    monkeypatch.setattr(sequences, "_vectorizer", fail)
    monkeypatch.setattr(sequences, "_count_words", fail)
    again = load(tiny, num_words=10, maxlen=5)
    np.testing.assert_array_equal(first[0][0], again[0][0])
    # another parameter is another cache entry, built from the cached tokens
    load(tiny, num_words=11, maxlen=5)
    assert len(list(cache_dir().glob("imdb-sequences-*.npz"))) == 2
    assert not list(cache_dir().glob("*.tmp"))


def test_damaged_cache_file_is_rebuilt(tiny):
    first = load(tiny, maxlen=5)
    (path,) = cache_dir().glob("imdb-sequences-*.npz")
    path.write_bytes(b"not a zip file")
    np.testing.assert_array_equal(load(tiny, maxlen=5)[0][0], first[0][0])
    assert np.load(path, allow_pickle=False)["x_train"].shape == (6, 5)


def test_unpadded_sequences_are_lists_of_arrays(tiny):
    (x_train, _), _ = load(tiny)
    assert isinstance(x_train, list) and [len(x) for x in x_train][0] == len(FIRST)


def test_tokenized_unsup_uses_training_vocabulary(tiny):
    split = sequences.tokenized("unsup", source=tiny, per_class=3)
    assert len(split) == 12
    # "Some film." -> "some" is unseen in training (0), "film" has rank 7
    assert split.review(0).tolist() == [0, 7]


def test_real_corpus_sequences(real_imdb, tmp_path, monkeypatch):
    (x_train, y_train), (x_test, y_test) = load_imdb(10_000, maxlen=500, source=real_imdb)
    assert x_train.shape == x_test.shape == (25_000, 500)
    assert x_train.max() == 9_999 and x_train.min() == 0
    assert np.bincount(y_train).tolist() == [12_500, 12_500]
    words = get_word_index(source=real_imdb)
    assert [w for w, r in sorted(words.items(), key=lambda kv: kv[1])[:4]] == [
        "the",
        "and",
        "a",
        "of",
    ]
    assert "<br" not in " ".join(list(words)[:1000])
