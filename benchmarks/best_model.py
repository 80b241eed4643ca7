"""Retrain chapter 5's best embedding-only IMDB model and print its test accuracy and time.

Usage (from the repository root, with the IMDB archive available, e.g. offline)::

    EMBEDTUT_IMDB=/path/to/aclImdb_v1.tar.gz python benchmarks/best_model.py

Trains :data:`embedtut.models.BEST` (a bag of hashed uni+bi+tri-grams,
:class:`embedtut.ngrams.EmbeddingBag` + :class:`embedtut.optimizers.LazyAdam`) on the 25,000
training reviews and tests it once on the 25,000 test reviews. Train time is the wall time
of ``model.fit`` (features are built first, untimed); it depends on the machine and on what
else runs on it. Pass ``--threads N`` to pin TensorFlow to N threads (2 = the book's
reference laptop-class CPU).
"""

from __future__ import annotations

import argparse
import dataclasses
import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=0, help="TensorFlow threads (0 = all)")
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--epochs", type=int, default=None, help="override BEST.epochs")
    args = parser.parse_args()

    import tensorflow as tf

    if args.threads:
        tf.config.threading.set_intra_op_parallelism_threads(args.threads)
        tf.config.threading.set_inter_op_parallelism_threads(args.threads)

    import embedtut
    from embedtut.models import BEST, train_fasttext

    embedtut.seed_everything(args.seed)
    config = BEST if args.epochs is None else dataclasses.replace(BEST, epochs=args.epochs)
    result = train_fasttext(config, seed=args.seed)
    print(f"config: {config}")
    print(f"parameters: {result.params:,d}")
    print(f"test accuracy: {result.accuracy:.4f}")
    print(f"train time: {result.seconds:.1f} s")


if __name__ == "__main__":
    main()
