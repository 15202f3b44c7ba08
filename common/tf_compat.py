"""The one place that imports TensorFlow for this project.

TensorFlow 2.21 ships Keras 3, under which ``tf.compat.v1.nn.rnn_cell.*``
raises "not available with Keras 3". The documented road is to install
``tf-keras`` (same minor version as TensorFlow) and to set
``TF_USE_LEGACY_KERAS=1`` *before TensorFlow is first imported*. Every module
of this project therefore does::

    from common.tf_compat import tf, tf1

TF1 idiom -> what it becomes here:

    import tensorflow as tf          ->  from common.tf_compat import tf1 as tf
    tf.contrib.rnn.BasicLSTMCell     ->  tf1.nn.rnn_cell.BasicLSTMCell (tf-keras)
    tf.train.Supervisor              ->  tf1.Session + common.checkpoint
    queue runners / ptb_producer     ->  numpy batches fed through feed_dict

TensorFlow's start-up lines are hidden unless ``TF_CPP_MIN_LOG_LEVEL`` is set
(``TF_CPP_MIN_LOG_LEVEL=0 ./run.sh`` shows them all again).
"""

import os
import sys

if "tensorflow" in sys.modules and os.environ.get("TF_USE_LEGACY_KERAS") != "1":
  raise ImportError(
      "tensorflow was imported before common.tf_compat set "
      "TF_USE_LEGACY_KERAS=1; import common.tf_compat first.")
os.environ["TF_USE_LEGACY_KERAS"] = "1"

# TensorFlow's start-up lines ("oneDNN custom operations are on", "Could not
# find cuda drivers", "failed call to cuInit") are written by C++ before its
# logging is set up, so no variable hides them and a new user reads them as
# errors. Unless the user set TF_CPP_MIN_LOG_LEVEL (then TF prints as it
# always does), the import and the device probe run with file descriptor 2
# sent to a temporary file; afterwards every line of it that is not one of
# those start-up lines is written back to stderr.
_STARTUP_NOISE = (
    "All log messages before absl::InitializeLog() is called",
    "oneDNN custom operations are on",
    "Could not find cuda drivers",
    "failed call to cuInit",
    "Unable to register cu",  # cuDNN/cuFFT/cuBLAS factory, on some builds.
)
# The marker tells a child process (a test's subprocess, a helper script)
# that the level it inherits was this module's default, not the user's.
_DEFAULTED = "TF1_RNN_TUTORIALS_LOG_LEVEL_DEFAULTED"
_QUIET = ("TF_CPP_MIN_LOG_LEVEL" not in os.environ or
          os.environ.get(_DEFAULTED) == "1")
if "TF_CPP_MIN_LOG_LEVEL" not in os.environ:
  os.environ["TF_CPP_MIN_LOG_LEVEL"] = "2"  # Hide C++ INFO/WARNING.
  os.environ[_DEFAULTED] = "1"


def _import_tensorflow_quietly():
  import tempfile  # pylint: disable=g-import-not-at-top
  sys.stderr.flush()
  saved = os.dup(2)
  with tempfile.TemporaryFile(mode="w+b") as captured:
    os.dup2(captured.fileno(), 2)
    try:
      import tensorflow  # pylint: disable=g-import-not-at-top,import-outside-toplevel
      tensorflow.config.list_physical_devices()  # cuInit happens here.
    finally:
      sys.stderr.flush()
      os.dup2(saved, 2)
      os.close(saved)
      captured.seek(0)
      for line in captured.read().decode("utf-8", "replace").splitlines():
        if not any(noise in line for noise in _STARTUP_NOISE):
          print(line, file=sys.stderr)
  return tensorflow


if _QUIET:
  tf = _import_tensorflow_quietly()
else:
  import tensorflow as tf  # pylint: disable=g-import-not-at-top,wrong-import-position

tf1 = tf.compat.v1


class _DropCheckpointChatter:
  """A ``logging`` filter: TensorFlow's ``tf.train.Checkpoint`` logs
  "Sharding callback duration: N microseconds" at INFO through absl on every
  save, which would interleave with the runs' progress lines."""

  def filter(self, record) -> bool:
    return not str(record.msg).startswith("Sharding callback duration")


def _quiet_checkpoint_chatter() -> None:
  from absl import logging as absl_logging  # pylint: disable=g-import-not-at-top
  absl_logging.get_absl_logger().addFilter(_DropCheckpointChatter())


_quiet_checkpoint_chatter()
# Eager stays on (the TF2 twins need it). Every TF1 graph of this project is
# built inside an explicit ``with tf.Graph().as_default():`` (see
# ``common.session.build_graph``), where TF1 ops, placeholders and Sessions
# work as in TF1; outside one, ``tf1.placeholder`` fails loudly.
tf1.logging.set_verbosity(tf1.logging.ERROR)

rnn_cell = tf1.nn.rnn_cell  # Fails loudly here if tf-keras is missing.

__all__ = ["tf", "tf1", "rnn_cell"]
