r"""PTB checkpoints between the TF1 graph and the TF2 (Keras 3) twin, both ways.

Run (from a checkout)::

    python -m ptb.convert_checkpoint --from=tf1 --to=tf2 IN OUT
    python -m ptb.convert_checkpoint --from=tf2 --to=tf1 IN OUT

``IN`` is a run directory (its last checkpoint), a directory holding a TF
``checkpoint`` file, or a checkpoint prefix. ``OUT`` must not exist: it
becomes a directory with ``model.ckpt-<global step>.*``, TF's ``checkpoint``
pointer (relative paths) and, if ``IN``'s directory has one, a copy of its
``config.json`` (so ``--eval_only --checkpoint=OUT`` finds the config). It is
written in a temporary directory beside ``OUT`` and renamed at the end:
a failure leaves nothing at ``OUT``.

The two formats::

    tf1 (name-based, tf1.train.Saver)      tf2 (object-based, tf.train.Checkpoint
                                               (model=..., optimizer=...))
    Model/embedding           [V, H]       model/embedding/_embeddings    [V, H]
    Model/RNN/multi_rnn_cell/cell_{l}/     model/lstm_{l}/cell/kernel     [H, 4H]
      basic_lstm_cell/kernel  [2H, 4H]     model/lstm_{l}/cell/recurrent_kernel
      (or lstm_cell/: BLOCK mode)                                         [H, 4H]
      basic_lstm_cell/bias    [4H]         model/lstm_{l}/cell/bias       [4H]
    Model/softmax_w           [H, V]       model/softmax/_kernel          [H, V]
    Model/softmax_b           [V]          model/softmax/bias             [V]
    Model/global_step         int64        optimizer/_iterations          int64
    Train/Model/Variable (lr) float32      optimizer/_learning_rate       float32

The LSTM kernel (gates along the columns, H columns each)::

    TF1 BasicLSTMCell                      Keras 3 LSTM
               i    j    f    o                      i    f    c    o
            +----+----+----+----+                 +----+----+----+----+
    x (in)  |    |    |    |    |   kernel  [in]  |    |    |    |    |
            +----+----+----+----+                 +----+----+----+----+
    h (H)   |    |    |    |    |   recurrent [H] |    |    |    |    |
            +----+----+----+----+                 +----+----+----+----+
    bias    |    |    |    |    |   bias          |    |    |    |    |
            +----+----+----+----+                 +----+----+----+----+

Rows: the fused TF1 kernel multiplies ``concat([x, h])``, so its first ``in``
rows are Keras's ``kernel`` and the last ``H`` its ``recurrent_kernel``.
Columns: TF1's ``j`` (the candidate, ``tanh``) is Keras's ``c``; the middle
two blocks swap places (the map is its own inverse). Both cells compute
``c' = sigmoid(f) c + sigmoid(i) tanh(j)``, ``h' = sigmoid(o) tanh(c')``
(forget bias 0 in TF1, ``unit_forget_bias=False`` and a zero-initialized bias
in Keras).

TF2 checkpoints are read through their object graph (the paths above), not
through the checkpoint keys, which are whatever path TF found first (the
LSTM weights are saved under ``optimizer/_trainable_variables/<n>``).

:func:`checkpoint_format` tells the formats apart (``--eval_only`` of either
API uses it and logs what it read); :func:`read_weights` reads either into
:class:`Weights`, in the TF1 layout.

One file over 400 lines: the names, the :class:`Weights` layout, the reader
and the writer of each format are one mapping read in both directions (the
tables above); what is not PTB's is in :mod:`common.convert` already.
"""

import dataclasses
import os
import sys
from typing import Callable, Dict, List, Mapping, Optional, Tuple

if __package__ in (None, ""):  # `python ptb/convert_checkpoint.py`.
  sys.path[0] = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

from absl import logging  # pylint: disable=g-import-not-at-top,wrong-import-position
import numpy as np  # pylint: disable=wrong-import-position

