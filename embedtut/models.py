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
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import NamedTuple

import keras
import numpy as np

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
    weighted: bool = False,
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
        weighted: give the bag fixed per-id weights (``EmbeddingBag(weighted=True)``),
            all 1 until they are assigned.
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
        weighted=weighted,
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
    #: weigh each id's vector by |naive Bayes log-count ratio| of its n-gram, computed
    #: on the training reviews (:func:`naive_bayes_weights`), as NBSVM scales its features
    nb_weights: bool = False
    #: self-training on the 50,000 unlabelled reviews: a first model (``teacher_epochs``
    #: epochs) labels them, those it scores outside ``0.5 ± pseudo_label_margin`` join
    #: the training reviews with its labels, and the model is trained again on both
    #: (``None``: no self-training)
    pseudo_label_margin: float | None = None
    teacher_epochs: int = 2


#: fastText with words only (Joulin et al. 2017's unigram model), epochs chosen on validation.
UNIGRAMS = FastTextConfig(ngram=1, epochs=3)

#: fastText with words and hashed bigrams, epochs chosen on validation.
BIGRAMS = FastTextConfig(ngram=2, num_buckets=2**21, epochs=4)

#: The best embedding-only configuration, chosen by ``benchmarks/select_best.py`` on a
#: movie-grouped validation split (its CSV is ``benchmarks/results/select_best.csv``): words
#: + hashed bi- and trigrams in 2**23 buckets, each counted once per review and weighted by
#: its naive Bayes log-count ratio, summed and divided by the square root of their number,
#: 30% of them dropped at random in every training step, 4 numbers per row; trained on the
#: 25,000 training reviews plus the unlabelled reviews a first model (2 epochs) scores
#: below 0.1 or above 0.9, with that model's labels.
BEST = FastTextConfig(
    ngram=3,
    num_buckets=2**23,
    binary=True,
    combiner="sqrtn",
    output_dim=4,
    learning_rate=3e-3,
    token_dropout=0.3,
    epochs=3,
    nb_weights=True,
    pseudo_label_margin=0.4,
    teacher_epochs=2,
)


def table_rows(config: FastTextConfig, vocab_size: int) -> int:
    """Rows the n-gram bag's table needs for ``config``: words, padding and, if used, buckets.

    A unigram model (``ngram=1``) reads no hashed bucket, so it gets no bucket rows, whatever
    ``config.num_buckets`` says (a table of ``2**21`` rows nobody reads is wasted memory).
    """
    from embedtut.ngrams import num_ids

    buckets = config.num_buckets if config.ngram > 1 else 0
    return num_ids(_positive(vocab_size, "vocab_size"), buckets)


