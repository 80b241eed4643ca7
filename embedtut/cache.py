"""Where embedtut keeps what it downloads, extracts and tokenises, written atomically.

Everything lands under one cache folder (``$EMBEDTUT_CACHE_DIR``, else
``~/.keras/datasets/embedtut``). Files are written to a temporary name in the same
folder and renamed into place, so an interrupted run never leaves a half-written
file that a later run would trust.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from pathlib import Path
from typing import Any

import numpy as np

CACHE_ENV = "EMBEDTUT_CACHE_DIR"


def cache_dir(create: bool = True) -> Path:
    """Return embedtut's cache folder, creating it when ``create`` is true.

    ``$EMBEDTUT_CACHE_DIR`` wins; otherwise the folder sits beside Keras's own
    dataset cache, ``~/.keras/datasets/embedtut``.
    """
    root = os.environ.get(CACHE_ENV)
    path = Path(root).expanduser() if root else Path.home() / ".keras" / "datasets" / "embedtut"
    if create:
        path.mkdir(parents=True, exist_ok=True)
    return path


def cache_key(**params: Any) -> str:
    """A short, stable hex key for a set of JSON-serialisable parameters."""
    text = json.dumps(params, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]


def save_npz_atomic(path: Path, **arrays: np.ndarray) -> None:
    """Write ``arrays`` to ``path`` as an ``.npz`` file, all or nothing.

    Object arrays are refused: the cache never needs pickles and must never load
    them.
    """
    for name, value in arrays.items():
        if np.asarray(value).dtype == object:
            raise TypeError(f"array {name!r} has dtype object; the cache stores no pickles")
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=path.name + ".", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as handle:
            np.savez(handle, **arrays)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def load_npz(path: Path) -> dict[str, np.ndarray] | None:
    """Read an ``.npz`` written by :func:`save_npz_atomic`; ``None`` if absent or unreadable.

    A damaged cache file is deleted so that the caller rebuilds it.
    """
    path = Path(path)
    if not path.exists():
        return None
    try:
        with np.load(path, allow_pickle=False) as data:
            return {name: data[name] for name in data.files}
    except (OSError, ValueError, EOFError):
        path.unlink(missing_ok=True)
        return None


def sha256_of(path: Path, chunk: int = 1 << 20) -> str:
    """SHA-256 hex digest of a file, read in chunks."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while block := handle.read(chunk):
            digest.update(block)
    return digest.hexdigest()
