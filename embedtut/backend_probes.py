"""Experiments the backends chapter runs once per Keras backend, written backend-neutrally.

Every function here is meant to be called through
:func:`embedtut.backends.run_on_backend`, in a process whose Keras runs on the backend
under test: arguments and results are NumPy arrays, numbers, strings, lists and dicts.
The layer code is the same everywhere (``keras.layers.Embedding``, ``keras.ops``); where
a backend has to be driven directly (a gradient, a compiled function) the code branches
on ``keras.backend.backend()``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import keras
import numpy as np

PROBE_OFFSET = 100.0
"""Row ``i`` of a probe table holds ``PROBE_OFFSET + i`` (chapter 2's probe)."""


def echo(**kwargs: Any) -> dict[str, Any]:
    """Return the arguments unchanged, with the backend's name (tests the round trip)."""
    return {"backend": keras.backend.backend(), "keras": keras.__version__, "kwargs": kwargs}


def fail(message: str) -> None:
    """Raise ``ValueError(message)`` (tests how a child's exception is reported)."""
    raise ValueError(message)


def lookup(table: np.ndarray, ids: np.ndarray) -> np.ndarray:
    """``keras.layers.Embedding`` with ``table`` as its weights, called eagerly on ``ids``."""
    layer = keras.layers.Embedding(*table.shape, weights=table)
    return np.asarray(keras.ops.convert_to_numpy(layer(ids)))


def _compiled(fn: Callable) -> Callable:
    """``fn`` compiled with XLA: ``tf.function(jit_compile=True)`` or ``jax.jit``."""
    backend = keras.backend.backend()
    if backend == "tensorflow":
        import tensorflow as tf

        return tf.function(fn, jit_compile=True)
    if backend == "jax":
        import jax

        return jax.jit(fn)
    raise NotImplementedError(f"no compiled mode for the {backend} backend here")


def describe_row(output: np.ndarray) -> str:
    """What a one-id probe output holds: ``"row 3"``, ``"zeros"``, ``"NaN"`` or ``"?"``."""
    value = float(np.asarray(output).reshape(-1)[0])
    if np.isnan(value):
        return "NaN"
    if value == 0.0:
        return "zeros"
    row = value - PROBE_OFFSET
    return f"row {int(row)}" if row == int(row) else f"? ({value})"


def odd_ids(ids: Sequence[float], *, input_dim: int = 5, dtype: str = "int32", mode: str = "eager"):
    """Which row chapter 2's probe layer reads for each id, one id at a time.

    Args:
        ids: the ids to try.
        input_dim: rows of the probe table (row ``i`` holds ``100 + i``).
        dtype: the ids' dtype (``"float32"`` for float ids).
        mode: ``"eager"`` (the layer called directly) or ``"jit"`` (the call compiled with
            XLA: ``tf.function(jit_compile=True)`` on TensorFlow, ``jax.jit`` on JAX).

    Returns:
        One string per id: ``"row r"``, ``"NaN"``, ``"zeros"`` or ``"error: <type>"``.
    """
    if mode not in ("eager", "jit"):
        raise ValueError(f"mode must be 'eager' or 'jit', not {mode!r}")
    table = (PROBE_OFFSET + np.arange(input_dim, dtype="float32")).reshape(input_dim, 1)
    layer = keras.layers.Embedding(input_dim, 1, weights=table)
    call = layer if mode == "eager" else _compiled(lambda x: layer(x))
    outcomes = []
    for value in ids:
        x = np.array([value], dtype=dtype)
        try:
            outcomes.append(describe_row(keras.ops.convert_to_numpy(call(x))))
        except Exception as err:  # the backend's own error type is the finding
            outcomes.append(f"error: {type(err).__name__}")
    return outcomes


def gradient(vocab_size: int, dim: int, ids: np.ndarray, *, seed: int = 0) -> dict[str, Any]:
    """The gradient of ``sum(Embedding(ids))`` with respect to the table, on this backend.

    TensorFlow: ``tf.GradientTape`` on the layer's variable. JAX: ``jax.grad`` of the
    layer's ``stateless_call``. Also records what the optimizer receives inside ``fit``
    (the gradient's type and shape, seen by an SGD's ``update_step``).

    Returns:
        ``type``, ``stored_shape`` (the shape of the numbers it holds), ``stored_bytes``,
        ``dense`` (its values as a ``(vocab_size, dim)`` array), and ``fit_type``,
        ``fit_shape`` (the gradient of the table inside ``fit``).
    """
    keras.utils.set_random_seed(seed)
    layer = keras.layers.Embedding(vocab_size, dim)
    layer.build()
    ids = np.asarray(ids, dtype="int32")
    backend = keras.backend.backend()
    if backend == "tensorflow":
        import tensorflow as tf

        with tf.GradientTape() as tape:
            total = tf.reduce_sum(layer(ids))
        grad = tape.gradient(total, layer.embeddings.value)
        stored = grad.values.numpy() if isinstance(grad, tf.IndexedSlices) else grad.numpy()
        dense = tf.convert_to_tensor(grad).numpy()
    elif backend == "jax":
        import jax
        import jax.numpy as jnp

        def total(table):
            out, _ = layer.stateless_call([table], [], ids)
            return jnp.sum(out)

        grad = jax.grad(total)(layer.embeddings.value)
        stored = dense = np.asarray(grad)
    else:
        raise NotImplementedError(f"gradient() is not written for the {backend} backend")
    fit_type, fit_shape = _gradient_in_fit(vocab_size, dim, ids)
    return {
        "type": type(grad).__name__,
        "stored_shape": list(stored.shape),
        "stored_bytes": int(stored.nbytes),
        "dense": dense,
        "fit_type": fit_type,
        "fit_shape": fit_shape,
    }


def _gradient_in_fit(vocab_size: int, dim: int, ids: np.ndarray) -> tuple[str, list[int]]:
    seen: dict[str, Any] = {}

    class Recorder(keras.optimizers.SGD):
        def update_step(self, gradient, variable, learning_rate):
            if len(variable.shape) == 2 and variable.shape[0] == vocab_size:
                seen["type"] = type(gradient).__name__
                held = getattr(gradient, "values", gradient)  # IndexedSlices hold values
                seen["shape"] = [int(s) for s in held.shape]
            return super().update_step(gradient, variable, learning_rate)

    model = pooled_model(vocab_size, dim, sequence_length=ids.shape[-1])
    model.compile(optimizer=Recorder(0.1), loss="binary_crossentropy")
    x = ids.reshape(1, -1) if ids.ndim == 1 else ids
    model.fit(x, np.ones((len(x), 1), "float32"), epochs=1, batch_size=len(x), verbose=0)
    return seen["type"], seen["shape"]


def pooled_model(vocab_size: int, dim: int = 32, *, sequence_length: int = 16) -> keras.Model:
    """ids -> ``Embedding`` -> average -> ``Dense(1, sigmoid)``: the step-cost model.

    The head (pooling and ``Dense``) is a nested ``Sequential`` named ``"head"``, so a
    custom step can run it on looked-up rows (:func:`remedy_costs`). Not compiled.
    """
    embedding = keras.layers.Embedding(vocab_size, dim, name="embedding")
    head = keras.Sequential(
        [keras.layers.GlobalAveragePooling1D(), keras.layers.Dense(1, activation="sigmoid")],
        name="head",
    )
    ids = keras.Input((sequence_length,), dtype="int32")
    return keras.Model(ids, head(embedding(ids)), name="pooled")


def _step_data(vocab_size: int, batch_size: int, sequence_length: int, seed: int):
    rng = np.random.default_rng(seed)
    x = rng.integers(1, min(1000, vocab_size), (batch_size, sequence_length)).astype("int32")
    return x, np.ones((batch_size, 1), "float32")


def _proc_status(field: str) -> int | None:
    try:
        for line in open("/proc/self/status", encoding="ascii"):
            if line.startswith(field + ":"):
                return int(line.split()[1]) * 1024
    except OSError:
        return None
    return None


def peak_rss_increase(fn: Callable[[], Any], *, calls: int = 3) -> int | None:
    """Peak resident memory of the process during ``calls`` calls of ``fn``, above before.

    Backend-neutral (it counts every allocation, whoever makes it): resets the kernel's
    high-water mark (``/proc/self/clear_refs``, Linux 4.0+), runs ``fn``, reads
    ``VmHWM``. Blocks of this size are returned to the system when freed, so the number
    is the step's transient memory (gradients, copies) rather than a cache.

    Returns:
        Bytes, or ``None`` where ``/proc`` does not offer this (not Linux).
    """
    try:
        with open("/proc/self/clear_refs", "w", encoding="ascii") as f:
            f.write("5")
    except OSError:
        return None
    before = _proc_status("VmRSS")
    for _ in range(calls):
        _block(fn())
    peak = _proc_status("VmHWM")
    if before is None or peak is None:
        return None
    return max(0, peak - before)


def step_memory(fn: Callable[[], Any]) -> int | None:
    """Peak bytes allocated during three calls of ``fn``, above what was held before.

    On TensorFlow this is :func:`embedtut.bench.peak_memory` (TensorFlow's allocator
    statistics: start the process with ``TF_CPU_ALLOCATOR_USE_BFC=true``), because
    TensorFlow keeps freed buffers and the process's resident memory hides a step's
    transient copies; elsewhere :func:`peak_rss_increase` (JAX returns freed buffers).
    """
    if keras.backend.backend() == "tensorflow":
        from embedtut.bench import peak_memory

        return peak_memory(lambda: [fn() for _ in range(3)])
    return peak_rss_increase(fn)


def _block(result: Any) -> None:
    for item in result if isinstance(result, (list, tuple)) else [result]:
        if hasattr(item, "block_until_ready"):
            item.block_until_ready()
        elif hasattr(item, "numpy"):
            item.numpy()


def step_costs(
    vocab_sizes: Sequence[int],
    *,
    dim: int = 32,
    batch_size: int = 32,
    sequence_length: int = 16,
    rounds: int = 9,
    seed: int = 0,
    timing: bool = True,
    memory: bool = True,
) -> dict[str, Any]:
    """Time and memory of one ``train_on_batch`` SGD step of :func:`pooled_model` against V.

    The batch is fixed (ids below 1,000), so the work a step needs does not grow with V;
    Keras's own step (``model.compile`` defaults of this backend) is what is measured.
    Times come from :func:`embedtut.bench.compare`, all sizes interleaved in this process.
    On TensorFlow, measure memory in a process of its own (``timing=False``, with
    ``TF_CPU_ALLOCATOR_USE_BFC=true``) and time in another (``memory=False``): the
    counting allocator changes the times.

    Returns:
        ``vocab_sizes``, ``jit_compile`` (whether Keras compiled the step with XLA);
        with ``timing``: ``robust_s`` and ``median_s`` per size and ``growth`` (the
        largest size's time over the smallest's: ``estimate``, ``low``, ``high``); with
        ``memory``: ``peak_bytes`` (:func:`step_memory` of three steps, per size).
    """
    from embedtut.bench import compare

    steps, jit = {}, None
    x, y = _step_data(min(vocab_sizes), batch_size, sequence_length, seed)
    for vocab_size in vocab_sizes:
        keras.utils.set_random_seed(seed)
        model = pooled_model(vocab_size, dim, sequence_length=sequence_length)
        model.compile(optimizer=keras.optimizers.SGD(0.1), loss="binary_crossentropy")
        model.train_on_batch(x, y)
        jit = bool(model.jit_compile)
        steps[vocab_size] = lambda model=model: model.train_on_batch(x, y)
    out: dict[str, Any] = {"vocab_sizes": list(vocab_sizes), "jit_compile": jit}
    if memory:
        out["peak_bytes"] = [step_memory(steps[v]) for v in vocab_sizes]
    if timing:
        times = compare(steps, rounds=rounds, warmup=1)
        growth = times.ratio(max(vocab_sizes), min(vocab_sizes))
        out["robust_s"] = [times.seconds(v) for v in vocab_sizes]
        out["median_s"] = [times.timings[v].median for v in vocab_sizes]
        out["growth"] = {"estimate": growth.estimate, "low": growth.low, "high": growth.high}
    return out


def remedy_costs(
    vocab_size: int = 1_000_000,
    *,
    dim: int = 32,
    batch_size: int = 32,
    sequence_length: int = 16,
    learning_rate: float = 0.1,
    rounds: int = 9,
    seed: int = 0,
) -> dict[str, Any]:
    """JAX only: Keras's SGD step against a step that updates only the looked-up rows.

    The remedy differentiates the loss with respect to the *gathered rows* (a
    ``(batch, length, dim)`` array) instead of the table, and adds ``-lr * grad`` to
    those rows in place with ``table.at[ids].add`` inside a ``jax.jit`` that donates the
    table: no ``V x dim`` gradient is ever built. Both steps start from the same weights;
    after one step each, their tables are compared.

    Returns:
        ``robust_s``, ``median_s`` and ``peak_bytes`` per step (``"keras"``,
        ``"rows_only"``), ``ratio`` (keras / rows_only: ``estimate``, ``low``, ``high``),
        ``max_table_difference`` after one step of each from the same start,
        ``rows_changed`` (by each), ``same_rows`` (the same rows changed),
        ``distinct_ids`` (in the batch), ``rows_only_temp_bytes`` (the scratch memory XLA
        plans for the compiled rows-only step, from its ``memory_analysis()``; ``None``
        where unavailable) and ``table_bytes``.
    """
    if keras.backend.backend() != "jax":
        raise NotImplementedError("remedy_costs is a JAX remedy: run it with KERAS_BACKEND=jax")
    import jax
    import jax.numpy as jnp

    from embedtut.bench import compare

    keras.utils.set_random_seed(seed)
    model = pooled_model(vocab_size, dim, sequence_length=sequence_length)
    model.compile(optimizer=keras.optimizers.SGD(learning_rate), loss="binary_crossentropy")
    head = model.get_layer("head")
    x, y = _step_data(vocab_size, batch_size, sequence_length, seed)
    bce = keras.losses.BinaryCrossentropy()

    def rows_only_step(table, head_weights, ids, target):
        def loss_of(rows, weights):
            prediction, _ = head.stateless_call(weights, [], rows)
            return bce(target, prediction)

        rows = jnp.take(table, ids, axis=0)
        loss, (row_grads, head_grads) = jax.value_and_grad(loss_of, argnums=(0, 1))(
            rows, head_weights
        )
        table = table.at[ids].add(-learning_rate * row_grads)
        head_weights = [
            w - learning_rate * g for w, g in zip(head_weights, head_grads, strict=True)
        ]
        return table, head_weights, loss

    step = jax.jit(rows_only_step, donate_argnums=(0, 1))
    start = [np.asarray(v.value) for v in model.trainable_variables]  # table first
    state = {"table": jnp.asarray(start[0]), "head": [jnp.asarray(w) for w in start[1:]]}

    def remedy():
        state["table"], state["head"], loss = step(state["table"], state["head"], x, y)
        return float(loss)  # waits for the step: JAX dispatches asynchronously

    # one step of each from the same start
    model.train_on_batch(x, y)
    remedy()
    keras_table = np.asarray(model.get_layer("embedding").embeddings.value)
    remedy_table = np.asarray(state["table"])
    changed_keras = np.flatnonzero((keras_table != start[0]).any(axis=1))
    changed_remedy = np.flatnonzero((remedy_table != start[0]).any(axis=1))
    difference = float(np.abs(keras_table - remedy_table).max())
    del keras_table, remedy_table, start

    compiled = step.lower(state["table"], state["head"], x, y).compile()
    scratch = compiled.memory_analysis()
    temp_bytes = int(scratch.temp_size_in_bytes) if scratch is not None else None
    steps = {"keras": lambda: model.train_on_batch(x, y), "rows_only": remedy}
    peak = {name: step_memory(fn) for name, fn in steps.items()}
    timing = compare(steps, rounds=rounds, warmup=1)
    ratio = timing.ratio("keras", "rows_only")
    return {
        "robust_s": {name: timing.seconds(name) for name in steps},
        "median_s": {name: timing.timings[name].median for name in steps},
        "peak_bytes": peak,
        "ratio": {"estimate": ratio.estimate, "low": ratio.low, "high": ratio.high},
        "max_table_difference": difference,
        "rows_changed": {"keras": len(changed_keras), "rows_only": len(changed_remedy)},
        "same_rows": bool(np.array_equal(changed_keras, changed_remedy)),
        "distinct_ids": len(np.unique(x)),
        "rows_only_temp_bytes": temp_bytes,
        "table_bytes": int(vocab_size * dim * 4),
    }


def rows_moved(
    batches: Sequence[Sequence[int]], *, optimizers: Sequence[str] = ("sgd", "adam")
) -> dict[str, np.ndarray]:
    """Chapter 3's :func:`embedtut.training.track_rows` for each optimizer named.

    ``"sgd"`` is SGD with learning rate 0.1, ``"adam"`` Adam with 0.01, as in chapter 3.

    Returns:
        Optimizer name -> the ``(rows, steps)`` array of largest changes.
    """
    from embedtut.training import track_rows

    makers = {"sgd": lambda: keras.optimizers.SGD(0.1), "adam": lambda: keras.optimizers.Adam(0.01)}
    unknown = [name for name in optimizers if name not in makers]
    if unknown:
        raise ValueError(f"optimizers must be among {sorted(makers)}, not {unknown}")
    return {name: track_rows(makers[name](), [list(b) for b in batches]) for name in optimizers}


def forward_probes(
    table: np.ndarray, ids: np.ndarray, odd: Sequence[int], floats: Sequence[float]
) -> dict[str, Any]:
    """The forward half of the chapter in one process: a lookup and the odd-id probes.

    Returns:
        ``lookup`` (:func:`lookup` of ``table`` and ``ids``), and :func:`odd_ids` for the
        integer ids ``odd`` and the float32 ids ``floats``, eagerly and compiled:
        ``eager``, ``jit``, ``eager_float``, ``jit_float`` (the compiled ones ``None`` on
        a backend other than TensorFlow and JAX).
    """
    compiled = keras.backend.backend() in ("tensorflow", "jax")
    return {
        "lookup": lookup(table, ids),
        "eager": odd_ids(odd, mode="eager"),
        "jit": odd_ids(odd, mode="jit") if compiled else None,
        "eager_float": odd_ids(floats, dtype="float32", mode="eager"),
        "jit_float": odd_ids(floats, dtype="float32", mode="jit") if compiled else None,
    }


def _initial_weights(model: keras.Model, seed: int) -> list[np.ndarray]:
    """Weights drawn with NumPy from ``seed``: the same on every backend."""
    rng = np.random.default_rng(seed)
    weights = []
    for w in model.get_weights():
        if w.ndim == 2:
            limit = 0.05 if w.shape[1] != 1 else np.sqrt(6 / sum(w.shape))
            weights.append(rng.uniform(-limit, limit, w.shape).astype(w.dtype))
        else:
            weights.append(np.zeros_like(w))
    return weights


def train_pooled(
    *,
    seeds: Sequence[int] = (0, 1, 2),
    num_words: int = 5000,
    maxlen: int = 100,
    train_reviews: int = 4000,
    validation_reviews: int = 2000,
    epochs: int = 2,
    batch_size: int = 32,
    optimizer: str = "adam",
) -> dict[str, Any]:
    """Chapter 5's pooled classifier on a slice of IMDB, from the same weights everywhere.

    Splits the training reviews by movie (:func:`embedtut.splits.grouped_split`, seed 0),
    trains :func:`embedtut.classifiers.pooled_classifier` on the first
    ``train_reviews`` of the training side and scores the first ``validation_reviews``
    of the validation side. Each seed draws the initial weights with NumPy
    (:func:`_initial_weights`, so they are identical on every backend) and the shuffle
    order. The test set is not touched.

    Args:
        optimizer: ``"adam"`` (the classifier's own, learning rate 0.01) or ``"sgd"``
            (learning rate 0.5).

    Returns:
        ``accuracy`` per seed, ``initial_sum`` (a checksum of each seed's start),
        ``moved`` (seed 0: which rows of the table changed, a bool array) and ``used``
        (which ids other than the padding id 0 occur in the training reviews).
    """
    from embedtut.classifiers import pooled_classifier
    from embedtut.data import movie_ids
    from embedtut.sequences import load_imdb
    from embedtut.splits import grouped_split

    (x, labels), _ = load_imdb(num_words=num_words, maxlen=maxlen)
    fit_rows, val_rows = grouped_split(movie_ids("train"), labels, validation_fraction=0.2, seed=0)
    fit_rows, val_rows = fit_rows[:train_reviews], val_rows[:validation_reviews]
    x_fit, y_fit = x[fit_rows], labels[fit_rows].astype("float32")
    x_val, y_val = x[val_rows], labels[val_rows].astype("float32")
    accuracy, initial_sum, moved = [], [], None
    for seed in seeds:
        keras.utils.set_random_seed(seed)
        model = pooled_classifier(num_words, 16, sequence_length=maxlen)
        if optimizer == "sgd":
            model.compile(keras.optimizers.SGD(0.5), "binary_crossentropy", metrics=["accuracy"])
        elif optimizer != "adam":
            raise ValueError(f"optimizer must be 'adam' or 'sgd', not {optimizer!r}")
        start = _initial_weights(model, seed)
        model.set_weights(start)
        initial_sum.append(float(sum(float(w.astype("float64").sum()) for w in start)))
        order = np.random.default_rng(seed).permutation(len(x_fit))
        model.fit(
            x_fit[order],
            y_fit[order],
            epochs=epochs,
            batch_size=batch_size,
            shuffle=False,
            verbose=0,
        )
        accuracy.append(float(model.evaluate(x_val, y_val, verbose=0)[1]))
        if moved is None:
            table = model.get_layer("embedding").get_weights()[0]
            moved = (table != start[0]).any(axis=1)
    used = np.zeros(num_words, bool)
    used[np.unique(x_fit)] = True
    used[0] = False  # padding: masked, so its gradient is zero
    return {"accuracy": accuracy, "initial_sum": initial_sum, "moved": moved, "used": used}


__all__ = [
    "PROBE_OFFSET",
    "describe_row",
    "echo",
    "forward_probes",
    "fail",
    "gradient",
    "lookup",
    "odd_ids",
    "peak_rss_increase",
    "pooled_model",
    "remedy_costs",
    "rows_moved",
    "step_costs",
    "train_pooled",
]