def presence_counts(reviews: NgramReviews, rows: int) -> np.ndarray:
    """How many positive (row 0) and negative (row 1) reviews hold each id.

    Each review counts once per id, however often the id occurs in it (presence, as
    NBSVM's binarised features). Counts of several sets of reviews add up.

    Args:
        reviews: ids, offsets and 0/1 labels (:class:`NgramReviews`).
        rows: the table's rows (:func:`table_rows`); every id must be below it.

    Returns:
        ``int32`` counts, shape ``(2, rows)``.
    """
    ids, offsets, labels = (np.asarray(a) for a in reviews)
    rows = _positive(int(rows), "rows")
    if ids.size and (ids.min() < 0 or ids.max() >= rows):
        raise ValueError(f"ids must lie in [0, {rows}), found {ids.min()}..{ids.max()}")
    if offsets.ndim != 1 or offsets[0] != 0 or offsets[-1] != len(ids):
        raise ValueError("offsets must run from 0 to len(ids), one more entry than reviews")
    if labels.shape != (len(offsets) - 1,) or not np.isin(labels, (0, 1)).all():
        raise ValueError(f"labels must be 0 or 1, one per review (got shape {labels.shape})")
    lengths = np.diff(offsets)
    distinct = ids[1:] > ids[:-1]  # sorted and distinct within each review?
    starts = offsets[1:-1][(offsets[1:-1] > 0) & (offsets[1:-1] < len(ids))]
    distinct[starts - 1] = True  # a review's first id starts afresh
    if not distinct.all():  # keep each (review, id) once
        key = np.unique(np.repeat(np.arange(len(labels), dtype=np.int64), lengths) * rows + ids)
        ids = key % rows
        lengths = np.bincount(key // rows, minlength=len(labels))
        offsets = np.concatenate(([0], np.cumsum(lengths)))
        del key
    del distinct
    counts = np.zeros((2, rows), dtype=np.int32)
    # a few thousand reviews at a time, so that no copy of all the ids is made
    for first in range(0, len(labels), _CHUNK):
        last = min(first + _CHUNK, len(labels))
        part = ids[offsets[first] : offsets[last]]
        positive = np.repeat(labels[first:last] == 1, lengths[first:last])
        counts[0] += np.bincount(part[positive], minlength=rows).astype(np.int32)
        counts[1] += np.bincount(part[~positive], minlength=rows).astype(np.int32)
    return counts


def naive_bayes_weights(counts: np.ndarray, *, alpha: float = 1.0) -> np.ndarray:
    """|naive Bayes log-count ratio| of every id, from its :func:`presence_counts`.

    ``r = log((p / |p|_1) / (q / |q|_1))`` with ``p = alpha +`` the number of positive
    reviews holding the id and ``q`` the same over negative ones (the formula of
    :func:`embedtut.nbsvm.log_count_ratio`, Wang & Manning 2012, computed here on the ids
    that occur only: a sparse copy of millions of rows would cost more memory than the
    model); ids that no review holds get 0. The sign is dropped: the table row learns
    it, the weight only says how much the id's n-gram, by itself, tells the classes apart.

    Args:
        counts: ``(2, rows)`` positive and negative review counts; both rows non-zero.
        alpha: naive Bayes smoothing, a positive number.

    Returns:
        ``float32`` weights, one per row.
    """
    counts = np.asarray(counts)
    if counts.ndim != 2 or counts.shape[0] != 2 or counts.min(initial=0) < 0:
        raise ValueError(f"counts must be (2, rows) non-negative counts, not {counts.shape}")
    if not (counts[0].any() and counts[1].any()):
        raise ValueError("counts must come from reviews of both classes, 0 and 1")
    if isinstance(alpha, bool) or not alpha > 0:
        raise ValueError(f"alpha must be a positive number, not {alpha!r}")
    seen = counts.any(axis=0)
    p = alpha + counts[0, seen]
    q = alpha + counts[1, seen]
    weights = np.zeros(counts.shape[1], dtype=np.float32)
    weights[seen] = np.abs(np.log(p / p.sum()) - np.log(q / q.sum()))
    return weights


def build_fasttext(
    config: FastTextConfig,
    vocab_size: int,
    *,
    id_weights: np.ndarray | None = None,
    name: str = "fasttext",
) -> keras.Model:
    """:func:`fasttext_model` built and compiled as ``config`` says, for ``vocab_size`` words.

    The table has :func:`table_rows` rows. A configuration with ``nb_weights`` needs
    ``id_weights`` (one per row, :func:`naive_bayes_weights` of the training reviews);
    they go into the bag's fixed ``id_weights``. :func:`train_fasttext` and
    :func:`best_model` both build their model here, so the two cannot drift apart.
    """
    rows = table_rows(config, vocab_size)
    if config.nb_weights != (id_weights is not None):
        raise ValueError(
            "pass id_weights (naive_bayes_weights of the training reviews) exactly when "
            f"config.nb_weights is set; nb_weights={config.nb_weights}, "
            f"id_weights {'given' if id_weights is not None else 'missing'}"
        )
    model = fasttext_model(
        rows,
        config.output_dim,
        learning_rate=config.learning_rate,
        dropout=config.dropout,
        token_dropout=config.token_dropout,
        combiner=config.combiner,
        weighted=config.nb_weights,
        name=name,
    )
    if id_weights is not None:
        id_weights = np.asarray(id_weights, dtype=np.float32)
        if id_weights.shape != (rows,):
            raise ValueError(f"id_weights must have shape ({rows},), not {id_weights.shape}")
        model.get_layer("bag").id_weights.assign(id_weights)
    return model


def best_model(vocab_size: int, id_weights: np.ndarray | None = None) -> keras.Model:
    """:func:`build_fasttext` of :data:`BEST` for a ``vocab_size``-word vocabulary.

    ``id_weights`` as :func:`build_fasttext` needs them when ``BEST.nb_weights`` is set.
    """
    return build_fasttext(BEST, vocab_size, id_weights=id_weights, name="best")


_CHUNK = 5000  # reviews hashed at a time by ngram_reviews


class NgramReviews(NamedTuple):
    """Reviews as n-gram ids: ``ids[offsets[i]:offsets[i + 1]]`` are review ``i``'s."""

    ids: np.ndarray
    offsets: np.ndarray
    labels: np.ndarray

    def take(self, rows: np.ndarray) -> NgramReviews:
        """The reviews at ``rows`` (in that order), as a new :class:`NgramReviews`."""
        rows = np.asarray(rows, dtype=np.int64)
        lengths = np.diff(self.offsets)[rows]
        offsets = np.concatenate(([0], np.cumsum(lengths))).astype(self.offsets.dtype)
        starts = np.repeat(self.offsets[rows] - offsets[:-1], lengths)
        return NgramReviews(self.ids[starts + np.arange(offsets[-1])], offsets, self.labels[rows])

    def concat(self, other: NgramReviews) -> NgramReviews:
        """These reviews followed by ``other``'s."""
        return _concat([self, other])


def ngram_chunks(
    config: FastTextConfig, split: str, vocab_size: int, *, source=None, per_class=None
) -> Iterator[NgramReviews]:
    """:func:`ngram_reviews`, a few thousand reviews at a time, in order.

    Each chunk is hashed only when asked for, so a pass over a split never holds all of
    its ids (and the hashing's ``int64`` temporaries stay small).
    """
    from embedtut.ngrams import ngram_ids
    from embedtut.sequences import tokenized

    kw = {"source": source} if per_class is None else {"source": source, "per_class": per_class}
    tokens = tokenized(split, **kw)
    labels = np.asarray(tokens.labels, dtype=np.int64)
    for first in range(0, len(labels), _CHUNK):
        last = min(first + _CHUNK, len(labels))
        start, stop = tokens.offsets[first], tokens.offsets[last]
        ids, offsets = ngram_ids(
            tokens.ranks[start:stop],
            tokens.offsets[first : last + 1] - start,
            vocab_size=vocab_size,
            num_buckets=config.num_buckets,
            ngram=config.ngram,
            binary=config.binary,
        )
        # ids < table_rows(config, vocab_size) < 2**31
        yield NgramReviews(ids.astype(np.int32), offsets, labels[first:last])


def _concat(chunks: Iterable[NgramReviews]) -> NgramReviews:
    ids, offsets, labels = [], [np.zeros(1, dtype=np.int64)], []
    for chunk in chunks:
        ids.append(chunk.ids)
        offsets.append(chunk.offsets[1:] + offsets[-1][-1])
        labels.append(chunk.labels)
    if not labels:
        return NgramReviews(np.zeros(0, np.int32), offsets[0], np.zeros(0, np.int64))
    return NgramReviews(np.concatenate(ids), np.concatenate(offsets), np.concatenate(labels))


def ngram_reviews(
    config: FastTextConfig, split: str, vocab_size: int, *, source=None, per_class=None
) -> NgramReviews:
    """The ``split``'s reviews (:func:`embedtut.sequences.tokenized`, whole reviews, the full
    vocabulary) as the n-gram ids ``config`` asks for (:func:`embedtut.ngrams.ngram_ids`),
    ``int32``."""
    return _concat(ngram_chunks(config, split, vocab_size, source=source, per_class=per_class))


@dataclass(frozen=True)
class FitResult:
    """What :func:`fit_fasttext` measured, and the trained model."""

    model: keras.Model
    seconds: float
    validation_accuracy: tuple[float, ...]
    pseudo_labelled: int = 0


def _batches(reviews: NgramReviews, batch_size: int, shuffle_seed: int | None = None):
    from embedtut.ngrams import ragged_batches, to_ragged

    return ragged_batches(
        to_ragged(reviews.ids, reviews.offsets),
        reviews.labels,
        batch_size=batch_size,
        shuffle_seed=shuffle_seed,
    )


def pseudo_label(
    model: keras.Model,
    unlabelled: NgramReviews | Iterable[NgramReviews],
    margin: float,
) -> NgramReviews:
    """The reviews ``model`` scores outside ``0.5 ± margin``, labelled with its verdicts.

    ``unlabelled`` may come in chunks (:func:`ngram_chunks`): each is scored and dropped
    before the next, so only the kept reviews stay in memory.
    """
    if isinstance(margin, bool) or not 0 <= margin < 0.5:
        raise ValueError(f"margin must be in [0, 0.5), not {margin!r}")
    if isinstance(unlabelled, NgramReviews):
        unlabelled = [unlabelled]

    def kept():
        for chunk in unlabelled:
            scored = _batches(chunk._replace(labels=np.zeros(len(chunk.labels))), 1000)
            p = model.predict(scored, verbose=0).ravel()
            keep = np.flatnonzero(np.abs(p - 0.5) > margin)
            yield chunk.take(keep)._replace(labels=(p[keep] > 0.5).astype(np.int64))

    return _concat(kept())


def fit_fasttext(
    config: FastTextConfig,
    train: NgramReviews,
    vocab_size: int,
    *,
    seed: int,
    validation: NgramReviews | None = None,
    unlabelled: NgramReviews | Iterable[NgramReviews] | None = None,
) -> FitResult:
    """Build ``config``'s model, fit it on ``train`` for ``config.epochs`` epochs.

    Naive Bayes weights (if ``config.nb_weights``) come from the reviews the model is
    fitted on. With ``config.pseudo_label_margin``, ``unlabelled`` reviews are needed: a
    first model of the same configuration, fitted on ``train`` for
    ``config.teacher_epochs`` epochs, labels them (:func:`pseudo_label`), and the
    returned model is fitted on ``train`` plus those. With ``validation``, the returned
    model is scored on it after every epoch (those evaluations are not timed).
    ``seconds`` is the wall time of everything else: the fits, and the teacher's
    labelling of the unlabelled reviews (not the building of their ids, when they come as
    lazily hashed chunks: features are not training).
    """
    import dataclasses
    import gc

    seconds, pseudo, pseudo_labelled = 0.0, 0, None
    if config.pseudo_label_margin is not None:
        if unlabelled is None:
            raise ValueError("config.pseudo_label_margin is set: pass the unlabelled reviews")
        teacher_config = dataclasses.replace(
            config, pseudo_label_margin=None, epochs=config.teacher_epochs
        )
        teacher = fit_fasttext(teacher_config, train, vocab_size, seed=seed)
        hashing = [0.0]  # time spent building the unlabelled reviews' ids: not training

        def timed(chunks):
            chunks = iter([chunks] if isinstance(chunks, NgramReviews) else chunks)
            while True:
                start = time.perf_counter()
                chunk = next(chunks, None)
                hashing[0] += time.perf_counter() - start
                if chunk is None:
                    return
                yield chunk

        start = time.perf_counter()
        pseudo_labelled = pseudo_label(teacher.model, timed(unlabelled), config.pseudo_label_margin)
        seconds += teacher.seconds + time.perf_counter() - start - hashing[0]
        del teacher
        gc.collect()  # the teacher's table and optimizer state go before the model is built
    weights = None
    if config.nb_weights:
        rows = table_rows(config, vocab_size)
        counts = presence_counts(train, rows)
        if pseudo_labelled is not None:
            counts += presence_counts(pseudo_labelled, rows)
        weights = naive_bayes_weights(counts)
        del counts
    if pseudo_labelled is not None:
        train, pseudo = train.concat(pseudo_labelled), len(pseudo_labelled.labels)
        del pseudo_labelled
    keras.utils.set_random_seed(seed)
    model = build_fasttext(config, vocab_size, id_weights=weights)
    batches = _batches(train, config.batch_size, shuffle_seed=seed)
    scored = None if validation is None else _batches(validation, 1000)
    accuracies = []
    for _ in range(config.epochs if scored is not None else 1):
        start = time.perf_counter()
        # the dataset reshuffles itself every epoch (shuffle=False: Keras cannot shuffle it)
        epochs = 1 if scored is not None else config.epochs
        model.fit(batches, epochs=epochs, verbose=0, shuffle=False)
        seconds += time.perf_counter() - start
        if scored is not None:
            accuracies.append(float(model.evaluate(scored, verbose=0)[1]))
    return FitResult(model, seconds, tuple(accuracies), pseudo)


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
    """Train on the 25,000 training reviews (:func:`fit_fasttext`), test once on the others.

    Features come from :func:`ngram_reviews`. With ``config.pseudo_label_margin``, the
    50,000 unlabelled reviews (split ``"unsup"``) are labelled by a first model and join
    training; no test review is read before the one evaluation. ``seconds`` is the wall
    time of
    ``model.fit`` (with self-training, of both fits and the labelling, not the hashing of
    the unlabelled reviews; machine-dependent);
    ``params`` counts every trainable weight
    (the fixed naive Bayes weights of an ``nb_weights`` model are not parameters).
    """
    from embedtut.sequences import vocabulary

    kw = {"source": source} if per_class is None else {"source": source, "per_class": per_class}
    vocab_size = len(vocabulary(**kw)[0])
    train = ngram_reviews(config, "train", vocab_size, **kw)
    unlabelled = None
    if config.pseudo_label_margin is not None:
        unlabelled = ngram_chunks(config, "unsup", vocab_size, **kw)  # hashed as labelled
    fit = fit_fasttext(config, train, vocab_size, seed=seed, unlabelled=unlabelled)
    del train, unlabelled
    test = ngram_reviews(config, "test", vocab_size, **kw)
    _, accuracy = fit.model.evaluate(_batches(test, 1000), verbose=0)
    params = sum(int(np.prod(w.shape)) for w in fit.model.trainable_weights)
    return RunResult(float(accuracy), fit.seconds, params, fit.model)
