"""Chapter 1: lookup and one-hot × dense give the same numbers, forward and backward."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from embedtut.lookup import (
    apply,
    concrete_function,
    cost_model,
    densify,
    gather_sources,
    graph_op_types,
    lookup,
    matched_pair,
    one_hot,
    one_hot_matmul,
    restrict_vocabulary,
    round_to_tf32,
    sparse_one_hot,
    step,
    summation_error_bound,
    table_gradient,
)

CASES = [(7, 3, (5,)), (50, 8, (4, 6)), (1000, 16, (3, 2, 5)), (20, 4, (2, 40))]


def _ids(rng, v, shape):
    return rng.integers(0, v, size=shape)


@pytest.mark.parametrize("v,d,shape", CASES)
def test_numpy_onehot_matmul_equals_lookup_exactly(v, d, shape):
    rng = np.random.default_rng(v)
    table = rng.standard_normal((v, d)).astype(np.float32)
    ids = _ids(rng, v, shape)
    assert one_hot(ids, v).shape == (*shape, v)
    assert np.array_equal(one_hot_matmul(table, ids), lookup(table, ids))
    assert np.array_equal(lookup(table, ids), table[ids])


@pytest.mark.parametrize("v,d,shape", CASES)
def test_keras_dense_on_onehot_equals_embedding_exactly(v, d, shape):
    embedding, dense = matched_pair(v, d, seed=v)
    assert np.array_equal(embedding.embeddings.numpy(), dense.kernel.numpy())
    assert dense.count_params() == embedding.count_params() == v * d
    ids = _ids(np.random.default_rng(v + 1), v, shape)
    a, b = apply(embedding, ids).numpy(), apply(dense, ids).numpy()
    assert a.shape == (*shape, d)
    assert np.array_equal(a, b)


@pytest.mark.parametrize("v,d,shape", CASES)
def test_gradients_agree_within_summation_bound(v, d, shape):
    embedding, dense = matched_pair(v, d, seed=3)
    ids = _ids(np.random.default_rng(v + 2), v, shape)
    target = tf.constant(np.random.default_rng(9).standard_normal((*shape, d)), tf.float32)

    def loss_fn(y):
        return tf.reduce_sum(tf.square(y - target))

    loss_e, grad_e = table_gradient(embedding, ids, loss_fn)
    loss_d, grad_d = table_gradient(dense, ids, loss_fn)
    assert loss_e.numpy() == loss_d.numpy()
    assert isinstance(grad_e, tf.IndexedSlices)
    assert np.array_equal(grad_e.indices.numpy(), np.asarray(ids).reshape(-1))
    assert tuple(grad_e.values.shape) == (np.asarray(ids).size, d)
    assert tuple(grad_e.dense_shape.numpy()) == (v, d)
    upstream = 2 * (apply(embedding, ids).numpy() - target.numpy())
    expected = np.zeros((v, d))
    np.add.at(expected, np.asarray(ids).reshape(-1), upstream.reshape(-1, d))
    a, b = densify(grad_e), densify(grad_d)
    bound = summation_error_bound(ids, upstream, v)
    assert (np.abs(a - b) <= bound).all()
    np.testing.assert_allclose(a, expected, rtol=1e-5, atol=1e-6)
    to_exact = summation_error_bound(ids, upstream, v, against="exact")
    assert (np.abs(a - expected) <= to_exact).all() and (np.abs(b - expected) <= to_exact).all()
    counts = np.bincount(np.asarray(ids).reshape(-1), minlength=v)
    assert np.array_equal(a[counts <= 2], b[counts <= 2])
    assert (a[counts == 0] == 0).all()


def test_repeated_ids_are_listed_repeatedly_and_summed_when_densified():
    embedding, _ = matched_pair(10, 2, seed=0)
    ids = np.array([[3, 5, 3]])
    _, grad = table_gradient(embedding, ids, lambda y: tf.reduce_sum(y))
    assert grad.indices.numpy().tolist() == [3, 5, 3]
    assert np.array_equal(grad.values.numpy(), np.ones((3, 2), np.float32))
    dense = densify(grad)
    assert dense[3].tolist() == [2.0, 2.0] and dense[5].tolist() == [1.0, 1.0]
    assert dense.sum() == 6.0


def test_summation_bound_is_zero_for_rows_used_at_most_twice():
    ids = np.array([0, 1, 1, 2, 2, 2])
    up = np.ones((6, 1))
    bound = summation_error_bound(ids, up, 4)
    assert bound[:2].sum() == 0 and bound[3] == 0
    assert bound[2, 0] > 0
    exact = summation_error_bound(ids, up, 4, against="exact")
    assert exact[0, 0] == 0 and exact[1, 0] > 0 and exact[2, 0] == bound[2, 0] / 2
    with pytest.raises(ValueError, match="against"):
        summation_error_bound(ids, up, 4, against="float64")


@pytest.mark.parametrize(
    "bad,match",
    [
        (np.array([0, 10]), "out of range"),
        (np.array([-1, 2]), "negative"),
        (np.array([1.0, 2.0]), "integers"),
    ],
)
def test_bad_ids_raise_a_clear_value_error(bad, match):
    table = np.zeros((10, 2), np.float32)
    embedding, dense = matched_pair(10, 2)
    for call in (
        lambda: lookup(table, bad),
        lambda: one_hot_matmul(table, bad),
        lambda: one_hot(bad, 10),
        lambda: apply(embedding, bad),
        lambda: apply(dense, bad),
        lambda: table_gradient(embedding, bad, tf.reduce_sum),
        lambda: summation_error_bound(bad, np.zeros((2, 2)), 10),
        lambda: step("lookup", 10, 2, bad),
    ):
        with pytest.raises(ValueError, match=match):
            call()


def test_bad_arguments():
    with pytest.raises(ValueError, match="2-D"):
        lookup(np.zeros(5), [1])
    with pytest.raises(ValueError, match="positive integer"):
        matched_pair(0, 3)
    with pytest.raises(ValueError, match="use_bias"):
        apply(keras.layers.Dense(2), [1])
    with pytest.raises(ValueError, match="Embedding or keras.layers.Dense"):
        apply(keras.layers.ReLU(), [1])
    with pytest.raises(ValueError, match="path"):
        step("matmul", 10, 2, [1])
    with pytest.raises(ValueError, match="oov_id"):
        restrict_vocabulary([1, 2], 2, oov_id=2)


def test_restrict_vocabulary_follows_keras_num_words_rule():
    out = restrict_vocabulary(np.array([[0, 1, 5, 9, 10, 4000]]), 10)
    assert out.tolist() == [[0, 1, 5, 9, 2, 2]]


def test_concrete_function_traces_plain_and_tf_functions_alike():
    import tensorflow as tf

    spec = tf.TensorSpec([None], tf.float32)
    plain = concrete_function(lambda x: x * 2.0, spec)
    wrapped = concrete_function(tf.function(lambda x: x * 2.0), spec)
    for traced in (plain, wrapped):
        assert "Mul" in {op.type for op in traced.graph.get_operations()}
        assert traced(tf.constant([1.0, 2.0])).numpy().tolist() == [2.0, 4.0]


def test_graph_ops_gather_versus_onehot_matmul():
    embedding, dense = matched_pair(100, 4, seed=0)
    spec = tf.TensorSpec([None], tf.int32)
    lookup_ops = graph_op_types(lambda ids: embedding(ids), spec)
    onehot_ops = graph_op_types(lambda ids: dense(tf.one_hot(ids, 100)), spec)
    assert lookup_ops["GatherV2"] + lookup_ops["ResourceGather"] >= 1
    assert "MatMul" not in lookup_ops and "OneHot" not in lookup_ops
    assert onehot_ops["OneHot"] == 1 and onehot_ops["MatMul"] == 1
    sources = gather_sources(lambda ids: embedding(ids), spec)
    assert ("GatherV2", "ReadVariableOp", (100, 4)) in sources
    assert gather_sources(lambda ids: dense(tf.one_hot(ids, 100)), spec) == []


def test_cost_model():
    table = cost_model(512, 10_000, 32)
    assert list(table.index) == ["lookup", "one_hot"]
    assert (table["parameters"] == 320_000).all()
    assert table.loc["one_hot", "forward_flops"] == 2 * 512 * 10_000 * 32
    assert table.loc["one_hot", "input_bytes"] == 512 * 10_000 * 4
    assert table.loc["lookup", "gradient_bytes"] == 512 * 32 * 4 + 512 * 4
    with pytest.raises(ValueError, match="n_ids"):
        cost_model(0, 10, 2)


@pytest.mark.parametrize("path", ["lookup", "one_hot"])
def test_step_runs_forward_and_backward(path):
    ids = np.array([1, 2, 2, 7])
    out = step(path, 10, 3, ids)()
    assert tuple(out.shape) == (4, 3)
    grad = step(path, 10, 3, ids, backward=True)()
    if path == "lookup":
        values, indices = grad
        assert indices.numpy().tolist() == [1, 2, 2, 7]
        assert np.array_equal(values.numpy(), out.numpy())  # d(0.5 y²)/dy = y
    else:
        expected = np.zeros((10, 3), np.float32)
        np.add.at(expected, ids, out.numpy())
        np.testing.assert_allclose(grad.numpy(), expected, rtol=1e-6)


def test_step_exposes_its_graph():
    spec = tf.TensorSpec([4], tf.int32)
    ids = [1, 2, 2, 7]
    lookup_ops = graph_op_types(step("lookup", 10, 3, ids, backward=True).tf_function, spec)
    onehot_ops = graph_op_types(step("one_hot", 10, 3, ids, backward=True).tf_function, spec)
    assert lookup_ops["MatMul"] == 0 and lookup_ops["GatherV2"] == 1
    assert onehot_ops["MatMul"] == 2 and onehot_ops["OneHot"] == 1


def test_dense_on_sparse_one_hot_is_a_lookup():
    embedding, dense = matched_pair(30, 5, seed=1)
    ids = np.array([3, 29, 3, 0, 7])
    sparse = sparse_one_hot(ids, 30)
    assert tuple(sparse.dense_shape.numpy()) == (5, 30)
    assert np.array_equal(tf.sparse.to_dense(sparse).numpy(), one_hot(ids, 30))
    assert np.array_equal(dense(sparse).numpy(), embedding(ids).numpy())
    ops = graph_op_types(lambda sp: dense(sp), tf.SparseTensorSpec([None, 30], tf.float32))
    assert ops["MatMul"] == 0 and ops["GatherV2"] >= 1
    with pytest.raises(ValueError, match="1-D"):
        sparse_one_hot(ids.reshape(1, 5), 30)
    with pytest.raises(ValueError, match="out of range"):
        sparse_one_hot([30], 30)


def test_round_to_tf32_keeps_ten_mantissa_bits_ties_to_even():
    ulp = 2.0**-10  # TF32's spacing between 1 and 2
    x = np.array([1.0, 1 + ulp / 2, 1 + 1.5 * ulp, 1 + ulp / 2 + 2.0**-23, 0.0], np.float32)
    expected = [1.0, 1.0, 1 + 2 * ulp, 1 + ulp, 0.0]  # ties: to the even neighbour
    assert round_to_tf32(x).tolist() == expected
    assert round_to_tf32(-x).tolist() == [-v for v in expected]
    special = np.array([np.inf, -np.inf, np.finfo(np.float32).max], np.float32)
    assert round_to_tf32(special).tolist() == [np.inf, -np.inf, np.inf]
    assert np.isnan(round_to_tf32(np.float32(np.nan)))
    assert round_to_tf32(np.float32(1.0)).shape == ()


def test_round_to_tf32_error_bound_and_idempotence():
    rng = np.random.default_rng(0)
    table = rng.uniform(-0.05, 0.05, size=(200, 16)).astype(np.float32)
    rounded = round_to_tf32(table)
    assert rounded.dtype == np.float32 and rounded.shape == table.shape
    assert not (rounded.view(np.uint32) & np.uint32(0x1FFF)).any()  # 13 low bits cleared
    rel = np.abs(rounded - table) / np.abs(table)
    assert rel.max() <= 2.0**-11 and rel.max() > 2.0**-12
    assert np.array_equal(round_to_tf32(rounded), rounded)
    ids = rng.integers(0, 200, size=(3, 7))
    assert np.array_equal(round_to_tf32(one_hot(ids, 200)), one_hot(ids, 200))  # 0, 1 exact
    with pytest.raises(ValueError, match="float32"):
        round_to_tf32(table.astype(np.float64))
