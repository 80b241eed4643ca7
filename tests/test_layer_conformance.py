"""Keras's own tests of ``keras.layers.Embedding``, run on the book's embedding layers.

Ported from ``keras/src/layers/core/embedding_test.py`` of Keras 3.15.1 (the file ships
in the wheel): every case that applies, with ``layers.Embedding`` replaced by
:class:`embedtut.layers.ScratchEmbedding` and by :class:`embedtut.layers.GatherEmbedding`.
``run_layer_test`` (from ``keras.src.testing.TestCase``) builds the layer eagerly and
symbolically, checks output shapes, dtypes, sparseness and raggedness, masks, weight
counts, the config round trip, a training step and a mixed-precision call.

Ported: ``test_embedding_basics``, ``test_sparse``, ``test_ragged``,
``test_correctness``, ``test_correctness_sparse`` (its TensorFlow branch),
``test_masking``, ``test_compute_mask_no_masking``, ``test_embedding_constraints``,
``test_invalid_input_dim``, ``test_invalid_output_dim`` (ScratchEmbedding's message has
no backticks around the argument name) and ``test_weights_constructor_arg``
(GatherEmbedding only: ScratchEmbedding has no ``weights`` argument).

Not ported: the LoRA cases (``enable_lora``, ``lora_rank``, ``lora_alpha``) and the
quantization cases (``quantize``, int8/int4 configs and dtype policies, block sizes,
``legacy_load_own_variables``). ScratchEmbedding has neither feature; GatherEmbedding
refuses both, which ``tests/test_layers.py`` checks.
"""

from __future__ import annotations

import numpy as np
import tensorflow as tf
from keras import constraints
from keras.src import testing

from embedtut.layers import GatherEmbedding, ScratchEmbedding

COUNTS = {
    "expected_num_trainable_weights": 1,
    "expected_num_non_trainable_weights": 0,
    "expected_num_seed_generators": 0,
    "expected_num_losses": 0,
}


class _KerasEmbeddingCases:
    """The cases of Keras's ``EmbeddingTest``, for the layer class ``layer_cls``."""

    layer_cls: type

    def test_embedding_basics(self):
        self.run_layer_test(
            self.layer_cls,
            {"input_dim": 4, "output_dim": 3},
            input_shape=(2,),
            input_dtype="int32",
            expected_output_shape=(2, 3),
            supports_masking=False,
            **COUNTS,
        )
        self.run_layer_test(
            self.layer_cls,
            {"input_dim": 5, "output_dim": 4, "mask_zero": True},
            input_shape=(2, 3),
            input_dtype="int64",
            expected_output_shape=(2, 3, 4),
            supports_masking=True,
            **COUNTS,
        )

    def test_sparse(self):
        self.run_layer_test(
            self.layer_cls,
            {"input_dim": 5, "output_dim": 4},
            input_shape=(2, 3),
            input_dtype="int32",
            input_sparse=True,
            expected_output_shape=(2, 3, 4),
            supports_masking=False,
            **COUNTS,
        )

    def test_ragged(self):
        self.run_layer_test(
            self.layer_cls,
            {"input_dim": 5, "output_dim": 4},
            input_shape=(2, 3),
            input_dtype="int32",
            input_ragged=True,
            expected_output_shape=(2, None, 4),
            expected_output_ragged=True,
            supports_masking=False,
            **COUNTS,
        )

    def test_correctness(self):
        layer = self.layer_cls(input_dim=3, output_dim=2)
        layer.build()
        layer.embeddings.assign(np.array([[0.0, 0.0], [2.0, 2.0], [3.0, 3.0]]))
        out = layer(np.array([2, 1, 0]))
        self.assertAllClose(out, np.array([[3.0, 3.0], [2.0, 2.0], [0.0, 0.0]]))

    def test_correctness_sparse(self):
        layer = self.layer_cls(input_dim=3, output_dim=2)
        layer.build()
        layer.embeddings.assign(np.array([[0.0, 0.0], [2.0, 2.0], [3.0, 3.0]]))
        x = tf.SparseTensor([[0, 0], [1, 2]], [2, 1], (2, 3))
        self.assertAllClose(
            layer(x),
            np.array(
                [
                    [[3.0, 3.0], [0.0, 0.0], [0.0, 0.0]],
                    [[0.0, 0.0], [0.0, 0.0], [2.0, 2.0]],
                ]
            ),
        )

    def test_masking(self):
        layer = self.layer_cls(input_dim=3, output_dim=2, mask_zero=True)
        layer.build()
        out = layer.compute_mask(np.array([2, 1, 0]))
        self.assertAllClose(out, np.array([True, True, False]))

    def test_compute_mask_no_masking(self):
        layer = self.layer_cls(input_dim=3, output_dim=2, mask_zero=False)
        self.assertIsNone(layer.compute_mask(np.array([2, 1, 0])))

    def test_embedding_constraints(self):
        layer = self.layer_cls(3, 2, embeddings_constraint="non_neg")
        layer.build((None, 2))
        self.assertIsInstance(layer.embeddings.constraint, constraints.NonNeg)

    def test_invalid_input_dim(self):
        for bad_value in (3.7, 4.0, "3", None, True, False, -1, 0):
            with self.assertRaisesRegex(ValueError, "`?input_dim`? must be a positive integer"):
                self.layer_cls(input_dim=bad_value, output_dim=8)
        with self.assertRaisesRegex(TypeError, "`?input_dim`? must be a positive integer"):
            self.layer_cls.from_config({"input_dim": 3.7, "output_dim": 8})

    def test_invalid_output_dim(self):
        for bad_value in (3.7, 4.0, "3", None, True, False, -1, 0):
            with self.assertRaisesRegex(ValueError, "`?output_dim`? must be a positive integer"):
                self.layer_cls(input_dim=10, output_dim=bad_value)
        with self.assertRaisesRegex(TypeError, "`?output_dim`? must be a positive integer"):
            self.layer_cls.from_config({"input_dim": 10, "output_dim": 3.7})


class TestScratchEmbeddingLikeKeras(_KerasEmbeddingCases, testing.TestCase):
    """Keras's Embedding cases on ScratchEmbedding."""

    layer_cls = ScratchEmbedding


class TestGatherEmbeddingLikeKeras(_KerasEmbeddingCases, testing.TestCase):
    """Keras's Embedding cases on GatherEmbedding, plus the ``weights`` argument."""

    layer_cls = GatherEmbedding

    def test_weights_constructor_arg(self):
        layer = self.layer_cls(3, 4, weights=np.ones((3, 4)))
        self.assertAllClose(layer.embeddings.numpy(), np.ones((3, 4)))
        layer = self.layer_cls(3, 4, weights=[np.ones((3, 4))])
        self.assertAllClose(layer.embeddings.numpy(), np.ones((3, 4)))
