"""LazyAdam: identical to Keras's Adam on dense gradients, lazy on IndexedSlices."""

from __future__ import annotations

import keras
import numpy as np
import pytest
import tensorflow as tf

from embedtut.optimizers import LazyAdam

LR, B1, B2, EPS = 0.05, 0.9, 0.999, 1e-7


def _numpy_adam_rows(w, m, v, g, t):
    """Reference Adam step (Keras's formulation) on the given rows, in float64."""
    m = B1 * m + (1 - B1) * g
    v = B2 * v + (1 - B2) * g**2
    alpha = LR * np.sqrt(1 - B2**t) / (1 - B1**t)
    return w - alpha * m / (np.sqrt(v) + EPS), m, v


def _variable(seed=0, shape=(6, 3)):
    init = np.random.default_rng(seed).normal(size=shape).astype("float32")
    return keras.Variable(init), init


def test_dense_gradients_match_keras_adam():
    rng = np.random.default_rng(1)
    grads = [rng.normal(size=(6, 3)).astype("float32") for _ in range(5)]
    results = []
    for cls in (keras.optimizers.Adam, LazyAdam):
        var, _ = _variable()
        opt = cls(learning_rate=LR)
        for g in grads:
            opt.apply_gradients([(tf.constant(g), var)])
        results.append(var.numpy())
    np.testing.assert_allclose(results[0], results[1], rtol=1e-6, atol=1e-7)


def test_dense_gradients_match_keras_adam_amsgrad():
    rng = np.random.default_rng(2)
    grads = [rng.normal(size=(4, 2)).astype("float32") for _ in range(4)]
    results = []
    for cls in (keras.optimizers.Adam, LazyAdam):
        var, _ = _variable(shape=(4, 2))
        opt = cls(learning_rate=LR, amsgrad=True)
        for g in grads:
            opt.apply_gradients([(tf.constant(g), var)])
        results.append(var.numpy())
    np.testing.assert_allclose(results[0], results[1], rtol=1e-6, atol=1e-7)


def test_sparse_gradients_touch_only_batch_rows_with_adams_math():
    var, w0 = _variable()
    opt = LazyAdam(learning_rate=LR)
    # Step 1 uses rows 1 and 3 (row 3 twice: its gradients must be summed);
    # step 2 uses row 4 only.
    g1 = np.array([[1.0, 2.0, -1.0], [0.5, 0.5, 0.5], [0.25, -1.0, 2.0]], "float32")
    steps = [(g1, [1, 3, 3]), (np.array([[3.0, -2.0, 1.0]], "float32"), [4])]
    w = w0.astype("float64")
    m = np.zeros_like(w)
    v = np.zeros_like(w)
    for t, (values, ids) in enumerate(steps, start=1):
        before = var.numpy().copy()
        grad = tf.IndexedSlices(tf.constant(values), tf.constant(ids), tf.constant([6, 3]))
        opt.apply_gradients([(grad, var)])
        after = var.numpy()
        rows = sorted(set(ids))
        dense = np.zeros_like(w)
        np.add.at(dense, ids, values.astype("float64"))
        w[rows], m[rows], v[rows] = _numpy_adam_rows(w[rows], m[rows], v[rows], dense[rows], t)
        others = [r for r in range(6) if r not in rows]
        np.testing.assert_array_equal(after[others], before[others])
        assert np.all(after[rows] != before[rows])
        np.testing.assert_allclose(after, w, rtol=1e-5, atol=1e-6)
    # The moments of rows that were absent at step 2 were left alone (not decayed).
    # (1 - 0.999 in float32 is 0.00099998713: a relative error of 1.3e-5 in v.)
    np.testing.assert_allclose(opt._momentums[0].numpy(), m, rtol=1e-5, atol=1e-7)
    np.testing.assert_allclose(opt._velocities[0].numpy(), v, rtol=5e-5, atol=1e-9)


