"""Row-by-row MNIST graphs, built the way the seed builds them.

Each 28x28 image is a sequence of 28 time steps (rows) of 28 inputs (pixels).
B is the ``batch_size`` placeholder, H ``hidden_size``, L ``num_layers``::

    images [B, 784] --reshape--> x [B, 28, 28]

    stacked:        MultiRNNCell([OutputMaskWrapper(LSTMCell(H))] * L)
                    dynamic_rnn((x, masks), zero_state(B))
                      -> outputs [B, 28, H] (layer l's output * mask l)
                    features = outputs[:, -1]                       [B, H]

    bidirectional:  fw = LSTMCell(H), bw = the same
                    bidirectional_dynamic_rnn(x, both zero states)
                      -> (out_fw * mask 0, out_bw * mask 1), each [B, 28, H]
                    bi_merge="final": concat(out_fw[:, -1], out_bw[:, 0])
                    bi_merge="seed":  concat(out_fw[:, -1], out_bw[:, -1])
                                                                     [B, 2H]

    logits = features @ out_w + out_b                               [B, 10]
    loss   = mean softmax cross-entropy with logits

The ``bi_merge`` pitfall: ``bidirectional_dynamic_rnn`` returns the backward
outputs re-reversed into input order, so ``out_bw[:, t]`` is the backward
cell's output after it has read rows 27, 26, ..., t. ``out_bw[:, 0]`` has
read the whole image (it equals the backward final state's h, before
dropout); the seed's ``out_bw[:, -1]`` has read row 27 only, which is blank
in 99% of MNIST images, so for those the backward half is a constant.
``"seed"`` keeps that choice so the seed can be reproduced; ``"final"``
(default) uses each direction's last output, with the same output dropout as
the seed.

Dropout is the seed's ``DropoutWrapper(output_keep_prob=keep_prob)``: on
every cell's output, every time step and unit its own keep decision, scaled
by ``1 / keep_prob``, never on the carried state. Deliberate difference: the
masks are :func:`dropout_masks` (:mod:`common.dropout`'s stateless draws
keyed by (seed, global step, mask index)), not the wrapper's stateful ops.
Inside ``dynamic_rnn``'s loop those draw from one stream in whatever order
the parallel iterations run, so ``--seed`` did not repeat a run (measured:
test accuracy 0.7016 and 0.7008 from two runs of ``--config=small
--keep_prob=0.5 --max_steps=60 --seed=1``), and a resumed run could not draw
what an uninterrupted one would. The stacked inner layers' masks enter the
time loop as a second input stream (:class:`common.dropout.
OutputMaskWrapper`, which adds no variable scope); an output that feeds no
other cell (the top layer, both directions) is multiplied by its mask after
the loop, which is the same product. ``mnist_rnn/model_tf2.py`` draws the
very same masks, so the two APIs with one seed apply the same dropout.

Variables (the seed's names; ``gru_cell`` instead of ``lstm_cell`` for GRU)::

    rnn/multi_rnn_cell/cell_<i>/lstm_cell/{kernel,bias}        stacked
    bidirectional_rnn/{fw,bw}/lstm_cell/{kernel,bias}          bidirectional
    out_w [H or 2H, 10], out_b [10]
    global_step, and Adam's slots when training

Parameters with LSTM cells: stacked small (2 x 128) 213,258; bidirectional
small (1 x 128) 163,338.
"""

from typing import Dict, List

import numpy as np

from common import dropout
from common.tf_compat import rnn_cell, tf, tf1
from mnist_rnn import reader
from mnist_rnn.configs import MnistRnnConfig


def make_cell(config: MnistRnnConfig):
  """One ``LSTMCell``/``GRUCell`` (the seed's helper, less its
  ``DropoutWrapper``: see the module docstring).

  The kernels get TF1's default initializer (Glorot uniform) explicitly:
  left to tf-keras, the default initializer draws its seed from Python's
  ``random`` (which ``seed_everything`` also seeds), independent of the graph
  seed, which is fragile; explicit, it follows the graph's op seeds.
  """
  initializer = tf1.glorot_uniform_initializer()
  if config.cell == "lstm":
    return rnn_cell.LSTMCell(config.hidden_size, initializer=initializer)
  return rnn_cell.GRUCell(config.hidden_size, kernel_initializer=initializer)


