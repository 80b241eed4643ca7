"""Skip-gram pairs (window, negatives, subsampling), the Keras model, and PPMI profiles."""

from __future__ import annotations

import keras
import numpy as np
import pytest

from embedtut.skipgram import (
    SkipgramPairs,
    constant_baseline_loss,
    noise_distribution,
    ppmi_vectors,
    ranking_accuracy,
    skipgram_model,
    skipgram_pairs,
    subsample,
    token_counts,
)


def _positives(pairs):
    return sorted(zip(pairs.targets.tolist(), pairs.contexts[:, 0].tolist(), strict=True))


def test_window_one_gives_neighbours_both_ways():
    pairs = skipgram_pairs([np.array([1, 2, 3])], 5, window=1, negatives=0, shuffle=False)
    assert _positives(pairs) == [(1, 2), (2, 1), (2, 3), (3, 2)]
    assert pairs.labels.shape == (4, 1) and pairs.labels.all()


def test_window_two_and_texts_never_cross():
    texts = [np.array([1, 2, 3]), np.array([4, 5])]
    pairs = skipgram_pairs(texts, 6, window=2, negatives=0)
    expected = [(1, 2), (1, 3), (2, 1), (2, 3), (3, 1), (3, 2), (4, 5), (5, 4)]
    assert _positives(pairs) == expected


def test_ignored_ids_are_removed_before_windows():
    # 0 is padding: removing it makes 1 and 2 adjacent.
    pairs = skipgram_pairs([np.array([1, 0, 2])], 3, window=1, negatives=0)
    assert _positives(pairs) == [(1, 2), (2, 1)]


def test_negatives_shape_labels_and_distribution():
    rng = np.random.default_rng(0)
    texts = [rng.integers(1, 6, 50) for _ in range(40)]
    noise = np.array([0, 0, 0, 0, 0.5, 0.5])
    pairs = skipgram_pairs(texts, 6, window=2, negatives=3, noise=noise, seed=1)
    assert pairs.contexts.shape == (len(pairs), 4)
    assert pairs.labels[:, 0].all() and not pairs.labels[:, 1:].any()
    assert set(np.unique(pairs.contexts[:, 1:])) <= {4, 5}  # drawn from the noise only
    # the target of each negative is the target of its positive
    assert len(pairs.targets) == len(pairs.contexts)


def test_noise_distribution_is_unigram_to_three_quarters():
    p = noise_distribution(np.array([0, 16, 1]))
    np.testing.assert_allclose(p, np.array([0, 8, 1]) / 9)


def test_pairs_are_reproducible_with_a_seed():
    texts = [np.arange(1, 20) % 7 + 1]
    noise = noise_distribution(token_counts(texts, 8))
    a = skipgram_pairs(texts, 8, negatives=2, noise=noise, seed=3)
    b = skipgram_pairs(texts, 8, negatives=2, noise=noise, seed=3)
    np.testing.assert_array_equal(a.contexts, b.contexts)


def test_a_negative_equal_to_the_true_context_is_kept():
    # word2vec.c skips such a draw (`if (target == word) continue;`); we keep it, label 0.
    noise = np.array([0, 0, 1.0])  # every negative is id 2
    pairs = skipgram_pairs([np.array([1, 2, 1, 2])], 3, window=1, negatives=2, noise=noise)
    clash = pairs.contexts[:, 0] == 2
    assert clash.any()
    assert (pairs.contexts[clash, 1:] == 2).all() and not pairs.labels[clash, 1:].any()


def test_subsampling_drops_frequent_words_and_keeps_rare_ones():
    texts = [np.array([1] * 900 + [2] * 10 + [3] * 5)]
    counts = token_counts(texts, 4)
    kept = subsample(texts, counts, threshold=1e-2, seed=0)[0]
    # keep probability sqrt(t / f): word 1 (f ~ 0.98) ~ 10%; words 2 and 3 always kept.
    assert (kept == 2).sum() == 10 and (kept == 3).sum() == 5
    assert 40 < (kept == 1).sum() < 160
    assert len(subsample([np.array([1, 2]), np.array([], dtype=int)], counts, seed=0)) == 2


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"window": 0}, "window"),
        ({"negatives": -1}, "negatives"),
        ({"noise": np.ones(3) / 3}, "noise"),
        ({}, r"noise=noise_distribution\(token_counts\(texts_before_subsampling"),
        ({"negatives": 1}, "needs noise="),
    ],
)
def test_bad_arguments_are_refused(kwargs, message):
    with pytest.raises(ValueError, match=message):
        skipgram_pairs([np.array([1, 2, 3])], 4, **kwargs)


def test_bad_ids_and_flat_arrays_are_refused():
    with pytest.raises(ValueError, match="outside"):
        skipgram_pairs([np.array([1, 9])], 4)
    with pytest.raises(ValueError, match="list of 1-D"):
        skipgram_pairs(np.array([1, 2, 3]), 4)
    with pytest.raises(ValueError, match="threshold"):
        subsample([np.array([1])], np.array([0, 1]), threshold=0)


