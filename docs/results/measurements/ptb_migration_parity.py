"""See README.md in this folder (command, machine, output).

Backs the "measured here" column of docs/migration.md's PTB parity table:
the same computations as tests/test_ptb_tf2.py (its own helpers, its
configs and seeds), printing how far apart the TF1 graph and the TF2 twin
are instead of asserting a tolerance.
"""
import json
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "..", "..", ".."))

# pylint: disable=wrong-import-position
import numpy as np

from common.tf_compat import tf
from ptb import convert_checkpoint as cc
from ptb import reader
from tests import test_ptb_tf2 as t
from tests import testutil


def _state_gap(a, b) -> float:
  """Largest |difference| over every layer's c and h."""
  return max(float(np.abs(np.subtract(getattr(x, part), getattr(y, part))
                          ).max())
             for x, y in zip(a, b) for part in ("c", "h"))


def _weight_gap(a: cc.Weights, b: cc.Weights) -> float:
  arrays_a, arrays_b = a.tf1_arrays(), b.tf1_arrays()
  return max(float(np.abs(arrays_a[n] - arrays_b[n]).max()) for n in arrays_a)


def per_chunk():
  """InferenceParityTest.test_per_chunk_losses_and_carried_states."""
  runs = t.per_chunk_parity()
  return dict(
      loss_max_abs_diff=max(abs(float(c2) - float(c1))
                            for c1, c2, _, _ in runs),
      state_max_abs_diff=max(_state_gap(s1, s2) for _, _, s1, s2 in runs))


def real_valid():
  """InferenceParityTest.test_real_valid_perplexity_to_four_significant_digits
  (its first half)."""
  *_, tf1_ppl, tf2_ppl = t.real_valid_parity(
      reader.load(testutil.data_dir("ptb")))
  return dict(tf1=tf1_ppl, tf2=tf2_ppl,
              relative_diff=abs(tf2_ppl - tf1_ppl) / tf1_ppl)


def ten_sgd_steps(keep_prob: float):
  """TrainingParityTest.test_ten_sgd_steps_with_clipping."""
  run = t.ten_sgd_steps_parity(keep_prob)
  return dict(loss_max_abs_diff=float(np.abs(np.subtract(
                  run.tf2_losses, run.tf1_losses)).max()),
              weights_max_abs_diff=_weight_gap(run.tf1_run.weights(),
                                               cc.weights_of(run.model)),
              state_max_abs_diff=_state_gap(run.tf1_state, run.tf2_state))


def main():
  print(json.dumps(dict(
      per_chunk=per_chunk(), real_valid=real_valid(),
      ten_sgd_steps_dropout_off=ten_sgd_steps(1.0),
      ten_sgd_steps_dropout_on=ten_sgd_steps(0.5),
      tf_version=tf.__version__), indent=1))


if __name__ == "__main__":
  main()
