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
    weights = np.ones(num_ids(50, 64), "float32") if BEST.nb_weights else None
    model = build_fasttext(small, 50, id_weights=weights, name="best")
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
    vocab_size = len(vocabulary(source=source, per_class=3)[0])
    for nb in (False, True):
        result = train_fasttext(
            dataclasses.replace(config, nb_weights=nb), source=source, per_class=3
        )
        # the fixed naive Bayes weights are not parameters
        assert result.params == num_ids(vocab_size, 64) * 4 + 4 + 1
        assert result.seconds > 0
        # "great" marks every positive review, "awful" every negative one: an easy test set
        assert result.accuracy == 1.0
        bag = result.model.get_layer("bag")
        assert bag.weighted is nb and (not nb or bag.id_weights.numpy().max() > 0)


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


def test_naive_bayes_weights_match_the_nbsvm_ratio(monkeypatch):
    import embedtut.models as models
    from embedtut.models import NgramReviews, naive_bayes_weights, presence_counts
    from embedtut.nbsvm import log_count_ratio

    # three reviews over ids 1..4 (row 0 and 5 unused); id 2 twice in the first review
    reviews = NgramReviews(
        np.array([1, 2, 2, 3, 2, 4, 1]), np.array([0, 4, 6, 7]), np.array([1, 0, 1])
    )
    counts = presence_counts(reviews, 6)
    np.testing.assert_array_equal(counts, [[0, 2, 1, 1, 0, 0], [0, 0, 1, 0, 1, 0]])
    assert counts.dtype == np.int32
    w = naive_bayes_weights(counts)
    x = np.array([[0, 1, 1, 1, 0, 0], [0, 0, 1, 0, 1, 0], [0, 1, 0, 0, 0, 0]])  # presence
    np.testing.assert_allclose(w, np.abs(log_count_ratio(x, reviews.labels)), rtol=1e-6)
    assert w.dtype == np.float32 and w[0] == 0 and w[5] == 0  # unused ids weigh nothing
    # the same reviews, each id once and sorted (as ngram_ids(binary=True) gives them),
    # an empty review first and one at the end, split in two sets whose counts add up
    same = NgramReviews(
        np.array([1, 2, 3, 2, 4, 1]), np.array([0, 0, 3, 5, 6, 6]), np.array([0, 1, 0, 1, 1])
    )
    parts = presence_counts(same.take([0, 1]), 6) + presence_counts(same.take([2, 3, 4]), 6)
    np.testing.assert_array_equal(parts, counts)
    # one review per chunk of the counting loop, after a deduplication: the same counts
    monkeypatch.setattr(models, "_CHUNK", 1)
    np.testing.assert_array_equal(presence_counts(reviews, 6), counts)
    # id 1 is in two positive reviews, id 3 in one: id 1 tells the classes apart better
    assert w[1] > w[3] > 0
    with pytest.raises(ValueError, match="ids must lie"):
        presence_counts(reviews, 4)
    with pytest.raises(ValueError, match="offsets"):
        presence_counts(reviews._replace(offsets=np.array([0, 4, 6])), 6)
    with pytest.raises(ValueError, match="labels"):
        presence_counts(reviews._replace(labels=np.array([1, 2, 0])), 6)
    with pytest.raises(ValueError, match="both classes"):
        naive_bayes_weights(presence_counts(reviews._replace(labels=np.ones(3, int)), 6))
    with pytest.raises(ValueError, match="alpha"):
        naive_bayes_weights(counts, alpha=0)


def test_build_fasttext_wants_weights_exactly_when_configured():
    config = FastTextConfig(ngram=2, num_buckets=8, output_dim=2, nb_weights=True)
    rows = table_rows(config, 10)
    with pytest.raises(ValueError, match="id_weights"):
        build_fasttext(config, 10)
    with pytest.raises(ValueError, match="id_weights"):
        build_fasttext(dataclasses.replace(config, nb_weights=False), 10, id_weights=np.ones(rows))
    with pytest.raises(ValueError, match="shape"):
        build_fasttext(config, 10, id_weights=np.ones(rows + 1))
    weights = np.linspace(0, 1, rows).astype("float32")
    model = build_fasttext(config, 10, id_weights=weights)
    bag = model.get_layer("bag")
    np.testing.assert_array_equal(bag.id_weights.numpy(), weights)
    assert all(v is not bag.id_weights for v in model.trainable_weights)


def test_ngram_reviews_take_keeps_each_review_whole():
    from embedtut.models import NgramReviews

    reviews = NgramReviews(np.arange(10), np.array([0, 3, 3, 7, 10]), np.array([1, 0, 1, 0]))
    part = reviews.take(np.array([3, 0, 1]))
    np.testing.assert_array_equal(part.ids, [7, 8, 9, 0, 1, 2])
    np.testing.assert_array_equal(part.offsets, [0, 3, 6, 6])
    np.testing.assert_array_equal(part.labels, [0, 1, 0])
    both = part.concat(reviews.take(np.array([2])))
    np.testing.assert_array_equal(both.ids, [7, 8, 9, 0, 1, 2, 3, 4, 5, 6])
    np.testing.assert_array_equal(both.offsets, [0, 3, 6, 6, 10])
    np.testing.assert_array_equal(both.labels, [0, 1, 0, 1])


