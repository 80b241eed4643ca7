"""Bag-of-embeddings classifiers: the smallest model that trains an embedding table.

A review becomes the *average* of its token vectors (padding excluded by the mask),
then one sigmoid unit reads the sentiment off that average. The model has almost no
parameters outside the embedding layer, so what it learns is mostly *in* the table:
exactly what chapters 4 and 5 need to compare embedding layers with each other.

* :class:`MaskedAveragePooling1D` averages over the unmasked steps only; unlike
  ``keras.layers.GlobalAveragePooling1D`` it returns zeros, not ``NaN``, for a row whose
  every step is masked (an empty review).
* :func:`bag_of_embeddings` wraps *any* embedding layer (``keras.layers.Embedding`` with
  ``mask_zero=True``, or a layer of :mod:`embedtut.hashing` / :mod:`embedtut.subwords`
  that takes strings) into a compiled binary classifier.
* :func:`pooled_classifier` is the common case: a fresh ``keras.layers.Embedding`` of
  ``input_dim`` rows, id 0 reserved for padding.
* :func:`rank_batches` (and :func:`string_batches`) batch a padded rank matrix so that
  models fed ids, bucket ids or strings all read the same batches in the same order;
  :func:`fit_and_evaluate` trains and scores one model, seeded.
"""

from __future__ import annotations

import keras
from keras import ops


@keras.saving.register_keras_serializable(package="embedtut")
class MaskedAveragePooling1D(keras.layers.Layer):
    """Mean over the time axis of ``(batch, steps, features)``, skipping masked steps.

    Without a mask every step counts. A row with no unmasked step averages to zeros.
    The output carries no mask.
    """

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.supports_masking = True

    def call(self, inputs, mask=None):
        if mask is None:
            return ops.mean(inputs, axis=1)
        weights = ops.expand_dims(ops.cast(mask, inputs.dtype), -1)
        total = ops.sum(inputs * weights, axis=1)
        count = ops.sum(weights, axis=1)
        return total / ops.maximum(count, 1.0)

    def compute_mask(self, inputs, mask=None):
        return None

    def compute_output_shape(self, input_shape):
        return (input_shape[0], input_shape[2])


def bag_of_embeddings(
    embedding: keras.layers.Layer,
    *,
    sequence_length: int | None = None,
    input_dtype: str = "int32",
    dropout: float = 0.0,
    learning_rate: float = 1e-2,
    name: str = "bag_of_embeddings",
) -> keras.Model:
    """Token ids (or strings) -> ``embedding`` -> masked mean -> one sigmoid unit.

    Args:
        embedding: the layer that turns a ``(batch, steps)`` input into
            ``(batch, steps, dim)`` vectors. It should emit a mask for padding
            (``keras.layers.Embedding(..., mask_zero=True)`` does); without one, padding
            vectors are averaged in.
        sequence_length: fixed number of steps, or ``None`` for any length.
        input_dtype: ``"int32"`` for ids, ``"string"`` for the string-input layers of
            :mod:`embedtut.hashing` and :mod:`embedtut.subwords`.
        dropout: dropout rate on the pooled vector (0 for none).
        learning_rate: Adam's learning rate. A bag of embeddings learns slowly at Keras's
            default 1e-3, so the default here is 1e-2.
        name: the model's name.

    Returns:
        A ``keras.Model`` compiled with Adam, binary cross-entropy and accuracy; its output
        is ``P(positive)`` of shape ``(batch, 1)``.
    """
    if not isinstance(embedding, keras.layers.Layer):
        raise ValueError(
            f"embedding must be a keras Layer (e.g. keras.layers.Embedding), "
            f"not {type(embedding).__name__}"
        )
    if not 0.0 <= dropout < 1.0:
        raise ValueError(f"dropout must be in [0, 1), not {dropout!r}")
    if learning_rate <= 0:
        raise ValueError(f"learning_rate must be positive, not {learning_rate!r}")
    inputs = keras.Input(shape=(sequence_length,), dtype=input_dtype, name="tokens")
    x = embedding(inputs)
    x = MaskedAveragePooling1D(name="masked_mean")(x)
    if dropout:
        x = keras.layers.Dropout(dropout, name="dropout")(x)
    outputs = keras.layers.Dense(1, activation="sigmoid", name="sentiment")(x)
    model = keras.Model(inputs, outputs, name=name)
    model.compile(
        optimizer=keras.optimizers.Adam(learning_rate),
        loss="binary_crossentropy",
        metrics=["accuracy"],
    )
    return model


