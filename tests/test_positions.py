import keras
import numpy as np
import pytest

from embedtut.positions import (
    AddPositionEmbedding,
    TokenAndPositionEmbedding,
    cosine_matrix,
    similarity_by_offset,
    sinusoidal_positions,
)


def test_sinusoidal_table_matches_the_formula_and_depends_on_distance_only():
    t = sinusoidal_positions(50, 8)
    assert t.shape == (50, 8) and t.dtype == np.float32
    p, i = 7, 1
    w = 10_000 ** (-2 * i / 8)
    np.testing.assert_allclose(t[p, 2 * i], np.sin(p * w), rtol=1e-6)
    np.testing.assert_allclose(t[p, 2 * i + 1], np.cos(p * w), rtol=1e-6)
    dots = t.astype(np.float64) @ t.astype(np.float64).T
    for k in (0, 1, 5, 30):
        assert np.ptp(np.diagonal(dots, k)) < 1e-5


def test_sinusoidal_rejects_bad_sizes():
    with pytest.raises(ValueError, match="even"):
        sinusoidal_positions(10, 5)
    with pytest.raises(ValueError, match="maxlen"):
        sinusoidal_positions(0, 4)


def test_token_and_position_embedding_is_two_lookups_summed():
    keras.utils.set_random_seed(0)
    layer = TokenAndPositionEmbedding(20, 6, 4)
    ids = np.array([[3, 5, 7, 0, 0, 0], [1, 2, 0, 0, 0, 0]])
    out = keras.ops.convert_to_numpy(layer(ids))
    tok = layer.token_embedding.embeddings.numpy()
    pos = layer.position_embedding.embeddings.numpy()
    np.testing.assert_array_equal(out, tok[ids] + pos[None])
    np.testing.assert_array_equal(keras.ops.convert_to_numpy(layer.compute_mask(ids)), ids != 0)
    assert len(layer.trainable_weights) == 2


def test_token_and_position_embedding_variants():
    ids = np.array([[3, 5, 0]])
    fixed = TokenAndPositionEmbedding(10, 3, 4, positions="sinusoidal")
    out = keras.ops.convert_to_numpy(fixed(ids))
    tok = fixed.token_embedding.embeddings.numpy()
    np.testing.assert_allclose(out, tok[ids] + sinusoidal_positions(3, 4)[None], rtol=1e-6)
    assert len(fixed.trainable_weights) == 1  # the sinusoidal table is not trained
    plain = TokenAndPositionEmbedding(10, 3, 4, positions=None)
    np.testing.assert_array_equal(
        keras.ops.convert_to_numpy(plain(ids)), plain.token_embedding.embeddings.numpy()[ids]
    )
    with pytest.raises(ValueError, match="positions"):
        TokenAndPositionEmbedding(10, 3, 4, positions="rotary")


def test_add_position_embedding():
    layer = AddPositionEmbedding(5, 2)
    x = np.ones((2, 3, 2), np.float32)
    out = keras.ops.convert_to_numpy(layer(x))
    np.testing.assert_array_equal(out, x + layer.position_embedding.embeddings.numpy()[:3][None])


def test_cosine_matrix_and_similarity_by_offset():
    t = np.array([[1.0, 0.0], [1.0, 1.0], [0.0, 1.0]])
    c = cosine_matrix(t)
    np.testing.assert_allclose(np.diag(c), 1.0)
    np.testing.assert_allclose(c[0, 2], 0.0, atol=1e-12)
    s = similarity_by_offset(t)
    np.testing.assert_allclose(s, [1.0, np.sqrt(0.5), 0.0], atol=1e-12)
    with pytest.raises(ValueError, match="max_offset"):
        similarity_by_offset(t, 3)
    with pytest.raises(ValueError, match="2-D"):
        cosine_matrix(np.zeros(3))
