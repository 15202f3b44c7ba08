r"""MNIST RNN checkpoints between the TF1 graph and the TF2 (Keras 3) twin.

Run (from a checkout)::

    python -m mnist_rnn.convert_checkpoint --from=tf1 --to=tf2 IN OUT
    python -m mnist_rnn.convert_checkpoint --from=tf2 --to=tf1 IN OUT

``IN`` is a run directory (its last checkpoint), a directory holding a TF
``checkpoint`` file, or a checkpoint prefix. ``OUT`` must not exist: it
becomes a directory with ``model.ckpt-<step>.*`` and TF's ``checkpoint``
pointer (relative paths), plus copies of ``IN``'s ``config.json`` and, when
``IN`` is its run's last checkpoint, ``train_state.json`` (so
``--save_path=OUT`` resumes the run with the other ``--api`` and
``--eval_only --checkpoint=OUT`` finds the config). Everything is written in
a temporary directory beside ``OUT`` and renamed at the end: an error leaves
nothing at ``OUT``. Without a ``config.json`` the model is inferred from the
checkpoint's names and shapes.

The two formats (stacked: layers ``l = 0 .. L-1``, ``in`` = 28 for layer 0,
else H; bidirectional: ``d`` = fw/bw, forward_layer/backward_layer)::

    tf1 (name-based, tf1.train.Saver)          tf2 (object-based,
                                                 tf.train.Checkpoint(model=,
                                                 optimizer=))
    rnn/multi_rnn_cell/cell_{l}/lstm_cell/     model/lstm_{l}/cell/
      kernel [in + H, 4H]                        kernel [in, 4H]
                                                 recurrent_kernel [H, 4H]
      bias [4H]                                  bias [4H] (+ forget bias)
    bidirectional_rnn/{d}/lstm_cell/...        model/bidirectional/
                                                 {d}_layer/cell/... (same)
    out_w [H or 2H, 10], out_b [10]            model/out/_kernel, model/out/bias
    global_step (int64)                        optimizer/_iterations (int64)
    <var>/Adam, <var>/Adam_1                   Adam momentum, velocity of
                                                 each weight (same layouts,
                                                 no forget bias)
    beta1_power, beta2_power                   none: Keras computes
                                                 beta^(t+1) from iterations

The LSTM: TF1's ``LSTMCell`` multiplies ``concat([x, h])`` by one kernel
whose first ``in`` rows are Keras's ``kernel`` and last ``H`` rows its
``recurrent_kernel``; its gate blocks are i, j, f, o, Keras's i, f, c, o
(``j`` is ``c``: the middle two swap, a map that is its own inverse). TF1
adds ``forget_bias=1.0`` to f inside the cell; Keras has no such constant, so
the converted bias carries it (``bias_f + 1``; back: ``- 1``). The Adam
slots hold gradient moments, which the constant does not change: they are
reordered and split the same way, with nothing added. ``docs/migration_mnist.md``
draws both layouts.

Exactness. Weights, Adam slots, the step and (recomputed from it with the
same float32 products TF1 accumulates) ``beta1_power``/``beta2_power`` come
back bit for bit, except the forget quarter of each LSTM bias: ``(b + 1) - 1``
is ``b`` only when float32 ``b + 1`` is exact (zeros, the TF1 initial value,
are); otherwise it is within half a float32 ulp of 1, 2^-24 ~ 6e-8. No
float32 map can be exact there: there are about 2^30 float32 values in
[-1, 1] but only 2^23 in [1, 2). The outputs agree to float32 rounding
(``tests/test_mnist_tf2.py``). A TF1 checkpoint without Adam slots (weights
only) gets zero Adam moments in TF2 (``iterations`` = its global step), and
back in TF1 those zeros as slots.

TF2 checkpoints are read through their object graph (the paths above), not
through the checkpoint keys: those are whatever path TF found first (the LSTM
weights sit under ``optimizer/_trainable_variables/<n>``).

One file over 400 lines: the names and shapes of both formats (stacked and
bidirectional), the gate and Adam-slot maps, the reader and the writer are
one mapping read in both directions (the tables above); what is not MNIST's
is in :mod:`common.convert` already.
"""

import dataclasses
import os
import sys
from typing import Dict, List, Optional, Tuple

if __package__ in (None, ""):  # `python mnist_rnn/convert_checkpoint.py`.
  sys.path[0] = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

