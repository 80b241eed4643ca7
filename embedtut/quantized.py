"""Smaller tables: what a lookup in a bfloat16, int8 or int4 table does, and what it costs.

Chapter 9 stores chapter 5's table four ways (float32, bfloat16, ``Embedding.quantize("int8")``
and ``quantize("int4")``). This module compiles a lookup in each, as ``fit`` and ``predict``
run it on JAX (one XLA program, the table passed in as an argument, not baked in), checks
whether the compiled program materialises anything table-sized besides the table itself, and
times the lookups with :func:`embedtut.bench.compare`.

Run :func:`lookup_costs` in a child process on the JAX backend
(``run_on_backend("jax", "embedtut.quantized:lookup_costs")``): its timings are for one CPU
device, not the simulated devices of a sharding notebook.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

MODES = ("float32", "bfloat16", "int8", "int4")
"""How :func:`lookup_function` stores the table: a float dtype or a Keras quantization mode."""


def lookup_function(vocab_size: int, dim: int, mode: str) -> tuple[Callable[..., Any], tuple]:
    """A jitted lookup in a fresh ``vocab_size`` × ``dim`` ``Embedding`` stored as ``mode``.

    Returns ``(fn, variables)``; ``fn(*variables, ids)`` runs the layer's
    ``stateless_call``, so the table is an argument of the compiled program (a closure would
    make it a constant XLA could fold). JAX backend only.

    Raises:
        ValueError: an unknown mode, or a backend other than JAX.
    """
    import jax
    import keras

    if mode not in MODES:
        raise ValueError(f"mode must be one of {', '.join(MODES)}, not {mode!r}")
    if keras.backend.backend() != "jax":
        raise ValueError(
            f"lookup_function compiles with jax.jit: run it with KERAS_BACKEND=jax, "
            f"not {keras.backend.backend()!r}"
        )
    layer = keras.layers.Embedding(
        vocab_size, dim, dtype="bfloat16" if mode == "bfloat16" else None
    )
    layer.build((None,))
    if mode in ("int8", "int4"):
        layer.quantize(mode)
    trainable = [v.value for v in layer.trainable_variables]
    fixed = [v.value for v in layer.non_trainable_variables]

    @jax.jit
    def lookup(trainable, fixed, ids):
        return layer.stateless_call(trainable, fixed, ids)[0]

    return lookup, (trainable, fixed)


_RESULT = re.compile(r"(?:ROOT\s+)?%?[\w.\-]+\s*=\s*(\([^)]*\)|\S+)\s")


def table_sized_results(hlo_text: str, vocab_size: int) -> list[str]:
    """Instructions of the top-level compiled program whose result has ``vocab_size`` rows.

    Parameters are left out (the table passed in); what remains is a table-sized
    intermediate the program materialises, e.g. a whole table unpacked or converted before
    the gather. Instructions inside fusions are not counted: XLA computes those per output
    element, so a whole-table operation fused into a gather only touches the gathered rows.
    """
    entry = hlo_text[hlo_text.index("\nENTRY") :] if "\nENTRY" in hlo_text else hlo_text
    rows = re.compile(rf"\[{int(vocab_size)}(?:,\d+)*\]")
    found = []
    for line in entry.splitlines()[1:]:
        text = line.strip()
        if "=" not in text or " parameter(" in text:
            continue
        result = _RESULT.match(text)
        if result and rows.search(result.group(1)):
            found.append(text)
    return found


def lookup_costs(
    vocab_sizes: Sequence[int] = (5_000, 1_000_000),
    dim: int = 16,
    batch: int = 2_048,
    length: int = 100,
    rounds: int = 25,
    seed: int = 0,
) -> dict[str, Any]:
    """Compile and time a lookup of ``batch`` × ``length`` ids in every mode and table size.

    Ids are drawn from the first 5,000 rows, the same ids for every table, so a larger table
    changes only how much there is to look them up in. Returns ``{"rows": [...]}``, one dict
    per (mode, vocab_size): ``table_sized`` (:func:`table_sized_results`), ``seconds`` (the
    robust time per call, :func:`embedtut.bench.compare`, all cases interleaved),
    ``vs_float32`` (the ratio to float32 at the same size, and ``vs_float32_spread`` its
    per-round quartiles) and ``vs_smallest`` (the ratio to the same mode at the first size).
    """
    from embedtut import bench

    ids = np.random.default_rng(seed).integers(0, 5_000, (batch, length)).astype("int32")
    variants, sized = {}, {}
    for vocab_size in vocab_sizes:
        for mode in MODES:
            fn, (trainable, fixed) = lookup_function(vocab_size, dim, mode)
            text = fn.lower(trainable, fixed, ids).compile().as_text()
            sized[(mode, vocab_size)] = table_sized_results(text, vocab_size)
            variants[(mode, vocab_size)] = lambda fn=fn, t=trainable, f=fixed: fn(t, f, ids)
    timed = bench.compare(variants, rounds=rounds)
    rows = []
    for (mode, vocab_size), found in sized.items():
        ratio = timed.ratio((mode, vocab_size), ("float32", vocab_size))
        growth = timed.ratio((mode, vocab_size), (mode, vocab_sizes[0]))
        rows.append(
            {
                "mode": mode,
                "vocab_size": vocab_size,
                "table_sized": found,
                "seconds": timed.seconds((mode, vocab_size)),
                "vs_float32": ratio.estimate,
                "vs_float32_spread": [ratio.low, ratio.high],
                "vs_smallest": growth.estimate,
            }
        )
    return {"rows": rows}


__all__ = ["MODES", "lookup_costs", "lookup_function", "table_sized_results"]
