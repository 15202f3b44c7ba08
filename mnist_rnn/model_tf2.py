"""Row-by-row MNIST in TF2: the Keras 3 twin of :mod:`mnist_rnn.model`.

Hold the two files side by side: same networks, same initial distributions,
same dropout placement, same loss and optimizer; only the API differs::

    mnist_rnn/model.py (TF1 graph)            here (TF2, Keras 3)
    images/labels/keep_prob placeholders,     plain arguments of a tf.function
      feed_dict                                 (mnist_rnn/train_tf2.py)
    MultiRNNCell([OutputMaskWrapper(LSTMCell( L x keras.layers.LSTM(H,
      H))] * L) + dynamic_rnn (the seed:        return_sequences=True), each
      DropoutWrapper)                           output * its dropout mask
    bidirectional_dynamic_rnn(fw, bw)         keras.layers.Bidirectional(
                                                LSTM(H, return_sequences=True))
    out_w, out_b + matmul                     keras.layers.Dense(10)
    softmax_cross_entropy_with_logits_v2      tf.nn.softmax_cross_entropy_with_
                                                logits (the same op)
    AdamOptimizer(exponential_decay(...))     keras.optimizers.Adam(
                                                ExponentialDecay(...),
                                                epsilon=1e-8)
    clip_by_global_norm in _build_train_op    the same op in the train step
    global_step                               optimizer.iterations

The networks (B examples, H ``hidden_size``, L ``num_layers``)::

    images [B, 784] --reshape--> x [B, 28, 28]      (28 rows = 28 time steps)

    stacked:        for l in 0..L-1:  x = LSTM_l(x) * mask_l     [B, 28, H]
                    features = x[:, -1]                          [B, H]

    bidirectional:  y = Bidirectional(LSTM(H, return_sequences=True))(x)
                      y[..., :H]  forward outputs, input order
                      y[..., H:]  backward outputs, re-reversed into input
                                  order (as bidirectional_dynamic_rnn
                                  returns out_bw): y[:, t, H:] has read
                                  rows 27, 26, ..., t
                    y = y * concat(mask_fw, mask_bw)
                    bi_merge="final": concat(y[:, -1, :H], y[:, 0, H:])
                    bi_merge="seed":  concat(y[:, -1, :H], y[:, -1, H:])
                                                                 [B, 2H]

    logits = Dense(10)(features)                                 [B, 10]

Weights: each TF1 ``lstm_cell/kernel [in + H, 4H]`` (gates i, j, f, o, forget
bias 1.0 added to f inside the cell) is a Keras ``kernel [in, 4H]`` plus
``recurrent_kernel [H, 4H]`` (gates i, f, c, o) and a ``bias [4H]`` that holds
the forget bias; :mod:`mnist_rnn.convert_checkpoint` maps them and
``docs/migration_mnist.md`` draws both layouts.

Initial values, the TF1 graph's distributions (the random streams differ):

* LSTM ``kernel`` and ``recurrent_kernel``: uniform in +-sqrt(6 / ((in + H) +
  4H)), which is TF1's Glorot uniform over the joint ``[in + H, 4H]`` kernel
  (i.i.d., so its two row blocks are too);
* LSTM ``bias``: zeros, but 1.0 on the forget gate (``unit_forget_bias``):
  the TF1 bias is zeros and its cell adds ``forget_bias=1.0``;
* ``out`` kernel: truncated normal, stddev 0.1 (both redraw beyond 2
  stddev); ``out`` bias 0.1 (stacked) or 0 (bidirectional), as the seed.

Dropout: where the seed's ``DropoutWrapper(output_keep_prob)`` puts it, on
the output of every LSTM (every time step, every unit, its own keep
decision), never on the carried state. The masks are
:func:`mnist_rnn.model.dropout_masks`, the TF1 graph's own draw (stateless,
keyed by (seed, step, mask index); mask ``l`` is layer ``l`` (stacked) or
direction ``l`` (0 forward, 1 backward)), so with the same seed the two APIs
apply the same masks, bit for bit. ``tests/test_mnist_tf2.py`` checks that
and, against a graph built with the seed's ``DropoutWrapper``, the
placement.
"""

