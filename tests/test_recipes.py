"""recipe_model: chapter 5's models by default, with recipes slotted in."""

from __future__ import annotations

import keras
import numpy as np
import pytest

from embedtut.models import classic_model, pooled_model
from embedtut.recipes import recipe_model


def _same(a, b):
    return all(np.array_equal(u, v) for u, v in zip(a.get_weights(), b.get_weights(), strict=True))


def test_defaults_are_chapter_5_models():
    keras.utils.set_random_seed(0)
    a = classic_model(50, 7, 3)
    keras.utils.set_random_seed(0)
    assert _same(a, recipe_model("flatten", 50, 3, maxlen=7))
    keras.utils.set_random_seed(0)
    b = pooled_model(50, 3, maxlen=7)
    keras.utils.set_random_seed(0)
    assert _same(b, recipe_model("pooled", 50, 3, maxlen=7))


def test_initial_table_frozen_and_hidden():
    start = np.arange(12, dtype="float32").reshape(6, 2)
    m = recipe_model(
        "pooled", 6, 2, maxlen=3, embeddings_initializer=start, trainable=False, hidden=4
    )
    assert np.array_equal(m.get_layer("embedding").embeddings.numpy(), start)
    assert not m.get_layer("embedding").trainable and m.get_layer("hidden").units == 4
    with pytest.raises(ValueError):
        recipe_model("pooled", 6, 3, embeddings_initializer=start)


@pytest.mark.parametrize("bad", [{"kind": "rnn"}, {"output_dim": 0}, {"hidden": -1}])
def test_bad_arguments(bad):
    args = {"kind": "pooled", "output_dim": 2} | bad
    with pytest.raises(ValueError):
        recipe_model(args.pop("kind"), 10, **args)
