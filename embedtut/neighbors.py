"""Nearest neighbours of rows of an embedding table, by cosine similarity."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np


def cosine_neighbors(
    table,
    queries: Sequence[int],
    *,
    k: int = 8,
    candidates: Sequence[int] | None = None,
    exclude_self: bool = True,
) -> tuple[np.ndarray, np.ndarray]:
    """The ``k`` rows most cosine-similar to each query row.

    Args:
        table: a ``(V, d)`` array (or a Keras variable/tensor with ``.numpy()``).
        queries: row ids to find neighbours for.
        k: neighbours per query.
        candidates: the row ids allowed as neighbours (e.g. the frequent words only);
            default every row.
        exclude_self: never return the query itself.

    Returns:
        ``(ids, similarities)``, each of shape ``(len(queries), k)``, best first; ties go
        to the smaller id. A zero row has similarity 0 to everything.
    """
    if hasattr(table, "numpy"):
        table = table.numpy()
    table = np.asarray(table, dtype=np.float64)
    if table.ndim != 2:
        raise ValueError(f"table must be 2-D (rows, dim), got shape {table.shape}")
    n = table.shape[0]
    queries = np.asarray(queries, dtype=np.int64).reshape(-1)
    cand = np.arange(n) if candidates is None else np.asarray(candidates, dtype=np.int64)
    for label, ids in (("queries", queries), ("candidates", cand)):
        if ids.size and (ids.min() < 0 or ids.max() >= n):
            raise ValueError(f"{label} must be row ids in [0, {n}), got {ids.min()}..{ids.max()}")
    cand = np.unique(cand)
    if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or k < 1:
        raise ValueError(f"k must be a positive integer, not {k!r}")
    inside = exclude_self and bool(np.isin(queries, cand).any())
    available = len(cand) - (1 if inside else 0)
    if k > available:
        raise ValueError(f"k={k} but only {available} candidate rows are available")
    norms = np.linalg.norm(table, axis=1)
    unit = table / np.where(norms > 0, norms, 1.0)[:, None]
    sims = unit[queries] @ unit[cand].T
    if exclude_self:
        sims[cand[None, :] == queries[:, None]] = -np.inf
    # Stable sort on -similarity keeps the smaller id first among ties.
    order = np.argsort(-sims, axis=1, kind="stable")[:, :k]
    return cand[order], np.take_along_axis(sims, order, axis=1)


def cosine(table, a: int, b: int) -> float:
    """Cosine similarity of rows ``a`` and ``b`` of ``table`` (0 if either is zero)."""
    if hasattr(table, "numpy"):
        table = table.numpy()
    u, v = np.asarray(table[a], np.float64), np.asarray(table[b], np.float64)
    denom = np.linalg.norm(u) * np.linalg.norm(v)
    return float(u @ v / denom) if denom > 0 else 0.0


def word_positive_rate(sequences, labels, vocab_size: int) -> np.ndarray:
    """For each id, the fraction of labelled texts containing it that are positive.

    A measurable polarity: a word used mostly in positive reviews has a rate near 1.
    Each text counts once per word it contains. Ids that never occur get ``NaN``.

    Args:
        sequences: texts as 1-D id arrays.
        labels: 1 (positive) or 0 (negative), one per text.
        vocab_size: ids lie in ``[0, vocab_size)``.
    """
    labels = np.asarray(labels)
    if len(labels) != len(sequences):
        raise ValueError(f"got {len(sequences)} texts but {len(labels)} labels")
    if not np.isin(labels, (0, 1)).all():
        raise ValueError("labels must be 0 (negative) or 1 (positive)")
    ids = [np.unique(np.asarray(s, dtype=np.int64)) for s in sequences]
    flat = np.concatenate(ids) if ids else np.zeros(0, np.int64)
    if flat.size and (flat.min() < 0 or flat.max() >= vocab_size):
        raise ValueError(f"ids must lie in [0, {vocab_size})")
    owner = np.repeat(labels, [len(i) for i in ids])
    docs = np.bincount(flat, minlength=vocab_size).astype(np.float64)
    positive = np.bincount(flat, weights=owner.astype(np.float64), minlength=vocab_size)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(docs > 0, positive / docs, np.nan)