def test_keras_adam_moves_earlier_rows_where_lazy_adam_does_not():
    moved_at_step_2 = {}
    for cls in (keras.optimizers.Adam, LazyAdam):
        var, _ = _variable()
        opt = cls(learning_rate=LR)
        for ids in ([1], [2]):
            before = var.numpy().copy()
            grad = tf.IndexedSlices(tf.ones((1, 3)), tf.constant(ids), tf.constant([6, 3]))
            opt.apply_gradients([(grad, var)])
        moved_at_step_2[cls.__name__] = np.flatnonzero(np.any(var.numpy() != before, axis=1))
    # Step 2 uses row 2 only. Row 1 was in step 1 only: Adam moves it again (dense
    # moments), LazyAdam does not; neither touches never-seen rows.
    assert moved_at_step_2["Adam"].tolist() == [1, 2]
    assert moved_at_step_2["LazyAdam"].tolist() == [2]


def test_a_rare_row_moves_less_in_total_under_lazy_adam_but_more_when_it_returns():
    """Exercise 3.2: a row used at steps 1 and 10, gradient 1 both times, lr 0.01."""
    lr, path = 0.01, {}
    for cls in (keras.optimizers.Adam, LazyAdam):
        var = keras.Variable(np.zeros((2, 1), "float32"))
        opt = cls(learning_rate=lr)
        steps = []
        for t in range(1, 11):
            row = 0 if t in (1, 10) else 1  # the other steps use row 1 only
            grad = tf.IndexedSlices(tf.ones((1, 1)), tf.constant([row]), tf.constant([2, 1]))
            before = float(var.numpy()[0, 0])
            opt.apply_gradients([(grad, var)])
            steps.append(abs(float(var.numpy()[0, 0]) - before) / lr)
        path[cls.__name__] = steps
        m = float(opt._momentums[0].numpy()[0, 0])
        expected_m = 0.1 * (1 + 0.9**9) if cls is keras.optimizers.Adam else 0.19
        assert m == pytest.approx(expected_m, rel=1e-5)
    adam, lazy = path["Adam"], path["LazyAdam"]
    assert lazy[1:9] == [0.0] * 8 and all(s > 0.2 for s in adam[1:9])  # Adam coasts
    assert lazy[9] > 1.3 * adam[9]  # the return step: larger under LazyAdam ...
    assert sum(adam) > 2.5 * sum(lazy)  # ... the total movement: far larger under Adam
    assert sum(adam) == pytest.approx(4.475, abs=0.01)
    assert sum(lazy) == pytest.approx(1.651, abs=0.01)


@pytest.mark.parametrize("cls, expected", [(LazyAdam, [5]), (keras.optimizers.Adam, [1, 2, 5])])
def test_fit_moves_only_the_rows_of_the_batch(cls, expected):
    keras.utils.set_random_seed(0)
    model = keras.Sequential(
        [
            keras.Input((2,), dtype="int32"),
            keras.layers.Embedding(10, 4),
            keras.layers.GlobalAveragePooling1D(),
            keras.layers.Dense(1),
        ]
    )
    model.compile(optimizer=cls(0.01), loss="mse")
    model.fit(np.array([[1, 2]], "int32"), np.ones((1, 1)), epochs=2, verbose=0)
    table = model.layers[0].embeddings.numpy().copy()
    # The optimizer keeps its state between fits: this fit's batch uses row 5 only.
    model.fit(np.array([[5, 5]], "int32"), np.ones((1, 1)), epochs=1, verbose=0)
    moved = np.any(model.layers[0].embeddings.numpy() != table, axis=1)
    assert np.flatnonzero(moved).tolist() == expected


def test_serialization_round_trip(tmp_path):
    opt = LazyAdam(learning_rate=0.02, beta_1=0.8, amsgrad=True)
    config = keras.optimizers.serialize(opt)
    again = keras.optimizers.deserialize(config)
    assert type(again) is LazyAdam
    assert again.get_config() == opt.get_config()

    model = keras.Sequential(
        [keras.Input((3,), dtype="int32"), keras.layers.Embedding(7, 2), keras.layers.Flatten()]
    )
    model.compile(optimizer=opt, loss="mse")
    model.fit(np.array([[1, 2, 3]]), np.zeros((1, 6)), verbose=0)
    path = tmp_path / "m.keras"
    model.save(path)
    loaded = keras.saving.load_model(path)
    assert type(loaded.optimizer) is LazyAdam
    assert loaded.optimizer.beta_1 == pytest.approx(0.8)
    np.testing.assert_array_equal(
        loaded.optimizer.variables[1].numpy(), model.optimizer.variables[1].numpy()
    )


def _sparse(values, ids, shape=(6, 3)):
    return tf.IndexedSlices(
        tf.constant(np.asarray(values, "float32")), tf.constant(ids), tf.constant(shape)
    )


