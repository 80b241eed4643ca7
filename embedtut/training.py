"""Training an embedding table: which rows each optimizer moves, and what a step costs.

* :func:`track_rows` trains a tiny model on batches whose ids you choose and records,
  after every step, how far each row of the table moved.
* :func:`movement_verdict` reads that record: only the batch's rows moved, or also the
  rows seen in earlier batches, or every row.
* :func:`gradient_kinds` reports the Python type of the gradient each variable hands the
  optimizer inside ``model.fit`` (``IndexedSlices`` or a dense ``Tensor``).
* :func:`step_time_case` builds a case for :func:`embedtut.bench.sweep`: one training step
  of a model whose table has ``V`` rows.
* :func:`gather_update_case` isolates, in plain TensorFlow, a lookup plus a sparse update.
* :func:`table_work` counts, without a clock, what a traced step does with whole
  ``V × d`` tensors (reads, arithmetic, writes) and how many row scatters it runs.
* :func:`onehot_autoencoder` is the tiny autoencoder the book contrasts with the layer.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence

import keras
import numpy as np


def tiny_model(
    vocab_size: int,
    dim: int,
    *,
    sequence_length: int = 2,
    embeddings_initializer="uniform",
    trainable: bool = True,
    name: str = "tiny",
    layer: Callable[..., keras.layers.Layer] = keras.layers.Embedding,
    layer_kwargs: Mapping[str, object] | None = None,
) -> keras.Model:
    """Ids -> ``Embedding`` (named ``"embedding"``) -> mean over steps -> ``Dense(1)``.

    ``layer`` is the embedding layer's class (anything that takes ``Embedding``'s
    arguments, e.g. :class:`embedtut.layers.GatherEmbedding`); ``layer_kwargs`` are more
    arguments for it (e.g. ``embeddings_regularizer`` or ``embeddings_constraint``).
    """
    for label, value in (("vocab_size", vocab_size), ("dim", dim)):
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise ValueError(f"{label} must be a positive integer, not {value!r}")
    return keras.Sequential(
        [
            keras.Input((sequence_length,), dtype="int32"),
            layer(
                vocab_size,
                dim,
                embeddings_initializer=embeddings_initializer,
                trainable=trainable,
                name="embedding",
                **dict(layer_kwargs or {}),
            ),
            keras.layers.GlobalAveragePooling1D(name="mean"),
            keras.layers.Dense(1, name="out"),
        ],
        name=name,
    )


def _check_batches(batches: Sequence[Sequence[int]], vocab_size: int) -> list[np.ndarray]:
    if not len(batches):
        raise ValueError("batches must hold at least one batch of ids")
    out = []
    for i, ids in enumerate(batches):
        arr = np.asarray(ids)
        if arr.ndim != 1 or not arr.size or not np.issubdtype(arr.dtype, np.integer):
            raise ValueError(f"batch {i} must be a non-empty list of integer ids, got {ids!r}")
        if arr.min() < 0 or arr.max() >= vocab_size:
            raise ValueError(f"batch {i} has an id outside [0, {vocab_size}): {ids!r}")
        out.append(arr.astype("int32"))
    if len({len(b) for b in out}) != 1:
        raise ValueError("every batch must have the same number of ids (one sequence each)")
    return out


def track_rows(
    optimizer: keras.optimizers.Optimizer,
    batches: Sequence[Sequence[int]],
    *,
    vocab_size: int = 8,
    dim: int = 4,
    seed: int = 0,
    layer_kwargs: Mapping[str, object] | None = None,
) -> np.ndarray:
    """Train :func:`tiny_model` one batch at a time and record how each row moved.

    Each batch is one sequence of ids (e.g. ``[1, 2]``: that step uses rows 1 and 2),
    with target 1 and squared error. The model and its table are initialised from
    ``seed``, so every optimizer starts from the same weights. ``layer_kwargs`` go to the
    ``Embedding`` layer (see :func:`tiny_model`): a regularizer adds its dense gradient to
    the sparse one, a constraint rewrites the table after every step.

    Returns:
        ``(vocab_size, steps)`` array: entry ``[r, s]`` is the largest absolute change
        of an element of row ``r`` during step ``s`` (exactly 0.0 when the row did not
        move at all).
    """
    batches = _check_batches(batches, vocab_size)
    keras.utils.set_random_seed(seed)
    model = tiny_model(vocab_size, dim, sequence_length=len(batches[0]), layer_kwargs=layer_kwargs)
    model.compile(optimizer=optimizer, loss="mse")
    table = model.get_layer("embedding").embeddings
    moved = np.zeros((vocab_size, len(batches)))
    for step, ids in enumerate(batches):
        before = table.numpy().copy()
        model.train_on_batch(ids[None, :], np.ones((1, 1), "float32"))
        moved[:, step] = np.abs(table.numpy() - before).max(axis=1)
    return moved


ONLY_BATCH = "only the batch's rows"
BATCH_AND_SEEN = "the batch's rows and rows seen before"
EVERY_ROW = "every row"
NONE_OF_THESE = "none of these"


def movement_verdict(moved: np.ndarray, batches: Sequence[Sequence[int]]) -> str:
    """Classify a :func:`track_rows` record by which rows moved at every step.

    Returns one of the module constants :data:`ONLY_BATCH`, :data:`BATCH_AND_SEEN`,
    :data:`EVERY_ROW` or :data:`NONE_OF_THESE` (their values are readable phrases, such
    as ``"only the batch's rows"``). Never-seen rows are the rows in no batch so far.
    """
    moved = np.asarray(moved)
    if moved.ndim != 2 or moved.shape[1] != len(batches):
        raise ValueError(f"moved must be (rows, {len(batches)} steps), got {moved.shape}")
    rows = set(range(moved.shape[0]))
    seen: set[int] = set()
    fits = {ONLY_BATCH: True, BATCH_AND_SEEN: True, EVERY_ROW: True}
    for step, ids in enumerate(batches):
        batch = {int(i) for i in ids}
        actual = {int(r) for r in np.flatnonzero(moved[:, step] != 0)}
        fits[ONLY_BATCH] &= actual == batch
        fits[BATCH_AND_SEEN] &= actual == batch | seen
        fits[EVERY_ROW] &= actual == rows
        seen |= batch
    # With one batch, "only the batch" and "seen before" coincide: report the narrower.
    for verdict, ok in fits.items():
        if ok:
            return verdict
    return NONE_OF_THESE


def gradient_kinds(model: keras.Model, x, y, *, loss: str = "mse") -> dict[str, str]:
    """The type of gradient each trainable variable reaches the optimizer with in ``fit``.

    Compiles ``model`` with an SGD that notes ``type(gradient).__name__`` in its
    ``update_step`` (which runs, inside ``fit``, while the train step is traced) and fits
    one batch.

    Side effects: this *recompiles and trains* the model you pass (one SGD step with
    learning rate 0.01 on ``x, y``), replacing its optimizer and loss. Pass a fresh or
    cloned model (``keras.models.clone_model``) if you need the original untouched.

    Returns:
        Variable path (e.g. ``"tiny/embedding/embeddings"``) -> type name, such as
        ``"IndexedSlices"`` or ``"SymbolicTensor"``/``"EagerTensor"`` (dense).
    """
    names: dict[str, str] = {}
    paths = {id(v.value): v.path for v in model.trainable_variables}

    class _Recorder(keras.optimizers.SGD):
        def update_step(self, gradient, variable, learning_rate):
            names[paths.get(id(variable), variable.name)] = type(gradient).__name__
            return super().update_step(gradient, variable, learning_rate)

    model.compile(optimizer=_Recorder(0.01, name="gradient_recorder"), loss=loss)
    model.fit(x, y, epochs=1, batch_size=len(y), verbose=0)
    return names


def step_time_case(
    optimizer_factory: Callable[[], keras.optimizers.Optimizer],
    *,
    dim: int = 32,
    batch_size: int = 32,
    sequence_length: int = 16,
    seed: int = 0,
    jit_compile: bool = False,
    layer: Callable[..., keras.layers.Layer] = keras.layers.Embedding,
) -> Callable[[int], Callable[[], object]]:
    """A :func:`embedtut.bench.sweep` case: vocabulary size ``V`` -> one training step to time.

    The factory builds :func:`tiny_model` with ``V`` rows and a fresh optimizer, and
    returns a callable that runs one training step (forward, gradient, ``apply_gradients``,
    squared error against 1) on a fixed batch of ``batch_size`` sequences of ids drawn from
    ``[1, 1000)``: the work a step *needs* does not grow with ``V``. ``layer`` is the
    embedding layer's class, as in :func:`tiny_model`.

    The step is a ``tf.function`` (TensorFlow backend), compiled with XLA when
    ``jit_compile`` is true. It is built here rather than by ``model.compile`` because
    Keras refuses XLA (it warns and falls back) while TensorFlow op determinism is on,
    as it is after :func:`embedtut.seed_everything`. The factory traces the step, runs it
    once and returns the ``tf.function`` itself, so :func:`table_work` can read its graph.
    (Tracing before the first call keeps TensorFlow from warning about retracing when
    :func:`embedtut.bench.sweep` sets many points up in a row.)
    """
    import tensorflow as tf

    def factory(vocab_size: int):
        keras.utils.set_random_seed(seed)
        model = tiny_model(vocab_size, dim, sequence_length=sequence_length, layer=layer)
        optimizer = optimizer_factory()
        optimizer.build(model.trainable_variables)
        rng = np.random.default_rng(seed)
        x = rng.integers(1, min(1000, vocab_size), (batch_size, sequence_length)).astype("int32")
        x = tf.constant(x)
        y = tf.ones((batch_size, 1))

        @tf.function(jit_compile=jit_compile)
        def step():
            with tf.GradientTape() as tape:
                loss = tf.reduce_mean(tf.square(model(x, training=True) - y))
            grads = tape.gradient(loss, model.trainable_variables)
            optimizer.apply_gradients(zip(grads, model.trainable_variables, strict=True))
            return loss

        step.get_concrete_function()  # trace here, so that no call of it counts as retracing
        step()
        return step

    return factory


def gather_update_case(
    read: str, *, dim: int = 32, rows: int = 512
) -> Callable[[int], Callable[[], object]]:
    """A :func:`embedtut.bench.sweep` case: ``V`` -> a lookup plus a sparse update, in plain TF.

    The factory returns one ``tf.function`` (no XLA, traced and run once): gather ``rows``
    rows of a ``(V, dim)`` ``tf.Variable``, take the gradient of their sum (an
    ``IndexedSlices``), and ``scatter_sub`` it into the variable: the work of an embedding
    lookup plus an SGD step, nothing else.

    Args:
        read: ``"tensor"`` reads the whole variable as a tensor first and gathers from that
            (what ``keras.ops.take`` does with the TensorFlow backend, through
            ``convert_to_tensor``); ``"variable"`` gathers from the variable itself
            (TensorFlow's ``ResourceGather``).
    """
    if read not in ("tensor", "variable"):
        raise ValueError(f"read must be 'tensor' or 'variable', not {read!r}")
    import tensorflow as tf

    def factory(vocab_size: int):
        table = tf.Variable(tf.random.stateless_uniform((vocab_size, dim), seed=(0, 0)))
        ids = tf.range(1, rows + 1) % vocab_size

        @tf.function(jit_compile=False)
        def step():
            with tf.GradientTape() as tape:
                source = tf.convert_to_tensor(table) if read == "tensor" else table
                tape.watch(source)
                total = tf.reduce_sum(tf.gather(source, ids))
            grad = tape.gradient(total, source)
            table.scatter_sub(tf.IndexedSlices(grad.values * 0.01, grad.indices))
            return total

        step.get_concrete_function()  # trace here, so that no call of it counts as retracing
        step()
        return step

    return factory


_WHOLE_WRITES = ("AssignVariableOp", "AssignAddVariableOp", "AssignSubVariableOp")
_PASS_THROUGH = ("Identity", "IdentityN")


def table_work(fn, shape: Sequence[int]) -> dict[str, int]:
    """What one traced step does with whole tables of ``shape``: structure, no clock.

    Traces ``fn`` (a zero-argument ``tf.function`` such as the steps :func:`step_time_case`
    and :func:`gather_update_case` return; a plain function is wrapped in one) and counts,
    in its graph:

    * ``"whole-table reads"``: ``ReadVariableOp`` ops reading a variable of ``shape`` in
      full for another op to use (as ``ops.take`` does before it gathers);
    * ``"whole-table math"``: other ops with an output of ``shape`` that another op uses
      (a gradient made dense, a moment updated for every row), ``Identity`` ops aside;
    * ``"whole-table writes"``: ``Assign*VariableOp`` ops whose new value has ``shape``;
    * ``"row writes"``: ``ResourceScatter*`` ops writing rows ``shape[1:]`` wide.

    An optimizer's slots (moments, accumulators) have the table's shape, so their reads
    and writes count too. The graph, and so the count, is the same on every device and
    with or without XLA (which compiles this graph, it does not change it).
    """

    from embedtut.lookup import concrete_function

    shape = tuple(int(n) for n in shape)
    graph = concrete_function(fn).graph

    def dims(tensor) -> tuple:
        return tuple(tensor.shape.as_list()) if tensor.shape.rank is not None else ()

    def whole(op) -> bool:  # an output of the table's shape that some op uses
        return any(dims(out) == shape and out.consumers() for out in op.outputs)

    counts = dict.fromkeys(
        ("whole-table reads", "whole-table math", "whole-table writes", "row writes"), 0
    )
    for op in graph.get_operations():
        if op.type in _WHOLE_WRITES:
            counts["whole-table writes"] += dims(op.inputs[1]) == shape
        elif op.type.startswith("ResourceScatter"):
            counts["row writes"] += dims(op.inputs[2])[1:] == shape[1:]
        elif op.type == "ReadVariableOp":
            counts["whole-table reads"] += whole(op)
        elif op.type not in _PASS_THROUGH:
            counts["whole-table math"] += whole(op)
    return counts


def onehot_autoencoder(vocab_size: int, code_dim: int, *, learning_rate: float = 0.05):
    """A tiny autoencoder over one-hot tokens: ``one_hot -> Dense(code) -> softmax(V)``.

    The encoder has no bias, so the code of token ``i`` is row ``i`` of its kernel. It is
    compiled to *reconstruct its input*: categorical cross-entropy between the softmax
    and the same one-hot vector, with Adam.
    """
    for label, value in (("vocab_size", vocab_size), ("code_dim", code_dim)):
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise ValueError(f"{label} must be a positive integer, not {value!r}")
    model = keras.Sequential(
        [
            keras.Input((vocab_size,)),
            keras.layers.Dense(code_dim, use_bias=False, name="encoder"),
            keras.layers.Dense(vocab_size, activation="softmax", name="decoder"),
        ],
        name="onehot_autoencoder",
    )
    model.compile(
        optimizer=keras.optimizers.Adam(learning_rate),
        loss="categorical_crossentropy",
        metrics=["accuracy"],
    )
    return model
