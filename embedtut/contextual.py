"""Contextual vectors: a small Transformer encoder over the embedding table, and probes.

A static table gives a word one vector wherever it stands. Self-attention mixes each
token's vector with those of the other tokens of the review, so the vector a word leaves
a block with depends on its context. This module builds the smallest such classifier
and measures how much the vectors of one word's occurrences spread.

* :func:`encoder_classifier`: token + position lookup
  (:class:`embedtut.positions.TokenAndPositionEmbedding`) -> ``blocks`` self-attention
  blocks (``keras.layers.MultiHeadAttention``, residual + layer normalisation, a small
  feed-forward layer) -> masked mean -> one sigmoid unit.
* :func:`shuffle_tokens` permutes the words of each review (padding stays in place).
* :func:`occurrences`, :func:`states_at` and :func:`pairwise_cosines` collect one word's
  vectors at every layer and summarise how alike they are.
"""

from __future__ import annotations

import keras
import numpy as np

from embedtut.classifiers import MaskedAveragePooling1D
from embedtut.positions import TokenAndPositionEmbedding, _positive_int


def encoder_classifier(
    input_dim: int,
    maxlen: int,
    dim: int = 32,
    *,
    heads: int = 2,
    blocks: int = 1,
    ff_dim: int | None = None,
    positions: str | None = "learned",
    learning_rate: float = 1e-3,
    name: str = "encoder",
) -> keras.Model:
    """A small Transformer-encoder sentiment classifier, compiled.

    Layers: ``embedding`` (token + position lookup, id 0 = padding, masked), then for
    ``b = 1..blocks``: ``attention_b`` (``MultiHeadAttention(heads, dim // heads)``, self
    attention, padding masked), ``add_attention_b`` + ``norm_attention_b``, ``ff_in_b``
    (ReLU, ``ff_dim`` units, default ``2 * dim``) and ``ff_out_b``, ``add_ff_b`` +
    ``block_b`` (the block's output, post-norm as in Vaswani et al. 2017); then
    ``masked_mean`` and ``sentiment`` (``Dense(1, sigmoid)``). The logit is therefore
    ``w · mean_t(h_t) + b``: each position's share of it is ``h_t · w / n``.

    Compiled with Adam(``learning_rate``), binary cross-entropy and accuracy.
    """
    input_dim = _positive_int(input_dim, "input_dim")
    maxlen = _positive_int(maxlen, "maxlen")
    dim = _positive_int(dim, "dim")
    heads = _positive_int(heads, "heads")
    blocks = _positive_int(blocks, "blocks")
    if dim % heads:
        raise ValueError(f"dim ({dim}) must be a multiple of heads ({heads})")
    ff_dim = 2 * dim if ff_dim is None else _positive_int(ff_dim, "ff_dim")
    tokens = keras.Input(shape=(maxlen,), dtype="int32", name="tokens")
    x = TokenAndPositionEmbedding(input_dim, maxlen, dim, positions=positions, name="embedding")(
        tokens
    )
    for b in range(1, blocks + 1):
        attended = keras.layers.MultiHeadAttention(heads, dim // heads, name=f"attention_{b}")(x, x)
        x = keras.layers.Add(name=f"add_attention_{b}")([x, attended])
        x = keras.layers.LayerNormalization(name=f"norm_attention_{b}")(x)
        f = keras.layers.Dense(ff_dim, activation="relu", name=f"ff_in_{b}")(x)
        f = keras.layers.Dense(dim, name=f"ff_out_{b}")(f)
        x = keras.layers.Add(name=f"add_ff_{b}")([x, f])
        x = keras.layers.LayerNormalization(name=f"block_{b}")(x)
    pooled = MaskedAveragePooling1D(name="masked_mean")(x)
    outputs = keras.layers.Dense(1, activation="sigmoid", name="sentiment")(pooled)
    model = keras.Model(tokens, outputs, name=name)
    model.compile(
        optimizer=keras.optimizers.Adam(learning_rate),
        loss="binary_crossentropy",
        metrics=["accuracy"],
    )
    return model


def shuffle_tokens(x, *, seed: int = 0) -> np.ndarray:
    """A copy of the id matrix ``x`` with each row's non-zero ids permuted at random.

    Padding (id 0) stays where it is, so lengths and masks are unchanged; only the order
    of the words within each review changes.
    """
    x = np.array(x, copy=True)
    if x.ndim != 2 or not np.issubdtype(x.dtype, np.integer):
        raise ValueError(f"x must be a 2-D integer array, got {x.dtype} {x.shape}")
    rng = np.random.default_rng(seed)
    for row in x:
        where = np.flatnonzero(row)
        row[where] = rng.permutation(row[where])
    return x


def occurrences(x, word_id: int, *, previous: int | None = None) -> np.ndarray:
    """``(n, 2)`` array of ``(row, position)`` where ``x`` holds ``word_id``.

    With ``previous``, only occurrences right after the id ``previous`` (e.g. "good"
    after "not"); an occurrence at position 0 has no previous word and is left out.
    """
    x = np.asarray(x)
    if x.ndim != 2:
        raise ValueError(f"x must be 2-D, got shape {x.shape}")
    hits = np.argwhere(x == word_id)
    if previous is not None:
        hits = hits[hits[:, 1] > 0]
        hits = hits[x[hits[:, 0], hits[:, 1] - 1] == previous]
    return hits


def layer_outputs(model: keras.Model, names) -> keras.Model:
    """A model from ``model``'s input to the outputs of the layers ``names`` (a dict)."""
    return keras.Model(model.input, {n: model.get_layer(n).output for n in names})


def states_at(
    model: keras.Model, x, where, names, *, token_layer: str | None = "embedding"
) -> dict[str, np.ndarray]:
    """Each named layer's vector at each ``(row, position)`` of ``where``: ``(n, dim)``.

    Only the rows of ``x`` that ``where`` uses are run through the model. With
    ``token_layer`` (a :class:`~embedtut.positions.TokenAndPositionEmbedding`), the key
    ``"token table"`` holds the token table's rows for the same ids: the static vector.
    """
    where = np.asarray(where)
    if where.ndim != 2 or where.shape[1] != 2:
        raise ValueError(f"where must be (n, 2) (row, position) pairs, got {where.shape}")
    x = np.asarray(x)
    rows, inverse = np.unique(where[:, 0], return_inverse=True)
    probe = layer_outputs(model, names)
    out = probe.predict(x[rows], batch_size=256, verbose=0)
    states = {n: np.asarray(out[n])[inverse, where[:, 1]] for n in names}
    if token_layer is not None:
        table = model.get_layer(token_layer).token_embedding.embeddings.numpy()
        states = {"token table": table[x[where[:, 0], where[:, 1]]]} | states
    return states


def pairwise_cosines(vectors, *, max_vectors: int = 1000, seed: int = 0) -> np.ndarray:
    """Cosine similarity of every pair of rows of ``vectors`` (upper triangle, 1-D).

    If there are more than ``max_vectors`` rows, a random (seeded) sample of that many is
    used.
    """
    v = np.asarray(vectors, dtype=np.float64)
    if v.ndim != 2 or len(v) < 2:
        raise ValueError(f"vectors must be 2-D with at least 2 rows, got shape {v.shape}")
    if len(v) > max_vectors:
        v = v[np.sort(np.random.default_rng(seed).choice(len(v), max_vectors, replace=False))]
    unit = v / np.maximum(np.linalg.norm(v, axis=1, keepdims=True), 1e-12)
    sims = unit @ unit.T
    return sims[np.triu_indices(len(v), k=1)]
