"""The PTB LSTM language model graph (BASIC mode of the TF tutorial).

Three graphs share one set of variables, exactly as in ``ptb_word_lm.py``::

    name_scope Train/  variable_scope Model (creates)     is_training=True
    name_scope Valid/  variable_scope Model (reuse=True)  same shapes, no dropout
    name_scope Test/   variable_scope Model (reuse=True)  batch_size=1, num_steps=1

Variables (names equal the tutorial's, so checkpoints move both ways)::

    Model/embedding                                      [vocab, hidden]  (CPU)
    Model/RNN/multi_rnn_cell/cell_{i}/basic_lstm_cell/kernel  [2*hidden, 4*hidden]
    Model/RNN/multi_rnn_cell/cell_{i}/basic_lstm_cell/bias    [4*hidden]
    Model/softmax_w                                      [hidden, vocab]
    Model/softmax_b                                      [vocab]
    Train/Model/Variable    learning rate (not trainable)
    Model/global_step

State tuple fed through ``session.run`` (``num_layers`` = L)::

    initial_state = (LSTMStateTuple(c=[B, H], h=[B, H]),   # layer 0
                     ...,
                     LSTMStateTuple(c=[B, H], h=[B, H]))   # layer L-1

TF1 -> here: ``tf.contrib.seq2seq.sequence_loss`` (mean over batch per step,
summed over steps) is written out with ``sparse_softmax_cross_entropy``; the
tutorial's static unroll in BASIC mode is ``dynamic_rnn(scope="RNN")``, which
creates the same variable names.

Dropout (training graph, ``keep_prob < 1``) sits where the tutorial puts it:
on the embedded inputs and on every LSTM layer's output (``DropoutWrapper(
output_keep_prob)``; the carried state is not dropped). Deliberate
difference: the masks come from :mod:`common.dropout`, stateless random ops
keyed by (seed, global step, mask index), not from TF's stateful streams, so
a seed repeats exactly and a resumed run draws the masks an uninterrupted run
would. The per-layer masks enter the time loop as a second input stream::

    dynamic_rnn inputs, per step t:  (x_t [B, H], (m1_t, ..., mL_t) [B, H] each)
    layer l:  out = LSTM_l(in, state_l) * m(l+1)_t ;  passes the masks on
"""

import dataclasses
from typing import List

from common import dropout
from common.tf_compat import rnn_cell, tf, tf1
from ptb.configs import PTBConfig

MODEL_SCOPE = "Model"


class PTBModel:
  """One of the three PTB graphs (see module docstring).

  Attributes:
    input_data: int32 placeholder [batch_size, num_steps].
    targets: int32 placeholder [batch_size, num_steps].
    initial_state: tuple of ``LSTMStateTuple(c, h)``, one per layer; feedable.
    final_state: same structure, after the last step.
    cost: sum over steps of the batch-mean cross-entropy (a scalar).
    train_op, lr, new_lr, lr_update: only when ``is_training``.
  """

  def __init__(self, config: PTBConfig, is_training: bool,
               dropout_seed: int = 0):
    self.config = config
    self.is_training = is_training
    self.use_dropout = is_training and config.keep_prob < 1
    b, t, h, v = (config.batch_size, config.num_steps, config.hidden_size,
                  config.vocab_size)
    self.input_data = tf1.placeholder(tf.int32, [b, t], name="input_data")
    self.targets = tf1.placeholder(tf.int32, [b, t], name="targets")

    with tf.device("/cpu:0"):
      embedding = tf1.get_variable("embedding", [v, h], dtype=tf.float32)
      inputs = tf1.nn.embedding_lookup(embedding, self.input_data)
    layer_masks = ()
    if self.use_dropout:
      masks = dropout.dropout_masks(
          dropout_seed, tf1.train.get_or_create_global_step(),
          config.num_layers + 1, [b, t, h], config.keep_prob)
      inputs = inputs * masks[0]
      layer_masks = tuple(masks[1:])
      inputs = (inputs, layer_masks)

    cell = rnn_cell.MultiRNNCell(
        [self._make_cell(layer) for layer in range(config.num_layers)],
        state_is_tuple=True)
    self.initial_state = cell.zero_state(b, tf.float32)
    outputs, self.final_state = tf1.nn.dynamic_rnn(
        cell, inputs, initial_state=self.initial_state, scope="RNN")
    if self.use_dropout:
      outputs = outputs[0]  # Drop the masks passed through.
    output = tf.reshape(outputs, [-1, h])

    softmax_w = tf1.get_variable("softmax_w", [h, v], dtype=tf.float32)
    softmax_b = tf1.get_variable("softmax_b", [v], dtype=tf.float32)
    logits = tf.reshape(tf1.nn.xw_plus_b(output, softmax_w, softmax_b),
                        [b, t, v])
    crossent = tf1.nn.sparse_softmax_cross_entropy_with_logits(
        labels=self.targets, logits=logits)  # [B, T]
    self.cost = tf.reduce_sum(tf.reduce_mean(crossent, axis=0), name="cost")

    if is_training:
      self._build_train_op()

  def _make_cell(self, layer: int):
    cell = rnn_cell.BasicLSTMCell(self.config.hidden_size, forget_bias=0.0,
                                  state_is_tuple=True,
                                  reuse=not self.is_training)
    if self.use_dropout:
      cell = OutputMaskWrapper(cell, layer, self.config.num_layers)
    return cell

  def _build_train_op(self):
    self.lr = tf1.Variable(0.0, trainable=False)  # Train/Model/Variable.
    tvars = tf1.trainable_variables()
    grads, _ = tf.clip_by_global_norm(tf.gradients(self.cost, tvars),
                                      self.config.max_grad_norm)
    optimizer = tf1.train.GradientDescentOptimizer(self.lr)
    self.train_op = optimizer.apply_gradients(
        zip(grads, tvars), global_step=tf1.train.get_or_create_global_step())
    self.new_lr = tf1.placeholder(tf.float32, shape=[], name="new_learning_rate")
    self.lr_update = tf1.assign(self.lr, self.new_lr)

  def assign_lr(self, session: tf1.Session, lr_value: float) -> None:
    session.run(self.lr_update, feed_dict={self.new_lr: lr_value})