def test_model_learns_which_words_go_together():
    keras.utils.set_random_seed(0)
    rng = np.random.default_rng(0)
    # Two "topics": words 1-4 only appear with each other, words 5-8 likewise.
    texts = [rng.integers(1, 5, 20) if i % 2 else rng.integers(5, 9, 20) for i in range(200)]
    noise = noise_distribution(token_counts(texts, 9))
    pairs = skipgram_pairs(texts, 9, window=2, negatives=2, noise=noise, seed=0)
    model = skipgram_model(9, 4, contexts=3, optimizer=keras.optimizers.Adam(0.05))
    inputs = {"target": pairs.targets, "contexts": pairs.contexts}
    assert model.predict({k: v[:2] for k, v in inputs.items()}, verbose=0).shape == (2, 3)
    model.fit(inputs, pairs.labels, batch_size=256, epochs=3, verbose=0)
    table = model.get_layer("target_embedding").embeddings.numpy()
    context = model.get_layer("context_embedding").embeddings.numpy()
    same = table[1] @ context[2]
    other = table[1] @ context[6]
    assert same > other


def test_context_table_starts_at_zero_and_target_table_follows_its_initializer():
    def tables(model):
        return [model.get_layer(f"{n}_embedding").embeddings.numpy() for n in ("target", "context")]

    target, context = tables(skipgram_model(6, 3, contexts=2))
    np.testing.assert_array_equal(context, np.zeros((6, 3)))
    assert np.abs(target).max() <= 0.05 and np.unique(target).size > 1  # "uniform"

    model = skipgram_model(
        6, 3, contexts=2, embeddings_initializer="ones", optimizer=keras.optimizers.SGD(0.1)
    )
    target, context = tables(model)
    np.testing.assert_array_equal(target, np.ones((6, 3)))
    np.testing.assert_array_equal(context, np.zeros((6, 3)))
    # Every logit starts at 0 and the target rows get no gradient at the first step.
    batch = {"target": np.array([1], "int32"), "contexts": np.array([[2, 3]], "int32")}
    np.testing.assert_array_equal(model.predict(batch, verbose=0), np.zeros((1, 2)))
    model.train_on_batch(batch, np.array([[1.0, 0.0]], "float32"))
    after_target, after_context = tables(model)
    np.testing.assert_array_equal(after_target, target)
    assert np.flatnonzero(np.any(after_context != 0, axis=1)).tolist() == [2, 3]

    given = keras.initializers.Constant(0.5)
    _, context = tables(skipgram_model(6, 3, contexts=2, context_initializer=given))
    np.testing.assert_array_equal(context, np.full((6, 3), 0.5))


def test_ppmi_vectors_count_contexts():
    t = np.array([1, 1, 2, 2, 3])
    c = np.array([2, 2, 1, 3, 1])
    ppmi = ppmi_vectors(t, c, 4, context_size=4)
    assert ppmi.shape == (4, 4)
    assert ppmi[1, 2] > 0 and ppmi[1, 3] == 0 and (ppmi >= 0).all()
    with pytest.raises(ValueError, match="targets"):
        ppmi_vectors(t, c[:2], 4)


def test_ranking_accuracy_counts_positives_that_beat_every_negative():
    model = skipgram_model(4, 2, contexts=3, embeddings_initializer="zeros")
    model.get_layer("target_embedding").embeddings.assign(np.eye(4, 2, dtype="float32"))
    context = np.array([[1, 0], [0, 1], [-1, 0], [0, -1]], "float32")
    model.get_layer("context_embedding").embeddings.assign(context)
    # Target 0 = (1, 0): scores 1, 0, -1, 0 for contexts 0..3.
    pairs = SkipgramPairs(
        targets=np.array([0, 0, 0], "int32"),
        contexts=np.array([[0, 1, 2], [1, 0, 2], [1, 3, 2]], "int32"),  # win, lose, tie
        labels=np.tile(np.array([1, 0, 0], "float32"), (3, 1)),
    )
    assert ranking_accuracy(model, pairs) == pytest.approx(1 / 3)
    with pytest.raises(ValueError, match="negative"):
        ranking_accuracy(model, SkipgramPairs(pairs.targets, pairs.contexts[:, :1], pairs.labels))


def test_constant_baseline_loss_is_the_entropy_of_the_label_rate():
    labels = np.tile(np.array([1, 0, 0, 0], "float32"), (5, 1))
    p = 0.25
    assert constant_baseline_loss(labels) == pytest.approx(-(p * np.log(p) + 0.75 * np.log(0.75)))
    # No constant does better: the mean's own loss is the minimum.
    for q in (0.2, 0.3, 0.5):
        assert constant_baseline_loss(labels) < -(p * np.log(q) + 0.75 * np.log(1 - q))
    with pytest.raises(ValueError):
        constant_baseline_loss(np.zeros(4))
