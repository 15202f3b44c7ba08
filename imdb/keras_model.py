"""The seeds' Keras model itself, as the reference the TF1 port is checked against.

The seeds train ``Sequential([Embedding, LSTM..., Dense(1, "sigmoid")])``
with ``model.fit``. This module builds that model with tf-keras (Keras 2, the
one ``TF_USE_LEGACY_KERAS=1`` selects) from an :class:`IMDBConfig`, and maps
its weights onto the TF1 variables of :mod:`imdb.model`, so that

* the tests can load one set of weights into both and check that the TF1
  graph computes the same probabilities as Keras (the port is exact, not just
  similar), and
* ``python imdb/keras_reference.py`` can train the Keras model with Keras's
  own ``fit`` on the very same reviews, split and vocabulary as the port, to
  tell how much of a gap to a seed's published accuracy is the port and how
  much is the data and the seed.

Weight layout, Keras -> TF1 (H units, ``in`` the layer's input width)::

    Keras LSTM                         TF1 LSTMCell (lstm_cell/)
      kernel            [in, 4H]  --+
                                    +-> kernel [in+H, 4H]  rows: kernel over
      recurrent_kernel  [H, 4H]   --+                      recurrent_kernel
      bias              [4H]      ---> bias   [4H]
      gate columns  i | f | c | o      gate columns  i | c | f | o  (i, j, f, o)
      forget bias stored as b_f        stored as b_f - 1 (the cell adds 1.0)

    Keras GRU (reset_after=False)      TF1 GRUCell (gru_cell/)
      kernel, recurrent_kernel         gates/kernel     [in+H, 2H]  r | z
        columns z | r | h              candidate/kernel [in+H, H]   h
      bias [3H]                        gates/bias [2H], candidate/bias [H]

Keras's default GRU (``reset_after=True``, cuDNN-style) applies the reset
gate after the recurrent matmul and has a second bias; TF1's ``GRUCell``
cannot express that, so the reference GRU is built with
``reset_after=False``, which is the same function as ``GRUCell``.
"""

import contextlib
import time
from typing import Any, Callable, Dict, List, Optional

from absl import logging
import numpy as np

from common import session as session_lib
from common.tf_compat import tf, tf1
from imdb import model as model_lib
from imdb import reader
from imdb.configs import IMDBConfig

keras = tf.keras  # tf-keras (Keras 2): common.tf_compat set TF_USE_LEGACY_KERAS.

# Column blocks of the Keras LSTM kernel in the order TF1's LSTMCell wants
# them: Keras i, f, c, o -> TF1 i, j (= c), f, o.
_LSTM_KERAS_TO_TF1 = (0, 2, 1, 3)
_LSTM_FORGET_BLOCK = 2  # f's block in TF1's order.
# Keras GRU z, r, h -> TF1 gates r, u (= z), candidate h.
_GRU_GATES_KERAS_TO_TF1 = (1, 0)
_GRU_CANDIDATE_BLOCK = 2


def build_keras_model(config: IMDBConfig) -> "keras.Model":
  """The seed's Keras model for ``config``, compiled as the seed compiles it.

  ``Embedding(num_words, embed_size)``, ``num_layers`` LSTM (or GRU) layers of
  ``hidden_size`` with ``dropout`` on their inputs, ``Dense(1, "sigmoid")``;
  binary cross-entropy, accuracy, Adam or RMSprop with Keras's defaults at
  ``learning_rate``. ``padding="post"`` turns on ``mask_zero`` (the Keras
  counterpart of ``sequence_length``).
  """
  layers: List[Any] = [
      keras.layers.InputLayer(input_shape=(config.maxlen,), dtype="int32"),
      keras.layers.Embedding(config.num_words, config.embed_size,
                             mask_zero=config.padding == "post"),
  ]
  for layer in range(config.num_layers):
    last = layer == config.num_layers - 1
    if config.cell == "gru":
      layers.append(keras.layers.GRU(config.hidden_size,
                                     dropout=config.dropout,
                                     reset_after=False,
                                     return_sequences=not last))
    else:
      layers.append(keras.layers.LSTM(config.hidden_size,
                                      dropout=config.dropout,
                                      return_sequences=not last))
  layers.append(keras.layers.Dense(1, activation="sigmoid"))
  model = keras.Sequential(layers)
  optimizer = make_keras_optimizer(config)
  model.compile(optimizer=optimizer, loss="binary_crossentropy",
                metrics=["accuracy"])
  return model


def make_keras_optimizer(config: IMDBConfig):
  """The seeds' Keras 2 optimizer: ``keras.optimizers.legacy`` (optimizer_v2).

  tf-keras 2.11+ made a rewritten optimizer the default, whose RMSprop puts
  ``epsilon`` under the square root; the seeds' Keras 2 (2020) did not. The
  legacy classes are that optimizer (see
  :class:`imdb.model.KerasRMSPropOptimizer`).
  """
  if config.optimizer == "adam":
    return keras.optimizers.legacy.Adam(learning_rate=config.learning_rate)
  return keras.optimizers.legacy.RMSprop(learning_rate=config.learning_rate)


def _blocks(array: np.ndarray, num_units: int, order) -> np.ndarray:
  """The ``num_units``-wide column blocks of ``array`` in ``order``."""
  return np.concatenate(
      [array[..., b * num_units:(b + 1) * num_units] for b in order], axis=-1)


def _cell_prefix(layer: int, cell: str) -> str:
  return "%s/RNN/multi_rnn_cell/cell_%d/%s_cell/" % (model_lib.MODEL_SCOPE,
                                                     layer, cell)


