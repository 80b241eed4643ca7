"""IMDB as integer sequences, in the format and id conventions of ``keras.datasets.imdb``.

``keras.datasets.imdb.load_data`` reads reviews that were turned into integers before
they were shipped (its loader only shuffles them and applies its conventions). This
module makes arrays of the same format from the raw text, with Keras's own text tools:

* :func:`standardize` lower-cases, turns the HTML line breaks ``<br />`` into spaces
  and strips punctuation (the set that ``TextVectorization``'s default
  ``"lower_and_strip_punctuation"`` strips); words are split on whitespace.
* Words are ranked by their frequency in the training reviews only (ties broken
  alphabetically): the most frequent word has rank 1. :func:`get_word_index` returns
  that ranking, a dictionary like ``keras.datasets.imdb.get_word_index``'s.
* A ``keras.layers.TextVectorization`` holding that vocabulary maps every split.
* :func:`load_imdb` then applies Keras's id conventions: ``start_char=1`` opens every
  review, ``oov_char=2`` replaces words outside ``num_words`` and ``skip_top``, ranks
  are shifted by ``index_from=3``, and ``keras.utils.pad_sequences`` pads and truncates
  at the front ("pre").

The arrays are therefore not Keras's arrays. The words and their ranks come from this
module's tokenisation, not from the one behind Keras's file; and :func:`load_imdb`
differs from ``load_data`` where:

* a test word that no training review uses becomes ``oov_char`` (Keras's docstring says
  such words were skipped from its data);
* each split is shuffled with a fresh ``RandomState(seed)``, where Keras shuffles the
  test split with the generator that already shuffled the training split;
* ``num_words=None`` keeps every word, where ``load_data`` keeps only the ids below
  the largest one, turning the word with the largest id into ``oov_char``;
* ``maxlen`` truncates long reviews, where ``load_data(maxlen=...)`` *drops* them, so
  both splits keep all 25,000 reviews.

The expensive step, tokenising 50,000 reviews, is cached as ``.npz`` files (no
pickles) keyed by the corpus and the tokeniser; the final arrays are cached too, keyed
by every parameter.
"""

from __future__ import annotations

import os
import re
import string
from dataclasses import dataclass

import numpy as np

from embedtut.cache import cache_dir, cache_key, load_npz, save_npz_atomic
from embedtut.data import REVIEWS_PER_CLASS, imdb_path, load_reviews, source_fingerprint

#: Bump when tokenisation changes, so that old caches are not reused.
TOKENIZER_VERSION = 1
_PUNCTUATION = "[" + re.escape(string.punctuation) + "]"
_LINE_BREAK = r"<br\s*/?>"


def standardize(texts):
    """Lower-case, replace ``<br />`` line breaks with spaces, strip punctuation.

    Takes and returns a string tensor (any shape); usable as ``TextVectorization``'s
    ``standardize`` callable. Punctuation is removed, not replaced, as Keras's default
    does: ``"don't"`` becomes ``"dont"``.
    """
    import tensorflow as tf

    texts = tf.strings.lower(texts, encoding="utf-8")
    texts = tf.strings.regex_replace(texts, _LINE_BREAK, " ")
    return tf.strings.regex_replace(texts, _PUNCTUATION, "")


def tokenize(texts: list[str]) -> list[list[str]]:
    """Split texts into words exactly as :func:`load_imdb` does (for inspection)."""
    import tensorflow as tf

    ragged = tf.strings.split(standardize(tf.constant(texts)))
    return [[w.decode("utf-8") for w in row] for row in ragged.to_list()]


def _vectorizer(vocabulary: np.ndarray):
    import keras

    return keras.layers.TextVectorization(
        standardize=standardize,
        split="whitespace",
        vocabulary=list(vocabulary),
        output_mode="int",
        ragged=True,
    )


def _count_words(texts: list[str]) -> tuple[np.ndarray, np.ndarray]:
    import tensorflow as tf

    words = tf.strings.split(standardize(tf.constant(texts))).flat_values
    unique, _, counts = tf.unique_with_counts(words)
    unique = np.char.decode(unique.numpy().astype(bytes), "utf-8")
    counts = counts.numpy().astype(np.int64)
    order = np.lexsort((unique, -counts))  # by count, descending; ties alphabetically
    return unique[order], counts[order]


