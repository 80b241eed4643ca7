"""Skip-gram with negative sampling (word2vec, Mikolov et al. 2013), in NumPy and Keras.

Keras 3's public API has no ``skipgrams`` helper (``keras.preprocessing.sequence`` has
only ``pad_sequences``). The legacy one, defined in ``keras.src.legacy`` and still
importable as ``tf.keras.preprocessing.sequence.skipgrams`` with TensorFlow 2.21, is a
Python loop over one flat sequence that draws negatives uniformly from ids
``1 .. vocabulary_size - 1``. This module makes the training pairs itself, vectorised so
that millions of tokens take seconds:

* :func:`subsample` drops frequent tokens at random, keeping a token of relative
  frequency ``f`` with probability ``min(1, sqrt(t / f))`` (the paper's rule, with
  threshold ``t``), *before* windows are formed, so windows reach further.
* :func:`noise_distribution` is the unigram distribution raised to the power 3/4, from
  which negative contexts are drawn; build it from the counts of the text *before*
  subsampling, as word2vec does.
* :func:`skipgram_pairs` makes the examples: every pair of tokens at most ``window``
  apart *within the same text* is a positive (label 1), both ways round, and each
  positive comes with ``negatives`` random contexts (label 0) for the same target.
* :func:`skipgram_model` is the Keras model: two ``Embedding`` tables (target and
  context), dot products, and one logit per (target, context) for binary
  cross-entropy.
* :func:`ranking_accuracy` scores a trained model honestly: the share of positives whose
  true context outscores every negative drawn for it (chance is ``1 / (1 + negatives)``),
  where the per-label accuracy is dominated by the negatives.
* :func:`constant_baseline_loss` is the cross-entropy of the best constant prediction,
  the loss a model that learned nothing reaches.

Where this differs from Mikolov's word2vec.c:

* A drawn negative equal to the true context is kept, labelled 0 in the same row as that
  id labelled 1; word2vec.c skips it (``if (target == word) continue;``), so that
  positive gets one negative fewer.
* The window is fixed: every pair up to ``window`` apart is a positive. word2vec.c
  draws an effective window ``b ~ U{1..window}`` at each position, so a word at
  distance ``k`` is used with probability ``(window - k + 1) / window``: near words
  weigh more.
* Subsampling is done once, before the pairs are made, and the same pairs serve every
  epoch; word2vec.c re-draws it on every pass over the corpus. It also keeps a token
  with probability ``sqrt(t / f) + t / f``, not the paper's ``sqrt(t / f)`` used here.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import keras
import numpy as np


@dataclass(frozen=True)
class SkipgramPairs:
    """Training examples, one row per positive pair.

    ``targets[i]`` is the target id; ``contexts[i, 0]`` its true context (label 1) and
    ``contexts[i, 1:]`` the negatives drawn for it (label 0); ``labels`` holds those
    labels with the same shape as ``contexts``. Grouping a positive with its negatives
    looks the target up once instead of ``1 + negatives`` times.
    """

    targets: np.ndarray
    contexts: np.ndarray
    labels: np.ndarray

    def __len__(self) -> int:
        return len(self.targets)


def _as_texts(sequences) -> list[np.ndarray]:
    if isinstance(sequences, np.ndarray) and sequences.ndim == 1:
        raise ValueError(
            "sequences must be a list of 1-D id arrays (one per text), not one flat array: "
            "windows must not cross from one text into the next. Wrap a single text as [ids]."
        )
    texts = [np.asarray(s) for s in sequences]
    for i, s in enumerate(texts):
        if s.ndim != 1 or (s.size and not np.issubdtype(s.dtype, np.integer)):
            raise ValueError(
                f"text {i} must be a 1-D array of integer ids, got {s.dtype} of shape {s.shape}"
            )
    return texts


def _check_ids(flat: np.ndarray, vocab_size: int) -> None:
    if isinstance(vocab_size, bool) or not isinstance(vocab_size, (int, np.integer)):
        raise ValueError(f"vocab_size must be a positive integer, not {vocab_size!r}")
    if vocab_size < 1:
        raise ValueError(f"vocab_size must be a positive integer, not {vocab_size!r}")
    if flat.size and (flat.min() < 0 or flat.max() >= vocab_size):
        bad = flat[(flat < 0) | (flat >= vocab_size)][0]
        raise ValueError(
            f"id {int(bad)} is outside [0, vocab_size={vocab_size}): map rare words to an "
            "ignored id (e.g. 0) or raise vocab_size"
        )


def token_counts(sequences: Sequence[np.ndarray], vocab_size: int) -> np.ndarray:
    """How often each id in ``[0, vocab_size)`` occurs in the texts."""
    texts = _as_texts(sequences)
    flat = np.concatenate(texts) if texts else np.zeros(0, np.int64)
    _check_ids(flat, vocab_size)
    return np.bincount(flat.astype(np.int64), minlength=vocab_size)


def noise_distribution(counts: np.ndarray, power: float = 0.75) -> np.ndarray:
    """Negative-sampling probabilities: ``counts ** power``, normalised.

    Ids with a zero count (e.g. an ignored padding id) get probability 0.
    """
    counts = np.asarray(counts, dtype=np.float64)
    if counts.ndim != 1 or (counts < 0).any() or counts.sum() == 0:
        raise ValueError("counts must be a 1-D array of non-negative counts, not all zero")
    weights = counts**power
    return weights / weights.sum()


def subsample(
    sequences: Sequence[np.ndarray],
    counts: np.ndarray,
    threshold: float = 1e-4,
    *,
    seed: int | np.random.Generator = 0,
) -> list[np.ndarray]:
    """Drop frequent tokens at random: keep a token with probability ``min(1, sqrt(t / f))``.

    Args:
        sequences: texts as 1-D id arrays.
        counts: corpus count of every id (see :func:`token_counts`); ``f`` is the count
            over the total.
        threshold: ``t``; words rarer than ``t`` are always kept.
        seed: an integer seed or a NumPy ``Generator``.

    Returns:
        The texts with the dropped tokens removed (same number of texts).
    """
    if not threshold > 0:
        raise ValueError(f"threshold must be positive, not {threshold!r}")
    texts = _as_texts(sequences)
    counts = np.asarray(counts, dtype=np.float64)
    freq = counts / max(counts.sum(), 1.0)
    keep = np.minimum(1.0, np.sqrt(threshold / np.maximum(freq, 1e-300)))
    rng = np.random.default_rng(seed)
    lengths = [len(s) for s in texts]
    if not sum(lengths):
        return texts
    flat = np.concatenate(texts).astype(np.int64)
    _check_ids(flat, len(counts))
    kept = rng.random(len(flat)) < keep[flat]
    text_of = np.repeat(np.arange(len(texts)), lengths)
    kept_per_text = np.bincount(text_of[kept], minlength=len(texts))
    return np.split(flat[kept], np.cumsum(kept_per_text)[:-1])


def skipgram_pairs(
    sequences: Sequence[np.ndarray],
    vocab_size: int,
    *,
    window: int = 2,
    negatives: int = 4,
    noise: np.ndarray | None = None,
    ignore: Sequence[int] = (0,),
    shuffle: bool = True,
    seed: int | np.random.Generator = 0,
) -> SkipgramPairs:
    """Training examples for skip-gram with negative sampling.

    Args:
        sequences: texts as 1-D arrays of ids in ``[0, vocab_size)``; windows never cross
            from one text to the next.
        vocab_size: number of ids (rows of the embedding tables).
        window: the largest distance between a target and a positive context (>= 1).
        negatives: negative contexts drawn per positive pair (>= 0).
        noise: probabilities over ids to draw negatives from; required when
            ``negatives > 0``. word2vec draws from the raw corpus counts, so pass
            ``noise_distribution(token_counts(texts_before_subsampling, vocab_size))``,
            not the counts of the (usually subsampled) ``sequences``.
        ignore: ids removed before windows are formed (padding, out-of-vocabulary).
        shuffle: shuffle the rows (the order of positive pairs).
        seed: an integer seed or a NumPy ``Generator``.

    Returns:
        :class:`SkipgramPairs` with ``int32`` ids and ``float32`` labels: for ``P``
        positive pairs, ``targets`` has shape ``(P,)`` and ``contexts``/``labels`` have
        shape ``(P, 1 + negatives)``, the true context first.

    Unlike word2vec.c (see the module docstring), the window is fixed rather than
    shrunk at random per target, and a negative that happens to equal the true context
    is kept (labelled 0) rather than skipped.
    """
    if isinstance(window, bool) or not isinstance(window, (int, np.integer)) or window < 1:
        raise ValueError(f"window must be an integer >= 1, not {window!r}")
    if isinstance(negatives, bool) or not isinstance(negatives, (int, np.integer)):
        raise ValueError(f"negatives must be an integer >= 0, not {negatives!r}")
    if negatives < 0:
        raise ValueError(f"negatives must be an integer >= 0, not {negatives!r}")
    texts = _as_texts(sequences)
    rng = np.random.default_rng(seed)
    flat = np.concatenate(texts).astype(np.int64) if texts else np.zeros(0, np.int64)
    _check_ids(flat, vocab_size)
    text_of = np.repeat(np.arange(len(texts)), [len(s) for s in texts])
    keep = ~np.isin(flat, np.asarray(list(ignore), dtype=np.int64))
    flat, text_of = flat[keep], text_of[keep]

    targets, contexts = [], []
    for k in range(1, window + 1):
        same = text_of[:-k] == text_of[k:]
        left, right = flat[:-k][same], flat[k:][same]
        targets += [left, right]
        contexts += [right, left]
    pos_t = np.concatenate(targets) if targets else np.zeros(0, np.int64)
    pos_c = np.concatenate(contexts) if contexts else np.zeros(0, np.int64)

    if negatives:
        if noise is None:
            raise ValueError(
                "negatives > 0 needs noise=: pass "
                "noise=noise_distribution(token_counts(texts_before_subsampling, vocab_size)) "
                "(word2vec draws negatives from the raw counts, not the subsampled text's)"
            )
        noise = np.asarray(noise, dtype=np.float64)
        if noise.shape != (vocab_size,) or (noise < 0).any() or not np.isclose(noise.sum(), 1):
            raise ValueError(f"noise must be {vocab_size} non-negative probabilities summing to 1")
        neg_c = rng.choice(vocab_size, size=len(pos_t) * negatives, p=noise)
    else:
        neg_c = np.zeros(0, np.int64)

    t = pos_t.astype(np.int32)
    c = np.concatenate([pos_c[:, None], neg_c.reshape(len(pos_t), negatives)], axis=1)
    c = c.astype(np.int32)
    y = np.zeros(c.shape, np.float32)
    y[:, 0] = 1.0
    if shuffle:
        order = rng.permutation(len(t))
        t, c, y = t[order], c[order], y[order]
    return SkipgramPairs(t, c, y)


def skipgram_model(
    vocab_size: int,
    dim: int = 64,
    *,
    contexts: int = 5,
    embeddings_initializer="uniform",
    context_initializer="zeros",
    optimizer="adam",
    name: str = "skipgram",
) -> keras.Model:
    """The skip-gram model: ``logit[j] = target_vector · context_vector[j]``.

    The target table starts from ``embeddings_initializer``; the context table starts
    from ``context_initializer``, zeros by default, as in word2vec.c (``syn1neg`` is
    zeroed while ``syn0`` is random). With a zero context table every logit starts at
    0 and the target rows get a zero gradient, so the first step moves the context rows
    only; passing one seeded initializer for both tables would make them equal copies.

    Inputs: ``"target"``, ``(batch,)`` int32 ids, and ``"contexts"``, ``(batch,
    contexts)`` int32 ids (``contexts = 1 + negatives`` of :func:`skipgram_pairs`). The
    output is ``(batch, contexts)`` logits. The word vectors are the
    ``"target_embedding"`` layer's table (the ``"context_embedding"`` table is the second
    set word2vec also learns). Compiled with binary cross-entropy on logits.
    """
    for label, value in (("vocab_size", vocab_size), ("dim", dim), ("contexts", contexts)):
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise ValueError(f"{label} must be a positive integer, not {value!r}")
    target = keras.Input((), dtype="int32", name="target")
    context = keras.Input((contexts,), dtype="int32", name="contexts")
    t = keras.layers.Embedding(
        vocab_size, dim, embeddings_initializer=embeddings_initializer, name="target_embedding"
    )(target)
    c = keras.layers.Embedding(
        vocab_size, dim, embeddings_initializer=context_initializer, name="context_embedding"
    )(context)
    t = keras.layers.Reshape((1, dim), name="target_as_row")(t)
    logits = keras.layers.Dot(axes=-1, name="dot")([c, t])  # (batch, contexts, 1)
    logits = keras.layers.Reshape((contexts,), name="logits")(logits)
    model = keras.Model({"target": target, "contexts": context}, logits, name=name)
    model.compile(
        optimizer=optimizer,
        loss=keras.losses.BinaryCrossentropy(from_logits=True),
        metrics=[keras.metrics.BinaryAccuracy(threshold=0.0, name="accuracy")],
    )
    return model


def ppmi_vectors(
    targets: np.ndarray, contexts: np.ndarray, vocab_size: int, *, context_size: int = 2000
) -> np.ndarray:
    """Usage profiles: positive pointwise mutual information of (word, context word) counts.

    Counts every (target, context) pair given, e.g. the positive pairs of
    :func:`skipgram_pairs` (``pairs.targets``, ``pairs.contexts[:, 0]``), keeping context ids
    below ``context_size``. Row ``w`` of the result describes the contexts ``w`` is used in;
    two words used alike have a high cosine between their rows, whatever they mean.

    Returns:
        ``(vocab_size, context_size)`` float32 array of ``max(0, log p(w, c) / (p(w) p(c)))``
        (0 where a pair never occurs).
    """
    targets = np.asarray(targets, dtype=np.int64).reshape(-1)
    contexts = np.asarray(contexts, dtype=np.int64).reshape(-1)
    if targets.shape != contexts.shape:
        raise ValueError(f"got {len(targets)} targets but {len(contexts)} contexts")
    if isinstance(context_size, bool) or not isinstance(context_size, int) or context_size < 1:
        raise ValueError(f"context_size must be a positive integer, not {context_size!r}")
    _check_ids(np.concatenate([targets, contexts]), vocab_size)
    keep = contexts < context_size
    flat = targets[keep] * context_size + contexts[keep]
    counts = np.bincount(flat, minlength=vocab_size * context_size).reshape(
        vocab_size, context_size
    )
    total = counts.sum()
    if total == 0:
        return np.zeros((vocab_size, context_size), np.float32)
    rows = counts.sum(axis=1, keepdims=True).astype(np.float64)
    cols = counts.sum(axis=0, keepdims=True).astype(np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        pmi = np.log(counts * float(total) / (rows * cols))
    return np.where(counts > 0, np.maximum(pmi, 0.0), 0.0).astype(np.float32)


def ranking_accuracy(model: keras.Model, pairs: SkipgramPairs, *, batch_size: int = 8192) -> float:
    """Share of positives whose true context's logit beats all its negatives' logits.

    ``model`` is a :func:`skipgram_model` (``contexts = 1 + negatives``); ``pairs`` come
    from :func:`skipgram_pairs`, true context in column 0. Ties count as misses. A model
    that ranks at random scores ``1 / contexts``. Needs at least one negative.
    """
    if pairs.contexts.ndim != 2 or pairs.contexts.shape[1] < 2:
        raise ValueError("ranking accuracy needs at least one negative per positive")
    logits = np.asarray(
        model.predict(
            {"target": pairs.targets, "contexts": pairs.contexts},
            batch_size=batch_size,
            verbose=0,
        )
    )
    return float(np.mean(logits[:, 0] > logits[:, 1:].max(axis=1)))


def constant_baseline_loss(labels: np.ndarray) -> float:
    """Binary cross-entropy (nats) of predicting the labels' mean for every label.

    With one positive and ``k`` negatives per row this is the entropy of a coin with
    ``p = 1 / (1 + k)``: what a model that learned nothing about the words can reach.
    """
    p = float(np.mean(labels))
    if not 0.0 < p < 1.0:
        raise ValueError("labels must hold both 0s and 1s")
    return float(-(p * np.log(p) + (1 - p) * np.log(1 - p)))
