r"""Trains the seeds' Keras model itself on the port's data; prints JSON.

Run::

    python imdb/keras_reference.py --config=seed003 --data_path=DIR [--seed=N]

Takes every flag of :mod:`imdb.imdb_lstm` that concerns the model and the
data (config overrides, ``--data_path``, ``--cache_dir``). Builds the seed's
``Sequential`` model with tf-keras (:mod:`imdb.keras_model`), trains it with
Keras's own ``fit`` (its shuffling, its optimizer: the seeds' Keras 2
``legacy`` one) on the very reviews, vocabulary and train/validation split
that ``imdb/imdb_lstm.py`` uses with the same config, and prints one JSON
object: Keras's per-epoch history, test loss and accuracy on all 25,000 test
reviews, and the comparison with the seed's reported numbers.

What it is for: a gap between the port and a seed's published accuracy is
the port's only if Keras, on the same data, does better. Per-epoch lines go
to the log (stderr); stdout holds only the JSON. No checkpoints, no resume.
"""

import math
import os
import sys

if __package__ in (None, ""):  # `python imdb/keras_reference.py` from a checkout.
  sys.path[0] = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

from absl import logging  # pylint: disable=g-import-not-at-top,wrong-import-position

from common import app  # pylint: disable=wrong-import-position
from common import bench  # pylint: disable=wrong-import-position
from common import config as config_lib  # pylint: disable=wrong-import-position
from imdb import configs  # pylint: disable=wrong-import-position
from imdb import imdb_lstm  # pylint: disable=wrong-import-position
from imdb import keras_model  # pylint: disable=wrong-import-position
from imdb import train  # pylint: disable=wrong-import-position


# imdb_lstm's flags that Keras's fit has no use for (refused, not ignored).
_UNUSED_FLAGS = ("eval_only", "checkpoint", "save_path", "log_every",
                 "num_threads", "deterministic")


def main(argv):
  del argv  # Extra arguments are refused by common.app.run.
  app.refuse_flags(_UNUSED_FLAGS, "imdb/keras_reference.py")
  name, config = imdb_lstm.config_from_flags()
  options = imdb_lstm.options_from_flags()
  logging.info("Keras reference, config %s: %s", name,
               config_lib.to_dict(config))
  dataset = train.load_dataset(config, imdb_lstm.data_path_from_flags(),
                               options.cache_dir)
  result = keras_model.train_and_evaluate(config, dataset)
  losses = result["history"].get("loss", []) + [result["test_loss"]]
  if not all(math.isfinite(x) for x in losses):  # NaN is not JSON.
    raise app.UserError("the Keras model's loss became non-finite (epochs "
                        "%s, test %r); no result" % (
                            result["history"].get("loss"),
                            result["test_loss"]))
  rows = train.compare_with_seeds(name, result["test_accuracy"],
                                  result["test_loss"],
                                  title="Keras reference vs the seed's report")
  target = configs.TARGETS.get(name)
  result.update(
      model="keras", config_name=name, config=config_lib.to_dict(config),
      examples=dataset.sizes(), comparison=rows, target_accuracy=target,
      target_reached=train.target_reached(name, result["test_accuracy"]),
      peak_rss_mb=bench.peak_rss_mb())
  bench.print_json(result)


def run():
  app.run(main)


if __name__ == "__main__":
  run()
