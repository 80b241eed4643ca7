"""embedtut.layers: ScratchEmbedding and GatherEmbedding are keras.layers.Embedding; IdCheck
refuses bad ids.

GatherEmbedding is also checked for what it is for: a forward graph with one
``ResourceGather`` on the variable and no full read of the table.

Also pins the behaviour of the installed Keras/TensorFlow that chapter 2 reports (XLA
clamping, negative wrapping, float truncation, float32 inputs), so a change is noticed.
"""

from __future__ import annotations

import tempfile
import warnings
from pathlib import Path

import keras
import numpy as np
import pytest
import tensorflow as tf

from embedtut.layers import GatherEmbedding, IdCheck, ScratchEmbedding
from embedtut.lookup import concrete_function, gather_sources, graph_op_types


def pair(input_dim=7, output_dim=3, seed=0, cls=ScratchEmbedding, **kwargs):
    """A Keras Embedding and a ``cls`` layer (ScratchEmbedding) sharing one random table."""
    table = np.random.default_rng(seed).normal(size=(input_dim, output_dim)).astype("float32")
    ref = keras.layers.Embedding(input_dim, output_dim, **kwargs)
    new = cls(input_dim, output_dim, **kwargs)
    for layer in (ref, new):
        layer.build()
        layer.embeddings.assign(table)
    return ref, new, table


# ---------------------------------------------------------------- same as Keras


@pytest.mark.parametrize("layer", ["ScratchEmbedding", "GatherEmbedding"])
@pytest.mark.parametrize("dtype", ["int32", "int64", "uint8", "int16", "float32", "float64"])
@pytest.mark.parametrize("shape", [(5,), (3, 4), (2, 3, 4)])
def test_same_outputs_as_keras_on_random_ids(layer, dtype, shape):
    rng = np.random.default_rng(abs(hash((dtype, shape))) % 2**32)
    make = pair if layer == "ScratchEmbedding" else gather_pair
    ref, new, table = make(input_dim=11, output_dim=4)
    ids = rng.integers(0, 11, size=shape)
    if dtype.startswith("float"):
        ids = ids + rng.uniform(0, 0.99, size=shape)  # truncated toward zero by both layers
    ids = ids.astype(dtype)
    a, b = ref(ids), new(ids)
    assert a.dtype == b.dtype == tf.float32
    assert a.shape == b.shape == (*shape, 4)
    np.testing.assert_array_equal(a.numpy(), b.numpy())
    np.testing.assert_array_equal(b.numpy(), table[np.trunc(ids).astype(int)])


@pytest.mark.parametrize("dtype", ["uint8", "uint16", "uint32", "int8", "int16"])
def test_validated_ids_of_any_integer_dtype_read_the_same_rows_as_keras(dtype):
    # TensorFlow's gather refuses uint8/uint32 indices: the layer casts after validating
    ref, _, table = pair(input_dim=11, output_dim=4)
    checked = ScratchEmbedding(11, 4, validate_ids=True)
    checked.build()
    checked.embeddings.assign(table)
    ids = np.array([[0, 3, 10], [7, 7, 1]], dtype=dtype)
    np.testing.assert_array_equal(checked(ids).numpy(), ref(ids).numpy())
    np.testing.assert_array_equal(checked(ids).numpy(), table[ids.astype(int)])
    with pytest.raises(tf.errors.InvalidArgumentError, match="out of range"):
        checked(np.array([11], dtype=dtype))


def test_negative_ids_wrap_once_in_both():
    ref, new, table = pair(input_dim=5)
    ids = np.array([-1, -5, -2])
    np.testing.assert_array_equal(ref(ids).numpy(), table[[4, 0, 3]])
    np.testing.assert_array_equal(new(ids).numpy(), table[[4, 0, 3]])
    for layer in (ref, new):
        with pytest.raises(tf.errors.InvalidArgumentError, match=r"= -1 is not in \[0, 5\)"):
            layer(np.array([-6]))  # -6 + 5 = -1: wrapped once, then out of range