def pooled_classifier(
    input_dim: int,
    output_dim: int = 16,
    *,
    sequence_length: int | None = None,
    dropout: float = 0.0,
    learning_rate: float = 1e-2,
    name: str = "bag_of_embeddings",
) -> keras.Model:
    """A :func:`bag_of_embeddings` model over a new ``keras.layers.Embedding``.

    Args:
        input_dim: rows of the table; ids must lie in ``[0, input_dim)`` and id 0 is
            padding (``mask_zero=True``), as in :func:`embedtut.sequences.load_imdb`.
        output_dim: vector size.
        sequence_length, dropout, learning_rate, name: as in :func:`bag_of_embeddings`.

    Returns:
        The compiled model; its embedding layer is ``model.get_layer("embedding")``.
    """
    for label, value in (("input_dim", input_dim), ("output_dim", output_dim)):
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise ValueError(f"{label} must be a positive integer, not {value!r}")
    if input_dim < 2:
        raise ValueError("input_dim must be at least 2: id 0 is reserved for padding")
    embedding = keras.layers.Embedding(input_dim, output_dim, mask_zero=True, name="embedding")
    return bag_of_embeddings(
        embedding,
        sequence_length=sequence_length,
        dropout=dropout,
        learning_rate=learning_rate,
        name=name,
    )


def rank_batches(
    ranks,
    labels,
    *,
    lookup=None,
    batch_size: int = 1024,
    shuffle_seed: int | None = None,
):
    """A ``tf.data.Dataset`` of ``(inputs, labels)`` batches from a padded rank matrix.

    Every model of a comparison can read the *same* batches in the *same* order: the
    reviews are shuffled (``shuffle_seed``) and batched as integer ranks first, and only
    then is each batch mapped through ``lookup`` (``tf.gather``), so two datasets built
    from the same ranks, labels, batch size and seed differ only in what a rank becomes.

    Args:
        ranks: ``(n, steps)`` integers in ``[0, len(lookup))``; 0 is padding.
        labels: ``n`` labels.
        lookup: what rank ``r`` becomes, ``lookup[r]``: a 1-D array of strings (the words,
            with ``""`` at 0) or of integers (e.g. bucket ids, with 0 at 0). ``None``
            keeps the ranks.
        batch_size: reviews per batch.
        shuffle_seed: shuffle the reviews every epoch with this seed (``None``: keep
            order). The order of each epoch is fixed by the seed (and TensorFlow's global
            seed, which :func:`fit_and_evaluate` sets).
    """
    import numpy as np
    import tensorflow as tf

    ranks = np.asarray(ranks)
    if ranks.ndim != 2 or not np.issubdtype(ranks.dtype, np.integer):
        raise ValueError(f"ranks must be a 2-D integer array, got {ranks.dtype} {ranks.shape}")
    if len(labels) != len(ranks):
        raise ValueError(f"got {len(ranks)} rows of ranks but {len(labels)} labels")
    if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
        raise ValueError(f"batch_size must be a positive integer, not {batch_size!r}")
    table = None
    if lookup is not None:
        lookup = np.asarray(lookup)
        if lookup.ndim != 1:
            raise ValueError(f"lookup must be 1-D, got shape {lookup.shape}")
        if lookup.dtype.kind in "OUS":
            table = tf.constant([str(w).encode("utf-8") for w in lookup], dtype=tf.string)
        else:
            table = tf.constant(lookup)
        if ranks.size and (ranks.min() < 0 or ranks.max() >= len(lookup)):
            raise ValueError(f"ranks must lie in [0, {len(lookup)}): lookup has that many rows")
    data = tf.data.Dataset.from_tensor_slices((ranks, np.asarray(labels)))
    if shuffle_seed is not None:
        data = data.shuffle(len(ranks), seed=shuffle_seed, reshuffle_each_iteration=True)
    data = data.batch(batch_size)
    if table is not None:
        data = data.map(lambda x, y: (tf.gather(table, x), y))
    return data.prefetch(tf.data.AUTOTUNE)


