"""Chapter 5's protocol as a function: configurations x seeds, scored on validation only.

:func:`validation_runs` trains every configuration with every seed on the same training
rows, scores the validation rows after each epoch, and returns one table row per
(configuration, seed, epoch). :func:`summarise` picks each run's best epoch *on
validation* and reports the mean and standard deviation over seeds;
:func:`epochs_to_reach` says when a run first reached a validation accuracy. The test set
never enters: that is the caller's single, final step.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Hashable, Mapping, Sequence
from dataclasses import dataclass, field

import keras
import numpy as np
import pandas as pd


@dataclass
class Runs:
    """What :func:`validation_runs` returns.

    Attributes:
        table: one row per (configuration, seed, epoch): ``config`` (the key, or one
            column per name in ``names``), ``seed``, ``epoch`` (from 1), the ``fit``
            history's ``loss``, ``accuracy``, ``val_loss``, ``val_accuracy``, ``params``
            (the model's parameter count) and ``epoch_seconds`` (the run's ``fit`` wall
            time divided by its epochs: machine-dependent, includes validation).
        models: ``(config, seed)`` -> the trained model, when ``keep_models`` was set.
    """

    table: pd.DataFrame
    models: dict[tuple[Hashable, int], keras.Model] = field(default_factory=dict)


def _positive(value, what: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError(f"{what} must be a positive integer, not {value!r}")
    return value


def validation_runs(
    builders: Mapping[Hashable, Callable[[], keras.Model]],
    train: tuple[np.ndarray, np.ndarray],
    validation: tuple[np.ndarray, np.ndarray],
    *,
    seeds: Sequence[int] = (0, 1, 2),
    epochs: int = 3,
    batch_size: int = 512,
    names: Sequence[str] | None = None,
    keep_models: bool | Callable[[Hashable, int], bool] = False,
) -> Runs:
    """Train each configuration with each seed and score validation after every epoch.

    Before building a model, ``keras.utils.set_random_seed(seed)`` seeds its initial
    weights, its dropout and ``fit``'s shuffling, so a run does not depend on what ran
    before it.

    Args:
        builders: configuration key -> zero-argument function returning a compiled model
            with an ``accuracy`` metric.
        train, validation: ``(x, y)`` arrays.
        seeds: one run per seed.
        epochs, batch_size: as for ``fit``.
        names: if given, each key is a tuple and becomes one column per name instead of
            a ``config`` column.
        keep_models: keep the trained models (``True``), or those for which
            ``keep_models(key, seed)`` is true.
    """
    if not builders:
        raise ValueError("builders is empty")
    _positive(epochs, "epochs")
    _positive(batch_size, "batch_size")
    if not len(seeds):
        raise ValueError("give at least one seed")
    if len(train[0]) != len(train[1]) or len(validation[0]) != len(validation[1]):
        raise ValueError("x and y must have the same number of rows")
    rows, models = [], {}
    for key, build in builders.items():
        if names is not None and (not isinstance(key, tuple) or len(key) != len(names)):
            raise ValueError(f"key {key!r} does not match names {tuple(names)}")
        label = dict(zip(names, key, strict=True)) if names is not None else {"config": key}
        for seed in seeds:
            keras.utils.set_random_seed(int(seed))
            model = build()
            start = time.perf_counter()
            history = model.fit(
                *train,
                epochs=epochs,
                batch_size=batch_size,
                validation_data=validation,
                verbose=0,
            ).history
            seconds = time.perf_counter() - start
            for epoch in range(epochs):
                rows.append(
                    label
                    | {"seed": int(seed), "epoch": epoch + 1}
                    | {m: float(history[m][epoch]) for m in _METRICS}
                    | {"params": model.count_params(), "epoch_seconds": seconds / epochs}
                )
            if keep_models is True or (callable(keep_models) and keep_models(key, seed)):
                models[(key, int(seed))] = model
    return Runs(pd.DataFrame(rows), models)


_METRICS = ("loss", "accuracy", "val_loss", "val_accuracy")


def _groups(table: pd.DataFrame) -> list[str]:
    return [
        c for c in table.columns if c not in (*_METRICS, "seed", "epoch", "params", "epoch_seconds")
    ]


def summarise(table: pd.DataFrame) -> pd.DataFrame:
    """Per configuration: each seed's best epoch on validation, then mean and sd over seeds.

    Returns one row per configuration (in order of appearance) with ``val_accuracy``
    (mean of the seeds' best validation accuracies), ``val_sd`` (their sample standard
    deviation, 0 for one seed), ``best_epoch`` (median over seeds), ``seeds``,
    ``gap`` (mean of training minus validation accuracy at the last epoch), ``params``
    and ``epoch_seconds`` (mean).
    """
    keys = _groups(table)
    if not keys:
        raise ValueError("table has no configuration column")
    table = table.reset_index(drop=True)  # concatenated tables repeat index labels
    runs = table.groupby([*keys, "seed"], sort=False)
    best = table.loc[runs["val_accuracy"].idxmax()]
    last = table.loc[runs["epoch"].idxmax()]
    last = last.assign(gap=last["accuracy"] - last["val_accuracy"])
    by = best.groupby(keys, sort=False)
    out = pd.DataFrame(
        {
            "val_accuracy": by["val_accuracy"].mean(),
            "val_sd": by["val_accuracy"].std(ddof=1).fillna(0.0),
            "best_epoch": by["epoch"].median(),
            "seeds": by["seed"].count(),
            "gap": last.groupby(keys, sort=False)["gap"].mean(),
            "params": by["params"].first(),
            "epoch_seconds": by["epoch_seconds"].mean(),
        }
    )
    return out


def epochs_to_reach(table: pd.DataFrame, threshold: float) -> pd.DataFrame:
    """The first epoch at which each run's validation accuracy reached ``threshold``.

    Returns one row per (configuration, seed) with column ``epoch`` (``NaN`` where the
    run never reached it).
    """
    keys = _groups(table)
    table = table.reset_index(drop=True)
    reached = table[table["val_accuracy"] >= threshold].groupby([*keys, "seed"], sort=False)
    first = reached["epoch"].min()
    everything = table.groupby([*keys, "seed"], sort=False)["epoch"].max()
    return first.reindex(everything.index).astype(float).to_frame("epoch")
