"""Golden values: each workload's test preset, fresh, against tests/golden/.

A failure here means the numbers moved: a TensorFlow / numpy upgrade, another
CPU (the golden files record the SIMD flags they were made on), or a change of
the math. If the change is intended, regenerate and commit the JSON files:
``python -m common.golden`` (it prints the differences). The tolerance is
``common.golden.RTOL``; its docstring says why.
"""

import dataclasses
import json
import os
from unittest import mock

from absl.testing import absltest
from absl.testing import flagsaver

from common import bench
from common import golden
from common.tf_compat import rnn_cell
from ptb import configs as ptb_configs
from ptb import model as ptb_model
from tests import testutil


def _data_root():
  return os.path.dirname(testutil.data_dir("ptb"))


def _assert_matches(testcase, workload, fresh, record=None):
  record = record or golden.load(workload)
  diffs = golden.differences(record["values"], fresh, record["rtol"])
  outside = [d for d in diffs if d.outside]
  if outside:
    note = golden.environment_note(record["environment"])
    testcase.fail("%s moved (regenerate with python -m common.golden if "
                  "intended):\n%s%s" % (
                      workload, golden.format_differences(workload, diffs),
                      "\nenvironment differs: " + note if note else ""))


class GoldenValuesTest(absltest.TestCase):

  def test_ptb(self):
    _assert_matches(self, "ptb", golden.run("ptb", _data_root()))

  def test_mnist_rnn(self):
    _assert_matches(self, "mnist_rnn", golden.run("mnist_rnn", _data_root()))

  def test_imdb(self):
    _assert_matches(self, "imdb", golden.run("imdb", _data_root()))

  def test_files_record_the_environment_and_setup(self):
    for workload in golden.WORKLOADS:
      record = golden.load(workload)
      env = record["environment"]
      for key in ("tensorflow", "numpy", "python", "onednn"):
        self.assertTrue(env[key], msg=(workload, key))
      self.assertIsInstance(env["cpu"]["flags"], list)
      self.assertTrue(set(env["cpu"]["flags"]) <= set(bench.CPU_FLAGS))
      self.assertEqual(record["rtol"], golden.RTOL)
      self.assertTrue(record["deterministic"])
      self.assertEqual(record["threads"], {"intra_op": 1, "inter_op": 1})
      self.assertGreaterEqual(len(record["values"]), 3)


def _forget_bias_one(*args, **kwargs):
  kwargs["forget_bias"] = 1.0
  return _REAL_BASIC_LSTM_CELL(*args, **kwargs)


_REAL_BASIC_LSTM_CELL = rnn_cell.BasicLSTMCell


def forget_bias_one():
  """Every PTB ``BasicLSTMCell`` built with ``forget_bias=1.0``, not 0.0."""
  return mock.patch.object(ptb_model.rnn_cell, "BasicLSTMCell",
                           side_effect=_forget_bias_one)


def scaled_preset(**factors):
  """Every PTB preset with the named fields multiplied (a mock of
  ``ptb.configs.CONFIGS.get``)."""
  real_get = ptb_configs.CONFIGS.get

  def get(name):
    config = real_get(name)
    return dataclasses.replace(config, **{
        k: getattr(config, k) * f for k, f in factors.items()})
  return mock.patch.object(ptb_configs.CONFIGS, "get", side_effect=get)

# docs/results/measurements/golden_sensitivity.py measures these and more.


class ToleranceTest(absltest.TestCase):
  """The tolerance is tight enough to catch a change of the math, and loose
  enough for a float32-rounding-sized change of an input. (The loss as a
  mean instead of a sum over the steps moves the perplexities by 95-100%;
  left out here to keep this file fast. Numbers:
  docs/results/measurements/golden_sensitivity.py.)"""

  def _ptb_outside(self):
    fresh = golden.run("ptb", _data_root())
    diffs = golden.differences(golden.load("ptb")["values"], fresh)
    return {d.name: d.relative for d in diffs if d.outside}

  def test_forget_bias_zero_to_one_breaks_it(self):
    with forget_bias_one() as cell:
      outside = self._ptb_outside()
    self.assertTrue(cell.called)
    self.assertEqual(sorted(outside), ["test_perplexity", "train_perplexity",
                                       "valid_perplexity"])
    # Measured: 6.4-8.3% (against RTOL 1e-5).
    self.assertGreater(min(outside.values()), 100 * golden.RTOL)

  def test_one_float32_ulp_of_the_learning_rate_stays_inside(self):
    with scaled_preset(learning_rate=1 + 2**-23):
      fresh = golden.run("ptb", _data_root())
    record = golden.load("ptb")
    self.assertNotEqual(fresh, record["values"])  # It did change something.
    _assert_matches(self, "ptb", fresh, record)