class OutputMaskWrapper(rnn_cell.RNNCell):
  """``DropoutWrapper(cell, output_keep_prob)`` with the mask as an input.

  Takes ``(x, masks)`` per step, returns ``(cell(x) * masks[layer], masks)``,
  so a ``MultiRNNCell`` of these hands the step's masks from layer to layer.
  Like ``DropoutWrapper`` it adds no variable scope: the wrapped cell's
  variables keep the tutorial's names.
  """

  def __init__(self, cell, layer: int, num_layers: int):
    super().__init__()
    self.cell = cell
    self._layer = layer
    self._masks_size = (cell.output_size,) * num_layers  # All layers are H.

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


@dataclasses.dataclass
class Models:
  """The three graphs of a PTB run, sharing variables."""
  train: PTBModel
  valid: PTBModel
  test: PTBModel


def build_models(config: PTBConfig, eval_config: PTBConfig,
                 dropout_seed: int = 0) -> Models:
  """Builds Train, Valid and Test graphs in the default graph.

  Args:
    config: the Train/Valid config.
    eval_config: the Test config (``configs.eval_config(config)``).
    dropout_seed: keys the training graph's dropout masks
      (:mod:`common.dropout`).

  Returns:
    The three models; variables live under ``Model/``.
  """
  initializer = tf1.random_uniform_initializer(-config.init_scale,
                                               config.init_scale)
  with tf1.name_scope("Train"):
    with tf1.variable_scope(MODEL_SCOPE, reuse=None, initializer=initializer):
      train = PTBModel(config, is_training=True,
                       dropout_seed=dropout_seed)
  with tf1.name_scope("Valid"):
    with tf1.variable_scope(MODEL_SCOPE, reuse=True, initializer=initializer):
      valid = PTBModel(config, is_training=False)
  with tf1.name_scope("Test"):
    with tf1.variable_scope(MODEL_SCOPE, reuse=True, initializer=initializer):
      test = PTBModel(eval_config, is_training=False)
  return Models(train=train, valid=valid, test=test)


def weight_variables() -> List[tf1.Variable]:
  """The model's weights (``Model/...``), without global_step or the lr."""
  return tf1.get_collection(tf1.GraphKeys.TRAINABLE_VARIABLES,
                            scope=MODEL_SCOPE + "/")



def state_feed(initial_state, state_value) -> dict:
  """feed_dict entries that set every layer's c and h to ``state_value``.

  Args:
    initial_state: the model's tuple of ``LSTMStateTuple`` tensors.
    state_value: the matching numpy values (a previous ``final_state``).
  """
  feed = {}
  for i, (c, h) in enumerate(initial_state):
    feed[c] = state_value[i].c
    feed[h] = state_value[i].h
  return feed
