import keras
import numpy as np
import pytest

from embedtut.contextual import (
    encoder_classifier,
    occurrences,
    pairwise_cosines,
    shuffle_tokens,
    states_at,
)


def test_encoder_ignores_trailing_padding_and_has_named_layers():
    keras.utils.set_random_seed(0)
    model = encoder_classifier(30, 8, 8, heads=2, blocks=2)
    for name in ("embedding", "attention_1", "block_1", "block_2", "masked_mean", "sentiment"):
        model.get_layer(name)
    a = np.array([[5, 6, 7, 0, 0, 0, 0, 0]])
    b = np.array([[5, 6, 7, 9, 9, 0, 0, 0]])
    c = b.copy()
    c[0, 3:5] = 0
    pa, pb, pc = (model.predict(x, verbose=0) for x in (a, b, c))
    np.testing.assert_allclose(pa, pc, rtol=1e-6)  # masked steps do not count
    assert not np.allclose(pa, pb)


def test_encoder_without_positions_is_order_invariant_with_positions_not():
    keras.utils.set_random_seed(0)
    x = np.array([[5, 6, 7, 8, 0, 0]])
    y = np.array([[8, 6, 5, 7, 0, 0]])
    blind = encoder_classifier(20, 6, 8, positions=None)
    np.testing.assert_allclose(
        blind.predict(x, verbose=0), blind.predict(y, verbose=0), rtol=1e-5, atol=1e-6
    )
    keras.utils.set_random_seed(0)
    seeing = encoder_classifier(20, 6, 8)
    # make the position table matter
    seeing.get_layer("embedding").position_embedding.embeddings.assign(
        np.random.default_rng(0).normal(size=(6, 8)).astype("float32")
    )
    assert not np.allclose(seeing.predict(x, verbose=0), seeing.predict(y, verbose=0))


def test_encoder_rejects_bad_sizes():
    with pytest.raises(ValueError, match="multiple of heads"):
        encoder_classifier(10, 4, 6, heads=4)
    with pytest.raises(ValueError, match="blocks"):
        encoder_classifier(10, 4, 8, blocks=0)


def test_shuffle_tokens_keeps_padding_and_multiset():
    x = np.array([[1, 2, 3, 4, 0, 0], [5, 6, 0, 0, 0, 0]])
    s = shuffle_tokens(x, seed=1)
    np.testing.assert_array_equal(s == 0, x == 0)
    np.testing.assert_array_equal(np.sort(s, axis=1), np.sort(x, axis=1))
    np.testing.assert_array_equal(x[0], [1, 2, 3, 4, 0, 0])  # input untouched
    with pytest.raises(ValueError):
        shuffle_tokens(np.zeros(3, int))


def test_occurrences_with_and_without_previous():
    x = np.array([[4, 7, 9, 7], [7, 0, 4, 7]])
    np.testing.assert_array_equal(occurrences(x, 7), [[0, 1], [0, 3], [1, 0], [1, 3]])
    np.testing.assert_array_equal(occurrences(x, 7, previous=4), [[0, 1], [1, 3]])


def test_states_at_returns_static_rows_and_layer_vectors():
    keras.utils.set_random_seed(0)
    model = encoder_classifier(20, 5, 8)
    x = np.array([[3, 4, 5, 0, 0], [5, 3, 0, 0, 0], [6, 6, 6, 0, 0]])
    where = occurrences(x, 3)
    s = states_at(model, x, where, ["embedding", "block_1"])
    assert list(s) == ["token table", "embedding", "block_1"]
    assert all(v.shape == (2, 8) for v in s.values())
    np.testing.assert_array_equal(s["token table"][0], s["token table"][1])
    full = keras.Model(model.input, model.get_layer("block_1").output).predict(x, verbose=0)
    np.testing.assert_allclose(s["block_1"], full[where[:, 0], where[:, 1]], rtol=1e-5, atol=1e-6)


def test_pairwise_cosines():
    v = np.array([[1.0, 0.0], [2.0, 0.0], [0.0, 3.0]])
    np.testing.assert_allclose(pairwise_cosines(v), [1.0, 0.0, 0.0], atol=1e-12)
    many = np.random.default_rng(0).normal(size=(50, 3))
    assert len(pairwise_cosines(many, max_vectors=10)) == 45
    with pytest.raises(ValueError):
        pairwise_cosines(v[:1])
