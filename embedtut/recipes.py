"""Chapter 5's two IMDB models with one recipe changed: dropout, batch norm, initialisation.

:func:`recipe_model` builds either model of :mod:`embedtut.models` layer by layer, with
the same layer names and the same compilation, and lets one "recipe" be slotted in:

* ``"flatten"``: ``Embedding`` -> ``Flatten`` -> ``Dense(1, sigmoid)``, Adam at Keras's
  default learning rate, as :func:`embedtut.models.classic_model`;
* ``"pooled"``: ``Embedding(mask_zero=True)`` -> masked mean -> ``Dense(1, sigmoid)``, Adam
  at 1e-2, as :func:`embedtut.models.pooled_model`.

With every option at its default the model is the same as the chapter 5 builder's, weight
for weight under the same seed (``tests/test_recipes.py`` checks it).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import keras

from embedtut.classifiers import MaskedAveragePooling1D

LayerMaker = Callable[[], keras.layers.Layer]


def recipe_model(
    kind: str,
    num_words: int = 10_000,
    output_dim: int = 16,
    *,
    maxlen: int = 200,
    before_lookup: Sequence[LayerMaker] = (),
    after_embedding: Sequence[LayerMaker] = (),
    after_flatten: Sequence[LayerMaker] = (),
    hidden: int = 0,
    embeddings_initializer="uniform",
    trainable: bool = True,
    learning_rate: float | None = None,
) -> keras.Model:
    """One of chapter 5's models, with layers added and the table's start changed.

    Args:
        kind: ``"flatten"`` or ``"pooled"``.
        num_words: rows of the table (ids in ``[0, num_words)``, 0 = padding).
        output_dim: numbers per row.
        maxlen: ids per review.
        before_lookup: functions making layers applied to the ids (e.g.
            :class:`embedtut.dropout.TokenDropout`).
        after_embedding: functions making layers applied to the ``(batch, maxlen, d)``
            vectors (e.g. ``SpatialDropout1D``, ``BatchNormalization``).
        after_flatten: layers applied to the flattened (or pooled) vector.
        hidden: if positive, a ``Dense(hidden, relu)`` layer before the output unit (a
            deeper model).
        embeddings_initializer: the table's initializer (Keras's default ``"uniform"``),
            or an array of shape ``(num_words, output_dim)`` to start from.
        trainable: ``False`` freezes the table.
        learning_rate: Adam's; default 1e-3 for ``"flatten"`` (Keras's default, as the
            classic example) and 1e-2 for ``"pooled"`` (as chapter 5).

    Returns:
        A compiled model (binary cross-entropy, accuracy); the table is
        ``model.get_layer("embedding").embeddings``.
    """
    if kind not in ("flatten", "pooled"):
        raise ValueError(f"kind must be 'flatten' or 'pooled', not {kind!r}")
    for label, value in (("num_words", num_words), ("output_dim", output_dim), ("maxlen", maxlen)):
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise ValueError(f"{label} must be a positive integer, not {value!r}")
    if isinstance(hidden, bool) or not isinstance(hidden, int) or hidden < 0:
        raise ValueError(f"hidden must be a non-negative integer, not {hidden!r}")
    if learning_rate is None:
        learning_rate = 1e-3 if kind == "flatten" else 1e-2
    if learning_rate <= 0:
        raise ValueError(f"learning_rate must be positive, not {learning_rate!r}")
    init = embeddings_initializer
    if hasattr(init, "shape") and not isinstance(init, keras.initializers.Initializer):
        if tuple(init.shape) != (num_words, output_dim):
            raise ValueError(f"initial table has shape {init.shape}, not {(num_words, output_dim)}")
        init = keras.initializers.Constant(init)
    inputs = keras.Input(shape=(maxlen,), dtype="int32", name="tokens")
    x = inputs
    for make in before_lookup:
        x = make()(x)
    embedding = keras.layers.Embedding(
        num_words,
        output_dim,
        embeddings_initializer=init,
        mask_zero=kind == "pooled",
        trainable=trainable,
        name="embedding",
    )
    x = embedding(x)
    for make in after_embedding:
        x = make()(x)
    if kind == "flatten":
        x = keras.layers.Flatten(name="flatten")(x)
    else:
        x = MaskedAveragePooling1D(name="masked_mean")(x)
    for make in after_flatten:
        x = make()(x)
    if hidden:
        x = keras.layers.Dense(hidden, activation="relu", name="hidden")(x)
    outputs = keras.layers.Dense(1, activation="sigmoid", name="sentiment")(x)
    model = keras.Model(inputs, outputs, name=kind)
    model.compile(
        optimizer=keras.optimizers.Adam(learning_rate),
        loss="binary_crossentropy",
        metrics=["accuracy"],
    )
    return model
