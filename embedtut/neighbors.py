"""Geometry of embedding vectors: cosine similarity, nearest neighbours, principal directions."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np


def _table_and_rows(table, queries, candidates, k) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Checked ``(float64 table, query ids, sorted unique candidate ids)``; ``k`` checked too."""
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
    if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or k < 1:
        raise ValueError(f"k must be a positive integer, not {k!r}")
    return table, queries, np.unique(cand)


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
    table, queries, cand = _table_and_rows(table, queries, candidates, k)
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


def cosine_similarity(a, b) -> np.ndarray:
    """Row-wise cosine similarity of two ``(n, d)`` arrays (or two vectors)."""
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    if a.shape != b.shape:
        raise ValueError(
            f"cosine_similarity needs arrays of the same shape, got {a.shape} and {b.shape}"
        )
    norms = np.linalg.norm(a, axis=-1) * np.linalg.norm(b, axis=-1)
    return (a * b).sum(-1) / np.where(norms == 0, 1.0, norms)


def top_directions(reference, k: int = 1) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Mean, top-``k`` principal directions and variance shares of ``reference`` rows.

    Returns:
        ``(mean, directions, shares)``: ``directions`` is ``(k, d)`` with orthonormal
        rows, ``shares`` the fraction of the total variance along every principal
        direction (all ``d`` of them, largest first; zeros when the rows are all equal).
    """
    reference = np.asarray(reference, dtype=np.float64)
    if reference.ndim != 2 or len(reference) < 2:
        raise ValueError(f"reference must be an (n >= 2, d) array, got shape {reference.shape}")
    if not 0 <= k <= reference.shape[1]:
        raise ValueError(f"k must be between 0 and d = {reference.shape[1]}, not {k}")
    mean = reference.mean(axis=0)
    _, s, vt = np.linalg.svd(reference - mean, full_matrices=False)
    variance = s**2
    total = variance.sum()
    return mean, vt[:k], variance / total if total > 0 else np.zeros_like(variance)


def remove_top_directions(vectors, reference, k: int = 1) -> np.ndarray:
    """Centre ``vectors`` on ``reference``'s mean and project out its top ``k`` directions.

    A model trained for one output concentrates almost all the variance of its vectors in
    one direction, which then dominates every cosine; removing it shows what else the
    vectors share (for subword vectors: n-grams).
    """
    mean, directions, _ = top_directions(reference, k)
    centred = np.asarray(vectors, dtype=np.float64) - mean
    return centred - (centred @ directions.T) @ directions


def neighbor_rank(queries, targets, reference) -> np.ndarray:
    """How many ``reference`` rows are closer (cosine) to each query than its target row.

    Args:
        queries: ``(m, d)`` vectors.
        targets: ``m`` row indices into ``reference``.
        reference: ``(n, d)`` vectors.

    Returns:
        ``m`` ranks; 0 means the target is the query's nearest neighbour.
    """
    queries = np.asarray(queries, dtype=np.float64)
    reference = np.asarray(reference, dtype=np.float64)
    targets = np.asarray(targets)
    if len(queries) != len(targets):
        raise ValueError(f"got {len(queries)} queries but {len(targets)} targets")
    q = queries / np.linalg.norm(queries, axis=1, keepdims=True)
    r = reference / np.linalg.norm(reference, axis=1, keepdims=True)
    sims = q @ r.T
    own = sims[np.arange(len(q)), targets]
    return (sims > own[:, None]).sum(axis=1)


def axis_neighbors(
    table,
    queries: Sequence[int],
    *,
    k: int = 8,
    candidates: Sequence[int] | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """The ``k`` rows whose position along the table's principal direction is nearest each query's.

    A table trained through one output unit (a ``Dense(1)`` head on pooled vectors) ends
    up almost on one line: then most rows have cosine near ±1 with each other, and cosine
    ranks are ties broken by the random start. The one number such a table holds per
    row is its projection on the top principal direction of the ``candidates`` rows
    (centred on their mean); this ranks neighbours by that number.

    Returns:
        ``(ids, projections)``, each ``(len(queries), k)``: the neighbour ids, nearest
        first (ties to the smaller id; a query is never its own neighbour), and their
        projections. The sign of the direction is arbitrary.
    """
    table, queries, cand = _table_and_rows(table, queries, candidates, k)
    if k > len(cand) - 1:
        raise ValueError(f"k={k} but only {len(cand)} candidate rows are available")
    mean, directions, _ = top_directions(table[cand], 1)
    position = (table - mean) @ directions[0]
    distance = np.abs(position[cand][None, :] - position[queries][:, None])
    distance[cand[None, :] == queries[:, None]] = np.inf
    order = np.argsort(distance, axis=1, kind="stable")[:, :k]
    return cand[order], position[cand[order]]
