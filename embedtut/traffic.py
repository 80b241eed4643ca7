"""What sharding a table costs in communication: the collectives in a compiled program.

Chapter 9 reads XLA's compiled program (HLO text) for the collective operations a sharded
lookup and its gradient need, and compares the bytes they carry with an analytic model:

* :func:`collectives`: the collective operations in HLO text, with the bytes each carries;
* :func:`lookup_program` and :func:`lookup_bytes`: one table, laid out by rows, by columns or
  replicated over a mesh's ``model`` axis (the layouts a ``LayoutMap`` gives a Keras
  ``Embedding``), looked up, mean-pooled and differentiated;
* :func:`tables_program` and :func:`tables_bytes`: several same-shaped tables stacked into one
  array, so that they can also be laid out **table-wise** (whole tables on different
  devices), followed by a one-unit dense head over the pooled features, as a recommender's
  tables feed one model.

The programs need JAX (``KERAS_BACKEND=jax`` is not required: they use JAX directly); the
reader and the models are plain Python.
"""

from __future__ import annotations

import math
import re
from typing import Any

from embedtut.scale import SHARDINGS, _axes, _positive_int

COLLECTIVE_OPS = (
    "all-reduce",
    "all-gather",
    "reduce-scatter",
    "all-to-all",
    "collective-permute",
)
"""The HLO collective operations :func:`collectives` reports."""

_HLO_BYTES = {
    "pred": 1,
    "s8": 1,
    "u8": 1,
    "s16": 2,
    "u16": 2,
    "f16": 2,
    "bf16": 2,
    "s32": 4,
    "u32": 4,
    "f32": 4,
    "s64": 8,
    "u64": 8,
    "f64": 8,
}


_SHAPE = re.compile(r"\b([a-z]+\d*)\[([0-9,]*)\]")


def _shape_bytes(text: str) -> int:
    total = 0
    for dtype, dims in _SHAPE.findall(text):
        if dtype not in _HLO_BYTES:
            continue
        size = math.prod(int(d) for d in dims.split(",") if d) if dims else 1
        total += size * _HLO_BYTES[dtype]
    return total


def collectives(hlo_text: str) -> list[dict[str, Any]]:
    """The collective operations in compiled HLO text, with the bytes each one carries.

    Reads every instruction ``%name = <shape> <op>(...)`` whose op is one of
    :data:`COLLECTIVE_OPS` (an async ``-start`` counts, its ``-done`` does not); ``bytes`` is
    the size of its result on one device (for a tuple, the sum of its parts).

    Returns:
        ``[{"op", "bytes", "shape"}]`` in program order.
    """
    ops = "|".join(re.escape(op) for op in COLLECTIVE_OPS)
    pattern = re.compile(rf"=\s*(.+?)\s+({ops})(?:-start)?\(")
    found = []
    for line in hlo_text.splitlines():
        match = pattern.search(line)
        if match:
            shape = match.group(1)
            found.append({"op": match.group(2), "bytes": _shape_bytes(shape), "shape": shape})
    return found


def _jax_mesh(mesh):
    """The ``jax.sharding.Mesh`` of a ``keras.distribution.DeviceMesh`` (or ``mesh`` itself)."""
    return mesh.backend_mesh if hasattr(mesh, "backend_mesh") else mesh


_LAYOUT = re.compile(r"\{[^}]*\}")


def describe(found: list[dict[str, Any]]) -> str:
    """:func:`collectives`' result in one line, ``op shape`` each, layouts left out.

    ``"all-reduce f32[32]; all-reduce (f32[], f32[250,16])"``
    """
    return "; ".join(f"{c['op']} {_LAYOUT.sub('', c['shape'])}" for c in found)


def lookup_bytes(
    *,
    vocab_size: int,
    dim: int,
    ids_per_batch_shard: int,
    model_shards: int,
    sharding: str,
    bytes_per_value: int = 4,
) -> dict[str, int]:
    """The analytic model: bytes the collectives of one lookup and its dense gradient carry.

    Per device, on a ``batch`` × ``model`` mesh, for a table sharded on the model axis:

    * ``forward``: rows sharding gathers locally with the other shards' rows masked to zero,
      then sums the partial results over the model axis: one all-reduce of the gathered
      block, ``ids_per_batch_shard`` × ``dim`` values. Columns sharding gathers its own
      columns with no collective (0); replicated, none either.
    * ``gradient``: the dense table gradient of each batch shard is summed over the batch
      axis: one all-reduce of the device's part of the table, ``vocab_size × dim /
      model_shards`` values (rows or columns alike; ``vocab_size × dim`` replicated).

    The sizes are what one device hands to each collective, not wire traffic (a ring
    all-reduce sends about twice that).
    """
    vocab_size = _positive_int("vocab_size", vocab_size)
    dim = _positive_int("dim", dim)
    ids = _positive_int("ids_per_batch_shard", ids_per_batch_shard)
    shards = _positive_int("model_shards", model_shards)
    _axes(sharding, "model")
    forward = ids * dim * bytes_per_value if sharding == "rows" else 0
    part = vocab_size * dim if sharding == "replicated" else vocab_size * dim // shards
    return {"forward": forward, "gradient": part * bytes_per_value}


