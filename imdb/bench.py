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
from typing import Any, Dict

if __package__ in (None, ""):  # `python imdb/bench.py` from a checkout.
  sys.path[0] = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

from absl import flags  # pylint: disable=g-import-not-at-top,wrong-import-position
import numpy as np  # pylint: disable=g-import-not-at-top,wrong-import-position

from common import app  # pylint: disable=wrong-import-position
from common import bench  # pylint: disable=wrong-import-position
from common import config as config_lib  # pylint: disable=wrong-import-position
from common.progress import format_duration  # pylint: disable=wrong-import-position
from common.tf_compat import tf1  # pylint: disable=wrong-import-position
from imdb import configs  # pylint: disable=wrong-import-position
from imdb import imdb_lstm  # pylint: disable=wrong-import-position
from imdb import model as model_lib  # pylint: disable=wrong-import-position
from imdb import reader  # pylint: disable=wrong-import-position
from imdb import train  # pylint: disable=wrong-import-position

_TRAIN_STEPS = flags.DEFINE_integer("train_steps", 50, "Timed training steps.",
                                    lower_bound=1)
_EVAL_STEPS = flags.DEFINE_integer("eval_steps", 20, "Timed eval batches.",
                                   lower_bound=1)
_WARMUP_STEPS = flags.DEFINE_integer("warmup_steps", 5,
                                     "Untimed steps before each timing.",
                                     lower_bound=0)


def benchmark(config: configs.IMDBConfig, dataset: reader.Dataset,
              options: train.RunOptions = train.RunOptions(),
              train_steps: int = 50, eval_steps: int = 20,
              warmup_steps: int = 5) -> Dict[str, Any]:
  """Training and evaluation throughput after warm-up (nothing is saved).

  Training steps take full batches of the first epoch's order, eval steps
  full batches of test reviews; each is timed after ``warmup_steps`` untimed
  ones.

  Returns:
    ``train_examples_per_sec``, ``eval_examples_per_sec`` and the steps run.
  """
  run = train.build_run(config, options)
  with run.graph.as_default(), run.session as session:
    session.run(tf1.global_variables_initializer())
    m = run.models
    order = reader.epoch_order(len(dataset.train), config.seed, 0)
    train_step = _stepper(session, [m.train.loss, m.train.train_op], m.train,
                          dataset.train, order)
    eval_step = _stepper(session, [m.eval.loss], m.eval, dataset.test,
                         np.arange(len(dataset.test)))
    rates = {name: bench.rate(step, config.batch_size, steps,
                                     warmup_steps)
             for name, step, steps in (("train", train_step, train_steps),
                                       ("eval", eval_step, eval_steps))}
  return {"train_examples_per_sec": rates["train"],
          "eval_examples_per_sec": rates["eval"], "train_steps": train_steps,
          "eval_steps": eval_steps, "warmup_steps": warmup_steps,
          "batch_size": config.batch_size}


def _stepper(session: tf1.Session, fetches, model: model_lib.IMDBModel,
             examples: reader.Examples, order: np.ndarray):
  """A function running ``fetches`` on the next full batch of ``order``."""
  batch_size = model.config.batch_size
  position = [0]

  def step():
    index = np.take(order, np.arange(position[0], position[0] + batch_size),
                    mode="wrap")
    position[0] += batch_size
    session.run(fetches, train.feed_dict(model, examples, index))
  return step


def estimate_seconds(config, sizes, train_rate: float,
                     eval_rate: float) -> float:
  """Duration of the full run at the measured rates (see module docstring)."""
  epoch = sizes["train"] / train_rate + sizes["valid"] / eval_rate
  return config.max_epochs * epoch + sizes["test"] / eval_rate


# imdb_lstm's flags that a benchmark has no use for (refused, not ignored).
_UNUSED_FLAGS = ("eval_only", "checkpoint", "save_path", "log_every")


def main(argv):
  del argv  # Extra arguments are refused by common.app.run.
  app.refuse_flags(_UNUSED_FLAGS, "imdb.bench")
  name, config = imdb_lstm.config_from_flags()
  options = imdb_lstm.options_from_flags()
  start = time.perf_counter()
  dataset = train.load_dataset(config, imdb_lstm.data_path_from_flags(),
                               options.cache_dir)
  load_seconds = time.perf_counter() - start
  result = benchmark(config, dataset, options,
                     train_steps=_TRAIN_STEPS.value,
                     eval_steps=_EVAL_STEPS.value,
                     warmup_steps=_WARMUP_STEPS.value)
  sizes = dataset.sizes()
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
