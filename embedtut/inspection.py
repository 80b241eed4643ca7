"""Looking inside a trained sentiment model's embedding table.

* :func:`nearest_words` lists a word's cosine neighbours among the frequent words
  (built on :func:`embedtut.neighbors.cosine_neighbors`).
* :func:`sentiment_scores` projects every row of the table on the final ``Dense``
  kernel: for a bag model (mean of vectors, then one sigmoid unit) a word's score is
  exactly how much it pushes the logit per unit of weight in the average, so sorting by
  it gives the model's most positive and most negative words (:func:`sentiment_extremes`).
* :func:`pca_2d` projects chosen vectors on their two principal axes (NumPy SVD).
* :func:`export_projector` writes ``vectors.tsv`` and ``metadata.tsv`` in the format of
  the TensorFlow Embedding Projector (https://projector.tensorflow.org, "Load").
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from embedtut.neighbors import top_directions


def _as_table(table) -> np.ndarray:
    if hasattr(table, "numpy"):
        table = table.numpy()
    table = np.asarray(table, dtype=np.float64)
    if table.ndim != 2:
        raise ValueError(f"table must be 2-D (rows, dim), got shape {table.shape}")
    return table


def nearest_words(
    table,
    word_index: dict[str, int],
    word: str,
    *,
    k: int = 8,
    candidates: int | None = 10_000,
    index_from: int = 0,
) -> list[tuple[str, float]]:
    """The ``k`` words whose rows are most cosine-similar to ``word``'s row.

    Args:
        table: the ``(rows, dim)`` embedding table.
        word_index: word -> rank (1 = most frequent), e.g.
            :func:`embedtut.sequences.get_word_index`.
        word: the query word.
        k: neighbours to return.
        candidates: only the ``candidates`` most frequent words may be neighbours
            (rare words have noisy vectors); ``None`` allows every word in the table.
        index_from: a word of rank ``r`` sits in row ``r + index_from`` (3 for
            ``load_imdb``'s ids, 0 for :mod:`embedtut.ngrams` ids).

    Returns:
        ``[(neighbour, cosine similarity), ...]``, most similar first.
    """
    from embedtut.neighbors import cosine_neighbors

    table = _as_table(table)
    if word not in word_index:
        raise ValueError(f"{word!r} is not in the word index; pick a word the corpus uses")
    row = word_index[word] + index_from
    if row >= len(table):
        raise ValueError(
            f"{word!r} (rank {word_index[word]}) has no row in a table of {len(table)} rows: "
            "it was cut by num_words; pick a more frequent word or a larger table"
        )
    limit = len(table) if candidates is None else min(len(table), candidates + index_from + 1)
    rows_to_words = {rank + index_from: w for w, rank in word_index.items()}
    allowed = [r for r in range(index_from + 1, limit) if r in rows_to_words]
    ids, sims = cosine_neighbors(table, [row], k=k, candidates=allowed)
    return [(rows_to_words[int(i)], float(s)) for i, s in zip(ids[0], sims[0], strict=True)]


def sentiment_scores(table, kernel) -> np.ndarray:
    """Each row of ``table`` projected on the sentiment direction ``kernel``.

    Args:
        table: ``(rows, dim)`` embeddings.
        kernel: the final ``Dense(1)`` kernel, shape ``(dim, 1)`` or ``(dim,)``.

    Returns:
        ``(rows,)`` scores: ``table @ kernel``. Positive pushes towards the positive class.
    """
    table = _as_table(table)
    kernel = np.asarray(kernel.numpy() if hasattr(kernel, "numpy") else kernel, np.float64)
    kernel = kernel.reshape(-1)
    if kernel.shape[0] != table.shape[1]:
        raise ValueError(
            f"kernel has {kernel.shape[0]} weights but the table's vectors have "
            f"{table.shape[1]} dimensions; pass the Dense layer that reads the pooled vector"
        )
    return table @ kernel


def sentiment_extremes(
    scores: np.ndarray,
    words: Sequence[str],
    *,
    k: int = 20,
    index_from: int = 0,
    min_rank: int = 1,
    max_rank: int | None = 10_000,
) -> tuple[list[str], list[str]]:
    """The ``k`` most positive and ``k`` most negative words by score.

    Args:
        scores: per-row scores (:func:`sentiment_scores`).
        words: the vocabulary by rank (``words[0]`` has rank 1).
        k: words per side.
        index_from: a word of rank ``r`` sits in row ``r + index_from``.
        min_rank, max_rank: only words with ranks in this range compete (rare words
            have few, noisy updates); ``None`` means no upper bound.

    Returns:
        ``(most_positive, most_negative)``, strongest first.
    """
    scores = np.asarray(scores, dtype=np.float64).reshape(-1)
    top = len(words) if max_rank is None else min(max_rank, len(words))
    top = min(top, len(scores) - index_from - 1)
    if min_rank < 1 or top < min_rank:
        raise ValueError(f"no word has a rank in [{min_rank}, {max_rank}] with a row")
    ranks = np.arange(min_rank, top + 1)
    if 2 * k > len(ranks):
        raise ValueError(f"k={k} per side needs {2 * k} words, only {len(ranks)} are eligible")
    order = np.argsort(-scores[ranks + index_from], kind="stable")
    pos = [str(words[r - 1]) for r in ranks[order[:k]]]
    neg = [str(words[r - 1]) for r in ranks[order[::-1][:k]]]
    return pos, neg


def pca_2d(vectors) -> tuple[np.ndarray, np.ndarray]:
    """Project ``(n, dim)`` vectors on their first two principal axes.

    Returns:
        ``(points, explained)``: ``(n, 2)`` coordinates (centred; the sign of each axis is
        fixed so that its largest-magnitude coordinate is positive) and the fraction of
        the variance each axis explains.
    """
    x = _as_table(vectors)
    if x.shape[0] < 2 or x.shape[1] < 2:
        raise ValueError(f"need at least 2 vectors of at least 2 dimensions, got {x.shape}")
    mean, axes, shares = top_directions(x, 2)
    points = (x - mean) @ axes.T
    signs = np.sign(points[np.abs(points).argmax(axis=0), [0, 1]])
    points *= np.where(signs == 0, 1.0, signs)
    return points, shares[:2]


def export_projector(
    vectors,
    labels: Sequence[str],
    directory: str | os.PathLike,
    *,
    extra: dict[str, Sequence] | None = None,
) -> tuple[Path, Path]:
    """Write ``vectors.tsv`` and ``metadata.tsv`` for the TensorFlow Embedding Projector.

    ``vectors.tsv`` has one row per vector, its numbers separated by tabs, no header.
    ``metadata.tsv`` has one label per line, no header, when there is one column; with
    ``extra`` columns (e.g. ``{"score": ...}``), its first line is a header
    (``word<TAB>score``), as the Projector expects for several columns.

    Args:
        vectors: ``(n, dim)`` numbers.
        labels: ``n`` labels (words); tabs and newlines in them are replaced by spaces.
        directory: where to write (created if missing).
        extra: more metadata columns, each of length ``n``.

    Returns:
        The paths of ``vectors.tsv`` and ``metadata.tsv``.
    """
    vectors = _as_table(vectors)
    labels = [str(w) for w in labels]
    if len(labels) != len(vectors):
        raise ValueError(f"got {len(vectors)} vectors but {len(labels)} labels")
    if not np.all(np.isfinite(vectors)):
        raise ValueError("vectors contain NaN or infinity; the Projector cannot read them")
    extra = dict(extra or {})
    for name, column in extra.items():
        if len(column) != len(labels):
            raise ValueError(f"extra column {name!r} has {len(column)} values, not {len(labels)}")

    def clean(value) -> str:
        return str(value).replace("\t", " ").replace("\n", " ").replace("\r", " ")

    out = Path(directory)
    out.mkdir(parents=True, exist_ok=True)
    vectors_path, metadata_path = out / "vectors.tsv", out / "metadata.tsv"
    with open(vectors_path, "w", encoding="utf-8", newline="\n") as f:
        for row in vectors:
            f.write("\t".join(f"{v:.6g}" for v in row) + "\n")
    with open(metadata_path, "w", encoding="utf-8", newline="\n") as f:
        if extra:
            f.write("\t".join(["word", *map(clean, extra)]) + "\n")
            for i, label in enumerate(labels):
                f.write("\t".join([clean(label), *(clean(c[i]) for c in extra.values())]) + "\n")
        else:
            for label in labels:
                f.write(clean(label) + "\n")
    return vectors_path, metadata_path
