"""Running book code on another Keras backend, in a subprocess.

Keras picks its backend once, when it is first imported (from ``KERAS_BACKEND``), so one
Python process cannot run the same layer on TensorFlow and then on JAX. The chapter on
backends, and the one at scale, therefore run each backend's half of an experiment in a
child process::

    from embedtut.backends import run_on_backend

    out = run_on_backend("jax", "embedtut.backend_probes:lookup", table=t, ids=i)

:func:`run_on_backend` starts ``python -m embedtut.backends`` with ``KERAS_BACKEND`` set
and the thread count pinned, calls the named function there with the keyword arguments,
and returns what it returned. Arguments and results cross the process boundary as JSON
with an exact encoding of NumPy arrays (:func:`encode`, :func:`decode`): an array comes
back with the same dtype, shape and bytes, so results can be compared bit for bit.
"""

from __future__ import annotations

import base64
import importlib
import importlib.util
import json
import os
import subprocess
import sys
import tempfile
import traceback
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

BACKEND_MODULES = {
    "tensorflow": "tensorflow",
    "jax": "jax",
    "torch": "torch",
    "numpy": "numpy",
    "openvino": "openvino",
}
"""Keras 3's backends and the package each one needs."""

INSTALL_HINTS = {
    "tensorflow": "pip install tensorflow",
    "jax": "pip install jax  (the CPU wheel: no GPU libraries)",
    "torch": (
        "pip install torch  (CPU-only wheel, without the GPU libraries: "
        "pip install torch --index-url https://download.pytorch.org/whl/cpu)"
    ),
    "openvino": "pip install openvino",
    "numpy": "pip install numpy",
}

THREAD_VARIABLES = (
    "OMP_NUM_THREADS",
    "MKL_NUM_THREADS",
    "OPENBLAS_NUM_THREADS",
    "TF_NUM_INTRAOP_THREADS",
    "TF_NUM_INTEROP_THREADS",
    "EMBEDTUT_THREADS",
)
"""Environment variables set to ``threads`` in the child (TensorFlow, OpenMP, BLAS)."""

_ARRAY = "__ndarray__"


class BackendUnavailable(RuntimeError):
    """The requested Keras backend's package is not installed here."""


class BackendCallError(RuntimeError):
    """The function raised in the child process, or the child died.

    Attributes:
        backend: the backend it ran on.
        function: the ``"module:function"`` it ran.
        child_type: the exception's class name in the child (``None`` if the child died
            without reporting one).
        stderr_tail: the last lines the child wrote to stderr.
    """

    def __init__(
        self, message: str, *, backend: str, function: str, child_type: str | None, stderr: str
    ) -> None:
        super().__init__(message)
        self.backend = backend
        self.function = function
        self.child_type = child_type
        self.stderr_tail = stderr


def encode(value: Any) -> Any:
    """``value`` as JSON-safe data; NumPy arrays exactly (dtype, shape, raw bytes in base64).

    Dicts (string keys), lists and tuples (both become lists), ``str``, ``bool``, ``int``,
    ``float`` (NaN and infinities included), ``None``, NumPy scalars (as Python scalars)
    and NumPy arrays are accepted; anything else raises ``TypeError``. Arrays with a
    backend type (TensorFlow, JAX) must be converted with ``numpy.asarray`` first.
    """
    if isinstance(value, np.ndarray):
        if value.dtype.hasobject:
            raise TypeError("object arrays cannot be encoded")
        data = value if value.flags.c_contiguous else value.copy(order="C")  # keeps 0-d
        return {
            _ARRAY: base64.b64encode(data.tobytes()).decode("ascii"),
            "dtype": data.dtype.str,
            "shape": list(data.shape),
        }
    if isinstance(value, np.generic):
        return value.item()
    if value is None or isinstance(value, (str, bool, int, float)):
        return value
    if isinstance(value, (list, tuple)):
        return [encode(v) for v in value]
    if isinstance(value, Mapping):
        bad = [k for k in value if not isinstance(k, str)]
        if bad:
            raise TypeError(f"dict keys must be strings, got {bad[0]!r}")
        if _ARRAY in value:
            raise TypeError(f"a dict may not use the reserved key {_ARRAY!r}")
        return {k: encode(v) for k, v in value.items()}
    raise TypeError(
        f"cannot encode a {type(value).__name__}: pass NumPy arrays, numbers, strings, "
        "lists and dicts (convert backend tensors with numpy.asarray)"
    )


def decode(value: Any) -> Any:
    """The inverse of :func:`encode`: arrays come back with their dtype, shape and bytes."""
    if isinstance(value, list):
        return [decode(v) for v in value]
    if isinstance(value, dict):
        if _ARRAY in value:
            raw = base64.b64decode(value[_ARRAY])
            array = np.frombuffer(raw, dtype=np.dtype(value["dtype"]))
            return array.reshape(value["shape"]).copy()
        return {k: decode(v) for k, v in value.items()}
    return value


def backend_available(backend: str) -> bool:
    """Whether ``backend``'s package is importable here (without importing it)."""
    _check_backend_name(backend)
    return importlib.util.find_spec(BACKEND_MODULES[backend]) is not None


def _check_backend_name(backend: str) -> None:
    if backend not in BACKEND_MODULES:
        raise ValueError(
            f"unknown Keras backend {backend!r}: choose one of {', '.join(BACKEND_MODULES)}"
        )


def _check_function(function: str) -> None:
    module, sep, name = function.partition(":")
    if not sep or not module or not name.isidentifier():
        raise ValueError(
            f"function must be 'package.module:function', e.g. "
            f"'embedtut.backend_probes:lookup', not {function!r}"
        )


