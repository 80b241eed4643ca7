"""The IMDB loader: success, every failure path, and the safety of extraction."""

from __future__ import annotations

import tarfile
from pathlib import Path

import numpy as np
import pytest
from conftest import tiny_tree, write_archive

from embedtut import data
from embedtut.cache import sha256_of
from embedtut.data import IMDBDataError, imdb_path, load_reviews


def _entries(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir()) if folder.exists() else []


def test_tiny_archive_extracts_and_loads(cache, tiny_archive, monkeypatch):
    archive, digest = tiny_archive
    root = imdb_path(archive, sha256=digest, per_class=3)
    assert root.name == "aclImdb" and root.parent.name == f"aclImdb-{digest[:16]}"
    assert root.parent.parent == cache
    monkeypatch.setitem(data.KNOWN_ARCHIVES, digest, "tiny test archive")
    train = load_reviews("train", source=archive, per_class=3, seed=None)
    assert len(train) == 6
    assert train.labels.tolist() == [0, 0, 0, 1, 1, 1]  # negatives first, by id
    assert train.ratings.tolist() == [2, 2, 2, 9, 9, 9]
    assert train.ids.tolist() == [0, 1, 2, 0, 1, 2]
    assert "<br />" in train.texts[0]  # raw text, as written
    unsup = load_reviews("unsup", source=archive, per_class=3)
    assert len(unsup) == 12 and set(unsup.labels.tolist()) == {-1}


def test_seed_shuffles_like_keras(cache, tiny_archive, monkeypatch):
    archive, digest = tiny_archive
    monkeypatch.setitem(data.KNOWN_ARCHIVES, digest, "tiny test archive")
    plain = load_reviews("test", source=archive, per_class=3, seed=None)
    shuffled = load_reviews("test", source=archive, per_class=3, seed=113)
    order = np.arange(6)
    np.random.RandomState(113).shuffle(order)
    assert shuffled.texts == [plain.texts[i] for i in order]
    assert shuffled.labels.tolist() == plain.labels[order].tolist()


def test_second_call_reuses_the_extracted_tree(cache, tiny_archive):
    archive, digest = tiny_archive
    first = imdb_path(archive, sha256=digest, per_class=3)
    marker = first / "marker"
    marker.write_text("still here")
    assert imdb_path(archive, sha256=digest, per_class=3) == first
    assert marker.exists()


def test_unknown_archive_is_refused_before_extraction(cache, tiny_archive):
    archive, _ = tiny_archive
    with pytest.raises(IMDBDataError, match="SHA-256 .* expected .*download"):
        imdb_path(archive, per_class=3)
    assert _entries(cache) == []


def test_tampered_archive_is_refused(cache, tmp_path, tiny_archive):
    archive, digest = tiny_archive
    tampered = write_archive(
        tmp_path / "tampered.tar.gz", {**tiny_tree(), "aclImdb/train/pos/0_9.txt": "Changed."}
    )
    with pytest.raises(IMDBDataError, match="truncated, altered or not the IMDB archive"):
        imdb_path(tampered, sha256=digest, per_class=3)
    assert _entries(cache) == []


