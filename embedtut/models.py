"""The IMDB models of chapter 5, from the classic Embedding + Flatten to a fast n-gram bag.

* :func:`classic_model` is the example readers know, in Keras 3 spelling:
  ``Embedding(10000, 128)`` over 500 pre-padded ids, ``Flatten``, one sigmoid unit,
  Adam and binary cross-entropy.
* :func:`pooled_model` replaces ``Flatten`` by a masked average
  (:func:`embedtut.classifiers.pooled_classifier`): one vector per review whatever its
  length, and a word counts the same wherever it stands.
* :func:`fasttext_model` is the bag of hashed n-grams of Joulin et al. (2017): ragged ids
  from :mod:`embedtut.ngrams` -> :class:`embedtut.ngrams.EmbeddingBag` (mean) -> one
  sigmoid unit, trained with :class:`embedtut.optimizers.LazyAdam` so that a step only
  touches the rows of the batch.
* :data:`BEST` and :func:`best_model` fix the configuration of the best model the chapter
  found; :func:`build_fasttext` builds any configuration (:func:`table_rows` sizes its
  table: no bucket rows for unigrams); :func:`train_fasttext` trains and tests any
  configuration end to end (used by the notebook and by ``benchmarks/best_model.py``).
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import keras

from embedtut.ngrams import EmbeddingBag


def _positive(value, what: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError(f"{what} must be a positive integer, not {value!r}")
    return value


def classic_model(
    num_words: int = 10_000, maxlen: int = 500, output_dim: int = 128
) -> keras.Sequential:
    """``Embedding(num_words, output_dim)`` -> ``Flatten`` -> ``Dense(1, sigmoid)``, compiled.

    ``keras.Input(shape=(maxlen,), dtype="int32")`` replaces Keras 2's
    ``input_length=maxlen`` argument. Parameters: ``num_words * output_dim`` in the table
    plus ``maxlen * output_dim + 1`` in the dense layer. Compiled with Adam (Keras's
    defaults), binary cross-entropy and accuracy, as in the example.
    """
    _positive(num_words, "num_words")
    _positive(maxlen, "maxlen")
    _positive(output_dim, "output_dim")
    model = keras.Sequential(
        [
            keras.Input(shape=(maxlen,), dtype="int32"),
            keras.layers.Embedding(num_words, output_dim, name="embedding"),
            keras.layers.Flatten(name="flatten"),
            keras.layers.Dense(1, activation="sigmoid", name="sentiment"),
        ],
        name="classic",
    )
    model.compile(optimizer="adam", loss="binary_crossentropy", metrics=["accuracy"])
    return model


def pooled_model(
    num_words: int = 10_000,
    output_dim: int = 16,
    *,
    maxlen: int | None = None,
    dropout: float = 0.0,
    learning_rate: float = 1e-2,
) -> keras.Model:
    """``Embedding(mask_zero=True)`` -> masked average -> ``Dense(1, sigmoid)``, compiled.

    A thin wrapper of :func:`embedtut.classifiers.pooled_classifier` (Adam at
    ``learning_rate``); id 0 is padding and never enters the average.
    """
    from embedtut.classifiers import pooled_classifier

    return pooled_classifier(
        _positive(num_words, "num_words"),
        _positive(output_dim, "output_dim"),
        sequence_length=maxlen,
        dropout=dropout,
        learning_rate=learning_rate,
        name="pooled",
    )


def fasttext_model(
    input_dim: int,
    output_dim: int = 32,
    *,
    learning_rate: float = 3e-3,
    dropout: float = 0.0,
    token_dropout: float = 0.0,
    combiner: str = "mean",
    name: str = "fasttext",
) -> keras.Model:
    """Ragged n-gram ids -> :class:`EmbeddingBag` -> (dropout) -> ``Dense(1, sigmoid)``.

    Args:
        input_dim: rows of the table (:func:`embedtut.ngrams.num_ids`).
        output_dim: vector size.
        learning_rate: :class:`embedtut.optimizers.LazyAdam`'s learning rate.
        dropout: dropout rate on the averaged vector (0 for none).
        token_dropout: probability of dropping each id of a bag during training.
        combiner: how the bag is reduced (see :class:`EmbeddingBag`).
        name: the model's name.

    Returns:
        A compiled model (binary cross-entropy, accuracy) taking a ``tf.RaggedTensor`` of
        ids; its table is ``model.get_layer("bag").embeddings``.
    """
    from embedtut.optimizers import LazyAdam

    if not 0.0 <= dropout < 1.0:
        raise ValueError(f"dropout must be in [0, 1), not {dropout!r}")
    if learning_rate <= 0:
        raise ValueError(f"learning_rate must be positive, not {learning_rate!r}")
    inputs = keras.Input(shape=(None,), dtype="int32", ragged=True, name="ngrams")
    x = EmbeddingBag(
        _positive(input_dim, "input_dim"),
        _positive(output_dim, "output_dim"),
        combiner=combiner,
        token_dropout=token_dropout,
        name="bag",
    )(inputs)
    if dropout:
        x = keras.layers.Dropout(dropout, name="dropout")(x)
    outputs = keras.layers.Dense(1, activation="sigmoid", name="sentiment")(x)
    model = keras.Model(inputs, outputs, name=name)
    model.compile(
        optimizer=LazyAdam(learning_rate),
        loss="binary_crossentropy",
        metrics=["accuracy"],
    )
    return model


@dataclass(frozen=True)
class FastTextConfig:
    """Everything that defines one n-gram bag run (features, model, training)."""

    ngram: int = 2
    num_buckets: int = 2**21
    binary: bool = False
    combiner: str = "mean"
    output_dim: int = 32
    learning_rate: float = 3e-3
    dropout: float = 0.0
    token_dropout: float = 0.0
    epochs: int = 3
    batch_size: int = 32


#: fastText with words only (Joulin et al. 2017's unigram model), epochs chosen on validation.
UNIGRAMS = FastTextConfig(ngram=1, epochs=3)

#: fastText with words and hashed bigrams, epochs chosen on validation.
BIGRAMS = FastTextConfig(ngram=2, num_buckets=2**21, epochs=4)

#: The best embedding-only configuration found in chapter 5 (chosen on a validation split):
#: words + hashed bi- and trigrams, each counted once per review, 30% of them dropped at
#: random in every training step.
BEST = FastTextConfig(
    ngram=3,
    num_buckets=2**23,
    binary=True,
    output_dim=16,
    learning_rate=3e-3,
    token_dropout=0.3,
    epochs=5,
)


def table_rows(config: FastTextConfig, vocab_size: int) -> int:
    """Rows the n-gram bag's table needs for ``config``: words, padding and, if used, buckets.

    A unigram model (``ngram=1``) reads no hashed bucket, so it gets no bucket rows, whatever
    ``config.num_buckets`` says (a table of ``2**21`` rows nobody reads is wasted memory).
    """
    from embedtut.ngrams import num_ids

    buckets = config.num_buckets if config.ngram > 1 else 0
    return num_ids(_positive(vocab_size, "vocab_size"), buckets)


def build_fasttext(
    config: FastTextConfig, vocab_size: int, *, name: str = "fasttext"
) -> keras.Model:
    """:func:`fasttext_model` built and compiled as ``config`` says, for ``vocab_size`` words.

    The table has :func:`table_rows` rows. :func:`train_fasttext` and :func:`best_model`
    both build their model here, so the two cannot drift apart.
    """
    return fasttext_model(
        table_rows(config, vocab_size),
        config.output_dim,
        learning_rate=config.learning_rate,
        dropout=config.dropout,
        token_dropout=config.token_dropout,
        combiner=config.combiner,
        name=name,
    )


def best_model(vocab_size: int) -> keras.Model:
    """:func:`build_fasttext` of :data:`BEST` for a ``vocab_size``-word vocabulary.

    Its table has ``vocab_size + 1 + 2**23`` rows of 16 floats (over 500 MB).
    """
    return build_fasttext(BEST, vocab_size, name="best")


@dataclass(frozen=True)
class RunResult:
    """What :func:`train_fasttext` measured, and the trained model."""

    accuracy: float
    seconds: float
    params: int
    model: keras.Model


def train_fasttext(
    config: FastTextConfig = BEST,
    *,
    seed: int = 42,
    source=None,
    per_class: int | None = None,
) -> RunResult:
    """Build features, train on the 25,000 training reviews, test once on the 25,000 others.

    Features come from :func:`embedtut.sequences.tokenized` (the full vocabulary, whole
    reviews) and :func:`embedtut.ngrams.ngram_ids`. ``seconds`` is the wall time of
    ``model.fit`` only (machine-dependent); ``params`` counts every weight.
    """
    from embedtut.ngrams import ngram_ids, ragged_batches, to_ragged
    from embedtut.sequences import tokenized, vocabulary

    kw = {"source": source} if per_class is None else {"source": source, "per_class": per_class}
    vocab_size = len(vocabulary(**kw)[0])
    data = {}
    for split in ("train", "test"):
        tokens = tokenized(split, **kw)
        ids, offsets = ngram_ids(
            tokens.ranks,
            tokens.offsets,
            vocab_size=vocab_size,
            num_buckets=config.num_buckets,
            ngram=config.ngram,
            binary=config.binary,
        )
        data[split] = (to_ragged(ids, offsets), tokens.labels)
    keras.utils.set_random_seed(seed)
    model = build_fasttext(config, vocab_size)
    train = ragged_batches(*data["train"], batch_size=config.batch_size, shuffle_seed=seed)
    test = ragged_batches(*data["test"], batch_size=1000)
    start = time.perf_counter()
    model.fit(train, epochs=config.epochs, verbose=0, shuffle=False)  # the dataset shuffles
    seconds = time.perf_counter() - start
    _, accuracy = model.evaluate(test, verbose=0)
    return RunResult(float(accuracy), seconds, int(model.count_params()), model)
