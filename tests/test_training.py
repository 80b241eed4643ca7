"""Row tracking, verdicts, gradient kinds, timing cases, step structure, CPU-only checks and
the one-hot autoencoder."""

from __future__ import annotations

import keras
import numpy as np
import pytest

from embedtut.optimizers import LazyAdam
from embedtut.training import (
    BATCH_AND_SEEN,
    EVERY_ROW,
    NONE_OF_THESE,
    ONLY_BATCH,
    gather_update_case,
    gradient_kinds,
    movement_verdict,
    onehot_autoencoder,
    step_time_case,
    table_work,
    tiny_model,
    track_rows,
)

BATCHES = [[1, 2], [3, 3], [1, 1]]


def test_track_rows_sgd_moves_only_the_batch():
    moved = track_rows(keras.optimizers.SGD(0.1), BATCHES)
    assert moved.shape == (8, 3)
    assert [np.flatnonzero(moved[:, s]).tolist() for s in range(3)] == [[1, 2], [3], [1]]
    assert movement_verdict(moved, BATCHES) == ONLY_BATCH


def test_track_rows_adam_keeps_moving_seen_rows():
    moved = track_rows(keras.optimizers.Adam(0.01), BATCHES)
    assert [np.flatnonzero(moved[:, s]).tolist() for s in range(3)] == [
        [1, 2],
        [1, 2, 3],
        [1, 2, 3],
    ]
    assert movement_verdict(moved, BATCHES) == BATCH_AND_SEEN


def test_track_rows_starts_from_the_same_weights():
    a = track_rows(keras.optimizers.SGD(0.1), BATCHES, seed=5)
    b = track_rows(keras.optimizers.SGD(0.1), BATCHES, seed=5)
    np.testing.assert_array_equal(a, b)


def test_movement_verdicts_on_synthetic_records():
    batches = [[0], [1]]
    only = np.array([[1.0, 0.0], [0.0, 1.0], [0.0, 0.0]])
    seen = np.array([[1.0, 1.0], [0.0, 1.0], [0.0, 0.0]])
    every = np.ones((3, 2))
    odd = np.array([[0.0, 0.0], [1.0, 1.0], [0.0, 0.0]])
    assert movement_verdict(only, batches) == ONLY_BATCH == "only the batch's rows"
    assert movement_verdict(seen, batches) == BATCH_AND_SEEN
    assert movement_verdict(every, batches) == EVERY_ROW
    assert movement_verdict(odd, batches) == NONE_OF_THESE
    with pytest.raises(ValueError, match="steps"):
        movement_verdict(only, [[0]])


def test_bad_batches_are_refused():
    with pytest.raises(ValueError, match="outside"):
        track_rows(keras.optimizers.SGD(0.1), [[1, 9]])
    with pytest.raises(ValueError, match="same number"):
        track_rows(keras.optimizers.SGD(0.1), [[1, 2], [3]])
    with pytest.raises(ValueError, match="at least one"):
        track_rows(keras.optimizers.SGD(0.1), [])


@pytest.mark.parametrize(
    "kwargs",
    [
        {"embeddings_regularizer": keras.regularizers.L2(1e-3)},
        {"embeddings_constraint": keras.constraints.UnitNorm()},
    ],
    ids=["L2 regularizer", "UnitNorm constraint"],
)
def test_track_rows_regularizer_or_constraint_moves_every_row_under_sgd(kwargs):
    moved = track_rows(keras.optimizers.SGD(0.1), BATCHES, layer_kwargs=kwargs)
    assert movement_verdict(moved, BATCHES) == EVERY_ROW


def test_tiny_model_passes_layer_kwargs():
    model = tiny_model(6, 2, layer_kwargs={"embeddings_regularizer": "l2"})
    model(np.array([[1, 2]]))
    assert len(model.get_layer("embedding").losses) == 1


def test_gradient_kinds_sees_indexed_slices_for_the_table():
    keras.utils.set_random_seed(0)
    kinds = gradient_kinds(tiny_model(6, 2), np.array([[1, 2]]), np.ones((1, 1)))
    assert kinds["tiny/embedding/embeddings"] == "IndexedSlices"
    assert kinds["tiny/out/kernel"] != "IndexedSlices"


