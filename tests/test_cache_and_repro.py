"""The atomic, pickle-free cache and the seeding call."""

from __future__ import annotations

import random

import numpy as np
import pytest

from embedtut import seed_everything
from embedtut.cache import cache_dir, cache_key, load_npz, save_npz_atomic


def test_cache_dir_follows_the_environment(tmp_path, monkeypatch):
    monkeypatch.setenv("EMBEDTUT_CACHE_DIR", str(tmp_path / "c"))
    assert cache_dir() == tmp_path / "c" and (tmp_path / "c").is_dir()


def test_cache_key_is_stable_and_sensitive():
    assert cache_key(a=1, b="x") == cache_key(b="x", a=1)
    assert cache_key(a=1, b="x") != cache_key(a=2, b="x")
    assert len(cache_key(a=None)) == 16


def test_round_trip_and_no_temporary_files(tmp_path):
    path = tmp_path / "sub" / "a.npz"
    save_npz_atomic(path, x=np.arange(3), words=np.array(["a", "bb"]))
    loaded = load_npz(path)
    assert loaded["x"].tolist() == [0, 1, 2] and loaded["words"].tolist() == ["a", "bb"]
    assert sorted(p.name for p in path.parent.iterdir()) == ["a.npz"]


def test_object_arrays_are_refused(tmp_path):
    with pytest.raises(TypeError, match="no pickles"):
        save_npz_atomic(tmp_path / "a.npz", x=np.array([[1], [1, 2]], dtype=object))
    assert list(tmp_path.iterdir()) == []


def test_a_pickled_file_is_never_loaded(tmp_path):
    path = tmp_path / "evil.npz"
    np.savez(path, x=np.array([{"a": 1}], dtype=object))  # needs pickle to read
    assert load_npz(path) is None and not path.exists()


def test_failed_write_leaves_nothing(tmp_path, monkeypatch):
    def boom(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(np, "savez", boom)
    with pytest.raises(OSError, match="disk full"):
        save_npz_atomic(tmp_path / "a.npz", x=np.arange(3))
    assert list(tmp_path.iterdir()) == []


def test_seed_everything_repeats_every_generator():
    import keras

    assert seed_everything(7) == 7
    first = (
        random.random(),
        np.random.rand(),
        float(keras.random.uniform(())),
        keras.initializers.GlorotUniform()((2, 2)).numpy().tolist(),
    )
    seed_everything(7)
    second = (
        random.random(),
        np.random.rand(),
        float(keras.random.uniform(())),
        keras.initializers.GlorotUniform()((2, 2)).numpy().tolist(),
    )
    assert first == second
    from tensorflow.python.framework import config as tf_config  # no public getter

    assert tf_config.is_op_determinism_enabled()
