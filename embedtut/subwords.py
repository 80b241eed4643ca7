"""Subword embeddings in the style of fastText (Bojanowski et al. 2017), and typos.

* :func:`char_ngrams` lists the character n-grams of a word the way fastText does:
  the word is wrapped in ``<`` and ``>`` first, so prefixes and suffixes are marked.
* :class:`SubwordEmbedding` is a Keras layer from strings to vectors. Each n-gram is
  hashed (``keras.layers.Hashing``) into one of ``num_buckets`` rows of a table; a
  word's vector is the mean of its n-gram rows, plus its own row when the word is in
  ``vocabulary``. A word never seen in training still has n-grams, so it still gets
  a vector, and two spellings that share n-grams share those parameters.
* :func:`typo` and :func:`inject_typos` make seeded, reproducible misspellings, to test
  how models cope with words they never saw.
"""

from __future__ import annotations

from collections.abc import Sequence

import keras
import numpy as np
from keras import ops

from embedtut.hashing import PAD, StringEmbedding, _check_buckets, gather_rows


def char_ngrams(word: str, min_n: int = 3, max_n: int = 6) -> list[str]:
    """Character n-grams of ``"<" + word + ">"``, shortest first (fastText's choice).

    >>> char_ngrams("cat", 3, 4)
    ['<ca', 'cat', 'at>', '<cat', 'cat>']
    """
    _check_widths(min_n, max_n)
    marked = f"<{word}>"
    return [marked[i : i + n] for n in range(min_n, max_n + 1) for i in range(len(marked) - n + 1)]


def _check_widths(min_n, max_n) -> None:
    for name, value in (("min_n", min_n), ("max_n", max_n)):
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise ValueError(f"{name} must be a positive integer, not {value!r}")
    if min_n > max_n:
        raise ValueError(f"min_n ({min_n}) must not exceed max_n ({max_n})")


@keras.saving.register_keras_serializable(package="embedtut")
class SubwordEmbedding(StringEmbedding):
    """fastText-style word vectors from hashed character n-grams (string input).

    For a word ``w`` with n-grams ``G(w)`` (widths ``min_n..max_n`` of ``<w>``) the vector
    is the mean of ``N[hash(g)]`` over ``g`` in ``G(w)``, and of ``W[w]`` too when ``w``
    is in ``vocabulary``. ``N`` has ``num_buckets`` rows; ``W`` one row per vocabulary
    word plus row 0, the out-of-vocabulary row, which is never read. ``""`` is padding:
    masked, vector zero. This is fastText's *mean* of the rows (its code averages);
    Bojanowski et al. (2017) write the word vector as their *sum*. Both tables are read
    with :func:`embedtut.hashing.gather_rows` (a gather on the variable, not on a copy).

    Each call computes the vectors of the *distinct* strings of the batch only
    (``tf.unique``) and gathers them back, so a batch costs work proportional to its
    vocabulary, not to its length. Needs the TensorFlow backend (``tf.strings``).

    Args:
        num_buckets: rows of the n-gram table.
        output_dim: vector size.
        vocabulary: words that also get their own vector (``None``: n-grams only).
        min_n, max_n: n-gram widths (3 and 6 in fastText).
        salt: the n-gram hash; ``None`` for FarmHash64, else a SipHash key.
        embeddings_initializer: for both tables.
    """

    def __init__(
        self,
        num_buckets: int,
        output_dim: int,
        *,
        vocabulary: Sequence[str] | None = None,
        min_n: int = 3,
        max_n: int = 6,
        salt=None,
        embeddings_initializer="uniform",
        **kwargs,
    ):
        super().__init__(**kwargs)
        _check_widths(min_n, max_n)
        self.num_buckets = _check_buckets(num_buckets)
        self.output_dim = _check_buckets(output_dim, "output_dim")
        self.min_n, self.max_n, self.salt = min_n, max_n, salt
        self.embeddings_initializer = keras.initializers.get(embeddings_initializer)
        self.vocabulary = None
        if vocabulary is not None:
            self.vocabulary = [str(w) for w in vocabulary]
            if PAD in self.vocabulary:
                raise ValueError('vocabulary must not contain "" (the padding token)')
            if len(set(self.vocabulary)) != len(self.vocabulary):
                raise ValueError("vocabulary must not contain duplicates")
            self.lookup = keras.layers.StringLookup(
                vocabulary=self.vocabulary, num_oov_indices=1, name="word_lookup"
            )
        self.hashing = keras.layers.Hashing(num_bins=self.num_buckets, salt=salt, name="ngram_hash")
        self.supports_masking = True

    def build(self, input_shape):
        self.ngram_embeddings = self.add_weight(
            shape=(self.num_buckets, self.output_dim),
            initializer=self.embeddings_initializer,
            name="ngram_embeddings",
        )
        if self.vocabulary is not None:
            # row 0 is the out-of-vocabulary row; it is never read
            self.word_embeddings = self.add_weight(
                shape=(len(self.vocabulary) + 1, self.output_dim),
                initializer=self.embeddings_initializer,
                name="word_embeddings",
            )
        self.built = True

    def ngram_ids(self, words):
        """Hashed n-gram rows of each string, as a ``tf.RaggedTensor`` ``(n_words, None)``."""
        import tensorflow as tf

        words = tf.reshape(tf.convert_to_tensor(words, tf.string), [-1])
        marked = tf.strings.join(["<", words, ">"])
        chars = tf.strings.unicode_split(marked, "UTF-8")
        widths = list(range(self.min_n, self.max_n + 1))
        grams = tf.strings.ngrams(chars, ngram_width=widths, separator="")
        return grams.with_flat_values(self.hashing(grams.flat_values))

    def word_ids(self, words):
        """Row of ``word_embeddings`` (0 = not in the vocabulary) of each string."""
        if self.vocabulary is None:
            return ops.zeros_like(ops.cast(ops.not_equal(words, PAD), "int64"))
        return self.lookup(words)

    def embed_unique(self, strings):
        import tensorflow as tf

        grams = self.ngram_ids(strings)
        rows = gather_rows(self.ngram_embeddings, grams.flat_values)
        total = tf.math.unsorted_segment_sum(
            rows, grams.value_rowids(), num_segments=tf.shape(strings)[0]
        )
        count = tf.cast(grams.row_lengths(), total.dtype)
        if self.vocabulary is not None:
            ids = self.lookup(strings)
            known = tf.cast(ids > 0, total.dtype)
            total += gather_rows(self.word_embeddings, ids) * known[:, None]
            count += known
        return total / tf.maximum(count, 1.0)[:, None]

    def get_config(self):
        config = super().get_config()
        config.update(
            num_buckets=self.num_buckets,
            output_dim=self.output_dim,
            vocabulary=self.vocabulary,
            min_n=self.min_n,
            max_n=self.max_n,
            salt=self.salt,
            embeddings_initializer=keras.initializers.serialize(self.embeddings_initializer),
        )
        return config


