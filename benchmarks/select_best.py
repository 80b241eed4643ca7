"""Choose chapter 5's best embedding-only model on a movie-grouped validation split, then test it.

Usage (from the repository root, with the IMDB archive available, e.g. offline)::

    EMBEDTUT_IMDB=/path/to/aclImdb_v1.tar.gz python benchmarks/select_best.py

1. Splits the 25,000 training reviews by movie (:func:`embedtut.splits.grouped_split` on
   :func:`embedtut.data.movie_ids`, seed 0, 20% validation): no movie has reviews on
   both sides, as no movie but one has reviews in both training and test.
2. Trains every configuration of :data:`CANDIDATES` on the training side (seed 0) and
   scores the validation side after every epoch, up to the configuration's ``epochs``;
   naive Bayes weights, where used, come from the training side only (plus, with
   self-training, the unlabelled reviews as a first model labels them). One CSV row per
   (configuration, epoch).
3. Chooses the (configuration, epochs) of best validation accuracy (ties: fewer epochs,
   then the earlier candidate). Nothing so far has read a test review.
4. Retrains the chosen configuration on all 25,000 training reviews with each of
   ``--seeds`` and scores the 25,000 test reviews once per seed: one CSV row each.

Prints every validation score, the choice, test accuracy per seed and their mean and
standard deviation, the training time (``model.fit`` only), the parameter count and the
process's peak resident memory. ``--out`` (default ``benchmarks/results/select_best.csv``)
gets every row. ``--threads N`` pins TensorFlow to N threads. Times depend on the machine
and on what else runs on it; accuracies do not (op determinism is on).
"""

from __future__ import annotations

import argparse
import csv
import dataclasses
import os
import resource
import sys
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

FIELDS = [
    "candidate",
    "phase",
    "seed",
    "epochs",
    "accuracy",
    "fit_seconds",
    "parameters",
    "pseudo_labelled",
    "chosen",
    "config",
]


def candidates():
    """The configurations tried, by name (the search space, in the order they run)."""
    from dataclasses import replace

    from embedtut.models import FastTextConfig

    # words + hashed bi- and trigrams, presence, 30% word dropout, 2**22 x 8, LazyAdam 3e-3
    plain = FastTextConfig(
        ngram=3, binary=True, token_dropout=0.3, num_buckets=2**22, output_dim=8,
        learning_rate=3e-3,
    )  # fmt: skip
    nb = replace(plain, nb_weights=True, combiner="sqrtn", epochs=5)  # NB-weighted, sqrt(n)
    big = {"num_buckets": 2**23, "output_dim": 4}  # as many numbers, twice the rows
    selfish = {"epochs": 3, "pseudo_label_margin": 0.4, "teacher_epochs": 2}
    return {
        # the previous chapter 5 model: 2**23 buckets x 16, mean, no weights
        "hashed tri, mean, 2^23x16": replace(plain, num_buckets=2**23, output_dim=16, epochs=6),
        "hashed tri, mean, 2^22x8": replace(plain, epochs=6),
        "NB-weighted tri, mean, lr 3e-3": replace(nb, combiner="mean", epochs=6),
        "NB-weighted tri, mean, lr 1e-2": replace(nb, combiner="mean", learning_rate=1e-2),
        "NB-weighted tri, sqrtn, lr 3e-3": nb,
        "NB-weighted tri, sqrtn, lr 3e-3, token dropout 0.5": replace(nb, token_dropout=0.5),
        "NB-weighted tri, sqrtn, 2^23x4": replace(nb, **big),
        "NB-weighted tri, sqrtn, self-training (margin 0.4)": replace(nb, **selfish),
        "NB-weighted tri, sqrtn, self-training (margin 0.45)": replace(
            nb, **{**selfish, "pseudo_label_margin": 0.45}
        ),
        "NB-weighted tri, sqrtn, 2^23x4, self-training (margin 0.4)": replace(nb, **big, **selfish),
        "NB-weighted bi, sqrtn, 2^22x8": replace(nb, ngram=2),
    }