def lookup_program(
    mesh, table_sharding: str, *, vocab_size: int, dim: int, batch: int, length: int
) -> str:
    """Compiled HLO text of a lookup, mean-pooled, and its gradient, on ``mesh`` (JAX only).

    The table (zeros) is laid out by ``table_sharding`` over the ``model`` axis, the
    ``batch`` × ``length`` ids split over ``batch``; the gradient is returned in the
    table's layout, as an optimizer would use it.
    """
    import jax
    import jax.numpy as jnp
    from jax.sharding import NamedSharding, PartitionSpec

    jax_mesh = _jax_mesh(mesh)
    table_spec = NamedSharding(jax_mesh, PartitionSpec(*_axes(table_sharding, "model")))
    ids_spec = NamedSharding(jax_mesh, PartitionSpec("batch", None))
    table = jax.device_put(jnp.zeros((vocab_size, dim), jnp.float32), table_spec)
    ids = jax.device_put(jnp.zeros((batch, length), jnp.int32), ids_spec)

    def loss(t, i):
        return jnp.take(t, i, axis=0).mean(axis=1).sum()

    step = jax.jit(
        jax.value_and_grad(loss),
        out_shardings=(NamedSharding(jax_mesh, PartitionSpec()), table_spec),
    )
    return step.lower(table, ids).compile().as_text()


TABLE_SHARDINGS = ("tables", "rows", "columns", "replicated")
"""How :func:`tables_program` lays ``T`` stacked tables out on a mesh's ``model`` axis:
``tables`` gives each model shard ``T / M`` whole tables, ``rows`` and ``columns`` split every
table as a ``LayoutMap`` would, ``replicated`` copies them all."""


def _table_spec(sharding: str) -> tuple[str | None, str | None, str | None]:
    if sharding not in TABLE_SHARDINGS:
        raise ValueError(f"sharding must be one of {', '.join(TABLE_SHARDINGS)}, not {sharding!r}")
    if sharding == "tables":
        return ("model", None, None)
    return (None, *_axes(sharding, "model"))


def stacked_tables(mesh, sharding: str, *, tables: int, vocab_size: int, dim: int):
    """A zero ``tables`` × ``vocab_size`` × ``dim`` JAX array laid out on ``mesh`` by ``sharding``.

    ``mesh`` is a ``keras.distribution.DeviceMesh`` or a ``jax.sharding.Mesh`` with axes
    ``batch`` and ``model``.

    Raises:
        ValueError: an unknown sharding, or ``tables`` not a multiple of the model axis for
            ``"tables"`` sharding (each shard must hold the same number of whole tables).
    """
    import jax
    import jax.numpy as jnp
    from jax.sharding import NamedSharding, PartitionSpec

    tables = _positive_int("tables", tables)
    spec = _table_spec(sharding)
    jax_mesh = _jax_mesh(mesh)
    shards = jax_mesh.shape["model"]
    if sharding == "tables" and tables % shards:
        raise ValueError(
            f"table-wise sharding puts whole tables on each of the {shards} model shards: "
            f"use a multiple of {shards} tables, not {tables}"
        )
    shape = (tables, _positive_int("vocab_size", vocab_size), _positive_int("dim", dim))
    return jax.device_put(
        jnp.zeros(shape, jnp.float32), NamedSharding(jax_mesh, PartitionSpec(*spec))
    )


def tables_bytes(
    *,
    tables: int,
    vocab_size: int,
    dim: int,
    batch_shard: int,
    length: int,
    model_shards: int,
    sharding: str,
    bytes_per_value: int = 4,
) -> dict[str, int]:
    """The analytic model of :func:`tables_program`'s collectives, in bytes per device.

    ``tables`` features of ``length`` ids each look up their own ``vocab_size`` × ``dim``
    table; the pooled vectors are concatenated and fed to a one-unit dense head (replicated).
    Per device, with ``batch_shard`` examples and ``model_shards`` = M:

    * ``forward``, where the tables' results meet: ``rows``, an all-reduce of every gathered
      row, ``tables × batch_shard × length × dim`` values (the other shards' rows are zeros);
      ``columns``, an all-gather of the pooled column blocks, ``batch_shard × tables × dim``;
      ``tables``, an all-reduce of each shard's partial head output, ``batch_shard`` values;
      ``replicated``, nothing.
    * ``gradient``: the dense gradient of the device's part of the tables, summed over the
      batch axis: ``tables × vocab_size × dim / M`` values (``× M`` replicated).
    * ``head``: the head's gradient, ``tables × dim`` values, summed over the batch axis; for
      ``tables`` sharding each shard sums its ``1/M`` of it and then gathers the whole.

    The scalar loss (4 bytes, summed over the batch axis) comes on top.
    """
    n = _positive_int("tables", tables)
    vocab_size = _positive_int("vocab_size", vocab_size)
    dim = _positive_int("dim", dim)
    b = _positive_int("batch_shard", batch_shard)
    length = _positive_int("length", length)
    shards = _positive_int("model_shards", model_shards)
    _table_spec(sharding)
    forward = {"rows": n * b * length * dim, "columns": b * n * dim, "tables": b, "replicated": 0}
    gradient = n * vocab_size * dim if sharding == "replicated" else n * vocab_size * dim // shards
    head = n * dim + n * dim // shards if sharding == "tables" else n * dim
    return {
        "forward": forward[sharding] * bytes_per_value,
        "gradient": gradient * bytes_per_value,
        "head": head * bytes_per_value,
    }


