"""embedtut.backends: run a function on another Keras backend, in a subprocess.

Each call starts a Python process that imports Keras (a few seconds), so the tests that
start one are few and do several checks each.
"""

from __future__ import annotations

import numpy as np
import pytest

from embedtut import backend_probes
from embedtut.backends import (
    BackendCallError,
    BackendUnavailable,
    backend_available,
    decode,
    encode,
    run_on_backend,
)

ARRAYS = {
    "f32": np.array([[1.5, np.nan], [-0.0, np.inf]], dtype="float32"),
    "f64": np.linspace(0, 1, 7),
    "i64": np.arange(-3, 3, dtype="int64").reshape(2, 3),
    "bool": np.array([True, False]),
    "empty": np.zeros((0, 4), dtype="int32"),
    "scalar": np.array(3.25, dtype="float16"),
}


def _same(a: np.ndarray, b: np.ndarray) -> bool:
    return a.dtype == b.dtype and a.shape == b.shape and a.tobytes() == b.tobytes()


def test_encode_decode_round_trips_arrays_exactly():
    payload = {"arrays": ARRAYS, "nested": [1, 2.5, None, "x", (True, np.float32(0.5))]}
    back = decode(encode(payload))
    for name, array in ARRAYS.items():
        assert _same(back["arrays"][name], array), name
    assert back["nested"] == [1, 2.5, None, "x", [True, 0.5]]
    non_contiguous = np.arange(12, dtype="int16").reshape(3, 4)[:, ::2]
    assert _same(decode(encode(non_contiguous)), np.ascontiguousarray(non_contiguous))


@pytest.mark.parametrize("bad", [{1: "x"}, object(), np.array([object()]), {"__ndarray__": 1}])
def test_encode_refuses_what_it_cannot_round_trip(bad):
    with pytest.raises(TypeError):
        encode(bad)


def test_bad_requests_fail_before_starting_a_process():
    with pytest.raises(ValueError, match="unknown Keras backend 'tensorflw'"):
        run_on_backend("tensorflw", "embedtut.backend_probes:echo")
    with pytest.raises(ValueError, match="package.module:function"):
        run_on_backend("jax", "embedtut.backend_probes.echo")
    with pytest.raises(ValueError, match="threads"):
        run_on_backend("jax", "embedtut.backend_probes:echo", threads=0)


def test_missing_backend_says_how_to_install_it(monkeypatch):
    import embedtut.backends as backends

    monkeypatch.setitem(backends.BACKEND_MODULES, "torch", "embedtut_no_such_package")
    assert not backend_available("torch")
    with pytest.raises(BackendUnavailable, match=r"KERAS_BACKEND=torch needs .*pip install torch"):
        run_on_backend("torch", "embedtut.backend_probes:echo")


@pytest.mark.parametrize("backend", ["tensorflow", "jax"])
def test_runs_on_the_backend_with_exact_arrays_and_extra_env(backend):
    out = run_on_backend(
        backend,
        "embedtut.backend_probes:echo",
        env={"EMBEDTUT_TEST_FLAG": "on"},
        arrays=ARRAYS,
        text="hé",
    )
    assert out["backend"] == backend
    for name, array in ARRAYS.items():
        assert _same(out["kwargs"]["arrays"][name], array), name
    assert out["kwargs"]["text"] == "hé"


def test_child_exception_is_reported_with_its_type_and_message():
    with pytest.raises(BackendCallError, match="raised ValueError: boom 42") as info:
        run_on_backend("jax", "embedtut.backend_probes:fail", message="boom 42")
    assert info.value.child_type == "ValueError" and info.value.backend == "jax"
    assert "fail" in str(info.value)  # the child's traceback names the function


def test_describe_row_reads_the_probe():
    assert backend_probes.describe_row(np.array([[104.0]])) == "row 4"
    assert backend_probes.describe_row(np.array([0.0])) == "zeros"
    assert backend_probes.describe_row(np.array([np.nan])) == "NaN"


def test_file_excerpt_reads_a_backend_file_as_text(tmp_path):
    import keras

    from embedtut.source import file_excerpt_text

    torch_numpy = keras.__file__.replace("__init__.py", "src/backend/torch/numpy.py")
    text = file_excerpt_text(torch_numpy, "def take(x, indices, axis=None)", "functional.embedding")
    assert text.startswith("# keras/src/backend/torch/numpy.py (read as text), lines ")
    assert text.splitlines()[1] == "def take(x, indices, axis=None):"
    plain = tmp_path / "notes.py"
    plain.write_text("a = 1\n    b = 2\n    c = 3\n")
    assert (
        file_excerpt_text(plain, "b =", "c =")
        == "# notes.py (read as text), lines 2-3 of 3\nb = 2\nc = 3"
    )
    with pytest.raises(LookupError):
        file_excerpt_text(plain, "no such line")


def test_probes_in_this_process():
    import keras

    if keras.backend.backend() != "tensorflow":
        pytest.skip("the expected outcomes are TensorFlow's")
    assert backend_probes.odd_ids([1, 7, -1, 2.9], dtype="float32") == [
        "row 1",
        "error: InvalidArgumentError",
        "row 4",
        "row 2",
    ]
    with pytest.raises(ValueError, match="mode"):
        backend_probes.odd_ids([1], mode="fast")
    with pytest.raises(ValueError, match="optimizers"):
        backend_probes.rows_moved([[1, 2]], optimizers=("lamb",))
    with pytest.raises(NotImplementedError, match="KERAS_BACKEND=jax"):
        backend_probes.remedy_costs(vocab_size=10)