def _lstm_weights(prefix: str, kernel, recurrent, bias, num_units: int):
  stacked = np.concatenate([kernel, recurrent], axis=0)
  tf1_bias = _blocks(bias, num_units, _LSTM_KERAS_TO_TF1).copy()
  forget = slice(_LSTM_FORGET_BLOCK * num_units,
                 (_LSTM_FORGET_BLOCK + 1) * num_units)
  tf1_bias[forget] -= 1.0  # LSTMCell(forget_bias=1.0) adds it back.
  return {prefix + "kernel": _blocks(stacked, num_units, _LSTM_KERAS_TO_TF1),
          prefix + "bias": tf1_bias}


def _gru_weights(prefix: str, kernel, recurrent, bias, num_units: int):
  stacked = np.concatenate([kernel, recurrent], axis=0)
  gates, candidate = _GRU_GATES_KERAS_TO_TF1, (_GRU_CANDIDATE_BLOCK,)
  return {prefix + "gates/kernel": _blocks(stacked, num_units, gates),
          prefix + "gates/bias": _blocks(bias, num_units, gates),
          prefix + "candidate/kernel": _blocks(stacked, num_units, candidate),
          prefix + "candidate/bias": _blocks(bias, num_units, candidate)}


def tf1_weights(config: IMDBConfig,
                keras_weights: List[np.ndarray]) -> Dict[str, np.ndarray]:
  """Maps ``model.get_weights()`` of :func:`build_keras_model` to TF1 names.

  Args:
    config: the config both models were built from.
    keras_weights: embedding, then (kernel, recurrent_kernel, bias) per RNN
      layer, then the dense kernel and bias.

  Returns:
    ``{TF1 variable name without ":0": value}`` for every variable of
    :func:`imdb.model.weight_variables` (see the module docstring).
  """
  expected = 1 + 3 * config.num_layers + 2
  if len(keras_weights) != expected:
    raise ValueError("expected %d Keras weight arrays for %d RNN layers, got "
                     "%d" % (expected, config.num_layers, len(keras_weights)))
  scope = model_lib.MODEL_SCOPE
  weights = {scope + "/embedding": keras_weights[0]}
  convert: Callable[..., Dict[str, np.ndarray]] = (
      _gru_weights if config.cell == "gru" else _lstm_weights)
  for layer in range(config.num_layers):
    kernel, recurrent, bias = keras_weights[1 + 3 * layer:4 + 3 * layer]
    weights.update(convert(_cell_prefix(layer, config.cell), kernel,
                           recurrent, bias, config.hidden_size))
  weights[scope + "/dense/kernel"] = keras_weights[-2]
  weights[scope + "/dense/bias"] = keras_weights[-1]
  return weights


@contextlib.contextmanager
def keras_graph():
  """A fresh default graph for a graph-mode Keras model, and its session.

  Keras's LSTM/GRU gradients in graph mode need the ``while`` loop to output
  all its intermediates (else: "Connecting to invalid output ... of source
  node lstm/while"), a global TF switch; it is on only inside this block.
  """
  tf1.experimental.output_all_intermediates(True)
  try:
    with tf1.Graph().as_default():  # Keras opens its session for it.
      yield
  finally:
    tf1.experimental.output_all_intermediates(None)  # TF's default again.


class _EpochLogger(keras.callbacks.Callback):
  """One absl log line per epoch with Keras's logs (loss, accuracy, val_*)."""

  def __init__(self, epochs: int):
    super().__init__()
    self._epochs = epochs

  def on_epoch_end(self, epoch, logs=None):
    logging.info("keras epoch %d/%d: %s", epoch + 1, self._epochs,
                 " ".join("%s %.4f" % item for item in sorted(
                     (logs or {}).items())))


def train_and_evaluate(config: IMDBConfig,
                       dataset: reader.Dataset) -> Dict[str, Any]:
  """Trains the Keras model with Keras's ``fit`` and evaluates it on test.

  Runs in a fresh graph. ``fit`` shuffles the training reviews each epoch
  (``shuffle=True``), validates on ``dataset.valid`` after each epoch (if
  any) and stops early on the validation loss when ``config.patience`` is
  set (``EarlyStopping(monitor="val_loss")``), as the seeds do.

  Returns:
    ``history`` (Keras's per-epoch lists), ``epochs``, ``test_loss``,
    ``test_accuracy``, ``train_seconds``, ``test_examples``.
  """
  with keras_graph():
    # Graph seed, numpy (Keras's v1 fit loop shuffles with np.random), random.
    session_lib.seed_everything(config.seed)
    model = build_keras_model(config)
    validation: Optional[tuple] = None
    if len(dataset.valid):
      validation = (dataset.valid.x, dataset.valid.y)
    callbacks: List[Any] = [_EpochLogger(config.max_epochs)]
    if config.patience:
      callbacks.append(keras.callbacks.EarlyStopping(
          monitor="val_loss", patience=config.patience))
    start = time.perf_counter()
    history = model.fit(dataset.train.x, dataset.train.y,
                        batch_size=config.batch_size,
                        epochs=config.max_epochs, shuffle=True,
                        validation_data=validation, callbacks=callbacks,
                        verbose=0)
    train_seconds = time.perf_counter() - start
    test_loss, test_accuracy = model.evaluate(
        dataset.test.x, dataset.test.y, batch_size=config.batch_size,
        verbose=0)
  logs = {key: [float(v) for v in values]
          for key, values in history.history.items()}
  return {"history": logs, "epochs": len(logs.get("loss", [])),
          "test_loss": float(test_loss), "test_accuracy": float(test_accuracy),
          "train_seconds": train_seconds, "test_examples": len(dataset.test)}
