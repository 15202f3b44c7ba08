"""Dropout masks drawn by stateless random ops: repeatable and resumable.

The tutorial's dropout (``tf.nn.dropout`` on the inputs, ``DropoutWrapper``
on each LSTM layer's output) draws from TF's stateful random streams. Inside
``dynamic_rnn``'s while loop the per-step dropout ops of parallel iterations
draw from one stream in whatever order they happen to run, so the same
``--seed`` does not give the same numbers twice, and a stream's position
cannot be saved in a checkpoint.

Here every mask is a pure function of ``(seed, global step, mask index)``::

    key(k)  = fold_in(fold_in([seed, 0], global_step), k)
    mask_k  = (stateless_uniform([B, T, H], key(k)) >= 1 - keep_prob)
              * (1 / keep_prob)                     # 0 or 1/keep_prob

    mask 0      the embedded inputs               (tutorial: tf.nn.dropout)
    mask 1 + l  the output of LSTM layer l        (tutorial: DropoutWrapper)

Time is an axis of the draw, so every (stream, step, unit) element has its own
Bernoulli(keep_prob) draw, scaled by 1/keep_prob: the tutorial's semantics
(one mask per element per time step; ``x * mask`` is bit-equal to
``tf.nn.dropout`` with the same keep decisions), drawn from a different
random stream. A resumed run reads the same global step from its checkpoint
and so draws exactly the masks the uninterrupted run would have drawn. The
TF1 graphs (``ptb/model.py``, ``mnist_rnn/model.py``) and their TF2 twins
(``ptb/model_tf2.py``, ``mnist_rnn/model_tf2.py``) call the same function,
so with the same seed they apply the same masks. (MNIST numbers its masks
per stacked layer or direction, ``mnist_rnn.model.dropout_masks``.)
"""

from typing import List

from common.tf_compat import rnn_cell, tf


def mask_key(seed: int, global_step, index: int):
  """The stateless seed (int32 [2]) of mask ``index`` at ``global_step``."""
  base = tf.constant([seed % 2**31, 0], dtype=tf.int32)
  step_key = tf.random.experimental.stateless_fold_in(
      base, tf.cast(global_step, tf.int32))
  return tf.random.experimental.stateless_fold_in(step_key, index)


def dropout_masks(seed: int, global_step, count: int, shape,
                  keep_prob, dtype=tf.float32, first=0) -> List[tf.Tensor]:
  """``count`` dropout masks of ``shape``: 0 or ``1 / keep_prob``.

  Args:
    seed: the run's seed (an int; see the module docstring).
    global_step: a scalar tensor (or int): the training step being taken.
    count: how many masks (mask ``first + k`` is keyed by index
      ``first + k``).
    shape: e.g. ``[batch_size, num_steps, hidden_size]``.
    keep_prob: probability of keeping an element, in (0, 1]: a Python float
      or a float32 scalar tensor (a TF1 placeholder). Either way the drop
      rate and the scale are computed in float32 from float32(keep_prob),
      so both give the same masks bit for bit.
    dtype: the masks' dtype.
    first: the index of the first mask (an int or an int32 scalar tensor).

  Returns:
    A list of ``count`` tensors of ``shape``.
  """
  keep = tf.cast(keep_prob, tf.float32)
  rate = tf.cast(1.0 - keep, dtype)
  scale = tf.cast(1.0 / keep, dtype)
  masks = []
  for k in range(count):
    u = tf.random.stateless_uniform(
        shape, seed=mask_key(seed, global_step, first + k), dtype=dtype)
    masks.append(tf.cast(u >= rate, dtype) * scale)
  return masks


class OutputMaskWrapper(rnn_cell.RNNCell):
  """``DropoutWrapper(cell, output_keep_prob)`` with the mask as an input.

  Takes ``(x, masks)`` per step, returns ``(cell(x) * masks[layer], masks)``,
  so a ``MultiRNNCell`` of these hands the step's masks from layer to
  layer::

      dynamic_rnn inputs, per step t:  (x_t, (m0_t, ..., m(L-1)_t))
      layer l:  out = cell_l(in, state_l) * ml_t ;  passes the masks on

  Like ``DropoutWrapper`` it adds no variable scope: the wrapped cell's
  variables keep the tutorial's names. Every layer's output is ``H`` wide.
  """

  def __init__(self, cell, layer: int, num_layers: int):
    super().__init__()
    self.cell = cell
    self._layer = layer
    self._masks_size = (cell.output_size,) * num_layers

  @property
  def state_size(self):
    return self.cell.state_size

  @property
  def output_size(self):
    return (self.cell.output_size, self._masks_size)

  def zero_state(self, batch_size, dtype):
    return self.cell.zero_state(batch_size, dtype)

  def __call__(self, inputs, state, scope=None):
    x, masks = inputs
    output, new_state = self.cell(x, state, scope=scope)
    return (output * masks[self._layer], masks), new_state
