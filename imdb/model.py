"""The IMDB sentiment graph: embedding -> LSTM/GRU stack -> dense 1 -> sigmoid.

Two graphs share one set of variables::

    name_scope Train/  variable_scope Model (creates)     dropout, train_op
    name_scope Eval/   variable_scope Model (reuse=True)  no dropout

Variables and their Keras counterparts (H units, E embed, V vocab; ``in`` is
E for layer 0, else H)::

    Model/embedding                          [V, E]       Embedding
    Model/RNN/multi_rnn_cell/cell_{i}/lstm_cell/kernel
                                             [in+H, 4H]   LSTM kernel and
                                                          recurrent_kernel
    Model/RNN/multi_rnn_cell/cell_{i}/lstm_cell/bias
                                             [4H]         LSTM bias (no +1:
                                                          see below)
    Model/dense/kernel                       [H, 1]       Dense(1)
    Model/dense/bias                         [1]
    Model/global_step

So the parameter counts equal Keras's: seed000 1,075,329, seed001 373,301,
seed003 328,353. (``--cell=gru``: TF1's GRUCell has one bias per gate,
``3H(in+H) + 3H``; Keras's GRU with ``reset_after=True`` has two, ``+ 6H``.)

Initialization, as Keras's layers do it (seeded from the graph seed: every
random initializer op gets its seed from ``tf1.set_random_seed`` and its
position in the graph, so the same seed and graph give the same weights)::

    embedding        uniform(-0.05, 0.05)             Embedding default
    LSTM/GRU kernel  rows [:in]  glorot_uniform over   kernel
                                 [in, gH] (g gates)
                     rows [in:]  orthogonal [H, gH]   recurrent_kernel
    LSTM bias        zeros, forget gate +1.0 (below)  unit_forget_bias=True
    GRU biases       zeros                            bias (zeros)
    dense            glorot_uniform, bias zeros       Dense defaults

TF1's cells keep Keras's two kernels stacked in one ``[in+H, gH]`` variable
(GRU: a gates ``[in+H, 2H]`` and a candidate ``[in+H, H]`` variable), so
:class:`KerasRecurrentInitializer` draws the two Keras parts and stacks them
(TF1's default, glorot over the whole stacked kernel, has a smaller range and
no orthogonal recurrent part). Gate order differs (TF1 LSTMCell ``i, j, f,
o``; Keras ``i, f, c, o``), but all gates are drawn alike, so it does not
matter for the kernels. The forget gate: Keras stores ``b_f = 1`` in the bias;
TF1's ``LSTMCell(forget_bias=1.0)`` stores ``b_f = 0`` and adds 1.0 in the
cell. The gate sees ``b_f + 1`` in both, the gradient with respect to ``b_f``
is the same function of it, and Adam/RMSprop (no weight decay) only see
gradients, so training follows the same path; only the stored value differs
by 1 (mind it when copying weights between the two). TF1's GRUCell starts its
gate bias at 1.0; Keras's GRU at 0, which is used here.

Padding. Keras feeds the pre-padding zeros through the LSTM as ordinary steps
(id 0 has its own trainable embedding row, no masking), and so does
``padding="pre"`` here: ``dynamic_rnn`` runs all ``maxlen`` steps and the last
output is the state after the review's last word. ``sequence_length`` must
*not* be combined with pre-padding: ``dynamic_rnn`` treats the first
``sequence_length`` steps as the valid ones, which with pre-padding are the
pads plus the *start* of the review, and it would stop before the review's end
(and return that earlier state). ``padding="post"`` puts the review first and
passes ``sequence_length`` = number of non-pad ids, so the RNN stops at the
review's last word and never reads a pad.

Dropout. Keras's ``LSTM(dropout=0.5)`` drops the cell *inputs* with one mask
per review, drawn once per batch and reused at every step. Each cell of the
Train graph is wrapped in :class:`SequenceInputDropoutWrapper`, a
``DropoutWrapper`` that applies such a ``[batch, input_size]`` mask (made
before ``dynamic_rnn``, scaled by ``1/keep_prob``). Plain
``DropoutWrapper(input_keep_prob=...)`` would draw a fresh mask at every step,
and its ``variational_recurrent=True`` mode one mask for the whole batch;
neither is what Keras does.

Optimizers follow the seeds' Keras 2 with its defaults. Adam
(``epsilon=1e-7``): TF1's ``AdamOptimizer`` is the same update, also for
the embedding's sparse gradient (it decays every row's moments). RMSprop
(``rho=0.9, epsilon=1e-7``): TF1's ``RMSPropOptimizer`` is not, see
:class:`KerasRMSPropOptimizer`. ``tests/test_imdb_keras.py`` trains the
tf-keras model and this graph side by side from the same weights and checks
that they stay equal.
"""