from absl import logging  # pylint: disable=g-import-not-at-top,wrong-import-position
import numpy as np  # pylint: disable=wrong-import-position

from common import checkpoint as ckpt_lib  # pylint: disable=wrong-import-position
from common import convert as common_convert  # pylint: disable=wrong-import-position
# The formats, re-exported: the trainers and tests name them through here.
from common.convert import FORMAT_NAMES, TF1, TF2, checkpoint_format  # pylint: disable=wrong-import-position,unused-import
from common.errors import UserError  # pylint: disable=wrong-import-position
from common.tf_compat import tf  # pylint: disable=wrong-import-position
from mnist_rnn import configs  # pylint: disable=wrong-import-position
from mnist_rnn import model_tf2  # pylint: disable=wrong-import-position
from mnist_rnn import reader  # pylint: disable=wrong-import-position

# TF1 names (mnist_rnn/model.py).
OUT_W, OUT_B, GLOBAL_STEP = "out_w", "out_b", "global_step"
BETA1_POWER, BETA2_POWER = "beta1_power", "beta2_power"
ADAM_SLOTS = (("m", "Adam"), ("v", "Adam_1"))  # Keras slot -> TF1 suffix.
BETAS = ((BETA1_POWER, 0.9), (BETA2_POWER, 0.999))  # TF1 Adam's defaults.

# TF2 object paths (from the root tf.train.Checkpoint(model=, optimizer=)).
TF2_OUT_W, TF2_OUT_B = "model/out/_kernel", "model/out/bias"
TF2_ITERATIONS = "optimizer/_iterations"
KERAS_PARTS = ("kernel", "recurrent_kernel", "bias")


@dataclasses.dataclass(frozen=True)
class LstmNames:
  """One LSTM's names in both formats, and its input width."""
  tf1: str  # e.g. rnn/multi_rnn_cell/cell_0/lstm_cell (+ /kernel, /bias).
  tf2: str  # e.g. model/lstm_0/cell (+ /kernel, /recurrent_kernel, /bias).
  inputs: int


def _stacked_tf1(layer: int) -> str:
  return "rnn/multi_rnn_cell/cell_%d/lstm_cell" % layer


def _bidirectional_tf1(direction: str) -> str:
  return "bidirectional_rnn/%s/lstm_cell" % direction


def lstm_names(config: configs.MnistRnnConfig) -> List[LstmNames]:
  """The LSTMs of ``config``'s model, in the order of
  ``model_tf2.MnistRnnModel.lstm_layers`` (bottom first; fw, bw)."""
  if config.model == "stacked":
    return [LstmNames(_stacked_tf1(l),
                      "model/%s/cell" % model_tf2.lstm_layer_name(l),
                      reader.IMAGE_COLS if l == 0 else config.hidden_size)
            for l in range(config.num_layers)]
  return [LstmNames(_bidirectional_tf1(d), "model/bidirectional/%s/cell" % a,
                    reader.IMAGE_COLS)
          for d, a in (("fw", "forward_layer"), ("bw", "backward_layer"))]


def _features(config: configs.MnistRnnConfig) -> int:
  return config.hidden_size * (1 if config.model == "stacked" else 2)


def tf1_shapes(config: configs.MnistRnnConfig) -> Dict[str, List[int]]:
  """``{TF1 name: shape}`` of the weights (what every checkpoint holds)."""
  h = config.hidden_size
  shapes = {}
  for lstm in lstm_names(config):
    shapes[lstm.tf1 + "/kernel"] = [lstm.inputs + h, 4 * h]
    shapes[lstm.tf1 + "/bias"] = [4 * h]
  shapes[OUT_W] = [_features(config), reader.NUM_CLASSES]
  shapes[OUT_B] = [reader.NUM_CLASSES]
  return shapes


def tf2_shapes(config: configs.MnistRnnConfig) -> Dict[str, List[int]]:
  """``{TF2 object path: shape}`` of the weights."""
  h = config.hidden_size
  shapes = {}
  for lstm in lstm_names(config):
    shapes[lstm.tf2 + "/kernel"] = [lstm.inputs, 4 * h]
    shapes[lstm.tf2 + "/recurrent_kernel"] = [h, 4 * h]
    shapes[lstm.tf2 + "/bias"] = [4 * h]
  shapes[TF2_OUT_W] = [_features(config), reader.NUM_CLASSES]
  shapes[TF2_OUT_B] = [reader.NUM_CLASSES]
  return shapes


