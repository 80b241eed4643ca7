"""An embedding layer rebuilt from scratch, and a guard for the ids that feed one.

* :class:`ScratchEmbedding` is ``keras.layers.Embedding`` reduced to what it really is:
  one ``add_weight`` in ``build`` and one ``keras.ops.take`` in ``call``. Given the same
  table it returns the same outputs, masks and gradients as the Keras layer, and it
  saves and loads in the ``.keras`` format. With ``validate_ids=True`` it refuses ids
  outside ``[0, input_dim)`` and non-integer ids instead of clamping, zero-filling or
  truncating them.
* :class:`IdCheck` is that validation alone, as a pass-through layer to put in front of
  any embedding layer (``keras.layers.Embedding`` included) whose ids come from users.

Both validating layers set ``supports_jit = False``: XLA removes assertions, so Keras
must not compile a model that contains them with ``jit_compile=True`` (it falls back to
a plain graph, with a warning, even when asked for XLA).
"""

from __future__ import annotations

import keras
from keras import constraints, initializers, ops, regularizers

from embedtut.ids import assert_valid_ids, require_integer_dtype


def _positive_int(value, what: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
        raise ValueError(f"{what} must be a positive integer, not {value!r}")
    return value


@keras.saving.register_keras_serializable(package="embedtut")
class ScratchEmbedding(keras.layers.Layer):
    """A lookup table of ``input_dim`` rows of ``output_dim`` numbers, from scratch.

    Args:
        input_dim: number of rows (the largest id plus one).
        output_dim: length of each row.
        embeddings_initializer: initializer of the table; ``"uniform"`` (the Keras
            default) is ``RandomUniform(-0.05, 0.05)``.
        embeddings_regularizer: optional regularizer of the table.
        embeddings_constraint: optional constraint applied after each update.
        mask_zero: emit a mask that is ``False`` where the id is 0 (padding). Row 0 is
            still looked up and returned: the mask tells *later* layers to skip it.
        validate_ids: check every batch of ids (integer dtype, ``0 <= id < input_dim``)
            and raise an error naming the first offending value and position, instead
            of Keras's silent clamping / zero-filling / truncation. Costs one pass over
            the ids and disables XLA for models that contain the layer.
        **kwargs: the usual ``keras.layers.Layer`` arguments (``name``, ``dtype``,
            ``trainable``...).
    """

    def __init__(
        self,
        input_dim: int,
        output_dim: int,
        embeddings_initializer="uniform",
        embeddings_regularizer=None,
        embeddings_constraint=None,
        mask_zero: bool = False,
        validate_ids: bool = False,
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.input_dim = _positive_int(input_dim, "input_dim")
        self.output_dim = _positive_int(output_dim, "output_dim")
        self.embeddings_initializer = initializers.get(embeddings_initializer)
        self.embeddings_regularizer = regularizers.get(embeddings_regularizer)
        self.embeddings_constraint = constraints.get(embeddings_constraint)
        self.mask_zero = bool(mask_zero)
        self.supports_masking = self.mask_zero
        self.validate_ids = bool(validate_ids)
        # Keep float inputs as they are (Keras would otherwise cast them to the compute
        # dtype, e.g. float16 under mixed precision, before `call` sees them), and read
        # the float32 table as float32 rather than autocasting it.
        self.autocast = False
        if self.validate_ids:
            self.supports_jit = False

    def build(self, input_shape=None):
        self.embeddings = self.add_weight(
            shape=(self.input_dim, self.output_dim),
            initializer=self.embeddings_initializer,
            regularizer=self.embeddings_regularizer,
            constraint=self.embeddings_constraint,
            name="embeddings",
            trainable=True,
        )

    def call(self, inputs):
        if self.validate_ids:
            inputs = assert_valid_ids(inputs, self.input_dim)
        if keras.backend.standardize_dtype(inputs.dtype) not in ("int32", "int64"):
            # what Keras does: 2.9 -> 2, -0.5 -> 0; validated uint8/uint32 ids need it too,
            # since TensorFlow's gather refuses them
            inputs = ops.cast(inputs, "int32")
        outputs = ops.take(self.embeddings, inputs, axis=0)
        return ops.cast(outputs, self.compute_dtype)

    def compute_mask(self, inputs, mask=None):
        if not self.mask_zero:
            return None
        return ops.not_equal(inputs, 0)

    def compute_output_shape(self, input_shape):
        return (*input_shape, self.output_dim)

    def compute_output_spec(self, inputs):
        if self.validate_ids:
            require_integer_dtype(inputs.dtype)
        return keras.KerasTensor(self.compute_output_shape(inputs.shape), dtype=self.compute_dtype)

    def get_config(self) -> dict:
        config = super().get_config()
        config.update(
            input_dim=self.input_dim,
            output_dim=self.output_dim,
            embeddings_initializer=initializers.serialize(self.embeddings_initializer),
            embeddings_regularizer=regularizers.serialize(self.embeddings_regularizer),
            embeddings_constraint=constraints.serialize(self.embeddings_constraint),
            mask_zero=self.mask_zero,
            validate_ids=self.validate_ids,
        )
        return config


@keras.saving.register_keras_serializable(package="embedtut")
class IdCheck(keras.layers.Layer):
    """Pass integer ids through unchanged after checking them against ``input_dim``.

    Put it between a ``keras.Input(..., dtype="int32")`` and any embedding layer::

        ids = keras.Input(shape=(None,), dtype="int32")
        x = IdCheck(20_000)(ids)
        x = keras.layers.Embedding(20_000, 64, mask_zero=True)(x)

    A float input is refused when the model is built (``TypeError``); an id outside
    ``[0, input_dim)`` raises ``InvalidArgumentError`` naming the first offending value
    and its position, eagerly and inside ``model.fit`` / ``predict``. Models that contain
    it are never XLA-compiled (``supports_jit = False``), since XLA drops the check.

    Args:
        input_dim: number of rows of the table the ids will index.
        allow_negative: also accept ``-input_dim <= id < 0``, which ``keras.ops.take``
            wraps to ``id + input_dim``.
    """

    def __init__(self, input_dim: int, allow_negative: bool = False, **kwargs):
        super().__init__(**kwargs)
        self.input_dim = _positive_int(input_dim, "input_dim")
        self.allow_negative = bool(allow_negative)
        self.supports_masking = True
        self.supports_jit = False
        self.autocast = False
        self.built = True

    def call(self, inputs):
        return assert_valid_ids(inputs, self.input_dim, allow_negative=self.allow_negative)

    def compute_output_spec(self, inputs):
        require_integer_dtype(inputs.dtype)
        return keras.KerasTensor(inputs.shape, dtype=inputs.dtype)

    def get_config(self) -> dict:
        config = super().get_config()
        config.update(input_dim=self.input_dim, allow_negative=self.allow_negative)
        return config