from common import convert as common_convert  # pylint: disable=wrong-import-position
# The formats, re-exported: the trainers and tests name them through here.
from common.convert import FORMAT_NAMES, TF1, TF2, checkpoint_format  # pylint: disable=wrong-import-position,unused-import
from common.convert import keras_lstm_from_tf1, tf1_lstm_from_keras  # pylint: disable=wrong-import-position
from common.errors import UserError  # pylint: disable=wrong-import-position
from common.tf_compat import tf1  # pylint: disable=wrong-import-position
from ptb import configs  # pylint: disable=wrong-import-position
from ptb import run_state  # pylint: disable=wrong-import-position
from ptb import model_tf2  # pylint: disable=wrong-import-position

# TF1 names.
EMBEDDING = "Model/embedding"
SOFTMAX_W = "Model/softmax_w"
SOFTMAX_B = "Model/softmax_b"
GLOBAL_STEP = "Model/global_step"
LEARNING_RATE = "Train/Model/Variable"
BASIC_CELL = "basic_lstm_cell"  # This port (every rnn_mode), tutorial BASIC.
BLOCK_CELL = "lstm_cell"  # The tutorial's BLOCK mode (LSTMBlockCell).


def tf1_cell_name(layer: int, part: str, cell: str = BASIC_CELL) -> str:
  """``Model/RNN/multi_rnn_cell/cell_{layer}/{cell}/{part}``."""
  return "Model/RNN/multi_rnn_cell/cell_%d/%s/%s" % (layer, cell, part)


# TF2 object paths (from the root tf.train.Checkpoint(model=, optimizer=)).
TF2_EMBEDDING = "model/embedding/_embeddings"
TF2_SOFTMAX_W = "model/softmax/_kernel"
TF2_SOFTMAX_B = "model/softmax/bias"
TF2_ITERATIONS = "optimizer/_iterations"
TF2_LEARNING_RATE = "optimizer/_learning_rate"


def tf2_lstm_path(layer: int, part: str) -> str:
  """``model/lstm_{layer}/cell/{part}``; part: kernel, recurrent_kernel, bias."""
  return "model/%s/cell/%s" % (model_tf2.lstm_layer_name(layer), part)


# --- The weights, in the TF1 layout ----------------------------------------


@dataclasses.dataclass
class Weights:
  """A PTB model's tensors in the TF1 layout (gates i, j, f, o).

  ``global_step`` and ``learning_rate`` are None when the checkpoint has
  none (a checkpoint of weights only).
  """
  embedding: np.ndarray  # [V, H]
  kernels: List[np.ndarray]  # per layer [in + H, 4H]
  biases: List[np.ndarray]  # per layer [4H]
  softmax_w: np.ndarray  # [H, V]
  softmax_b: np.ndarray  # [V]
  global_step: Optional[np.ndarray] = None  # int64 scalar
  learning_rate: Optional[np.ndarray] = None  # float32 scalar

  @property
  def vocab_size(self) -> int:
    return int(self.embedding.shape[0])

  @property
  def hidden_size(self) -> int:
    return int(self.embedding.shape[1])

  @property
  def num_layers(self) -> int:
    return len(self.kernels)

  def tf1_arrays(self, cell: str = BASIC_CELL) -> Dict[str, np.ndarray]:
    """``{TF1 variable name: array}``: the weights, plus global step and
    learning rate where known."""
    out = {EMBEDDING: self.embedding, SOFTMAX_W: self.softmax_w,
           SOFTMAX_B: self.softmax_b}
    for layer, (k, b) in enumerate(zip(self.kernels, self.biases)):
      out[tf1_cell_name(layer, "kernel", cell)] = k
      out[tf1_cell_name(layer, "bias", cell)] = b
    if self.global_step is not None:
      out[GLOBAL_STEP] = self.global_step
    if self.learning_rate is not None:
      out[LEARNING_RATE] = self.learning_rate
    return out

  def config(self) -> configs.PTBConfig:
    """A config of these sizes (the rest from the ``test`` preset)."""
    return dataclasses.replace(
        configs.CONFIGS.get("test"), vocab_size=self.vocab_size,
        hidden_size=self.hidden_size, num_layers=self.num_layers)

  def check_consistent(self, source: str) -> None:
    """UserError unless the shapes are those of one PTB model.

    Embedding [V, H] fixes V and H; every layer's kernel must then be
    [2H, 4H] (the input of every layer is H wide), its bias [4H], the
    softmax [H, V] and [V].
    """
    v, h = self.embedding.shape if self.embedding.ndim == 2 else (None, None)
    if v is None:
      raise UserError("%s: %s is %s, expected [vocab_size, hidden_size]" %
                      (source, EMBEDDING, list(self.embedding.shape)))
    expected = [(SOFTMAX_W, self.softmax_w, [h, v]),
                (SOFTMAX_B, self.softmax_b, [v])]
    for layer, (k, b) in enumerate(zip(self.kernels, self.biases)):
      expected += [("layer %d kernel" % layer, k, [2 * h, 4 * h]),
                   ("layer %d bias" % layer, b, [4 * h])]
    wrong = ["%s is %s, expected %s" % (name, list(a.shape), shape)
             for name, a, shape in expected if list(a.shape) != shape]
    if wrong:
      raise UserError(
          "%s is not one PTB model (with %s [%d, %d]: vocab_size=%d, "
          "hidden_size=%d): %s" % (source, EMBEDDING, v, h, v, h,
                                   "; ".join(wrong)))

  def check_fits(self, config: configs.PTBConfig, source: str) -> None:
    """UserError unless these weights have ``config``'s sizes."""
    ours = (self.vocab_size, self.hidden_size, self.num_layers)
    theirs = (config.vocab_size, config.hidden_size, config.num_layers)
    if ours != theirs:
      raise UserError(
          "checkpoint %s does not fit the model (it has vocab_size=%d, "
          "hidden_size=%d, num_layers=%d; the model %d, %d, %d); use the "
          "config it was trained with" % ((source,) + ours + theirs))


