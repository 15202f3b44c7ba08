r"""IMDB throughput benchmark: training and eval examples/s, peak RSS, as JSON.

Run::

    python -m imdb.bench --config=seed000 --data_path=DIR [--train_steps=50]

Takes every flag of :mod:`imdb.imdb_lstm` (config overrides, data, cache,
threads). Runs ``--warmup_steps`` untimed steps, then ``--train_steps`` timed
training steps (random init, batches of the first epoch's order) and
``--eval_steps`` timed eval batches of test reviews, and prints one JSON
object: examples/s, the peak resident set size of the process (data included),
and the full run's duration estimated from these rates
(``max_epochs * (train / train_rate + valid / eval_rate) + test / eval_rate``,
without early stopping, start-up or checkpoints).
"""

import os
import sys
import time

if __package__ in (None, ""):  # `python imdb/bench.py` from a checkout.
  sys.path[0] = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

from absl import flags  # pylint: disable=g-import-not-at-top,wrong-import-position

from common import app  # pylint: disable=wrong-import-position
from common import bench  # pylint: disable=wrong-import-position
from common import config as config_lib  # pylint: disable=wrong-import-position
from common.progress import format_duration  # pylint: disable=wrong-import-position
from imdb import imdb_lstm  # pylint: disable=wrong-import-position
from imdb import train  # pylint: disable=wrong-import-position

_TRAIN_STEPS = flags.DEFINE_integer("train_steps", 50, "Timed training steps.",
                                    lower_bound=1)
_EVAL_STEPS = flags.DEFINE_integer("eval_steps", 20, "Timed eval batches.",
                                   lower_bound=1)
_WARMUP_STEPS = flags.DEFINE_integer("warmup_steps", 5,
                                     "Untimed steps before each timing.",
                                     lower_bound=0)


def estimate_seconds(config, sizes, train_rate: float,
                     eval_rate: float) -> float:
  """Duration of the full run at the measured rates (see module docstring)."""
  epoch = sizes["train"] / train_rate + sizes["valid"] / eval_rate
  return config.max_epochs * epoch + sizes["test"] / eval_rate


def main(argv):
  if len(argv) > 1:
    raise app.UserError("unexpected arguments: %s" % " ".join(argv[1:]))
  name, config = imdb_lstm.config_from_flags()
  options = imdb_lstm.options_from_flags()
  start = time.perf_counter()
  dataset = train.load_dataset(config, imdb_lstm.data_path_from_flags(),
                               options.cache_dir)
  load_seconds = time.perf_counter() - start
  result = train.benchmark(config, dataset, options,
                           train_steps=_TRAIN_STEPS.value,
                           eval_steps=_EVAL_STEPS.value,
                           warmup_steps=_WARMUP_STEPS.value)
  sizes = {"train": len(dataset.train), "valid": len(dataset.valid),
           "test": len(dataset.test)}
  seconds = estimate_seconds(config, sizes, result["train_examples_per_sec"],
                             result["eval_examples_per_sec"])
  result.update(
      config_name=name, config=config_lib.to_dict(config), examples=sizes,
      data_load_seconds=load_seconds, peak_rss_mb=bench.peak_rss_mb(),
      cpu_count=os.cpu_count(), intra_op_threads=options.intra_op_threads,
      estimated_run_seconds=seconds,
      estimated_run=format_duration(seconds))
  bench.print_json(result)


def run():
  app.run(main)


if __name__ == "__main__":
  run()
