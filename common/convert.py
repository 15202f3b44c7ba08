"""What the TF1 <-> TF2 checkpoint converters share (ptb, mnist_rnn).

Each workload's ``convert_checkpoint`` knows its model's names, shapes and
gate details; the machinery around them is here, once:

* the two formats and telling them apart (:func:`checkpoint_format`);
* opening a checkpoint with one-line errors (:func:`open_checkpoint`) and a
  TF2 checkpoint's object graph (:func:`object_graph`);
* the LSTM gate layouts, TF1 ``LSTMCell``/``BasicLSTMCell`` (fused kernel,
  gates i, j, f, o) and Keras 3 ``LSTM`` (kernel + recurrent kernel, gates
  i, f, c, o): :func:`keras_lstm_from_tf1`, :func:`tf1_lstm_from_keras`;
* writing: ``{TF1 name: array}`` with ``tf1.train.Saver``
  (:func:`write_tf1`), a ``tf.train.Checkpoint`` through a
  ``CheckpointManager`` (:func:`save_tf2`), into a new directory that
  appears only when complete (:func:`write_new_directory`), with the run's
  ``config.json`` and ``train_state.json`` (:func:`copy_config`,
  :func:`copy_state`);
* a checkpoint in the format an API reads, converted on the fly where it is
  the other (:func:`in_format`, for ``--eval_only``);
* the command line, ``--from=tf1|tf2 --to=tf2|tf1 IN OUT`` (:func:`run`).
"""

import contextlib
import os
import shutil
import tempfile
from typing import Callable, Dict, Iterator, Optional, Tuple

from absl import flags
from absl import logging
import numpy as np

from common import app
from common import checkpoint as ckpt_lib
from common.errors import UserError
from common.tf_compat import tf, tf1
# The object graph of a TF2 checkpoint (what tf.train.Checkpoint matches).
from tensorflow.core.protobuf import trackable_object_graph_pb2  # pylint: disable=g-direct-tensorflow-import,wrong-import-order

TF1, TF2 = "tf1", "tf2"
FORMATS = (TF1, TF2)
FORMAT_NAMES = {TF1: "tf1 (name-based, tf1.train.Saver)",
                TF2: "tf2 (object-based, tf.train.Checkpoint)"}
OBJECT_GRAPH_KEY = "_CHECKPOINTABLE_OBJECT_GRAPH"

# The flags :func:`define_flags` defines belong to the command that calls
# :func:`run` (its ``--help`` lists them), not to this module.
flags.disclaim_key_flags()


# --- Reading ---------------------------------------------------------------


def error_line(error: Exception) -> str:
  """The first line of an error's message (TF's are many lines long)."""
  text = getattr(error, "message", None) or str(error)
  return (text.strip().splitlines() or [type(error).__name__])[0]


def open_checkpoint(path: str) -> Tuple[str, "tf.train.CheckpointReader"]:
  """``(prefix, reader)`` of a run directory, checkpoint directory or prefix.

  Raises:
    UserError: nothing there that TF can read as a checkpoint.
  """
  try:
    prefix = ckpt_lib.find_checkpoint(path)
  except UserError as e:
    raise UserError("%s; expected a checkpoint prefix, a run directory or "
                    "a directory with a TF checkpoint file" % e) from e
  try:
    return prefix, tf.train.load_checkpoint(prefix)
  except (tf.errors.OpError, ValueError) as e:
    raise UserError("%s is not a readable TF checkpoint (%s); expected a "
                    "checkpoint written by tf1.train.Saver or "
                    "tf.train.Checkpoint" % (prefix, error_line(e))) from e


def format_of(reader) -> str:
  """``"tf2"`` if the checkpoint has an object graph, else ``"tf1"``."""
  return TF2 if reader.has_tensor(OBJECT_GRAPH_KEY) else TF1


def checkpoint_format(path: str) -> str:
  """``"tf1"`` (name-based, ``tf1.train.Saver``) or ``"tf2"`` (object-based,
  ``tf.train.Checkpoint``) for a checkpoint prefix or a directory.

  Raises:
    UserError: not a readable checkpoint.
  """
  return format_of(open_checkpoint(path)[1])


def read_tensor(reader, name: str):
  """``reader.get_tensor(name)``, with a damaged data file as a UserError
  (TF raises IndexError for a truncated one, an OpError for a missing one).
  """
  try:
    return reader.get_tensor(name)
  except (IndexError, tf.errors.OpError) as e:
    raise UserError("cannot read %s from the checkpoint (%s); is its .data "
                    "file truncated or missing?" % (name, error_line(e))
                    ) from e