@dataclass(frozen=True)
class TokenizedSplit:
    """One split as word ranks (1 = most frequent training word, 0 = not in training).

    ``ranks[offsets[i]:offsets[i + 1]]`` are review ``i``'s words; reviews are in the
    order of :func:`embedtut.data.load_reviews` with ``seed=None``.
    """

    ranks: np.ndarray
    offsets: np.ndarray
    labels: np.ndarray

    def __len__(self) -> int:
        return len(self.offsets) - 1

    def review(self, i: int) -> np.ndarray:
        """Ranks of review ``i``."""
        return self.ranks[self.offsets[i] : self.offsets[i + 1]]


def _base_key(source, per_class: int) -> str:
    root = imdb_path(source, per_class=per_class)
    return cache_key(
        corpus=source_fingerprint(root), tokenizer=TOKENIZER_VERSION, per_class=per_class
    )


def vocabulary(
    *, source: str | os.PathLike | None = None, per_class: int = REVIEWS_PER_CLASS
) -> tuple[np.ndarray, np.ndarray]:
    """The training vocabulary: words by rank (index 0 is rank 1) and their counts."""
    key = _base_key(source, per_class)
    path = cache_dir() / f"imdb-vocab-{key}.npz"
    cached = load_npz(path)
    if cached is None:
        texts = load_reviews("train", source=source, seed=None, per_class=per_class).texts
        words, counts = _count_words(texts)
        save_npz_atomic(path, words=words, counts=counts)
        cached = {"words": words, "counts": counts}
    return cached["words"], cached["counts"]


def tokenized(
    split: str = "train",
    *,
    source: str | os.PathLike | None = None,
    per_class: int = REVIEWS_PER_CLASS,
) -> TokenizedSplit:
    """One split as word ranks under the training vocabulary (cached)."""
    key = _base_key(source, per_class)
    path = cache_dir() / f"imdb-tokens-{split}-{key}.npz"
    cached = load_npz(path)
    if cached is None:
        words, _ = vocabulary(source=source, per_class=per_class)
        reviews = load_reviews(split, source=source, seed=None, per_class=per_class)
        ids = _vectorizer(words)(reviews.texts)
        # TextVectorization: 0 is padding, 1 is out-of-vocabulary, 2.. the vocabulary.
        ranks = (ids.flat_values.numpy() - 1).astype(np.int32)
        offsets = ids.row_splits.numpy().astype(np.int64)
        save_npz_atomic(path, ranks=ranks, offsets=offsets, labels=reviews.labels)
        cached = {"ranks": ranks, "offsets": offsets, "labels": reviews.labels}
    return TokenizedSplit(cached["ranks"], cached["offsets"], cached["labels"])


def get_word_index(
    *, source: str | os.PathLike | None = None, per_class: int = REVIEWS_PER_CLASS
) -> dict[str, int]:
    """Word to rank (1 = most frequent in the training reviews), in the format of Keras's.

    The ranking is this module's (see the module docstring), not the one of
    ``keras.datasets.imdb.get_word_index``.
    """
    words, _ = vocabulary(source=source, per_class=per_class)
    return {str(w): i + 1 for i, w in enumerate(words)}


def _convert(
    split: TokenizedSplit, *, num_words, skip_top, start_char, oov_char, index_from
) -> list[np.ndarray]:
    ids = split.ranks.astype(np.int64) + index_from
    unknown = split.ranks == 0  # a word the training reviews never use
    limit = num_words if num_words else int(ids.max()) + 1
    outside = unknown | (ids < skip_top) | (ids >= limit)
    ids[outside] = -1 if oov_char is None else oov_char
    rows = np.split(ids, split.offsets[1:-1])
    if start_char is not None:
        # keras.datasets.imdb applies skip_top/num_words to the start mark too.
        mark = start_char if skip_top <= start_char < limit else oov_char
        if mark is not None:
            rows = [np.concatenate(([mark], row)) for row in rows]
    if oov_char is None:
        rows = [row[row >= 0] for row in rows]
    return [row.astype(np.int32) for row in rows]


