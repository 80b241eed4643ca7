"""Bags of hashed word n-grams and an embedding bag to read them (fastText-style).

Joulin et al. (2017) classify a text by *averaging* the vectors of its words and of its
hashed word n-grams, then applying one linear layer. This module builds those inputs
and that average, on the integer ranks of :func:`embedtut.sequences.tokenized`:

* :func:`ngram_ids` turns each review into one flat list of ids: its words (id = rank,
  ``1..vocab_size``) followed by its bigrams (and trigrams), each hashed from the ranks
  of its words into ``num_buckets`` ids placed after the vocabulary. Hashing integers
  with a fixed 64-bit mixer (SplitMix64's finaliser) needs no string work and gives the
  same ids on every machine; words unseen in training (rank 0) are dropped, and so are
  the n-grams that contain them.
* :func:`ragged_batches` makes a ``tf.data`` pipeline of ``tf.RaggedTensor`` batches:
  no padding, so a batch costs what its reviews contain (a padded batch of uni+bi-gram
  sequences is mostly zeros).
* :class:`EmbeddingBag` averages (or sums) the rows of a table named by each ragged row,
  like PyTorch's ``nn.EmbeddingBag`` or ``tf.nn.safe_embedding_lookup_sparse``, which
  Keras lacks. It gathers *from the variable* (a ``ResourceGather``), so the gradient
  is a ``tf.IndexedSlices`` over the batch's rows and a sparse optimizer
  (:class:`embedtut.optimizers.LazyAdam`, plain SGD) touches only those rows.
"""

from __future__ import annotations

import keras
import numpy as np

from embedtut.ids import check_reviews

_MULT = np.uint64(0x9E3779B97F4A7C15)  # golden-ratio constant: spreads the first rank
_MIX1 = np.uint64(0xBF58476D1CE4E5B9)
_MIX2 = np.uint64(0x94D049BB133111EB)


def mix64(values: np.ndarray) -> np.ndarray:
    """SplitMix64's finaliser: a fixed bijection of ``uint64`` that scrambles every bit."""
    h = np.asarray(values, dtype=np.uint64).copy()
    with np.errstate(over="ignore"):
        h ^= h >> np.uint64(30)
        h *= _MIX1
        h ^= h >> np.uint64(27)
        h *= _MIX2
        h ^= h >> np.uint64(31)
    return h


def hash_ngram(columns: list[np.ndarray], num_buckets: int) -> np.ndarray:
    """Bucket in ``[0, num_buckets)`` of each n-gram given as ``n`` arrays of word ranks."""
    if isinstance(num_buckets, bool) or not isinstance(num_buckets, (int, np.integer)):
        raise ValueError(f"num_buckets must be a positive integer, not {num_buckets!r}")
    if num_buckets < 1:
        raise ValueError(f"num_buckets must be a positive integer, not {num_buckets!r}")
    if not columns:
        raise ValueError("columns must hold at least one array of ranks (one per word)")
    h = np.zeros(len(columns[0]), dtype=np.uint64)
    with np.errstate(over="ignore"):
        for column in columns:
            h = mix64(h * _MULT + np.asarray(column, dtype=np.uint64))
    return (h % np.uint64(num_buckets)).astype(np.int64)


