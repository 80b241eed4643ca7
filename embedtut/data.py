"""The Large Movie Review Dataset (IMDB), raw text, verified and extracted safely.

The corpus is the one of Maas et al. (2011): 25,000 training and 25,000 test reviews,
12,500 positive and 12,500 negative in each, plus 50,000 unlabeled training reviews.

Where it comes from, in order of preference:

1. a ``source`` argument (an archive or an extracted ``aclImdb/`` folder);
2. the environment variable ``EMBEDTUT_IMDB`` (same two forms), for machines
   without internet access;
3. the official archive, downloaded once through :func:`keras.utils.get_file` into the
   Keras cache and checked against its SHA-256.

An archive is only ever unpacked after its SHA-256 matches a known copy of the corpus,
with :mod:`tarfile`'s ``"data"`` filter (no path traversal, no links out of the tree),
into a temporary folder that is renamed into place when complete. What is loaded is
counted: a copy with the wrong number of reviews raises :class:`IMDBDataError`.

:func:`movie_ids` gives the IMDb movie each review is about, read from the corpus's
``urls_*.txt`` files, for splits that keep a movie's reviews together
(:mod:`embedtut.splits`).
"""

from __future__ import annotations

import os
import re
import shutil
import tarfile
import tempfile
import zlib
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from embedtut.cache import cache_dir, sha256_of

IMDB_URL = "https://ai.stanford.edu/~amaas/data/sentiment/aclImdb_v1.tar.gz"
IMDB_SHA256 = "c40f74a18d3b61f90feba1e17730e0d38e8b97c05fde7008942e91923d1658fe"
IMDB_SIZE = 84_125_825
#: The same reviews repacked without the three precomputed ``.feat`` files: the copy
#: that offline machines of this project keep beside the repository.
IMDB_TEXT_ONLY_SHA256 = "9354c8d491124659ba38a7a149fa0b4098c6f39a8cc970aa8cb88115332f82bd"
KNOWN_ARCHIVES = {
    IMDB_SHA256: "official aclImdb_v1.tar.gz",
    IMDB_TEXT_ONLY_SHA256: "aclImdb_v1_text.tar.gz (official reviews, .feat files left out)",
}
SOURCE_ENV = "EMBEDTUT_IMDB"
REVIEWS_PER_CLASS = 12_500
UNSUP_REVIEWS = 50_000
SPLITS = ("train", "test", "unsup")

_NAME = re.compile(r"^(\d+)_(\d+)\.txt$")
_URL = re.compile(r"^https?://(?:www\.)?imdb\.com/title/tt(\d+)/?(?:usercomments)?/?$")


class IMDBDataError(RuntimeError):
    """The IMDB corpus is missing, damaged or not what it claims to be.

    The message always says what to do next.
    """


@dataclass(frozen=True)
class Reviews:
    """One split of the corpus.

    Attributes:
        split: ``"train"``, ``"test"`` or ``"unsup"``.
        texts: the review texts, as written (HTML line breaks ``<br />`` included).
        labels: 1 for positive, 0 for negative, -1 for unlabeled (``unsup``).
        ratings: the star rating in the file name (1-4 negative, 7-10 positive,
            0 for unlabeled reviews).
        ids: the review's number in its folder (``<id>_<rating>.txt``).
    """

    split: str
    texts: list[str]
    labels: np.ndarray
    ratings: np.ndarray
    ids: np.ndarray

    def __len__(self) -> int:
        return len(self.texts)