def test_float_ids_truncate_toward_zero():
    ref, new, table = pair(input_dim=5)
    ids = np.array([-0.5, 0.99, 2.9, -1.5], dtype="float32")  # -> 0, 0, 2, -1 (= row 4)
    for layer in (ref, new):
        np.testing.assert_array_equal(layer(ids).numpy(), table[[0, 0, 2, 4]])


def test_mask_zero_masks_but_does_not_zero_row_zero():
    ref, new, table = pair(mask_zero=True)
    ids = np.array([[0, 3, 0], [1, 0, 2]])
    for layer in (ref, new):
        np.testing.assert_array_equal(layer.compute_mask(ids).numpy(), ids != 0)
        out = layer(ids).numpy()
        np.testing.assert_array_equal(out[0, 0], table[0])
        assert np.abs(table[0]).sum() > 0
    assert ref.supports_masking and new.supports_masking


def test_no_mask_without_mask_zero():
    ref, new, _ = pair()
    assert ref.compute_mask(np.array([0, 1])) is None
    assert new.compute_mask(np.array([0, 1])) is None
    assert not new.supports_masking


def test_mask_reaches_the_next_layer_in_a_model():
    for cls in (keras.layers.Embedding, ScratchEmbedding):
        ids = keras.Input((3,), dtype="int32")
        out = cls(5, 2, mask_zero=True)(ids)
        assert out._keras_mask is not None
        x = keras.layers.GlobalAveragePooling1D()(out)
        model = keras.Model(ids, x)
        assert model(np.array([[1, 0, 0]])).shape == (1, 2)


def test_same_gradients_as_keras():
    ref, new, _ = pair(input_dim=9, output_dim=3)
    ids = np.array([[1, 2, 2], [8, 0, 1]])
    weights = tf.constant(np.arange(18, dtype="float32").reshape(2, 3, 3))
    grads = []
    for layer in (ref, new):
        with tf.GradientTape() as tape:
            loss = tf.reduce_sum(layer(ids) * weights)
        (g,) = tape.gradient(loss, layer.trainable_variables)
        assert isinstance(g, tf.IndexedSlices)  # a gather's gradient touches only used rows
        grads.append(tf.convert_to_tensor(g).numpy())
    np.testing.assert_array_equal(grads[0], grads[1])
    assert not grads[1][[3, 4, 5, 6, 7]].any()


def _classifier(layer_cls, table):
    ids = keras.Input((6,), dtype="int32")
    x = layer_cls(table.shape[0], table.shape[1], mask_zero=True)(ids)
    x = keras.layers.GlobalAveragePooling1D()(x)
    out = keras.layers.Dense(1, activation="sigmoid", kernel_initializer="ones")(x)
    model = keras.Model(ids, out)
    model.layers[1].embeddings.assign(table)
    model.compile(keras.optimizers.Adam(0.05), "binary_crossentropy", jit_compile=False)
    return model


def test_training_steps_are_bit_identical():
    rng = np.random.default_rng(3)
    table = rng.normal(scale=0.05, size=(20, 4)).astype("float32")
    x = rng.integers(0, 20, size=(64, 6)).astype("int32")
    y = (x[:, 0] > 10).astype("float32")
    tables = []
    for cls in (keras.layers.Embedding, ScratchEmbedding):
        model = _classifier(cls, table)
        model.fit(x, y, batch_size=16, epochs=2, shuffle=False, verbose=0)
        tables.append(model.layers[1].embeddings.numpy())
    assert not np.array_equal(tables[0], table)  # training moved the table
    np.testing.assert_array_equal(tables[0], tables[1])


def test_mixed_precision_keeps_float32_table_and_float16_output():
    previous = keras.config.dtype_policy()
    keras.config.set_dtype_policy("mixed_float16")
    try:
        ref, new, _ = pair()
        for layer in (ref, new):
            assert layer.embeddings.dtype == "float32"
            assert layer(np.array([1, 2])).dtype == tf.float16
        np.testing.assert_array_equal(ref(np.array([3])).numpy(), new(np.array([3])).numpy())
        # float ids are not autocast to float16 (which would turn 2049 into 2048)
        big_ref, big_new, table = pair(input_dim=2050, output_dim=1)
        for layer in (big_ref, big_new):
            out = layer(np.array([2049.0], dtype="float32"))
            assert out.numpy()[0, 0] == np.float16(table[2049, 0])
    finally:
        keras.config.set_dtype_policy(previous)
    assert keras.config.dtype_policy().name == "float32"