class MachineryTest(absltest.TestCase):

  def test_determinism_is_switched_back_off(self):
    from tensorflow.python.framework import config as tf_config  # pylint: disable=g-import-not-at-top
    self.assertFalse(tf_config.is_op_determinism_enabled())
    with golden.deterministic_ops():
      self.assertTrue(tf_config.is_op_determinism_enabled())
    self.assertFalse(tf_config.is_op_determinism_enabled())

  def test_cpu_flags_from_cpuinfo(self):
    path = self.create_tempfile(content=(
        "processor\t: 0\nmodel name\t: Test CPU 9000\n"
        "flags\t\t: fpu sse4_2 avx avx2 fma avx512f amx_tile amx_bf16\n"
        "processor\t: 1\n")).full_path
    self.assertEqual(golden.cpu_info(path), {
        "model": "Test CPU 9000",
        "flags": ["sse4_2", "avx", "avx2", "fma", "avx512f", "amx_tile",
                  "amx_bf16"]})
    self.assertEqual(golden.cpu_info(path + ".absent")["flags"], [])

  def test_differences(self):
    diffs = golden.differences({"a": 100.0, "b": 1.0, "gone": 2.0},
                               {"a": 100.0009, "b": 1.00002, "new": 3.0},
                               rtol=1e-5)
    self.assertEqual([(d.name, d.outside) for d in diffs],
                     [("a", False), ("b", True), ("gone", True),
                      ("new", True)])
    text = golden.format_differences("w", diffs)
    self.assertRegex(text, r"\n  b +1 +1\.00002 +2\.0e-05  OUTSIDE")
    self.assertRegex(text, r"\n  gone +2 +- +-  missing")
    self.assertRegex(text, r"\n  new +- +3 +-  new")

  def _main(self, directory, fresh, check):
    """``python -m common.golden`` for ptb, the run mocked to give ``fresh``;
    returns (printed text, exit status)."""
    status = 0
    with flagsaver.flagsaver(golden_dir=directory, workloads=["ptb"],
                             data_dir=_data_root(), check=check), \
        mock.patch.object(golden, "run", return_value=fresh), \
        mock.patch("sys.stdout") as stdout:
      try:
        golden.main(["golden"])
      except SystemExit as e:
        status = e.code
    return "".join(c.args[0] for c in stdout.write.call_args_list), status

  def test_regenerate_prints_the_diff_and_writes(self):
    directory = self.create_tempdir().full_path
    committed = golden.load("ptb")
    with open(golden.golden_path("ptb", directory), "w") as f:
      json.dump(committed, f)
    fresh = dict(committed["values"])
    fresh["test_perplexity"] *= 1.01
    printed, status = self._main(directory, fresh, check=True)
    self.assertEqual(status, 1)
    self.assertRegex(printed, r"test_perplexity .* 1\.0e-02  OUTSIDE")
    self.assertIn("outside the tolerance: ptb", printed)
    self.assertEqual(golden.load("ptb", directory), committed)  # Kept.
    printed, status = self._main(directory, fresh, check=False)
    self.assertEqual(status, 0)
    self.assertRegex(printed, r"test_perplexity .* 1\.0e-02  OUTSIDE")
    self.assertIn("wrote ", printed)
    written = golden.load("ptb", directory)
    self.assertEqual(written["values"], fresh)
    self.assertEqual(written["environment"], golden.environment())


if __name__ == "__main__":
  absltest.main()
