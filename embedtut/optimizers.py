"""Optimizers for embedding tables: a *lazy* Adam that only touches the rows in the batch.

Keras 3's :class:`keras.optimizers.Adam` keeps its two moment estimates as dense
tables the shape of the variable and updates every row of them, and of the variable,
at every step, even when the gradient is a ``tf.IndexedSlices`` naming a handful of
rows (keras-team/keras issue #19992). For an embedding table that costs O(V·d) per
step and keeps moving rows the batch never used.

:class:`LazyAdam` behaves like TensorFlow Addons' ``LazyAdam`` and PyTorch's
``SparseAdam``: for an ``IndexedSlices`` gradient it combines repeated ids, reads the
moments of those rows only, and scatter-writes new moments and new weights for those
rows only. For a dense gradient it *is* Keras's Adam (the same code runs).
"""

from __future__ import annotations

import keras
from keras import ops


def _is_indexed_slices(gradient) -> bool:
    if keras.backend.backend() != "tensorflow":
        return False
    import tensorflow as tf

    return isinstance(gradient, tf.IndexedSlices)


@keras.saving.register_keras_serializable(package="embedtut")
class LazyAdam(keras.optimizers.Adam):
    """Adam that updates, for sparse (``IndexedSlices``) gradients, only the rows in the batch.

    Takes the arguments of :class:`keras.optimizers.Adam`, except two it refuses (below).

    * Dense gradient (a ``Dense`` kernel, a bias, or an embedding table on a backend
      that gives dense gradients): the update is Keras's Adam, unchanged.
    * ``tf.IndexedSlices`` gradient (what ``keras.layers.Embedding`` produces on the
      TensorFlow backend): gradients of repeated ids are summed first; then, for those
      rows ``r`` only, with ``t`` the optimizer's step count (``iterations + 1``)::

          m[r] = beta_1 * m[r] + (1 - beta_1) * g[r]
          v[r] = beta_2 * v[r] + (1 - beta_2) * g[r] ** 2
          w[r] -= lr * sqrt(1 - beta_2**t) / (1 - beta_1**t) * m[r] / (sqrt(v[r]) + epsilon)

      Rows absent from the batch keep their weights *and* their moments: their moments
      are not decayed while absent, which is what makes the optimizer lazy (and why its
      trajectory differs slightly from Adam's). The bias correction uses the global step
      count, as TensorFlow Addons' LazyAdam does. With ``amsgrad=True``,
      ``v_hat[r] = max(v_hat[r], v[r])`` replaces ``v[r]`` in the step, for those rows only.

    The moment tables stay dense (2·V·d floats): laziness saves time, not memory.
    ``weight_decay``, if set, is applied by Keras's base optimizer to every row, as in
    AdamW; leave it unset to keep updates sparse.

    ``global_clipnorm`` and ``gradient_accumulation_steps`` raise ``ValueError``: with
    either, Keras's base optimizer makes the ``IndexedSlices`` gradient dense (scales it by
    the global norm, or adds it to a dense accumulator) before :meth:`update_step` sees
    it, which would silently make this dense Adam; use :class:`keras.optimizers.Adam`
    for them. ``clipnorm`` and ``clipvalue`` keep the gradient sparse (TensorFlow clips
    the slices' values) and work; as for Adam, they act on the slices before repeated ids
    are summed, so ``clipvalue`` bounds each occurrence of an id, not the row's total.
    (``loss_scale_factor`` fails on any ``IndexedSlices`` gradient in Keras 3.15, Adam's
    too; :class:`keras.optimizers.LossScaleOptimizer` keeps them sparse.)
    """

    # option -> (what Keras's base optimizer does with it, the sparse alternative)
    _DENSIFYING = {
        "global_clipnorm": (
            "multiplies every gradient by a scale from the global norm of all of them",
            "clipnorm or clipvalue, which keep the gradient sparse",
        ),
        "gradient_accumulation_steps": (
            "adds every gradient into a dense accumulator the shape of the variable",
            "a larger batch",
        ),
    }

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        for option, (what, instead) in self._DENSIFYING.items():
            value = getattr(self, option)
            if value is not None and value > 0:
                raise ValueError(
                    f"LazyAdam refuses {option}={value!r}: Keras's base optimizer {what}, "
                    "which turns an embedding's IndexedSlices gradient into a dense tensor "
                    "before update_step, so every row of the table and of the moments would "
                    f"be updated, as by dense Adam. Use keras.optimizers.Adam({option}=...) "
                    f"if that is what you want, or LazyAdam with {instead}."
                )

    def update_step(self, gradient, variable, learning_rate):
        """Apply one Adam step: dense as Keras does, or lazily on the batch's rows."""
        if not _is_indexed_slices(gradient):
            return super().update_step(gradient, variable, learning_rate)
        import tensorflow as tf

        dtype = variable.dtype
        lr = ops.cast(learning_rate, dtype)
        step = ops.cast(self.iterations + 1, dtype)
        beta_1 = ops.cast(self.beta_1, dtype)
        beta_2 = ops.cast(self.beta_2, dtype)
        alpha = lr * ops.sqrt(1 - ops.power(beta_2, step)) / (1 - ops.power(beta_1, step))

        # Combine repeated ids: Adam's math is on the summed gradient of each row.
        rows, position = tf.unique(gradient.indices)
        values = tf.math.unsorted_segment_sum(
            tf.cast(gradient.values, dtype), position, tf.shape(rows)[0]
        )
        shape = gradient.dense_shape

        index = self._get_variable_index(variable)
        m = self._momentums[index]
        v = self._velocities[index]
        m_rows = tf.gather(m.value, rows)
        v_rows = tf.gather(v.value, rows)
        m_rows = m_rows + (values - m_rows) * (1 - beta_1)
        v_rows = v_rows + (tf.square(values) - v_rows) * (1 - beta_2)
        self.assign(m, tf.IndexedSlices(m_rows, rows, shape))
        self.assign(v, tf.IndexedSlices(v_rows, rows, shape))
        if self.amsgrad:
            v_hat = self._velocity_hats[index]
            v_rows = tf.maximum(tf.gather(v_hat.value, rows), v_rows)
            self.assign(v_hat, tf.IndexedSlices(v_rows, rows, shape))
        step_rows = alpha * m_rows / (tf.sqrt(v_rows) + ops.cast(self.epsilon, dtype))
        self.assign_sub(variable, tf.IndexedSlices(step_rows, rows, shape))

    def get_config(self) -> dict:
        """Adam's configuration (this optimizer adds no argument of its own)."""
        return super().get_config()
