"""See README.md in this folder (command, machine, output).

Backs the "measured here" column of docs/migration.md's PTB parity table:
the same computations as tests/test_ptb_tf2.py (its own helpers, its
configs and seeds), printing how far apart the TF1 graph and the TF2 twin
are instead of asserting a tolerance.
"""
import dataclasses
import json
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "..", "..", ".."))

# pylint: disable=wrong-import-position
import numpy as np

from common.tf_compat import tf
from ptb import configs
from ptb import convert_checkpoint as cc
from ptb import model_tf2
from ptb import reader
from ptb import train
from ptb import train_tf2
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
  tf1_run = t._TF1(t.TINY)
  model = t._twin_of(tf1_run, t.TINY)
  steps = train_tf2.Steps(model)
  valid = tf1_run.models.valid
  s1, s2 = tf1_run.zero_state(valid), model.zero_state(t.TINY.batch_size)
  loss_gap = state_gap = 0.0
  for x, y in t._chunks(t.TINY, 5):
    c1, s1 = tf1_run.run(valid, x, y, s1)
    c2, s2 = steps.evaluate(tf.constant(x), tf.constant(y), s2)
    loss_gap = max(loss_gap, abs(float(c2) - float(c1)))
    state_gap = max(state_gap, _state_gap(s1, s2))
  return dict(loss_max_abs_diff=loss_gap, state_max_abs_diff=state_gap)


def real_valid():
  """InferenceParityTest.test_real_valid_perplexity_to_four_significant_digits
  (its first half)."""
  data = reader.load(testutil.data_dir("ptb"))
  cfg = dataclasses.replace(configs.CONFIGS.get("small"), hidden_size=16,
                            init_scale=0.5)
  tf1_run = t._TF1(cfg, seed=3)
  with tf1_run.graph.as_default():
    tf1_ppl = train.run_epoch(tf1_run.session, tf1_run.models.valid,
                              data.valid, name="valid").perplexity
  model = t._twin_of(tf1_run, cfg)
  tf2_ppl = train_tf2.run_epoch(train_tf2.Steps(model).evaluate, model, cfg,
                                data.valid, name="valid").perplexity
  return dict(tf1=tf1_ppl, tf2=tf2_ppl,
              relative_diff=abs(tf2_ppl - tf1_ppl) / tf1_ppl)


def ten_sgd_steps(keep_prob: float):
  """TrainingParityTest.test_ten_sgd_steps_with_clipping."""
  cfg = dataclasses.replace(t.TINY, keep_prob=keep_prob)
  tf1_run = t._TF1(cfg, seed=4, dropout_seed=11)
  model = t._twin_of(tf1_run, cfg, dropout_seed=11)
  optimizer = model_tf2.build_optimizer(model, learning_rate=1.0)
  tf1_run.models.train.assign_lr(tf1_run.session, 1.0)
  steps = train_tf2.Steps(model, optimizer)
  m = tf1_run.models.train
  s1, s2 = tf1_run.zero_state(m), model.zero_state(cfg.batch_size)
  loss_gap = 0.0
  for x, y in t._chunks(cfg, 10, seed=1):
    with tf1_run.graph.as_default():
      c1, s1 = tf1_run.run(m, x, y, s1, m.train_op)
    c2, s2, _ = steps.train(tf.constant(x), tf.constant(y), s2)
    loss_gap = max(loss_gap, abs(float(c2) - float(c1)))
  return dict(loss_max_abs_diff=loss_gap,
              weights_max_abs_diff=_weight_gap(tf1_run.weights(),
                                               cc.weights_of(model)),
              state_max_abs_diff=_state_gap(s1, s2))


def main():
  print(json.dumps(dict(
      per_chunk=per_chunk(), real_valid=real_valid(),
      ten_sgd_steps_dropout_off=ten_sgd_steps(1.0),
      ten_sgd_steps_dropout_on=ten_sgd_steps(0.5),
      tf_version=tf.__version__), indent=1))


if __name__ == "__main__":
  main()
