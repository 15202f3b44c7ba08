r"""Word-level LSTM language model on Penn Treebank (the TF tutorial).

Zaremba, Sutskever & Vinyals (2014), "Recurrent Neural Network
Regularization"; TensorFlow's ``tutorials/rnn/ptb/ptb_word_lm.py``, on
TensorFlow 2.21 in ``tf.compat.v1`` graph mode.

Run (from a checkout, or ``ptb-word-lm`` after ``pip install .``)::

    python ptb/ptb_word_lm.py --model=small --data_path=DIR [--save_path=RUN]

DIR holds ``ptb.train.txt``, ``ptb.valid.txt`` and ``ptb.test.txt`` (Mikolov's
``simple-examples/data``). Without ``--data_path``: ``$DATA_DIR/ptb``, then
``./data/ptb``. ``--download`` fetches ``simple-examples.tgz`` first if the
files are missing. ``--eval_only`` restores ``--save_path`` (or
``--checkpoint``) and reports valid and test perplexity, with the config saved
in that run directory (plus any explicit overrides), else the flags' config.

Perplexities (train / valid / test):

| config | TF tutorial             | Zaremba 2014 (valid / test)  | this port (measured)         |
|--------|-------------------------|------------------------------|------------------------------|
| small  | 37.99 / 121.39 / 115.91 | 120.7 / 114.5 (non-regular.) | 40.98 / 119.61 / 114.64      |
| medium | 48.45 / 86.16 / 82.07   | 86.2 / 82.7                  | 45.64 / 87.30 / 84.05        |
| large  | 37.87 / 82.62 / 78.29   | 82.2 / 78.4                  | diverged in epoch 1 (README) |

The measured rows: small ``docs/results/ptb_small`` (13 epochs,
``--seed=1234``); medium's 39 epochs (``--seed=1234``, resumed across
sessions) are in
``docs/results/ptb_medium`` (earlier starts: ``ptb_medium_start3``,
``ptb_medium_start2``); large's one epoch in
``docs/results/ptb_large_1epoch``.

Every config field can be overridden by the flag of the same name.
"""

import os
import sys

if __package__ in (None, ""):  # `python ptb/ptb_word_lm.py` from a checkout.
  sys.path[0] = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

from absl import flags  # pylint: disable=g-import-not-at-top,wrong-import-position

from common import app  # pylint: disable=wrong-import-position
from common import bench  # pylint: disable=wrong-import-position
from common import checkpoint as ckpt_lib  # pylint: disable=wrong-import-position
from common import config as config_lib  # pylint: disable=wrong-import-position
from common import data as data_lib  # pylint: disable=wrong-import-position
from ptb import configs  # pylint: disable=wrong-import-position
from ptb import download  # pylint: disable=wrong-import-position
from ptb import train  # pylint: disable=wrong-import-position
from ptb import train_tf2  # pylint: disable=wrong-import-position

_MODEL = flags.DEFINE_enum("model", "small", configs.CONFIGS.names,
                           "Preset: small, medium, large or test.")
_DATA_PATH = flags.DEFINE_string(
    "data_path", None, "Directory with ptb.{train,valid,test}.txt "
    "(default: $DATA_DIR/ptb, then ./data/ptb).")
_SAVE_PATH = flags.DEFINE_string(
    "save_path", None, "Run directory: checkpoints, metrics, TensorBoard. "
    "Reusing it resumes the run.")
_EVAL_ONLY = flags.DEFINE_bool(
    "eval_only", False, "Restore --checkpoint (or --save_path) and report "
    "valid and test perplexity; no training.")
_CHECKPOINT = flags.DEFINE_string(
    "checkpoint", None, "Checkpoint prefix or directory for --eval_only "
    "(e.g. one written by the original tutorial).")
_DOWNLOAD = flags.DEFINE_bool(
    "download", False, "Download and verify simple-examples.tgz into the data "
    "directory if the PTB files are missing (needs a network).")
_SEED = flags.DEFINE_integer("seed", None, "Random seed; same seed, same "
                             "perplexities on CPU.", lower_bound=0,
                             upper_bound=config_lib.MAX_SEED)
_DETERMINISTIC = flags.DEFINE_bool(
    "deterministic", False, "Use TF's deterministic kernels (slower).")
_CHECKPOINT_EVERY_SECS = flags.DEFINE_integer(
    "checkpoint_every_secs", 600, "Also checkpoint inside an epoch this "
    "often (0 = only at epoch ends); a killed run resumes from there.",
    lower_bound=0)