def imdb_path(
    source: str | os.PathLike | None = None,
    *,
    sha256: str | None = None,
    per_class: int = REVIEWS_PER_CLASS,
) -> Path:
    """Return the path of a verified, extracted ``aclImdb`` folder.

    Args:
        source: an archive (``.tar.gz``) or a folder that is, or contains,
            ``aclImdb/``. ``None`` reads ``$EMBEDTUT_IMDB``, and without it downloads
            the official archive.
        sha256: the digest an archive must have. ``None`` accepts the known copies of
            the corpus (:data:`KNOWN_ARCHIVES`).
        per_class: how many positive and how many negative reviews each of train and
            test must hold (12,500 for the real corpus).

    Raises:
        IMDBDataError: the source is missing, does not match its digest, cannot be
            unpacked, or holds the wrong number of reviews.
    """
    if source is None:
        source = os.environ.get(SOURCE_ENV) or None
        origin = f"${SOURCE_ENV}" if source else None
    else:
        origin = "the source argument"
    if source is None:
        archive = _download()
        origin = "the downloaded archive"
    else:
        path = Path(source).expanduser()
        if not path.exists():
            raise IMDBDataError(
                f"{origin} points at {path}, which does not exist. Point it at "
                "aclImdb_v1.tar.gz or at an extracted aclImdb/ folder, or unset "
                f"{SOURCE_ENV} to download the official archive."
            )
        if path.is_dir():
            root = path if (path / "train").is_dir() else path / "aclImdb"
            if not (root / "train").is_dir():
                raise IMDBDataError(
                    f"{path} (from {origin}) is a folder but neither it nor an aclImdb/ "
                    "folder inside it has a train/ folder. Point it at the extracted "
                    "aclImdb/ folder or at the archive itself."
                )
            validate_tree(root, per_class=per_class)
            return root
        archive = path
    return _extract(archive, sha256=sha256, per_class=per_class, origin=origin)


def _download() -> Path:
    import keras

    try:
        fetched = keras.utils.get_file(
            fname="aclImdb_v1.tar.gz",
            origin=IMDB_URL,
            file_hash=IMDB_SHA256,
            hash_algorithm="sha256",
        )
    except Exception as exc:  # network errors come in many classes
        raise IMDBDataError(
            f"Could not download the IMDB archive from {IMDB_URL} ({exc}). On a machine "
            f"without internet access, set {SOURCE_ENV} to a local copy of "
            "aclImdb_v1.tar.gz or of its extracted aclImdb/ folder."
        ) from exc
    return Path(fetched)


def _extract(archive: Path, *, sha256: str | None, per_class: int, origin: str) -> Path:
    digest = sha256_of(archive)
    expected = {sha256.lower(): "the digest you gave"} if sha256 else KNOWN_ARCHIVES
    if digest not in expected:
        wanted = ", ".join(f"{d} ({what})" for d, what in expected.items())
        raise IMDBDataError(
            f"{archive} (from {origin}) has SHA-256 {digest}, expected {wanted}. The file "
            "is truncated, altered or not the IMDB archive: delete it and download "
            f"{IMDB_URL} again."
        )
    target = cache_dir() / f"aclImdb-{digest[:16]}"
    root = target / "aclImdb"
    if not target.exists():
        if not hasattr(tarfile, "data_filter"):
            raise IMDBDataError(
                "This Python lacks tarfile's safe 'data' extraction filter; use Python "
                "3.11.4 or newer."
            )
        tmp = Path(tempfile.mkdtemp(prefix=target.name + ".", suffix=".partial", dir=target.parent))
        try:
            with tarfile.open(archive, "r:gz") as tar:
                tar.extractall(tmp, filter="data")
            if not (tmp / "aclImdb" / "train").is_dir():
                raise IMDBDataError(
                    f"{archive} unpacked without an aclImdb/train/ folder: it is not the "
                    f"IMDB archive. Download {IMDB_URL} again."
                )
            validate_tree(tmp / "aclImdb", per_class=per_class, where=archive)
            try:
                os.replace(tmp, target)
            except OSError:
                # Another process unpacked the same verified archive first: use its tree.
                if not (target / "aclImdb").is_dir():
                    raise
        except tarfile.FilterError as exc:
            raise IMDBDataError(
                f"{archive} could not be unpacked safely: {exc}. The archive has a member "
                f"that would land outside its folder, so it is not the IMDB archive; delete "
                f"it and download {IMDB_URL} again."
            ) from exc
        except (tarfile.TarError, EOFError, zlib.error, OSError) as exc:
            raise IMDBDataError(
                f"{archive} could not be unpacked ({type(exc).__name__}: {exc}): it is "
                f"truncated or damaged. Delete it and download {IMDB_URL} again."
            ) from exc
        finally:
            if tmp.exists():
                shutil.rmtree(tmp, ignore_errors=True)
    validate_tree(root, per_class=per_class)
    return root


