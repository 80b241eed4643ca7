import keras
import numpy as np
import pytest
import tensorflow as tf

from embedtut.classifiers import bag_of_embeddings
from embedtut.hashing import hash_buckets
from embedtut.subwords import SubwordEmbedding, char_ngrams, inject_typos, typo


def test_char_ngrams_follow_fasttext():
    assert char_ngrams("cat", 3, 4) == ["<ca", "cat", "at>", "<cat", "cat>"]
    assert char_ngrams("a") == ["<a>"]
    grams = char_ngrams("where")
    assert "<wh" in grams and "her" in grams and "<where" in grams and "where>" in grams
    assert len(grams) == 5 + 4 + 3 + 2  # widths 3..6 of the 7 characters of <where>
    with pytest.raises(ValueError, match="min_n"):
        char_ngrams("cat", 4, 3)


def test_layer_hashes_the_same_ngrams_as_the_reference():
    layer = SubwordEmbedding(1000, 2)
    ids = layer.ngram_ids(tf.constant(["where", "été"]))
    for word, row in zip(["where", "été"], ids.to_list(), strict=True):
        assert row == hash_buckets(char_ngrams(word), 1000).tolist()


def test_vector_is_mean_of_ngram_rows_plus_own_row():
    keras.utils.set_random_seed(0)
    layer = SubwordEmbedding(97, 3, vocabulary=["cat", "dog"])
    out = np.asarray(layer(tf.constant([["cat", "cow", ""]])))[0]
    table = np.asarray(layer.ngram_embeddings)
    words = np.asarray(layer.word_embeddings)
    rows = hash_buckets(char_ngrams("cat"), 97)
    np.testing.assert_allclose(out[0], (table[rows].sum(0) + words[1]) / (len(rows) + 1), rtol=1e-5)
    rows = hash_buckets(char_ngrams("cow"), 97)  # not in the vocabulary: n-grams only
    np.testing.assert_allclose(out[1], table[rows].mean(0), rtol=1e-5)
    np.testing.assert_array_equal(out[2], 0.0)
    assert layer.count_params() == 97 * 3 + 3 * 3


def test_two_spellings_share_parameters():
    keras.utils.set_random_seed(0)
    layer = SubwordEmbedding(1 << 16, 64)
    x = tf.constant([["terrible", "terrrible", "popcorn"]])
    with tf.GradientTape(persistent=True) as tape:
        out = layer(x)
        losses = [tf.reduce_sum(out[0, i]) for i in range(3)]
    grads = [tape.gradient(loss, layer.ngram_embeddings) for loss in losses]
    touched = [set(tf.convert_to_tensor(g).numpy().any(axis=1).nonzero()[0]) for g in grads]
    shared = touched[0] & touched[1]
    assert {int(i) for i in hash_buckets(["<te", "ter", "ble>"], 1 << 16)} <= shared
    assert not touched[0] & touched[2]
    v = np.asarray(out)[0]
    cos = v @ v.T / np.outer(np.linalg.norm(v, axis=1), np.linalg.norm(v, axis=1))
    assert cos[0, 1] > 0.5 and abs(cos[0, 2]) < 0.3  # shared n-grams vs none


def test_mask_shape_and_round_trip(tmp_path):
    keras.utils.set_random_seed(0)
    layer = SubwordEmbedding(64, 3, vocabulary=["good", "bad"], min_n=2, max_n=4)
    x = tf.constant([[["good", ""], ["bad", "badd"]]])
    assert tuple(layer(x).shape) == (1, 2, 2, 3)
    np.testing.assert_array_equal(
        np.asarray(layer.compute_mask(x)), [[[True, False], [True, True]]]
    )
    layer = SubwordEmbedding(64, 3, vocabulary=["good", "bad"])
    model = bag_of_embeddings(layer, input_dtype="string")
    x = tf.constant([["good", "bad", ""], ["badd", "", ""]])
    path = tmp_path / "subword.keras"
    model.save(path)
    loaded = keras.saving.load_model(path)
    np.testing.assert_allclose(model.predict(x, verbose=0), loaded.predict(x, verbose=0))
    assert loaded.get_layer(index=1).vocabulary == ["good", "bad"]


def test_bad_vocabularies_are_refused():
    with pytest.raises(ValueError, match="padding"):
        SubwordEmbedding(8, 2, vocabulary=["a", ""])
    with pytest.raises(ValueError, match="duplicates"):
        SubwordEmbedding(8, 2, vocabulary=["a", "a"])
    with pytest.raises(ValueError, match="max_n"):
        SubwordEmbedding(8, 2, min_n=5, max_n=3)


def test_typo_is_seeded_and_always_changes_the_word():
    a = [typo("terrible", np.random.default_rng(3)) for _ in range(3)]
    b = [typo("terrible", np.random.default_rng(3)) for _ in range(3)]
    assert a == b
    rng = np.random.default_rng(0)
    for word in ["terrible", "good", "aa", "x"]:
        for _ in range(50):
            changed = typo(word, rng)
            assert changed != word and abs(len(changed) - len(word)) <= 1


def test_inject_typos():
    words = ["the", "terrible", "movie"]
    ranks = np.array([[1, 2, 3, 0], [2, 2, 0, 0]])
    same, ext = inject_typos(ranks, words, rate=0.0)
    np.testing.assert_array_equal(same, ranks)
    assert list(ext) == words
    new, ext = inject_typos(ranks, words, rate=1.0, seed=1)
    assert (new[ranks == 1] == 1).all() and (new[ranks == 0] == 0).all()  # short word, padding
    changed = (ranks >= 2) & (ranks > 0)
    assert (new[changed] > 3).all() and len(ext) == 3 + changed.sum()
    for r_old, r_new in zip(ranks[changed], new[changed], strict=True):
        assert ext[r_new - 1] != words[r_old - 1]
    again, ext2 = inject_typos(ranks, words, rate=1.0, seed=1)
    np.testing.assert_array_equal(new, again)
    assert list(ext) == list(ext2)
    with pytest.raises(ValueError, match="rate"):
        inject_typos(ranks, words, rate=1.5)
    with pytest.raises(ValueError, match="ranks must lie"):
        inject_typos(ranks + 5, words, rate=0.1)


def test_embed_unique_gathers_from_the_variables_not_a_copy():
    from embedtut.lookup import gather_sources

    layer = SubwordEmbedding(64, 4, vocabulary=["a", "bb"])
    layer.build((None,))
    sources = gather_sources(lambda s: layer(s), tf.TensorSpec([None, None], tf.string))
    whole_table_reads = [r for r in sources if r[1] == "ReadVariableOp"]
    assert whole_table_reads == []  # read-then-gather would copy the whole table
    assert sum(op == "ResourceGather" for op, _, _ in sources) == 2  # n-gram and word rows
