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
"""

import dataclasses
from typing import List

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

  def __init__(self, config: PTBConfig, is_training: bool):
    self.config = config
    self.is_training = is_training
    b, t, h, v = (config.batch_size, config.num_steps, config.hidden_size,
                  config.vocab_size)
    self.input_data = tf1.placeholder(tf.int32, [b, t], name="input_data")
    self.targets = tf1.placeholder(tf.int32, [b, t], name="targets")

    with tf.device("/cpu:0"):
      embedding = tf1.get_variable("embedding", [v, h], dtype=tf.float32)
      inputs = tf1.nn.embedding_lookup(embedding, self.input_data)
    if is_training and config.keep_prob < 1:
      inputs = tf1.nn.dropout(inputs, rate=1.0 - config.keep_prob)

    cell = rnn_cell.MultiRNNCell(
        [self._make_cell() for _ in range(config.num_layers)],
        state_is_tuple=True)
    self.initial_state = cell.zero_state(b, tf.float32)
    outputs, self.final_state = tf1.nn.dynamic_rnn(
        cell, inputs, initial_state=self.initial_state, scope="RNN")
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

  def _make_cell(self):
    cell = rnn_cell.BasicLSTMCell(self.config.hidden_size, forget_bias=0.0,
                                  state_is_tuple=True,
                                  reuse=not self.is_training)
    if self.is_training and self.config.keep_prob < 1:
      cell = rnn_cell.DropoutWrapper(cell,
                                     output_keep_prob=self.config.keep_prob)
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


@dataclasses.dataclass
class Models:
  """The three graphs of a PTB run, sharing variables."""
  train: PTBModel
  valid: PTBModel
  test: PTBModel


def build_models(config: PTBConfig, eval_config: PTBConfig) -> Models:
  """Builds Train, Valid and Test graphs in the default graph.

  Args:
    config: the Train/Valid config.
    eval_config: the Test config (``configs.eval_config(config)``).

  Returns:
    The three models; variables live under ``Model/``.
  """
  initializer = tf1.random_uniform_initializer(-config.init_scale,
                                               config.init_scale)
  with tf1.name_scope("Train"):
    with tf1.variable_scope(MODEL_SCOPE, reuse=None, initializer=initializer):
      train = PTBModel(config, is_training=True)
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