def test_initializer_default_is_uniform_005():
    layer = ScratchEmbedding(400, 50)
    init = layer.embeddings_initializer
    assert isinstance(init, keras.initializers.RandomUniform)
    assert (init.minval, init.maxval) == (-0.05, 0.05)
    layer.build()
    values = layer.embeddings.numpy()
    assert -0.05 <= values.min() < -0.049 and 0.049 < values.max() < 0.05
    assert layer.embeddings.trainable and layer.embeddings.path.endswith("/embeddings")


def test_built_only_once_and_shapes():
    layer = ScratchEmbedding(6, 2)
    assert not layer.built and layer.weights == []
    out = layer(np.zeros((3, 4), dtype="int32"))
    assert layer.built and len(layer.weights) == 1
    assert out.shape == (3, 4, 2)
    assert layer.compute_output_shape((None, 7)) == (None, 7, 2)
    spec = layer.compute_output_spec(keras.KerasTensor((None, 7), dtype="int32"))
    assert spec.shape == (None, 7, 2) and spec.dtype == "float32"


@pytest.mark.parametrize("bad", [0, -1, 2.5, True, None])
def test_bad_dims_are_refused(bad):
    with pytest.raises(ValueError, match="input_dim must be a positive integer"):
        ScratchEmbedding(bad, 3)
    with pytest.raises(ValueError, match="output_dim must be a positive integer"):
        ScratchEmbedding(3, bad)


# ---------------------------------------------------------------- serialization


def test_config_round_trip():
    layer = ScratchEmbedding(
        8,
        3,
        embeddings_initializer="glorot_uniform",
        embeddings_regularizer="l2",
        embeddings_constraint="non_neg",
        mask_zero=True,
        validate_ids=True,
        name="words",
    )
    config = layer.get_config()
    clone = ScratchEmbedding.from_config(config)
    assert clone.get_config() == config
    assert isinstance(clone.embeddings_regularizer, keras.regularizers.L2)
    assert isinstance(clone.embeddings_constraint, keras.constraints.NonNeg)
    assert clone.mask_zero and clone.validate_ids and clone.name == "words"


def test_keras_file_round_trip():
    ids = keras.Input((None,), dtype="int32")
    x = IdCheck(12)(ids)
    x = ScratchEmbedding(12, 3, mask_zero=True, validate_ids=True)(x)
    x = keras.layers.GlobalAveragePooling1D()(x)
    model = keras.Model(ids, x)
    batch = np.array([[0, 5, 11], [3, 0, 0]])
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "model.keras"
        model.save(path)
        loaded = keras.models.load_model(path)
    assert [type(layer) for layer in loaded.layers[1:3]] == [IdCheck, ScratchEmbedding]
    np.testing.assert_array_equal(loaded(batch).numpy(), model(batch).numpy())
    assert loaded.layers[2].get_config() == model.layers[2].get_config()
    with pytest.raises(tf.errors.InvalidArgumentError, match="id 12 at position"):
        loaded(np.array([[12]]))


# ---------------------------------------------------------------- validation


def test_validate_ids_refuses_out_of_range_eagerly():
    layer = ScratchEmbedding(5, 2, validate_ids=True)
    assert layer(np.array([[0, 4]])).shape == (1, 2, 2)
    with pytest.raises(tf.errors.InvalidArgumentError, match=r"id 5 at position \(1, 0\)"):
        layer(np.array([[0, 4], [5, 9]]))
    with pytest.raises(tf.errors.InvalidArgumentError, match=r"id -1 at position \(0,\)"):
        layer(np.array([-1]))  # Keras would wrap it to the last row