_KINDS = ("double", "drop", "swap", "replace")
_LETTERS = "abcdefghijklmnopqrstuvwxyz"


def typo(word: str, rng: np.random.Generator) -> str:
    """One random edit of ``word``: double a letter, drop one, swap two, or replace one.

    The edit never leaves the word unchanged (a swap of two equal letters becomes a
    doubling). Words shorter than 2 characters are returned doubled at their end.
    """
    if len(word) < 2:
        return word + word[-1:] if word else word
    kind = _KINDS[int(rng.integers(len(_KINDS)))]
    i = int(rng.integers(len(word)))
    if kind == "swap":
        i = min(i, len(word) - 2)
        if word[i] == word[i + 1]:
            kind = "double"
        else:
            return word[:i] + word[i + 1] + word[i] + word[i + 2 :]
    if kind == "double":
        return word[: i + 1] + word[i] + word[i + 1 :]
    if kind == "drop":
        return word[:i] + word[i + 1 :]
    choices = [c for c in _LETTERS if c != word[i]]
    return word[:i] + choices[int(rng.integers(len(choices)))] + word[i + 1 :]


def inject_typos(
    ranks: np.ndarray,
    words: Sequence[str],
    *,
    rate: float,
    seed: int = 0,
    min_length: int = 4,
) -> tuple[np.ndarray, np.ndarray]:
    """Misspell a fraction of the tokens of a padded rank matrix, reproducibly.

    Args:
        ranks: integer array; 0 is padding, ``r >= 1`` is ``words[r - 1]`` (the layout of
            ``embedtut.sequences.load_imdb(index_from=0, start_char=None, oov_char=None)``).
        words: the vocabulary, by rank.
        rate: probability that an eligible token is misspelled (one :func:`typo` each).
        seed: seeds the choice of tokens and edits.
        min_length: only words at least this long are eligible.

    Returns:
        ``(new_ranks, new_words)``: ``new_words`` is ``words`` followed by one entry per
        misspelled token, and ``new_ranks`` points the misspelled tokens at them.
    """
    if not 0.0 <= rate <= 1.0:
        raise ValueError(f"rate must be a probability in [0, 1], not {rate!r}")
    ranks = np.asarray(ranks)
    if not np.issubdtype(ranks.dtype, np.integer):
        raise ValueError(f"ranks must be integers, got dtype {ranks.dtype}")
    words = np.asarray(words, dtype=object)
    if ranks.size and (ranks.min() < 0 or ranks.max() > len(words)):
        raise ValueError(
            f"ranks must lie in [0, {len(words)}] (0 = padding, r = words[r - 1]); "
            f"got values from {ranks.min()} to {ranks.max()}"
        )
    rng = np.random.default_rng(seed)
    lengths = np.array([0] + [len(w) for w in words])
    eligible = (ranks > 0) & (lengths[ranks] >= min_length)
    chosen = eligible & (rng.random(ranks.shape) < rate)
    where = np.flatnonzero(chosen)
    flat = ranks.ravel().copy()
    misspelled = [typo(words[r - 1], rng) for r in flat[where]]
    flat[where] = len(words) + 1 + np.arange(len(where))
    new_words = np.concatenate([words, np.asarray(misspelled, dtype=object)])
    return flat.reshape(ranks.shape), new_words