def _review_files(folder: Path) -> list[tuple[int, int, Path]]:
    found = []
    with os.scandir(folder) as entries:
        for entry in entries:
            match = _NAME.match(entry.name)
            if match and entry.is_file():
                found.append((int(match[1]), int(match[2]), Path(entry.path)))
    found.sort()
    return found


def _count_reviews(folder: Path) -> int:
    return sum(1 for name in os.listdir(folder) if _NAME.match(name))


def validate_tree(root: Path, *, per_class: int = REVIEWS_PER_CLASS, where: object = None) -> None:
    """Check that an ``aclImdb`` folder holds the expected number of reviews.

    Train and test must each hold ``per_class`` positive and ``per_class`` negative
    reviews; ``train/unsup``, when present, must hold four times ``per_class``.

    Raises:
        IMDBDataError: naming the folder whose count is wrong.
    """
    where = where or root
    checks = [f"{split}/{label}" for split in ("train", "test") for label in ("pos", "neg")]
    counts = {}
    for sub in checks:
        folder = Path(root) / sub
        if not folder.is_dir():
            raise IMDBDataError(
                f"{where} has no {sub}/ folder: the copy is incomplete. Delete it and "
                f"download {IMDB_URL} again."
            )
        counts[sub] = _count_reviews(folder)
    unsup = Path(root) / "train" / "unsup"
    if unsup.is_dir():
        counts["train/unsup"] = _count_reviews(unsup)
    wrong = {
        sub: n
        for sub, n in counts.items()
        if n != (4 * per_class if sub == "train/unsup" else per_class)
    }
    if wrong:
        listing = ", ".join(f"{sub} holds {n:,}" for sub, n in wrong.items())
        raise IMDBDataError(
            f"{where}: {listing}; expected {per_class:,} reviews in each of train/pos, "
            f"train/neg, test/pos and test/neg (and {4 * per_class:,} in train/unsup). The "
            f"copy is incomplete or altered: delete it and download {IMDB_URL} again."
        )


def load_reviews(
    split: str = "train",
    *,
    source: str | os.PathLike | None = None,
    seed: int | None = 113,
    per_class: int = REVIEWS_PER_CLASS,
) -> Reviews:
    """Load one split of IMDB as raw text with labels.

    Args:
        split: ``"train"``, ``"test"`` or ``"unsup"`` (the 50,000 unlabeled reviews).
        source: see :func:`imdb_path`.
        seed: reviews come negative first, then positive, each by id; a seed shuffles
            them with ``numpy.random.RandomState(seed)``, as ``keras.datasets.imdb``
            does with its default 113. ``None`` keeps file order.
        per_class: expected reviews per class (12,500 for the real corpus).

    Returns:
        A :class:`Reviews` with texts, labels, ratings and ids.
    """
    if split not in SPLITS:
        raise ValueError(f"split must be one of {SPLITS}, not {split!r}")
    root = imdb_path(source, per_class=per_class)
    texts, labels, ratings, ids = [], [], [], []
    for folder, label in _parts(root, split):
        for review_id, rating, path in _review_files(folder):
            texts.append(path.read_text(encoding="utf-8"))
            labels.append(label)
            ratings.append(rating)
            ids.append(review_id)
    order = _order(len(texts), seed)
    return Reviews(
        split=split,
        texts=[texts[i] for i in order],
        labels=np.asarray(labels, dtype=np.int8)[order],
        ratings=np.asarray(ratings, dtype=np.int8)[order],
        ids=np.asarray(ids, dtype=np.int32)[order],
    )


def _parts(root: Path, split: str) -> list[tuple[Path, int]]:
    """The folders of one split in file order (negative, then positive), with labels."""
    if split == "unsup":
        if not (root / "train" / "unsup").is_dir():
            raise IMDBDataError(
                f"{root} has no train/unsup/ folder, so the unlabeled reviews are not there. "
                f"Use the full archive {IMDB_URL}."
            )
        return [(root / "train" / "unsup", -1)]
    return [(root / split / "neg", 0), (root / split / "pos", 1)]