@pytest.mark.parametrize("dtype", ["float32", "float64", "bool"])
def test_validate_ids_refuses_non_integers(dtype):
    layer = ScratchEmbedding(5, 2, validate_ids=True)
    with pytest.raises(TypeError, match=f"integer dtype, got {dtype}"):
        layer(np.array([1, 0]).astype(dtype))


def test_validate_ids_refuses_a_float_input_when_the_model_is_built():
    for guard in (ScratchEmbedding(5, 2, validate_ids=True), IdCheck(5)):
        with pytest.raises(TypeError, match="keras.Input"):
            guard(keras.Input((3,)))  # keras.Input defaults to float32


def test_validating_models_refuse_xla_and_raise_inside_predict():
    ids = keras.Input((3,), dtype="int32")
    model = keras.Model(ids, ScratchEmbedding(5, 2, validate_ids=True)(ids))
    with pytest.warns(UserWarning, match="Proceeding with `jit_compile=False`"):
        model.compile(loss="mse", jit_compile=True)
    assert model.jit_compile is False
    assert model.predict(np.array([[1, 2, 3]]), verbose=0).shape == (1, 3, 2)
    where = r"id\] \[7\] \[at position\] \[\[1 1\]\]"
    with pytest.raises(tf.errors.InvalidArgumentError, match=where):
        model.predict(np.array([[1, 2, 3], [4, 7, 0]]), verbose=0)


def test_id_check_passes_ids_and_masks_through():
    guard = IdCheck(5)
    ids = np.array([[0, 4, 2]], dtype="int64")
    out = guard(ids)
    assert out.dtype == tf.int64
    np.testing.assert_array_equal(out.numpy(), ids)
    with pytest.raises(tf.errors.InvalidArgumentError, match=r"id 5 at position \(0, 1\)"):
        guard(np.array([[0, 5]]))
    assert IdCheck(5, allow_negative=True)(np.array([-5])).numpy()[0] == -5
    assert IdCheck.from_config(IdCheck(5, allow_negative=True).get_config()).allow_negative


# ---------------------------------------------------------------- installed TF/Keras behaviour


def test_out_of_range_raises_in_eager_cpu():
    ref, _, _ = pair(input_dim=5)
    with tf.device("/CPU:0"):
        with pytest.raises(tf.errors.InvalidArgumentError, match=r"indices\[1\] = 7 is not in"):
            ref(np.array([1, 7]))


def test_xla_clamps_out_of_range_ids():
    """Pinned: under jit_compile=True TF/XLA clamps instead of raising (on CPU)."""
    ref, new, table = pair(input_dim=5)
    ids = tf.constant([1, 5, 7, 1000, -6, -1000])
    for layer in (ref, new):
        with tf.device("/CPU:0"):
            out = tf.function(layer, jit_compile=True)(ids).numpy()
        np.testing.assert_array_equal(out, table[[1, 4, 4, 4, 0, 0]])


def test_float32_input_rounds_ids_above_2_to_the_24():
    n = 2**24 + 8
    table = (np.arange(n, dtype=np.int64) - 2**24).astype("float32").reshape(n, 1)
    layer = keras.layers.Embedding(n, 1, weights=table)
    ids = np.array([[2**24 + 1], [2**24 + 3], [2**24 + 5]])
    as_float = keras.Model(inp := keras.Input((1,)), layer(inp))
    as_int = keras.Model(inp2 := keras.Input((1,), dtype="int32"), layer(inp2))
    assert inp.dtype == "float32"
    np.testing.assert_array_equal(as_int.predict(ids, verbose=0).ravel(), [1, 3, 5])
    np.testing.assert_array_equal(as_float.predict(ids, verbose=0).ravel(), [0, 4, 4])


def test_input_length_warns_and_weights_work():
    table = np.arange(6, dtype="float32").reshape(3, 2)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        layer = keras.layers.Embedding(3, 2, input_length=10, weights=[table])
    assert [w.category for w in caught] == [UserWarning]
    assert "input_length" in str(caught[0].message) and "deprecated" in str(caught[0].message)
    assert layer.built
    np.testing.assert_array_equal(layer.embeddings.numpy(), table)


# ---------------------------------------------------------------- GatherEmbedding