def tables_program(
    mesh, sharding: str, *, tables: int, vocab_size: int, dim: int, batch: int, length: int
) -> str:
    """Compiled HLO text of ``tables`` lookups, pooled, a one-unit head, and the gradients.

    The tables are :func:`stacked_tables` laid out by ``sharding``; the ``batch`` × ``tables``
    × ``length`` ids are split over ``batch``; each feature looks up its own table, the means
    are concatenated into ``tables × dim`` features and a replicated weight vector turns them
    into one logit per example. The gradients are returned in the tables' and the weights'
    layouts.
    """
    import jax
    import jax.numpy as jnp
    from jax.sharding import NamedSharding, PartitionSpec

    jax_mesh = _jax_mesh(mesh)
    stack = stacked_tables(mesh, sharding, tables=tables, vocab_size=vocab_size, dim=dim)
    replicated = NamedSharding(jax_mesh, PartitionSpec())
    ids = jax.device_put(
        jnp.zeros((batch, tables, length), jnp.int32),
        NamedSharding(jax_mesh, PartitionSpec("batch", None, None)),
    )
    head = jax.device_put(jnp.zeros((tables * dim,), jnp.float32), replicated)

    def loss(t, i, w):
        rows = jax.vmap(lambda table, ti: jnp.take(table, ti, axis=0), in_axes=(0, 1), out_axes=1)
        pooled = rows(t, i).mean(axis=2).reshape(batch, tables * dim)
        return jax.nn.sigmoid(pooled @ w).sum()

    step = jax.jit(
        jax.value_and_grad(loss, argnums=(0, 2)),
        out_shardings=(replicated, (stack.sharding, replicated)),
    )
    return step.lower(stack, ids, head).compile().as_text()


def self_check(devices: int = 4) -> dict[str, Any]:
    """Measured against modelled bytes for every layout, on ``devices`` simulated CPU devices.

    Run it in a child process with ``XLA_FLAGS`` set (the tests do): returns
    ``{"bytes": {layout: [measured, modelled]}, "uneven": message}``: the bytes for
    :func:`lookup_program` (one table) and :func:`tables_program` (``devices // 2`` tables)
    on a (2, ``devices // 2``) mesh, and the error :func:`stacked_tables` raises for a number
    of tables the model axis does not divide.
    """
    import jax
    import numpy as np
    from jax.sharding import Mesh

    model_shards = devices // 2
    mesh = Mesh(np.array(jax.devices()[:devices]).reshape(2, model_shards), ("batch", "model"))
    out: dict[str, list[int]] = {}
    for layout in SHARDINGS:
        found = collectives(lookup_program(mesh, layout, vocab_size=64, dim=8, batch=8, length=6))
        model = lookup_bytes(
            vocab_size=64,
            dim=8,
            ids_per_batch_shard=4 * 6,
            model_shards=model_shards,
            sharding=layout,
        )
        out[f"one table, {layout}"] = [sum(c["bytes"] for c in found), sum(model.values())]
    for layout in TABLE_SHARDINGS:
        text = tables_program(
            mesh, layout, tables=model_shards, vocab_size=64, dim=8, batch=8, length=6
        )
        model = tables_bytes(
            tables=model_shards,
            vocab_size=64,
            dim=8,
            batch_shard=4,
            length=6,
            model_shards=model_shards,
            sharding=layout,
        )
        out[f"tables, {layout}"] = [sum(c["bytes"] for c in collectives(text)), sum(model.values())]
    try:
        stacked_tables(mesh, "tables", tables=model_shards + 1, vocab_size=8, dim=2)
        uneven = ""
    except ValueError as err:
        uneven = str(err)
    return {"bytes": out, "uneven": uneven}


__all__ = [
    "COLLECTIVE_OPS",
    "TABLE_SHARDINGS",
    "collectives",
    "describe",
    "lookup_bytes",
    "lookup_program",
    "self_check",
    "stacked_tables",
    "tables_bytes",
    "tables_program",
]