def run_on_backend(
    backend: str,
    function: str,
    /,
    *,
    env: Mapping[str, str] | None = None,
    threads: int | None = 2,
    timeout_s: float = 600.0,
    **kwargs: Any,
) -> Any:
    """Call ``function(**kwargs)`` in a fresh Python process whose Keras runs on ``backend``.

    Args:
        backend: ``"tensorflow"``, ``"jax"``, ``"torch"`` (or Keras's ``"numpy"``,
            ``"openvino"``); set as ``KERAS_BACKEND`` in the child.
        function: ``"module:function"``, e.g. ``"embedtut.backend_probes:lookup"``; the
            module is imported in the child, after ``KERAS_BACKEND`` is set.
        env: extra environment variables for the child (e.g. ``{"XLA_FLAGS": ...}``);
            they override the defaults set here, ``KERAS_BACKEND`` excepted.
        threads: pin the child to this many CPU cores (``os.sched_setaffinity``, before
            any import) and set :data:`THREAD_VARIABLES` to it; ``None`` leaves both alone.
        timeout_s: seconds before the child is killed.
        **kwargs: the function's keyword arguments; anything :func:`encode` accepts. The
            names ``env``, ``threads`` and ``timeout_s`` are this function's own.

    Returns:
        The function's return value, through :func:`encode` and :func:`decode` (tuples
        come back as lists, NumPy scalars as Python numbers, arrays exactly).

    Raises:
        ValueError: an unknown backend name or a malformed ``function``.
        BackendUnavailable: the backend's package is not installed (with the pip command).
        BackendCallError: the function raised in the child (its type, message and
            traceback, and the tail of the child's stderr), or the child died or timed out.
        TypeError: an argument or the result cannot be encoded.
    """
    _check_backend_name(backend)
    _check_function(function)
    if threads is not None and (isinstance(threads, bool) or not isinstance(threads, int)):
        raise ValueError(f"threads must be a positive integer or None, not {threads!r}")
    if threads is not None and threads < 1:
        raise ValueError(f"threads must be a positive integer or None, not {threads!r}")
    if not backend_available(backend):
        raise BackendUnavailable(
            f"KERAS_BACKEND={backend} needs the {BACKEND_MODULES[backend]!r} package, which "
            f"is not installed in this environment: {INSTALL_HINTS[backend]}"
        )
    child_env = dict(os.environ)
    if threads is not None:
        child_env.update({name: str(threads) for name in THREAD_VARIABLES})
    child_env["TF_CPP_MIN_LOG_LEVEL"] = child_env.get("TF_CPP_MIN_LOG_LEVEL", "2")
    child_env.update(dict(env or {}))
    child_env["KERAS_BACKEND"] = backend
    request = json.dumps({"function": function, "kwargs": encode(kwargs), "threads": threads})
    with tempfile.TemporaryDirectory(prefix="embedtut-backend-") as folder:
        result_path = Path(folder) / "result.json"
        try:
            proc = subprocess.run(
                [sys.executable, "-m", "embedtut.backends", str(result_path)],
                input=request,
                capture_output=True,
                text=True,
                env=child_env,
                timeout=timeout_s,
            )
        except subprocess.TimeoutExpired as err:
            stderr = err.stderr.decode() if isinstance(err.stderr, bytes) else err.stderr or ""
            raise BackendCallError(
                f"{function} on {backend} did not finish within {timeout_s} s",
                backend=backend,
                function=function,
                child_type=None,
                stderr=_tail(stderr),
            ) from None
        stderr = _tail(proc.stderr)
        if not result_path.exists():
            raise BackendCallError(
                f"{function} on {backend}: the child process exited with status "
                f"{proc.returncode} without a result. Its stderr ends with:\n{stderr}",
                backend=backend,
                function=function,
                child_type=None,
                stderr=stderr,
            )
        reply = json.loads(result_path.read_text(encoding="utf-8"))
    if "error" in reply:
        error = reply["error"]
        raise BackendCallError(
            f"{function} on {backend} raised {error['type']}: {error['message']}\n"
            f"child traceback:\n{error['traceback']}\nchild stderr ends with:\n{stderr}",
            backend=backend,
            function=function,
            child_type=error["type"],
            stderr=stderr,
        )
    return decode(reply["result"])


def _tail(text: str, lines: int = 20) -> str:
    return "\n".join((text or "").rstrip().splitlines()[-lines:])


def _pin(threads: int | None) -> None:
    if threads is None or not hasattr(os, "sched_setaffinity"):
        return
    cores = sorted(os.sched_getaffinity(0))
    os.sched_setaffinity(0, cores[:threads])


def _child(result_path: str) -> int:
    """The child's side: read the request on stdin, run it, write the reply as JSON."""
    request = json.loads(sys.stdin.read())
    _pin(request.get("threads"))
    try:
        module_name, _, name = request["function"].partition(":")
        function = getattr(importlib.import_module(module_name), name)
        import keras

        wanted = os.environ["KERAS_BACKEND"]
        if keras.backend.backend() != wanted:
            raise RuntimeError(f"Keras runs on {keras.backend.backend()}, not {wanted}")
        reply = {"result": encode(function(**decode(request["kwargs"])))}
    except Exception as err:  # reported to the parent, which raises BackendCallError
        reply = {
            "error": {
                "type": type(err).__name__,
                "message": str(err),
                "traceback": _tail(traceback.format_exc(), 30),
            }
        }
    Path(result_path).write_text(json.dumps(reply), encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(_child(sys.argv[1]))