@pytest.mark.parametrize(
    "options, sparse",
    [
        ({}, True),
        ({"clipnorm": 1.0}, True),
        ({"clipvalue": 0.5}, True),
        ({"global_clipnorm": 1.0}, False),
        ({"gradient_accumulation_steps": 2}, False),
    ],
)
def test_which_keras_options_turn_a_sparse_gradient_dense_before_update_step(options, sparse):
    """The premise of LazyAdam's refusals: what Keras's base optimizer hands update_step."""
    types = []

    class Probe(keras.optimizers.Adam):
        def update_step(self, gradient, variable, learning_rate):
            types.append(isinstance(gradient, tf.IndexedSlices))
            return super().update_step(gradient, variable, learning_rate)

    var, _ = _variable()
    opt = Probe(learning_rate=LR, **options)
    for _ in range(2):  # with accumulation over 2 steps, the update happens at step 2
        opt.apply_gradients([(_sparse(np.ones((2, 3)), [1, 3]), var)])
    assert types and set(types) == {sparse}


@pytest.mark.parametrize("options", [{"global_clipnorm": 1.0}, {"gradient_accumulation_steps": 2}])
def test_lazy_adam_refuses_options_that_would_make_it_dense(options):
    (option,) = options
    with pytest.raises(ValueError, match=rf"{option}=.*dense.*keras\.optimizers\.Adam"):
        LazyAdam(learning_rate=LR, **options)
    assert getattr(keras.optimizers.Adam(learning_rate=LR, **options), option) == options[option]


@pytest.mark.parametrize("options", [{"clipnorm": 1.0}, {"clipvalue": 0.5}])
def test_clipnorm_and_clipvalue_keep_lazy_adam_lazy(options):
    def clip(values):  # what TensorFlow does to the slices, before ids are summed
        if "clipnorm" in options:
            return values / max(np.sqrt((values**2).sum()), 1.0)
        return np.clip(values, -0.5, 0.5)

    var, w0 = _variable()
    opt = LazyAdam(learning_rate=LR, **options)
    w, m, v = w0.astype("float64"), np.zeros((6, 3)), np.zeros((6, 3))
    steps = [([[3.0, -2.0, 1.0], [0.2, 0.1, -0.3]], [1, 3]), ([[1.0] * 3, [1.0] * 3], [4, 4])]
    for t, (values, ids) in enumerate(steps, start=1):
        before = var.numpy().copy()
        opt.apply_gradients([(_sparse(values, ids), var)])
        g = np.zeros((6, 3))
        np.add.at(g, ids, clip(np.asarray(values)))
        rows = sorted(set(ids))
        w[rows], m[rows], v[rows] = _numpy_adam_rows(w[rows], m[rows], v[rows], g[rows], t)
        moved = np.flatnonzero(np.any(var.numpy() != before, axis=1))
        assert moved.tolist() == rows
        np.testing.assert_allclose(var.numpy(), w, rtol=1e-5, atol=1e-6)
    # Row 4 came twice: each occurrence was clipped, then summed (as for Keras's Adam).
    np.testing.assert_allclose(opt._momentums[0].numpy(), m, rtol=1e-5, atol=1e-7)
    assert m[4, 0] == pytest.approx(0.1 * (1.0 if "clipvalue" in options else 2 / np.sqrt(6)))


def test_keras_adam_private_attributes_that_lazy_adam_uses():
    """LazyAdam.update_step reads these from Keras's Adam: fail here if Keras renames them."""
    table, bias = _variable()[0], keras.Variable(np.zeros(2, "float32"))
    opt = LazyAdam(learning_rate=LR, amsgrad=True)
    opt.build([table, bias])
    for name in ("_momentums", "_velocities", "_velocity_hats"):
        slots = getattr(opt, name)
        assert len(slots) == 2
        for var in (table, bias):
            assert tuple(slots[opt._get_variable_index(var)].shape) == tuple(var.shape)
    assert opt._get_variable_index(table) != opt._get_variable_index(bias)
    for name in ("iterations", "beta_1", "beta_2", "epsilon", "amsgrad"):
        assert hasattr(opt, name)
    # The TensorFlow optimizer's assign/assign_sub scatter an IndexedSlices into its rows.
    slot = opt._momentums[0]
    opt.assign(slot, _sparse(np.ones((1, 3)), [2]))
    opt.assign_sub(slot, _sparse(np.full((1, 3), 0.25), [4]))
    expected = np.zeros((6, 3))
    expected[2], expected[4] = 1.0, -0.25
    np.testing.assert_array_equal(slot.numpy(), expected)


