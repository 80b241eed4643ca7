"""Validation splits that keep every movie's reviews on one side.

IMDB holds up to 30 reviews per movie, and reviews of one movie share its title, its
cast and its plot. A validation set drawn review by review (as Keras's
``validation_split`` draws it, from the last rows) therefore holds mostly reviews of
movies the model was trained on, while the test split's movies are (all but one)
new. :func:`grouped_split` draws whole movies instead, so that validation reviews
are about movies that training never saw, as test reviews are.
"""

from __future__ import annotations

import numbers

import numpy as np


def grouped_split(
    groups: np.ndarray,
    labels: np.ndarray | None = None,
    *,
    validation_fraction: float = 0.2,
    seed: int = 0,
) -> tuple[np.ndarray, np.ndarray]:
    """Split rows into training and validation so that no group straddles the two.

    Groups (movies) are visited in an order shuffled by ``seed``; a group joins
    validation when that keeps every class's validation count at or below its target,
    ``round(validation_fraction * n_c)`` for a class with ``n_c`` rows. Validation
    therefore never holds more than its share of any class, and falls short of it by
    the few rows that no remaining group could fill. Which groups are chosen depends on
    the group ids and the seed, not on the order of the rows.

    Args:
        groups: one group id (an integer, e.g. from :func:`embedtut.data.movie_ids`)
            per row.
        labels: one label per row, to balance the classes across the two sides;
            ``None`` balances the sizes only.
        validation_fraction: the share of rows for validation, strictly between 0
            and 1.
        seed: a non-negative integer; the same seed gives the same split.

    Returns:
        ``(train_idx, val_idx)``: sorted ``int64`` indices into the rows, disjoint,
        together covering every row.

    Raises:
        ValueError: arguments of the wrong shape or range (a negative seed included),
            or a fraction that leaves one side empty.
        TypeError: a seed that is not an integer, or groups that are not integers.
    """
    groups = np.asarray(groups)
    if groups.ndim != 1 or len(groups) == 0:
        raise ValueError(f"groups must be a non-empty 1-D array, not shape {groups.shape}")
    if not np.issubdtype(groups.dtype, np.integer):
        raise TypeError(f"groups must be integer ids (such as movie ids), not {groups.dtype}")
    if labels is None:
        labels = np.zeros(len(groups), dtype=np.int64)
    labels = np.asarray(labels)
    if labels.shape != groups.shape:
        raise ValueError(
            f"labels must have one entry per row: shape {labels.shape}, groups {groups.shape}"
        )
    if isinstance(seed, bool) or not isinstance(seed, numbers.Integral):
        raise TypeError(f"seed must be a non-negative integer, not {seed!r}")
    if seed < 0:
        raise ValueError(f"seed must be a non-negative integer, not {seed!r}")
    if not isinstance(validation_fraction, numbers.Real) or not 0 < validation_fraction < 1:
        raise ValueError(
            f"validation_fraction must be strictly between 0 and 1, not {validation_fraction!r}"
        )
    unique, group_of = np.unique(groups, return_inverse=True)
    if len(unique) < 2:
        raise ValueError("all rows belong to one group: it cannot be split without straddling")
    _, class_of = np.unique(labels, return_inverse=True)
    # rows of each class in each group, and each class's validation target
    per_group = np.zeros((len(unique), class_of.max() + 1), dtype=np.int64)
    np.add.at(per_group, (group_of, class_of), 1)
    target = np.round(validation_fraction * per_group.sum(axis=0)).astype(np.int64)
    taken = np.zeros_like(target)
    chosen = np.zeros(len(unique), dtype=bool)
    for g in np.random.default_rng(int(seed)).permutation(len(unique)):
        if np.all(taken + per_group[g] <= target):
            taken += per_group[g]
            chosen[g] = True
    in_val = chosen[group_of]
    val_idx = np.flatnonzero(in_val).astype(np.int64)
    train_idx = np.flatnonzero(~in_val).astype(np.int64)
    if len(val_idx) == 0 or len(train_idx) == 0:
        side = "validation" if len(val_idx) == 0 else "training"
        raise ValueError(
            f"validation_fraction={validation_fraction} leaves the {side} side empty: "
            f"{len(groups):,} rows in {len(unique):,} groups (the largest holds "
            f"{per_group.sum(axis=1).max():,} rows) cannot be split at that fraction"
        )
    return train_idx, val_idx
