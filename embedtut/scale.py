"""Embeddings at scale: memory accounting, sharding a table, and what sharding costs.

Chapter 9 splits one ``keras.layers.Embedding`` table across devices with the Keras 3
distribution API on the JAX backend (XLA SPMD). This module holds the reusable parts:

* :func:`table_bytes` and :func:`training_bytes`: how many bytes a table and its training
  state (gradient, optimizer slots) take, as a function of rows, width, dtype and optimizer;
* :func:`embedding_layout_map` and :func:`sharded_table`: a ``LayoutMap`` whose key cannot
  silently miss the table (it matches the layer by name, whatever model it sits in), and a
  check that raises if the table did not get the layout it was asked for;
* :func:`placement`: which rows and columns of a table live on which device;
* :func:`train_pooled`: chapter 5's pooled classifier trained from a given start, sharded or
  not, so the two can be compared.

Everything that touches devices needs ``KERAS_BACKEND=jax``; the memory arithmetic and the
HLO parser are plain Python. Simulated CPU devices come from
``XLA_FLAGS=--xla_force_host_platform_device_count=N``, set before JAX is imported
(:data:`SIMULATED_DEVICES_FLAG`).
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from typing import Any

import numpy as np

SIMULATED_DEVICES_FLAG = "--xla_force_host_platform_device_count"
"""The XLA flag that splits the host CPU into N JAX devices (``XLA_FLAGS=...=8``)."""

OPTIMIZER_SLOTS = {
    "sgd": 0,
    "sgd_momentum": 1,
    "adagrad": 1,
    "rmsprop": 1,
    "lion": 1,
    "adam": 2,
    "adamw": 2,
    "nadam": 2,
    "ftrl": 2,
}
"""Table-shaped state each Keras optimizer keeps per trainable table (Keras 3.15).

``sgd_momentum`` is ``keras.optimizers.SGD(momentum>0)``; ``rmsprop`` without momentum or
centring; ``adam`` without ``amsgrad`` (which adds a third slot).
"""

FLOAT_BYTES = {"float64": 8, "float32": 4, "bfloat16": 2, "float16": 2}
"""Bytes per value of the float dtypes a table can be stored in."""

SHARDINGS = ("rows", "columns", "replicated")
"""How :func:`embedding_layout_map` can lay a table out on a mesh's model axis."""


