"""embedtut: the code behind the book "How the Keras Embedding layer really works".

Each module is named after a concept of the book:

* data and setup: :mod:`embedtut.data` (the real IMDB corpus, verified),
  :mod:`embedtut.sequences` (the integer sequences Keras readers know),
  :mod:`embedtut.cache` (atomic, pickle-free cache), :mod:`embedtut.repro`
  (:func:`seed_everything`), :mod:`embedtut.splits` (validation splits grouped by movie);
* chapter 1, lookup versus one-hot: :mod:`embedtut.lookup`, with the timing harness
  :mod:`embedtut.bench` and :mod:`embedtut.plotting`;
* chapter 2, inside the layer: :mod:`embedtut.layers` (``ScratchEmbedding``, ``IdCheck``),
  :mod:`embedtut.ids` (id validation), :mod:`embedtut.source` (showing installed source);
* chapter 3, trainability: :mod:`embedtut.training`, :mod:`embedtut.optimizers`
  (``LazyAdam``), :mod:`embedtut.layers` (``GatherEmbedding``, a lookup without a full
  read of the table), :mod:`embedtut.skipgram`, :mod:`embedtut.neighbors`;
* chapter 4, hashing and subwords: :mod:`embedtut.hashing`, :mod:`embedtut.subwords`,
  :mod:`embedtut.classifiers`;
* chapter 5, IMDB: :mod:`embedtut.models`, :mod:`embedtut.ngrams` (``EmbeddingBag``),
  :mod:`embedtut.inspection`, :mod:`embedtut.nbsvm` (the classic linear baseline);
* chapter 6, the article's recipes: :mod:`embedtut.recipes` (chapter 5's models with a
  recipe slotted in), :mod:`embedtut.dropout` (token and row dropout),
  :mod:`embedtut.selection` (configurations × seeds on validation),
  :mod:`embedtut.probes` (what a table holds besides the task);
* chapter 7, static to contextual: :mod:`embedtut.positions` (position tables),
  :mod:`embedtut.contextual` (a small Transformer encoder and probes of its vectors),
  :mod:`embedtut.language_model` (a masked-word model with a tied table);
* chapter 8, backends: :mod:`embedtut.backends` (run a function on another Keras backend,
  in a subprocess), :mod:`embedtut.backend_probes` (what the chapter runs on each);
* chapter 9, at scale: :mod:`embedtut.scale` (memory accounting, sharding a table on a
  device mesh, multi-process training), :mod:`embedtut.traffic` (the collectives a sharded
  lookup needs, read from the compiled program, and their analytic model, table-wise
  included), :mod:`embedtut.quantized` (what a lookup in a smaller table compiles to and
  costs).
"""

from embedtut.repro import seed_everything

__version__ = "0.1.0"
__all__ = ["__version__", "seed_everything"]