def refuse_other_api(save_path: Optional[str], api: str,
                     converter: str) -> None:
  """UserError if run directory ``save_path`` holds checkpoints of the API
  other than ``api`` (its saved state's, else its latest): the other API
  cannot restore them, and a TF2 CheckpointManager would rotate a TF1
  Saver's checkpoints out (and the other way round).

  Args:
    save_path: the run directory (None or missing: nothing to check).
    api: ``"tf1"`` or ``"tf2"``, the API about to train there.
    converter: the workload's converter module, for the message.
  """
  if not save_path or not os.path.isdir(save_path):
    return
  try:
    prefix = ckpt_lib.find_checkpoint(save_path)
  except UserError:
    return  # No checkpoint yet.
  fmt = format_of(open_checkpoint(prefix)[1])
  if fmt != api:
    raise UserError(
        "%s holds %s checkpoints; train it with --api=%s, or convert its "
        "last checkpoint (python -m %s --from=%s --to=%s %s NEW_DIR) and use "
        "that" % (save_path, FORMAT_NAMES[fmt], fmt, converter, fmt, api,
                  save_path))


def object_graph(reader) -> trackable_object_graph_pb2.TrackableObjectGraph:
  """The object graph a TF2 checkpoint was saved with (node 0: the root)."""
  graph = trackable_object_graph_pb2.TrackableObjectGraph()
  graph.ParseFromString(read_tensor(reader, OBJECT_GRAPH_KEY))
  return graph


def count_present(exists: Callable[[int], bool]) -> int:
  """The first ``n >= 0`` with ``exists(n)`` false (e.g. a model's layers)."""
  n = 0
  while exists(n):
    n += 1
  return n


# --- The gate layouts ------------------------------------------------------


def swap_middle_gates(a: np.ndarray) -> np.ndarray:
  """Blocks [g0, g1, g2, g3] of the last axis -> [g0, g2, g1, g3].

  TF1 i, j, f, o <-> Keras i, f, c(=j), o; its own inverse.
  """
  g0, g1, g2, g3 = np.split(a, 4, axis=-1)
  return np.concatenate([g0, g2, g1, g3], axis=-1)


def keras_lstm_from_tf1(kernel: np.ndarray, bias: np.ndarray,
                        inputs: Optional[int] = None
                        ) -> Tuple[np.ndarray, np.ndarray, np.ndarray]:
  """TF1 ``kernel [in + H, 4H]``, ``bias [4H]`` (i, j, f, o) -> Keras
  ``(kernel [in, 4H], recurrent_kernel [H, 4H], bias [4H])`` (i, f, c, o).

  The fused TF1 kernel multiplies ``concat([x, h])``: its first ``inputs``
  rows (default: all but the last H) are Keras's ``kernel``, the rest its
  ``recurrent_kernel``.
  """
  if inputs is None:
    inputs = kernel.shape[0] - bias.shape[0] // 4
  k = swap_middle_gates(kernel)
  return k[:inputs], k[inputs:], swap_middle_gates(bias)


def tf1_lstm_from_keras(kernel: np.ndarray, recurrent_kernel: np.ndarray,
                        bias: np.ndarray) -> Tuple[np.ndarray, np.ndarray]:
  """The inverse of :func:`keras_lstm_from_tf1`."""
  fused = np.concatenate([kernel, recurrent_kernel], axis=0)
  return swap_middle_gates(fused), swap_middle_gates(bias)


# --- Writing ---------------------------------------------------------------


def write_tf1(arrays: Dict[str, np.ndarray], directory: str,
              global_step: int) -> str:
  """Writes ``{TF1 name: array}`` with ``tf1.train.Saver`` (relative paths in
  its ``checkpoint`` file) into ``directory``; returns the prefix."""
  with tf.Graph().as_default():
    variables = {
        name: tf1.get_variable(name, shape=np.shape(a),
                               dtype=tf.as_dtype(np.asarray(a).dtype),
                               initializer=tf1.zeros_initializer())
        for name, a in arrays.items()}
    saver = tf1.train.Saver(variables, save_relative_paths=True)
    with tf1.Session() as session:
      session.run(tf1.global_variables_initializer())
      for name, variable in variables.items():
        variable.load(arrays[name], session)
      return saver.save(session, os.path.join(directory, ckpt_lib.CKPT_PREFIX),
                        global_step=global_step, write_meta_graph=False)


def save_tf2(root: tf.train.Checkpoint, directory: str,
             global_step: int) -> str:
  """Saves ``root`` as the TF2 trainers do (a ``CheckpointManager``,
  ``model.ckpt-<step>``) into ``directory``; returns the prefix."""
  manager = tf.train.CheckpointManager(
      root, directory, max_to_keep=1, checkpoint_name=ckpt_lib.CKPT_PREFIX)
  return manager.save(checkpoint_number=global_step)


