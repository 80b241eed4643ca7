"""Chapter 6's wide sweeps: embedding width and vocabulary size, with seeds, on validation.

Usage (from the repository root, with the IMDB archive available, e.g. offline)::

    EMBEDTUT_IMDB=/path/to/aclImdb_v1.tar.gz python benchmarks/recipes.py

The chapter runs a smaller version of both sweeps live; this script runs them wider, with
the same protocol (:func:`embedtut.selection.validation_runs`): reviews cut to the last 200
ids, the 25,000 training reviews split by movie (:func:`embedtut.splits.grouped_split`,
seed 0, 20% validation), every configuration trained with seeds 0, 1, 2 at batch size 256
and scored on validation after every epoch; each run's best epoch counts. The test set is
not used. It writes ``benchmarks/results/recipes.csv`` (one row per run and epoch, the
column ``sweep`` saying which) and ``benchmarks/results/recipes.png``.

* ``dimension``: ``embedtut.models.classic_model`` (5 epochs) and
  ``embedtut.models.pooled_model`` (3 epochs), 10,000 ids, ``output_dim`` 1, 2, 4, ..., 256.
* ``vocabulary``: the pooled model with 4 numbers per row (3 epochs), ``num_words`` from
  1,000 to every training word (rarer words become the out-of-vocabulary id 2).

``epoch_seconds`` in the CSV are wall times on whatever machine ran it (the committed CSV
was made on a shared, busy 2-core machine): compare them only within one file.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import pandas as pd

import embedtut
from embedtut.lookup import restrict_vocabulary
from embedtut.models import classic_model, pooled_model
from embedtut.selection import summarise, validation_runs
from embedtut.sequences import load_imdb
from embedtut.splits import grouped_split

OUT = Path(__file__).resolve().parent / "results"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--maxlen", type=int, default=200)
    parser.add_argument("--out", type=Path, default=OUT / "recipes.csv")
    args = parser.parse_args()
    embedtut.seed_everything(42)
    seeds = tuple(range(args.seeds))
    (x_all, y), _ = load_imdb(maxlen=args.maxlen)  # every word; the test split is not used
    fit_rows, val_rows = grouped_split(embedtut.data.movie_ids("train"), y, seed=0)
    frames = []

    def data(num_words):
        x = restrict_vocabulary(x_all, num_words)
        return (x[fit_rows], y[fit_rows]), (x[val_rows], y[val_rows])

    train, validation = data(10_000)
    dims = [2**i for i in range(9)]
    for kind, build, epochs in (
        ("flatten", lambda d: classic_model(10_000, args.maxlen, d), 5),
        ("pooled", lambda d: pooled_model(10_000, d, maxlen=args.maxlen), 3),
    ):
        builders = {(kind, d): (lambda d=d, build=build: build(d)) for d in dims}
        runs = validation_runs(
            builders,
            train,
            validation,
            seeds=seeds,
            epochs=epochs,
            batch_size=256,
            names=("model", "output_dim"),
        )
        frames.append(runs.table.assign(sweep="dimension", num_words=10_000))
        print(summarise(runs.table).round(4), flush=True)
    full = int(x_all.max()) + 1
    for n in (1_000, 2_000, 5_000, 10_000, 20_000, 50_000, full):
        train, validation = data(n)
        runs = validation_runs(
            {("pooled", 4): lambda n=n: pooled_model(n, 4, maxlen=args.maxlen)},
            train,
            validation,
            seeds=seeds,
            epochs=3,
            batch_size=256,
            names=("model", "output_dim"),
        )
        frames.append(runs.table.assign(sweep="vocabulary", num_words=n))
        print(n, summarise(runs.table).round(4).to_string(header=False), flush=True)
    table = pd.concat(frames, ignore_index=True)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    table.to_csv(args.out, index=False)
    plot(table, args.out.with_suffix(".png"))


def plot(table: pd.DataFrame, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(10, 3.6), sharey=True)
    dim = table[table.sweep == "dimension"]
    for model, part in dim.groupby("model"):
        s = summarise(part.drop(columns=["sweep", "num_words"])).reset_index()
        ax1.errorbar(
            s.output_dim, s.val_accuracy, yerr=s.val_sd, marker="o", capsize=3, label=model
        )
    ax1.set(xscale="log", xlabel="output_dim", ylabel="validation accuracy (best epoch)")
    ax1.legend()
    voc = table[table.sweep == "vocabulary"]
    s = summarise(voc.drop(columns=["sweep", "model", "output_dim"]))
    s = s.reset_index()
    ax2.errorbar(s.num_words, s.val_accuracy, yerr=s.val_sd, marker="o", capsize=3)
    ax2.set(xscale="log", xlabel="num_words (pooled model, output_dim 4)")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    print("wrote", path, np.round(s.val_accuracy.to_numpy(), 4))


if __name__ == "__main__":
    main()