def num_masks(config: MnistRnnConfig) -> int:
  """Dropout masks per step: one per stacked layer, one per direction."""
  return config.num_layers if config.model == "stacked" else 2


def dropout_masks(config: MnistRnnConfig, seed: int, step, batch_size,
                  keep_prob, measurement=False) -> List[tf.Tensor]:
  """The dropout masks of one step, [B, 28, H] each (both APIs' draw).

  Args:
    config: the model (how many masks, H).
    seed: the run's seed.
    step: the global step (TF2: the optimizer's ``iterations``) when the
      masks are drawn.
    batch_size: B (a scalar tensor is fine).
    keep_prob: probability of keeping an element (a float32 tensor is fine).
    measurement: the progress line's re-run of a minibatch (a bool or a bool
      tensor): its own masks, keyed by mask indices ``n .. 2n - 1`` (the
      training step uses ``0 .. n - 1``).

  Returns:
    ``num_masks(config)`` tensors: mask ``l`` is layer ``l`` (stacked) or
    direction ``l`` (0 forward, 1 backward).
  """
  n = num_masks(config)
  shape = [batch_size, reader.IMAGE_ROWS, config.hidden_size]
  return dropout.dropout_masks(seed, step, n, shape, keep_prob,
                               first=tf.cast(measurement, tf.int32) * n)