import dataclasses
from typing import List, Optional

from common.tf_compat import rnn_cell, tf, tf1
from imdb import reader
from imdb.configs import IMDBConfig

MODEL_SCOPE = "Model"
EMBEDDING_INIT = 0.05  # Keras Embedding: uniform(-0.05, 0.05).
KERAS_EPSILON = 1e-7  # Keras optimizers' default epsilon.
LSTM_GATES = 4  # Keras LSTM kernel columns: 4H (i, f, c, o).
GRU_GATES = 3  # Keras GRU kernel columns: 3H (z, r, h).


class KerasRecurrentInitializer:
  """Keras's LSTM/GRU kernel init for TF1's stacked ``[in+H, k]`` kernels.

  On the first call it draws Keras's two kernels: glorot_uniform over the
  input kernel ``[in, gates*H]`` (limit ``sqrt(6 / (in + gates*H))``) and an
  orthogonal ``[H, gates*H]`` recurrent kernel (orthonormal rows), and stacks
  them into one ``[in+H, gates*H]`` tensor. Each call hands out the next
  ``k`` columns, so the cell's variables together hold exactly one such draw
  (LSTM: one ``[in+H, 4H]`` kernel; GRU: gates ``[in+H, 2H]``, then
  candidate ``[in+H, H]``). Random ops take their seeds from the graph seed.
  One instance per cell: it must not be called for more than ``gates*H``
  columns.
  """

  def __init__(self, input_size: int, num_units: int, num_gates: int):
    self.input_size = input_size
    self.num_units = num_units
    self.num_gates = num_gates
    self._full: Optional[tf.Tensor] = None
    self._next_column = 0

  def __call__(self, shape, dtype=tf.float32, partition_info=None):
    del partition_info  # Unused (no partitioned variables).
    dtype = tf.as_dtype(dtype or tf.float32)
    rows, cols = shape
    width = self.num_gates * self.num_units
    if rows != self.input_size + self.num_units:
      raise ValueError("kernel of %d rows, expected in + H = %d" %
                       (rows, self.input_size + self.num_units))
    if self._next_column + cols > width:
      raise ValueError("KerasRecurrentInitializer asked for %d columns after "
                       "%d of %d" % (cols, self._next_column, width))
    if self._full is None:
      kernel = tf1.glorot_uniform_initializer()([self.input_size, width],
                                                dtype=dtype)
      recurrent = tf1.orthogonal_initializer()([self.num_units, width],
                                               dtype=dtype)
      self._full = tf.concat([kernel, recurrent], axis=0)
    start = self._next_column
    self._next_column += cols
    return self._full[:, start:start + cols]


