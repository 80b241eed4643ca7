"""Retrain chapter 5's best embedding-only IMDB model; print test accuracy, time and memory.

Usage (from the repository root, with the IMDB archive available, e.g. offline)::

    EMBEDTUT_IMDB=/path/to/aclImdb_v1.tar.gz python benchmarks/best_model.py --threads 2

Trains :data:`embedtut.models.BEST` (chosen by ``benchmarks/select_best.py`` on a
movie-grouped validation split: a bag of hashed uni+bi+tri-grams, each weighted by its
naive Bayes log-count ratio, :class:`embedtut.ngrams.EmbeddingBag` +
:class:`embedtut.optimizers.LazyAdam`) on the 25,000 training reviews, once per seed of
``--seeds``, and tests each model once on the 25,000 test reviews. Prints the accuracy
per seed, their mean and standard deviation, the parameter count, the train time (the
wall time of ``model.fit``; features are built first, untimed) and the peak resident
memory of the whole process. Times depend on the machine and on what else runs on it;
``--threads N`` pins TensorFlow to N threads (2 = the book's reference laptop-class CPU).
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import resource

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=0, help="TensorFlow threads (0 = all)")
    parser.add_argument("--seeds", type=int, nargs="+", default=[1, 2, 3])
    parser.add_argument("--epochs", type=int, default=None, help="override BEST.epochs")
    args = parser.parse_args()

    import numpy as np
    import tensorflow as tf

    if args.threads:
        tf.config.threading.set_intra_op_parallelism_threads(args.threads)
        tf.config.threading.set_inter_op_parallelism_threads(args.threads)

    import embedtut
    from embedtut.models import BEST, train_fasttext

    config = BEST if args.epochs is None else dataclasses.replace(BEST, epochs=args.epochs)
    print(f"config: {config}")
    accuracies, seconds = [], []
    for seed in args.seeds:
        embedtut.seed_everything(seed)
        result = train_fasttext(config, seed=seed)
        accuracies.append(result.accuracy)
        seconds.append(result.seconds)
        print(
            f"seed {seed}: test accuracy {result.accuracy:.4f}, train time {result.seconds:.1f} s"
        )
        params = result.params
        del result
        tf.keras.backend.clear_session()
    acc = np.array(accuracies)
    sd = acc.std(ddof=1) if len(acc) > 1 else 0.0
    print(f"parameters: {params:,d}")
    print(f"test accuracy: mean {acc.mean():.4f} ± {sd:.4f} (sd over {len(acc)} seeds)")
    print(f"train time: {min(seconds):.1f}-{max(seconds):.1f} s per run")
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux: KiB
    print(f"peak resident memory: {peak:.0f} MiB")


if __name__ == "__main__":
    main()