def string_batches(
    ranks,
    labels,
    words,
    *,
    batch_size: int = 1024,
    shuffle_seed: int | None = None,
):
    """A ``tf.data.Dataset`` of ``(token strings, labels)`` batches from a rank matrix.

    String-input layers (:mod:`embedtut.hashing`, :mod:`embedtut.subwords`) need words, not
    ids. Keeping the data as integer ranks and looking the strings up batch by batch
    (``tf.gather`` on the vocabulary) is much lighter than one big string array. This is
    :func:`rank_batches` with ``lookup = [""] + words``, so its batches are those of any
    other :func:`rank_batches` dataset with the same ranks, batch size and seed.

    Args:
        ranks: ``(n, steps)`` integers; 0 is padding (becomes ``""``), ``r`` is
            ``words[r - 1]``, e.g. ``load_imdb(index_from=0, start_char=None,
            oov_char=None, maxlen=...)``.
        labels: ``n`` labels.
        words: the vocabulary by rank (e.g. :func:`embedtut.sequences.vocabulary`).
        batch_size: reviews per batch (1,024, the batch size of :func:`fit_and_evaluate`
            on arrays).
        shuffle_seed: shuffle the reviews every epoch with this seed (``None``: keep order).
    """
    import numpy as np

    lookup = np.asarray([""] + [str(w) for w in words], dtype=object)
    ranks = np.asarray(ranks)
    if ranks.size and np.issubdtype(ranks.dtype, np.integer):
        if ranks.min() < 0 or ranks.max() > len(words):
            raise ValueError(f"ranks must lie in [0, {len(words)}] (0 = padding, r = words[r - 1])")
    return rank_batches(
        ranks, labels, lookup=lookup, batch_size=batch_size, shuffle_seed=shuffle_seed
    )


def fit_and_evaluate(
    model,
    train,
    test,
    *,
    epochs: int = 3,
    batch_size: int = 1024,
    seed: int = 42,
) -> tuple[keras.Model, dict[str, float]]:
    """Seed, train ``model`` on ``train``, evaluate on ``test``; report accuracy and time.

    ``train`` and ``test`` are ``(x, y)`` pairs of arrays or ``tf.data`` datasets (from
    :func:`rank_batches` or :func:`string_batches`), or zero-argument functions that
    return one. ``model`` may be a model or a zero-argument function that builds one.
    Functions are called after seeding (``keras.utils.set_random_seed``), so the initial
    weights, a dataset's shuffle order (which also depends on TensorFlow's global seed)
    and therefore the result do not depend on what ran before. ``seconds`` is wall time
    for training: machine-dependent.

    Returns:
        ``(model, metrics)``: the trained model and ``{"accuracy": test accuracy,
        "train_accuracy": last epoch's, "seconds": training time}``.
    """
    import time

    keras.utils.set_random_seed(seed)
    if not isinstance(model, keras.Model):
        model = model()
    if callable(train) and not isinstance(train, tuple):
        train = train()
    if callable(test) and not isinstance(test, tuple):
        test = test()
    # a dataset shuffles itself (string_batches(shuffle_seed=...)); arrays are shuffled by fit
    fit_kw = {"shuffle": False} if not isinstance(train, tuple) else {"batch_size": batch_size}
    args = (train,) if not isinstance(train, tuple) else train
    start = time.perf_counter()
    history = model.fit(*args, epochs=epochs, verbose=0, **fit_kw)
    seconds = time.perf_counter() - start
    eval_args = (test,) if not isinstance(test, tuple) else test
    eval_kw = {} if not isinstance(test, tuple) else {"batch_size": batch_size}
    _, accuracy = model.evaluate(*eval_args, verbose=0, **eval_kw)
    return model, {
        "accuracy": float(accuracy),
        "train_accuracy": float(history.history["accuracy"][-1]),
        "seconds": seconds,
    }