def _order(n: int, seed: int | None) -> np.ndarray:
    """File order, or its shuffle by a fresh ``RandomState(seed)`` (Keras's way)."""
    order = np.arange(n)
    if seed is not None:
        np.random.RandomState(seed).shuffle(order)
    return order


def movie_ids(
    split: str = "train",
    *,
    source: str | os.PathLike | None = None,
    seed: int | None = 113,
    per_class: int = REVIEWS_PER_CLASS,
) -> np.ndarray:
    """The IMDb movie of every review of a split, in the order of :func:`load_reviews`.

    Each folder of the corpus comes with a file of IMDb URLs, ``urls_pos.txt``,
    ``urls_neg.txt`` and ``urls_unsup.txt``, one line per review: line ``k``
    (counting from 0) is the URL of the movie that review ``<k>_<rating>.txt`` is
    about, such as ``http://www.imdb.com/title/tt0453418/usercomments``. The id is the
    number after ``tt``: 453418 here.

    Args:
        split: ``"train"``, ``"test"`` or ``"unsup"``.
        source: see :func:`imdb_path`.
        seed: the order, as in :func:`load_reviews`: row ``i`` is the movie of review
            ``i`` of ``load_reviews(split, seed=seed)``, and of ``load_imdb(seed=seed)``
            in :mod:`embedtut.sequences` (both default to 113). ``None`` gives file
            order, the order of :func:`embedtut.sequences.tokenized`.
        per_class: expected reviews per class (12,500 for the real corpus).

    Returns:
        An ``int64`` array with one movie id per review.

    Raises:
        IMDBDataError: a URL file is missing, has a line that is not an IMDb title URL,
            or does not hold exactly one line per review (review ids ``0`` to ``N - 1``).
        ValueError: an unknown split.
    """
    if split not in SPLITS:
        raise ValueError(f"split must be one of {SPLITS}, not {split!r}")
    root = imdb_path(source, per_class=per_class)
    movies = []
    for folder, _ in _parts(root, split):
        urls = folder.parent / f"urls_{folder.name}.txt"
        if not urls.is_file():
            raise IMDBDataError(
                f"{urls} is missing, so the reviews of {folder} cannot be matched to their "
                f"movies. Use the full archive {IMDB_URL}."
            )
        lines = urls.read_text(encoding="utf-8").splitlines()
        ids = np.array([review_id for review_id, _, _ in _review_files(folder)], dtype=np.int64)
        if len(lines) != len(ids) or not np.array_equal(ids, np.arange(len(ids))):
            raise IMDBDataError(
                f"{urls} has {len(lines):,} lines for {len(ids):,} reviews in {folder} "
                f"(ids {ids.min() if len(ids) else '-'} to {ids.max() if len(ids) else '-'}): "
                "line k must belong to review k, for ids 0 to N - 1. The copy is altered: "
                f"delete it and download {IMDB_URL} again."
            )
        found = np.zeros(len(lines), dtype=np.int64)
        for k, line in enumerate(lines):
            match = _URL.match(line.strip())
            if match is None:
                raise IMDBDataError(
                    f"{urls}, line {k + 1}: {line[:80]!r} is not an IMDb title URL like "
                    f"http://www.imdb.com/title/tt0453418/usercomments. Delete the copy and "
                    f"download {IMDB_URL} again."
                )
            found[k] = int(match[1])
        movies.append(found)  # review ids are 0..N-1 in order, so row k is review k
    movies = np.concatenate(movies)
    return movies[_order(len(movies), seed)]


def source_fingerprint(root: Path) -> str:
    """A string that changes when the corpus behind ``root`` changes (for cache keys)."""
    root = Path(root).resolve()
    parent = root.parent.name
    if parent.startswith("aclImdb-"):
        return parent  # named after the archive's SHA-256
    stats = [(root / sub).stat() for sub in _fingerprint_files(root)]
    return f"{root}:{sum(s.st_size for s in stats)}:{max(s.st_mtime_ns for s in stats)}"


def _fingerprint_files(root: Path) -> Iterable[str]:
    return [p for p in ("README", "imdb.vocab", "train", "test") if (root / p).exists()]