def test_truncated_archive_leaves_nothing_behind(cache, tmp_path, tiny_archive):
    archive, _ = tiny_archive
    blob = archive.read_bytes()
    truncated = tmp_path / "truncated.tar.gz"
    truncated.write_bytes(blob[: len(blob) // 2])
    with pytest.raises(IMDBDataError, match="truncated or damaged"):
        imdb_path(truncated, sha256=sha256_of(truncated), per_class=3)
    assert _entries(cache) == []  # no half-extracted tree, no temporary folder


@pytest.mark.parametrize(
    "drop", ["aclImdb/train/pos/2_9.txt", "aclImdb/test/neg/0_2.txt", "aclImdb/train/unsup/5_0.txt"]
)
def test_wrong_count_is_refused(cache, tmp_path, drop):
    archive = write_archive(tmp_path / "short.tar.gz", tiny_tree(drop=drop))
    folder = drop.split("/")[1] + "/" + drop.split("/")[2]
    with pytest.raises(IMDBDataError, match=f"{folder} holds [0-9]+; expected 3 reviews"):
        imdb_path(archive, sha256=sha256_of(archive), per_class=3)
    assert _entries(cache) == []


def test_real_counts_are_the_default(cache, tiny_archive):
    archive, digest = tiny_archive
    with pytest.raises(IMDBDataError, match="expected 12,500 reviews"):
        imdb_path(archive, sha256=digest)


def test_path_traversal_is_blocked(cache, tmp_path):
    evil = tarfile.TarInfo("aclImdb/../../escaped.txt")
    evil.size = 3
    archive = write_archive(tmp_path / "evil.tar.gz", tiny_tree(), extra=[evil])
    with pytest.raises(IMDBDataError, match="could not be unpacked safely"):
        imdb_path(archive, sha256=sha256_of(archive), per_class=3)
    assert not (cache.parent / "escaped.txt").exists()
    assert not (tmp_path / "escaped.txt").exists()
    assert _entries(cache) == []


def test_archive_without_acl_imdb_folder(cache, tmp_path):
    archive = write_archive(tmp_path / "other.tar.gz", {"something/else.txt": "hello"})
    with pytest.raises(IMDBDataError, match="without an aclImdb/train/ folder"):
        imdb_path(archive, sha256=sha256_of(archive), per_class=3)
    assert _entries(cache) == []


def test_missing_path_says_what_to_do(cache, tmp_path, monkeypatch):
    with pytest.raises(IMDBDataError, match="does not exist.*aclImdb_v1.tar.gz"):
        imdb_path(tmp_path / "nope.tar.gz")
    monkeypatch.setenv("EMBEDTUT_IMDB", str(tmp_path / "nope"))
    with pytest.raises(IMDBDataError, match=r"\$EMBEDTUT_IMDB points at"):
        imdb_path()


def test_extracted_folder_as_source(cache, tmp_path, tiny_archive, monkeypatch):
    archive, digest = tiny_archive
    with tarfile.open(archive) as tar:
        tar.extractall(tmp_path / "copy", filter="data")
    # the folder holding aclImdb/, and aclImdb/ itself, both work; via the environment too
    assert imdb_path(tmp_path / "copy", per_class=3) == tmp_path / "copy" / "aclImdb"
    monkeypatch.setenv("EMBEDTUT_IMDB", str(tmp_path / "copy" / "aclImdb"))
    assert imdb_path(per_class=3) == tmp_path / "copy" / "aclImdb"
    assert len(load_reviews("train", per_class=3)) == 6
    with pytest.raises(IMDBDataError, match="neither it nor an aclImdb/ folder"):
        imdb_path(tmp_path, per_class=3)


def test_unsup_missing_is_explained(cache, tmp_path):
    archive = write_archive(tmp_path / "nounsup.tar.gz", tiny_tree(unsup=False))
    digest = sha256_of(archive)
    imdb_path(archive, sha256=digest, per_class=3)  # train/test alone are valid
    data.KNOWN_ARCHIVES[digest] = "test"
    try:
        with pytest.raises(IMDBDataError, match="no train/unsup/ folder"):
            load_reviews("unsup", source=archive, per_class=3)
    finally:
        del data.KNOWN_ARCHIVES[digest]


def test_bad_split_name(cache, tiny_archive):
    with pytest.raises(ValueError, match="split must be one of"):
        load_reviews("validation", source=tiny_archive[0])


def test_download_uses_the_official_archive_and_its_hash(cache, tiny_archive, monkeypatch):
    import keras

    calls = {}

    def fake_get_file(**kwargs):
        calls.update(kwargs)
        return str(tiny_archive[0])

    monkeypatch.setattr(keras.utils, "get_file", fake_get_file)
    # the tiny archive is not the real one, so the loader's own check refuses it
    with pytest.raises(IMDBDataError, match="SHA-256"):
        imdb_path()
    assert calls["origin"] == data.IMDB_URL
    assert calls["file_hash"] == data.IMDB_SHA256
    assert calls["hash_algorithm"] == "sha256"


def test_download_failure_points_at_the_offline_variable(cache, monkeypatch):
    import keras

    def no_network(**kwargs):
        raise OSError("network is unreachable")

    monkeypatch.setattr(keras.utils, "get_file", no_network)
    with pytest.raises(IMDBDataError, match="EMBEDTUT_IMDB"):
        imdb_path()


def test_real_corpus_loads_with_its_known_shape(real_imdb):
    train = load_reviews("train", source=real_imdb)
    test = load_reviews("test", source=real_imdb)
    assert len(train) == len(test) == 25_000
    assert np.bincount(train.labels).tolist() == [12_500, 12_500]
    assert np.bincount(test.labels).tolist() == [12_500, 12_500]
    assert set(train.ratings[train.labels == 1].tolist()) <= {7, 8, 9, 10}
    assert set(train.ratings[train.labels == 0].tolist()) <= {1, 2, 3, 4}
    assert len(load_reviews("unsup", source=real_imdb)) == 50_000


def test_a_concurrent_extraction_is_reused(cache, tiny_archive, monkeypatch):
    archive, digest = tiny_archive
    first = imdb_path(archive, sha256=digest, per_class=3)
    # Simulate losing the race: the target appears while this process is extracting.
    real_exists = Path.exists

    def not_yet(path):
        return False if path == first.parent else real_exists(path)

    monkeypatch.setattr(Path, "exists", not_yet)
    assert imdb_path(archive, sha256=digest, per_class=3) == first
    monkeypatch.undo()
    assert sorted(p.name for p in cache.iterdir()) == [first.parent.name]
