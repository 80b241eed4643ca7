"""NBSVM on IMDB: C chosen on a movie-grouped validation split, then one test evaluation.

Usage (from the repository root, with the IMDB archive available, e.g. offline)::

    EMBEDTUT_IMDB=/path/to/aclImdb_v1.tar.gz python benchmarks/nbsvm.py

For n = 1, 1..2 and 1..3 (``--grams``), builds binary n-gram features from the book's
tokens (:func:`embedtut.sequences.tokenized`, exact n-grams, :mod:`embedtut.nbsvm`), and:

1. splits the 25,000 training reviews by movie (:func:`embedtut.splits.grouped_split` on
   :func:`embedtut.data.movie_ids`, seed 0, 20% validation);
2. fits :class:`embedtut.nbsvm.NBSVM` on the training side for every ``C`` of ``--C``
   (log-count ratios and weights from the training side only) and scores the
   validation side;
3. refits on all 25,000 training reviews with the ``C`` of best validation accuracy
   (ties: the smaller ``C``) and scores the 25,000 test reviews once.

``--variants`` runs ``nbsvm``, Wang & Manning's model (squared hinge, beta 0.25), and
``nblr``, the variant of Mesnil et al.'s code (logistic regression, beta 1), each over its
own grid of ``C`` (:data:`GRIDS`, or ``--C``). Every
configuration goes to ``--out`` (default ``benchmarks/results/nbsvm.csv``), one row per
validation score and one per test score; times and the process's peak resident memory
are printed. ``--max-reviews N`` keeps only N reviews of each split (half per class), for
a quick check of the script.
"""

from __future__ import annotations

import argparse
import csv
import os
import platform
import resource
import sys
import time
from pathlib import Path

import numpy as np

VARIANTS = {
    "nbsvm": {"loss": "squared_hinge", "beta": 0.25},
    "nblr": {"loss": "logistic", "beta": 1.0},
}
#: The C values tried by default: half decades up to W&M's C = 1 for the SVM, around
#: liblinear's default C = 1 (Mesnil et al.'s setting) for logistic regression.
GRIDS = {
    "nbsvm": [0.0003, 0.001, 0.003, 0.01, 0.03, 0.1, 0.3, 1.0],
    "nblr": [0.01, 0.03, 0.1, 0.3, 1.0, 3.0, 10.0],
}
FIELDS = [
    "variant",
    "ngram",
    "loss",
    "beta",
    "C",
    "phase",
    "accuracy",
    "fit_reviews",
    "eval_reviews",
    "features",
    "fit_seconds",
    "solver_iterations",
    "converged",
    "chosen",
]


