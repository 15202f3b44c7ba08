"""The PTB LSTM language model in TF2: Keras 3 layers, eager, state passed in.

The twin of :mod:`ptb.model` (hold the two side by side). Same math, same
initial distribution, same dropout masks; only the API differs::

    ptb/model.py (TF1 graph)                 here (TF2, Keras 3)
    tf1.get_variable("embedding") +          keras.layers.Embedding(V, H)
      embedding_lookup
    MultiRNNCell([BasicLSTMCell(H,           keras.layers.LSTM(H, return_sequences,
      forget_bias=0.0)] * L) in                return_state, unit_forget_bias=False)
      dynamic_rnn(scope="RNN")                 x L, one after the other
    softmax_w, softmax_b + xw_plus_b         keras.layers.Dense(V)
    initial_state placeholders fed,          initial_state passed in, final
      final_state fetched (feed_dict)          state returned (a tf.function)
    variable_scope(initializer=              the same RandomUniform for every
      random_uniform(-s, s))                   weight; the LSTM bias zeros

Weights (``config`` gives V, H, L; converted both ways by
:mod:`ptb.convert_checkpoint`)::

    embedding.embeddings        [V, H]      = Model/embedding
    lstm_{l}.cell.kernel        [H, 4H]  \\  = Model/RNN/multi_rnn_cell/cell_{l}/
    lstm_{l}.cell.recurrent_kernel [H, 4H] }    basic_lstm_cell/kernel [2H, 4H]
    lstm_{l}.cell.bias          [4H]     /      and /bias [4H] (gates reordered)
    softmax.kernel              [H, V]      = Model/softmax_w
    softmax.bias                [V]         = Model/softmax_b

Initial values. The TF1 graph builds every variable under
``variable_scope(initializer=random_uniform_initializer(-init_scale,
init_scale))``; that covers the embedding, the LSTM kernels and both softmax
tensors, but not the LSTM bias: ``BasicLSTMCell`` creates its bias with an
explicit ``zeros_initializer``. The same here: one ``RandomUniform(-init_scale,
init_scale)`` (drawing from one seeded ``SeedGenerator``) for the embedding,
the LSTM ``kernel`` and ``recurrent_kernel`` and the Dense kernel and bias;
zeros for the LSTM bias (``unit_forget_bias=False``, else Keras would set
the forget-gate bias to 1: the tutorial's forget bias is 0). The TF1 kernel
``[in + H, 4H]`` is i.i.d. uniform, so its two row blocks (the Keras
``kernel`` and ``recurrent_kernel``) are too: same distribution, drawn from a
different random stream (the values differ; the parity tests copy them).

Why ``initial_state`` + ``return_state`` and not ``stateful=True``:
``stateful=True`` keeps the state in variables of the layer, fixed to one
batch size, so the Train/Valid (batch 20) and Test (batch 1) passes would need
separate layers (or ``reset_states`` plus rebuilt state variables), and a
mid-epoch checkpoint would have to reach into the layers for it. Passing the
state in and returning it is the TF1 ``feed_dict`` loop written as a function:
one model serves every batch size, the zero state at the start of a pass is
explicit, and the carried state is a value the training loop holds (and
checkpoints) exactly as ``ptb/train.py`` does. ``docs/migration.md`` shows the
``stateful=True`` version.

Dropout (``training=True`` and ``keep_prob < 1``): the masks of
:func:`common.dropout.dropout_masks`, keyed by (seed, ``step``, mask index),
where ``step`` is the optimizer's iteration count, the TF1 graph's global step:
mask 0 multiplies the embedded inputs, mask ``1 + l`` the output of LSTM layer
``l`` (what layer ``l + 1`` and the softmax see); the carried state is not
dropped. The same seed gives the same masks as the TF1 graph, bit for bit.
"""

import collections
from typing import Optional, Sequence, Tuple

import keras

from common import dropout
from common.tf_compat import tf
from ptb.configs import PTBConfig

# One layer's state, in the order of TF1's LSTMStateTuple (c, h). Keras's
# LSTM takes and returns [h, c]; only this module sees that order.
LayerState = collections.namedtuple("LayerState", ("c", "h"))
State = Tuple[LayerState, ...]


def lstm_layer_name(layer: int) -> str:
  """The attribute (and checkpoint path element) of LSTM layer ``layer``."""
  return "lstm_%d" % layer