# --- Reading ---------------------------------------------------------------


def tf1_arrays(path: str) -> Tuple[str, str, Dict[str, np.ndarray]]:
  """For the TF1 graph: ``(prefix, format, {TF1 name: array})`` of either
  format (``basic_lstm_cell`` names), shapes checked for consistency.

  Raises:
    UserError: see :func:`read_weights`.
  """
  prefix, fmt, weights = read_weights(path)
  return prefix, fmt, weights.tf1_arrays()


def read_weights(path: str) -> Tuple[str, str, Weights]:
  """Reads a PTB checkpoint of either format.

  Args:
    path: a checkpoint prefix, run directory or checkpoint directory.

  Returns:
    ``(prefix read, "tf1" or "tf2", weights)``.

  Raises:
    UserError: not a checkpoint, not a PTB checkpoint (names missing), or
      shapes that are not those of one PTB model.
  """
  prefix, reader = common_convert.open_checkpoint(path)
  fmt = common_convert.format_of(reader)
  weights = (_read_tf2 if fmt == TF2 else _read_tf1)(prefix, reader)
  weights.check_consistent(prefix)
  return prefix, fmt, weights


def _read_tf1(prefix: str, reader) -> Weights:
  """A name-based checkpoint: this port's (BASIC names) or the tutorial's
  (BASIC or BLOCK names)."""
  return weights_from_tf1(
      {name: common_convert.read_tensor(reader, name)
       for name in reader.get_variable_to_shape_map()}, prefix)


def weights_from_tf1(arrays: Mapping[str, np.ndarray],
                     source: str = "the arrays") -> Weights:
  """:class:`Weights` from ``{TF1 variable name: array}`` (BASIC or BLOCK
  cell names; other names, e.g. optimizer slots, ignored).

  Raises:
    UserError: a PTB model's names are missing (``source`` names where
      they came from).
  """
  cell = BLOCK_CELL if (tf1_cell_name(0, "kernel", BLOCK_CELL) in arrays and
                        tf1_cell_name(0, "kernel", BASIC_CELL) not in arrays
                        ) else BASIC_CELL
  layers = common_convert.count_present(
      lambda l: tf1_cell_name(l, "kernel", cell) in arrays)
  needed = [EMBEDDING, SOFTMAX_W, SOFTMAX_B] + [
      tf1_cell_name(l, p, cell) for l in range(max(layers, 1))
      for p in ("kernel", "bias")]
  missing = [n for n in needed if n not in arrays]
  if missing:
    raise UserError(
        "%s (a %s checkpoint) is not a PTB checkpoint: %s missing; expected "
        "%s, %s, %s, %s and %s" % (
            source, FORMAT_NAMES[TF1], ", ".join(missing), EMBEDDING,
            tf1_cell_name(0, "kernel", "{basic_lstm_cell|lstm_cell}"),
            tf1_cell_name(0, "bias", "{basic_lstm_cell|lstm_cell}"),
            SOFTMAX_W, SOFTMAX_B))
  return Weights(
      embedding=arrays[EMBEDDING],
      kernels=[arrays[tf1_cell_name(l, "kernel", cell)] for l in range(layers)],
      biases=[arrays[tf1_cell_name(l, "bias", cell)] for l in range(layers)],
      softmax_w=arrays[SOFTMAX_W], softmax_b=arrays[SOFTMAX_B],
      global_step=arrays.get(GLOBAL_STEP),
      learning_rate=arrays.get(LEARNING_RATE))


