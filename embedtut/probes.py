"""Probes: what a table's rows know, measured on data the table was not trained on.

* :func:`polarity_probe` fits a linear map (ridge regression) from each word's vector to
  a number measured elsewhere, e.g. its positive rate in held-out reviews
  (:func:`embedtut.neighbors.word_positive_rate`), and scores it on *other words*
  (k-fold over words): the held-out R². A table that stores a word's polarity in any
  linear direction scores high, whatever its width.
* :func:`neighbor_overlap` compares two tables' cosine neighbourhoods: the share of each
  query's ``k`` nearest words in one table that are also among its ``k`` nearest in a
  reference (e.g. PPMI usage profiles from held-out text,
  :func:`embedtut.skipgram.ppmi_vectors`). It measures "semantic" similarity in the
  distributional sense, which sentiment labels do not ask for.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from embedtut.neighbors import cosine_neighbors


def _as_array(table) -> np.ndarray:
    table = table.numpy() if hasattr(table, "numpy") else np.asarray(table)
    if table.ndim != 2:
        raise ValueError(f"table must be 2-D (rows, dims), got shape {table.shape}")
    return table.astype(np.float64)


def polarity_probe(
    table,
    target,
    rows: Sequence[int],
    *,
    folds: int = 5,
    alpha: float = 1e-3,
    seed: int = 0,
) -> float:
    """Held-out R² of a ridge regression from ``table[rows]`` to ``target[rows]``.

    The rows are shuffled (``seed``) and split into ``folds`` parts; each part is
    predicted by a ridge regression (with intercept; features standardised; penalty
    ``alpha`` times the number of training rows) fitted on the others. The score is
    ``1 - SSE / SST`` over all rows' out-of-fold predictions, SST taken around the mean of
    ``target[rows]``: 0 for a probe that predicts no better than the mean, 1 for perfect.

    Args:
        table: ``(V, d)`` array (or a variable with ``.numpy()``).
        target: ``V`` numbers (e.g. positive rates); ``target[rows]`` must be finite.
        rows: the row ids to probe (at least ``2 * folds``).
        folds: number of folds over rows (at least 2).
        alpha: ridge penalty per training row.
        seed: shuffles the rows before the split.
    """
    table = _as_array(table)
    target = np.asarray(target, dtype=np.float64)
    if target.shape != (table.shape[0],):
        raise ValueError(
            f"target must have one number per row ({table.shape[0]}), not {target.shape}"
        )
    rows = np.asarray(rows, dtype=np.int64)
    if isinstance(folds, bool) or not isinstance(folds, int) or folds < 2:
        raise ValueError(f"folds must be an integer >= 2, not {folds!r}")
    if rows.ndim != 1 or len(rows) < 2 * folds:
        raise ValueError(f"need at least {2 * folds} rows, got {rows.size}")
    if rows.min() < 0 or rows.max() >= table.shape[0]:
        raise ValueError(f"rows must lie in [0, {table.shape[0]})")
    if alpha < 0:
        raise ValueError(f"alpha must be >= 0, not {alpha!r}")
    y = target[rows]
    if not np.isfinite(y).all():
        raise ValueError("target[rows] must be finite (drop words with no measurement)")
    x = table[rows]
    order = np.random.default_rng(seed).permutation(len(rows))
    predicted = np.empty_like(y)
    for part in np.array_split(order, folds):
        train = np.setdiff1d(order, part)
        mu, sd = x[train].mean(axis=0), x[train].std(axis=0)
        sd = np.where(sd > 0, sd, 1.0)
        xt, xp = (x[train] - mu) / sd, (x[part] - mu) / sd
        yt_mean = y[train].mean()
        gram = xt.T @ xt + alpha * len(train) * np.eye(x.shape[1])
        w = np.linalg.solve(gram, xt.T @ (y[train] - yt_mean))
        predicted[part] = xp @ w + yt_mean
    sst = float(((y - y.mean()) ** 2).sum())
    if sst == 0:
        raise ValueError("target[rows] is constant: R² is undefined")
    return 1.0 - float(((y - predicted) ** 2).sum()) / sst


def neighbor_overlap(
    table,
    reference,
    queries: Sequence[int],
    *,
    k: int = 10,
    candidates: Sequence[int] | None = None,
) -> float:
    """Mean share of each query's ``k`` cosine neighbours in ``table`` that ``reference`` shares.

    Both tables are indexed by the same ids; neighbours are drawn from ``candidates``
    (default every row) with :func:`embedtut.neighbors.cosine_neighbors`. Two random
    tables score about ``k / len(candidates)``; identical ones score 1.
    """
    table, reference = _as_array(table), _as_array(reference)
    if table.shape[0] != reference.shape[0]:
        raise ValueError(f"tables have {table.shape[0]} and {reference.shape[0]} rows")
    mine, _ = cosine_neighbors(table, queries, k=k, candidates=candidates)
    theirs, _ = cosine_neighbors(reference, queries, k=k, candidates=candidates)
    shared = [len(np.intersect1d(a, b)) / k for a, b in zip(mine, theirs, strict=True)]
    return float(np.mean(shared))
