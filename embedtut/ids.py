"""Checking token ids before they reach an embedding table.

``keras.layers.Embedding`` does not validate its input: depending on where it runs, an
id outside ``[0, input_dim)`` raises, is clamped, or reads zeros, and a float id is
silently truncated. Two guards refuse all of these, naming the first offending value
and where it is:

* :func:`check_ids` checks NumPy-side data (arrays, lists, eager tensors) before it is
  fed to a model, and raises :class:`ValueError`;
* :func:`assert_valid_ids` puts the same check *inside* a TensorFlow graph, so a model
  refuses bad ids at run time (it is what ``ScratchEmbedding(validate_ids=True)`` and
  :class:`embedtut.layers.IdCheck` use). It raises ``tf.errors.InvalidArgumentError``.
  XLA drops assertions, so it only guards code that is not compiled with
  ``jit_compile=True`` (the layers of :mod:`embedtut.layers` opt out of XLA for this).
"""

from __future__ import annotations

import numpy as np


def _check_input_dim(input_dim) -> None:
    if isinstance(input_dim, bool) or not isinstance(input_dim, (int, np.integer)) or input_dim < 1:
        raise ValueError(f"input_dim must be a positive integer, not {input_dim!r}")


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
        ValueError: ``input_dim`` is not a positive integer; the ids are ragged (rows of
            different lengths); the ids are not integers (a float id is refused even when
            it is whole, e.g. ``3.0``, because Keras would truncate ``2.9`` to 2 without a
            word; booleans are refused too); or an id is out of range. The message names
            the first offending value and its position.
    """
    _check_input_dim(input_dim)
    if hasattr(ids, "numpy"):
        ids = ids.numpy()
    try:
        arr = np.asarray(ids)
    except ValueError as err:  # NumPy 2 refuses ragged nested lists
        raise ValueError(
            f"{name} must be a rectangular array of integers, but its rows have different "
            "lengths; pad them first (e.g. keras.utils.pad_sequences)."
        ) from err
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


def require_integer_dtype(dtype, *, name: str = "ids") -> None:
    """Raise ``TypeError`` unless ``dtype`` (any spelling Keras accepts) is an integer dtype.

    Used when a model is built, so a float ``keras.Input`` is refused before any data flows.
    """
    import keras

    standard = keras.backend.standardize_dtype(dtype)
    if not keras.backend.is_int_dtype(standard):
        raise TypeError(
            f"{name} must have an integer dtype, got {standard}. Feed "
            "keras.Input(..., dtype='int32') (the default is float32, which rounds ids "
            "above 2**24 and lets 2.9 become 2)."
        )


def assert_valid_ids(ids, input_dim: int, *, name: str = "ids", allow_negative: bool = False):
    """Return ``ids`` unchanged, guarded by an in-graph check of their dtype and range.

    The TensorFlow counterpart of :func:`check_ids`, for use inside a layer's ``call``
    (eagerly, or in a ``tf.function`` graph such as the one ``model.fit`` builds).

    Args:
        ids: an integer tensor of ids (any shape), or a ``tf.RaggedTensor`` or
            ``tf.SparseTensor`` of them (its stored values are checked, and a position in
            an error message counts in those values).
        input_dim: the number of rows of the embedding table.
        name: what to call the ids in error messages.
        allow_negative: accept ``-input_dim <= id < 0`` instead of refusing it.

    Returns:
        ``ids``, as a tensor that depends on the check (so the check always runs first).

    Raises:
        ValueError: ``input_dim`` is not a positive integer.
        TypeError: the ids are not of an integer dtype (known while tracing, so a model
            fed by a float ``keras.Input`` is refused when it is built).
        tensorflow.errors.InvalidArgumentError: an id is out of range; the message gives
            ``input_dim``, the first offending value and its position. Under XLA
            (``jit_compile=True``) the assertion is removed by the compiler and nothing is
            raised.
    """
    import tensorflow as tf

    _check_input_dim(input_dim)
    if isinstance(ids, tf.RaggedTensor):  # check the values; positions count in flat_values
        flat = assert_valid_ids(
            ids.flat_values, input_dim, name=f"{name} (flat values)", allow_negative=allow_negative
        )
        return ids.with_flat_values(flat)
    if isinstance(ids, tf.SparseTensor):  # check the stored values; positions count in them
        values = assert_valid_ids(
            ids.values, input_dim, name=f"{name} (sparse values)", allow_negative=allow_negative
        )
        return tf.SparseTensor(ids.indices, values, ids.dense_shape)
    ids = tf.convert_to_tensor(ids)
    require_integer_dtype(ids.dtype, name=name)
    low = -input_dim if allow_negative else 0
    bad = tf.logical_or(ids < low, ids >= input_dim)
    allowed = f"[{low}, {input_dim})"
    if tf.executing_eagerly():
        if bool(tf.reduce_any(bad)):
            where = _first(bad.numpy())
            value = int(ids.numpy()[where])
            raise tf.errors.InvalidArgumentError(
                None,
                None,
                f"{name} out of range for input_dim={input_dim}: id {value} at position "
                f"{where} is not in {allowed} ({int(tf.reduce_sum(tf.cast(bad, 'int32')))} "
                "bad id(s) in all).",
            )
        return ids
    first = tf.where(bad)[:1]
    check = tf.debugging.Assert(
        tf.logical_not(tf.reduce_any(bad)),
        [
            f"{name} out of range for input_dim={input_dim}: id",
            tf.gather_nd(ids, first),
            "at position",
            first,
            f"is not in {allowed}",
        ],
        name="valid_ids",
    )
    with tf.control_dependencies([check]):
        return tf.identity(ids)


def check_reviews(ranks, offsets) -> tuple[np.ndarray, np.ndarray]:
    """Validate reviews given as word ranks and offsets; return them as NumPy arrays.

    ``ranks`` holds the word ranks of all reviews concatenated (1-D integers, ``>= 0``;
    0 marks a word outside the vocabulary) and ``ranks[offsets[i]:offsets[i + 1]]`` is
    review ``i``: ``offsets`` are 1-D integers that start at 0, never decrease and end at
    ``len(ranks)``. Raises :class:`ValueError` naming what is wrong.
    """
    ranks = np.asarray(ranks)
    offsets = np.asarray(offsets)
    if ranks.ndim != 1 or not np.issubdtype(ranks.dtype, np.integer):
        raise ValueError(f"ranks must be a 1-D integer array, got {ranks.dtype} {ranks.shape}")
    if (
        offsets.ndim != 1
        or not np.issubdtype(offsets.dtype, np.integer)
        or len(offsets) < 1
        or offsets[0] != 0
        or offsets[-1] != len(ranks)
    ):
        raise ValueError(
            "offsets must be 1-D integers, start at 0 and end at len(ranks) "
            f"(got {len(offsets)} offsets for {len(ranks)} ranks)"
        )
    if np.any(np.diff(offsets) < 0):
        raise ValueError("offsets must be non-decreasing")
    if ranks.size and ranks.min() < 0:
        raise ValueError("ranks must be >= 0 (0 marks a word outside the vocabulary)")
    return ranks, offsets