def _object_resolver(reader) -> Callable[[str], Optional[str]]:
  """Object path (``model/embedding/_embeddings``) -> checkpoint key, or None.

  Follows the checkpoint's object graph from the root, as
  ``tf.train.Checkpoint.restore`` matches objects.
  """
  graph = common_convert.object_graph(reader)

  def resolve(path: str) -> Optional[str]:
    node = 0
    for part in path.split("/"):
      children = {c.local_name: c.node_id for c in graph.nodes[node].children}
      if part not in children:
        return None
      node = children[part]
    for attribute in graph.nodes[node].attributes:
      if attribute.name == "VARIABLE_VALUE":
        return attribute.checkpoint_key
    return None
  return resolve


def _read_tf2(prefix: str, reader) -> Weights:
  """An object-based checkpoint of ``tf.train.Checkpoint(model=PTBModel,
  optimizer=SGD)`` (``ptb/train_tf2.py``, or this converter)."""
  resolve = _object_resolver(reader)
  layers = common_convert.count_present(
      lambda l: resolve(tf2_lstm_path(l, "kernel")))
  needed = [TF2_EMBEDDING, TF2_SOFTMAX_W, TF2_SOFTMAX_B] + [
      tf2_lstm_path(l, p) for l in range(max(layers, 1))
      for p in ("kernel", "recurrent_kernel", "bias")]
  missing = [p for p in needed if resolve(p) is None]
  if missing:
    raise UserError(
        "%s (a %s checkpoint) lacks %s; expected the objects of "
        "tf.train.Checkpoint(model=ptb.model_tf2.PTBModel, optimizer=SGD): "
        "%s, %s, %s, %s" % (
            prefix, FORMAT_NAMES[TF2], ", ".join(missing), TF2_EMBEDDING,
            tf2_lstm_path(0, "{kernel,recurrent_kernel,bias}"),
            TF2_SOFTMAX_W, TF2_SOFTMAX_B))

  def get(path):
    key = resolve(path)
    return None if key is None else common_convert.read_tensor(reader, key)

  kernels, biases = [], []
  for layer in range(layers):
    parts = [get(tf2_lstm_path(layer, p))
             for p in ("kernel", "recurrent_kernel", "bias")]
    if parts[0].shape[-1] != parts[1].shape[-1] or (
        parts[1].shape[0] * 4 != parts[1].shape[-1]):
      raise UserError(
          "%s is not one PTB model: layer %d kernel %s and recurrent_kernel "
          "%s, expected [H, 4H] both" % (prefix, layer, list(parts[0].shape),
                                         list(parts[1].shape)))
    k, b = tf1_lstm_from_keras(*parts)
    kernels.append(k)
    biases.append(b)
  return Weights(embedding=get(TF2_EMBEDDING), kernels=kernels, biases=biases,
                 softmax_w=get(TF2_SOFTMAX_W), softmax_b=get(TF2_SOFTMAX_B),
                 global_step=get(TF2_ITERATIONS),
                 learning_rate=get(TF2_LEARNING_RATE))


# --- The TF2 model ---------------------------------------------------------


def assign_to_model(weights: Weights, model: model_tf2.PTBModel,
                    optimizer=None) -> None:
  """Sets a built TF2 model's weights (and the optimizer's step and lr)."""
  model.embedding.embeddings.assign(weights.embedding)
  for lstm, k, b in zip(model.lstm_layers, weights.kernels, weights.biases):
    kernel, recurrent, bias = keras_lstm_from_tf1(k, b)
    lstm.cell.kernel.assign(kernel)
    lstm.cell.recurrent_kernel.assign(recurrent)
    lstm.cell.bias.assign(bias)
  model.softmax.kernel.assign(weights.softmax_w)
  model.softmax.bias.assign(weights.softmax_b)
  if optimizer is not None:
    if weights.global_step is not None:
      optimizer.iterations.assign(weights.global_step)
    if weights.learning_rate is not None:
      optimizer.learning_rate = float(weights.learning_rate)