def write_new_directory(out: str, write: Callable[[str], str]) -> str:
  """Runs ``write(directory)`` in a temporary directory beside ``out`` and
  renames it to ``out``: a failure leaves nothing at ``out``.

  Args:
    out: the new directory (see :func:`check_request`).
    write: writes the checkpoint into its argument; returns its prefix.

  Returns:
    The prefix written, as it is under ``out``.

  Raises:
    UserError: ``out``'s parent is not writable, or writing failed.
  """
  parent = os.path.dirname(os.path.abspath(out))
  try:
    tmp = tempfile.mkdtemp(prefix=".%s.tmp-" % os.path.basename(out),
                           dir=parent)
  except OSError as e:
    raise UserError("cannot write in %s: %s" % (parent, e)) from e
  try:
    written = write(tmp)
    os.rename(tmp, out)
  except (OSError, tf.errors.OpError) as e:
    raise UserError("cannot write %s: %s" % (out, error_line(e))) from e
  finally:
    if os.path.isdir(tmp):
      shutil.rmtree(tmp, ignore_errors=True)
  return os.path.join(out, os.path.basename(written))


def copy_config(prefix: str, directory: str) -> None:
  """Copies the ``config.json`` beside checkpoint ``prefix``, if there is
  one, into ``directory`` (``--eval_only --checkpoint=OUT`` finds it)."""
  config = os.path.join(os.path.dirname(prefix), ckpt_lib.CONFIG_FILE)
  if os.path.isfile(config):
    shutil.copyfile(config, os.path.join(directory, ckpt_lib.CONFIG_FILE))


def copy_state(prefix: str, directory: str, written: str) -> None:
  """If ``prefix`` is its run's last checkpoint, writes the run's
  ``train_state.json`` into ``directory``, naming ``written`` instead."""
  state = ckpt_lib.saved_state(os.path.dirname(prefix) or ".")
  if state is not None and state["checkpoint"] == os.path.basename(prefix):
    ckpt_lib.atomic_write_json(
        os.path.join(directory, ckpt_lib.STATE_FILE),
        dict(state, checkpoint=os.path.basename(written)))


# --- Checks ----------------------------------------------------------------


@contextlib.contextmanager
def in_format(checkpoint: str, fmt: str, convert: "Convert") -> Iterator[str]:
  """``checkpoint`` itself if it is in format ``fmt``, else a copy that the
  workload's ``convert`` writes in that format into a temporary directory
  (removed afterwards); logs which format it read.

  Used by ``--eval_only``: either API evaluates either format.

  Raises:
    UserError: see ``convert``.
  """
  prefix = ckpt_lib.find_checkpoint(checkpoint)
  have = checkpoint_format(prefix)
  logging.info("%s is a %s checkpoint", prefix, FORMAT_NAMES[have])
  if have == fmt:
    yield checkpoint
    return
  with tempfile.TemporaryDirectory() as tmp:
    converted = convert(checkpoint, have, fmt, os.path.join(tmp, "converted"))
    logging.info("Converted to %s for --api=%s: %s", FORMAT_NAMES[fmt], fmt,
                 converted)
    yield converted


def check_request(from_format: str, to_format: str, out: str) -> None:
  """UserError unless the formats differ and ``out`` does not exist yet."""
  if from_format == to_format:
    raise UserError("--from and --to are both %s; expected one of each" %
                    from_format)
  if os.path.lexists(out):
    raise UserError("%s exists; expected a path that does not exist yet "
                    "(the converted checkpoint's new directory)" % out)


def check_source_format(prefix: str, fmt: str, from_format: str) -> None:
  """UserError unless the checkpoint read (format ``fmt``) is ``--from``'s."""
  if fmt != from_format:
    raise UserError("%s is a %s checkpoint, not --from=%s" %
                    (prefix, FORMAT_NAMES[fmt], from_format))


# --- Command line ----------------------------------------------------------

Convert = Callable[[str, str, str, str], str]  # (IN, --from, --to, OUT).


def define_flags():
  """Defines ``--from`` and ``--to``; returns their holders.

  Called by :func:`run` only: the converters are also libraries (of the
  training twins), and importing one must not define flags that another
  command line must not accept.
  """
  return (flags.DEFINE_enum("from", None, FORMATS, "Format of IN: tf1 "
                            "(tf1.train.Saver names) or tf2 "
                            "(tf.train.Checkpoint objects)."),
          flags.DEFINE_enum("to", None, FORMATS, "Format to write at OUT."))


def main(argv, from_flag, to_flag, convert: Convert, program: str) -> None:
  """``program IN OUT``: checks the arguments, then ``convert``s.

  Raises:
    UserError: not two arguments, or ``--from``/``--to`` missing.
  """
  if len(argv) != 3:
    raise UserError("expected IN and OUT: python -m %s --from=tf1|tf2 "
                    "--to=tf2|tf1 IN OUT" % program)
  if from_flag.value is None or to_flag.value is None:
    raise UserError("--from and --to are required (tf1 or tf2)")
  convert(argv[1], from_flag.value, to_flag.value, argv[2])


def run(convert: Convert, program: str) -> None:
  """The command ``python -m program --from=.. --to=.. IN OUT``."""
  from_flag, to_flag = define_flags()
  app.run(lambda argv: main(argv, from_flag, to_flag, convert, program),
          max_args=2)
