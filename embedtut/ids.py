"""Checking token ids before they reach an embedding table.

``keras.layers.Embedding`` does not validate its input: depending on where it runs, an
id outside ``[0, input_dim)`` raises, is clamped, or reads zeros, and a float id is
silently truncated. :func:`check_ids` refuses all of these up front, naming the first
offending value and where it is.
"""

from __future__ import annotations

import numpy as np


def check_ids(
    ids, input_dim: int, *, name: str = "ids", allow_negative: bool = False
) -> np.ndarray:
    """Validate token ids for a table of ``input_dim`` rows and return them as ``int64``.

    Args:
        ids: an array-like (NumPy array, list, or tensor with ``.numpy()``) of ids.
        input_dim: the number of rows of the embedding table.
        name: what to call the ids in error messages.
        allow_negative: accept ``-input_dim <= id < 0`` (Python-style indexing from the
            end, which ``keras.ops.take`` performs) instead of refusing it.

    Returns:
        The ids as a NumPy ``int64`` array of the same shape.

    Raises:
        ValueError: ``input_dim`` is not a positive integer; the ids are not integers
            (a float id is refused even when it is whole, e.g. ``3.0``, because Keras
            would truncate ``2.9`` to 2 without a word); or an id is out of range. The
            message names the first offending value and its position.
    """
    if isinstance(input_dim, bool) or not isinstance(input_dim, (int, np.integer)) or input_dim < 1:
        raise ValueError(f"input_dim must be a positive integer, not {input_dim!r}")
    if hasattr(ids, "numpy"):
        ids = ids.numpy()
    arr = np.asarray(ids)
    if arr.dtype == bool or not np.issubdtype(arr.dtype, np.integer):
        where = _first(np.ones(arr.shape, dtype=bool)) if arr.size else None
        sample = (
            f"; the first is {arr[where].item()!r} at position {where}" if where is not None else ""
        )
        raise ValueError(
            f"{name} must be integers, got dtype {arr.dtype}{sample}. Embedding tables are "
            "indexed by integer ids: cast with .astype('int32') only if every value is whole, "
            "and feed keras.Input(..., dtype='int32') so ids are never floats."
        )
    low = -input_dim if allow_negative else 0
    bad = (arr < low) | (arr >= input_dim)
    if bad.any():
        where = _first(bad)
        value = arr[where]
        if value < 0 and not allow_negative:
            reason = "is negative; ids count rows from 0"
        elif value < 0:
            reason = f"is below -{input_dim}"
        else:
            reason = f"is >= input_dim={input_dim}; the table has rows 0..{input_dim - 1}"
        raise ValueError(
            f"{name} has {int(bad.sum())} id(s) out of range: the first, {int(value)} at "
            f"position {where}, {reason}. Map unknown tokens to an out-of-vocabulary id "
            "below input_dim, or make the table larger."
        )
    return arr.astype(np.int64)


def _first(mask: np.ndarray) -> tuple[int, ...]:
    return tuple(int(i) for i in np.argwhere(mask)[0])
