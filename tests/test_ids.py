"""embedtut.ids: every bad input is refused with a message naming value and position."""

from __future__ import annotations

import re

import numpy as np
import pytest
import tensorflow as tf

from embedtut.ids import assert_valid_ids, check_ids, require_integer_dtype

# ---------------------------------------------------------------- check_ids (NumPy side)


@pytest.mark.parametrize(
    "ids",
    [
        [[1, 2], [3, 0]],
        np.array([[1, 2], [3, 0]], dtype=np.int32),
        np.array([[1, 2], [3, 0]], dtype=np.uint8),
        tf.constant([[1, 2], [3, 0]], dtype=tf.int64),
    ],
    ids=["list", "int32", "uint8", "tf-int64"],
)
def test_check_ids_returns_int64_of_same_values(ids):
    out = check_ids(ids, 4)
    assert out.dtype == np.int64
    np.testing.assert_array_equal(out, [[1, 2], [3, 0]])


def test_check_ids_accepts_the_edges_and_empty_input():
    np.testing.assert_array_equal(check_ids([0, 4], 5), [0, 4])
    assert check_ids(np.zeros((0, 3), dtype=np.int32), 5).shape == (0, 3)
    np.testing.assert_array_equal(check_ids([-5, -1], 5, allow_negative=True), [-5, -1])


def test_too_large_id_names_value_position_count_and_range():
    ids = np.array([[1, 2, 3], [4, 7, 9]])
    with pytest.raises(ValueError) as err:
        check_ids(ids, 5)
    msg = str(err.value)
    assert "2 id(s) out of range" in msg
    assert "the first, 7 at position (1, 1)" in msg
    assert "input_dim=5" in msg and "rows 0..4" in msg


def test_id_equal_to_input_dim_is_out_of_range():
    with pytest.raises(ValueError, match=r"the first, 5 at position \(2,\)"):
        check_ids([0, 4, 5], 5)


def test_negative_id_is_refused_by_default():
    with pytest.raises(ValueError, match=r"the first, -1 at position \(0, 2\), is negative"):
        check_ids([[0, 1, -1]], 5)


def test_negative_id_below_minus_input_dim_is_refused_even_when_allowed():
    with pytest.raises(ValueError, match=r"the first, -6 at position \(1,\), is below -5"):
        check_ids([-5, -6], 5, allow_negative=True)


@pytest.mark.parametrize(
    "ids, shown",
    [
        (np.array([[1.0, 2.9]]), "1.0 at position (0, 0)"),
        (np.array([3.0], dtype=np.float32), "3.0 at position (0,)"),
        ([0.5], "0.5 at position (0,)"),
        (tf.constant([[2.0]]), "2.0 at position (0, 0)"),
    ],
)
def test_float_ids_are_refused_even_when_whole(ids, shown):
    with pytest.raises(ValueError, match="must be integers, got dtype float") as err:
        check_ids(ids, 5)
    assert shown in str(err.value)
    assert "dtype='int32'" in str(err.value)


def test_bool_ids_are_refused():
    with pytest.raises(ValueError, match=r"must be integers, got dtype bool; the first is True"):
        check_ids(np.array([True, False]), 5)


def test_string_ids_are_refused():
    with pytest.raises(ValueError, match=r"must be integers, got dtype <U1; the first is 'a'"):
        check_ids(["a", "b"], 5)


def test_empty_float_array_is_refused_without_a_sample():
    with pytest.raises(ValueError, match=r"got dtype float64\. Embedding"):
        check_ids(np.zeros((0,)), 5)


def test_ragged_ids_are_refused_with_a_hint():
    with pytest.raises(ValueError, match="rows have different lengths; pad them first"):
        check_ids([[1, 2], [3]], 5)


@pytest.mark.parametrize("input_dim", [0, -3, 2.0, True, "5", None, np.float64(5)])
def test_bad_input_dim_is_refused(input_dim):
    with pytest.raises(ValueError, match="input_dim must be a positive integer"):
        check_ids([0], input_dim)


def test_numpy_integer_input_dim_is_accepted():
    np.testing.assert_array_equal(check_ids([2], np.int64(3)), [2])


def test_name_appears_in_messages():
    with pytest.raises(ValueError, match=r"^user ids has 1 id\(s\)"):
        check_ids([9], 5, name="user ids")


# ---------------------------------------------------------------- in-graph check


def test_require_integer_dtype():
    for ok in ("int32", "int64", "uint8", tf.int16, np.int64):
        require_integer_dtype(ok)
    for bad in ("float32", "float16", "bool", tf.float64):
        with pytest.raises(TypeError, match="must have an integer dtype"):
            require_integer_dtype(bad)


def test_assert_valid_ids_passes_good_ids_through():
    ids = tf.constant([[0, 4], [2, 3]])
    out = assert_valid_ids(ids, 5)
    np.testing.assert_array_equal(out.numpy(), ids.numpy())
    assert out.dtype == tf.int32