def gather_pair(input_dim=7, output_dim=3, seed=0, **kwargs):
    """A Keras Embedding and a GatherEmbedding sharing one random table."""
    return pair(input_dim, output_dim, seed, cls=GatherEmbedding, **kwargs)


def full_table_ops(fn, spec, shape) -> list[str]:
    """Types of the ops in ``fn``'s traced graph whose output has the table's shape."""
    graph = concrete_function(fn, spec).graph
    return sorted(
        op.type
        for op in graph.get_operations()
        for out in op.outputs
        if out.shape.rank == 2 and tuple(out.shape.as_list()) == shape
    )


def test_gather_negative_ids_wrap_like_keras_and_out_of_range_raises_on_cpu():
    ref, new, table = gather_pair(input_dim=5)
    ids = np.array([-1, -5, -2, 0, 4])
    np.testing.assert_array_equal(new(ids).numpy(), table[[4, 0, 3, 0, 4]])
    np.testing.assert_array_equal(new(ids).numpy(), ref(ids).numpy())
    float_ids = np.array([-0.5, 0.99, 2.9, -1.5], dtype="float32")  # -> 0, 0, 2, -1 (= row 4)
    np.testing.assert_array_equal(new(float_ids).numpy(), table[[0, 0, 2, 4]])
    with tf.device("/CPU:0"):
        for bad, shown in [(5, 5), (7, 7), (-6, -1)]:  # -6 wraps once to -1, as in Keras
            for layer in (ref, new):
                with pytest.raises(tf.errors.InvalidArgumentError, match=rf"= {shown} is not in"):
                    layer(np.array([1, bad]))
        with pytest.raises(tf.errors.InvalidArgumentError, match="ResourceGather"):
            new(np.array([5]))


def test_gather_xla_clamps_like_keras():
    ref, new, table = gather_pair(input_dim=5)
    ids = tf.constant([1, 5, 7, 1000, -1, -6, -1000])
    with tf.device("/CPU:0"):
        outs = [tf.function(layer, jit_compile=True)(ids).numpy() for layer in (ref, new)]
    np.testing.assert_array_equal(outs[1], table[[1, 4, 4, 4, 4, 0, 0]])
    np.testing.assert_array_equal(outs[1], outs[0])


def test_gather_forward_graph_has_one_resource_gather_and_no_table_read():
    ref, new, _ = gather_pair(input_dim=37, output_dim=5)
    spec = tf.TensorSpec((None, 4), tf.int32)
    mine, keras_ops = graph_op_types(new, spec), graph_op_types(ref, spec)
    assert mine["ResourceGather"] == 1
    assert mine["ReadVariableOp"] == mine["GatherV2"] == 0
    assert gather_sources(new, spec) == [("ResourceGather", "Placeholder", ())]
    assert full_table_ops(new, spec, (37, 5)) == []  # no op outputs a 37 x 5 tensor
    # Keras's Embedding: a full read of the table, then a gather from that tensor
    assert keras_ops["ResourceGather"] == 0 and keras_ops["GatherV2"] == 1
    assert gather_sources(ref, spec) == [("GatherV2", "ReadVariableOp", (37, 5))]
    assert "ReadVariableOp" in full_table_ops(ref, spec, (37, 5))


def test_gather_model_predict_graph_never_reads_the_table():
    ids = keras.Input((4,), dtype="int32")
    x = GatherEmbedding(37, 5, mask_zero=True)(ids)
    x = keras.layers.GlobalAveragePooling1D()(x)
    model = keras.Model(ids, keras.layers.Dense(2)(x))
    spec = tf.TensorSpec((None, 4), tf.int32)
    assert gather_sources(model, spec) == [("ResourceGather", "Placeholder", ())]
    assert full_table_ops(model, spec, (37, 5)) == []


