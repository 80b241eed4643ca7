"""Shared fixtures: tiny IMDB-shaped corpora built by the tests themselves."""

from __future__ import annotations

import io
import os
import tarfile
from pathlib import Path

import pytest

from embedtut.cache import sha256_of

# Small reviews with known word frequencies. Positive reviews say "great", negative "awful".
POS = [
    "A great film.<br /><br />Great acting, GREAT story!",
    "Great fun; the cast is great.",
    "I loved it: great, great, great.",
]
NEG = [
    "An awful film.<br />Awful acting.",
    "Awful. Just awful!",
    "The plot is awful, the cast is awful.",
]
UNSUP = [
    "Some film.",
    "Another film!",
    "A film, a cast.",
    "No opinion here.",
    "Plot.",
    "Cast.",
    "Film film.",
    "It is a film.",
    "Words.",
    "More words.",
    "Even more words.",
    "The end.",
]
TEST_POS = ["Great!", "A great cast.", "Zebra great."]
TEST_NEG = ["Awful!", "An awful cast.", "Awful zebra."]


def tiny_tree(per_class: int = 3, *, unsup: bool = True, drop: str | None = None) -> dict[str, str]:
    """Relative path -> text of a tiny aclImdb tree (``drop`` omits one review file)."""
    files = {"aclImdb/README": "tiny test corpus\n"}
    groups = {"train/pos": POS, "train/neg": NEG, "test/pos": TEST_POS, "test/neg": TEST_NEG}
    if unsup:
        groups["train/unsup"] = UNSUP
    for group, texts in groups.items():
        n = 4 * per_class if group.endswith("unsup") else per_class
        rating = {"pos": 9, "neg": 2, "unsup": 0}[group.split("/")[1]]
        for i in range(n):
            files[f"aclImdb/{group}/{i}_{rating}.txt"] = texts[i % len(texts)]
    if drop:
        del files[drop]
    return files


def write_archive(path: Path, files: dict[str, str], *, extra: list[tarfile.TarInfo] = ()) -> Path:
    """Write ``files`` as a gzip tar archive (plus raw ``extra`` members)."""
    with tarfile.open(path, "w:gz") as tar:
        for name, text in files.items():
            data = text.encode("utf-8")
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
        for info in extra:
            tar.addfile(info, io.BytesIO(b"x" * info.size) if info.size else None)
    return path


@pytest.fixture
def cache(tmp_path, monkeypatch) -> Path:
    """An empty embedtut cache folder, and no IMDB source from the environment."""
    folder = tmp_path / "cache"
    monkeypatch.setenv("EMBEDTUT_CACHE_DIR", str(folder))
    monkeypatch.delenv("EMBEDTUT_IMDB", raising=False)
    return folder


@pytest.fixture
def tiny_archive(tmp_path) -> tuple[Path, str]:
    """A valid tiny archive (3 reviews per class) and its SHA-256."""
    path = write_archive(tmp_path / "tiny.tar.gz", tiny_tree())
    return path, sha256_of(path)


@pytest.fixture(scope="session")
def real_imdb() -> str:
    """Path of the real IMDB copy, from $EMBEDTUT_IMDB; skips the test without one."""
    source = os.environ.get("EMBEDTUT_IMDB")
    if not source:
        pytest.skip("EMBEDTUT_IMDB is not set: no local copy of the real corpus to test on")
    return source