def adam_names(config: configs.MnistRnnConfig) -> List[str]:
  """The TF1 Adam state's names: a slot pair per weight, the beta powers."""
  return [name + "/" + suffix for name in tf1_shapes(config)
          for _, suffix in ADAM_SLOTS] + [BETA1_POWER, BETA2_POWER]


# --- The gate layouts ------------------------------------------------------


def _add_to_forget_gate(bias: np.ndarray, value: float) -> np.ndarray:
  """``bias`` (Keras order i, f, c, o) with ``value`` added to f, in float32."""
  out = np.array(bias, dtype=np.float32)
  h = out.shape[0] // 4
  out[h:2 * h] += np.float32(value)
  return out


def keras_lstm_from_tf1(kernel: np.ndarray, bias: np.ndarray, inputs: int,
                        forget_bias: float
                        ) -> Tuple[np.ndarray, np.ndarray, np.ndarray]:
  """TF1 ``kernel [in + H, 4H]``, ``bias [4H]`` (i, j, f, o) -> Keras
  ``(kernel [in, 4H], recurrent_kernel [H, 4H], bias [4H])`` (i, f, c, o).

  ``forget_bias``: TF1's constant (``FORGET_BIAS`` for weights, 0 for the
  Adam moments), folded into the Keras bias.
  """
  k, r, b = common_convert.keras_lstm_from_tf1(kernel, bias, inputs)
  return k, r, _add_to_forget_gate(b, forget_bias)


def tf1_lstm_from_keras(kernel: np.ndarray, recurrent_kernel: np.ndarray,
                        bias: np.ndarray, forget_bias: float
                        ) -> Tuple[np.ndarray, np.ndarray]:
  """The inverse of :func:`keras_lstm_from_tf1`."""
  return common_convert.tf1_lstm_from_keras(
      kernel, recurrent_kernel, _add_to_forget_gate(bias, -forget_bias))


def beta_power(beta: float, step: int) -> np.float32:
  """TF1 Adam's ``beta_power`` after ``step`` steps: ``beta`` times ``beta``
  ``step`` times, rounded to float32 at each product as the graph does."""
  b = np.float32(beta)
  power = b
  for _ in range(step):
    power = np.float32(power * b)
  return power


# --- The TF2 model, in the TF1 layout --------------------------------------


def assign_to_model(arrays: Dict[str, np.ndarray],
                    config: configs.MnistRnnConfig,
                    model: model_tf2.MnistRnnModel, optimizer=None) -> None:
  """Sets a built TF2 model's weights from ``{TF1 name: array}``, and the
  optimizer's step and Adam moments where ``arrays`` has them."""
  has_adam = optimizer is not None and BETA1_POWER in arrays
  for names, layer in zip(lstm_names(config), model.lstm_layers):
    cell = layer.cell
    weights = [cell.kernel, cell.recurrent_kernel, cell.bias]
    values = keras_lstm_from_tf1(arrays[names.tf1 + "/kernel"],
                                 arrays[names.tf1 + "/bias"], names.inputs,
                                 model_tf2.FORGET_BIAS)
    for variable, value in zip(weights, values):
      variable.assign(value)
    if has_adam:
      for slot, suffix in ADAM_SLOTS:
        values = keras_lstm_from_tf1(
            arrays["%s/kernel/%s" % (names.tf1, suffix)],
            arrays["%s/bias/%s" % (names.tf1, suffix)], names.inputs, 0.0)
        for variable, value in zip(weights, values):
          model_tf2.adam_slots(optimizer, variable)[slot].assign(value)
  for name, variable in ((OUT_W, model.out.kernel), (OUT_B, model.out.bias)):
    variable.assign(arrays[name])
    if has_adam:
      for slot, suffix in ADAM_SLOTS:
        model_tf2.adam_slots(optimizer, variable)[slot].assign(
            arrays[name + "/" + suffix])
  if optimizer is not None:
    optimizer.iterations.assign(int(arrays.get(GLOBAL_STEP, 0)))


