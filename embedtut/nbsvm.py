"""NBSVM: a linear SVM on naive-Bayes-scaled binary n-gram features (Wang & Manning 2012).

Wang and Manning, "Baselines and Bigrams: Simple, Good Sentiment and Topic
Classification" (ACL 2012), scale each binarised n-gram feature by its naive Bayes
log-count ratio and train a linear SVM on the result; on IMDB their NBSVM reaches 88.29%
with unigrams and 91.22% with uni+bigrams. Mesnil, Mikolov, Ranzato and Bengio,
"Ensemble of Generative and Discriminative Techniques for Sentiment Analysis of Movie
Reviews" (ICLR 2015 workshop), report 91.87% with uni+bi+trigrams. This module implements
the model of Wang & Manning's paper and code (``sidaw/nbsvm``, ``trainMNBSVM.m``):

* :func:`ngram_keys` and :func:`binary_ngrams` turn word ranks (the book's tokenisation,
  :func:`embedtut.sequences.tokenized`) into *exact* n-grams, ``n = 1..ngram``: every
  n-gram gets a unique integer key (no hashing, unlike :mod:`embedtut.ngrams`, whose
  buckets may collide), and each review becomes a row of 0/1 presence indicators
  ``x̂ = 1{f > 0}`` (W&M's binarised features, ``trainp = testp = 0`` in their code).
* :func:`log_count_ratio`: ``p = alpha + sum of x̂ over positive rows``, ``q`` the same
  over negative rows, ``r = log((p / |p|_1) / (q / |q|_1))``, with ``alpha = 1``.
* :class:`NBSVM` trains an L2-regularised L2-loss (squared hinge) linear SVM, liblinear's
  dual solver ``-s 1`` through :class:`sklearn.svm.LinearSVC`, on ``x̃ = r ∘ x̂``, then
  interpolates the weights, ``w' = (1 - beta) * mean(|w|) + beta * w`` with
  ``beta = 0.25`` (:func:`interpolate`), and classifies by ``sign(w' · x̃ + b)``. The
  constant part of ``w'`` turns ``w' · x̃`` into a blend of the SVM's score and the
  multinomial naive Bayes score ``r · x̂``.

Choices and deviations, stated exactly:

* **No bias by default.** The paper writes ``y = sign(w · x + b)``, but W&M's code calls
  liblinear without ``-B``, i.e. without a bias; ``fit_intercept=False`` (the default)
  does the same. With ``fit_intercept=True`` liblinear's bias (a constant feature of
  value 1, regularised like the weights) is added and left out of the interpolation.
* **Features seen in training.** Columns that no training row uses get ``r = 0`` and stay
  out of ``|p|_1``, ``|q|_1`` and ``mean(|w|)``, as W&M's code does for the norms; their
  code averages ``|w|`` over its whole dictionary, unseen entries (``w = 0``) included,
  which makes ``mean(|w|)`` depend on how large that dictionary was. Here it is the mean
  over the features the training rows use, the paper's ``|w|_1 / |V|`` with ``V`` the
  training features.
* **Solver tolerance.** ``tol`` defaults to scikit-learn's ``1e-4`` (liblinear's command
  line defaults to ``0.1`` for ``-s 1``): the same objective, solved more precisely.
* ``C`` is a parameter (W&M fixed ``C = 1``); choose it on validation data.
* ``loss="logistic"`` (with ``beta=1``, i.e. no interpolation) gives the variant of
  Mesnil et al.'s released code: the same ``r ∘ x̂`` features with L2-regularised
  logistic regression (liblinear ``-s 0``, no bias) instead of the SVM.
* Tokens are the book's (lower-cased, ``<br />`` removed, punctuation stripped, split on
  whitespace), not W&M's IMDB files or Mesnil et al.'s script, which keeps punctuation
  such as ``!`` as tokens of its own.
"""

from __future__ import annotations

import numbers

import numpy as np
import scipy.sparse as sp

from embedtut.ids import check_reviews

