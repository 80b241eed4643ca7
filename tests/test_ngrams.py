"""Tests for embedtut.ngrams: hashed n-gram ids and the EmbeddingBag layer."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from embedtut.ngrams import (
    EmbeddingBag,
    hash_ngram,
    mix64,
    ngram_ids,
    num_ids,
    ragged_batches,
    to_ragged,
)

# Two reviews: [5, 0, 7, 8] and [9, 5]; rank 0 is a word outside the vocabulary.
RANKS = np.array([5, 0, 7, 8, 9, 5], dtype=np.int32)
OFFSETS = np.array([0, 4, 6])


def test_mix64_is_a_fixed_bijection_sample():
    x = np.arange(1000, dtype=np.uint64)
    h = mix64(x)
    assert len(np.unique(h)) == 1000  # no two inputs collide
    assert np.array_equal(h, mix64(x))  # same on every call
    assert int(mix64(np.array([0], dtype=np.uint64))[0]) == 0  # SplitMix64 fixes 0


def test_hash_ngram_range_and_order_matters():
    a, b = np.array([1, 2, 3]), np.array([4, 5, 6])
    h = hash_ngram([a, b], 97)
    assert h.min() >= 0 and h.max() < 97
    assert not np.array_equal(hash_ngram([a, b], 2**40), hash_ngram([b, a], 2**40))
    with pytest.raises(ValueError, match="num_buckets"):
        hash_ngram([a, b], 0)
    with pytest.raises(ValueError, match="at least one"):
        hash_ngram([], 10)


def test_ngram_ids_words_then_bigrams_within_reviews():
    ids, offsets = ngram_ids(RANKS, OFFSETS, vocab_size=10, num_buckets=1000, ngram=2)
    assert offsets.tolist()[0] == 0 and len(offsets) == 3
    first = ids[offsets[0] : offsets[1]]
    second = ids[offsets[1] : offsets[2]]
    # Review 0: words 5, 7, 8 (0 dropped); bigrams: only (7, 8) has two known words.
    assert first[:3].tolist() == [5, 7, 8]
    assert len(first) == 4
    assert first[3] == 11 + hash_ngram([np.array([7]), np.array([8])], 1000)[0]
    # Review 1: words 9, 5, bigram (9, 5); no bigram (8, 9) across the boundary.
    assert second[:2].tolist() == [9, 5]
    assert len(second) == 3
    assert ids.min() >= 1 and ids.max() < num_ids(10, 1000)


def test_ngram_ids_unigram_vocab_cut_and_trigrams():
    ids, offsets = ngram_ids(RANKS, OFFSETS, vocab_size=7, num_buckets=50, ngram=1)
    assert ids.tolist() == [5, 7, 5]  # 8 and 9 are beyond vocab_size=7
    assert offsets.tolist() == [0, 2, 3]
    ids3, off3 = ngram_ids(RANKS, OFFSETS, vocab_size=10, num_buckets=50, ngram=3)
    ids2, off2 = ngram_ids(RANKS, OFFSETS, vocab_size=10, num_buckets=50, ngram=2)
    # Review 0 has no trigram of known words (5, 0, 7 / 0, 7, 8), so nothing is added.
    assert np.diff(off3).tolist() == np.diff(off2).tolist()
    long = np.array([1, 2, 3, 4])
    ids3, off3 = ngram_ids(long, np.array([0, 4]), vocab_size=10, num_buckets=50, ngram=3)
    assert off3.tolist() == [0, 4 + 3 + 2]


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"ngram": 4}, "ngram"),
        ({"vocab_size": 0}, "vocab_size"),
        ({"num_buckets": -1}, "num_buckets"),
    ],
)
def test_ngram_ids_bad_arguments(kwargs, match):
    args = {"vocab_size": 10, "num_buckets": 10, "ngram": 2, **kwargs}
    with pytest.raises(ValueError, match=match):
        ngram_ids(RANKS, OFFSETS, **args)


def test_ngram_ids_bad_data():
    with pytest.raises(ValueError, match="offsets"):
        ngram_ids(RANKS, np.array([0, 4]), vocab_size=10, num_buckets=10)
    with pytest.raises(ValueError, match="1-D integer"):
        ngram_ids(RANKS.astype(float), OFFSETS, vocab_size=10, num_buckets=10)
    with pytest.raises(ValueError, match=">= 0"):
        ngram_ids(-RANKS, OFFSETS, vocab_size=10, num_buckets=10)


def _table_layer(combiner="mean"):
    layer = EmbeddingBag(6, 2, combiner=combiner)
    layer.build()
    table = np.arange(12, dtype="float32").reshape(6, 2)
    layer.embeddings.assign(table)
    return layer, table


@pytest.mark.parametrize("combiner", ["mean", "sum", "sqrtn"])
def test_embedding_bag_matches_numpy(combiner):
    layer, table = _table_layer(combiner)
    ragged = tf.ragged.constant([[1, 2, 2], [5], []], dtype=tf.int32)
    out = np.asarray(layer(ragged))
    rows = [[1, 2, 2], [5]]
    for i, ids in enumerate(rows):
        total = table[ids].sum(axis=0)
        expected = {"mean": total / len(ids), "sum": total, "sqrtn": total / np.sqrt(len(ids))}
        np.testing.assert_allclose(out[i], expected[combiner], rtol=1e-6)
    np.testing.assert_array_equal(out[2], [0.0, 0.0])  # an empty bag gives zeros


@pytest.mark.parametrize("combiner", ["mean", "sum", "sqrtn"])
def test_weighted_embedding_bag_scales_each_vector_before_reducing(combiner):
    layer = EmbeddingBag(6, 2, combiner=combiner, weighted=True)
    layer.build()
    table = np.arange(12, dtype="float32").reshape(6, 2)
    weights = np.array([0, 1, 0.5, 2, 3, 0.25], dtype="float32")
    layer.embeddings.assign(table)
    np.testing.assert_array_equal(layer.id_weights.numpy(), np.ones(6))  # 1 until assigned
    layer.id_weights.assign(weights)
    out = np.asarray(layer(tf.ragged.constant([[1, 2, 2], [5]], dtype=tf.int32)))
    for i, ids in enumerate([[1, 2, 2], [5]]):
        total = (table[ids] * weights[ids, None]).sum(axis=0)
        divisor = {"mean": len(ids), "sum": 1, "sqrtn": np.sqrt(len(ids))}[combiner]
        np.testing.assert_allclose(out[i], total / divisor, rtol=1e-6)
    assert layer.trainable_weights == [layer.embeddings]
    assert EmbeddingBag.from_config(layer.get_config()).weighted


def test_embedding_bag_dense_input_skips_padding():
    layer, table = _table_layer()
    dense = np.array([[1, 2, 0, 0], [3, 3, 3, 4]], dtype="int32")
    out = np.asarray(layer(dense))
    np.testing.assert_allclose(out[0], table[[1, 2]].mean(axis=0))
    np.testing.assert_allclose(out[1], table[[3, 3, 3, 4]].mean(axis=0))


def test_embedding_bag_gradient_is_sparse():
    layer, _ = _table_layer()
    ragged = tf.ragged.constant([[1, 2], [2]], dtype=tf.int32)
    with tf.GradientTape() as tape:
        loss = tf.reduce_sum(layer(ragged))
    (grad,) = tape.gradient(loss, [layer.embeddings.value])
    assert isinstance(grad, tf.IndexedSlices)
    assert sorted(set(grad.indices.numpy().tolist())) == [1, 2]


def test_embedding_bag_bad_arguments():
    with pytest.raises(ValueError, match="input_dim"):
        EmbeddingBag(0, 2)
    with pytest.raises(ValueError, match="combiner"):
        EmbeddingBag(5, 2, combiner="max")


def test_embedding_bag_model_save_load_round_trip(tmp_path):
    inputs = keras.Input(shape=(None,), dtype="int32", ragged=True)
    outputs = keras.layers.Dense(1)(EmbeddingBag(20, 3, combiner="sqrtn", name="bag")(inputs))
    model = keras.Model(inputs, outputs)
    x = tf.ragged.constant([[1, 2, 3], [4]], dtype=tf.int32)
    before = np.asarray(model(x))
    path = tmp_path / "bag.keras"
    model.save(path)
    loaded = keras.models.load_model(path)
    np.testing.assert_allclose(np.asarray(loaded(x)), before, rtol=1e-6)
    assert loaded.get_layer("bag").get_config()["combiner"] == "sqrtn"


def test_to_ragged_and_batches():
    ids, offsets = ngram_ids(RANKS, OFFSETS, vocab_size=10, num_buckets=100)
    ragged = to_ragged(ids, offsets)
    assert ragged.dtype == tf.int32 and int(ragged.nrows()) == 2
    batches = list(ragged_batches(ragged, [0, 1], batch_size=1))
    assert len(batches) == 2 and isinstance(batches[0][0], tf.RaggedTensor)
    assert batches[1][1].numpy().tolist() == [1.0]
    with pytest.raises(ValueError, match="labels"):
        ragged_batches(ragged, [0, 1, 1])
    with pytest.raises(ValueError, match="batch_size"):
        ragged_batches(ragged, [0, 1], batch_size=0)


def test_embedding_bag_token_dropout_only_in_training():
    layer = EmbeddingBag(6, 2, token_dropout=0.5)
    layer.build()
    table = np.arange(12, dtype="float32").reshape(6, 2)
    layer.embeddings.assign(table)
    same = tf.ragged.constant([[3] * 50], dtype=tf.int32)
    np.testing.assert_allclose(np.asarray(layer(same, training=True))[0], table[3])
    mixed = tf.ragged.constant([[1] * 100 + [5] * 100], dtype=tf.int32)
    inference = np.asarray(layer(mixed, training=False))[0]
    np.testing.assert_allclose(inference, table[[1, 5]].mean(axis=0))
    trained = np.asarray(layer(mixed, training=True))[0]
    assert not np.allclose(trained, inference)  # a random subset was averaged
    assert table[1, 0] < trained[0] < table[5, 0]
    with pytest.raises(ValueError, match="token_dropout"):
        EmbeddingBag(6, 2, token_dropout=1.0)


def test_ngram_ids_binary_keeps_each_id_once():
    ranks = np.array([4, 4, 4, 2, 4, 4])
    ids, offsets = ngram_ids(ranks, np.array([0, 3, 6]), vocab_size=5, num_buckets=7, binary=True)
    first, second = ids[offsets[0] : offsets[1]], ids[offsets[1] : offsets[2]]
    bigram = 6 + hash_ngram([np.array([4]), np.array([4])], 7)[0]
    assert first.tolist() == sorted({4, bigram})
    assert sorted(second.tolist()) == sorted(set(second.tolist()))
    assert set(second.tolist()) >= {2, 4}