def arrays_of(config: configs.MnistRnnConfig, model: model_tf2.MnistRnnModel,
              optimizer=None) -> Dict[str, np.ndarray]:
  """``{TF1 name: array}`` of a TF2 model: the weights and, with the
  optimizer, the global step, the Adam slots and the beta powers."""
  out = {}
  slots = {suffix: {} for _, suffix in ADAM_SLOTS}
  for names, layer in zip(lstm_names(config), model.lstm_layers):
    cell = layer.cell
    weights = [cell.kernel, cell.recurrent_kernel, cell.bias]
    out[names.tf1 + "/kernel"], out[names.tf1 + "/bias"] = (
        tf1_lstm_from_keras(*[w.numpy() for w in weights],
                            forget_bias=model_tf2.FORGET_BIAS))
    if optimizer is not None:
      for slot, suffix in ADAM_SLOTS:
        moments = [model_tf2.adam_slots(optimizer, w)[slot].numpy()
                   for w in weights]
        (slots[suffix][names.tf1 + "/kernel"],
         slots[suffix][names.tf1 + "/bias"]) = tf1_lstm_from_keras(
             *moments, forget_bias=0.0)
  for name, variable in ((OUT_W, model.out.kernel), (OUT_B, model.out.bias)):
    out[name] = variable.numpy()
    if optimizer is not None:
      for slot, suffix in ADAM_SLOTS:
        slots[suffix][name] = model_tf2.adam_slots(
            optimizer, variable)[slot].numpy()
  if optimizer is not None:
    step = int(optimizer.iterations.numpy())
    out[GLOBAL_STEP] = np.int64(step)
    for suffix, by_name in slots.items():
      out.update({"%s/%s" % (n, suffix): a for n, a in by_name.items()})
    for name, beta in BETAS:
      out[name] = beta_power(beta, step)
  return out


# --- Reading ---------------------------------------------------------------


def _object_paths(reader) -> Dict[str, str]:
  """``{object path: checkpoint key}`` of every variable of a TF2 checkpoint,
  under every path its object graph gives it (``model/out/_kernel``, ...)."""
  graph = common_convert.object_graph(reader)
  paths, queue, expanded = {}, [(0, "")], set()
  while queue:
    node_id, path = queue.pop(0)
    node = graph.nodes[node_id]
    for attribute in node.attributes:
      if attribute.name == "VARIABLE_VALUE":
        paths[path] = attribute.checkpoint_key
    if node_id in expanded:
      continue
    expanded.add(node_id)
    for child in node.children:
      queue.append((child.node_id, (path + "/" if path else "") +
                    child.local_name))
  return paths


