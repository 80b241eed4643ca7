import keras
import numpy as np
import pytest

from embedtut.classifiers import MaskedAveragePooling1D, bag_of_embeddings, pooled_classifier


def test_masked_mean_skips_padding_and_handles_empty_rows():
    x = np.arange(2 * 3 * 2, dtype="float32").reshape(2, 3, 2)
    mask = np.array([[True, False, True], [False, False, False]])
    out = np.asarray(MaskedAveragePooling1D()(x, mask=mask))
    np.testing.assert_allclose(out[0], (x[0, 0] + x[0, 2]) / 2)
    np.testing.assert_array_equal(out[1], [0.0, 0.0])  # all masked: zeros, not NaN
    np.testing.assert_allclose(np.asarray(MaskedAveragePooling1D()(x)), x.mean(axis=1))


def test_pooled_classifier_ignores_padding():
    keras.utils.set_random_seed(0)
    model = pooled_classifier(10, 4, sequence_length=5)
    assert model.count_params() == 10 * 4 + 4 + 1
    a = model.predict(np.array([[0, 0, 0, 3, 7]]), verbose=0)
    b = model.predict(np.array([[3, 7, 0, 0, 0]]), verbose=0)
    c = model.predict(np.array([[3, 0, 7, 0, 0]]), verbose=0)
    np.testing.assert_allclose(a, b, rtol=1e-6)
    np.testing.assert_allclose(a, c, rtol=1e-6)


def test_pooled_classifier_learns_a_separable_toy_task():
    keras.utils.set_random_seed(0)
    rng = np.random.default_rng(0)
    y = rng.integers(0, 2, 256)
    # token 1 means negative, token 2 positive, tokens 3..9 are noise
    x = rng.integers(3, 10, (256, 6))
    x[:, 0] = y + 1
    x[:, 4:] = 0
    model = pooled_classifier(10, 4, sequence_length=6, learning_rate=0.05)
    model.fit(x, y, epochs=30, batch_size=64, verbose=0)
    assert model.evaluate(x, y, verbose=0)[1] == 1.0


def test_bag_of_embeddings_wraps_any_layer_and_round_trips(tmp_path):
    keras.utils.set_random_seed(0)
    layer = keras.layers.Embedding(20, 3, mask_zero=True)
    model = bag_of_embeddings(layer, dropout=0.2)
    x = np.array([[1, 2, 0], [4, 0, 0]])
    path = tmp_path / "boe.keras"
    model.save(path)
    loaded = keras.saving.load_model(path)
    np.testing.assert_allclose(model.predict(x, verbose=0), loaded.predict(x, verbose=0))


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"input_dim": 0}, "input_dim"),
        ({"input_dim": 1}, "padding"),
        ({"input_dim": 5, "output_dim": 2.5}, "output_dim"),
        ({"input_dim": 5, "dropout": 1.0}, "dropout"),
        ({"input_dim": 5, "learning_rate": 0}, "learning_rate"),
    ],
)
def test_bad_arguments_are_refused(kwargs, match):
    with pytest.raises(ValueError, match=match):
        pooled_classifier(**kwargs)


def test_bag_of_embeddings_needs_a_layer():
    with pytest.raises(ValueError, match="keras Layer"):
        bag_of_embeddings("embedding")


def test_fit_and_evaluate_is_reproducible():
    from embedtut.classifiers import fit_and_evaluate

    rng = np.random.default_rng(0)
    x = rng.integers(1, 10, (64, 5))
    y = (x[:, 0] > 5).astype("int32")
    results = [
        fit_and_evaluate(lambda: pooled_classifier(10, 4), (x, y), (x, y), epochs=2, batch_size=16)
        for _ in range(2)
    ]
    assert results[0][1]["accuracy"] == results[1][1]["accuracy"]
    assert set(results[0][1]) == {"accuracy", "train_accuracy", "seconds"}
    assert isinstance(results[0][0], keras.Model)


def test_rank_batches_gives_every_lookup_the_same_batches():
    import keras

    from embedtut.classifiers import rank_batches, string_batches

    rng = np.random.default_rng(0)
    ranks = rng.integers(0, 6, size=(50, 4)).astype("int32")
    labels = rng.integers(0, 2, size=50)
    words = ["a", "b", "c", "d", "e"]
    buckets = np.array([0, 3, 1, 2, 3, 1])

    def epochs(data, n=2):
        return [[tuple(np.asarray(t) for t in b) for b in data] for _ in range(n)]

    keras.utils.set_random_seed(3)
    plain = epochs(rank_batches(ranks, labels, batch_size=16, shuffle_seed=1))
    keras.utils.set_random_seed(3)
    hashed = epochs(rank_batches(ranks, labels, lookup=buckets, batch_size=16, shuffle_seed=1))
    keras.utils.set_random_seed(3)
    strings = epochs(string_batches(ranks, labels, words, batch_size=16, shuffle_seed=1))
    table = np.array(["", *words])
    assert [len(b[1]) for b in plain[0]] == [16, 16, 16, 2]
    assert not np.array_equal(plain[0][0][1], plain[1][0][1])  # reshuffled each epoch
    for p, h, s in zip(sum(plain, []), sum(hashed, []), sum(strings, []), strict=True):
        np.testing.assert_array_equal(h[0], buckets[p[0]])
        np.testing.assert_array_equal(s[0].astype(str), table[p[0]])
        np.testing.assert_array_equal(p[1], h[1])
        np.testing.assert_array_equal(p[1], s[1])


def test_rank_batches_refuses_bad_input():
    from embedtut.classifiers import rank_batches

    with pytest.raises(ValueError):
        rank_batches(np.array([[0, 3]]), [1], lookup=np.array([0, 1, 2]))
    with pytest.raises(ValueError):
        rank_batches(np.array([0, 1]), [1, 0])
    with pytest.raises(ValueError):
        rank_batches(np.array([[0, 1]]), [1], batch_size=0)


def test_fit_and_evaluate_takes_dataset_factories():
    from embedtut.classifiers import fit_and_evaluate, rank_batches

    rng = np.random.default_rng(0)
    x = rng.integers(1, 10, size=(64, 5)).astype("int32")
    y = (x[:, 0] > 5).astype("int32")
    runs = [
        fit_and_evaluate(
            lambda: pooled_classifier(10, 4),
            lambda: rank_batches(x, y, batch_size=16, shuffle_seed=2),
            lambda: rank_batches(x, y, batch_size=16),
            epochs=2,
            seed=s,
        )[1]["accuracy"]
        for s in (7, 7)
    ]
    assert runs[0] == runs[1]