def test_gather_gradient_is_indexed_slices_equal_to_keras():
    ref, new, _ = gather_pair(input_dim=9, output_dim=3)
    ids = np.array([[1, 2, 2], [8, 0, -1]])  # -1 is row 8
    weights = tf.constant(np.arange(18, dtype="float32").reshape(2, 3, 3))
    grads = []
    for layer in (ref, new):
        with tf.GradientTape() as tape:
            loss = tf.reduce_sum(layer(ids) * weights)
        (g,) = tape.gradient(loss, layer.trainable_variables)
        assert isinstance(g, tf.IndexedSlices)
        grads.append(tf.convert_to_tensor(g).numpy())
    np.testing.assert_array_equal(grads[1], grads[0])
    assert not grads[1][[3, 4, 5, 6, 7]].any() and grads[1][[0, 1, 2, 8]].any(axis=1).all()


@pytest.mark.parametrize("optimizer", ["sgd", "lazy_adam"])
def test_gather_training_step_touches_only_looked_up_rows_like_keras(optimizer):
    from embedtut.optimizers import LazyAdam

    rng = np.random.default_rng(5)
    table = rng.normal(scale=0.05, size=(30, 4)).astype("float32")
    x = np.array([[1, 4, 4, 9], [2, 9, 0, 27]], dtype="int32")
    y = np.array([1.0, 0.0], dtype="float32")
    tables = []
    for cls in (keras.layers.Embedding, GatherEmbedding):
        ids = keras.Input((4,), dtype="int32")
        h = keras.layers.GlobalAveragePooling1D()(cls(30, 4, name="emb")(ids))
        out = keras.layers.Dense(1, activation="sigmoid", kernel_initializer="ones")(h)
        model = keras.Model(ids, out)
        model.get_layer("emb").embeddings.assign(table)
        opt = keras.optimizers.SGD(0.5) if optimizer == "sgd" else LazyAdam(0.01)
        model.compile(opt, "binary_crossentropy", jit_compile=False)
        model.fit(x, y, batch_size=2, epochs=1, shuffle=False, verbose=0)
        tables.append(model.get_layer("emb").embeddings.numpy())
    changed = np.flatnonzero((tables[1] != table).any(axis=1))
    np.testing.assert_array_equal(changed, np.unique(x))
    np.testing.assert_array_equal(tables[1], tables[0])


def test_gather_mask_zero_ragged_and_sparse_like_keras():
    ref, new, table = gather_pair(input_dim=6, output_dim=2, mask_zero=True)
    assert np.abs(table[0]).sum() > 0  # so a missing sparse entry (= id 0) is visible
    ids = np.array([[0, 3, 0], [1, 0, 5]])
    np.testing.assert_array_equal(new.compute_mask(ids).numpy(), ids != 0)
    assert new.supports_masking
    ragged = tf.ragged.constant([[1, 5, -1], [0], [2, 2]])
    a, b = ref(ragged), new(ragged)
    assert isinstance(b, tf.RaggedTensor)
    np.testing.assert_array_equal(b.flat_values.numpy(), table[[1, 5, 5, 0, 2, 2]])
    np.testing.assert_array_equal(b.row_splits.numpy(), a.row_splits.numpy())
    np.testing.assert_array_equal(b.flat_values.numpy(), a.flat_values.numpy())
    ref, new, table = gather_pair(input_dim=6, output_dim=2)  # mask_zero refuses sparse ids
    sparse = tf.SparseTensor([[0, 0], [1, 2]], tf.constant([2, 1]), (2, 3))
    a, b = ref(sparse), new(sparse)
    np.testing.assert_array_equal(b.numpy(), a.numpy())
    np.testing.assert_array_equal(b.numpy(), table[[[2, 0, 0], [0, 0, 1]]])


def test_gather_mixed_precision_gathers_float32_rows_then_casts():
    ref, new, table = gather_pair(input_dim=37, output_dim=5, dtype="mixed_float16")
    assert new.embeddings.dtype == "float32" and new.compute_dtype == "float16"
    ids = np.array([[3, 36, 0]])
    a, b = ref(ids), new(ids)
    assert a.dtype == b.dtype == tf.float16
    np.testing.assert_array_equal(b.numpy(), a.numpy())
    np.testing.assert_array_equal(b.numpy(), table[ids].astype("float16"))
    spec = tf.TensorSpec((None, 3), tf.int32)
    assert gather_sources(new, spec) == [("ResourceGather", "Placeholder", ())]
    assert full_table_ops(new, spec, (37, 5)) == []
    # Keras's Embedding casts the whole table to float16 before gathering
    assert gather_sources(ref, spec) == [("GatherV2", "Cast", (37, 5))]


