"""A masked-word model whose output layer is its input table, used backwards.

The input side looks a word's row up: ``one_hot(id) @ W`` computed as a gather
(chapter 1). To *predict* a word, a language model scores every word of the
vocabulary: ``logits = h @ W.T``, a full ``(tokens, d) x (d, V)`` matrix product, the
one-hot x dense product in reverse, with no sparse shortcut. With *weight tying*
(``keras.layers.ReversibleEmbedding(..., tie_weights=True)``) both directions use the
same table.

* :func:`mask_tokens` hides a share of the words and records where and what they were.
* :func:`tied_masked_lm` builds the model: tied token table + position table -> one
  self-attention block -> the hidden state at the masked positions -> the tied table
  used backwards.
* :func:`full_softmax_loss` and :func:`sampled_softmax_loss` are the exact loss over
  all ``V`` words and TensorFlow's sampled estimate (``tf.nn.sampled_softmax_loss``),
  for the same table and hidden states.
* :func:`matmul_shapes` lists the matrix products a traced function runs.
"""

from __future__ import annotations

import keras
import numpy as np
from keras import ops

from embedtut.positions import AddPositionEmbedding, _positive_int


def mask_tokens(
    x, *, rate: float = 0.15, mask_id: int = 1, max_masked: int | None = None, seed: int = 0
):
    """Hide ``rate`` of each row's non-padding ids behind ``mask_id``.

    Args:
        x: ``(n, steps)`` ids, 0 = padding; ``mask_id`` must not occur in ``x``.
        rate: share of each row's words to hide (at least one per non-empty row).
        mask_id: the id that replaces them.
        max_masked: masked positions kept per row (default ``ceil(rate * steps)``).
        seed: seed of the choice.

    Returns:
        ``(inputs, positions, labels, weights)``: ``inputs`` is ``x`` with the chosen ids
        replaced; ``positions``, ``labels`` (the hidden ids) and ``weights`` (1 for a real
        masked position, 0 for filler) have shape ``(n, max_masked)``.
    """
    x = np.asarray(x)
    if x.ndim != 2 or not np.issubdtype(x.dtype, np.integer):
        raise ValueError(f"x must be a 2-D integer array, got {x.dtype} {x.shape}")
    if not 0.0 < rate < 1.0:
        raise ValueError(f"rate must lie in (0, 1), not {rate!r}")
    if (x == mask_id).any():
        raise ValueError(f"mask_id {mask_id} occurs in x: choose an unused id")
    steps = x.shape[1]
    m = (
        int(np.ceil(rate * steps))
        if max_masked is None
        else _positive_int(max_masked, "max_masked")
    )
    rng = np.random.default_rng(seed)
    inputs = x.copy()
    positions = np.zeros((len(x), m), np.int32)
    labels = np.zeros((len(x), m), np.int32)
    weights = np.zeros((len(x), m), np.float32)
    for i, row in enumerate(x):
        words = np.flatnonzero(row)
        if not len(words):
            continue
        k = min(m, max(1, int(round(rate * len(words)))))
        chosen = np.sort(rng.choice(words, k, replace=False))
        positions[i, :k], labels[i, :k], weights[i, :k] = chosen, row[chosen], 1.0
        inputs[i, chosen] = mask_id
    return inputs, positions, labels, weights


