r"""Throughput benchmark of one row-by-row MNIST model; prints one JSON object.

Run::

    python -m mnist_rnn.bench --model=stacked --config=small
    python -m mnist_rnn.bench --model=bidirectional --config=medium

Takes the flags of :mod:`mnist_rnn.mnist_rnn` that shape the model (``--model``,
``--config``, every config field, ``--eval_batch_size``, ``--num_threads``).

Times ``--steps`` training steps (Adam, dropout on) after ``--warmup_steps``
untimed ones, then evaluation (no dropout) of ``--eval_examples`` images in
chunks of ``--eval_batch_size``. The images are random pixels of the real
shape: speed does not depend on their values, and no data files are needed.

Output fields: ``train_examples_per_sec`` and ``train_steps_per_sec``,
``eval_examples_per_sec``, ``peak_rss_mb`` (peak resident set size of this
process, :func:`common.bench.peak_rss_mb`), and ``estimated_run_seconds``:
the config's ``max_steps`` at the measured pace plus its validation and test
evaluations.
"""

import dataclasses
import os
import sys
from typing import Any, Dict

if __package__ in (None, ""):  # `python mnist_rnn/bench.py` in a checkout.
  sys.path[0] = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

from absl import flags  # pylint: disable=g-import-not-at-top,wrong-import-position
import numpy as np  # pylint: disable=g-import-not-at-top,wrong-import-position

from common import app  # pylint: disable=wrong-import-position
from common import bench  # pylint: disable=wrong-import-position
from common import config as config_lib  # pylint: disable=wrong-import-position
from common import session as session_lib  # pylint: disable=wrong-import-position
from common import variables  # pylint: disable=wrong-import-position
from common.tf_compat import tf1  # pylint: disable=wrong-import-position
from mnist_rnn import configs  # pylint: disable=wrong-import-position
from mnist_rnn import mnist_rnn  # pylint: disable=wrong-import-position
from mnist_rnn import model as model_lib  # pylint: disable=wrong-import-position
from mnist_rnn import reader  # pylint: disable=wrong-import-position
from mnist_rnn import train as train_lib  # pylint: disable=wrong-import-position

_STEPS = flags.DEFINE_integer("steps", 100, "Timed training steps.")
_WARMUP_STEPS = flags.DEFINE_integer("warmup_steps", 10,
                                     "Untimed training steps first.")
_EVAL_EXAMPLES = flags.DEFINE_integer("eval_examples", 5000,
                                      "Images evaluated (timed).")


def _random_set(rng: np.random.Generator, n: int) -> reader.DataSet:
  """``n`` random images (uint8 pixels) and labels, in file order."""
  images = rng.integers(0, 256, (n, reader.IMAGE_ROWS, reader.IMAGE_COLS),
                        dtype=np.uint8)
  labels = rng.integers(0, reader.NUM_CLASSES, n)
  return reader.DataSet(images, labels, shuffle=False)


def _training_steps_per_sec(session, model, config, steps: int,
                            warmup_steps: int, rng) -> float:
  """Training steps per second over ``steps`` after ``warmup_steps``."""
  images, labels = _random_set(rng, config.batch_size).next_batch(
      config.batch_size)
  feed = model.feed(images, labels, keep_prob=config.keep_prob)
  return bench.rate(lambda: session.run(model.train_op, feed), 1, steps,
                    warmup_steps)


def _time_eval(session, model, num_examples: int, batch_size: int,
               rng) -> float:
  """Seconds :func:`train.evaluate_set` takes for ``num_examples`` random
  images, ``batch_size`` at a time (after one untimed chunk)."""
  train_lib.evaluate_set(session, model, _random_set(rng, batch_size),
                         batch_size)
  dataset = _random_set(rng, num_examples)
  return bench.timed(
      lambda: train_lib.evaluate_set(session, model, dataset, batch_size), 1)


@dataclasses.dataclass(frozen=True)
class BenchOptions:
  """What to time."""
  steps: int = 100  # Timed training steps.
  warmup_steps: int = 10  # Untimed training steps before them.
  eval_examples: int = 5000  # Images evaluated (timed).
  eval_batch_size: int = 1000  # Images per evaluation chunk.
  num_threads: int = 0  # intra-op threads; 0 = all cores.

  def __post_init__(self):
    config_lib.check_positive(self, "steps", "eval_examples",
                              "eval_batch_size")
    config_lib.check_non_negative(self, "warmup_steps", "num_threads")


def run_benchmark(config: configs.MnistRnnConfig,
                  options: BenchOptions) -> Dict[str, Any]:
  """Measures training and evaluation speed of ``config``'s model.

  Returns:
    The JSON-friendly result (see the module docstring).
  """
  def build():
    model = model_lib.MnistRnnModel(config, is_training=True)
    return (model, variables.num_parameters(model_lib.weight_variables()),
            tf1.global_variables_initializer())
  graph, (model, params, init) = session_lib.build_graph(build, seed=0)
  rng = np.random.default_rng(0)
  with session_lib.make_session(graph, options.num_threads) as session:
    session.run(init)
    steps_per_sec = _training_steps_per_sec(
        session, model, config, options.steps, options.warmup_steps, rng)
    eval_s = _time_eval(session, model, options.eval_examples,
                        options.eval_batch_size, rng)
  eval_rate = options.eval_examples / eval_s
  evaluated = (config.validation_passes() * reader.VALIDATION_SIZE +
               reader.TEST_SIZE)
  return {
      "model": config.model, "cell": config.cell,
      "hidden_size": config.hidden_size, "num_layers": config.num_layers,
      "batch_size": config.batch_size, "parameters": params,
      "train_steps_per_sec": round(steps_per_sec, 2),
      "train_examples_per_sec": round(steps_per_sec * config.batch_size, 1),
      "eval_examples_per_sec": round(eval_rate, 1),
      "estimated_run_seconds": round(config.max_steps / steps_per_sec +
                                     evaluated / eval_rate),
      "max_steps": config.max_steps, "cpu_count": os.cpu_count(),
      **dataclasses.asdict(options),
      "peak_rss_mb": round(bench.peak_rss_mb(), 1),
  }


# mnist_rnn's flags that a benchmark on random pixels has no use for
# (refused, not ignored).
_UNUSED_FLAGS = ("eval_only", "checkpoint", "save_path", "data_path",
                 "download", "verify_checksums", "seed", "deterministic",
                 "steps_this_run")


def main(argv):
  del argv  # Extra arguments are refused by common.app.run.
  app.refuse_flags(_UNUSED_FLAGS, "mnist_rnn.bench")
  config = mnist_rnn.config_from_flags()
  run_options = mnist_rnn.options_from_flags()
  options = BenchOptions(
      steps=_STEPS.value, warmup_steps=_WARMUP_STEPS.value,
      eval_examples=_EVAL_EXAMPLES.value,
      eval_batch_size=run_options.eval_batch_size,
      num_threads=run_options.intra_op_threads)
  result = run_benchmark(config, options)
  result["config"] = flags.FLAGS["config"].value
  bench.print_json(result)


def run():
  app.run(main)


if __name__ == "__main__":
  run()