import itertools
import math
from typing import Dict, Iterator, List, Optional, Sequence

import keras
import numpy as np

from common.tf_compat import tf
from mnist_rnn import model as model_lib
from mnist_rnn import reader
from mnist_rnn.configs import MnistRnnConfig

FORGET_BIAS = 1.0  # TF1 LSTMCell's default forget_bias, which model.py keeps.


def lstm_layer_name(layer: int) -> str:
  """The attribute (and checkpoint path element) of stacked layer ``layer``."""
  return "lstm_%d" % layer


def _seed_stream(seed: Optional[int]) -> Iterator[Optional[int]]:
  """One initializer seed per weight, all from ``seed`` (None: unseeded).

  Keras 3 initializers with an int seed draw the same numbers at every call,
  and a shared ``SeedGenerator`` is serialized into the configs Keras clones
  layers from (Bidirectional's forward layer), repeating its draws: each
  weight gets its own initializer with its own seed instead.
  """
  if seed is None:
    return itertools.repeat(None)
  rng = np.random.default_rng(seed)
  return (int(rng.integers(2**31)) for _ in itertools.count())


class MnistRnnModel(keras.Model):
  """The stacked or bidirectional LSTM classifier (see the module docstring).

  Call::

      logits = model(images)                         # no dropout
      logits = model(images, dropout_masks=masks)    # masks: draw_masks()

  ``images`` float32 [B, 784]; ``logits`` [B, 10].
  """

  def __init__(self, config: MnistRnnConfig, seed: Optional[int] = None):
    """Creates the layers (their weights on :meth:`build`).

    Args:
      config: sizes and the model kind; ``cell`` must be ``lstm``.
      seed: seeds the initial weights (None: unseeded).

    Raises:
      ValueError: a GRU config (the TF2 twin has LSTM cells only).
    """
    super().__init__(name="mnist_rnn")
    if config.cell != "lstm":
      raise ValueError("the TF2 twin has LSTM cells only, got %r" %
                       config.cell)
    self.config = config
    seeds = _seed_stream(seed)
    h = config.hidden_size

    def lstm(inputs: int, name: str, go_backwards: bool = False):
      limit = math.sqrt(6.0 / (inputs + h + 4 * h))  # TF1 Glorot, joint.
      return keras.layers.LSTM(
          h, return_sequences=True, go_backwards=go_backwards,
          kernel_initializer=keras.initializers.RandomUniform(
              -limit, limit, seed=next(seeds)),
          recurrent_initializer=keras.initializers.RandomUniform(
              -limit, limit, seed=next(seeds)),
          bias_initializer="zeros", unit_forget_bias=True, name=name)

    if config.model == "stacked":
      for layer in range(config.num_layers):
        # An attribute per layer: its checkpoint path is model/lstm_{l}/...
        inputs = reader.IMAGE_COLS if layer == 0 else h
        setattr(self, lstm_layer_name(layer),
                lstm(inputs, lstm_layer_name(layer)))
    else:
      # The backward layer is given, not cloned from the forward one (a
      # clone would repeat the forward layer's initializer seeds).
      self.bidirectional = keras.layers.Bidirectional(
          lstm(reader.IMAGE_COLS, "forward_lstm"),
          backward_layer=lstm(reader.IMAGE_COLS, "backward_lstm",
                              go_backwards=True),
          merge_mode="concat", name="bidirectional")
    bias = 0.1 if config.model == "stacked" else 0.0
    self.out = keras.layers.Dense(
        reader.NUM_CLASSES,
        kernel_initializer=keras.initializers.TruncatedNormal(
            stddev=0.1, seed=next(seeds)),
        bias_initializer=keras.initializers.Constant(bias), name="out")

  @property
  def lstm_layers(self) -> List[keras.layers.LSTM]:
    """Stacked: the L layers, bottom first. Bidirectional: (fw, bw)."""
    if self.config.model == "stacked":
      return [getattr(self, lstm_layer_name(layer))
              for layer in range(self.config.num_layers)]
    return [self.bidirectional.forward_layer, self.bidirectional.backward_layer]

  def build(self, input_shape=None):
    """Creates every weight (no data needed)."""
    del input_shape  # Always [B, 784].
    rows = (None, reader.IMAGE_ROWS, reader.IMAGE_COLS)
    h = self.config.hidden_size
    if self.config.model == "stacked":
      for layer, lstm in enumerate(self.lstm_layers):
        lstm.build(rows if layer == 0 else (None, reader.IMAGE_ROWS, h))
      self.out.build((None, h))
    else:
      self.bidirectional.build(rows)
      self.out.build((None, 2 * h))
    self.built = True

  def features(self, images, dropout_masks: Optional[Sequence] = None):
    """What feeds the output layer: [B, H] (stacked) or [B, 2H]."""
    x = tf.reshape(images, [-1, reader.IMAGE_ROWS, reader.IMAGE_COLS])
    if self.config.model == "stacked":
      for layer, lstm in enumerate(self.lstm_layers):
        x = lstm(x)
        if dropout_masks is not None:
          x = x * dropout_masks[layer]
      return x[:, -1, :]
    y = self.bidirectional(x)
    if dropout_masks is not None:
      y = y * tf.concat(list(dropout_masks), axis=-1)
    h = self.config.hidden_size
    bw_index = 0 if self.config.bi_merge == "final" else -1
    return tf.concat([y[:, -1, :h], y[:, bw_index, h:]], axis=1)

  def call(self, images, dropout_masks: Optional[Sequence] = None):
    """Logits [B, 10]; ``dropout_masks``: :func:`draw_masks` or None."""
    return self.out(self.features(images, dropout_masks))


