"""Dropout *before* the lookup: whole tokens, or whole word types, replaced by an id.

Keras's ``Dropout`` and ``SpatialDropout1D`` act on the ``Embedding`` layer's *output*:
the first zeroes single numbers, the second whole feature channels (one of the ``d``
numbers at every position of a sequence). Two other things called "embedding dropout"
act on the *ids*, before the table is read:

* :class:`TokenDropout` drops each token (each position) independently: word dropout as
  in the deep averaging network of Iyyer et al. (2015).
* :class:`RowDropout` drops whole rows of the table: for each batch it draws, once per
  row, whether that word type is dropped, and drops every occurrence of the dropped
  types in the batch (the word-type dropout of Gal & Ghahramani 2016, who zero the rows
  themselves; here the ids are replaced, which in a model that masks the replacement id
  is the same as a zero row that is left out of the average).

Both replace a dropped id by ``replacement`` (0, the padding id, by default; in a
``mask_zero=True`` model a dropped token then simply disappears) and leave padding
alone. Neither rescales anything: an id cannot be scaled. Both are identity maps at
inference (``training=False``). :func:`table_gradient` says, for any model with an
``Embedding`` layer, what kind of gradient the table gets and which rows it touches.
"""

from __future__ import annotations

import keras
import numpy as np
from keras import ops


def _rate(rate) -> float:
    if isinstance(rate, bool) or not isinstance(rate, (int, float)) or not 0.0 <= rate < 1.0:
        raise ValueError(f"rate must be a number in [0, 1), not {rate!r}")
    return float(rate)


def _id(value, what: str) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 0:
        raise ValueError(f"{what} must be a non-negative integer, not {value!r}")
    return int(value)


class TokenDropout(keras.layers.Layer):
    """Replace each non-padding id by ``replacement`` with probability ``rate`` (training only).

    Args:
        rate: the probability of dropping a token, in ``[0, 1)``.
        replacement: the id a dropped token becomes (0, padding, by default).
        padding: the id that is never dropped.
        seed: seeds the layer's random generator.
    """

    def __init__(
        self,
        rate: float,
        *,
        replacement: int = 0,
        padding: int = 0,
        seed: int | None = None,
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.rate = _rate(rate)
        self.replacement = _id(replacement, "replacement")
        self.padding = _id(padding, "padding")
        self.seed = seed
        self.seed_generator = keras.random.SeedGenerator(seed)

    def call(self, ids, training=None):
        if not training or self.rate == 0.0:
            return ids
        drop = keras.random.uniform(ops.shape(ids), seed=self.seed_generator) < self.rate
        drop = ops.logical_and(drop, ops.not_equal(ids, self.padding))
        return ops.where(drop, ops.cast(self.replacement, ids.dtype), ids)

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self) -> dict:
        return super().get_config() | {
            "rate": self.rate,
            "replacement": self.replacement,
            "padding": self.padding,
            "seed": self.seed,
        }


class RowDropout(TokenDropout):
    """Drop whole word types: one draw per row of the table per call, shared by the batch.

    In every training call, each id in ``[0, input_dim)`` other than ``padding`` is
    dropped with probability ``rate``; every occurrence of a dropped id, in every
    sequence of the batch, becomes ``replacement``. So a dropped word type's row is not
    read, and gets no gradient, in that step.

    Args:
        rate: the probability of dropping a row, in ``[0, 1)``.
        input_dim: the number of rows (ids must lie in ``[0, input_dim)``).
        replacement, padding, seed: as in :class:`TokenDropout`.
    """

    def __init__(self, rate: float, input_dim: int, **kwargs):
        super().__init__(rate, **kwargs)
        if isinstance(input_dim, bool) or not isinstance(input_dim, int) or input_dim < 1:
            raise ValueError(f"input_dim must be a positive integer, not {input_dim!r}")
        self.input_dim = input_dim

    def call(self, ids, training=None):
        if not training or self.rate == 0.0:
            return ids
        dropped = keras.random.uniform((self.input_dim,), seed=self.seed_generator) < self.rate
        drop = ops.take(dropped, ops.cast(ids, "int32"), axis=0)
        drop = ops.logical_and(drop, ops.not_equal(ids, self.padding))
        return ops.where(drop, ops.cast(self.replacement, ids.dtype), ids)

    def get_config(self) -> dict:
        return super().get_config() | {"input_dim": self.input_dim}


def table_gradient(model: keras.Model, ids, *, training: bool = True, layer: str = "embedding"):
    """The gradient of ``sum(model(ids))`` with respect to the table of layer ``layer``.

    Runs one forward pass (``training=True`` by default, so dropout layers are active) on
    the TensorFlow backend, under a ``tf.GradientTape``.

    Returns:
        ``(kind, indices, moved)``: the gradient's type name (``"IndexedSlices"`` for a
        gather), the distinct rows it lists (its ``indices``, or the rows with any nonzero
        entry for a dense gradient), and the rows whose gradient has a nonzero entry, as
        sorted int arrays.
    """
    import tensorflow as tf

    table = model.get_layer(layer).embeddings
    with tf.GradientTape() as tape:
        out = model(ids, training=training)
        loss = tf.reduce_sum(tf.cast(out, "float32"))
    grad = tape.gradient(loss, table.value)
    if grad is None:
        raise ValueError(f"the output does not depend on layer {layer!r}'s table")
    dense = tf.convert_to_tensor(grad).numpy()
    moved = np.flatnonzero(np.abs(dense).sum(axis=1) > 0)
    if isinstance(grad, tf.IndexedSlices):
        listed = np.unique(grad.indices.numpy())
    else:
        listed = moved
    return type(grad).__name__, listed.astype(np.int64), moved.astype(np.int64)
