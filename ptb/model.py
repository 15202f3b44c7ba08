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

Over 400 lines: the three ``rnn_mode`` graphs, ``precision`` and the
pipelined scoring graph live in one class so that every variant creates the
very same variables.
"""

import dataclasses
from typing import Dict, List, Tuple

from common import dropout
from common.tf_compat import rnn_cell, tf, tf1
from ptb.configs import PTBConfig

MODEL_SCOPE = "Model"


RNN_MODES = ("basic", "block", "fused")
# fp32: the tutorial's. bf16 (an addition, training graph in ``fused`` mode
# only): every matmul of the training step (the LSTM's input and recurrent
# products, the softmax layer, and so their gradients) takes its operands
# rounded to bfloat16 and returns float32; the variables, gates, loss and
# update stay float32, and the Valid/Test graphs run fp32.
PRECISIONS = ("fp32", "bf16")
# The scoring graph (``variable_steps``) cuts each chunk into this many
# pieces along time, so that its two layers overlap (``_pipelined_block_rnn``).
TIME_PIECES = 8


class PTBModel:
  """One of the three PTB graphs (see module docstring).

  Attributes:
    input_data: int32 placeholder [batch_size, num_steps] (num_steps None
      for a ``variable_steps`` graph).
    targets: int32 placeholder, same shape.
    initial_state: tuple of ``LSTMStateTuple(c, h)``, one per layer; feedable.
    final_state: same structure, after the last step.
    cost: sum over steps of the batch-mean cross-entropy (a scalar).
    train_op, lr, new_lr, lr_update: only when ``is_training``.
  """

  def __init__(self, config: PTBConfig, is_training: bool,
               dropout_seed: int = 0, rnn_mode: str = "basic",
               variable_steps: bool = False, precision: str = "fp32"):
    """Builds the graph in the current variable scope.

    Args:
      config: shapes and hyperparameters.
      is_training: adds dropout (keep_prob < 1) and the train op.
      dropout_seed: keys the dropout masks (:mod:`common.dropout`).
      rnn_mode: ``basic`` (the tutorial's BasicLSTMCell; default), ``block``
        (the fused LSTM block op, the tutorial's BLOCK mode) or ``fused``
        (see :func:`_fused_layer`). Same math and same variables in all.
      variable_steps: the time axis is left open (placeholders [B, None]),
        so one graph scores chunks of any length (the fast exact Test pass).
        Evaluation only. Such a graph runs the ``BlockLSTM`` op in every
        mode, each chunk in :data:`TIME_PIECES` pieces so the layers overlap
        (:meth:`_pipelined_block_rnn`), and its loss as log-sum-exp minus
        the target's logit: the same math, measured 1.3x (``BlockLSTM``
        against ``dynamic_rnn``), 1.3x (pieces) and 1.3x (the loss) faster
        on 1000-word chunks of small here.
      precision: see :data:`PRECISIONS`; ``bf16`` needs ``is_training`` and
        ``rnn_mode="fused"`` (the one graph whose matmuls are written here).
    """
    if rnn_mode not in RNN_MODES:
      raise ValueError("rnn_mode %r is not one of %s" % (rnn_mode, RNN_MODES))
    if precision not in PRECISIONS:
      raise ValueError("precision %r is not one of %s" % (precision,
                                                          PRECISIONS))
    if precision != "fp32" and (rnn_mode != "fused" or not is_training or
                                variable_steps):
      raise ValueError("precision=%s is for the fused training graph only"
                       % precision)
    self.precision = precision
    self.config = config
    self.is_training = is_training
    self.rnn_mode = rnn_mode
    self.use_dropout = is_training and config.keep_prob < 1
    b, h, v = config.batch_size, config.hidden_size, config.vocab_size
    t = None if variable_steps else config.num_steps
    self.input_data = tf1.placeholder(tf.int32, [b, t], name="input_data")
    self.targets = tf1.placeholder(tf.int32, [b, t], name="targets")

    with tf.device("/cpu:0"):
      embedding = tf1.get_variable("embedding", [v, h], dtype=tf.float32)
      inputs = tf1.nn.embedding_lookup(embedding, self.input_data)
    masks = [None] * (config.num_layers + 1)
    if self.use_dropout:
      masks = dropout.dropout_masks(
          dropout_seed, tf1.train.get_or_create_global_step(),
          config.num_layers + 1, [b, t, h], config.keep_prob)
      inputs = inputs * masks[0]

    if rnn_mode == "basic" and not variable_steps:
      outputs = self._basic_rnn(inputs, masks[1:])
    else:
      outputs = self._layerwise_rnn(inputs, masks[1:], variable_steps)
    output = tf.reshape(outputs, [-1, h])

    softmax_w = tf1.get_variable("softmax_w", [h, v], dtype=tf.float32)
    softmax_b = tf1.get_variable("softmax_b", [v], dtype=tf.float32)
    if precision == "fp32":
      flat_logits = tf1.nn.xw_plus_b(output, softmax_w, softmax_b)
    else:
      flat_logits = _matmul(output, softmax_w, precision) + softmax_b
    logits = tf.reshape(flat_logits, [b, -1, v])
    if variable_steps:
      # Scoring only: the same cross-entropy as log-sum-exp minus the
      # target's logit, without the [B, T, V] gradient that the sparse op
      # also writes (1.8x faster on 1000 x 10000 logits here).
      crossent = (tf.reduce_logsumexp(logits, axis=-1) -
                  tf.gather(logits, self.targets, axis=2, batch_dims=2))
    else:
      crossent = tf1.nn.sparse_softmax_cross_entropy_with_logits(
          labels=self.targets, logits=logits)  # [B, T]
    self.cost = tf.reduce_sum(tf.reduce_mean(crossent, axis=0), name="cost")

    if is_training:
      self._build_train_op()

  def _basic_rnn(self, inputs, layer_masks):
    """The tutorial's BASIC mode: BasicLSTMCell x L in a MultiRNNCell.

    With dropout the per-layer masks enter the time loop as a second input
    stream (see the module docstring).
    """
    b = self.config.batch_size
    cell = rnn_cell.MultiRNNCell(
        [self._make_cell(layer) for layer in range(self.config.num_layers)],
        state_is_tuple=True)
    self.initial_state = cell.zero_state(b, tf.float32)
    if self.use_dropout:
      inputs = (inputs, tuple(layer_masks))
    outputs, self.final_state = tf1.nn.dynamic_rnn(
        cell, inputs, initial_state=self.initial_state, scope="RNN")
    if self.use_dropout:
      outputs = outputs[0]  # Drop the masks passed through.
    return outputs

  def _make_cell(self, layer: int):
    cell = rnn_cell.BasicLSTMCell(self.config.hidden_size, forget_bias=0.0,
                                  state_is_tuple=True,
                                  reuse=not self.is_training)
    if self.use_dropout:
      cell = dropout.OutputMaskWrapper(cell, layer, self.config.num_layers)
    return cell

  def _layerwise_rnn(self, inputs, layer_masks, variable_steps: bool):
    """BLOCK and FUSED modes: one layer over all time steps at a time.

    Variables get BASIC mode's names (``.../cell_{i}/basic_lstm_cell/...``,
    same [in + H, 4H] kernel, gates i, j, f, o), so every mode reads every
    other mode's checkpoints as they are.
    """
    cfg = self.config
    b, h = cfg.batch_size, cfg.hidden_size
    zeros = tf.zeros([b, h], tf.float32)
    self.initial_state = tuple(rnn_cell.LSTMStateTuple(tf.identity(zeros),
                                                       tf.identity(zeros))
                               for _ in range(cfg.num_layers))
    x = tf.transpose(inputs, [1, 0, 2])  # [T, B, H]: time major.
    if variable_steps:
      return self._pipelined_block_rnn(x)
    final = []
    for layer in range(cfg.num_layers):
      kernel, bias = self._layer_variables(layer)
      c0, h0 = self.initial_state[layer]
      if self.rnn_mode == "block":
        x, c, h_last = _block_layer(x, c0, h0, kernel, bias)
      else:
        x, c, h_last = _fused_layer(x, c0, h0, kernel, bias,
                                    self.precision)
      final.append(rnn_cell.LSTMStateTuple(c, h_last))
      if layer_masks[layer] is not None:
        x = x * tf.transpose(layer_masks[layer], [1, 0, 2])
    self.final_state = tuple(final)
    return tf.transpose(x, [1, 0, 2])  # [B, T, H].

  def _layer_variables(self, layer: int):
    """Layer ``layer``'s ``(kernel [2H, 4H], bias [4H])``, BASIC's names."""
    h = self.config.hidden_size
    scope = "RNN/multi_rnn_cell/cell_%d/basic_lstm_cell" % layer
    with tf1.variable_scope(scope):
      kernel = tf1.get_variable("kernel", [2 * h, 4 * h], dtype=tf.float32)
      bias = tf1.get_variable("bias", [4 * h], dtype=tf.float32,
                              initializer=tf1.zeros_initializer())
    return kernel, bias

  def _pipelined_block_rnn(self, x):
    """The scoring graph's LSTM: the chunk cut into :data:`TIME_PIECES`
    consecutive pieces, each layer run piece by piece with its state
    carried (the same recurrence, step for step). Layer l on piece k needs
    only layer l-1 on piece k, so TF's inter-op threads run layer 1 on one
    piece while layer 0 reads the next: the layers, one after the other in
    time, share the cores.

    ::

        time ->    piece 0    piece 1    piece 2    piece 3
        layer 0    [c,h] ->   [c,h] ->   [c,h] ->   [c,h]
        layer 1       \-> [c,h] ->  \-> [c,h] ->  ...
    """
    cfg = self.config
    steps = tf.shape(x)[0]
    piece = steps // TIME_PIECES  # The last piece takes the remainder.
    sizes = tf.concat([tf.fill([TIME_PIECES - 1], piece),
                       [steps - (TIME_PIECES - 1) * piece]], axis=0)
    pieces = tf.split(x, sizes, num=TIME_PIECES, axis=0)
    final = []
    for layer in range(cfg.num_layers):
      kernel, bias = self._layer_variables(layer)
      c, h = self.initial_state[layer]
      outputs = []
      for p in pieces:
        hs, c, h = _block_layer(p, c, h, kernel, bias)
        outputs.append(hs)
      final.append(rnn_cell.LSTMStateTuple(c, h))
      pieces = outputs
    self.final_state = tuple(final)
    return tf.transpose(tf.concat(pieces, axis=0), [1, 0, 2])  # [B, T, H].

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


def _block_layer(x, c0, h0, kernel, bias):
  """One LSTM layer over ``x`` [T, B, in] with TF's fused ``BlockLSTM`` op.

  The op the tutorial's BLOCK mode (``LSTMBlockCell``) runs, over the whole
  sequence: same kernel layout and gate order as BasicLSTMCell; forget bias
  0 and no cell clipping (its defaults are 1 and 3), no peepholes.

  Returns:
    ``(h of every step [T, B, H], final c, final h)``; for T = 0 the final
    state is ``(c0, h0)``.
  """
  h = h0.shape[-1]
  no_peephole = tf.zeros([h], tf.float32)
  seq_len = tf.cast(tf.shape(x)[0], tf.int64)
  _, cs, _, _, _, _, hs = tf.raw_ops.BlockLSTM(
      seq_len_max=seq_len, x=x, cs_prev=c0, h_prev=h0, w=kernel,
      wci=no_peephole, wcf=no_peephole, wco=no_peephole, b=bias,
      forget_bias=0.0, cell_clip=-1.0, use_peephole=False)
  # The last of [state before, state after each step].
  c_last = tf.concat([c0[None], cs], axis=0)[-1]
  h_last = tf.concat([h0[None], hs], axis=0)[-1]
  return hs, c_last, h_last


def _matmul(a, b, precision: str):
  """``a @ b`` in float32; for ``bf16`` with both operands rounded to
  bfloat16 (oneDNN accumulates in float32; AMX/AVX512-BF16 run it), the
  product returned as float32."""
  if precision == "fp32":
    return tf.matmul(a, b)
  return tf.cast(tf.matmul(tf.cast(a, tf.bfloat16), tf.cast(b, tf.bfloat16)),
                 tf.float32)


def _fused_layer(x, c0, h0, kernel, bias, precision: str = "fp32"):
  """One LSTM layer, statically unrolled, input projection hoisted.

  ``[x_t, h] @ kernel`` is split as ``x_t @ kernel[:in] + h @ kernel[in:]``:
  the input half for all T steps is one [T*B, in] x [in, 4H] matmul before
  the time loop, which then does only the [B, H] x [H, 4H] recurrent matmul
  and the gates (BasicLSTMCell's equations, forget bias 0). Same math as
  BASIC mode; the floating-point sums are split differently (equal to about
  1e-6 relative). ``precision``: see :func:`_matmul`.

  Returns:
    ``(h of every step [T, B, H], final c, final h)``.
  """
  steps, batch, n_in = x.shape.as_list()
  w_x, w_h = kernel[:n_in], kernel[n_in:]
  projected = tf.reshape(
      _matmul(tf.reshape(x, [steps * batch, n_in]), w_x, precision) + bias,
      [steps, batch, -1])
  c, h = c0, h0
  outputs = []
  for t in range(steps):
    gates = projected[t] + _matmul(h, w_h, precision)
    i, j, f, o = tf.split(gates, 4, axis=1)
    c = c * tf.sigmoid(f) + tf.sigmoid(i) * tf.tanh(j)
    h = tf.tanh(c) * tf.sigmoid(o)
    outputs.append(h)
  return tf.stack(outputs), c, h


@dataclasses.dataclass
class Models:
  """The three graphs of a PTB run, sharing variables."""
  train: PTBModel
  valid: PTBModel
  test: PTBModel
  test_fast: PTBModel


def build_models(config: PTBConfig, eval_config: PTBConfig,
                 dropout_seed: int = 0, rnn_mode: str = "basic",
                 precision: str = "fp32") -> Models:
  """Builds Train, Valid and Test graphs (and the fast Test graph).

  Args:
    config: the Train/Valid config.
    eval_config: the Test config (``configs.eval_config(config)``).
    dropout_seed: keys the training graph's dropout masks
      (:mod:`common.dropout`).
    rnn_mode: see :class:`PTBModel`.
    precision: the Train graph's (:data:`PRECISIONS`); the others run fp32.

  Returns:
    The models; variables live under ``Model/``. ``test_fast`` is the Test
    config with an open time axis: one stream, state carried, many words per
    ``session.run`` (the same predictions as ``test``, word by word).
  """
  initializer = tf1.random_uniform_initializer(-config.init_scale,
                                               config.init_scale)
  with tf1.name_scope("Train"):
    with tf1.variable_scope(MODEL_SCOPE, reuse=None, initializer=initializer):
      train = PTBModel(config, is_training=True, dropout_seed=dropout_seed,
                       rnn_mode=rnn_mode, precision=precision)
  with tf1.name_scope("Valid"):
    with tf1.variable_scope(MODEL_SCOPE, reuse=True, initializer=initializer):
      valid = PTBModel(config, is_training=False, rnn_mode=rnn_mode)
  with tf1.name_scope("Test"):
    with tf1.variable_scope(MODEL_SCOPE, reuse=True, initializer=initializer):
      test = PTBModel(eval_config, is_training=False, rnn_mode=rnn_mode)
  with tf1.name_scope("TestFast"):
    with tf1.variable_scope(MODEL_SCOPE, reuse=True, initializer=initializer):
      test_fast = PTBModel(eval_config, is_training=False, rnn_mode=rnn_mode,
                           variable_steps=True)
  return Models(train=train, valid=valid, test=test, test_fast=test_fast)


def weight_variables() -> List[tf1.Variable]:
  """The model's weights (``Model/...``), without global_step or the lr."""
  return tf1.get_collection(tf1.GraphKeys.TRAINABLE_VARIABLES,
                            scope=MODEL_SCOPE + "/")



_BASIC_CELL, _BLOCK_CELL = "/basic_lstm_cell/", "/lstm_cell/"


def checkpoint_var_list(variables, stored_names
                        ) -> Tuple[Dict[str, tf1.Variable], str]:
  """Maps ``variables`` to their names in a checkpoint of either naming.

  This port (every ``rnn_mode``) and the tutorial's BASIC mode name the LSTM
  weights ``.../cell_{i}/basic_lstm_cell/{kernel,bias}``; the tutorial's
  BLOCK mode (``LSTMBlockCell``) ``.../cell_{i}/lstm_cell/{kernel,bias}``,
  with the same layout (kernel [in + H, 4H], gates i, j, f, o). Other names
  are the same in both.

  Args:
    variables: the model's weights.
    stored_names: names in the checkpoint.

  Returns:
    ``({checkpoint name: variable}, "basic" or "block")``; names of neither
    naming are kept as they are (the shape check then reports them missing).
  """
  block = any(_BLOCK_CELL in n for n in stored_names) and not any(
      _BASIC_CELL in n for n in stored_names)
  var_list = {}
  for v in variables:
    name = v.op.name
    if block:
      name = name.replace(_BASIC_CELL, _BLOCK_CELL)
    var_list[name] = v
  return var_list, "block" if block else "basic"


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
