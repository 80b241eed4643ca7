"""Tests for embedtut.scale: memory arithmetic, the HLO reader, sharding on simulated devices."""

import numpy as np
import pytest

from embedtut import scale
from embedtut.backends import run_on_backend

HLO = """
  %all-reduce = f32[32,20,16]{2,1,0} all-reduce(%x), channel_id=4, replica_groups={}
  %fusion = f32[32,20,16]{2,1,0} fusion(%all-reduce, %param), kind=kLoop
  ROOT %all-reduce.3 = (f32[], f32[250,16]{1,0}) all-reduce(%a, %b), channel_id=5
  %all-gather-start = bf16[8,4]{1,0} all-gather-start(%c), dimensions={1}
  %all-gather-done = bf16[8,4]{1,0} all-gather-done(%all-gather-start)
"""


def test_table_bytes_float_and_quantized():
    assert scale.table_bytes(1000, 16) == 64_000
    assert scale.table_bytes(1000, 16, "bfloat16") == 32_000
    assert scale.table_bytes(1000, 16, "int8") == 16_000 + 4_000
    assert scale.table_bytes(1000, 15, "int4") == 8_000 + 5_000 + 60
    with pytest.raises(ValueError, match="dtype"):
        scale.table_bytes(10, 4, "int2")
    with pytest.raises(ValueError, match="vocab_size"):
        scale.table_bytes(0, 4)
    with pytest.raises(ValueError, match="dim"):
        scale.table_bytes(10, True)


def test_training_bytes_counts_gradient_and_slots():
    adam = scale.training_bytes(1000, 16)
    assert adam == {"table": 64_000, "gradient": 64_000, "slots": 128_000, "total": 256_000}
    assert scale.training_bytes(1000, 16, optimizer="sgd")["total"] == 128_000
    assert scale.training_bytes(10, 4, dtype="bfloat16", optimizer="adagrad")["slots"] == 80
    with pytest.raises(ValueError, match="optimizer"):
        scale.training_bytes(10, 4, optimizer="adamax2")
    with pytest.raises(ValueError, match="float dtype"):
        scale.training_bytes(10, 4, dtype="int8")


def test_table_key_matches_only_that_layer():
    import re

    key = scale.table_key("embedding")
    for path in (
        "embedding/embeddings",
        "sequential/embedding/embeddings",
        "a/b/embedding/embeddings",
    ):
        assert re.fullmatch(key, path)
    for path in (
        "sequential_1/embedding_1/embeddings",
        "my_embedding/embeddings",
        "embedding/kernel",
    ):
        assert not re.fullmatch(key, path)
    with pytest.raises(ValueError):
        scale.table_key("a/b")


def test_collectives_reads_ops_and_bytes():
    found = scale.collectives(HLO)
    assert [f["op"] for f in found] == ["all-reduce", "all-reduce", "all-gather"]
    assert [f["bytes"] for f in found] == [32 * 20 * 16 * 4, 4 + 250 * 16 * 4, 8 * 4 * 2]


def test_lookup_traffic_model():
    rows = scale.lookup_traffic(
        vocab_size=1000, dim=16, ids_per_batch_shard=640, model_shards=4, sharding="rows"
    )
    assert rows == {"forward": 640 * 16 * 4, "gradient": 250 * 16 * 4}
    columns = scale.lookup_traffic(
        vocab_size=1000, dim=16, ids_per_batch_shard=640, model_shards=4, sharding="columns"
    )
    assert columns == {"forward": 0, "gradient": 250 * 16 * 4}
    with pytest.raises(ValueError, match="sharding"):
        scale.lookup_traffic(
            vocab_size=10, dim=4, ids_per_batch_shard=1, model_shards=2, sharding="tables"
        )


def test_sharded_training_matches_unsharded_on_simulated_devices():
    result = run_on_backend(
        "jax",
        "embedtut.scale:self_check",
        env={"XLA_FLAGS": f"{scale.SIMULATED_DEVICES_FLAG}=4"},
        devices=4,
        timeout_s=120,
    )
    assert result["devices"] == 4
    assert result["tf_op_determinism"] is False  # seed_everything ran on JAX, TF left alone
    assert result["moved"] > 1e-3  # training changed the table ...
    assert result["rows_gap"] < 1e-5 and result["columns_gap"] < 1e-5  # ... alike everywhere
    assert result["rows_placement"] == [[0, 32, 8], [32, 64, 8], [0, 32, 8], [32, 64, 8]]
    assert result["columns_placement"] == [[0, 4, 64], [4, 8, 64], [0, 4, 64], [4, 8, 64]]
    assert result["missed"] is not None and "sequential/table/embeddings" in result["missed"]
    for layout, (measured, model) in result["traffic"].items():
        assert model <= measured <= model + 8, layout  # + the scalar loss's all-reduce


def test_process_slice_rebuilds_each_global_batch():
    x = np.arange(24).reshape(12, 2)
    parts = [scale.process_slice(x, 4, p, 2) for p in (0, 1)]
    assert parts[0][:, 0].tolist() == [0, 2, 8, 10, 16, 18]
    rebuilt = np.concatenate(
        [np.stack([parts[0][i : i + 2], parts[1][i : i + 2]]) for i in (0, 2, 4)]
    )
    assert np.array_equal(rebuilt.reshape(12, 2), x)
    with pytest.raises(ValueError):
        scale.process_slice(x, 5, 0, 2)
    with pytest.raises(ValueError):
        scale.process_slice(x, 4, 2, 2)