def tied_masked_lm(
    vocab_size: int,
    maxlen: int,
    dim: int = 32,
    *,
    heads: int = 2,
    masked: int = 20,
    learning_rate: float = 2e-3,
    name: str = "tied_masked_lm",
) -> keras.Model:
    """Masked-word model with one table for input and output, compiled.

    Inputs ``"tokens"`` ``(batch, maxlen)`` (0 = padding) and ``"positions"`` ``(batch,
    masked)`` (where to predict). Layers: ``tied_embedding``
    (``keras.layers.ReversibleEmbedding(vocab_size, dim, tie_weights=True)``),
    ``add_positions`` (a learned position table, :class:`~embedtut.positions.AddPositionEmbedding`;
    padding is masked out of attention explicitly), one self-attention block
    (``attention``, ``norm_attention``, ``ff_in``, ``ff_out``, ``block``), the block's
    output at ``positions``, and ``tied_embedding`` again with ``reverse=True``: logits
    ``h @ W.T`` of shape ``(batch, masked, vocab_size)``. Compiled with Adam and sparse
    categorical cross-entropy on logits (pass ``weights`` of :func:`mask_tokens` as
    ``sample_weight``).
    """
    vocab_size = _positive_int(vocab_size, "vocab_size")
    maxlen = _positive_int(maxlen, "maxlen")
    dim = _positive_int(dim, "dim")
    heads = _positive_int(heads, "heads")
    masked = _positive_int(masked, "masked")
    if dim % heads:
        raise ValueError(f"dim ({dim}) must be a multiple of heads ({heads})")
    tokens = keras.Input((maxlen,), dtype="int32", name="tokens")
    where = keras.Input((masked,), dtype="int32", name="positions")
    table = keras.layers.ReversibleEmbedding(
        vocab_size, dim, tie_weights=True, name="tied_embedding"
    )
    x = AddPositionEmbedding(maxlen, dim, name="add_positions")(table(tokens))
    mask = keras.layers.Lambda(lambda t: ops.not_equal(t, 0), name="padding_mask")(tokens)
    attn_mask = keras.layers.Lambda(
        lambda m: ops.logical_and(m[:, :, None], m[:, None, :]), name="attention_mask"
    )(mask)
    a = keras.layers.MultiHeadAttention(heads, dim // heads, name="attention")(
        x, x, attention_mask=attn_mask
    )
    x = keras.layers.LayerNormalization(name="norm_attention")(
        keras.layers.Add(name="add_attention")([x, a])
    )
    f = keras.layers.Dense(2 * dim, activation="relu", name="ff_in")(x)
    f = keras.layers.Dense(dim, name="ff_out")(f)
    x = keras.layers.LayerNormalization(name="block")(keras.layers.Add(name="add_ff")([x, f]))
    h = keras.layers.Lambda(
        lambda args: ops.take_along_axis(args[0], args[1][:, :, None], axis=1),
        name="at_masked",
    )([x, where])
    logits = table(h, reverse=True)
    model = keras.Model({"tokens": tokens, "positions": where}, logits, name=name)
    model.compile(
        optimizer=keras.optimizers.Adam(learning_rate),
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        weighted_metrics=[keras.metrics.SparseCategoricalAccuracy(name="accuracy")],
    )
    return model


def full_softmax_loss(table, hidden, labels):
    """Mean softmax cross-entropy over all ``V`` rows: ``logits = hidden @ table.T``.

    ``table`` ``(V, d)``, ``hidden`` ``(n, d)``, ``labels`` ``(n,)`` ids (TensorFlow).
    """
    import tensorflow as tf

    logits = tf.matmul(hidden, table, transpose_b=True)
    return tf.reduce_mean(
        tf.nn.sparse_softmax_cross_entropy_with_logits(labels=labels, logits=logits)
    )


def sampled_softmax_loss(table, hidden, labels, *, num_sampled: int = 64, seed: int = 0):
    """``tf.nn.sampled_softmax_loss`` for the same tied table (biases zero), mean over ``n``.

    Scores the true word and ``num_sampled`` words drawn from a log-uniform (Zipfian)
    distribution over the ids instead of all ``V``: an estimate of the full loss whose
    gradient touches ``num_sampled`` + ``n`` rows of the table at most.
    """
    import tensorflow as tf

    vocab = int(table.shape[0])
    num_sampled = _positive_int(num_sampled, "num_sampled")
    if num_sampled >= vocab:
        raise ValueError(f"num_sampled ({num_sampled}) must be below the vocabulary ({vocab})")
    labels = tf.reshape(tf.cast(labels, tf.int64), (-1, 1))
    return tf.reduce_mean(
        tf.nn.sampled_softmax_loss(
            weights=table,
            biases=tf.zeros((vocab,), table.dtype),
            labels=labels,
            inputs=hidden,
            num_sampled=num_sampled,
            num_classes=vocab,
            seed=seed,
        )
    )


def matmul_shapes(fn, *specs) -> list[tuple[str, tuple, tuple]]:
    """``(op type, shape of a, shape of b)`` for every matrix product ``fn`` traces to.

    ``fn`` is traced with ``tf.function`` for ``specs`` (see
    :func:`embedtut.lookup.concrete_function`); transposes done by the op itself
    (``transpose_b``) are not applied to the shapes shown.
    """
    from embedtut.lookup import concrete_function

    graph = concrete_function(fn, *specs).graph
    rows = []
    for op in graph.get_operations():
        if op.type in ("MatMul", "BatchMatMulV2", "BatchMatMulV3", "Einsum"):
            a, b = (tuple(t.shape.as_list()) for t in op.inputs[:2])
            rows.append((op.type, a, b))
    return rows


def output_flops(tokens: int, vocab_size: int, dim: int) -> int:
    """Multiply-adds x 2 of ``h @ W.T`` for ``tokens`` hidden states: ``2 * n * V * d``."""
    return (
        2
        * _positive_int(tokens, "tokens")
        * _positive_int(vocab_size, "vocab_size")
        * (_positive_int(dim, "dim"))
    )
