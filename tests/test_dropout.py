"""Token and row dropout before the lookup, and which table rows the gradient touches."""

from __future__ import annotations

import keras
import numpy as np
import pytest

from embedtut.dropout import RowDropout, TokenDropout, table_gradient
from embedtut.recipes import recipe_model

IDS = np.array([[0, 0, 5, 6, 5, 7], [0, 8, 9, 5, 6, 6]], dtype="int32")


def test_token_dropout_is_identity_at_inference_and_keeps_padding():
    layer = TokenDropout(0.5, seed=1)
    assert np.array_equal(layer(IDS, training=False), IDS)
    out = np.asarray(layer(np.tile(IDS, (50, 1)), training=True))
    tiled = np.tile(IDS, (50, 1))
    assert ((out == tiled) | (out == 0)).all()  # a token is kept or becomes 0
    assert (out[tiled == 0] == 0).all()
    dropped = (out != tiled).sum() / (tiled != 0).sum()
    assert 0.4 < dropped < 0.6


def test_row_dropout_drops_every_occurrence_of_a_type():
    layer = RowDropout(0.5, 10, replacement=2, seed=3)
    out = np.asarray(layer(IDS, training=True))
    for word in np.unique(IDS[IDS > 0]):
        kept = out[IDS == word]
        assert (kept == word).all() or (kept == 2).all()  # all or none of its occurrences
    assert (out[IDS == 0] == 0).all()


@pytest.mark.parametrize("bad", [-0.1, 1.0, "0.5", True])
def test_rate_must_be_in_unit_interval(bad):
    with pytest.raises(ValueError):
        TokenDropout(bad)


def test_row_dropout_needs_input_dim():
    with pytest.raises(ValueError):
        RowDropout(0.5, 0)


def test_config_round_trip():
    layer = RowDropout(0.25, 12, replacement=1, seed=4)
    clone = RowDropout.from_config(layer.get_config())
    assert (clone.rate, clone.input_dim, clone.replacement) == (0.25, 12, 1)


def test_table_gradient_rows():
    keras.utils.set_random_seed(0)
    plain = recipe_model("pooled", 10, 3, maxlen=6)
    kind, listed, moved = table_gradient(plain, IDS)
    assert kind == "IndexedSlices"
    assert listed.tolist() == [0, 5, 6, 7, 8, 9] and moved.tolist() == [5, 6, 7, 8, 9]
    keras.utils.set_random_seed(0)
    rows = recipe_model("pooled", 10, 3, maxlen=6, before_lookup=[lambda: RowDropout(0.5, 10)])
    _, listed, moved = table_gradient(rows, IDS)
    assert set(moved) < {5, 6, 7, 8, 9} and set(listed) <= {0, 5, 6, 7, 8, 9}
