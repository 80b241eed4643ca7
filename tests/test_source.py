"""Source excerpts selected by content."""

from __future__ import annotations

import keras
import pytest

from embedtut.source import excerpt, excerpt_text


def _sample(x):
    y = x + 1
    z = y * 2
    return z


def test_excerpt_selects_by_content_and_dedents():
    text = excerpt_text(_sample, "y = x + 1", "return z")
    header, *body = text.splitlines()
    assert header.startswith("# ") and header.endswith("test_source.py :: _sample")
    assert body == ["# ... line 1 of 4 not shown ...", "y = x + 1", "z = y * 2", "return z"]
    assert excerpt_text(_sample, "z = y").splitlines()[1:] == [
        "# ... lines 1-2 of 4 not shown ...",
        "z = y * 2",
        "# ... line 4 of 4 not shown ...",
    ]
    whole = excerpt_text(_sample, "def _sample", "return z").splitlines()[1:]
    assert whole[0] == "def _sample(x):" and not any("not shown" in x for x in whole)


def test_keras_paths_are_shown_from_the_package_folder(capsys):
    excerpt(keras.layers.Embedding.call, "def call", "ops.take")
    out = capsys.readouterr().out
    assert out.startswith("# keras/src/layers/core/embedding.py :: Embedding.call\n")
    assert "ops.take" in out.splitlines()[-2] and "not shown" in out.splitlines()[-1]


def test_missing_text_raises_instead_of_showing_other_lines():
    with pytest.raises(LookupError, match="'not there' not found in _sample"):
        excerpt_text(_sample, "not there")
    with pytest.raises(LookupError, match="'nor this' not found"):
        excerpt_text(_sample, "y = x", "nor this")