#: Largest ``ngram`` supported: keys of trigrams of ranks below :data:`RANK_LIMIT` fit in
#: an ``int64``.
MAX_NGRAM = 3
#: Ranks must lie below this (``2**21 = 2,097,152`` words): a key is the n-gram's ranks
#: written as digits in base ``RANK_LIMIT``.
RANK_LIMIT = 2**21
_LOSSES = ("squared_hinge", "logistic")


def _check_docs(ranks, offsets) -> tuple[np.ndarray, np.ndarray]:
    ranks, offsets = check_reviews(ranks, offsets)
    if ranks.size and ranks.max() >= RANK_LIMIT:
        raise ValueError(f"ranks must be below RANK_LIMIT = {RANK_LIMIT:,}, got {ranks.max():,}")
    return ranks.astype(np.int64), offsets.astype(np.int64)


def _check_ngram(ngram) -> int:
    if isinstance(ngram, bool) or not isinstance(ngram, numbers.Integral):
        raise ValueError(f"ngram must be an integer from 1 to {MAX_NGRAM}, not {ngram!r}")
    if not 1 <= ngram <= MAX_NGRAM:
        raise ValueError(f"ngram must be an integer from 1 to {MAX_NGRAM}, not {ngram!r}")
    return int(ngram)


def ngram_keys(
    ranks: np.ndarray, offsets: np.ndarray, *, ngram: int = 2, vocab_size: int | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Every word n-gram (``n = 1..ngram``) of every review as an exact ``int64`` key.

    The key of the n-gram of ranks ``(a, b, c)`` is ``(a * R + b) * R + c`` with
    ``R = RANK_LIMIT``; ranks are at least 1, so keys of different n-grams never collide,
    whatever their lengths. N-grams never cross a review boundary; a word of rank 0 (not
    in the vocabulary) or above ``vocab_size`` is dropped, with the n-grams that contain
    it (as :func:`embedtut.ngrams.ngram_ids` does).

    Args:
        ranks: word ranks of all reviews concatenated, e.g.
            :func:`embedtut.sequences.tokenized`'s ``ranks`` (1 = most frequent word).
        offsets: ``ranks[offsets[i]:offsets[i + 1]]`` is review ``i``.
        ngram: the longest n-gram, 1 to :data:`MAX_NGRAM`.
        vocab_size: ranks above it count as unknown; ``None`` keeps every rank.

    Returns:
        ``(keys, rows)``: one entry per n-gram occurrence (repeats kept), ``rows[k]``
        the review of ``keys[k]``.

    Raises:
        ValueError: malformed ``ranks``/``offsets``, a rank of :data:`RANK_LIMIT` or more,
            or a bad ``ngram``/``vocab_size``.
    """
    ranks, offsets = _check_docs(ranks, offsets)
    ngram = _check_ngram(ngram)
    if vocab_size is not None and (
        isinstance(vocab_size, bool)
        or not isinstance(vocab_size, numbers.Integral)
        or vocab_size < 1
    ):
        raise ValueError(f"vocab_size must be a positive integer or None, not {vocab_size!r}")
    known = ranks > 0
    if vocab_size is not None:
        known &= ranks <= vocab_size
    review = np.repeat(np.arange(len(offsets) - 1, dtype=np.int64), np.diff(offsets))
    keys, rows = [ranks[known]], [review[known]]
    for n in range(2, ngram + 1):
        stop = len(ranks) - n + 1
        if stop < 1:
            break
        ok = review[:stop] == review[n - 1 :]  # all n words in the same review
        for j in range(n):
            ok &= known[j : j + stop]
        key = ranks[:stop][ok]
        for j in range(1, n):
            key = key * RANK_LIMIT + ranks[j : j + stop][ok]
        keys.append(key)
        rows.append(review[:stop][ok])
    return np.concatenate(keys), np.concatenate(rows)


def binary_ngrams(
    ranks: np.ndarray,
    offsets: np.ndarray,
    *,
    ngram: int = 2,
    columns: np.ndarray | None = None,
    vocab_size: int | None = None,
) -> tuple[sp.csr_matrix, np.ndarray]:
    """Reviews as rows of 0/1 n-gram presence indicators (W&M's binarised ``x̂``).

    Args:
        ranks, offsets, ngram, vocab_size: as in :func:`ngram_keys`.
        columns: the sorted n-gram keys that name the columns, e.g. those returned for the
            training reviews; n-grams outside it are dropped. ``None`` uses every n-gram
            these reviews contain.

    Returns:
        ``(x, columns)``: ``x`` a ``float64`` CSR matrix of shape
        ``(len(offsets) - 1, len(columns))`` whose entries are 1 where a review contains
        the column's n-gram (once or more) and absent elsewhere; ``columns`` the keys.
    """
    keys, rows = ngram_keys(ranks, offsets, ngram=ngram, vocab_size=vocab_size)
    num_rows = len(offsets) - 1
    if columns is None:
        columns, col = np.unique(keys, return_inverse=True)
    else:
        columns = np.asarray(columns)
        if columns.ndim != 1 or not np.issubdtype(columns.dtype, np.integer):
            raise ValueError("columns must be a 1-D integer array of n-gram keys")
        if np.any(np.diff(columns) <= 0):
            raise ValueError("columns must be sorted and distinct (as binary_ngrams returns them)")
        col = np.searchsorted(columns, keys)
        found = col < len(columns)
        found[found] = columns[col[found]] == keys[found]
        col, rows = col[found], rows[found]
    x = sp.csr_matrix(
        (np.ones(len(col), dtype=np.float64), (rows, col)), shape=(num_rows, len(columns))
    )
    x.sum_duplicates()
    x.data[:] = 1.0  # presence, not counts
    return x, columns


def _as_binary(x) -> sp.csr_matrix:
    """``x`` as a CSR matrix of 1s where ``x`` is non-zero; refuses negative entries."""
    if not (sp.issparse(x) or isinstance(x, np.ndarray)):
        raise TypeError(f"x must be a scipy.sparse matrix or a NumPy array, not {type(x).__name__}")
    x = sp.csr_matrix(x, dtype=np.float64)
    if x.ndim != 2:
        raise ValueError(f"x must be 2-D (reviews x features), not {x.ndim}-D")
    x.sum_duplicates()
    if x.nnz and not np.all(np.isfinite(x.data)):
        raise ValueError("x must be finite")
    if x.nnz and x.data.min() < 0:
        raise ValueError("x holds negative entries; it must hold counts or 0/1 indicators")
    x.eliminate_zeros()
    x.data[:] = 1.0
    return x


def _check_labels(labels, num_rows: int) -> np.ndarray:
    y = np.asarray(labels)
    if y.ndim != 1 or len(y) != num_rows:
        raise ValueError(
            f"labels must be 1-D with one entry per row: shape {y.shape}, {num_rows} rows"
        )
    if not (np.issubdtype(y.dtype, np.integer) or np.issubdtype(y.dtype, np.bool_)):
        raise ValueError(f"labels must be 0/1 integers, not {y.dtype}")
    if not np.all((y == 0) | (y == 1)):
        raise ValueError(f"labels must be 0 (negative) or 1 (positive), got {np.unique(y)[:5]}")
    if y.all() or not y.any():
        raise ValueError("labels must hold both classes, 0 and 1")
    return y.astype(np.int64)


def _check_positive(value, what: str) -> float:
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not value > 0:
        raise ValueError(f"{what} must be a positive number, not {value!r}")
    return float(value)


def log_count_ratio(x, labels: np.ndarray, *, alpha: float = 1.0) -> np.ndarray:
    """The naive Bayes log-count ratio ``r = log((p / |p|_1) / (q / |q|_1))``.

    ``p = alpha + sum of the rows of x with label 1``, ``q`` the same over label 0
    (W&M's equations; they use the binarised ``x̂`` and ``alpha = 1``). Columns that no
    row uses get ``r = 0`` and stay out of ``|p|_1`` and ``|q|_1``.

    Args:
        x: ``(rows, features)`` non-negative feature values, sparse or dense, used as
            given (binarise first for NBSVM, e.g. with :func:`binary_ngrams`).
        labels: 0/1 per row; both classes must occur.
        alpha: smoothing, a positive number.

    Returns:
        ``r``, ``float64``, one entry per column.
    """
    if not (sp.issparse(x) or isinstance(x, np.ndarray)):
        raise TypeError(f"x must be a scipy.sparse matrix or a NumPy array, not {type(x).__name__}")
    x = sp.csr_matrix(x, dtype=np.float64)
    if x.nnz and (x.data.min() < 0 or not np.all(np.isfinite(x.data))):
        raise ValueError("x must hold finite, non-negative feature values")
    y = _check_labels(labels, x.shape[0])
    alpha = _check_positive(alpha, "alpha")
    pos = np.asarray(x[y == 1].sum(axis=0)).ravel()
    neg = np.asarray(x[y == 0].sum(axis=0)).ravel()
    seen = (pos + neg) > 0
    if not seen.any():
        raise ValueError("x has no non-zero entry: there is nothing to weigh")
    p = alpha + pos[seen]
    q = alpha + neg[seen]
    r = np.zeros(x.shape[1])
    r[seen] = np.log(p / p.sum()) - np.log(q / q.sum())
    return r


def interpolate(w: np.ndarray, beta: float = 0.25, *, mask: np.ndarray | None = None) -> np.ndarray:
    """W&M's interpolation ``w' = (1 - beta) * mean(|w|) + beta * w``.

    ``beta = 1`` keeps ``w``; ``beta = 0`` gives every feature the same weight, which
    on ``x̃ = r ∘ x̂`` is multinomial naive Bayes without its prior. ``mask`` (boolean,
    like ``w``) restricts the mean to some features (those seen in training).
    """
    w = np.asarray(w, dtype=np.float64)
    if w.ndim != 1 or len(w) == 0:
        raise ValueError(f"w must be a non-empty 1-D array, not shape {w.shape}")
    if isinstance(beta, bool) or not isinstance(beta, numbers.Real) or not 0 <= beta <= 1:
        raise ValueError(f"beta must be a number in [0, 1], not {beta!r}")
    used = w if mask is None else w[np.asarray(mask, dtype=bool)]
    if len(used) == 0:
        raise ValueError("mask selects no feature to average over")
    return (1.0 - beta) * np.abs(used).mean() + beta * w


class NBSVM:
    """Wang & Manning's NBSVM on binarised features (see the module docstring).

    Args:
        C: inverse regularisation strength of the linear classifier (liblinear's ``-c``).
        beta: interpolation ``w' = (1 - beta) * mean(|w|) + beta * w`` (W&M: 0.25).
        alpha: smoothing of the log-count ratio (W&M: 1).
        loss: ``"squared_hinge"``, W&M's L2-regularised L2-loss SVM
            (:class:`sklearn.svm.LinearSVC`, dual, liblinear ``-s 1``), or ``"logistic"``,
            L2-regularised logistic regression (``LogisticRegression(solver="liblinear")``,
            liblinear ``-s 0``), as in Mesnil et al.'s code (use it with ``beta=1``).
        fit_intercept: add liblinear's regularised bias (W&M's code has none).
        tol, max_iter: passed to the scikit-learn estimator. Its ``random_state`` (the
            order in which liblinear's coordinate descent visits the rows) is fixed at 0,
            so that a fit is reproducible.

    Attributes (after :meth:`fit`):
        r_: the log-count ratio, one per feature (0 for features unseen in training).
        seen_: boolean, the features that some training row uses.
        raw_coef_: the classifier's weights ``w`` before interpolation.
        coef_: the interpolated weights ``w'`` used for prediction.
        intercept_: the bias ``b`` (0.0 without ``fit_intercept``).
        n_iter_: the solver's iterations.
    """

    def __init__(
        self,
        C: float = 1.0,
        *,
        beta: float = 0.25,
        alpha: float = 1.0,
        loss: str = "squared_hinge",
        fit_intercept: bool = False,
        tol: float = 1e-4,
        max_iter: int = 1000,
    ):
        self.C = _check_positive(C, "C")
        if isinstance(beta, bool) or not isinstance(beta, numbers.Real) or not 0 <= beta <= 1:
            raise ValueError(f"beta must be a number in [0, 1], not {beta!r}")
        self.beta = float(beta)
        self.alpha = _check_positive(alpha, "alpha")
        if loss not in _LOSSES:
            raise ValueError(f"loss must be one of {_LOSSES}, not {loss!r}")
        self.loss = loss
        if not isinstance(fit_intercept, bool):
            raise ValueError(f"fit_intercept must be True or False, not {fit_intercept!r}")
        self.fit_intercept = fit_intercept
        self.tol = _check_positive(tol, "tol")
        if isinstance(max_iter, bool) or not isinstance(max_iter, numbers.Integral) or max_iter < 1:
            raise ValueError(f"max_iter must be a positive integer, not {max_iter!r}")
        self.max_iter = int(max_iter)

    def __repr__(self) -> str:
        return (
            f"NBSVM(C={self.C}, beta={self.beta}, alpha={self.alpha}, loss={self.loss!r}, "
            f"fit_intercept={self.fit_intercept})"
        )

    def _estimator(self):
        if self.loss == "squared_hinge":
            from sklearn.svm import LinearSVC

            return LinearSVC(
                C=self.C,
                loss="squared_hinge",
                dual=True,
                fit_intercept=self.fit_intercept,
                tol=self.tol,
                max_iter=self.max_iter,
                random_state=0,
            )
        from sklearn.linear_model import LogisticRegression

        return LogisticRegression(
            C=self.C,
            solver="liblinear",
            fit_intercept=self.fit_intercept,
            tol=self.tol,
            max_iter=self.max_iter,
            random_state=0,
        )

    def fit(self, x, labels: np.ndarray) -> NBSVM:
        """Fit on ``x`` (counts or 0/1, binarised here) and 0/1 ``labels``; returns self."""
        xb = _as_binary(x)
        y = _check_labels(labels, xb.shape[0])
        self.r_ = log_count_ratio(xb, y, alpha=self.alpha)
        self.seen_ = np.asarray((xb != 0).sum(axis=0)).ravel() > 0
        est = self._estimator().fit(self._scale(xb), y)
        w = np.asarray(est.coef_, dtype=np.float64).ravel()
        self.raw_coef_ = w
        self.coef_ = interpolate(w, self.beta, mask=self.seen_)
        self.intercept_ = float(np.ravel(est.intercept_)[0]) if self.fit_intercept else 0.0
        self.n_iter_ = int(np.max(est.n_iter_))
        return self

    def _scale(self, xb: sp.csr_matrix) -> sp.csr_matrix:
        """``x̃ = r ∘ x̂`` (zeros removed)."""
        scaled = sp.csr_matrix(xb.multiply(self.r_[None, :]))
        scaled.eliminate_zeros()
        return scaled

    def decision_function(self, x) -> np.ndarray:
        """``w' · (r ∘ x̂) + b`` per row: positive means class 1."""
        if not hasattr(self, "coef_"):
            raise RuntimeError("this NBSVM is not fitted yet: call fit(x, labels) first")
        xb = _as_binary(x)
        if xb.shape[1] != len(self.r_):
            raise ValueError(
                f"x has {xb.shape[1]:,} features, the model was fitted on {len(self.r_):,}"
            )
        return np.asarray(self._scale(xb) @ self.coef_).ravel() + self.intercept_

    def predict(self, x) -> np.ndarray:
        """0/1 predictions (``int64``)."""
        return (self.decision_function(x) > 0).astype(np.int64)

    def score(self, x, labels: np.ndarray) -> float:
        """Accuracy on ``x`` and 0/1 ``labels``."""
        predictions = self.predict(x)
        y = np.asarray(labels)
        if y.shape != predictions.shape:
            raise ValueError(
                f"labels must have one entry per row: {y.shape} for {predictions.shape}"
            )
        return float(np.mean(predictions == y))