def test_gather_stateless_call_uses_the_given_table():
    layer = GatherEmbedding(4, 2)
    layer.build()
    other = np.arange(8, dtype="float32").reshape(4, 2)
    out, _ = layer.stateless_call([tf.constant(other)], [], np.array([3, 0]))
    np.testing.assert_array_equal(out.numpy(), other[[3, 0]])
    assert not np.array_equal(layer.embeddings.numpy(), other)


def test_gather_keras_file_and_config_round_trip():
    ids = keras.Input((None,), dtype="int32")
    layer = GatherEmbedding(12, 3, mask_zero=True, embeddings_constraint="non_neg", name="g")
    x = keras.layers.GlobalAveragePooling1D()(layer(ids))
    model = keras.Model(ids, x)
    batch = np.array([[0, 5, 11], [3, 0, 0]])
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "model.keras"
        model.save(path)
        loaded = keras.models.load_model(path)
    assert type(loaded.get_layer("g")) is GatherEmbedding
    assert keras.saving.get_registered_name(GatherEmbedding) == "embedtut>GatherEmbedding"
    np.testing.assert_array_equal(loaded(batch).numpy(), model(batch).numpy())
    np.testing.assert_array_equal(
        loaded.get_layer("g").embeddings.numpy(), layer.embeddings.numpy()
    )
    assert loaded.get_layer("g").get_config() == layer.get_config()
    # an Embedding's config builds a GatherEmbedding: a drop-in replacement
    config = keras.layers.Embedding(8, 3, mask_zero=True, name="e").get_config()
    clone = GatherEmbedding.from_config(config)
    assert clone.get_config() == {**config, "name": "e"}
    assert not clone.built


def test_gather_weights_argument_like_keras():
    table = np.arange(6, dtype="float32").reshape(3, 2)
    layer = GatherEmbedding(3, 2, weights=table)
    assert layer.built
    np.testing.assert_array_equal(layer(np.array([2, 0])).numpy(), table[[2, 0]])


def test_gather_refuses_lora():
    with pytest.raises(ValueError, match="does not support LoRA.*keras.layers.Embedding"):
        GatherEmbedding(5, 2, lora_rank=2)
    with pytest.raises(ValueError, match="does not support LoRA"):
        GatherEmbedding(5, 2, lora_alpha=4)
    layer = GatherEmbedding(5, 2)
    layer.build()
    with pytest.raises(NotImplementedError, match="does not support LoRA"):
        layer.enable_lora(2)
    assert not layer.lora_enabled and len(layer.weights) == 1


def test_gather_refuses_quantization():
    layer = GatherEmbedding(5, 2)
    layer.build()
    with pytest.raises(NotImplementedError, match="does not support quantization"):
        layer.quantize("int8")
    with pytest.raises(ValueError, match="Got dtype='int8_from_float32'"):
        GatherEmbedding(5, 2, dtype="int8_from_float32")
    config = keras.quantizers.Int8QuantizationConfig()
    with pytest.raises(ValueError, match="Use keras.layers.Embedding to quantize"):
        GatherEmbedding(5, 2, quantization_config=config)
    # Model.quantize warns and leaves the layer a float32 table
    ids = keras.Input((3,), dtype="int32")
    model = keras.Model(ids, GatherEmbedding(5, 2, name="g")(ids))
    with pytest.warns(UserWarning, match="does not support quantization"):
        model.quantize("int8")
    assert model.get_layer("g").quantization_mode is None
    assert model.get_layer("g").embeddings.dtype == "float32"


def test_gather_refuses_other_backends(monkeypatch):
    monkeypatch.setattr(keras.backend, "backend", lambda: "jax")
    with pytest.raises(ValueError, match="needs the TensorFlow backend.*'jax'.*keras.layers"):
        GatherEmbedding(5, 2)