class MnistRnnModel:
  """The graph of one model (see the module docstring).

  Attributes:
    images: float32 placeholder [None, 784].
    labels: float32 one-hot placeholder [None, 10].
    batch_size: int32 scalar placeholder (for the zero states).
    keep_prob: float32 scalar placeholder (1.0 when evaluating).
    measurement: bool scalar placeholder, default False: True draws the
      progress line's masks (:func:`dropout_masks`).
    masks: the step's dropout masks, all ones when ``keep_prob`` is 1.
    rnn_outputs: stacked: [B, 28, H]; bidirectional: (out_fw, out_bw).
    rnn_state: the final state(s) that ``dynamic_rnn`` returned.
    features: what feeds the output layer, [B, H] or [B, 2H].
    logits, loss, accuracy: [B, 10], scalar, scalar.
    num_correct: int32 count of right predictions in the batch.
    global_step: the step counter (also built when not training).
    learning_rate, train_op: only when ``is_training``.
  """

  def __init__(self, config: MnistRnnConfig, is_training: bool,
               dropout_seed: int = 0):
    """Builds the graph.

    Args:
      config: the hyperparameters.
      is_training: adds the learning rate and the train op.
      dropout_seed: keys the dropout masks (the run's seed).
    """
    self.config = config
    self.images = tf1.placeholder(tf.float32, [None, reader.IMAGE_PIXELS],
                                  name="images")
    self.labels = tf1.placeholder(tf.float32, [None, reader.NUM_CLASSES],
                                  name="labels")
    self.batch_size = tf1.placeholder(tf.int32, [], name="batch_size")
    self.keep_prob = tf1.placeholder(tf.float32, [], name="keep_prob")
    self.measurement = tf1.placeholder_with_default(False, [],
                                                    name="measurement")
    self.global_step = tf1.train.get_or_create_global_step()
    self.masks = self._masks(dropout_seed)
    x = tf.reshape(self.images, [-1, reader.IMAGE_ROWS, reader.IMAGE_COLS])

    if config.model == "stacked":
      self.features = self._stacked(x)
    else:
      self.features = self._bidirectional(x)
    self.logits = self._output_layer(self.features)

    self.loss = tf.reduce_mean(
        tf1.nn.softmax_cross_entropy_with_logits_v2(
            labels=tf.stop_gradient(self.labels), logits=self.logits),
        name="loss")
    correct = tf.equal(tf.argmax(self.logits, 1), tf.argmax(self.labels, 1))
    self.num_correct = tf.reduce_sum(tf.cast(correct, tf.int32),
                                     name="num_correct")
    self.accuracy = tf.reduce_mean(tf.cast(correct, tf.float32),
                                   name="accuracy")
    if is_training:
      self._build_train_op()

  def _masks(self, seed: int) -> List[tf.Tensor]:
    """:func:`dropout_masks` when ``keep_prob`` < 1, else ones."""
    config = self.config
    shape = [self.batch_size, reader.IMAGE_ROWS, config.hidden_size]
    return tf.cond(
        self.keep_prob < 1.0,
        lambda: dropout_masks(config, seed, self.global_step,
                              self.batch_size, self.keep_prob,
                              self.measurement),
        lambda: [tf.ones(shape) for _ in range(num_masks(config))],
        name="dropout_masks")

  def _stacked(self, x: tf.Tensor) -> tf.Tensor:
    num_layers = self.config.num_layers
    cell = rnn_cell.MultiRNNCell(
        [dropout.OutputMaskWrapper(make_cell(self.config), layer, num_layers)
         for layer in range(num_layers)])
    initial_state = cell.zero_state(self.batch_size, tf.float32)
    (self.rnn_outputs, _), self.rnn_state = tf1.nn.dynamic_rnn(
        cell, (x, tuple(self.masks)), initial_state=initial_state)
    return self.rnn_outputs[:, -1, :]

  def _bidirectional(self, x: tf.Tensor) -> tf.Tensor:
    cell_fw = make_cell(self.config)
    cell_bw = make_cell(self.config)
    (out_fw, out_bw), self.rnn_state = tf1.nn.bidirectional_dynamic_rnn(
        cell_fw, cell_bw, x,
        initial_state_fw=cell_fw.zero_state(self.batch_size, tf.float32),
        initial_state_bw=cell_bw.zero_state(self.batch_size, tf.float32))
    # Neither output feeds a cell: its mask after the loop is the same
    # product as DropoutWrapper's inside it.
    out_fw, out_bw = out_fw * self.masks[0], out_bw * self.masks[1]
    self.rnn_outputs = (out_fw, out_bw)
    bw_index = 0 if self.config.bi_merge == "final" else -1
    return tf.concat([out_fw[:, -1, :], out_bw[:, bw_index, :]], axis=1)

  def _output_layer(self, features: tf.Tensor) -> tf.Tensor:
    # The seed: weights truncated normal (stddev 0.1); bias 0.1 in the stacked
    # script, 0 in the bidirectional one.
    bias = 0.1 if self.config.model == "stacked" else 0.0
    width = features.shape[-1]
    out_w = tf1.get_variable(
        "out_w", [width, reader.NUM_CLASSES],
        initializer=tf1.truncated_normal_initializer(stddev=0.1))
    out_b = tf1.get_variable("out_b", [reader.NUM_CLASSES],
                             initializer=tf1.constant_initializer(bias))
    return tf.add(tf.matmul(features, out_w), out_b, name="logits")

  def _build_train_op(self) -> None:
    config = self.config
    self.learning_rate = tf1.train.exponential_decay(
        config.learning_rate, self.global_step, config.lr_decay_steps,
        config.lr_decay, staircase=True, name="learning_rate")
    optimizer = tf1.train.AdamOptimizer(self.learning_rate)
    grads_and_vars = optimizer.compute_gradients(self.loss)
    if config.max_grad_norm > 0:
      grads, tvars = zip(*grads_and_vars)
      grads, _ = tf.clip_by_global_norm(grads, config.max_grad_norm)
      grads_and_vars = list(zip(grads, tvars))
    self.train_op = optimizer.apply_gradients(grads_and_vars,
                                              global_step=self.global_step)

  def feed(self, images: np.ndarray, labels: np.ndarray,
           keep_prob: float = 1.0, measurement: bool = False
           ) -> Dict[tf.Tensor, object]:
    """The feed_dict for one batch (``batch_size`` follows ``images``);
    ``measurement``: the progress line's masks (:func:`dropout_masks`)."""
    return {self.images: images, self.labels: labels,
            self.batch_size: len(images), self.keep_prob: keep_prob,
            self.measurement: measurement}


def weight_variables() -> List[tf1.Variable]:
  """The model's trainable weights (cells and output layer)."""
  return tf1.trainable_variables()