def _positive_int(label: str, value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
        raise ValueError(f"{label} must be a positive integer, not {value!r}")
    return int(value)


def table_bytes(vocab_size: int, dim: int, dtype: str = "float32") -> int:
    """Bytes a ``vocab_size`` × ``dim`` embedding table takes in ``dtype``.

    ``dtype`` is a float dtype of :data:`FLOAT_BYTES`, or a Keras quantization mode, stored
    as ``Embedding.quantize`` stores it in Keras 3.15:

    * ``"int8"``: one int8 per value plus one float32 scale per row;
    * ``"int4"``: two values packed per int8 byte (``ceil(dim / 2)`` bytes a row), one
      float32 scale and one int8 zero point per row, and a float32 ``g_idx`` of ``dim``
      values.

    Raises:
        ValueError: a size that is not a positive integer, or an unknown dtype.
    """
    vocab_size = _positive_int("vocab_size", vocab_size)
    dim = _positive_int("dim", dim)
    if dtype in FLOAT_BYTES:
        return vocab_size * dim * FLOAT_BYTES[dtype]
    if dtype == "int8":
        return vocab_size * dim + vocab_size * 4
    if dtype == "int4":
        return vocab_size * math.ceil(dim / 2) + vocab_size * (4 + 1) + dim * 4
    raise ValueError(
        f"dtype must be one of {', '.join([*FLOAT_BYTES, 'int8', 'int4'])}, not {dtype!r}"
    )


def training_bytes(
    vocab_size: int, dim: int, *, dtype: str = "float32", optimizer: str = "adam"
) -> dict[str, int]:
    """Memory of a trainable table during training, with a dense gradient (JAX).

    The table, one table-sized gradient (JAX differentiates a lookup into a dense
    scatter-add, chapter 8), and ``OPTIMIZER_SLOTS[optimizer]`` table-sized slots, all in
    ``dtype`` (Keras keeps an optimizer's slots in the variable's dtype).

    Returns:
        ``{"table", "gradient", "slots", "total"}`` in bytes.

    Raises:
        ValueError: an unknown optimizer, or a dtype that is not a float dtype (quantized
            tables are not trained).
    """
    if optimizer not in OPTIMIZER_SLOTS:
        raise ValueError(
            f"optimizer must be one of {', '.join(OPTIMIZER_SLOTS)}, not {optimizer!r}"
        )
    if dtype not in FLOAT_BYTES:
        raise ValueError(
            f"a trained table has a float dtype ({', '.join(FLOAT_BYTES)}), not {dtype!r}"
        )
    table = table_bytes(vocab_size, dim, dtype)
    slots = OPTIMIZER_SLOTS[optimizer] * table
    return {"table": table, "gradient": table, "slots": slots, "total": 2 * table + slots}


def table_key(layer_name: str) -> str:
    """The ``LayoutMap`` key for the table of the layer named ``layer_name``.

    Keys are matched with ``re.fullmatch`` against a variable's whole path, e.g.
    ``"sequential/embedding/embeddings"``; this key matches ``<anything>/<layer_name>/embeddings``
    and ``<layer_name>/embeddings`` but not ``<layer_name>_1/embeddings``.
    """
    if not isinstance(layer_name, str) or not layer_name or "/" in layer_name:
        raise ValueError(f"layer_name must be a layer's name without '/', not {layer_name!r}")
    return f"(?:.*/)?{re.escape(layer_name)}/embeddings"


def _axes(sharding: str, model_axis: str) -> tuple[str | None, str | None]:
    if sharding not in SHARDINGS:
        raise ValueError(f"sharding must be one of {', '.join(SHARDINGS)}, not {sharding!r}")
    return {"rows": (model_axis, None), "columns": (None, model_axis), "replicated": (None, None)}[
        sharding
    ]


def device_mesh(batch: int, model: int, devices: Sequence[Any] | None = None):
    """A ``keras.distribution.DeviceMesh`` of shape ``(batch, model)``, axes ``batch``, ``model``.

    Raises:
        ValueError: the mesh needs more devices than there are (with the XLA flag that
            simulates more CPU devices).
    """
    import keras

    batch, model = _positive_int("batch", batch), _positive_int("model", model)
    devices = list(devices) if devices is not None else keras.distribution.list_devices()
    if batch * model > len(devices):
        raise ValueError(
            f"a {batch} x {model} mesh needs {batch * model} devices, there are {len(devices)}; "
            f"on a CPU set XLA_FLAGS={SIMULATED_DEVICES_FLAG}={batch * model} before importing JAX"
        )
    return keras.distribution.DeviceMesh(
        (batch, model), ["batch", "model"], devices=devices[: batch * model]
    )


def embedding_layout_map(mesh, layer_name: str = "embedding", sharding: str = "rows"):
    """A ``LayoutMap`` that lays the table of the layer named ``layer_name`` out on ``mesh``.

    ``sharding`` is ``"rows"`` (each model shard holds a block of rows), ``"columns"``
    (a block of each row's values) or ``"replicated"``. The key is :func:`table_key`, so the
    table is found in any model, but only if the layer has that name: check the result with
    :func:`sharded_table`.
    """
    import keras

    layout_map = keras.distribution.LayoutMap(mesh)
    layout_map[table_key(layer_name)] = _axes(sharding, "model")
    return layout_map


def model_parallel(mesh, layer_name: str = "embedding", sharding: str = "rows"):
    """``keras.distribution.ModelParallel`` over ``mesh``: batches split on ``batch``, the table
    laid out by :func:`embedding_layout_map`. Use it as ``with model_parallel(...).scope():``."""
    import keras

    return keras.distribution.ModelParallel(
        layout_map=embedding_layout_map(mesh, layer_name, sharding), batch_dim_name="batch"
    )


class LayoutMissError(RuntimeError):
    """A table is not laid out the way it was asked to be (e.g. a ``LayoutMap`` key missed)."""


def sharded_table(model, layer_name: str = "embedding", sharding: str = "rows"):
    """The table variable of ``model``'s layer ``layer_name``, checked to be laid out as asked.

    Raises:
        LayoutMissError: no layer of that name, or its table's sharding is not ``sharding``
            over the mesh's ``model`` axis (a ``LayoutMap`` key that matched nothing leaves the
            table replicated on every device, without a warning).
    """
    expected = _axes(sharding, "model")
    paths = [v.path for v in model.weights]
    matches = [v for v in model.weights if re.fullmatch(table_key(layer_name), v.path)]
    if len(matches) != 1:
        raise LayoutMissError(
            f"{len(matches)} tables match layer name {layer_name!r}; "
            f"the model's variables are {paths}"
        )
    variable = matches[0]
    spec = getattr(getattr(variable.value, "sharding", None), "spec", None)
    actual = tuple(spec) + (None,) * (2 - len(tuple(spec))) if spec is not None else (None, None)
    if actual != expected:
        raise LayoutMissError(
            f"{variable.path} is laid out as {actual}, not {expected} ({sharding}): "
            "was the model built inside the distribution's scope, with the layer's name in the key?"
        )
    return variable


def placement(variable) -> list[dict[str, Any]]:
    """Where the parts of a 2-d table live: one dict per addressable shard.

    Each has ``device`` (its string), ``rows`` and ``columns`` (``[start, stop)`` of the whole
    table it holds) and ``bytes``.
    """
    value = getattr(variable, "value", variable)
    height, width = value.shape
    out = []
    for shard in value.addressable_shards:
        rows, columns = shard.index
        r = range(height)[rows]
        c = range(width)[columns]
        out.append(
            {
                "device": str(shard.device),
                "rows": (r.start, r.stop),
                "columns": (c.start, c.stop),
                "bytes": int(shard.data.nbytes),
            }
        )
    return out


def train_pooled(
    x: np.ndarray,
    y: np.ndarray,
    start: Sequence[np.ndarray],
    *,
    mesh_shape: tuple[int, int] | None = None,
    sharding: str = "rows",
    epochs: int = 1,
    batch_size: int = 32,
    x_val: np.ndarray | None = None,
    y_val: np.ndarray | None = None,
    auto_shard: bool = True,
) -> dict[str, Any]:
    """Train chapter 5's pooled classifier from the weights ``start``, sharded or not (JAX).

    The model is :func:`embedtut.classifiers.pooled_classifier` with ``input_dim``, ``dim``
    and ``sequence_length`` taken from ``start[0]`` and ``x``; it trains without shuffling.
    With ``mesh_shape`` ``(batch, model)`` it is built and trained under
    :func:`model_parallel` on a :func:`device_mesh`, and its table is checked with
    :func:`sharded_table` before and after training. ``auto_shard=False`` tells the
    distribution that ``x`` is already this process's part of each batch (multi-process).

    Returns:
        ``weights`` after training, ``losses`` per epoch, ``placement`` of the table after
        training (``None`` unsharded), ``accuracy`` on ``x_val`` (``None`` without it).
    """
    import contextlib

    import keras

    from embedtut.classifiers import pooled_classifier

    vocab_size, dim = (int(s) for s in start[0].shape)
    scope = contextlib.nullcontext()
    if mesh_shape is not None:
        distribution = model_parallel(device_mesh(*mesh_shape), "embedding", sharding)
        distribution.auto_shard_dataset = auto_shard
        scope = distribution.scope()
    with scope:
        model = pooled_classifier(vocab_size, dim, sequence_length=x.shape[1])
        model.set_weights(list(start))
        if mesh_shape is not None:
            sharded_table(model, "embedding", sharding)
        history = model.fit(
            x,
            y,
            epochs=epochs,
            batch_size=batch_size,
            shuffle=False,
            verbose=0,
            callbacks=[step_by_step()] if mesh_shape is not None else None,
        )
        where = None
        if mesh_shape is not None:
            where = placement(sharded_table(model, "embedding", sharding))
        accuracy = None
        if x_val is not None:
            accuracy = float(model.evaluate(x_val, y_val, batch_size=256, verbose=0)[1])
    weights = [_gathered(v.value) for v in model.weights]
    keras.backend.clear_session()
    return {
        "weights": weights,
        "losses": [float(v) for v in history.history["loss"]],
        "placement": where,
        "accuracy": accuracy,
    }


def step_by_step():
    """A Keras callback that waits for each training step to finish before the next (JAX).

    JAX dispatches steps asynchronously, so several can be in flight. On simulated CPU
    devices each device's part of a step holds a thread of one shared pool while it waits
    in a collective; with steps overlapping, a participant of the older step can be left
    without a thread, the collective never completes, and XLA aborts after its rendezvous
    timeout. Pass ``callbacks=[step_by_step()]`` to ``fit`` on simulated devices (real
    accelerators run each device's steps in order and do not need it).
    """
    import keras

    class StepByStep(keras.callbacks.Callback):
        def on_train_batch_end(self, batch, logs=None):
            for variable in self.model.trainable_variables:
                getattr(variable.value, "block_until_ready", lambda: None)()

    return StepByStep()


def _gathered(value) -> np.ndarray:
    """A (possibly multi-process) array as one NumPy array on this process."""
    if getattr(value, "is_fully_addressable", True):
        return np.asarray(value)
    from jax.experimental import multihost_utils

    return np.asarray(multihost_utils.process_allgather(value, tiled=True))


def process_slice(x: np.ndarray, batch_size: int, process_id: int, num_processes: int):
    """The rows of ``x`` that process ``process_id`` feeds when ``num_processes`` processes
    train on global batches of ``batch_size`` consecutive rows (without shuffling).

    Keras on JAX builds each global batch from the processes' local batches in process
    order (``jax.make_array_from_process_local_data``), so process ``p`` holds the ``p``-th
    part of every batch.

    Raises:
        ValueError: ``batch_size`` not a multiple of ``num_processes``, or ``len(x)`` not a
            multiple of ``batch_size``.
    """
    if batch_size % num_processes or len(x) % batch_size:
        raise ValueError(
            f"{len(x)} rows in batches of {batch_size} cannot be split evenly over "
            f"{num_processes} processes"
        )
    if not 0 <= process_id < num_processes:
        raise ValueError(f"process_id must lie in [0, {num_processes}), not {process_id}")
    local = batch_size // num_processes
    parts = x.reshape(len(x) // batch_size, num_processes, local, *x.shape[1:])
    return parts[:, process_id].reshape(-1, *x.shape[1:])


def train_pooled_process(
    process_id: int,
    num_processes: int,
    coordinator: str,
    x: np.ndarray,
    y: np.ndarray,
    start: Sequence[np.ndarray],
    *,
    mesh_shape: tuple[int, int],
    sharding: str = "rows",
    epochs: int = 1,
    batch_size: int = 32,
) -> dict[str, Any]:
    """One process of a multi-process :func:`train_pooled` (JAX; run one per process).

    Joins the job with ``keras.distribution.initialize(coordinator, num_processes,
    process_id)``, feeds its :func:`process_slice` of every global batch of ``batch_size``
    and trains on the global ``mesh_shape`` mesh, whose devices span all processes.

    Returns:
        :func:`train_pooled`'s result (the whole weights, gathered from every process) plus
        ``process_count``, ``global_devices`` and ``local_devices``.
    """
    import jax
    import keras

    keras.distribution.initialize(coordinator, num_processes, process_id)
    result = train_pooled(
        process_slice(x, batch_size, process_id, num_processes),
        process_slice(y, batch_size, process_id, num_processes),
        start,
        mesh_shape=mesh_shape,
        sharding=sharding,
        epochs=epochs,
        batch_size=batch_size // num_processes,
        auto_shard=False,
    )
    result.update(
        process_count=jax.process_count(),
        global_devices=len(jax.devices()),
        local_devices=len(jax.local_devices()),
    )
    return result


def train_pooled_processes(
    num_processes: int,
    x: np.ndarray,
    y: np.ndarray,
    start: Sequence[np.ndarray],
    *,
    mesh_shape: tuple[int, int],
    sharding: str = "rows",
    epochs: int = 1,
    batch_size: int = 32,
    timeout_s: float = 300.0,
    threads: int | None = None,
) -> list[dict[str, Any]]:
    """Run :func:`train_pooled_process` as ``num_processes`` JAX processes on this machine.

    Each process is a child (:func:`embedtut.backends.run_on_backend`) with
    ``mesh_shape[0] * mesh_shape[1] / num_processes`` simulated CPU devices; they meet at a
    coordinator on a free localhost port and run their collectives over the CPU (Gloo),
    the way processes on separate hosts would over the network.

    ``threads`` pins each process to that many cores (``None``: all; pinning several
    processes to the same core makes their collectives wait on each other for a long time).

    Returns:
        Each process's result, in process order.
    """
    import socket
    from concurrent.futures import ThreadPoolExecutor

    from embedtut.backends import run_on_backend

    devices = mesh_shape[0] * mesh_shape[1]
    if devices % num_processes:
        raise ValueError(f"{devices} devices cannot be split over {num_processes} processes")
    with socket.socket() as probe:
        probe.bind(("localhost", 0))
        port = probe.getsockname()[1]
    env = {"XLA_FLAGS": f"{SIMULATED_DEVICES_FLAG}={devices // num_processes}"}
    with ThreadPoolExecutor(num_processes) as pool:
        futures = [
            pool.submit(
                run_on_backend,
                "jax",
                "embedtut.scale:train_pooled_process",
                env=env,
                threads=threads,
                timeout_s=timeout_s,
                process_id=p,
                num_processes=num_processes,
                coordinator=f"localhost:{port}",
                x=x,
                y=y,
                start=list(start),
                mesh_shape=list(mesh_shape),
                sharding=sharding,
                epochs=epochs,
                batch_size=batch_size,
            )
            for p in range(num_processes)
        ]
        return [f.result() for f in futures]


def tensorflow_layout_probe(devices: int = 8) -> dict[str, Any]:
    """Ask for a row-sharded table on the TensorFlow backend and report what it got.

    Splits the CPU into ``devices`` logical TensorFlow devices, builds and fits a small
    model under ``ModelParallel`` with a row layout for its table, and reports the table's
    variable type, device and shape, and the first line of Keras's TensorFlow
    distribution module. Run it with ``KERAS_BACKEND=tensorflow``.
    """
    import tensorflow as tf

    cpu = tf.config.list_physical_devices("CPU")
    tf.config.set_logical_device_configuration(
        cpu[0], [tf.config.LogicalDeviceConfiguration()] * devices
    )
    import keras
    from keras.src.backend.tensorflow import distribution_lib

    mesh = device_mesh(2, devices // 2)
    with model_parallel(mesh, "embedding", "rows").scope():
        model = keras.Sequential(
            [
                keras.Input((8,), dtype="int32"),
                keras.layers.Embedding(1000, 16, name="embedding"),
                keras.layers.GlobalAveragePooling1D(),
                keras.layers.Dense(1),
            ]
        )
        model.compile("adam", "mse")
        model.fit(np.ones((64, 8), "int32"), np.zeros((64, 1), "float32"), verbose=0)
    table = model.get_layer("embedding").embeddings.value
    return {
        "devices": keras.distribution.list_devices(),
        "type": type(table).__name__,
        "device": table.device,
        "shape": list(table.shape),
        "module_doc": (distribution_lib.__doc__ or "").strip().splitlines()[0],
    }


def parameter_server_probe(parameter_servers: int = 2) -> dict[str, Any]:
    """Try TensorFlow's ``ParameterServerStrategy`` with a Keras 3 model (TensorFlow backend).

    Starts an in-process cluster on localhost (one worker, ``parameter_servers`` parameter
    servers, gRPC), builds a small model with an ``Embedding`` under the strategy with a
    fixed-shards partitioner, and calls ``fit`` on NumPy arrays. Run it with
    ``KERAS_BACKEND=tensorflow`` in a child process (the servers live until it exits).

    Returns:
        ``type`` of the table variable, ``shards`` (its number of parts, 1 if not split),
        ``fit_error``: ``[type, first line of the message]`` or ``None`` if ``fit`` ran.
    """
    import socket

    import tensorflow as tf

    def free_port() -> str:
        with socket.socket() as probe:
            probe.bind(("localhost", 0))
            return f"localhost:{probe.getsockname()[1]}"

    spec = tf.train.ClusterSpec(
        {"worker": [free_port()], "ps": [free_port() for _ in range(parameter_servers)]}
    )
    servers = [tf.distribute.Server(spec, job_name="worker", task_index=0, start=True)]
    servers += [
        tf.distribute.Server(spec, job_name="ps", task_index=i, start=True)
        for i in range(parameter_servers)
    ]
    resolver = tf.distribute.cluster_resolver.SimpleClusterResolver(spec, rpc_layer="grpc")
    partitioner = tf.distribute.experimental.partitioners.FixedShardsPartitioner(parameter_servers)
    strategy = tf.distribute.ParameterServerStrategy(resolver, variable_partitioner=partitioner)
    import keras

    with strategy.scope():
        model = keras.Sequential(
            [
                keras.Input((8,), dtype="int32"),
                keras.layers.Embedding(1000, 16, name="embedding"),
                keras.layers.GlobalAveragePooling1D(),
                keras.layers.Dense(1),
            ]
        )
        model.compile("adam", "mse")
    table = model.get_layer("embedding").embeddings.value
    fit_error = None
    try:
        model.fit(np.ones((64, 8), "int32"), np.zeros((64, 1), "float32"), verbose=0)
    except Exception as err:  # reported, not raised: the refusal is the finding
        fit_error = [type(err).__name__, str(err).strip().splitlines()[0]]
    return {
        "type": type(table).__name__,
        "shards": len(getattr(table, "variables", [table])),
        "fit_error": fit_error,
        "servers": len(servers),
    }


def self_check(devices: int = 4) -> dict[str, Any]:
    """A small end-to-end run for the tests, on ``devices`` simulated CPU devices (JAX).

    Trains a tiny pooled classifier sharded (rows, then columns) and unsharded from the same
    start, and builds a model with a key that misses the table; reports what happened (the
    collectives' bytes are checked by :func:`embedtut.traffic.self_check`).
    """
    import sys

    import keras

    from embedtut.repro import seed_everything

    seed_everything(0)
    config = sys.modules.get("tensorflow.python.framework.config")
    op_determinism = bool(config and config.is_op_determinism_enabled())
    rng = np.random.default_rng(0)
    x = rng.integers(1, 64, (64, 6)).astype("int32")
    x[:, 4:] = 0  # padding
    y = (x[:, 0] > 32).astype("float32")
    start = [
        rng.uniform(-0.05, 0.05, (64, 8)).astype("float32"),
        rng.uniform(-0.5, 0.5, (8, 1)).astype("float32"),
        np.zeros(1, "float32"),
    ]
    mesh_shape = (2, devices // 2)
    plain = train_pooled(x, y, start, batch_size=16)
    rows = train_pooled(x, y, start, mesh_shape=mesh_shape, sharding="rows", batch_size=16)
    columns = train_pooled(x, y, start, mesh_shape=mesh_shape, sharding="columns", batch_size=16)
    missed = None
    mesh = device_mesh(*mesh_shape)
    with model_parallel(mesh, "embedding", "rows").scope():
        model = keras.Sequential(
            [keras.Input((6,), dtype="int32"), keras.layers.Embedding(64, 8, name="table")]
        )
        try:
            sharded_table(model, "embedding", "rows")
        except LayoutMissError as err:
            missed = str(err)
    keras.backend.clear_session()

    def gap(run: dict[str, Any]) -> float:
        return max(
            float(np.max(np.abs(a - b)))
            for a, b in zip(run["weights"], plain["weights"], strict=True)
        )

    return {
        "devices": len(keras.distribution.list_devices()),
        "tf_op_determinism": op_determinism,
        "rows_gap": gap(rows),
        "columns_gap": gap(columns),
        "moved": float(np.max(np.abs(plain["weights"][0] - start[0]))),
        "rows_placement": [
            [p["rows"][0], p["rows"][1], p["columns"][1]] for p in rows["placement"]
        ],
        "columns_placement": [
            [p["columns"][0], p["columns"][1], p["rows"][1]] for p in columns["placement"]
        ],
        "missed": missed,
    }


__all__ = [
    "FLOAT_BYTES",
    "OPTIMIZER_SLOTS",
    "SHARDINGS",
    "SIMULATED_DEVICES_FLAG",
    "LayoutMissError",
    "device_mesh",
    "embedding_layout_map",
    "model_parallel",
    "parameter_server_probe",
    "placement",
    "process_slice",
    "self_check",
    "sharded_table",
    "step_by_step",
    "table_bytes",
    "table_key",
    "tensorflow_layout_probe",
    "train_pooled",
    "train_pooled_process",
    "train_pooled_processes",
    "training_bytes",
]
