"""An embedding layer rebuilt from scratch, one that gathers from its variable, and a guard.

* :class:`ScratchEmbedding` is ``keras.layers.Embedding`` reduced to what it really is:
  one ``add_weight`` in ``build`` and one ``keras.ops.take`` in ``call``. Given the same
  table it returns the same outputs, masks and gradients as the Keras layer, and it
  saves and loads in the ``.keras`` format. With ``validate_ids=True`` it refuses ids
  outside ``[0, input_dim)`` and non-integer ids instead of clamping, zero-filling or
  truncating them. It passes the layer tests Keras runs on its own ``Embedding``
  (dense, sparse and ragged ids; ``tests/test_layer_conformance.py``).
* :class:`GatherEmbedding` is ``keras.layers.Embedding`` (TensorFlow backend) with a
  lookup that gathers the rows straight from the variable (one ``ResourceGather``)
  instead of reading the whole table first, so that its forward pass stays
  ``O(n·d)`` after sparse updates have put the table in copy-on-read mode.
* :class:`IdCheck` is that validation alone, as a pass-through layer to put in front of
  any embedding layer (``keras.layers.Embedding`` included) whose ids come from users.

The two validating layers (``ScratchEmbedding(validate_ids=True)`` and ``IdCheck``) set
``supports_jit = False``: XLA removes assertions, so Keras
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


_NO_LORA = (
    "GatherEmbedding does not support LoRA: its lookup gathers rows from its one table "
    "variable, while a LoRA table is base + (lora_alpha / lora_rank) * A @ B. Use "
    "keras.layers.Embedding for LoRA."
)
_NO_QUANTIZATION = (
    "GatherEmbedding does not support quantization (int8, int4, ...): its lookup gathers "
    "rows from its one float table variable, while a quantized table is rebuilt from "
    "integer codes and scales. Use keras.layers.Embedding to quantize."
)


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
        # ragged ids give ragged rows (as in Keras); sparse ids give a dense output
        return keras.KerasTensor(
            self.compute_output_shape(inputs.shape),
            dtype=self.compute_dtype,
            ragged=getattr(inputs, "ragged", False),
        )

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
class GatherEmbedding(keras.layers.Embedding):
    """``keras.layers.Embedding`` whose lookup gathers rows from the variable itself.

    Keras's ``Embedding.call`` is ``ops.take(self.embeddings, ids)``: on TensorFlow the
    variable is first converted to a tensor (a ``ReadVariableOp``, a read of the whole
    ``input_dim × output_dim`` table) and the rows are then taken from that tensor
    (``GatherV2``). Once the variable has been used by a sparse op (a ``ResourceGather``,
    or the ``ResourceScatter*`` update that plain SGD or
    :class:`embedtut.optimizers.LazyAdam` makes from an ``IndexedSlices`` gradient),
    TensorFlow keeps it in *copy-on-read* mode: every later full read copies the whole
    buffer, so each forward pass, and ``predict``, costs ``O(V·d)`` instead of
    ``O(n·d)`` for ``n`` ids. The book measures this in chapter 3, section
    ``ch3-copy-on-read``. This layer's ``call`` is ``tf.gather(variable, ids)``, a single
    ``ResourceGather`` op that copies only the ``n`` rows it needs; its gradient with
    respect to the table is still a ``tf.IndexedSlices`` of the looked-up rows.

    The constructor is ``keras.layers.Embedding``'s, and given the same table the layer
    returns the same outputs and masks (``mask_zero``) as ``Embedding``: for integer or
    float ids (floats are cast to ``int32``, i.e. truncated, as Keras does), for
    ``tf.RaggedTensor`` ids (ragged output) and for ``tf.SparseTensor`` ids (densified
    first, so a missing entry is id 0, as in Keras); for dense ids the gradients and
    the training steps are the same too. Negative ids
    ``-input_dim <= id < 0`` wrap to ``id + input_dim`` as in Keras (one elementwise pass
    over the ids, never over the table). Other out-of-range ids behave as Keras's
    ``Embedding`` does on TensorFlow: ``InvalidArgumentError`` on a CPU, clamped to the
    first or last row under XLA (``jit_compile=True``); on a GPU, ``tf.gather``'s
    documentation says they give rows of zeros (the tests run on a CPU only).

    Under mixed precision (``dtype="mixed_float16"``) the table stays float32, the rows
    are gathered in float32 and cast to the compute dtype (Keras's ``Embedding`` casts
    the whole table to float16 first); the outputs are the same. The table is created
    with ``autocast=False``: code that reads ``layer.embeddings`` inside another layer's
    mixed-precision call (a tied output layer, say) gets the float32 table, where with
    ``Embedding`` it would get a float16 copy.

    What it gives up: it works on the TensorFlow backend only (constructing it under
    another backend raises ``ValueError``; use ``keras.layers.Embedding`` there), and it
    has neither LoRA (``lora_rank``, ``lora_alpha``, ``enable_lora``) nor the quantized
    ``int8``/``int4``/... variants (``quantization_config``, ``quantize``, quantized
    dtype policies): those compute the table from several variables, and this layer's
    lookup gathers from its one float variable. They raise ``ValueError`` (constructor
    arguments) or ``NotImplementedError`` (methods; ``Model.quantize`` turns that into a
    warning and leaves the layer as it is). Use ``keras.layers.Embedding`` for them.

    Args:
        input_dim: number of rows (the largest id plus one).
        output_dim: length of each row.
        embeddings_initializer: initializer of the table (default ``"uniform"``).
        embeddings_regularizer: optional regularizer of the table (it reads the whole
            table at every step).
        embeddings_constraint: optional constraint applied after each update.
        mask_zero: emit a mask that is ``False`` where the id is 0.
        weights: optional initial table, as in ``keras.layers.Embedding``.
        lora_rank: must be ``None`` (LoRA is not supported).
        lora_alpha: must be ``None`` (LoRA is not supported).
        quantization_config: must be ``None`` (quantization is not supported).
        **kwargs: the usual ``keras.layers.Layer`` arguments (``name``, ``dtype``...).

    Raises:
        ValueError: the Keras backend is not TensorFlow; LoRA or quantization was asked
            for; ``input_dim`` or ``output_dim`` is not a positive integer.
    """

    def __init__(
        self,
        input_dim: int,
        output_dim: int,
        embeddings_initializer="uniform",
        embeddings_regularizer=None,
        embeddings_constraint=None,
        mask_zero: bool = False,
        weights=None,
        lora_rank: int | None = None,
        lora_alpha: float | None = None,
        quantization_config=None,
        **kwargs,
    ):
        backend = keras.backend.backend()
        if backend != "tensorflow":
            raise ValueError(
                f"GatherEmbedding gathers from a TensorFlow resource variable and needs the "
                f"TensorFlow backend, but Keras runs on {backend!r}: use "
                "keras.layers.Embedding there."
            )
        if lora_rank is not None or lora_alpha is not None:
            raise ValueError(_NO_LORA)
        if quantization_config is not None:
            raise ValueError(_NO_QUANTIZATION)
        super().__init__(
            input_dim,
            output_dim,
            embeddings_initializer=embeddings_initializer,
            embeddings_regularizer=embeddings_regularizer,
            embeddings_constraint=embeddings_constraint,
            mask_zero=mask_zero,
            weights=weights,
            **kwargs,
        )
        if self.quantization_mode is not None:
            raise ValueError(f"{_NO_QUANTIZATION} Got dtype={self.dtype_policy.name!r}.")

    def build(self, input_shape=None):
        if self.built:
            return
        if self.quantization_mode is not None:
            raise ValueError(f"{_NO_QUANTIZATION} Got dtype={self.dtype_policy.name!r}.")
        self._embeddings = self.add_weight(
            shape=(self.input_dim, self.output_dim),
            initializer=self.embeddings_initializer,
            name="embeddings",
            regularizer=self.embeddings_regularizer,
            constraint=self.embeddings_constraint,
            trainable=True,
            autocast=False,  # never cast the whole table: the gathered rows are cast
        )
        self.built = True

    def call(self, inputs):
        import tensorflow as tf

        ids = inputs
        if isinstance(ids, tf.SparseTensor):
            ids = tf.sparse.to_dense(ids)  # a missing entry is id 0, as in Keras
        if keras.backend.standardize_dtype(ids.dtype) not in ("int32", "int64"):
            ids = tf.cast(ids, "int32")
        # the tf.Variable itself (a tensor inside a stateless scope): never read whole
        table = self._embeddings.value

        def gather(flat_ids):
            wrapped = tf.where(flat_ids < 0, flat_ids + self.input_dim, flat_ids)
            return tf.gather(table, wrapped)

        if isinstance(ids, tf.RaggedTensor):
            outputs = tf.ragged.map_flat_values(gather, ids)
        else:
            outputs = gather(ids)
        return tf.cast(outputs, self.compute_dtype)

    def enable_lora(self, *args, **kwargs):
        """Refused: LoRA is not supported (see the class docstring)."""
        raise NotImplementedError(_NO_LORA)

    def quantize(self, mode=None, type_check=True, config=None):
        """Refused: quantization is not supported (see the class docstring)."""
        raise NotImplementedError(_NO_QUANTIZATION)

    def quantized_build(self, embeddings_shape, mode, config=None):
        """Refused: quantization is not supported (see the class docstring)."""
        raise NotImplementedError(_NO_QUANTIZATION)


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