def ngram_ids(
    ranks: np.ndarray,
    offsets: np.ndarray,
    *,
    vocab_size: int,
    num_buckets: int,
    ngram: int = 2,
    binary: bool = False,
) -> tuple[np.ndarray, np.ndarray]:
    """Each review's words and hashed n-grams (``n = 2..ngram``) as one flat id list.

    Args:
        ranks: word ranks of all reviews concatenated (``1..vocab_size``; 0 = a word not in
            the vocabulary), e.g. :func:`embedtut.sequences.tokenized`'s ``ranks``.
        offsets: ``ranks[offsets[i]:offsets[i + 1]]`` is review ``i``.
        vocab_size: words keep their rank as id; ranks above it count as unknown.
        num_buckets: hashed n-grams get ids ``vocab_size + 1 + bucket``.
        ngram: 1 for words only, 2 for words and bigrams, 3 adds trigrams.
        binary: keep each distinct id once per review (presence, not counts, as in the
            binarised features of NBSVM); the ids of a review are then sorted.

    Returns:
        ``(ids, row_offsets)``: ``ids[row_offsets[i]:row_offsets[i + 1]]`` are review ``i``'s
        ids (words in order, then bigrams, then trigrams), all in
        ``[1, vocab_size + num_buckets]``; the table needs ``num_ids(...)`` rows (row 0 is
        never used). N-grams never cross a review boundary.
    """
    ranks, offsets = check_reviews(ranks, offsets)
    if isinstance(ngram, bool) or ngram not in (1, 2, 3):
        raise ValueError(f"ngram must be 1, 2 or 3, not {ngram!r}")
    if isinstance(vocab_size, bool) or not isinstance(vocab_size, (int, np.integer)):
        raise ValueError(f"vocab_size must be a positive integer, not {vocab_size!r}")
    if vocab_size < 1:
        raise ValueError(f"vocab_size must be a positive integer, not {vocab_size!r}")
    num_rows = len(offsets) - 1
    known = (ranks > 0) & (ranks <= vocab_size)
    review = np.repeat(np.arange(num_rows), np.diff(offsets))
    ids = [np.where(known, ranks, 0).astype(np.int64)]
    rows = [review]
    for n in range(2, ngram + 1):
        if len(ranks) < n:
            break
        stop = len(ranks) - n + 1
        ok = review[:stop] == review[n - 1 :]  # all n words in the same review
        for j in range(n):
            ok &= known[j : j + stop]
        columns = [ranks[j : j + stop][ok] for j in range(n)]
        ids.append(vocab_size + 1 + hash_ngram(columns, num_buckets))
        rows.append(review[:stop][ok])
    ids = np.concatenate(ids)
    rows = np.concatenate(rows)
    keep = ids > 0
    ids, rows = ids[keep], rows[keep]
    if binary:
        key = np.unique(rows.astype(np.int64) * (vocab_size + 1 + int(num_buckets)) + ids)
        rows, ids = np.divmod(key, vocab_size + 1 + int(num_buckets))
    else:
        order = np.argsort(rows, kind="stable")
        ids, rows = ids[order], rows[order]
    counts = np.bincount(rows, minlength=num_rows)
    return ids, np.concatenate(([0], np.cumsum(counts))).astype(np.int64)


def num_ids(vocab_size: int, num_buckets: int) -> int:
    """Rows of the table that :func:`ngram_ids`'s ids index (row 0 stays unused)."""
    return int(vocab_size) + 1 + int(num_buckets)


def to_ragged(ids: np.ndarray, row_offsets: np.ndarray):
    """``(ids, row_offsets)`` as an ``int32`` ``tf.RaggedTensor`` (one row per review)."""
    import tensorflow as tf

    return tf.RaggedTensor.from_row_splits(
        np.asarray(ids, dtype=np.int32), np.asarray(row_offsets, dtype=np.int64)
    )


def ragged_batches(ragged, labels, *, batch_size: int = 32, shuffle_seed: int | None = None):
    """A ``tf.data.Dataset`` of ``(ragged ids, float labels)`` batches, unpadded.

    Args:
        ragged: a ``tf.RaggedTensor`` with one row per example (:func:`to_ragged`).
        labels: one 0/1 label per row.
        batch_size: rows per batch.
        shuffle_seed: reshuffle every epoch with this seed; ``None`` keeps the order.
    """
    import tensorflow as tf

    labels = np.asarray(labels, dtype=np.float32)
    if int(ragged.nrows()) != len(labels):
        raise ValueError(f"got {int(ragged.nrows())} rows of ids but {len(labels)} labels")
    if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
        raise ValueError(f"batch_size must be a positive integer, not {batch_size!r}")
    data = tf.data.Dataset.from_tensor_slices((ragged, labels))
    if shuffle_seed is not None:
        data = data.shuffle(len(labels), seed=shuffle_seed, reshuffle_each_iteration=True)
    return data.batch(batch_size).prefetch(tf.data.AUTOTUNE)


_COMBINERS = ("mean", "sum", "sqrtn")