def load_imdb(
    num_words: int | None = None,
    *,
    skip_top: int = 0,
    maxlen: int | None = None,
    start_char: int | None = 1,
    oov_char: int | None = 2,
    index_from: int = 3,
    padding: str = "pre",
    truncating: str = "pre",
    value: int = 0,
    seed: int | None = 113,
    source: str | os.PathLike | None = None,
    per_class: int = REVIEWS_PER_CLASS,
):
    """IMDB as ``((x_train, y_train), (x_test, y_test))``, Keras's id conventions.

    The differences from ``keras.datasets.imdb.load_data`` are listed in the module
    docstring.

    Args:
        num_words: keep the ``num_words - index_from - 1`` most frequent words (ids
            below ``num_words``); rarer ones become ``oov_char``. ``None`` keeps all
            (``load_data`` would turn the word with the largest id into ``oov_char``).
        skip_top: ids below it become ``oov_char`` (Keras's rule, start mark included).
        maxlen: pad and truncate to this length with ``keras.utils.pad_sequences``
            (``padding``/``truncating``, default "pre"); ``None`` returns lists of
            variable-length arrays. Long reviews are truncated, never dropped.
        start_char, oov_char, index_from: as in ``keras.datasets.imdb.load_data``.
            With ``oov_char=None`` out-of-range words are removed. A test word that no
            training review uses is out of range for any ``num_words``.
        value: the padding value.
        seed: shuffles each split with a fresh ``RandomState(seed)`` (Keras's default
            seed, 113; Keras itself shuffles the test split with the generator that
            shuffled the training split, so test orders differ); ``None`` keeps file
            order (negative reviews, then positive).
        source, per_class: see :func:`embedtut.data.imdb_path`.

    Returns:
        ``(x_train, y_train), (x_test, y_test)``; ``x`` is ``int32`` of shape
        ``(25000, maxlen)`` when ``maxlen`` is set, labels are ``int8`` 0/1.
    """
    if padding not in ("pre", "post") or truncating not in ("pre", "post"):
        raise ValueError("padding and truncating must each be 'pre' or 'post'")
    if maxlen is not None and maxlen < 1:
        raise ValueError(f"maxlen must be a positive integer or None, not {maxlen!r}")
    if num_words is not None and num_words <= index_from:
        raise ValueError(
            f"num_words={num_words} keeps no word: ids start at index_from + 1 = {index_from + 1}"
        )
    params = dict(
        num_words=num_words,
        skip_top=skip_top,
        maxlen=maxlen,
        start_char=start_char,
        oov_char=oov_char,
        index_from=index_from,
        padding=padding,
        truncating=truncating,
        value=value,
        seed=seed,
    )
    key = cache_key(base=_base_key(source, per_class), **params)
    path = cache_dir() / f"imdb-sequences-{key}.npz"
    cached = load_npz(path)
    if cached is None:
        cached = {}
        for name in ("train", "test"):
            split = tokenized(name, source=source, per_class=per_class)
            rows = _convert(
                split,
                num_words=num_words,
                skip_top=skip_top,
                start_char=start_char,
                oov_char=oov_char,
                index_from=index_from,
            )
            order = np.arange(len(rows))
            if seed is not None:
                np.random.RandomState(seed).shuffle(order)
            rows = [rows[i] for i in order]
            cached[f"y_{name}"] = split.labels[order]
            if maxlen is None:
                cached[f"x_{name}_flat"] = np.concatenate(rows) if rows else np.zeros(0, np.int32)
                cached[f"x_{name}_offsets"] = np.cumsum([0] + [len(r) for r in rows])
            else:
                import keras

                cached[f"x_{name}"] = keras.utils.pad_sequences(
                    rows,
                    maxlen=maxlen,
                    dtype="int32",
                    padding=padding,
                    truncating=truncating,
                    value=value,
                )
        save_npz_atomic(path, **cached)
    out = []
    for name in ("train", "test"):
        if maxlen is None:
            flat, offsets = cached[f"x_{name}_flat"], cached[f"x_{name}_offsets"]
            x = [flat[offsets[i] : offsets[i + 1]] for i in range(len(offsets) - 1)]
        else:
            x = cached[f"x_{name}"]
        out.append((x, cached[f"y_{name}"]))
    return tuple(out)


def decode(
    sequence,
    *,
    index_from: int = 3,
    source: str | os.PathLike | None = None,
    per_class: int = REVIEWS_PER_CLASS,
    start: str = "<START>",
    oov: str = "<OOV>",
    pad: str | None = None,
) -> str:
    """Turn a sequence from :func:`load_imdb` back into words.

    Ids 0, 1 and 2 are shown as ``pad`` (omitted when ``None``), ``start`` and ``oov``.
    """
    words, _ = vocabulary(source=source, per_class=per_class)
    special = {0: pad, 1: start, 2: oov}
    out = []
    for i in np.asarray(sequence).tolist():
        if i < index_from:
            token = special.get(i, oov)
        else:
            rank = i - index_from
            token = str(words[rank - 1]) if 1 <= rank <= len(words) else oov
        if token is not None:
            out.append(token)
    return " ".join(out)