def _infer_config(prefix: str, fmt: str, shapes: Dict[str, List[int]]
                  ) -> configs.MnistRnnConfig:
  """The model a checkpoint holds, from its names and the LSTM bias's shape
  (the other fields from the ``small`` preset; they change no shape)."""
  if fmt == TF1:
    stacked = _stacked_tf1(0) + "/bias"
    bidirectional = _bidirectional_tf1("fw") + "/bias"
    layers = common_convert.count_present(
        lambda l: _stacked_tf1(l) + "/bias" in shapes)
  else:
    stacked = "model/%s/cell/bias" % model_tf2.lstm_layer_name(0)
    bidirectional = "model/bidirectional/forward_layer/cell/bias"
    layers = common_convert.count_present(
        lambda l: "model/%s/cell/bias" % model_tf2.lstm_layer_name(l)
        in shapes)
  if stacked in shapes:
    model, bias = "stacked", shapes[stacked]
  elif bidirectional in shapes:
    model, bias, layers = "bidirectional", shapes[bidirectional], 1
  else:
    gru = any("gru_cell" in name for name in shapes)
    raise UserError(
        "%s (a %s checkpoint) is not one of the MNIST LSTM models: %s; "
        "expected %s or %s" % (
            prefix, FORMAT_NAMES[fmt],
            "it has GRU cells, which only --api=tf1 runs" if gru else
            "neither is there", stacked, bidirectional))
  if len(bias) != 1 or bias[0] % 4 or not bias[0]:
    raise UserError("%s: %s is %s, expected [4 * hidden_size]" %
                    (prefix, stacked if model == "stacked" else bidirectional,
                     bias))
  return dataclasses.replace(configs.get_config(model, "small"),
                             hidden_size=bias[0] // 4, num_layers=layers)


def _check_shapes(prefix: str, fmt: str, expected: Dict[str, List[int]],
                  stored: Dict[str, List[int]],
                  config: configs.MnistRnnConfig) -> None:
  problems = ckpt_lib.shape_problems(expected.items(), stored)
  if problems:
    raise UserError(
        "checkpoint %s (%s) does not fit the %s model with hidden_size=%d, "
        "num_layers=%d (%s); use the config it was trained with" % (
            prefix, FORMAT_NAMES[fmt], config.model, config.hidden_size,
            config.num_layers, "; ".join(problems)))


def _config_near(prefix: str) -> Optional[configs.MnistRnnConfig]:
  saved = ckpt_lib.saved_run_config(prefix, configs.MnistRnnConfig)
  return None if saved is None else saved[1]


def check_fits(path: str, config: Optional[configs.MnistRnnConfig] = None
               ) -> Tuple[str, str, configs.MnistRnnConfig, Dict[str, str]]:
  """Opens a checkpoint of either format and checks it holds the model.

  Args:
    path: a checkpoint prefix, run directory or checkpoint directory.
    config: the model it must fit; None: the ``config.json`` beside it, else
      the model its names and shapes show.

  Returns:
    ``(prefix, "tf1" or "tf2", config, {name: checkpoint key})``: TF1 names
    are their own keys; TF2 object paths map to theirs.

  Raises:
    UserError: not a checkpoint, not one of these models, a GRU model,
      missing names or other shapes than ``config``'s.
  """
  prefix, reader = common_convert.open_checkpoint(path)
  fmt = common_convert.format_of(reader)
  key_shapes = reader.get_variable_to_shape_map()
  if fmt == TF1:
    keys = {name: name for name in key_shapes}
  else:
    keys = _object_paths(reader)
  shapes = {name: list(key_shapes[key]) for name, key in keys.items()}
  config = config or _config_near(prefix) or _infer_config(prefix, fmt,
                                                           shapes)
  if config.cell != "lstm":
    raise UserError("%s holds a GRU model (cell=%s); only --api=tf1 runs it, "
                    "there is nothing to convert it to" % (prefix, config.cell))
  expected = tf1_shapes(config) if fmt == TF1 else tf2_shapes(config)
  _check_shapes(prefix, fmt, expected, shapes, config)
  return prefix, fmt, config, keys


def read_arrays(path: str, config: Optional[configs.MnistRnnConfig] = None
                ) -> Tuple[str, str, configs.MnistRnnConfig,
                           Dict[str, np.ndarray]]:
  """Reads an MNIST RNN checkpoint of either format, in the TF1 layout.

  Args:
    path, config: as for :func:`check_fits`.

  Returns:
    ``(prefix read, "tf1" or "tf2", config, {TF1 name: array})``: the
    weights, ``global_step`` (0 if the checkpoint has none) and, where the
    checkpoint has them, the Adam slots and beta powers.

  Raises:
    UserError: see :func:`check_fits`; an incomplete Adam state.
  """
  prefix, fmt, config, keys = check_fits(path, config)
  if fmt == TF1:
    arrays = _read_tf1(prefix, tf.train.load_checkpoint(prefix), config)
  else:
    arrays = _read_tf2(prefix, config, has_optimizer=TF2_ITERATIONS in keys)
  arrays.setdefault(GLOBAL_STEP, np.int64(0))
  return prefix, fmt, config, arrays


def restore_tf2_weights(prefix: str, model: model_tf2.MnistRnnModel) -> int:
  """Restores a TF2 checkpoint's weights into ``model`` (as saved, bit for
  bit; the optimizer's state is left out); returns its step (0 if none).

  Call :func:`check_fits` first: it reports names and shapes in one line.

  Raises:
    UserError: the model's weights are not all there.
  """
  try:
    tf.train.Checkpoint(model=model).restore(
        prefix).expect_partial().assert_existing_objects_matched()
  except (AssertionError, ValueError, IndexError, tf.errors.OpError) as e:
    raise UserError("cannot restore %s: %s" % (
        prefix, common_convert.error_line(e))) from e
  reader = tf.train.load_checkpoint(prefix)
  key = _object_paths(reader).get(TF2_ITERATIONS)
  return 0 if key is None else int(common_convert.read_tensor(reader, key))


def _read_tf1(prefix: str, reader, config) -> Dict[str, np.ndarray]:
  names = list(tf1_shapes(config))
  adam = adam_names(config)
  present = [n for n in adam if reader.has_tensor(n)]
  if present and len(present) != len(adam):
    raise UserError("%s has an incomplete Adam state (%s missing); expected "
                    "all of the slots and beta powers of a training "
                    "checkpoint, or none" % (
                        prefix, ", ".join(n for n in adam if n not in present)))
  names += present
  arrays = {n: common_convert.read_tensor(reader, n) for n in names}
  arrays[GLOBAL_STEP] = np.int64(
      common_convert.read_tensor(reader, GLOBAL_STEP)
      if reader.has_tensor(GLOBAL_STEP) else 0)
  return arrays


def _read_tf2(prefix: str, config, has_optimizer: bool
              ) -> Dict[str, np.ndarray]:
  """Restores the checkpoint into a built model (and optimizer)."""
  model = model_tf2.build_model(config)
  optimizer = model_tf2.build_optimizer(config, model)
  root = (model_tf2.make_checkpoint(model, optimizer) if has_optimizer
          else tf.train.Checkpoint(model=model))
  try:
    root.restore(prefix).expect_partial().assert_existing_objects_matched()
  except (AssertionError, ValueError, tf.errors.OpError) as e:
    raise UserError("cannot restore %s into the %s model: %s" %
                    (prefix, config.model, common_convert.error_line(e))) from e
  return arrays_of(config, model, optimizer if has_optimizer else None)


# --- Writing ---------------------------------------------------------------


def write_tf1(arrays: Dict[str, np.ndarray], directory: str) -> str:
  """Writes ``{TF1 name: array}`` with ``tf1.train.Saver`` (relative paths in
  its ``checkpoint`` file) into ``directory``; returns the prefix."""
  return common_convert.write_tf1(arrays, directory,
                                  int(arrays.get(GLOBAL_STEP, 0)))


def write_tf2(arrays: Dict[str, np.ndarray], config: configs.MnistRnnConfig,
              directory: str) -> str:
  """Writes ``{TF1 name: array}`` as ``mnist_rnn/train_tf2.py`` does (a
  ``tf.train.Checkpoint`` of the model and its Adam, through a
  ``CheckpointManager``) into ``directory``; returns the prefix."""
  model = model_tf2.build_model(config)
  optimizer = model_tf2.build_optimizer(config, model)
  assign_to_model(arrays, config, model, optimizer)
  return common_convert.save_tf2(model_tf2.make_checkpoint(model, optimizer),
                                 directory, int(arrays.get(GLOBAL_STEP, 0)))


def convert(source: str, from_format: str, to_format: str, out: str) -> str:
  """Converts checkpoint ``source`` (``from_format``) to ``to_format`` at
  ``out`` (a new directory, with ``source``'s ``config.json`` and, if
  ``source`` is its run's last checkpoint, ``train_state.json``); returns
  the prefix written there.

  Raises:
    UserError: ``out`` exists, ``source`` is not an MNIST LSTM checkpoint of
      ``from_format``, or the formats are the same. Nothing is left at
      ``out`` on any error.
  """
  common_convert.check_request(from_format, to_format, out)
  prefix, fmt, config, arrays = read_arrays(source)
  common_convert.check_source_format(prefix, fmt, from_format)

  def write(directory: str) -> str:
    if to_format == TF1:
      written = write_tf1(arrays, directory)
    else:
      written = write_tf2(arrays, config, directory)
    common_convert.copy_config(prefix, directory)
    common_convert.copy_state(prefix, directory, written)
    return written
  result = common_convert.write_new_directory(out, write)
  logging.info("Read %s (%s, %s model, hidden_size=%d, num_layers=%d, step "
               "%d%s); wrote %s (%s)", prefix, FORMAT_NAMES[fmt], config.model,
               config.hidden_size, config.num_layers,
               int(arrays[GLOBAL_STEP]),
               ", with Adam state" if BETA1_POWER in arrays else
               ", weights only", result, FORMAT_NAMES[to_format])
  return result


def in_format(checkpoint: str, fmt: str):
  """:func:`common.convert.in_format` with this model's :func:`convert`."""
  return common_convert.in_format(checkpoint, fmt, convert)


# --- Command line ----------------------------------------------------------


def run():
  common_convert.run(convert, "mnist_rnn.convert_checkpoint")


if __name__ == "__main__":
  run()