class KerasRMSPropOptimizer(tf1.train.RMSPropOptimizer):
  """RMSprop as the seeds' Keras 2 applies it; TF1's differs in three ways.

  Keras 2 (standalone 2.2/2.3, and tf.keras's ``optimizer_v2`` up to TF 2.10,
  ``tf_keras.optimizers.legacy.RMSprop`` today) with ``momentum=0``::

      ms  = rho * ms + (1 - rho) * g^2        ms starts at 0
      var = var - lr * g / (sqrt(ms) + eps)   eps outside the root

  and for a sparse gradient (the embedding's ``IndexedSlices``) it decays
  ``ms`` of *every* row at every step, as if the untouched rows had ``g = 0``.
  TF1's ``RMSPropOptimizer`` starts ``ms`` at 1 (damping the early steps,
  while ``0.9^t`` is large against ``g^2``), puts ``eps`` under the root (``sqrt(ms + eps)``, which shrinks the
  steps of small gradients: at ``|g| = 1e-3`` by ~5% once ``ms ~ g^2``, by
  ~30% on a row's first step, ``ms = 0.1 g^2``) and, for sparse
  gradients, updates only the rows in the batch, so a rare word's ``ms``
  keeps its old value instead of decaying. This class keeps TF1's
  checkpoint slot (``rms``) and applies Keras's update; a
  sparse gradient is summed into a dense one (duplicates added) first, which
  costs one dense pass over the embedding per step.
  """

  def __init__(self, learning_rate, decay: float = 0.9,
               epsilon: float = KERAS_EPSILON, use_locking: bool = False,
               name: str = "RMSProp"):
    """Keras's RMSprop as the seeds use it: no momentum, not centered."""
    super().__init__(learning_rate, decay=decay, momentum=0.0,
                     epsilon=epsilon, use_locking=use_locking,
                     centered=False, name=name)

  def _create_slots(self, var_list):
    for v in var_list:
      self._zeros_slot(v, "rms", self._name)

  def _keras_update(self, grad, var):
    dtype = var.dtype.base_dtype
    lr = tf.cast(self._learning_rate_tensor, dtype)
    rho = tf.cast(self._decay_tensor, dtype)
    eps = tf.cast(self._epsilon_tensor, dtype)
    ms = self.get_slot(var, "rms")
    ms_t = tf1.assign(ms, rho * ms + (1.0 - rho) * tf.square(grad),
                      use_locking=self._use_locking)
    var_t = tf1.assign_sub(var, lr * grad / (tf.sqrt(ms_t) + eps),
                           use_locking=self._use_locking)
    return tf.group(var_t, ms_t)

  # Only the resource-variable paths: TF 2 makes every variable a resource
  # variable (graph mode included), so TF1's ref-variable _apply_dense and
  # _apply_sparse are never called here.
  def _resource_apply_dense(self, grad, handle):
    return self._keras_update(grad, handle)

  def _resource_apply_sparse(self, grad, handle, indices):
    dense = tf.math.unsorted_segment_sum(grad, indices, tf.shape(handle)[0])
    return self._keras_update(dense, handle)


def make_optimizer(config: IMDBConfig) -> tf1.train.Optimizer:
  """The config's optimizer with Keras's default settings."""
  if config.optimizer == "adam":
    return tf1.train.AdamOptimizer(config.learning_rate, beta1=0.9,
                                   beta2=0.999, epsilon=KERAS_EPSILON)
  return KerasRMSPropOptimizer(config.learning_rate, decay=0.9,
                               epsilon=KERAS_EPSILON)


class SequenceInputDropoutWrapper(rnn_cell.DropoutWrapper):
  """Multiplies the cell's inputs by a fixed mask at every step (Keras dropout).

  ``mask`` is ``[batch, input_size]`` of 0 and ``1/keep_prob``, made outside
  the RNN loop, so each review keeps the same input units at all its steps.
  Variables keep the wrapped cell's names (the wrapper adds no scope).
  """

  def __init__(self, cell, mask: tf.Tensor):
    super().__init__(cell)  # Keep probabilities 1: the parent drops nothing.
    self._mask = mask

  def _call_wrapped_cell(self, inputs, state, cell_call_fn, **kwargs):
    return cell_call_fn(inputs * self._mask, state, **kwargs)


def input_dropout_mask(batch_size: tf.Tensor, input_size: int,
                       keep_prob: tf.Tensor) -> tf.Tensor:
  """A ``[batch_size, input_size]`` mask of 0 and ``1/keep_prob``."""
  return tf1.nn.dropout(tf.ones(tf.stack([batch_size, input_size])),
                        rate=1.0 - keep_prob)


def rnn_sequence_length(padding: str, lengths: tf.Tensor
                        ) -> Optional[tf.Tensor]:
  """``dynamic_rnn``'s ``sequence_length``: ``lengths`` only for ``"post"``.

  With ``"pre"`` padding it must be None (see the module docstring).
  """
  return lengths if padding == "post" else None


def top_output(state) -> tf.Tensor:
  """The top layer's output in a MultiRNNCell state (LSTM: its ``h``)."""
  top = state[-1]
  return top.h if isinstance(top, rnn_cell.LSTMStateTuple) else top