@keras.saving.register_keras_serializable(package="embedtut")
class EmbeddingBag(keras.layers.Layer):
    """Reduce each row of ids to one vector: the mean (or sum) of their table rows.

    Input: a ``tf.RaggedTensor`` of ids ``(batch, None)``, or a dense ``(batch, steps)``
    tensor in which ``0`` is padding (skipped). Output: ``(batch, output_dim)``; an empty
    row gives zeros. TensorFlow backend only (ragged tensors and ``IndexedSlices`` are
    TensorFlow's).

    Args:
        input_dim: rows of the table; ids must lie in ``[0, input_dim)``.
        output_dim: vector size.
        combiner: ``"mean"`` (fastText), ``"sum"`` or ``"sqrtn"`` (sum / sqrt(count)).
        embeddings_initializer: as in ``keras.layers.Embedding``.
        token_dropout: during training only, drop each id of a bag with this probability
            before reducing ("word dropout", Iyyer et al. 2015): a regulariser that also
            makes the step cheaper. A bag that loses every id gives zeros.
        weighted: give the layer a second, non-trainable weight ``id_weights``, one
            number per row (initially 1): each id's vector is multiplied by its number
            before the reduction (the combiner still divides by the count of ids). Set it
            with ``layer.id_weights.assign(...)``, e.g. to naive Bayes log-count ratios
            (:func:`embedtut.models.naive_bayes_weights`).

    Ids are not range-checked at run time (like ``keras.layers.Embedding``); check them
    once with :func:`embedtut.ids.check_ids` when building the data.
    """

    def __init__(
        self,
        input_dim: int,
        output_dim: int,
        *,
        combiner: str = "mean",
        embeddings_initializer="uniform",
        token_dropout: float = 0.0,
        weighted: bool = False,
        **kwargs,
    ):
        super().__init__(**kwargs)
        for label, value in (("input_dim", input_dim), ("output_dim", output_dim)):
            if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
                raise ValueError(f"{label} must be a positive integer, not {value!r}")
        if not 0.0 <= token_dropout < 1.0:
            raise ValueError(f"token_dropout must be in [0, 1), not {token_dropout!r}")
        if combiner not in _COMBINERS:
            raise ValueError(f"combiner must be one of {_COMBINERS}, not {combiner!r}")
        if keras.backend.backend() != "tensorflow":
            raise ValueError(
                "EmbeddingBag needs the TensorFlow backend (ragged ids, sparse gradients); "
                f"this Keras runs on {keras.backend.backend()!r}."
            )
        self.input_dim = int(input_dim)
        self.output_dim = int(output_dim)
        self.combiner = combiner
        self.token_dropout = float(token_dropout)
        self.weighted = bool(weighted)
        self.seed_generator = keras.random.SeedGenerator()
        self.embeddings_initializer = keras.initializers.get(embeddings_initializer)

    def build(self, input_shape=None):
        self.embeddings = self.add_weight(
            shape=(self.input_dim, self.output_dim),
            initializer=self.embeddings_initializer,
            name="embeddings",
        )
        if self.weighted:
            self.id_weights = self.add_weight(
                shape=(self.input_dim,), initializer="ones", trainable=False, name="id_weights"
            )
        self.built = True

    def call(self, inputs, training=None):
        import tensorflow as tf

        if not isinstance(inputs, tf.RaggedTensor):
            inputs = tf.RaggedTensor.from_tensor(inputs, padding=0)
        if training and self.token_dropout > 0:
            noise = keras.random.uniform(tf.shape(inputs.flat_values), seed=self.seed_generator)
            inputs = tf.ragged.boolean_mask(
                inputs, inputs.with_flat_values(noise >= self.token_dropout)
            )
        ids = inputs.flat_values
        rows = inputs.value_rowids()
        # Gather from the tf.Variable itself (ResourceGather), not from a tensor read of
        # it: a read would pin a full copy of the table that the optimizer's in-place
        # scatter update must then duplicate (copy-on-write) at every step.
        vectors = tf.gather(self.embeddings.value, ids)
        if self.weighted:
            vectors = vectors * tf.gather(self.id_weights.value, ids)[:, None]
        total = tf.math.unsorted_segment_sum(vectors, rows, inputs.nrows())
        if self.combiner == "sum":
            return total
        count = tf.cast(inputs.row_lengths(), total.dtype)[:, None]
        if self.combiner == "sqrtn":
            count = tf.sqrt(count)
        return tf.math.divide_no_nan(total, count)

    def compute_output_shape(self, input_shape):
        return (input_shape[0], self.output_dim)

    def get_config(self) -> dict:
        config = super().get_config()
        config.update(
            {
                "input_dim": self.input_dim,
                "output_dim": self.output_dim,
                "combiner": self.combiner,
                "token_dropout": self.token_dropout,
                "weighted": self.weighted,
                "embeddings_initializer": keras.initializers.serialize(self.embeddings_initializer),
            }
        )
        return config