def peak_rss_mib() -> float:
    """Peak resident memory of this process so far, MiB (Linux reports KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def cpu_name() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown CPU"


def subsample(split, max_reviews: int | None):
    """``(ranks, offsets, labels, rows)`` of a split, optionally the first reviews per class."""
    labels = split.labels.astype(np.int64)
    rows = np.arange(len(labels))
    if max_reviews:
        half = max_reviews // 2
        rows = np.concatenate([np.flatnonzero(labels == c)[:half] for c in (0, 1)])
    lengths = np.diff(split.offsets)[rows]
    starts = split.offsets[rows]
    index = np.repeat(starts - np.cumsum(np.r_[0, lengths[:-1]]), lengths) + np.arange(
        lengths.sum()
    )
    offsets = np.concatenate(([0], np.cumsum(lengths)))
    return split.ranks[index], offsets, labels[rows], rows


def fit_and_score(c, settings, max_iter, fit, evaluate):
    """Fit NBSVM with ``C = c`` on ``fit = (x, y)``, score it on ``evaluate = (x, y)``.

    Returns accuracy, fit seconds, solver iterations and the CSV fields they fill.
    """
    from embedtut.nbsvm import NBSVM

    t = time.perf_counter()
    model = NBSVM(c, max_iter=max_iter, **settings).fit(*fit)
    seconds = time.perf_counter() - t
    acc = model.score(*evaluate)
    row = dict(
        C=c,
        accuracy=f"{acc:.4f}",
        fit_reviews=len(fit[1]),
        eval_reviews=len(evaluate[1]),
        features=int(model.seen_.sum()),
        fit_seconds=f"{seconds:.1f}",
        solver_iterations=model.n_iter_,
        converged=model.n_iter_ < max_iter,
        chosen=False,
        **settings,
    )
    return acc, seconds, model.n_iter_, row


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--grams", type=int, nargs="+", default=[1, 2, 3])
    parser.add_argument(
        "--C", type=float, nargs="+", default=None, dest="grid", help="default: GRIDS"
    )
    parser.add_argument("--variants", nargs="+", default=["nbsvm", "nblr"], choices=VARIANTS)
    parser.add_argument("--max-iter", type=int, default=5000, help="solver iterations at most")
    parser.add_argument("--out", type=Path, default=Path("benchmarks/results/nbsvm.csv"))
    parser.add_argument("--max-reviews", type=int, default=None)
    args = parser.parse_args()

    import scipy
    import sklearn

    from embedtut.data import movie_ids
    from embedtut.nbsvm import binary_ngrams
    from embedtut.sequences import tokenized
    from embedtut.splits import grouped_split

    print(
        f"machine: {cpu_name()}, {os.cpu_count()} logical CPUs; "
        f"Python {platform.python_version()}, "
        f"NumPy {np.__version__}, SciPy {scipy.__version__}, scikit-learn {sklearn.__version__}"
    )
    t0 = time.perf_counter()
    train, test = tokenized("train"), tokenized("test")
    movies_all = movie_ids("train", seed=None)  # file order, the order of tokenized()
    if len(movies_all) != len(train):
        raise SystemExit(f"{len(movies_all)} movie ids for {len(train)} training reviews")
    tr_ranks, tr_offsets, y_train, kept = subsample(train, args.max_reviews)
    te_ranks, te_offsets, y_test, _ = subsample(test, args.max_reviews)
    fit_idx, val_idx = grouped_split(movies_all[kept], y_train)
    assert not set(movies_all[kept][fit_idx]) & set(movies_all[kept][val_idx])
    print(
        f"data: {len(y_train):,} training reviews -> {len(fit_idx):,} fit + {len(val_idx):,} "
        f"validation (grouped by movie), {len(y_test):,} test; "
        f"{time.perf_counter() - t0:.1f} s, peak RSS {peak_rss_mib():,.0f} MiB"
    )

    rows = []
    for n in args.grams:
        t = time.perf_counter()
        x_train, columns = binary_ngrams(tr_ranks, tr_offsets, ngram=n)
        x_test, _ = binary_ngrams(te_ranks, te_offsets, ngram=n, columns=columns)
        x_fit, x_val = x_train[fit_idx], x_train[val_idx]
        print(
            f"\nn = 1..{n}: {len(columns):,} n-grams in the training reviews, "
            f"{x_train.nnz:,} + {x_test.nnz:,} non-zeros (train + test); features built in "
            f"{time.perf_counter() - t:.1f} s, peak RSS {peak_rss_mib():,.0f} MiB"
        )
        for variant in args.variants:
            settings = VARIANTS[variant]
            grid = args.grid or GRIDS[variant]
            scores = []

            for c in grid:
                acc, seconds, iterations, row = fit_and_score(
                    c, settings, args.max_iter, (x_fit, y_train[fit_idx]), (x_val, y_train[val_idx])
                )
                rows.append(dict(variant=variant, ngram=n, phase="validation", **row))
                scores.append(acc)
                print(
                    f"  {variant} C={c:<6g} validation accuracy {acc:.4f}  "
                    f"(fit {seconds:.1f} s, {iterations} iterations, "
                    f"peak RSS {peak_rss_mib():,.0f} MiB)"
                )
            best = int(np.argmax(scores))  # first maximum: the smallest C among ties
            for row in rows[-len(grid) :]:
                row["chosen"] = row["C"] == grid[best]
            c = grid[best]
            acc, seconds, _, row = fit_and_score(
                c, settings, args.max_iter, (x_train, y_train), (x_test, y_test)
            )
            rows.append(dict(variant=variant, ngram=n, phase="test", **row) | {"chosen": True})
            print(
                f"  {variant} n = 1..{n}: chose C={c:g}; refit on all {len(y_train):,} in "
                f"{seconds:.1f} s; TEST accuracy {acc:.4f}  (peak RSS {peak_rss_mib():,.0f} MiB)"
            )
        del x_train, x_test, x_fit, x_val, columns

    args.out.parent.mkdir(parents=True, exist_ok=True)
    with open(args.out, "w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=FIELDS)
        writer.writeheader()
        writer.writerows(rows)
    print(
        f"\nwrote {len(rows)} rows to {args.out}; total {time.perf_counter() - t0:.0f} s, "
        f"peak RSS {peak_rss_mib():,.0f} MiB; TensorFlow imported: {'tensorflow' in sys.modules}"
    )


if __name__ == "__main__":
    main()
