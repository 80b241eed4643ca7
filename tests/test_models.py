"""Tests for embedtut.models: the chapter 5 model builders."""

import dataclasses

import keras
import numpy as np
import pytest
import tensorflow as tf

from embedtut.models import (
    BEST,
    BIGRAMS,
    FastTextConfig,
    best_model,
    build_fasttext,
    classic_model,
    fasttext_model,
    pooled_model,
    table_rows,
)
from embedtut.ngrams import EmbeddingBag, num_ids
from embedtut.optimizers import LazyAdam


def test_classic_model_parameter_count_and_layers():
    model = classic_model()
    embedding = model.get_layer("embedding")
    assert embedding.count_params() == 10_000 * 128 == 1_280_000
    assert model.get_layer("sentiment").count_params() == 500 * 128 + 1 == 64_001
    assert model.count_params() == 1_344_001
    assert model.output_shape == (None, 1)
    assert isinstance(model.get_layer("flatten"), keras.layers.Flatten)


def test_classic_model_small_and_bad_arguments():
    model = classic_model(num_words=50, maxlen=7, output_dim=3)
    out = model.predict(np.ones((2, 7), dtype="int32"), verbose=0)
    assert out.shape == (2, 1) and np.all((out > 0) & (out < 1))
    with pytest.raises(ValueError, match="maxlen"):
        classic_model(maxlen=0)


def test_pooled_model_is_position_independent():
    keras.utils.set_random_seed(0)
    model = pooled_model(num_words=30, output_dim=4)
    a = np.array([[0, 0, 5, 6, 7]], dtype="int32")
    b = np.array([[7, 6, 5, 0, 0]], dtype="int32")  # same words, other places
    np.testing.assert_allclose(model.predict(a, verbose=0), model.predict(b, verbose=0), rtol=1e-5)
    with pytest.raises(ValueError, match="num_words"):
        pooled_model(num_words=0)


def test_fasttext_model_structure_and_optimizer():
    model = fasttext_model(100, 8, dropout=0.25)
    assert isinstance(model.get_layer("bag"), EmbeddingBag)
    assert isinstance(model.optimizer, LazyAdam)
    assert model.count_params() == 100 * 8 + 8 + 1
    with pytest.raises(ValueError, match="dropout"):
        fasttext_model(100, 8, dropout=1.0)
    with pytest.raises(ValueError, match="learning_rate"):
        fasttext_model(100, 8, learning_rate=0)


def test_fasttext_model_learns_a_separable_toy_task():
    # Ids 1-10 only in positive rows, 11-20 only in negative rows, 21-30 in both.
    rng = np.random.default_rng(0)
    rows, labels = [], []
    for i in range(400):
        label = i % 2
        own = rng.integers(1, 11, size=rng.integers(1, 6)) + (0 if label else 10)
        shared = rng.integers(21, 31, size=rng.integers(0, 6))
        rows.append(np.concatenate([own, shared]).tolist())
        labels.append(label)
    x = tf.ragged.constant(rows, dtype=tf.int32)
    y = np.array(labels, dtype="float32")
    keras.utils.set_random_seed(1)
    model = fasttext_model(31, 4, learning_rate=0.05)
    data = tf.data.Dataset.from_tensor_slices((x, y)).batch(32)
    before = model.get_layer("bag").embeddings.numpy().copy()
    model.fit(data, epochs=5, verbose=0, shuffle=False)
    _, accuracy = model.evaluate(data, verbose=0)
    assert accuracy > 0.95
    after = model.get_layer("bag").embeddings.numpy()
    # LazyAdam never touches row 0 (no example uses it).
    np.testing.assert_array_equal(after[0], before[0])


def test_best_config_and_model():
    assert BEST.ngram in (2, 3) and BEST.epochs >= 1
    assert table_rows(BEST, 50) == num_ids(50, BEST.num_buckets)  # 537 MB: never built here
    small = dataclasses.replace(BEST, num_buckets=64)
    model = build_fasttext(small, 50, name="best")
    assert model.get_layer("bag").input_dim == num_ids(50, 64)
    assert model.get_layer("bag").output_dim == BEST.output_dim
    assert best_model.__doc__ and "BEST" in best_model.__doc__
    with pytest.raises(dataclasses.FrozenInstanceError):
        BEST.epochs = 99  # type: ignore[misc]
    assert FastTextConfig().ngram == 2


def test_train_fasttext_end_to_end_on_a_tiny_corpus(tmp_path, tiny_archive, cache):
    import tarfile

    from embedtut.models import train_fasttext
    from embedtut.sequences import vocabulary

    with tarfile.open(tiny_archive[0]) as tar:
        tar.extractall(tmp_path / "corpus", filter="data")
    source = tmp_path / "corpus" / "aclImdb"
    config = FastTextConfig(
        ngram=2,
        num_buckets=64,
        output_dim=4,
        epochs=30,
        binary=True,
        learning_rate=0.05,
        batch_size=2,
    )
    result = train_fasttext(config, source=source, per_class=3)
    vocab_size = len(vocabulary(source=source, per_class=3)[0])
    assert result.params == num_ids(vocab_size, 64) * 4 + 4 + 1
    assert result.seconds > 0
    # "great" marks every positive review, "awful" every negative one: the test set is easy.
    assert result.accuracy == 1.0


def test_a_unigram_table_has_no_bucket_rows():
    from embedtut.models import UNIGRAMS
    from embedtut.ngrams import ngram_ids

    assert UNIGRAMS.num_buckets == 2**21  # what the config says ...
    assert table_rows(UNIGRAMS, 100) == 101  # ... but a unigram model reads no bucket
    assert table_rows(BEST, 100) == num_ids(100, BEST.num_buckets)
    ranks = np.array([1, 2, 0, 100, 3])  # rank 0 is an out-of-vocabulary word
    for config, rows in [(UNIGRAMS, 101), (BIGRAMS, num_ids(100, BIGRAMS.num_buckets))]:
        ids, _ = ngram_ids(
            ranks,
            np.array([0, 5]),
            vocab_size=100,
            num_buckets=config.num_buckets,
            ngram=config.ngram,
        )
        assert ids.max() < rows == table_rows(config, 100)
    with pytest.raises(ValueError, match="vocab_size"):
        table_rows(UNIGRAMS, 0)