def draw_masks(config: MnistRnnConfig, seed: int, step, batch_size,
               keep_prob: float, measurement: bool = False
               ) -> Optional[List[tf.Tensor]]:
  """The dropout masks of one step, [B, 28, H] each; None when keep is 1.

  :func:`mnist_rnn.model.dropout_masks`, the TF1 graph's draw: the same
  seed, step and measurement give the same masks in both APIs.

  Args:
    config: the model (how many masks, H).
    seed: the run's seed.
    step: the optimizer's ``iterations`` (the TF1 global step) when the
      masks are drawn.
    batch_size: B (a scalar tensor is fine).
    keep_prob: probability of keeping an element.
    measurement: the progress line's re-run of a minibatch (its own masks,
      as the TF1 graph's ``measurement`` feed).
  """
  if keep_prob >= 1.0:
    return None
  return model_lib.dropout_masks(config, seed, step, batch_size, keep_prob,
                                 measurement)


def loss_and_correct(logits, labels):
  """Mean softmax cross-entropy (the TF1 graph's op) and the number right."""
  loss = tf.reduce_mean(tf.nn.softmax_cross_entropy_with_logits(
      labels=tf.stop_gradient(labels), logits=logits))
  correct = tf.equal(tf.argmax(logits, 1), tf.argmax(labels, 1))
  return loss, tf.reduce_sum(tf.cast(correct, tf.int32))


def build_model(config: MnistRnnConfig, seed: Optional[int] = None
                ) -> MnistRnnModel:
  """A :class:`MnistRnnModel` with its weights created."""
  model = MnistRnnModel(config, seed=seed)
  model.build()
  return model


