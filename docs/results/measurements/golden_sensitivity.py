"""See README.md in this folder (command, machine, output).

Backs the tolerance paragraph of docs/report.md and common/golden.py's
docstring: how far PTB's golden values (``common.golden.run("ptb")``: the
``test`` preset on the fixed real-data slice, deterministic, one thread)
move under rounding-sized and under real changes of the inputs and the math.
Prints, for each change, the relative move of train / valid / test
perplexity against an unchanged run in the same process, and whether the
unchanged runs repeat bit for bit (1 and 2 threads).
"""
import json
import os
import sys
from unittest import mock

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "..", "..", ".."))

# pylint: disable=wrong-import-position
from common import golden
from common.tf_compat import tf
from ptb import model as ptb_model
from tests import test_golden

KEYS = ("train_perplexity", "valid_perplexity", "test_perplexity")


class _MeanOverSteps:
  """``tf`` with ``reduce_sum`` (the cost's sum over the steps, the only
  use in ptb/model.py) replaced by ``reduce_mean``."""
  reduce_sum = staticmethod(tf.reduce_mean)

  def __getattr__(self, name):
    return getattr(tf, name)


CHANGES = {  # tests/test_golden.py's mocks, and one more.
    "learning_rate x (1 + 2**-23)": lambda: test_golden.scaled_preset(
        learning_rate=1 + 2**-23),
    "init_scale x (1 + 2**-22)": lambda: test_golden.scaled_preset(
        init_scale=1 + 2**-22),
    "learning_rate x (1 + 1e-5)": lambda: test_golden.scaled_preset(
        learning_rate=1 + 1e-5),
    "forget_bias 0 -> 1": test_golden.forget_bias_one,
    "loss: mean over the steps, not sum": lambda: mock.patch.object(
        ptb_model, "tf", _MeanOverSteps()),
}


def _relative(base, fresh):
  return [abs(fresh[k] - base[k]) / abs(base[k]) for k in KEYS]


def main():
  root = os.environ.get("DATA_DIR", "../shared/data")
  base = golden.run("ptb", root)
  out = {"base": base,
         "repeat_1_thread_identical": golden.run("ptb", root) == base,
         "repeat_2_threads_identical": golden.run("ptb", root, 2) == base,
         "committed_golden_relative": _relative(golden.load("ptb")["values"],
                                                base),
         "cpu": golden.cpu_info(), "moves (train, valid, test)": {}}
  for name, change in CHANGES.items():
    with change():
      out["moves (train, valid, test)"][name] = [
          float("%.2g" % r) for r in _relative(base, golden.run("ptb", root))]
  print(json.dumps(out, indent=1))


if __name__ == "__main__":
  main()