_RNN_MODE = flags.DEFINE_enum(
    "rnn_mode", "basic", ["basic", "block", "fused"],
    "LSTM graph: basic (the tutorial's BasicLSTMCell), block (the fused "
    "BlockLSTM op, the tutorial's BLOCK mode) or fused (static unroll, input "
    "projection hoisted). Same math and variables; any reads any's "
    "checkpoints.")
_PRECISION = flags.DEFINE_enum(
    "precision", "fp32", ["fp32", "bf16"],
    "Training matmuls: fp32 (the tutorial's) or bf16 (operands rounded to "
    "bfloat16, float32 results; needs --rnn_mode=fused and a CPU with "
    "AMX-BF16 or AVX512-BF16). Valid and Test always run fp32.")
_EVAL_MODE = flags.DEFINE_enum(
    "eval_mode", "fast", ["fast", "tutorial"],
    "Test pass: fast (one stream, 1000 words per session.run; the same "
    "predictions) or tutorial (one word per session.run).")
_API = flags.DEFINE_enum(
    "api", "tf1", ["tf1", "tf2"],
    "tf1: the tutorial's graph (tf.compat.v1, Session, feed_dict); tf2: its "
    "TF2-native twin (ptb/model_tf2.py, ptb/train_tf2.py: eager, "
    "tf.function, Keras 3). Same flags, numbers and run directory layout.")
_NUM_THREADS = flags.DEFINE_integer(
    "num_threads", 0, "intra-op threads (0 = all cores).", lower_bound=0)

# One flag per config field; None keeps the preset's value.
_OVERRIDES = {
    "init_scale": flags.DEFINE_float("init_scale", None, "Init range."),
    "learning_rate": flags.DEFINE_float("learning_rate", None, "Initial lr."),
    "max_grad_norm": flags.DEFINE_float("max_grad_norm", None, "Clip norm."),
    "num_layers": flags.DEFINE_integer("num_layers", None, "LSTM layers."),
    "num_steps": flags.DEFINE_integer("num_steps", None, "Unrolled steps."),
    "hidden_size": flags.DEFINE_integer("hidden_size", None, "LSTM units."),
    "max_epoch": flags.DEFINE_integer("max_epoch", None,
                                      "Epochs at the initial lr."),
    "max_max_epoch": flags.DEFINE_integer("max_max_epoch", None,
                                          "Total epochs."),
    "keep_prob": flags.DEFINE_float("keep_prob", None, "Dropout keep prob."),
    "lr_decay": flags.DEFINE_float("lr_decay", None, "lr decay per epoch."),
    "batch_size": flags.DEFINE_integer("batch_size", None, "Streams."),
    "vocab_size": flags.DEFINE_integer("vocab_size", None, "Vocabulary."),
}


def _overrides():
  return {name: holder.value for name, holder in _OVERRIDES.items()}


def main(argv):
  del argv  # Extra arguments are refused by common.app.run.
  model_name = _MODEL.value
  config = config_lib.apply_overrides(configs.CONFIGS.get(model_name),
                                      _overrides())
  data_path = data_lib.resolve_data_dir(_DATA_PATH.value, "ptb")
  if _DOWNLOAD.value:
    download.maybe_download(data_path)
  options = train.RunOptions(seed=_SEED.value,
                             deterministic=_DETERMINISTIC.value,
                             intra_op_threads=_NUM_THREADS.value,
                             save_path=_SAVE_PATH.value,
                             checkpoint_every_secs=_CHECKPOINT_EVERY_SECS.value,
                             rnn_mode=_RNN_MODE.value,
                             eval_mode=_EVAL_MODE.value,
                             precision=_PRECISION.value)
  runner = train_tf2 if _API.value == "tf2" else train
  if runner is train_tf2 and (_RNN_MODE.present or _PRECISION.present):
    raise app.UserError("--rnn_mode and --precision apply to --api=tf1 only")
  if options.precision == "bf16":
    if options.rnn_mode != "fused":
      raise app.UserError("--precision=bf16 needs --rnn_mode=fused (got %s)"
                          % options.rnn_mode)
    bench.require_native_bf16(bench.cpu_info())
  if _EVAL_ONLY.value:
    checkpoint = _CHECKPOINT.value or _SAVE_PATH.value
    if not checkpoint:
      raise app.UserError("--eval_only needs --checkpoint or --save_path")
    model_name, config = ckpt_lib.config_for_checkpoint(
        checkpoint, configs.PTBConfig, "model", model_name, config,
        _overrides(), name_given=_MODEL.present)
    model_name = model_name or "saved"
    runner.evaluate(model_name, config, data_path, checkpoint, options)
  else:
    runner.train(model_name, config, data_path, options)


def run():
  app.run(main)


if __name__ == "__main__":
  run()