def test_assert_valid_ids_eager_names_value_and_position():
    with pytest.raises(tf.errors.InvalidArgumentError) as err:
        assert_valid_ids(tf.constant([[0, 4], [7, -1]]), 5)
    msg = err.value.message
    assert "input_dim=5: id 7 at position (1, 0) is not in [0, 5)" in msg
    assert "(2 bad id(s) in all)" in msg


def test_assert_valid_ids_in_a_graph_names_value_and_position():
    fn = tf.function(lambda x: assert_valid_ids(x, 5))
    np.testing.assert_array_equal(fn(tf.constant([1, 2])).numpy(), [1, 2])
    with pytest.raises(tf.errors.InvalidArgumentError) as err:
        fn(tf.constant([[0, 1], [2, 9]]))
    msg = re.sub(r"\s+", " ", err.value.message)
    assert "[ids out of range for input_dim=5: id] [9] [at position] [[1 1]]" in msg


def test_assert_valid_ids_negative_ids():
    with pytest.raises(tf.errors.InvalidArgumentError, match=r"id -1 at position \(1,\)"):
        assert_valid_ids(tf.constant([0, -1]), 5)
    out = assert_valid_ids(tf.constant([0, -5]), 5, allow_negative=True)
    np.testing.assert_array_equal(out.numpy(), [0, -5])
    with pytest.raises(tf.errors.InvalidArgumentError, match=r"is not in \[-5, 5\)"):
        assert_valid_ids(tf.constant([-6]), 5, allow_negative=True)


def test_assert_valid_ids_refuses_floats_and_bad_input_dim():
    with pytest.raises(TypeError, match="got float32"):
        assert_valid_ids(tf.constant([1.0]), 5)
    with pytest.raises(TypeError, match="got bool"):
        assert_valid_ids(tf.constant([True]), 5)
    with pytest.raises(ValueError, match="input_dim must be a positive integer"):
        assert_valid_ids(tf.constant([1]), 0)


def test_xla_removes_the_assertion():
    """Pinned limitation: under jit_compile=True the check silently disappears."""
    fn = tf.function(lambda x: assert_valid_ids(x, 5), jit_compile=True)
    np.testing.assert_array_equal(fn(tf.constant([9])).numpy(), [9])


def test_assert_valid_ids_checks_ragged_and_sparse_values():
    ragged = tf.ragged.constant([[1, 2, 3], [4]])
    checked = assert_valid_ids(ragged, 5)
    assert isinstance(checked, tf.RaggedTensor)
    assert checked.to_list() == [[1, 2, 3], [4]]
    invalid = tf.errors.InvalidArgumentError
    with pytest.raises(invalid, match=r"flat values.*id 7 at position \(3,\)"):
        assert_valid_ids(tf.ragged.constant([[1, 2, 3], [7]]), 5)
    sparse = tf.SparseTensor([[0, 0], [1, 2]], tf.constant([3, 9]), [2, 3])
    with pytest.raises(invalid, match=r"sparse values.*id 9 at position \(1,\)"):
        assert_valid_ids(sparse, 5)
    good = assert_valid_ids(tf.SparseTensor([[0, 0]], tf.constant([3]), [1, 1]), 5)
    assert isinstance(good, tf.SparseTensor) and good.values.numpy().tolist() == [3]


def test_validating_scratch_embedding_takes_ragged_ids():
    from embedtut.layers import ScratchEmbedding

    layer = ScratchEmbedding(5, 2, validate_ids=True)
    out = layer(tf.ragged.constant([[1, 2, 3], [4]]))
    assert isinstance(out, tf.RaggedTensor) and out.shape[-1] == 2
    with pytest.raises(tf.errors.InvalidArgumentError, match="id 5"):
        layer(tf.ragged.constant([[1, 5]]))


@pytest.mark.parametrize(
    "ranks, offsets, match",
    [
        (np.array([1.0, 2.0]), np.array([0, 2]), "1-D integer"),
        (np.array([[1, 2]]), np.array([0, 2]), "1-D integer"),
        (np.array([1, 2]), np.array([0, 1]), "end at len"),
        (np.array([1, 2]), np.array([1, 2]), "start at 0"),
        (np.array([1, 2]), np.array([0.0, 2.0]), "1-D integers"),
        (np.array([1, 2, 3]), np.array([0, 2, 1, 3]), "non-decreasing"),
        (np.array([1, -2]), np.array([0, 2]), ">= 0"),
    ],
)
def test_check_reviews_refuses_bad_reviews(ranks, offsets, match):
    from embedtut.ids import check_reviews

    with pytest.raises(ValueError, match=match):
        check_reviews(ranks, offsets)


def test_check_reviews_passes_good_reviews_through():
    from embedtut.ids import check_reviews

    ranks, offsets = check_reviews([3, 0, 5], [0, 0, 3])  # an empty review first
    np.testing.assert_array_equal(ranks, [3, 0, 5])
    np.testing.assert_array_equal(offsets, [0, 0, 3])
