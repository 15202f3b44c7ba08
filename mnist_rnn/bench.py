r"""Throughput benchmark of one row-by-row MNIST model; prints one JSON object.

Run::

    python -m mnist_rnn.bench --model=stacked --config=small
    python -m mnist_rnn.bench --model=bidirectional --config=medium

Times ``--steps`` training steps (Adam, dropout on) after ``--warmup_steps``
untimed ones, then evaluation (no dropout) of ``--eval_examples`` images in
chunks of ``--eval_batch_size``. The images are random pixels of the real
shape: speed does not depend on their values, and no data files are needed.

Output fields: ``train_examples_per_sec`` and ``train_steps_per_sec``,
``eval_examples_per_sec``, ``peak_rss_mb`` (``getrusage`` maximum resident
set size of this process), and ``estimated_run_seconds``: the config's
``max_steps`` at the measured pace plus its validation/test evaluations.
"""

import json
import os
import resource
import sys
import time

if __package__ in (None, ""):  # `python mnist_rnn/bench.py` from a checkout.
  sys.path[0] = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

from absl import flags  # pylint: disable=g-import-not-at-top,wrong-import-position
import numpy as np  # pylint: disable=g-import-not-at-top,wrong-import-position

from common import app  # pylint: disable=wrong-import-position
from common import config as config_lib  # pylint: disable=wrong-import-position
from common import session as session_lib  # pylint: disable=wrong-import-position
from common.errors import UserError  # pylint: disable=wrong-import-position
from common.tf_compat import tf, tf1  # pylint: disable=wrong-import-position
from mnist_rnn import configs  # pylint: disable=wrong-import-position
from mnist_rnn import model as model_lib  # pylint: disable=wrong-import-position
from mnist_rnn import reader  # pylint: disable=wrong-import-position

_MODEL = flags.DEFINE_string("model", "stacked", "stacked or bidirectional.")
_CONFIG = flags.DEFINE_string(
    "config", "small", "Preset: %s." % ", ".join(configs.CONFIG_NAMES))
_STEPS = flags.DEFINE_integer("steps", 100, "Timed training steps.")
_WARMUP_STEPS = flags.DEFINE_integer("warmup_steps", 10,
                                     "Untimed training steps first.")
_EVAL_EXAMPLES = flags.DEFINE_integer("eval_examples", 5000,
                                      "Images evaluated (timed).")
_EVAL_BATCH_SIZE = flags.DEFINE_integer("eval_batch_size", 1000,
                                        "Images per evaluation chunk.")
_NUM_THREADS = flags.DEFINE_integer("num_threads", 0,
                                    "intra-op threads (0 = all cores).")


def _random_batch(rng: np.random.Generator, n: int):
  images = rng.random((n, reader.IMAGE_PIXELS), dtype=np.float32)
  labels = reader.to_one_hot(rng.integers(0, reader.NUM_CLASSES, n))
  return images, labels


def _time_training(session, model, config, steps: int, warmup_steps: int,
                   rng) -> float:
  """Seconds for ``steps`` training steps after ``warmup_steps``."""
  images, labels = _random_batch(rng, config.batch_size)
  feed = model.feed(images, labels, keep_prob=config.keep_prob)
  for _ in range(warmup_steps):
    session.run(model.train_op, feed)
  start = time.perf_counter()
  for _ in range(steps):
    session.run(model.train_op, feed)
  return time.perf_counter() - start


def _time_eval(session, model, num_examples: int, batch_size: int,
               rng) -> float:
  """Seconds to evaluate ``num_examples`` images (after one warm-up chunk)."""
  images, labels = _random_batch(rng, min(batch_size, num_examples))
  session.run(model.num_correct, model.feed(images, labels))
  start = time.perf_counter()
  for done in range(0, num_examples, batch_size):
    n = min(batch_size, num_examples - done)
    session.run(model.num_correct, model.feed(images[:n], labels[:n]))
  return time.perf_counter() - start


def peak_rss_mb() -> float:
  """Maximum resident set size of this process so far, in MiB (Linux)."""
  return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def benchmark(config: configs.MnistRnnConfig, steps: int, warmup_steps: int,
              eval_examples: int, eval_batch_size: int,
              num_threads: int = 0) -> dict:
  """Measures training and evaluation speed of ``config``'s model.

  Returns:
    The JSON-friendly result (see the module docstring).
  """
  graph = tf.Graph()
  with graph.as_default():
    session_lib.seed_everything(0)
    model = model_lib.MnistRnnModel(config, is_training=True)
    params = model_lib.num_parameters(model_lib.weight_variables())
    init = tf1.global_variables_initializer()
  rng = np.random.default_rng(0)
  with session_lib.make_session(graph, num_threads) as session:
    session.run(init)
    train_s = _time_training(session, model, config, steps, warmup_steps, rng)
    eval_s = _time_eval(session, model, eval_examples, eval_batch_size, rng)
  steps_per_sec = steps / train_s
  eval_rate = eval_examples / eval_s
  evaluated = (config.max_steps // config.eval_every *
               reader.VALIDATION_SIZE + reader.VALIDATION_SIZE + 10000)
  return {
      "model": config.model, "cell": config.cell,
      "hidden_size": config.hidden_size, "num_layers": config.num_layers,
      "batch_size": config.batch_size, "parameters": params,
      "train_steps_per_sec": round(steps_per_sec, 2),
      "train_examples_per_sec": round(steps_per_sec * config.batch_size, 1),
      "eval_examples_per_sec": round(eval_rate, 1),
      "estimated_run_seconds": round(config.max_steps / steps_per_sec +
                                     evaluated / eval_rate),
      "max_steps": config.max_steps,
      "timed_steps": steps, "warmup_steps": warmup_steps,
      "eval_examples": eval_examples, "eval_batch_size": eval_batch_size,
      "num_threads": num_threads, "cpu_count": os.cpu_count(),
      "peak_rss_mb": round(peak_rss_mb(), 1),
      "tensorflow": tf.__version__,
  }


class _Options:
  """Validated bench flags (``check_*`` need attributes)."""

  def __init__(self):
    self.steps = _STEPS.value
    self.warmup_steps = _WARMUP_STEPS.value
    self.eval_examples = _EVAL_EXAMPLES.value
    self.eval_batch_size = _EVAL_BATCH_SIZE.value
    self.num_threads = _NUM_THREADS.value
    config_lib.check_positive(self, "steps", "eval_examples",
                              "eval_batch_size")
    config_lib.check_non_negative(self, "warmup_steps", "num_threads")


def main(argv):
  if len(argv) > 1:
    raise UserError("unexpected arguments: %s" % " ".join(argv[1:]))
  config = configs.get_config(_MODEL.value, _CONFIG.value)
  opts = _Options()
  result = benchmark(config, opts.steps, opts.warmup_steps,
                     opts.eval_examples, opts.eval_batch_size,
                     opts.num_threads)
  result["config"] = _CONFIG.value
  print(json.dumps(result, sort_keys=True))


def run():
  app.run(main)


if __name__ == "__main__":
  run()
