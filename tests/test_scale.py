"""Tests for embedtut.scale: memory arithmetic, the HLO reader, sharding on simulated devices."""

import numpy as np
import pytest

from embedtut import scale
from embedtut.backends import run_on_backend


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


def test_step_by_step_waits_for_every_trainable_variable():
    waited = []

    class Value:
        def __init__(self, name):
            self.name = name

        def block_until_ready(self):
            waited.append(self.name)

    class Variable:
        def __init__(self, name):
            self.value = Value(name)

    class Model:
        trainable_variables = [Variable("table"), Variable("kernel")]

    callback = scale.step_by_step()
    callback.set_model(Model())
    callback.on_train_batch_end(0)
    assert waited == ["table", "kernel"]
