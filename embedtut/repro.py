"""Reproducibility: one call that seeds everything a chapter uses."""

from __future__ import annotations

import os
import random

import numpy as np

DEFAULT_SEED = 42


def seed_everything(seed: int = DEFAULT_SEED, *, deterministic: bool = True) -> int:
    """Seed Python, NumPy, Keras and TensorFlow, and turn on op determinism.

    Every notebook calls this first. ``keras.utils.set_random_seed`` seeds Python's
    ``random``, NumPy's global generator and the backend; with ``deterministic`` true,
    ``tf.config.experimental.enable_op_determinism()`` makes TensorFlow pick
    deterministic kernels (or raise where none exists), so two runs give the same
    numbers on the same machine. On another Keras backend (JAX, chapter 9) op determinism is left
    alone (it configures TensorFlow's kernels only); ``keras.utils.set_random_seed`` still
    seeds TensorFlow's generator there when TensorFlow is installed, for ``tf.data``.

    Returns:
        The seed, so a notebook can print what it used.
    """
    os.environ["PYTHONHASHSEED"] = str(seed)  # for subprocesses; this one is already running
    random.seed(seed)
    np.random.seed(seed)
    import keras

    keras.utils.set_random_seed(seed)
    if deterministic and keras.backend.backend() == "tensorflow":
        import tensorflow as tf

        tf.config.experimental.enable_op_determinism()
    return seed
