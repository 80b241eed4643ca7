import keras
import numpy as np
import pytest
import tensorflow as tf

from embedtut.language_model import (
    full_softmax_loss,
    mask_tokens,
    matmul_shapes,
    output_flops,
    sampled_softmax_loss,
    tied_masked_lm,
)


def test_mask_tokens_hides_words_and_records_them():
    x = np.array([[5, 6, 7, 8, 9, 10, 0, 0], [4, 0, 0, 0, 0, 0, 0, 0], [0] * 8])
    inputs, positions, labels, weights = mask_tokens(x, rate=0.3, mask_id=1, seed=0)
    assert positions.shape == labels.shape == weights.shape == (3, 3)
    assert weights.sum(axis=1).tolist() == [2.0, 1.0, 0.0]
    real = weights > 0
    np.testing.assert_array_equal(np.take_along_axis(x, positions, 1)[real], labels[real])
    np.testing.assert_array_equal(np.take_along_axis(inputs, positions, 1)[real], 1)
    assert (inputs == 1).sum() == weights.sum()
    assert (inputs[x == 0] == 0).all()
    with pytest.raises(ValueError, match="mask_id"):
        mask_tokens(x, mask_id=5)


def test_tied_model_has_one_word_table_used_both_ways():
    keras.utils.set_random_seed(0)
    model = tied_masked_lm(30, 6, 8, masked=2)
    tables = [v for v in model.trainable_variables if v.path.endswith("embeddings")]
    assert [tuple(v.shape) for v in tables] == [(30, 8), (6, 8)]
    tokens = np.array([[3, 1, 5, 6, 0, 0]])
    where = np.array([[1, 2]])
    logits = model.predict({"tokens": tokens, "positions": where}, verbose=0)
    assert logits.shape == (1, 2, 30)
    hidden = keras.Model(model.input, model.get_layer("at_masked").output)
    h = hidden.predict({"tokens": tokens, "positions": where}, verbose=0)
    table = model.get_layer("tied_embedding").embeddings.numpy()
    np.testing.assert_allclose(logits, h @ table.T, rtol=1e-5, atol=1e-5)


def test_tied_model_learns_a_copy_task():
    keras.utils.set_random_seed(0)
    rng = np.random.default_rng(0)
    x = np.repeat(rng.integers(3, 12, (512, 1)), 4, axis=1)  # every word of a row is the same
    inputs, positions, labels, weights = mask_tokens(x, rate=0.25, mask_id=1, seed=0)
    model = tied_masked_lm(12, 4, 16, masked=1, learning_rate=0.02)
    model.fit(
        {"tokens": inputs, "positions": positions},
        labels,
        sample_weight=weights,
        epochs=15,
        batch_size=64,
        verbose=0,
    )
    assert model.evaluate({"tokens": inputs, "positions": positions}, labels, verbose=0)[1] > 0.9


def test_losses_and_output_cost():
    rng = np.random.default_rng(0)
    table = tf.constant(rng.normal(size=(50, 4)).astype("float32"))
    h = tf.constant(rng.normal(size=(6, 4)).astype("float32"))
    y = tf.constant([1, 2, 3, 4, 5, 6])
    logits = h.numpy() @ table.numpy().T
    logz = np.log(np.exp(logits).sum(axis=1))
    expected = np.mean(logz - logits[np.arange(6), y.numpy()])
    np.testing.assert_allclose(full_softmax_loss(table, h, y).numpy(), expected, rtol=1e-5)
    table_var = tf.Variable(table)
    with tf.GradientTape() as tape:
        loss = sampled_softmax_loss(table_var, h, y, num_sampled=5)
    grad = tape.gradient(loss, table_var)
    assert isinstance(grad, tf.IndexedSlices)
    assert len(np.unique(grad.indices.numpy())) <= 6 + 5
    with pytest.raises(ValueError, match="num_sampled"):
        sampled_softmax_loss(table, h, y, num_sampled=50)
    assert output_flops(6, 50, 4) == 2 * 6 * 50 * 4
    shapes = matmul_shapes(lambda a: tf.matmul(a, table, transpose_b=True), tf.TensorSpec((6, 4)))
    assert shapes == [("MatMul", (6, 4), (50, 4))]