class PTBModel(keras.Model):
  """Embedding -> L x LSTM -> Dense, with the LSTM state passed in and out.

  Call::

      logits, final_state = model(input_ids, initial_state)            # eval
      logits, final_state = model(input_ids, initial_state,
                                  training=True, step=iterations)      # train

  ``input_ids`` int32 [B, T]; ``initial_state`` a tuple of L
  :class:`LayerState` ([B, H] each), e.g. :meth:`zero_state`; ``logits``
  [B, T, V].
  """

  def __init__(self, config: PTBConfig, seed: Optional[int] = None,
               dropout_seed: int = 0):
    """Creates the layers (weights on :meth:`build` or the first call).

    Args:
      config: sizes, ``init_scale`` and ``keep_prob``.
      seed: seeds the initial weights (None: Keras's default, unseeded).
      dropout_seed: keys the dropout masks (:mod:`common.dropout`), like the
        TF1 graph's ``dropout_seed``.
    """
    super().__init__(name="Model")
    self.config = config
    self.dropout_seed = dropout_seed
    init = keras.initializers.RandomUniform(
        -config.init_scale, config.init_scale,
        seed=keras.random.SeedGenerator(seed))
    h = config.hidden_size
    self.embedding = keras.layers.Embedding(
        config.vocab_size, h, embeddings_initializer=init, name="embedding")
    for layer in range(config.num_layers):
      # An attribute per layer: its checkpoint path is model/lstm_{l}/cell/..
      setattr(self, lstm_layer_name(layer), keras.layers.LSTM(
          h, return_sequences=True, return_state=True,
          unit_forget_bias=False, kernel_initializer=init,
          recurrent_initializer=init, bias_initializer="zeros",
          name=lstm_layer_name(layer)))
    self.softmax = keras.layers.Dense(
        config.vocab_size, kernel_initializer=init, bias_initializer=init,
        name="softmax")

  @property
  def lstm_layers(self):
    """The L LSTM layers, bottom first."""
    return [getattr(self, lstm_layer_name(layer))
            for layer in range(self.config.num_layers)]

  def build(self, input_shape=None):
    """Creates every weight (no data needed)."""
    del input_shape  # Always [B, T] word ids.
    h = self.config.hidden_size
    self.embedding.build((None, None))
    for lstm in self.lstm_layers:
      lstm.build((None, None, h))
    self.softmax.build((None, h))
    self.built = True

  def zero_state(self, batch_size: int) -> State:
    """The state every pass starts from (the TF1 ``cell.zero_state``)."""
    zeros = tf.zeros([batch_size, self.config.hidden_size], tf.float32)
    return tuple(LayerState(zeros, zeros)
                 for _ in range(self.config.num_layers))

  def call(self, input_ids, initial_state: Sequence[LayerState],
           training: bool = False, step=None):
    """Runs the model over one chunk.

    Args:
      input_ids: int32 [B, T].
      initial_state: L pairs ``(c, h)``, [B, H] each.
      training: apply dropout (when ``keep_prob < 1``).
      step: the training step being taken (the optimizer's ``iterations``);
        keys the dropout masks, so required with dropout.

    Returns:
      ``(logits [B, T, V], final_state)``.
    """
    cfg = self.config
    x = self.embedding(input_ids)  # [B, T, H]
    masks = [None] * (cfg.num_layers + 1)
    if training and cfg.keep_prob < 1:
      if step is None:
        raise ValueError("dropout masks need the training step")
      masks = dropout.dropout_masks(self.dropout_seed, step,
                                    cfg.num_layers + 1, tf.shape(x),
                                    cfg.keep_prob)
      x = x * masks[0]
    final = []
    for lstm, state, mask in zip(self.lstm_layers, initial_state, masks[1:]):
      x, h, c = lstm(x, initial_state=[state.h, state.c])
      final.append(LayerState(c, h))
      if mask is not None:
        x = x * mask
    return self.softmax(x), tuple(final)


def sequence_cost(logits, targets):
  """The TF1 graph's ``cost``: sum over steps of the batch-mean cross-entropy.

  (``tf.contrib.seq2seq.sequence_loss(average_across_timesteps=False,
  average_across_batch=True)`` summed, as in the tutorial.)

  Args:
    logits: [B, T, V].
    targets: int32 [B, T].

  Returns:
    A float32 scalar.
  """
  crossent = tf.nn.sparse_softmax_cross_entropy_with_logits(
      labels=targets, logits=logits)  # [B, T]
  return tf.reduce_sum(tf.reduce_mean(crossent, axis=0))


def build_model(config: PTBConfig, seed: Optional[int] = None,
                dropout_seed: int = 0) -> PTBModel:
  """A :class:`PTBModel` with its weights created."""
  model = PTBModel(config, seed=seed, dropout_seed=dropout_seed)
  model.build()
  return model


def build_optimizer(model: PTBModel, learning_rate: float = 0.0
                    ) -> keras.optimizers.SGD:
  """Plain SGD (``tf1.train.GradientDescentOptimizer``): ``w -= lr * g``.

  No ``clipnorm``/``global_clipnorm``: the train step clips with
  ``tf.clip_by_global_norm`` itself, the TF1 graph's op. The learning rate
  is a variable (set per epoch, like the TF1 graph's ``Train/Model/Variable``),
  ``iterations`` is the TF1 global step. Built for ``model``'s weights, so a
  checkpoint restores into it at once.
  """
  optimizer = keras.optimizers.SGD(learning_rate=learning_rate)
  optimizer.build(model.trainable_variables)
  return optimizer


def make_checkpoint(model: PTBModel, optimizer) -> tf.train.Checkpoint:
  """What a TF2 checkpoint holds: ``tf.train.Checkpoint(model=, optimizer=)``
  (the TF1 ``Saver``'s weights, global step and learning rate)."""
  return tf.train.Checkpoint(model=model, optimizer=optimizer)
