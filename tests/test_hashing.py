import itertools
import os
import subprocess
import sys

import keras
import numpy as np
import pytest
import tensorflow as tf

from embedtut.hashing import (
    HashedEmbedding,
    MultiHashEmbedding,
    bucket_stats,
    colliding_pairs,
    expected_colliding_pairs,
    expected_colliding_words,
    expected_occupied,
    hash_buckets,
)

WORDS = ["the", "movie", "was", "terrible", "great", "unwatchable", "amazing", "a", "é"]


def test_buckets_lie_in_range_and_salt_changes_them():
    for salt in (None, 7, (1, 2)):
        ids = hash_buckets(WORDS, 5, salt=salt)
        assert ids.shape == (len(WORDS),) and ids.min() >= 0 and ids.max() < 5
    many = [f"w{i}" for i in range(200)]
    assert (hash_buckets(many, 1000) != hash_buckets(many, 1000, salt=7)).any()
    again = hash_buckets(many, 1000, salt=7)
    np.testing.assert_array_equal(hash_buckets(many, 1000, salt=7), again)
    assert hash_buckets(np.array([["a", "b"], ["c", "d"]]), 3).shape == (2, 2)


def test_hashing_is_the_same_in_another_process_with_another_hash_seed():
    code = (
        "from embedtut.hashing import hash_buckets;"
        f"print(hash_buckets({WORDS!r}, 1 << 20).tolist(),"
        f" hash_buckets({WORDS!r}, 97, salt=3).tolist(), hash({WORDS[1]!r}))"
    )
    outputs = []
    for seed in ("1", "2"):
        env = dict(os.environ, PYTHONHASHSEED=seed, TF_CPP_MIN_LOG_LEVEL="3")
        out = subprocess.run(
            [sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True
        ).stdout.strip()
        outputs.append(out.rsplit(" ", 1))
    here = f"{hash_buckets(WORDS, 1 << 20).tolist()} {hash_buckets(WORDS, 97, salt=3).tolist()}"
    assert outputs[0][0] == outputs[1][0] == here
    assert outputs[0][1] != outputs[1][1]  # Python's own str hash does change


def _brute_force(n, b):
    occupied = colliding = pairs = 0.0
    for assignment in itertools.product(range(b), repeat=n):
        stats = bucket_stats(np.array(assignment, dtype=np.int64), b)
        occupied += stats["occupied"]
        colliding += stats["colliding_words"]
        pairs += stats["colliding_pairs"]
    total = b**n
    return occupied / total, colliding / total, pairs / total


@pytest.mark.parametrize("n, b", [(1, 1), (2, 1), (1, 3), (2, 2), (3, 2), (3, 4), (5, 3), (4, 5)])
def test_formulas_match_brute_force_enumeration(n, b):
    occupied, colliding, pairs = _brute_force(n, b)
    assert expected_occupied(n, b) == pytest.approx(occupied)
    assert expected_colliding_words(n, b) == pytest.approx(colliding)
    assert expected_colliding_pairs(n, b) == pytest.approx(pairs)


def test_formulas_edge_cases_and_errors():
    assert expected_occupied(0, 10) == 0 and expected_colliding_words(0, 10) == 0
    assert expected_occupied(10**6, 10) == pytest.approx(10)
    with pytest.raises(ValueError, match="num_buckets"):
        expected_occupied(3, 0)
    with pytest.raises(ValueError, match="non-negative"):
        expected_colliding_words(-1, 3)


def test_bucket_stats_and_colliding_pairs():
    stats = bucket_stats([3, 1, 3, 3, 2, 1], num_buckets=8)
    assert stats == {
        "words": 6,
        "occupied": 3,
        "colliding_words": 5,
        "colliding_pairs": 4,
        "max_load": 3,
        "empty": 5,
    }
    pairs = colliding_pairs(["a", "b", "c", "d", "e"], [0, 1, 0, 2, 1])
    assert pairs == [("a", "c", 0), ("b", "e", 1)]
    assert colliding_pairs(["a", "b", "c"], [0, 1, 0], top=2) == []
    with pytest.raises(ValueError, match="bucket ids"):
        colliding_pairs(["a"], [0, 1])
    with pytest.raises(ValueError, match="integer"):
        bucket_stats([0.5, 1.0])


def test_hashed_embedding_masks_padding_and_matches_hashing():
    layer = HashedEmbedding(50, 4)
    x = np.array([["the", "movie", ""], ["", "", ""]])
    out = layer(x)
    assert tuple(out.shape) == (2, 3, 4)
    np.testing.assert_array_equal(np.asarray(layer.compute_mask(x)), x != "")
    ids = np.asarray(layer.bucket_ids(x))
    assert (ids[x == ""] == 0).all() and ids[x != ""].min() >= 1 and ids[x != ""].max() <= 50
    # rows 1..B are FarmHash64 mod B, shifted by one for the padding row
    np.testing.assert_array_equal(ids[0, :2], hash_buckets(["the", "movie"], 50) + 1)
    assert layer.count_params() == 51 * 4


def _round_trip(layer, x, tmp_path):
    from embedtut.classifiers import bag_of_embeddings

    model = bag_of_embeddings(layer, input_dtype="string")
    path = tmp_path / "model.keras"
    model.save(path)
    loaded = keras.saving.load_model(path)
    x = tf.constant(x)  # predict() needs a string tensor, not a NumPy unicode array
    np.testing.assert_allclose(model.predict(x, verbose=0), loaded.predict(x, verbose=0))
    return loaded


def test_hashed_embedding_round_trip(tmp_path):
    keras.utils.set_random_seed(0)
    x = np.array([["the", "movie", ""], ["great", "", ""]])
    _round_trip(HashedEmbedding(64, 3, salt=5), x, tmp_path)


def test_multi_hash_embedding_shapes_mask_and_formula():
    keras.utils.set_random_seed(0)
    layer = MultiHashEmbedding(40, 3, num_hashes=3, num_weight_buckets=11)
    x = np.array([["the", "", "movie"], ["", "", ""]])
    out = np.asarray(layer(x))
    assert out.shape == (2, 3, 3)
    assert layer.count_params() == 40 * 3 + 11 * 3
    np.testing.assert_array_equal(out[x == ""], 0.0)
    np.testing.assert_array_equal(np.asarray(layer.compute_mask(x)), x != "")
    comps, wrow = (np.asarray(t) for t in layer.bucket_ids(np.array(["movie"])))
    assert comps.shape == (1, 3) and comps.max() < 40 and wrow.max() < 11
    table = np.asarray(layer.embeddings)
    weights = np.asarray(layer.importance)[wrow[0]]
    np.testing.assert_allclose(out[0, 2], (weights[:, None] * table[comps[0]]).sum(0), rtol=1e-5)
    # the k hashes are independent: over many words they rarely all agree
    many = np.array([f"w{i}" for i in range(300)])
    comps, _ = (np.asarray(t) for t in layer.bucket_ids(many))
    assert (comps[:, 0] != comps[:, 1]).mean() > 0.9


def test_multi_hash_embedding_round_trip(tmp_path):
    keras.utils.set_random_seed(0)
    x = np.array([["the", "movie", ""], ["great", "", ""]])
    loaded = _round_trip(MultiHashEmbedding(32, 4, num_hashes=2), x, tmp_path)
    assert isinstance(loaded.get_layer(index=1), MultiHashEmbedding)


@pytest.mark.parametrize(
    "make, match",
    [
        (lambda: HashedEmbedding(0, 3), "num_buckets"),
        (lambda: HashedEmbedding(8, 2.0), "output_dim"),
        (lambda: MultiHashEmbedding(8, 2, num_hashes=0), "num_hashes"),
        (lambda: MultiHashEmbedding(8, 2, num_weight_buckets=-1), "num_weight_buckets"),
        (lambda: hash_buckets(["a"], True), "num_buckets"),
    ],
)
def test_bad_arguments_are_refused(make, match):
    with pytest.raises(ValueError, match=match):
        make()


def test_colliding_token_share():
    from embedtut.hashing import colliding_token_share

    assert colliding_token_share([0, 1, 0, 2], [10, 5, 3, 2]) == pytest.approx(13 / 20)
    assert colliding_token_share([0, 1], [4, 4]) == 0.0
    with pytest.raises(ValueError, match="counts"):
        colliding_token_share([0, 1], [1])


def test_hashed_embedding_padding_vector_is_row_zero():
    layer = HashedEmbedding(8, 3)
    out = np.asarray(layer(np.array([["", "the"]])))
    table = np.asarray(layer.embedding.embeddings)
    np.testing.assert_array_equal(out[0, 0], table[0])  # not zero: row 0, masked instead
    assert np.abs(table[0]).sum() > 0


def _table_gathers(layer, table_shapes):
    from embedtut.lookup import gather_sources

    spec = tf.TensorSpec([None, None], tf.string)
    sources = gather_sources(lambda s: layer(s), spec)
    return [row for row in sources if row[2] in table_shapes], sources


def test_multi_hash_gathers_from_the_variables_not_a_copy():
    layer = MultiHashEmbedding(16, 4, num_hashes=2, num_weight_buckets=32)
    layer.build((None,))
    copies, sources = _table_gathers(layer, {(16, 4), (32, 2)})
    assert copies == []  # no GatherV2 fed by a ReadVariableOp of a whole table
    assert sum(op == "ResourceGather" for op, _, _ in sources) == 2


def test_gather_rows_matches_take():
    from embedtut.hashing import gather_rows

    v = keras.Variable(np.arange(12, dtype="float32").reshape(6, 2))
    ids = np.array([[5, 0], [2, 2]])
    np.testing.assert_array_equal(np.asarray(gather_rows(v, ids)), np.asarray(v)[ids])
