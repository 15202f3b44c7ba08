r"""Sample text from a trained PTB model, or score a text with it.

Run (from a checkout, or ``ptb-generate`` after ``pip install .``)::

    python ptb/generate.py --checkpoint=RUN --data_path=DIR --words=50 \
        --temperature=1.0 --seed=1 [--prime="the company said"]
    python ptb/generate.py --checkpoint=RUN --data_path=DIR --score_file=F

``RUN`` is a run directory of this port (its ``config.json`` gives the model)
or a checkpoint prefix; a checkpoint of the original tutorial has no config,
so ``--model`` names its preset. ``DIR`` holds the ``ptb.train.txt`` the
model was trained on: the vocabulary is rebuilt from it.

Generation feeds ``<eos>`` and the prime, then samples one word at a time
from the softmax at ``--temperature``, the LSTM state carried; the text goes
to stdout, each ``<eos>`` as a line break. The same ``--seed`` gives the same
text. ``--score_file`` prints each line's and the whole text's perplexity
instead (tab-separated). See ``docs/inference.md`` and ``ptb/inference.py``.
"""

import os
import sys

if __package__ in (None, ""):  # `python ptb/generate.py` from a checkout.
  sys.path[0] = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

from absl import flags  # pylint: disable=g-import-not-at-top,wrong-import-position

from common import app  # pylint: disable=wrong-import-position
from common import config as config_lib  # pylint: disable=wrong-import-position
from common import data as data_lib  # pylint: disable=wrong-import-position
from ptb import configs  # pylint: disable=wrong-import-position
from ptb import inference  # pylint: disable=wrong-import-position

_CHECKPOINT = flags.DEFINE_string(
    "checkpoint", None, "Run directory or checkpoint prefix (this port's or "
    "the original tutorial's).", required=True)
_DATA_PATH = flags.DEFINE_string(
    "data_path", None, "Directory with the ptb.train.txt the model was "
    "trained on (default: $DATA_DIR/ptb, then ./data/ptb).")
_MODEL = flags.DEFINE_enum(
    "model", "small", configs.CONFIGS.names, "Preset of a checkpoint without "
    "config.json (the original tutorial's); a run directory's config wins.")
_WORDS = flags.DEFINE_integer("words", 100, "Words to sample.", lower_bound=1)
_TEMPERATURE = flags.DEFINE_float(
    "temperature", 1.0, "Softmax temperature (> 0): below 1 more likely "
    "words, above 1 more varied ones.")
_SEED = flags.DEFINE_integer("seed", None, "Sampling seed; same seed, same "
                             "text (default: random, logged).", lower_bound=0,
                             upper_bound=config_lib.MAX_SEED)
_PRIME = flags.DEFINE_string("prime", "", "Words fed before sampling (words "
                             "outside the vocabulary become <unk>).")
_SCORE_FILE = flags.DEFINE_string(
    "score_file", None, "Score this UTF-8 text file instead of sampling: "
    "per-line and total perplexity.")

_SAMPLING_FLAGS = ("words", "temperature", "seed", "prime")


def main(argv):
  del argv  # Extra arguments are refused by common.app.run.
  if _SCORE_FILE.value:
    app.refuse_flags(_SAMPLING_FLAGS, "--score_file")
    tokens = inference.read_text(_SCORE_FILE.value)
  else:
    inference.check_temperature(_TEMPERATURE.value)
  vocab = inference.load_vocabulary(
      data_lib.resolve_data_dir(_DATA_PATH.value, "ptb"))
  with inference.open_model(_CHECKPOINT.value, _MODEL.value, vocab,
                            name_given=_MODEL.present) as lm:
    if _SCORE_FILE.value:
      print(inference.format_scores(inference.score(lm, vocab, tokens)))
    else:
      sample = inference.generate(lm, vocab, _WORDS.value, _TEMPERATURE.value,
                                  _SEED.value, _PRIME.value)
      print(inference.format_text(sample.prime + sample.words))


def run():
  app.run(main)


if __name__ == "__main__":
  run()