def build_optimizer(config: MnistRnnConfig, model: MnistRnnModel
                    ) -> keras.optimizers.Adam:
  """``tf1.train.AdamOptimizer(exponential_decay(...))`` in Keras 3.

  Same update (``lr_t = lr sqrt(1 - b2^t) / (1 - b1^t)``, ``epsilon`` outside
  the square root) and TF1's ``epsilon=1e-8`` (Keras's default is 1e-7); the
  staircase decay is evaluated at ``iterations`` before the update, as TF1's
  at the global step. No ``global_clipnorm``: the train step clips with
  ``tf.clip_by_global_norm``, the TF1 graph's op. Built for ``model``'s
  weights, so a checkpoint restores its slots at once.
  """
  schedule = keras.optimizers.schedules.ExponentialDecay(
      config.learning_rate, config.lr_decay_steps, config.lr_decay,
      staircase=True)
  optimizer = keras.optimizers.Adam(learning_rate=schedule, beta_1=0.9,
                                    beta_2=0.999, epsilon=1e-8)
  optimizer.build(model.trainable_variables)
  return optimizer


def adam_slots(optimizer: keras.optimizers.Adam, variable
               ) -> Dict[str, keras.Variable]:
  """``{"m": momentum, "v": velocity}`` of ``variable`` (TF1's ``Adam`` and
  ``Adam_1`` slots), found by the names Keras 3 gives them.

  Raises:
    KeyError: this Keras names its slots differently.
  """
  by_path = {v.path: v for v in optimizer.variables}
  stem = "%s/%s" % (optimizer.name, variable.path.replace("/", "_"))
  return {"m": by_path[stem + "_momentum"], "v": by_path[stem + "_velocity"]}


def make_checkpoint(model: MnistRnnModel, optimizer) -> tf.train.Checkpoint:
  """What a TF2 checkpoint holds: ``tf.train.Checkpoint(model=, optimizer=)``
  (the TF1 Saver's weights, Adam slots and global step)."""
  return tf.train.Checkpoint(model=model, optimizer=optimizer)


class Steps:
  """The model's compiled functions (the TF1 graph's fetches).

  ``train(images, labels)`` takes one Adam step and returns the loss before
  it (``session.run([train_op, loss])``); ``measure(images, labels)`` re-runs
  a minibatch with ``progress_keep_prob`` and returns ``(accuracy, loss)``;
  ``evaluate(images, labels)`` returns ``(num_correct, loss)`` without
  dropout. All trace once for any batch size.
  """

  def __init__(self, config: MnistRnnConfig, model: MnistRnnModel,
               optimizer, seed: int):
    self.config = config
    self.model = model
    self.optimizer = optimizer
    self.seed = seed
    spec = (tf.TensorSpec([None, reader.IMAGE_PIXELS], tf.float32),
            tf.TensorSpec([None, reader.NUM_CLASSES], tf.float32))
    self.train = tf.function(self._train, input_signature=spec)
    self.measure = tf.function(self._measure, input_signature=spec)
    self.evaluate = tf.function(self._evaluate, input_signature=spec)

  def _masks(self, images, keep_prob: float, measurement: bool = False):
    return draw_masks(self.config, self.seed, self.optimizer.iterations,
                      tf.shape(images)[0], keep_prob, measurement)

  def _train(self, images, labels):
    config = self.config
    variables = self.model.trainable_variables
    masks = self._masks(images, config.keep_prob)
    with tf.GradientTape() as tape:
      loss, _ = loss_and_correct(self.model(images, dropout_masks=masks),
                                 labels)
    grads = tape.gradient(loss, variables)
    if config.max_grad_norm > 0:
      grads, _ = tf.clip_by_global_norm(grads, config.max_grad_norm)
    self.optimizer.apply_gradients(zip(grads, variables))
    return loss

  def _measure(self, images, labels):
    masks = self._masks(images, self.config.progress_keep_prob,
                        measurement=True)
    loss, correct = loss_and_correct(
        self.model(images, dropout_masks=masks), labels)
    return tf.cast(correct, tf.float32) / tf.cast(tf.shape(images)[0],
                                                  tf.float32), loss

  def _evaluate(self, images, labels):
    loss, correct = loss_and_correct(self.model(images), labels)
    return correct, loss

  def learning_rate(self) -> float:
    """The learning rate at the current step (TF1's ``learning_rate``)."""
    return float(self.optimizer.learning_rate)