def test_sparse_amsgrad_matches_numpy_lazy_amsgrad():
    b2 = 0.5  # a short memory, so that v falls well below v_hat when gradients shrink
    var, w0 = _variable()
    opt = LazyAdam(learning_rate=LR, beta_2=b2, amsgrad=True)
    # Row 3 comes twice at step 1, then with a tiny gradient at step 2 (its v halves,
    # v_hat keeps the old value), then with row 1 at step 3.
    steps = [
        ([[1.0, 2.0, -1.0], [0.5, 0.5, 0.5], [0.25, -1.0, 2.0]], [1, 3, 3]),
        ([[0.01, -0.01, 0.01]], [3]),
        ([[0.3, 0.3, -0.3], [0.2, -0.1, 0.4]], [3, 1]),
    ]
    w, plain = w0.astype("float64"), w0.astype("float64")  # plain: the same without amsgrad
    m, v, v_hat = np.zeros((6, 3)), np.zeros((6, 3)), np.zeros((6, 3))
    v_hat_before = np.zeros((6, 3))
    for t, (values, ids) in enumerate(steps, start=1):
        before = var.numpy().copy()
        opt.apply_gradients([(_sparse(values, ids), var)])
        g = np.zeros((6, 3))
        np.add.at(g, ids, np.asarray(values))
        r = sorted(set(ids))
        m[r] = B1 * m[r] + (1 - B1) * g[r]
        v[r] = b2 * v[r] + (1 - b2) * g[r] ** 2
        v_hat[r] = np.maximum(v_hat[r], v[r])
        alpha = LR * np.sqrt(1 - b2**t) / (1 - B1**t)
        w[r] -= alpha * m[r] / (np.sqrt(v_hat[r]) + EPS)
        plain[r] -= alpha * m[r] / (np.sqrt(v[r]) + EPS)
        if t == 2:
            assert (v_hat[3] > 1.9 * v[3]).all()  # amsgrad's max is in force for row 3
        others = [i for i in range(6) if i not in r]
        v_hat_now = opt._velocity_hats[0].numpy()
        np.testing.assert_array_equal(var.numpy()[others], before[others])
        np.testing.assert_array_equal(v_hat_now[others], v_hat_before[others])
        np.testing.assert_allclose(var.numpy(), w, rtol=1e-5, atol=1e-6)
        np.testing.assert_allclose(v_hat_now, v_hat, rtol=1e-5, atol=1e-9)
        v_hat_before = v_hat_now.copy()
    assert np.abs(plain[3] - w[3]).min() > 1e-3  # a difference far above the tolerance


def _apply_step(opt, var):
    def step(values, ids):
        opt.apply_gradients([(tf.IndexedSlices(values, ids, tf.constant([6, 3])), var)])

    return step


def test_lazy_adam_under_xla_matches_eager_and_moves_only_batch_rows():
    steps = [([1, 3, 3], 1.0), ([4, 1, 4], -0.5), ([2, 2, 2], 0.25)]
    results = {}
    for mode in ("eager", "xla"):
        var, _ = _variable()
        opt = LazyAdam(learning_rate=LR, amsgrad=True)
        opt.build([var])

        step = _apply_step(opt, var)
        if mode == "xla":
            step = tf.function(step, jit_compile=True)  # compiles with XLA or raises
        for ids, scale in steps:
            before = var.numpy().copy()
            values = scale * tf.reshape(tf.range(9, dtype="float32") - 4.0, (3, 3))
            step(values, tf.constant(ids))
            moved = np.flatnonzero(np.any(var.numpy() != before, axis=1))
            assert moved.tolist() == sorted(set(ids)), mode
        if mode == "xla":
            hlo = step.experimental_get_compiler_ir(values, tf.constant(ids))(stage="hlo")
            assert "scatter" in hlo  # the row writes are in the XLA program
        results[mode] = var.numpy()
    np.testing.assert_allclose(results["xla"], results["eager"], rtol=1e-6, atol=1e-6)
