"""Lookup versus one-hot × dense: the same numbers computed two ways.

An embedding layer with table ``W`` (``input_dim × output_dim``) maps id ``i`` to row
``W[i]``. A dense layer without bias whose kernel is ``W`` maps the one-hot vector of ``i``
to ``one_hot(i) @ W``, which is the same row. This module gives the pieces chapter 1 uses
to check that claim and to measure what each way costs:

* NumPy references: :func:`one_hot`, :func:`lookup`, :func:`one_hot_matmul`, and
  :func:`sparse_one_hot` for a one-hot matrix that stores only its ones;
* an emulation of the reduced-precision matmul inputs of GPUs: :func:`round_to_tf32`;
* a matched pair of Keras layers holding the same matrix: :func:`matched_pair`;
* gradients with respect to the table, for either layer: :func:`table_gradient`,
  :func:`densify`, and the rounding bound for comparing them: :func:`summation_error_bound`;
* the graph TensorFlow actually runs: :func:`concrete_function`, :func:`graph_op_types`,
  :func:`gather_sources`;
* the cost model and a step to time: :func:`cost_model`, :func:`step`.

Every function that takes ids validates them with :func:`embedtut.ids.check_ids`, so an
id out of range, negative, or a float raises a ``ValueError`` that names it.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from typing import Any

import numpy as np

from embedtut.ids import check_ids

PATHS = ("lookup", "one_hot")
"""The two ways of computing an embedding that :func:`step` can time."""


def _table(table) -> np.ndarray:
    if hasattr(table, "numpy"):
        table = table.numpy()
    arr = np.asarray(table)
    if arr.ndim != 2 or arr.shape[0] < 1:
        raise ValueError(
            f"table must be a 2-D array of shape (input_dim, output_dim), got shape {arr.shape}"
        )
    return arr


def one_hot(ids, num_classes: int, *, dtype: Any = np.float32) -> np.ndarray:
    """The one-hot encoding of ``ids``: shape ``ids.shape + (num_classes,)``.

    Built as ``np.eye(num_classes)[ids]``, so it materialises every zero, as a one-hot
    input to a dense layer must.
    """
    ids = check_ids(ids, num_classes)
    return np.eye(num_classes, dtype=dtype)[ids]


def sparse_one_hot(ids, num_classes: int):
    """The one-hot encoding of 1-D ``ids`` as a ``tf.SparseTensor`` of shape
    ``(len(ids), num_classes)``, float32, storing only the ones.

    ``keras.ops.matmul`` (and so ``Dense``) computes the product of such a tensor with a
    matrix by ``tf.nn.embedding_lookup_sparse``: a gather, not a matrix multiplication.
    """
    import tensorflow as tf

    ids = check_ids(ids, num_classes)
    if ids.ndim != 1:
        raise ValueError(f"ids must be 1-D for a sparse one-hot matrix, got shape {ids.shape}")
    indices = np.stack([np.arange(ids.size), ids], axis=1)
    return tf.SparseTensor(indices, tf.ones(ids.size), dense_shape=(ids.size, num_classes))


def lookup(table, ids) -> np.ndarray:
    """``table[ids]``: the rows an embedding layer returns, shape ``ids.shape + (d,)``."""
    table = _table(table)
    return table[check_ids(ids, table.shape[0])]


def one_hot_matmul(table, ids) -> np.ndarray:
    """``one_hot(ids) @ table``: what a bias-free dense layer computes on one-hot input."""
    table = _table(table)
    return one_hot(ids, table.shape[0], dtype=table.dtype) @ table


TF32_MANTISSA_BITS = 10
"""Explicit mantissa bits of TensorFloat-32 (float32 has 23)."""


def round_to_tf32(values) -> np.ndarray:
    """float32 ``values`` rounded to TensorFloat-32 (TF32): 10 explicit mantissa bits, not 23.

    This emulates what a float32 matmul reads on an NVIDIA GPU of the Ampere generation or
    newer when TensorFlow's TF32 mode is on (its default there): TensorFlow documents that
    the inputs of such ops are then "rounded from 23 bits of precision to 10 bits". The
    13 lowest mantissa bits of each float32 bit pattern are rounded away, to nearest with
    ties to even; the exponent, and so the range, stays float32's. The rounding rule is
    this emulation's assumption (the documentation names none); with any round-to-nearest
    rule the relative error of a normal number is at most ``2**-11``.

    Returns float32 values whose 13 lowest mantissa bits are zero. Infinities and NaN are
    returned unchanged; a finite value that rounds past the largest float32 becomes
    infinite, as it would in hardware.

    Raises:
        ValueError: ``values`` is not float32 (a float64 input would be rounded twice).
    """
    if hasattr(values, "numpy"):
        values = values.numpy()
    arr = np.asarray(values)
    if arr.dtype != np.float32:
        raise ValueError(f"round_to_tf32 takes float32 values, not {arr.dtype}")
    dropped = 23 - TF32_MANTISSA_BITS
    flat = arr.reshape(-1)  # 1-D, so that 0-d input is handled by the same array code
    bits = flat.view(np.uint32)
    odd = (bits >> np.uint32(dropped)) & np.uint32(1)  # the last kept bit: ties go to even
    half = np.uint32(1 << (dropped - 1))
    rounded = (bits + (half - np.uint32(1)) + odd) & ~np.uint32((1 << dropped) - 1)
    return np.where(np.isfinite(flat), rounded.view(np.float32), flat).reshape(arr.shape)


def matched_pair(input_dim: int, output_dim: int, *, seed: int | None = None):
    """An ``Embedding(input_dim, output_dim)`` and a ``Dense(output_dim, use_bias=False)``
    holding the same matrix, both built.

    The embedding is initialised as Keras does by default (uniform in ±0.05, seeded by
    ``seed`` when given) and its table is copied into the dense kernel, so
    ``dense.kernel`` and ``embedding.embeddings`` are equal, element for element.

    Returns:
        ``(embedding, dense)``.
    """
    import keras

    for name, value in (("input_dim", input_dim), ("output_dim", output_dim)):
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
            raise ValueError(f"{name} must be a positive integer, not {value!r}")
    init = keras.initializers.RandomUniform(-0.05, 0.05, seed=seed)
    embedding = keras.layers.Embedding(input_dim, output_dim, embeddings_initializer=init)
    embedding.build((None,))
    dense = keras.layers.Dense(output_dim, use_bias=False)
    dense.build((None, input_dim))
    dense.kernel.assign(embedding.embeddings)
    return embedding, dense


def _layer_table(layer):
    """The variable that holds the table: ``embeddings`` or a dense ``kernel``."""
    import keras

    if isinstance(layer, keras.layers.Embedding):
        return layer.embeddings, "lookup"
    if isinstance(layer, keras.layers.Dense):
        if layer.use_bias:
            raise ValueError(
                "the dense layer has a bias; build it with use_bias=False so that it "
                "holds only the table"
            )
        return layer.kernel, "one_hot"
    raise ValueError(
        f"layer must be a keras.layers.Embedding or keras.layers.Dense, not {type(layer).__name__}"
    )


def apply(layer, ids):
    """Run ``layer`` on ``ids``: an embedding looks them up, a dense layer multiplies their
    one-hot encoding (``tf.one_hot``) by its kernel. Ids are validated first."""
    import tensorflow as tf

    table, path = _layer_table(layer)
    input_dim = int(table.shape[0])
    ids = tf.constant(check_ids(ids, input_dim), dtype=tf.int32)
    if path == "lookup":
        return layer(ids)
    return layer(tf.one_hot(ids, input_dim))


def table_gradient(layer, ids, loss_fn: Callable[[Any], Any]):
    """The gradient of ``loss_fn(outputs)`` with respect to the layer's table.

    Args:
        layer: a built ``Embedding`` or a bias-free ``Dense`` (fed one-hot ids).
        ids: integer ids, any shape.
        loss_fn: maps the layer's outputs (shape ``ids.shape + (d,)``) to a scalar.

    Returns:
        ``(loss, gradient)``. For an embedding the gradient is a ``tf.IndexedSlices``
        with one row of ``values`` per id looked up (repeats included); for a dense layer
        it is a full ``(input_dim, d)`` tensor.
    """
    import tensorflow as tf

    table, _ = _layer_table(layer)
    with tf.GradientTape() as tape:
        loss = loss_fn(apply(layer, ids))
    return loss, tape.gradient(loss, table)


def densify(gradient) -> np.ndarray:
    """A gradient as a dense NumPy array; ``tf.IndexedSlices`` rows with the same index
    are summed (this is what ``tf.convert_to_tensor`` does with them)."""
    import tensorflow as tf

    return tf.convert_to_tensor(gradient).numpy()


def summation_error_bound(ids, upstream, input_dim: int, *, against: str = "order") -> np.ndarray:
    """How far apart two correct float32 computations of the table gradient may be.

    Row ``r`` of the gradient is the sum, over the positions where ``ids == r``, of the
    upstream gradient rows. Adding zeros and multiplying by 1.0 is exact, so the only
    rounding is in adding the ``k`` nonzero terms of a row, and any order of adding them
    is within ``γ(k-1) · Σ|terms|`` of the exact sum, where ``γ(n) = n·u / (1 - n·u)`` and
    ``u = 2**-24`` (Higham, *Accuracy and Stability of Numerical Algorithms*, §4.2). Two
    orders are therefore within twice that of each other. Rows used once or twice get a
    bound of 0: one term, or two terms added in either order, round the same way.

    Args:
        ids: the ids, any shape.
        upstream: the gradient of the loss with respect to the outputs, shape
            ``ids.shape + (d,)``.
        input_dim: rows of the table.
        against: ``"order"`` bounds the gap between two float32 summation orders (the
            default); ``"exact"`` bounds the gap between one float32 sum and the exact sum,
            ``γ(k-1) · Σ|terms|``, which is not zero for rows used twice.

    Returns:
        A ``(input_dim, d)`` float64 array of bounds.
    """
    if against not in ("order", "exact"):
        raise ValueError(f'against must be "order" or "exact", not {against!r}')
    ids = check_ids(ids, input_dim).reshape(-1)
    upstream = np.asarray(upstream, dtype=np.float64)
    upstream = upstream.reshape(ids.size, -1)
    counts = np.bincount(ids, minlength=input_dim).astype(np.float64)
    abs_sum = np.zeros((input_dim, upstream.shape[1]))
    np.add.at(abs_sum, ids, np.abs(upstream))
    u = 2.0**-24
    n = np.maximum(counts - 1, 0)[:, None]
    gamma = n * u / (1 - n * u)
    if against == "exact":
        return gamma * abs_sum
    gamma[counts <= 2] = 0.0
    return 2 * gamma * abs_sum


def concrete_function(fn, *specs):
    """``fn`` traced for ``specs`` (one ``tf.TensorSpec`` or example tensor per argument).

    A plain Python function is wrapped in ``tf.function`` first (without autograph: the
    functions the book traces have no Python loops over tensors). Read ``.graph`` of the
    result to inspect the ops TensorFlow would run.
    """
    import tensorflow as tf

    if not isinstance(fn, tf.types.experimental.PolymorphicFunction):
        fn = tf.function(fn, autograph=False)  # plain tracing: these functions have no loops
    return fn.get_concrete_function(*specs)


def graph_op_types(fn, *specs) -> Counter:
    """Trace ``fn`` with ``tf.function`` for the given input specs and count its op types.

    Args:
        fn: a Python function or a ``tf.function``.
        *specs: one ``tf.TensorSpec`` (or example tensor) per argument.

    Returns:
        A ``Counter`` op type -> number of ops of that type in the traced graph.
    """
    graph = concrete_function(fn, *specs).graph
    return Counter(op.type for op in graph.get_operations())


def gather_sources(fn, *specs) -> list[tuple[str, str, tuple]]:
    """For every gather op in ``fn``'s traced graph, what it gathers from.

    Returns:
        One ``(gather op type, type of the op producing its params, params shape)`` per
        gather op, e.g. ``("GatherV2", "ReadVariableOp", (10000, 16))`` for a lookup in an
        embedding table. A gather over a ``Shape`` is shape bookkeeping, not a lookup.
    """
    graph = concrete_function(fn, *specs).graph
    rows = []
    for op in graph.get_operations():
        if "Gather" in op.type:
            params = op.inputs[0]
            shape = tuple(params.shape.as_list()) if params.shape.rank is not None else ()
            rows.append((op.type, params.op.type, shape))
    return rows


def cost_model(n_ids: int, input_dim: int, output_dim: int, *, dtype_bytes: int = 4):
    """What each path must compute and hold, for ``n_ids`` ids, a ``V × d`` table.

    Returns:
        A ``pandas.DataFrame`` indexed by path (``"lookup"``, ``"one_hot"``) with columns
        ``parameters`` (both ``V·d``), ``forward_flops`` (0 for the lookup, which copies
        ``N·d`` numbers; ``2·N·V·d`` multiply-adds counted as two FLOPs for the matmul),
        ``numbers_copied`` (``N·d`` for the lookup), ``input_bytes`` (the ids, or the
        ``N × V`` one-hot matrix), and ``gradient_bytes`` (``N·d`` values plus ``N`` int32
        indices as ``IndexedSlices``, or the dense ``V × d`` gradient).
    """
    import pandas as pd

    for name, value in (("n_ids", n_ids), ("input_dim", input_dim), ("output_dim", output_dim)):
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
            raise ValueError(f"{name} must be a positive integer, not {value!r}")
    n, v, d, b = int(n_ids), int(input_dim), int(output_dim), int(dtype_bytes)
    rows = {
        "lookup": {
            "parameters": v * d,
            "forward_flops": 0,
            "numbers_copied": n * d,
            "input_bytes": n * 4,
            "gradient_bytes": n * d * b + n * 4,
        },
        "one_hot": {
            "parameters": v * d,
            "forward_flops": 2 * n * v * d,
            "numbers_copied": 0,
            "input_bytes": n * v * b,
            "gradient_bytes": v * d * b,
        },
    }
    return pd.DataFrame.from_dict(rows, orient="index")


def restrict_vocabulary(ids, num_words: int, *, oov_id: int = 2) -> np.ndarray:
    """Keep ids below ``num_words`` and replace the others by ``oov_id``, as
    ``keras.datasets.imdb.load_data(num_words=...)`` does; padding 0 stays 0."""
    if isinstance(num_words, bool) or not isinstance(num_words, (int, np.integer)):
        raise ValueError(f"num_words must be an integer, not {num_words!r}")
    if not 0 <= oov_id < num_words:
        raise ValueError(f"oov_id={oov_id} must be in [0, num_words={num_words})")
    ids = check_ids(ids, np.iinfo(np.int64).max)
    return np.where(ids < num_words, ids, oov_id)


def step(
    path: str,
    input_dim: int,
    output_dim: int,
    ids,
    *,
    backward: bool = False,
    seed: int = 0,
) -> Callable[[], Any]:
    """Set up one path (untimed) and return the zero-argument call to time.

    The call is a ``tf.function`` (traced here, once) that runs the forward pass of an
    ``Embedding`` (``path="lookup"``) or of a bias-free ``Dense`` on ``tf.one_hot`` ids
    (``path="one_hot"``) and, with ``backward``, the gradient of ``0.5·Σ outputs²`` with
    respect to the table too. It returns the outputs, or the gradient (for the lookup,
    the ``IndexedSlices`` parts ``values`` and ``indices``, never densified). Use it as a
    factory for :func:`embedtut.bench.sweep`. The returned callable carries the traced
    function as ``.tf_function``, for :func:`graph_op_types`.
    """
    import tensorflow as tf

    if path not in PATHS:
        raise ValueError(f"path must be one of {PATHS}, not {path!r}")
    embedding, dense = matched_pair(input_dim, output_dim, seed=seed)
    layer = embedding if path == "lookup" else dense
    table, _ = _layer_table(layer)
    ids = tf.constant(check_ids(ids, input_dim), dtype=tf.int32)

    def outputs(x):
        return layer(x) if path == "lookup" else layer(tf.one_hot(x, input_dim))

    @tf.function
    def forward(x):
        return outputs(x)

    @tf.function
    def forward_backward(x):
        with tf.GradientTape() as tape:
            loss = 0.5 * tf.reduce_sum(tf.square(outputs(x)))
        grad = tape.gradient(loss, table)
        if isinstance(grad, tf.IndexedSlices):
            return grad.values, grad.indices
        return grad

    fn = forward_backward if backward else forward
    fn.get_concrete_function(tf.TensorSpec(ids.shape, tf.int32))

    def run():
        return fn(ids)

    run.tf_function = fn  # for graph_op_types(run.tf_function, spec)
    return run
