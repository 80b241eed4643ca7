"""Position embeddings: how a model that sums vectors learns *where* a token stands.

A bag of embeddings (chapter 5) and self-attention without positions are both blind to
word order: permuting the tokens permutes the vectors, and a sum or an attention-weighted
sum does not change. Transformers add a second vector per token that depends only on its
position. Two kinds:

* a *learned* table, ``keras.layers.Embedding(maxlen, dim)`` looked up with the position
  ids ``0, 1, ..., steps - 1``: the same lookup as for words, with positions as ids
  (:class:`TokenAndPositionEmbedding` sums the two lookups);
* the fixed *sinusoidal* encoding of Vaswani et al. (2017), :func:`sinusoidal_positions`,
  whose dot product between two positions depends only on their distance.

:func:`cosine_matrix` and :func:`similarity_by_offset` summarise either table.
"""

from __future__ import annotations

import keras
import numpy as np
from keras import ops


def _positive_int(value, what: str) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
        raise ValueError(f"{what} must be a positive integer, not {value!r}")
    return int(value)


def sinusoidal_positions(maxlen: int, dim: int, *, base: float = 10_000.0) -> np.ndarray:
    """The fixed position encoding of Vaswani et al. (2017), ``(maxlen, dim)`` float32.

    Row ``p`` holds ``sin(p * w_i)`` in column ``2i`` and ``cos(p * w_i)`` in column
    ``2i + 1``, with ``w_i = base ** (-2i / dim)``. Because ``sin a sin b + cos a cos b =
    cos(a - b)``, the dot product of rows ``p`` and ``q`` is ``sum_i cos((p - q) w_i)``: a
    function of the distance ``p - q`` only.

    Raises:
        ValueError: if ``maxlen`` or ``dim`` is not a positive integer, or ``dim`` is odd.
    """
    maxlen = _positive_int(maxlen, "maxlen")
    dim = _positive_int(dim, "dim")
    if dim % 2:
        raise ValueError(f"dim must be even (sine and cosine pairs), not {dim}")
    if base <= 1:
        raise ValueError(f"base must be > 1, not {base!r}")
    positions = np.arange(maxlen, dtype=np.float64)[:, None]
    rates = base ** (-np.arange(0, dim, 2, dtype=np.float64) / dim)
    angles = positions * rates[None, :]
    table = np.empty((maxlen, dim), np.float64)
    table[:, 0::2] = np.sin(angles)
    table[:, 1::2] = np.cos(angles)
    return table.astype(np.float32)


@keras.saving.register_keras_serializable(package="embedtut")
class TokenAndPositionEmbedding(keras.layers.Layer):
    """``token_table[ids] + position_table[0..steps-1]``: two lookups, summed.

    The token lookup is a ``keras.layers.Embedding(input_dim, output_dim, mask_zero=True)``
    (sublayer ``token_embedding``); id 0 is padding and the layer passes its mask on. The
    position lookup is a learned ``keras.layers.Embedding(maxlen, output_dim)`` (sublayer
    ``position_embedding``), or, with ``positions="sinusoidal"``, the fixed table of
    :func:`sinusoidal_positions` (not trained), or nothing with ``positions=None``.

    Args:
        input_dim: rows of the token table.
        maxlen: the longest sequence (rows of the position table).
        output_dim: vector size.
        positions: ``"learned"``, ``"sinusoidal"`` or ``None``.
    """

    def __init__(
        self,
        input_dim: int,
        maxlen: int,
        output_dim: int,
        *,
        positions: str | None = "learned",
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.input_dim = _positive_int(input_dim, "input_dim")
        self.maxlen = _positive_int(maxlen, "maxlen")
        self.output_dim = _positive_int(output_dim, "output_dim")
        if positions not in ("learned", "sinusoidal", None):
            raise ValueError(
                f"positions must be 'learned', 'sinusoidal' or None, not {positions!r}"
            )
        self.positions = positions
        self.token_embedding = keras.layers.Embedding(
            input_dim, output_dim, mask_zero=True, name="token_embedding"
        )
        self.position_embedding = None
        self._fixed = None
        if positions == "learned":
            self.position_embedding = keras.layers.Embedding(
                maxlen, output_dim, name="position_embedding"
            )
        elif positions == "sinusoidal":
            self._fixed = sinusoidal_positions(maxlen, output_dim)
        self.supports_masking = True

    def build(self, input_shape):
        self.token_embedding.build(input_shape)
        if self.position_embedding is not None:
            self.position_embedding.build((None,))
        self.built = True

    def call(self, inputs):
        x = self.token_embedding(inputs)
        steps = ops.shape(inputs)[-1]
        if self.position_embedding is not None:
            x = x + self.position_embedding(ops.arange(steps, dtype="int32"))
        elif self._fixed is not None:
            x = x + ops.convert_to_tensor(self._fixed, dtype=x.dtype)[:steps]
        return x

    def compute_mask(self, inputs, mask=None):
        return ops.not_equal(inputs, 0)

    def compute_output_shape(self, input_shape):
        return (*input_shape, self.output_dim)

    def get_config(self):
        return super().get_config() | {
            "input_dim": self.input_dim,
            "maxlen": self.maxlen,
            "output_dim": self.output_dim,
            "positions": self.positions,
        }


@keras.saving.register_keras_serializable(package="embedtut")
class AddPositionEmbedding(keras.layers.Layer):
    """``x + position_table[0..steps-1]`` for ``x`` of shape ``(batch, steps, dim)``.

    The position table is a learned ``keras.layers.Embedding(maxlen, dim)`` (sublayer
    ``position_embedding``) looked up with the ids ``0 .. steps - 1``. A mask on ``x``
    passes through unchanged.
    """

    def __init__(self, maxlen: int, dim: int, **kwargs):
        super().__init__(**kwargs)
        self.maxlen = _positive_int(maxlen, "maxlen")
        self.dim = _positive_int(dim, "dim")
        self.position_embedding = keras.layers.Embedding(maxlen, dim, name="position_embedding")
        self.supports_masking = True

    def build(self, input_shape):
        self.position_embedding.build((None,))
        self.built = True

    def call(self, inputs):
        steps = ops.shape(inputs)[1]
        return inputs + self.position_embedding(ops.arange(steps, dtype="int32"))

    def compute_mask(self, inputs, mask=None):
        return mask

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        return super().get_config() | {"maxlen": self.maxlen, "dim": self.dim}


def cosine_matrix(table) -> np.ndarray:
    """Cosine similarity between every two rows of ``table``, ``(rows, rows)`` float64."""
    t = np.asarray(table, dtype=np.float64)
    if t.ndim != 2 or not len(t):
        raise ValueError(f"table must be a non-empty 2-D array, got shape {t.shape}")
    norms = np.linalg.norm(t, axis=1, keepdims=True)
    unit = t / np.maximum(norms, 1e-12)
    return unit @ unit.T


def similarity_by_offset(table, max_offset: int | None = None) -> np.ndarray:
    """Mean cosine similarity of rows ``p`` and ``p + k`` for ``k = 0 .. max_offset``.

    Entry ``k`` averages the ``k``-th diagonal of :func:`cosine_matrix`: how similar
    positions ``k`` apart are, on average. ``max_offset`` defaults to ``rows - 1``.
    """
    sims = cosine_matrix(table)
    n = len(sims)
    if max_offset is None:
        max_offset = n - 1
    if isinstance(max_offset, bool) or not 0 <= int(max_offset) < n:
        raise ValueError(f"max_offset must lie in [0, {n - 1}], not {max_offset!r}")
    return np.array([np.diagonal(sims, k).mean() for k in range(int(max_offset) + 1)])
