"""The hashing trick: words to buckets without a vocabulary, and what collisions cost.

* :func:`hash_buckets` maps strings to buckets with ``keras.layers.Hashing``
  (FarmHash64, or keyed SipHash when a ``salt`` is given); the result is the same in
  every process and on every machine, unlike Python's ``hash()`` of a string.
* :func:`expected_occupied`, :func:`expected_colliding_words` and
  :func:`expected_colliding_pairs` are the birthday-problem expectations for ``n``
  words thrown uniformly into ``B`` buckets; :func:`bucket_stats` counts the same
  quantities for real bucket ids, and :func:`colliding_pairs` lists who collides.
* :class:`HashedEmbedding` is the one-hash layer: strings -> ``Hashing`` ->
  ``Embedding``, with ``""`` as padding.
* :func:`gather_rows` reads rows of a weight with a gather on the variable itself, as
  :class:`MultiHashEmbedding` and :class:`embedtut.subwords.SubwordEmbedding` do.
* :class:`MultiHashEmbedding` is a hash embedding (Svenstrup et al. 2017): each
  word picks ``num_hashes`` rows of one shared table with independently salted hashes
  and adds them up, weighted by ``num_hashes`` importance weights that the word reads
  from a second, hashed table. Two words then share their whole vector only if *all*
  their hashes collide.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import keras
import numpy as np
from keras import ops

PAD = ""  # the padding token of every string-input layer in this package


def _check_buckets(num_buckets, name: str = "num_buckets") -> int:
    if isinstance(num_buckets, bool) or not isinstance(num_buckets, (int, np.integer)):
        raise ValueError(f"{name} must be a positive integer, not {num_buckets!r}")
    if num_buckets < 1:
        raise ValueError(f"{name} must be a positive integer, not {num_buckets!r}")
    return int(num_buckets)


def gather_rows(table, ids):
    """Rows ``ids`` of a Keras weight, gathered from the variable itself.

    On the TensorFlow backend ``tf.gather`` on the variable (``table.value``) is one
    ``ResourceGather`` op that reads only the requested rows, and its gradient is an
    ``IndexedSlices`` of those rows. ``ops.take(table, ids)`` and
    ``tf.gather(ops.convert_to_tensor(table), ids)`` first read the *whole* table
    (``ReadVariableOp``) and gather from that copy (chapter 3 measures what that costs
    under sparse updates).

    Args:
        table: a ``keras.Variable`` (or any tensor, gathered as is).
        ids: integer row ids, any shape.

    Returns:
        A tensor of shape ``ids.shape + table.shape[1:]``.
    """
    import tensorflow as tf

    return tf.gather(getattr(table, "value", table), ids)


def hash_buckets(words, num_buckets: int, *, salt: int | Sequence[int] | None = None) -> np.ndarray:
    """Bucket ids in ``[0, num_buckets)`` of ``words`` under ``keras.layers.Hashing``.

    Args:
        words: strings (a list, NumPy array or string tensor, any shape).
        num_buckets: the number of buckets ``B``.
        salt: ``None`` for FarmHash64 (what ``Hashing`` uses without a salt); an integer
            or a pair of integers for SipHash keyed with it.

    Returns:
        An ``int64`` NumPy array of the input's shape.
    """
    num_buckets = _check_buckets(num_buckets)
    layer = keras.layers.Hashing(num_bins=num_buckets, salt=salt)
    words = np.asarray(words, dtype=object) if not hasattr(words, "dtype") else words
    return np.asarray(layer(words)).astype(np.int64)


def _check_n_b(n, num_buckets) -> tuple[int, int]:
    num_buckets = _check_buckets(num_buckets)
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 0:
        raise ValueError(f"n (the number of words) must be a non-negative integer, not {n!r}")
    return int(n), num_buckets


def expected_occupied(n: int, num_buckets: int) -> float:
    """Expected number of non-empty buckets: ``B (1 - (1 - 1/B)^n)``."""
    n, b = _check_n_b(n, num_buckets)
    return b * -math.expm1(n * math.log1p(-1.0 / b)) if b > 1 else float(n > 0)


def expected_colliding_words(n: int, num_buckets: int) -> float:
    """Expected number of words that share their bucket with at least one other word.

    A word is alone with probability ``(1 - 1/B)^(n-1)``, so the expectation is
    ``n (1 - (1 - 1/B)^(n-1))``.
    """
    n, b = _check_n_b(n, num_buckets)
    if n == 0:
        return 0.0
    if b == 1:
        return float(n if n > 1 else 0)
    return n * -math.expm1((n - 1) * math.log1p(-1.0 / b))


def expected_colliding_pairs(n: int, num_buckets: int) -> float:
    """Expected number of unordered pairs of words in the same bucket: ``C(n, 2) / B``."""
    n, b = _check_n_b(n, num_buckets)
    return n * (n - 1) / 2 / b


def bucket_stats(buckets, num_buckets: int | None = None) -> dict[str, int]:
    """Count what :func:`expected_occupied` and friends predict, for real bucket ids.

    Args:
        buckets: one bucket id per (distinct) word, any integer array.
        num_buckets: ``B``, only used to report the empty buckets (optional).

    Returns:
        A dict with ``words``, ``occupied`` (non-empty buckets), ``colliding_words``
        (words sharing their bucket), ``colliding_pairs`` (pairs in one bucket),
        ``max_load`` (most words in one bucket) and, with ``num_buckets``, ``empty``.
    """
    buckets = np.asarray(buckets).ravel()
    if buckets.size and not np.issubdtype(buckets.dtype, np.integer):
        raise ValueError(f"buckets must be integer ids, got dtype {buckets.dtype}")
    _, loads = np.unique(buckets, return_counts=True)
    stats = {
        "words": int(buckets.size),
        "occupied": int(loads.size),
        "colliding_words": int(loads[loads > 1].sum()),
        "colliding_pairs": int((loads * (loads - 1) // 2).sum()),
        "max_load": int(loads.max()) if loads.size else 0,
    }
    if num_buckets is not None:
        stats["empty"] = _check_buckets(num_buckets) - stats["occupied"]
    return stats


def colliding_pairs(words, buckets, *, top: int | None = None) -> list[tuple[str, str, int]]:
    """Pairs of words that share a bucket, in the order the words are given.

    Args:
        words: distinct words, e.g. by decreasing frequency.
        buckets: their bucket ids (same length).
        top: only consider the first ``top`` words (the most frequent ones).

    Returns:
        ``(earlier_word, later_word, bucket)`` tuples; ``later_word`` is listed once,
        with the first earlier word of its bucket, sorted by the later word's position.
    """
    words = list(words)
    buckets = np.asarray(buckets).ravel()
    if len(words) != len(buckets):
        raise ValueError(f"got {len(words)} words but {len(buckets)} bucket ids")
    if top is not None:
        words, buckets = words[:top], buckets[:top]
    first: dict[int, str] = {}
    pairs = []
    for word, bucket in zip(words, buckets.tolist(), strict=True):
        if bucket in first:
            pairs.append((str(first[bucket]), str(word), int(bucket)))
        else:
            first[bucket] = word
    return pairs


class StringEmbedding(keras.layers.Layer):
    """Base of the layers that embed strings: ``PAD`` (``""``) is masked, its vector zero.

    Subclasses set ``self.output_dim`` and implement :meth:`embed_unique`; :meth:`call`
    embeds each distinct string of a batch once and gathers the vectors back into the
    batch's shape.
    """

    def embed_unique(self, strings):
        """``(u, output_dim)`` vectors for a 1-D tensor of ``u`` distinct strings."""
        raise NotImplementedError

    def call(self, inputs):
        import tensorflow as tf

        inputs = tf.convert_to_tensor(inputs, tf.string)
        unique, position = tf.unique(tf.reshape(inputs, [-1]))
        vectors = self.embed_unique(unique)
        vectors = vectors * ops.expand_dims(ops.cast(ops.not_equal(unique, PAD), vectors.dtype), -1)
        out = tf.gather(vectors, position)
        return tf.reshape(out, tf.concat([tf.shape(inputs), [self.output_dim]], 0))

    def compute_mask(self, inputs, mask=None):
        return ops.not_equal(inputs, PAD)

    def compute_output_shape(self, input_shape):
        return (*input_shape, self.output_dim)

    def compute_output_spec(self, inputs):
        return keras.KerasTensor((*inputs.shape, self.output_dim), dtype=self.compute_dtype)


@keras.saving.register_keras_serializable(package="embedtut")
class HashedEmbedding(StringEmbedding):
    """Strings -> ``keras.layers.Hashing`` -> ``keras.layers.Embedding`` (one hash).

    ``""`` is padding: it gets row 0 and is masked; every other string lands in one of
    ``num_buckets`` rows ``1..num_buckets``. The table has ``num_buckets + 1`` rows.
    Unlike the other layers of this module, the padding *vector* is not zero: it is
    row 0 of the table, as in ``keras.layers.Embedding(mask_zero=True)``. Layers that
    honour the mask (:class:`embedtut.classifiers.MaskedAveragePooling1D`) ignore it.

    Args:
        num_buckets: ``B``, the number of buckets for words.
        output_dim: vector size.
        salt: ``None`` for FarmHash64, else the SipHash key (see ``keras.layers.Hashing``).
        embeddings_initializer: for the table, as in ``keras.layers.Embedding``.
    """

    def __init__(
        self,
        num_buckets: int,
        output_dim: int,
        *,
        salt=None,
        embeddings_initializer="uniform",
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.num_buckets = _check_buckets(num_buckets)
        self.output_dim = _check_buckets(output_dim, "output_dim")
        self.salt = salt
        self.embeddings_initializer = keras.initializers.get(embeddings_initializer)
        self.hashing = keras.layers.Hashing(
            num_bins=self.num_buckets + 1, mask_value=PAD, salt=salt, name="hashing"
        )
        self.embedding = keras.layers.Embedding(
            self.num_buckets + 1,
            self.output_dim,
            embeddings_initializer=self.embeddings_initializer,
            name="embedding",
        )
        self.supports_masking = True

    def build(self, input_shape):
        self.embedding.build(input_shape)
        self.built = True

    def bucket_ids(self, inputs):
        """Row of the table for each string (0 for padding)."""
        return self.hashing(inputs)

    def call(self, inputs):
        return self.embedding(self.hashing(inputs))

    def get_config(self):
        config = super().get_config()
        config.update(
            num_buckets=self.num_buckets,
            output_dim=self.output_dim,
            salt=self.salt,
            embeddings_initializer=keras.initializers.serialize(self.embeddings_initializer),
        )
        return config


@keras.saving.register_keras_serializable(package="embedtut")
class MultiHashEmbedding(StringEmbedding):
    """Hash embeddings (Svenstrup et al. 2017): ``k`` hashes into one shared table.

    A word ``w`` reads rows ``h_1(w), ..., h_k(w)`` of a table of ``num_buckets`` rows
    (``h_i`` is SipHash keyed with salt ``i + 1``) and ``k`` importance weights
    ``p(w)`` from row ``g(w)`` of a second table of ``num_weight_buckets`` rows (``g`` is
    FarmHash64). Its vector is ``sum_i p_i(w) E[h_i(w)]``. Both tables are trained.

    ``""`` is padding (masked, vector zero). Parameters:
    ``num_buckets * output_dim + num_weight_buckets * num_hashes``.

    Args:
        num_buckets: rows of the shared component table.
        output_dim: vector size.
        num_hashes: ``k``, components per word.
        num_weight_buckets: rows of the importance-weight table (defaults to
            ``num_buckets``). Svenstrup et al. make it much larger than the component
            table (a row costs only ``k`` numbers); the default does not.
        embeddings_initializer: for the component table.
    """

    def __init__(
        self,
        num_buckets: int,
        output_dim: int,
        *,
        num_hashes: int = 2,
        num_weight_buckets: int | None = None,
        embeddings_initializer="uniform",
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.num_buckets = _check_buckets(num_buckets)
        self.output_dim = _check_buckets(output_dim, "output_dim")
        self.num_hashes = _check_buckets(num_hashes, "num_hashes")
        self.num_weight_buckets = _check_buckets(
            num_buckets if num_weight_buckets is None else num_weight_buckets,
            "num_weight_buckets",
        )
        self.embeddings_initializer = keras.initializers.get(embeddings_initializer)
        self.hashings = [
            keras.layers.Hashing(num_bins=self.num_buckets, salt=i + 1, name=f"hash_{i}")
            for i in range(self.num_hashes)
        ]
        self.weight_hashing = keras.layers.Hashing(
            num_bins=self.num_weight_buckets, name="weight_hash"
        )
        self.supports_masking = True

    def build(self, input_shape):
        self.embeddings = self.add_weight(
            shape=(self.num_buckets, self.output_dim),
            initializer=self.embeddings_initializer,
            name="embeddings",
        )
        # Our choice, not the paper's: importance weights drawn from N(1/k, 0.05^2), so
        # that a word's initial vector is about the mean of its k rows.
        self.importance = self.add_weight(
            shape=(self.num_weight_buckets, self.num_hashes),
            initializer=keras.initializers.RandomNormal(1.0 / self.num_hashes, 0.05),
            name="importance",
        )
        self.built = True

    def bucket_ids(self, inputs):
        """Component rows ``(..., k)`` and importance row ``(...)`` of each string."""
        components = ops.stack([h(inputs) for h in self.hashings], axis=-1)
        return components, self.weight_hashing(inputs)

    def embed_unique(self, strings):
        components, weight_row = self.bucket_ids(strings)
        vectors = gather_rows(self.embeddings, components)  # (u, k, d)
        weights = gather_rows(self.importance, weight_row)  # (u, k)
        return ops.sum(vectors * ops.expand_dims(weights, -1), axis=-2)

    def get_config(self):
        config = super().get_config()
        config.update(
            num_buckets=self.num_buckets,
            output_dim=self.output_dim,
            num_hashes=self.num_hashes,
            num_weight_buckets=self.num_weight_buckets,
            embeddings_initializer=keras.initializers.serialize(self.embeddings_initializer),
        )
        return config


def colliding_token_share(buckets, counts) -> float:
    """Fraction of the corpus's tokens whose word shares its bucket with another word.

    Args:
        buckets: one bucket id per distinct word.
        counts: how often each word occurs (same order).
    """
    buckets = np.asarray(buckets).ravel()
    counts = np.asarray(counts, dtype=np.float64).ravel()
    if buckets.shape != counts.shape:
        raise ValueError(f"got {buckets.size} bucket ids but {counts.size} counts")
    _, inverse, loads = np.unique(buckets, return_inverse=True, return_counts=True)
    total = counts.sum()
    return float(counts[loads[inverse] > 1].sum() / total) if total else 0.0