class IMDBModel:
  """One IMDB graph (see the module docstring).

  Attributes:
    inputs: int32 placeholder [batch, maxlen] of ids (batch may vary).
    labels: int32 placeholder [batch], 1 = positive.
    keep_prob: float placeholder with default ``1 - dropout`` in the Train
      graph and 1.0 in Eval (only used where the config has dropout).
    lengths: int32 [batch]: non-pad ids per review.
    logits, probabilities: float32 [batch].
    loss: mean sigmoid cross-entropy of the batch.
    accuracy: share of correct predictions (logit > 0 -> positive).
    train_op, global_step: only when ``is_training``.
  """

  def __init__(self, config: IMDBConfig, is_training: bool):
    self.config = config
    self.is_training = is_training
    self.inputs = tf1.placeholder(tf.int32, [None, config.maxlen],
                                  name="inputs")
    self.labels = tf1.placeholder(tf.int32, [None], name="labels")
    default_keep = 1.0 - config.dropout if is_training else 1.0
    self.keep_prob = tf1.placeholder_with_default(default_keep, [],
                                                  name="keep_prob")
    self.lengths = tf.reduce_sum(
        tf.cast(tf.not_equal(self.inputs, reader.PAD), tf.int32), axis=1,
        name="lengths")

    embedding = tf1.get_variable(
        "embedding", [config.num_words, config.embed_size], dtype=tf.float32,
        initializer=tf1.random_uniform_initializer(-EMBEDDING_INIT,
                                                   EMBEDDING_INIT))
    embedded = tf1.nn.embedding_lookup(embedding, self.inputs)

    cell = rnn_cell.MultiRNNCell(
        [self._make_cell(layer) for layer in range(config.num_layers)],
        state_is_tuple=True)
    sequence_length = rnn_sequence_length(config.padding, self.lengths)
    _, final_state = tf1.nn.dynamic_rnn(
        cell, embedded, sequence_length=sequence_length, dtype=tf.float32,
        scope="RNN")
    last = top_output(final_state)  # [batch, hidden]

    with tf1.variable_scope("dense"):
      kernel = tf1.get_variable("kernel", [config.hidden_size, 1],
                                initializer=tf1.glorot_uniform_initializer())
      bias = tf1.get_variable("bias", [1], initializer=tf1.zeros_initializer())
    self.logits = tf.squeeze(tf1.nn.xw_plus_b(last, kernel, bias), axis=1,
                             name="logits")
    self.probabilities = tf.sigmoid(self.logits, name="probabilities")
    self.loss = tf.reduce_mean(
        tf1.nn.sigmoid_cross_entropy_with_logits(
            labels=tf.cast(self.labels, tf.float32), logits=self.logits),
        name="loss")
    predictions = tf.cast(self.logits > 0, tf.int32)
    self.accuracy = tf.reduce_mean(
        tf.cast(tf.equal(predictions, self.labels), tf.float32),
        name="accuracy")

    if is_training:
      self.global_step = tf1.train.get_or_create_global_step()
      self.train_op = make_optimizer(config).minimize(
          self.loss, global_step=self.global_step)

  def _make_cell(self, layer: int):
    config = self.config
    input_size = config.embed_size if layer == 0 else config.hidden_size
    # Reuse follows the enclosing variable_scope (see build_models); with
    # reuse the initializers are not called.
    if config.cell == "gru":
      cell = rnn_cell.GRUCell(
          config.hidden_size,
          kernel_initializer=KerasRecurrentInitializer(
              input_size, config.hidden_size, GRU_GATES),
          bias_initializer=tf1.zeros_initializer())
    else:
      cell = rnn_cell.LSTMCell(
          config.hidden_size, state_is_tuple=True, forget_bias=1.0,
          initializer=KerasRecurrentInitializer(
              input_size, config.hidden_size, LSTM_GATES))
    if self.is_training and config.dropout > 0:
      mask = input_dropout_mask(tf.shape(self.inputs)[0], input_size,
                                self.keep_prob)
      cell = SequenceInputDropoutWrapper(cell, mask)
    return cell


@dataclasses.dataclass
class Models:
  """The Train and Eval graphs of a run, sharing variables."""
  train: IMDBModel
  eval: IMDBModel


def build_models(config: IMDBConfig) -> Models:
  """Builds the Train and Eval graphs in the default graph."""
  with tf1.name_scope("Train"):
    with tf1.variable_scope(MODEL_SCOPE, reuse=None):
      train = IMDBModel(config, is_training=True)
  return Models(train=train, eval=build_eval_model(config, reuse=True))


def build_eval_model(config: IMDBConfig, reuse: bool = False) -> IMDBModel:
  """The Eval graph alone (``reuse=False``: it creates the variables)."""
  with tf1.name_scope("Eval"):
    with tf1.variable_scope(MODEL_SCOPE, reuse=reuse or None):
      return IMDBModel(config, is_training=False)


def weight_variables() -> List[tf1.Variable]:
  """The model's weights (``Model/...``): no global_step, no optimizer slots."""
  return tf1.get_collection(tf1.GraphKeys.TRAINABLE_VARIABLES,
                            scope=MODEL_SCOPE + "/")
