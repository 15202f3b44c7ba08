r"""Export a trained PTB model as a SavedModel (next-word log-probabilities).

Run (``python -m ptb.export``, or ``ptb-export`` after ``pip install .``)::

    python -m ptb.export --checkpoint=RUN --export_dir=OUT [--data_path=DIR]

Writes ``OUT`` with the TF1 SavedModel builder: signature ``serving_default``
takes ``word_id`` [1, 1] int32 and every layer's state ``c0, h0, c1, h1, ...``
[1, H]; it returns ``log_probs`` [1, vocab_size] and the new state
``new_c0, new_h0, ...``. ``OUT/assets/vocab.txt`` lists the words in id order
(rebuilt from ``DIR/ptb.train.txt``). It loads in plain TensorFlow 2 with
``tf.saved_model.load(OUT)``, without this project. An existing ``OUT`` is
refused, never overwritten. See ``docs/inference.md``.
"""

import os
import sys

if __package__ in (None, ""):  # `python ptb/export.py` from a checkout.
  sys.path[0] = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

from absl import flags  # pylint: disable=g-import-not-at-top,wrong-import-position

from common import app  # pylint: disable=wrong-import-position
from common import data as data_lib  # pylint: disable=wrong-import-position
from ptb import configs  # pylint: disable=wrong-import-position
from ptb import inference  # pylint: disable=wrong-import-position

_CHECKPOINT = flags.DEFINE_string(
    "checkpoint", None, "Run directory or checkpoint prefix (this port's or "
    "the original tutorial's).", required=True)
_EXPORT_DIR = flags.DEFINE_string(
    "export_dir", None, "Where the SavedModel goes; must not exist.",
    required=True)
_DATA_PATH = flags.DEFINE_string(
    "data_path", None, "Directory with the ptb.train.txt the model was "
    "trained on (default: $DATA_DIR/ptb, then ./data/ptb).")
_MODEL = flags.DEFINE_enum(
    "model", "small", configs.CONFIGS.names, "Preset of a checkpoint without "
    "config.json (the original tutorial's); a run directory's config wins.")


def main(argv):
  del argv  # Extra arguments are refused by common.app.run.
  inference.check_export_dir(_EXPORT_DIR.value)
  vocab = inference.load_vocabulary(
      data_lib.resolve_data_dir(_DATA_PATH.value, "ptb"))
  with inference.open_model(_CHECKPOINT.value, _MODEL.value, vocab,
                            name_given=_MODEL.present) as lm:
    inference.export_saved_model(lm, vocab, _EXPORT_DIR.value)
  print(_EXPORT_DIR.value)


def run():
  app.run(main)


if __name__ == "__main__":
  run()