def test_frozen_tiny_model_has_no_trainable_table():
    model = tiny_model(6, 2, trainable=False)
    assert model.get_layer("embedding").trainable_weights == []
    with pytest.raises(ValueError, match="vocab_size"):
        tiny_model(0, 2)


@pytest.mark.parametrize("jit", [False, True])
def test_step_time_case_runs_a_training_step(jit):
    step = step_time_case(lambda: keras.optimizers.SGD(0.1), dim=4, jit_compile=jit)(50)
    first = float(step())
    for _ in range(3):
        last = float(step())
    assert last < first  # the same batch again: the loss goes down


def test_onehot_autoencoder_reconstructs_and_its_codes_are_kernel_rows():
    keras.utils.set_random_seed(0)
    model = onehot_autoencoder(6, 3)
    eye = np.eye(6, dtype="float32")
    model.fit(eye, eye, epochs=300, batch_size=6, verbose=0)
    assert model.predict(eye, verbose=0).argmax(axis=1).tolist() == list(range(6))
    codes = model.get_layer("encoder")(eye).numpy()
    np.testing.assert_allclose(codes, model.get_layer("encoder").kernel.numpy(), rtol=1e-6)


@pytest.mark.parametrize("read", ["tensor", "variable"])
def test_gather_update_case_runs_an_sgd_step_on_the_gathered_rows(read):
    step = gather_update_case(read, dim=2, rows=3)(10)
    # Each step subtracts 0.01 from every gathered element: the sum drops by 0.01 * 3 * 2.
    first, second = float(step()), float(step())
    assert first - second == pytest.approx(0.06, rel=1e-4)
    with pytest.raises(ValueError, match="read"):
        gather_update_case("dense")


def _work(reads=0, math=0, writes=0, rows=0):
    return {
        "whole-table reads": reads,
        "whole-table math": math,
        "whole-table writes": writes,
        "row writes": rows,
    }


def test_table_work_tells_dense_updates_from_row_updates():
    def work(make):
        return table_work(step_time_case(make, dim=4)(50), (50, 4))

    # One full read of the table in every step: the forward pass's ops.take.
    assert work(lambda: keras.optimizers.SGD(0.1)) == _work(reads=1, rows=1)
    assert work(lambda: LazyAdam(0.01)) == _work(reads=1, rows=3)  # m, v, the table
    adam = work(lambda: keras.optimizers.Adam(0.01))
    assert adam["whole-table writes"] == 3 and adam["row writes"] == 0
    assert adam["whole-table math"] > 0
    adagrad = work(lambda: keras.optimizers.Adagrad(0.1))
    assert adagrad["whole-table writes"] == 0 and adagrad["whole-table math"] > 0


def test_table_work_is_the_same_for_any_size_and_with_xla():
    def work(rows, jit):
        step = step_time_case(lambda: keras.optimizers.Adam(0.01), dim=4, jit_compile=jit)(rows)
        return table_work(step, (rows, 4))

    assert work(50, False) == work(80, False) == work(50, True)


@pytest.mark.parametrize("read, reads", [("tensor", 1), ("variable", 0)])
def test_table_work_sees_the_full_read_before_a_gather(read, reads):
    step = gather_update_case(read, dim=2, rows=3)(10)
    assert table_work(step, (10, 2)) == _work(reads=reads, rows=1)


def test_table_work_traces_a_plain_function_and_ignores_other_shapes():
    import tensorflow as tf

    table = tf.Variable(tf.zeros((5, 3)))
    other = tf.Variable(tf.zeros((4, 3)))

    def step():
        table.assign(table * 2.0)  # one full read, one whole-table product, one full write
        other.assign_add(tf.ones((4, 3)))
        table.scatter_sub(tf.IndexedSlices(tf.ones((1, 3)), tf.constant([0])))

    assert table_work(step, (5, 3)) == _work(reads=1, math=1, writes=1, rows=1)
    assert table_work(step, (4, 3))["whole-table writes"] == 1