def peak_rss_mib() -> float:
    """Peak resident memory of this process so far, MiB (Linux reports KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[1, 2, 3])
    parser.add_argument("--threads", type=int, default=0, help="TensorFlow threads (0 = all)")
    parser.add_argument("--only", nargs="*", help="run only these candidates (by name)")
    parser.add_argument("--out", type=Path, default=Path("benchmarks/results/select_best.csv"))
    args = parser.parse_args()

    import numpy as np
    import tensorflow as tf

    if args.threads:
        tf.config.threading.set_intra_op_parallelism_threads(args.threads)
        tf.config.threading.set_inter_op_parallelism_threads(args.threads)

    import embedtut
    from embedtut.data import movie_ids
    from embedtut.models import fit_fasttext, ngram_reviews, train_fasttext
    from embedtut.sequences import vocabulary
    from embedtut.splits import grouped_split

    embedtut.seed_everything(0)
    vocab_size = len(vocabulary()[0])
    groups = movie_ids("train", seed=None)  # the order of embedtut.sequences.tokenized
    space = candidates()
    if args.only:
        unknown = set(args.only) - set(space)
        if unknown:
            sys.exit(f"unknown candidates {sorted(unknown)}; choose from {list(space)}")
        space = {name: space[name] for name in args.only}

    rows, features = [], {}
    for index, (name, config) in enumerate(space.items()):
        key = (config.ngram, config.num_buckets, config.binary)
        if key not in features:
            features.clear()
            reviews = ngram_reviews(config, "train", vocab_size)
            fit_rows, val_rows = grouped_split(groups, reviews.labels)
            features[key] = [reviews.take(fit_rows), reviews.take(val_rows), None]
            del reviews
        if config.pseudo_label_margin is not None and features[key][2] is None:
            features[key][2] = ngram_reviews(config, "unsup", vocab_size)
        fit_side, val_side, unlabelled = features[key]
        result = fit_fasttext(
            config,
            fit_side,
            vocab_size,
            seed=0,
            validation=val_side,
            unlabelled=unlabelled if config.pseudo_label_margin is not None else None,
        )
        params = sum(int(np.prod(w.shape)) for w in result.model.trainable_weights)
        for epoch, acc in enumerate(result.validation_accuracy, start=1):
            rows.append(
                dict(
                    candidate=name,
                    phase="validation",
                    seed=0,
                    epochs=epoch,
                    accuracy=f"{acc:.4f}",
                    fit_seconds="",
                    parameters=params,
                    pseudo_labelled=result.pseudo_labelled,
                    chosen=False,
                    config=dataclasses.replace(config, epochs=epoch),
                    _order=index,
                )
            )
        rows[-1]["fit_seconds"] = f"{result.seconds:.1f}"
        best_epoch = int(np.argmax(result.validation_accuracy)) + 1
        print(
            f"{name}: validation {' '.join(f'{a:.4f}' for a in result.validation_accuracy)}"
            f" (best epoch {best_epoch}), fit {result.seconds:.1f} s, {params:,d} parameters",
            flush=True,
        )
        del result
        tf.keras.backend.clear_session()
    features.clear()

    best = max(rows, key=lambda r: (float(r["accuracy"]), -r["epochs"], -r["_order"]))
    best["chosen"] = True
    chosen = best["config"]
    print(f"\nchosen: {best['candidate']}, {best['epochs']} epochs, validation {best['accuracy']}")
    print(f"config: {chosen}")

    accuracies, seconds = [], []
    for seed in args.seeds:
        run = train_fasttext(chosen, seed=seed)
        accuracies.append(run.accuracy)
        seconds.append(run.seconds)
        rows.append(
            dict(
                candidate=best["candidate"],
                phase="test",
                seed=seed,
                epochs=chosen.epochs,
                accuracy=f"{run.accuracy:.4f}",
                fit_seconds=f"{run.seconds:.1f}",
                parameters=run.params,
                chosen=True,
                config=chosen,
            )
        )
        print(f"seed {seed}: test accuracy {run.accuracy:.4f}, fit {run.seconds:.1f} s", flush=True)
        del run
        tf.keras.backend.clear_session()
    acc = np.array(accuracies)
    print(
        f"\ntest accuracy: mean {acc.mean():.4f} ± {acc.std(ddof=1) if len(acc) > 1 else 0:.4f}"
        f" (sd over {len(acc)} seeds); fit {min(seconds):.1f}-{max(seconds):.1f} s;"
        f" peak RSS {peak_rss_mib():.0f} MiB"
    )
    args.out.parent.mkdir(parents=True, exist_ok=True)
    with open(args.out, "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=FIELDS, extrasaction="ignore")
        writer.writeheader()
        writer.writerows(rows)
    print(f"wrote {len(rows)} rows to {args.out} ({time.strftime('%Y-%m-%d %H:%M')})")


if __name__ == "__main__":
    main()
