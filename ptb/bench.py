r"""PTB throughput benchmark; prints one JSON object.

Run::

    python -m ptb.bench --model=small

Measures, on the real graph of the preset (random word ids: speed does not
depend on which words are fed):

* ``train_words_per_sec``: training steps (SGD, clipping, state fed through
  ``feed_dict``) after ``--warmup_steps`` untimed ones;
* ``eval_words_per_sec``: the Valid graph (same shapes, no training);
* ``test_words_per_sec``: the Test graph (batch 1, one step per run);
* ``peak_rss_mb``: peak resident memory of the process.
"""

import os
import sys

if __package__ in (None, ""):  # `python ptb/bench.py` from a checkout.
  sys.path[0] = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

from absl import flags  # pylint: disable=g-import-not-at-top,wrong-import-position
import numpy as np  # pylint: disable=g-import-not-at-top,wrong-import-position

from common import app  # pylint: disable=wrong-import-position
from common import bench  # pylint: disable=wrong-import-position
from common import session as session_lib  # pylint: disable=wrong-import-position
from common.tf_compat import tf1  # pylint: disable=wrong-import-position
from ptb import configs  # pylint: disable=wrong-import-position
from ptb import model as model_lib  # pylint: disable=wrong-import-position

_MODEL = flags.DEFINE_enum("model", "small", configs.CONFIGS.names, "Preset.")
_STEPS = flags.DEFINE_integer("steps", 200, "Timed steps per graph.",
                              lower_bound=1)
_WARMUP_STEPS = flags.DEFINE_integer("warmup_steps", 20, "Untimed steps.",
                                     lower_bound=0)
_NUM_THREADS = flags.DEFINE_integer("num_threads", 0, "intra-op threads.",
                                    lower_bound=0)


def _stepper(session, model, rng, train_op=None):
  """A function running one chunk with the state carried, like run_epoch."""
  cfg = model.config
  shape = (cfg.batch_size, cfg.num_steps)
  state = [session.run(model.initial_state)]
  fetches = {"cost": model.cost, "final_state": model.final_state}
  if train_op is not None:
    fetches["train_op"] = train_op

  def step():
    feed = {model.input_data: rng.integers(0, cfg.vocab_size, shape, np.int32),
            model.targets: rng.integers(0, cfg.vocab_size, shape, np.int32)}
    feed.update(model_lib.state_feed(model.initial_state, state[0]))
    state[0] = session.run(fetches, feed)["final_state"]
  return step


def main(argv):
  del argv
  config = configs.CONFIGS.get(_MODEL.value)
  graph, models = session_lib.build_graph(
      lambda: model_lib.build_models(config, configs.eval_config(config)),
      seed=0)
  rng = np.random.default_rng(0)
  words = config.batch_size * config.num_steps
  with graph.as_default(), session_lib.make_session(
      graph, _NUM_THREADS.value) as session:
    session.run(tf1.global_variables_initializer())
    models.train.assign_lr(session, config.learning_rate)
    steps, warm = _STEPS.value, _WARMUP_STEPS.value
    record = {
        "model": _MODEL.value,
        "train_words_per_sec": bench.rate(
            _stepper(session, models.train, rng, models.train.train_op),
            words, steps, warm),
        "eval_words_per_sec": bench.rate(
            _stepper(session, models.valid, rng), words, steps, warm),
        "test_words_per_sec": bench.rate(
            _stepper(session, models.test, rng), 1, steps * 10, warm),
        "steps": steps, "warmup_steps": warm,
        "intra_op_threads": _NUM_THREADS.value,
    }
  record["peak_rss_mb"] = bench.peak_rss_mb()
  bench.print_json(record)


if __name__ == "__main__":
  app.run(main)