def test_fit_fasttext_scores_validation_after_every_epoch():
    from embedtut.models import NgramReviews, fit_fasttext

    rng = np.random.default_rng(0)
    rows, labels = [], []
    for i in range(200):  # ids 1-5 positive, 6-10 negative, 11-15 either
        own = rng.integers(1, 6, size=3) + (0 if i % 2 else 5)
        rows.append(np.concatenate([own, rng.integers(11, 16, size=2)]))
        labels.append(i % 2)
    offsets = np.concatenate(([0], np.cumsum([len(r) for r in rows])))
    reviews = NgramReviews(np.concatenate(rows), offsets, np.array(labels))
    config = FastTextConfig(
        ngram=2, num_buckets=4, output_dim=2, epochs=3, learning_rate=0.05, nb_weights=True
    )
    result = fit_fasttext(
        config,
        reviews.take(np.arange(150)),
        11,
        seed=0,
        validation=reviews.take(np.arange(150, 200)),
    )
    assert len(result.validation_accuracy) == 3 and result.validation_accuracy[-1] == 1.0
    assert result.seconds > 0 and result.pseudo_labelled == 0

    # self-training: the last 50 reviews, unlabelled (-1), labelled by a first model
    unlabelled = reviews.take(np.arange(150, 200))._replace(labels=np.full(50, -1))
    selfish = dataclasses.replace(config, pseudo_label_margin=0.3, teacher_epochs=3)
    with pytest.raises(ValueError, match="unlabelled"):
        fit_fasttext(selfish, reviews.take(np.arange(150)), 11, seed=0)
    result = fit_fasttext(selfish, reviews.take(np.arange(150)), 11, seed=0, unlabelled=unlabelled)
    assert 0 < result.pseudo_labelled <= 50 and result.validation_accuracy == ()


def test_pseudo_label_keeps_confident_reviews_with_the_models_labels():
    from embedtut.models import NgramReviews, pseudo_label

    inputs = keras.Input(shape=(None,), dtype="int32", ragged=True)
    bag = EmbeddingBag(4, 1, name="bag")
    model = keras.Model(inputs, keras.layers.Activation("sigmoid")(bag(inputs)))
    bag.embeddings.assign(np.array([[0.0], [4.0], [-4.0], [0.1]], "float32"))
    reviews = NgramReviews(np.array([1, 2, 3, 1, 2]), np.array([0, 1, 2, 3, 5]), -np.ones(4))
    chosen = pseudo_label(model, reviews, 0.4)  # p = 0.98, 0.02, 0.52, 0.5
    np.testing.assert_array_equal(chosen.ids, [1, 2])
    np.testing.assert_array_equal(chosen.labels, [1, 0])
    # in chunks (as ngram_chunks gives them): the same reviews, the same labels
    chunked = pseudo_label(model, iter([reviews.take([0, 1]), reviews.take([2, 3])]), 0.4)
    for a, b in zip(chunked, chosen, strict=True):
        np.testing.assert_array_equal(a, b)
    with pytest.raises(ValueError, match="margin"):
        pseudo_label(model, reviews, 0.5)


def test_ngram_reviews_hashes_in_chunks_without_changing_a_thing(
    tmp_path, tiny_archive, cache, monkeypatch
):
    import tarfile

    import embedtut.models as models
    from embedtut.ngrams import ngram_ids
    from embedtut.sequences import tokenized, vocabulary

    with tarfile.open(tiny_archive[0]) as tar:
        tar.extractall(tmp_path / "corpus", filter="data")
    source = tmp_path / "corpus" / "aclImdb"
    config = FastTextConfig(ngram=3, num_buckets=64, binary=True)
    vocab_size = len(vocabulary(source=source, per_class=3)[0])
    tokens = tokenized("train", source=source, per_class=3)
    ids, offsets = ngram_ids(
        tokens.ranks, tokens.offsets, vocab_size=vocab_size, num_buckets=64, ngram=3, binary=True
    )
    monkeypatch.setattr(models, "_CHUNK", 4)  # 6 reviews: chunks of 4 and 2
    reviews = models.ngram_reviews(config, "train", vocab_size, source=source, per_class=3)
    np.testing.assert_array_equal(reviews.ids, ids)
    np.testing.assert_array_equal(reviews.offsets, offsets)
    np.testing.assert_array_equal(reviews.labels, tokens.labels)
    assert reviews.ids.dtype == np.int32