def weights_of(model: model_tf2.PTBModel, optimizer=None) -> Weights:
  """A TF2 model's weights (and the optimizer's step and lr), TF1 layout."""
  kernels, biases = [], []
  for lstm in model.lstm_layers:
    k, b = tf1_lstm_from_keras(lstm.cell.kernel.numpy(),
                               lstm.cell.recurrent_kernel.numpy(),
                               lstm.cell.bias.numpy())
    kernels.append(k)
    biases.append(b)
  return Weights(
      embedding=model.embedding.embeddings.numpy(), kernels=kernels,
      biases=biases, softmax_w=model.softmax.kernel.numpy(),
      softmax_b=model.softmax.bias.numpy(),
      global_step=(None if optimizer is None
                   else optimizer.iterations.numpy()),
      learning_rate=(None if optimizer is None else
                     np.asarray(optimizer.learning_rate.numpy(), np.float32)))


# --- Writing ---------------------------------------------------------------


def _step(weights: Weights) -> int:
  return 0 if weights.global_step is None else int(weights.global_step)


def write_tf1(weights: Weights, directory: str) -> str:
  """Writes ``weights`` with ``tf1.train.Saver`` (this port's names) into
  ``directory``; returns the checkpoint prefix."""
  return common_convert.write_tf1(weights.tf1_arrays(), directory,
                                  _step(weights))


def write_tf2(weights: Weights, directory: str) -> str:
  """Writes ``weights`` as ``ptb/train_tf2.py`` does (a
  ``tf.train.Checkpoint`` of the model and its SGD optimizer, through a
  ``CheckpointManager``) into ``directory``; returns the checkpoint prefix."""
  model = model_tf2.build_model(weights.config(), seed=0)
  optimizer = model_tf2.build_optimizer(model)
  assign_to_model(weights, model, optimizer)
  prefix = common_convert.save_tf2(
      model_tf2.make_checkpoint(model, optimizer), directory, _step(weights))
  # TF's pointer file again, without the manager's timestamps: a
  # CheckpointManager that opens this directory later (a run resumed or
  # started here) then keeps the converted checkpoint instead of rotating it
  # out with its own.
  tf1.train.update_checkpoint_state(directory, os.path.basename(prefix))
  return prefix


_WRITERS = {TF1: write_tf1, TF2: write_tf2}


def convert(source: str, from_format: str, to_format: str, out: str) -> str:
  """Converts checkpoint ``source`` (``from_format``) to ``to_format`` at
  ``out`` (a new directory, with ``source``'s ``config.json``); returns the
  prefix written there.

  Raises:
    UserError: ``out`` exists, ``source`` is not a PTB checkpoint of
      ``from_format``, or the formats are the same. Nothing is left at
      ``out`` on any error.
  """
  common_convert.check_request(from_format, to_format, out)
  prefix, fmt, weights = read_weights(source)
  common_convert.check_source_format(prefix, fmt, from_format)

  vocab = (run_state.saved_near(prefix) or {}).get("vocab")

  def write(directory: str) -> str:
    written = _WRITERS[to_format](weights, directory)
    common_convert.copy_config(prefix, directory)
    run_state.write_vocab(vocab, directory)  # check_vocab reads it.
    return written
  result = common_convert.write_new_directory(out, write)
  logging.info("Read %s (%s, %d layers, hidden_size=%d, vocab_size=%d); "
               "wrote %s (%s)", prefix, FORMAT_NAMES[fmt], weights.num_layers,
               weights.hidden_size, weights.vocab_size, result,
               FORMAT_NAMES[to_format])
  return result


# --- Command line ----------------------------------------------------------

_PROGRAM = "ptb.convert_checkpoint"


def main(argv, from_flag, to_flag):
  """The command's body (:func:`common.convert.main` with :func:`convert`)."""
  common_convert.main(argv, from_flag, to_flag, convert, _PROGRAM)


def run():
  common_convert.run(convert, _PROGRAM)


if __name__ == "__main__":
  run()
