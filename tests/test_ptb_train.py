"""PTB end to end on a tiny corpus: train, checkpoint, resume, eval, errors."""

import collections
import dataclasses
import glob
import json
import os
import re
import subprocess
import sys
from unittest import mock

from absl.testing import absltest
import numpy as np

from common import memory
from common.errors import UserError
from common.tf_compat import tf1
from ptb import configs
from ptb import progress
from ptb import run_state
from ptb import train
from tests import testutil

SENTENCES = ["the cat sat on the mat", "a dog ran in the park",
             "the bird sang a song", "my cat ate the fish"]


def write_tiny_corpus(directory, repeats=(240, 8, 8)):
  """Writes ptb.{train,valid,test}.txt made of four repeated sentences."""
  for name, n in zip(("train", "valid", "test"), repeats):
    # PTB's line format: a space at both ends (see reader.split_words).
    lines = [" %s " % SENTENCES[i % len(SENTENCES)] for i in range(n)]
    with open(os.path.join(directory, "ptb.%s.txt" % name), "w") as f:
      f.write("\n".join(lines) + "\n")
  return directory


TINY = dataclasses.replace(
    configs.CONFIGS.get("test"), vocab_size=20, hidden_size=24, num_layers=2,
    num_steps=5, batch_size=4, max_grad_norm=5, max_epoch=2, max_max_epoch=3)


class TrainTest(absltest.TestCase):

  def setUp(self):
    super().setUp()
    self.data = write_tiny_corpus(self.create_tempdir("data").full_path)
    self.run_dir = os.path.join(self.create_tempdir("run").full_path, "r")

  def _options(self, **kw):
    return train.RunOptions(seed=7, save_path=kw.pop("save_path",
                                                     self.run_dir), **kw)

  def _check_tensorboard(self, epochs):
    """The tutorial's three summaries, with the tutorial's meaning."""
    events = glob.glob(os.path.join(self.run_dir, "tensorboard", "*tfevents*"))
    scalars = collections.defaultdict(list)
    for path in events:
      for event in tf1.train.summary_iterator(path):
        for value in event.summary.value:
          scalars[value.tag].append(value.simple_value)
    self.assertEqual(set(scalars), {"Training Loss", "Learning Rate",
                                    "Validation Loss", "epoch_mean_loss"})
    self.assertEqual(set(scalars["Learning Rate"]), {1.0})
    # "Validation Loss": the Valid model's cost, a chunk's (summed over
    # num_steps), averaged over the pass; not the per-word mean.
    np.testing.assert_allclose(
        scalars["Validation Loss"],
        [TINY.num_steps * np.log(e["valid_perplexity"]) for e in epochs],
        rtol=1e-5)
    # "Training Loss": a chunk's cost, on the same scale (x num_steps) as the
    # epoch's running mean per word.
    ratio = np.mean(scalars["Training Loss"]) / np.mean(
        scalars["epoch_mean_loss"])
    self.assertBetween(ratio, 0.5 * TINY.num_steps, 2 * TINY.num_steps)

  def test_overfits_tiny_corpus(self):
    cfg = dataclasses.replace(TINY, hidden_size=64, max_epoch=6,
                              max_max_epoch=6)
    record = train.train("test", cfg, self.data, self._options(save_path=None))
    # Vocabulary of 17 words; a model that learned the sentences is far below.
    self.assertLess(record["epochs"][-1]["train_perplexity"], 3.0)
    self.assertLess(record["test_perplexity"], 3.0)

  def test_train_checkpoint_resume_eval(self):
    short = dataclasses.replace(TINY, max_max_epoch=2)
    first = train.train("test", short, self.data, self._options())
    self.assertLen(first["epochs"], 2)
    self.assertEqual([e["learning_rate"] for e in first["epochs"]], [1.0, 1.0])
    # A resume checks the saved history for these fields.
    self.assertEqual(set(first["epochs"][0]),
                     {"epoch", *run_state.EPOCH_FIELDS})
    self.assertEqual(first["attempts"][-1]["api"], "tf1")  # For the report.
    with open(os.path.join(self.run_dir, "train_state.json")) as f:
      state = json.load(f)
    self.assertEqual(state["epoch"], 2)
    self.assertTrue(os.path.exists(
        os.path.join(self.run_dir, state["checkpoint"] + ".index")))
    self._check_tensorboard(first["epochs"])

    # A crash after the checkpoint but before metrics.json was updated:
    # the checkpoint's history restores the lost epoch entry.
    metrics_path = os.path.join(self.run_dir, "metrics.json")
    with open(metrics_path) as f:
      metrics = json.load(f)
    metrics["epochs"] = metrics["epochs"][:1]
    with open(metrics_path, "w") as f:
      json.dump(metrics, f)

    # Resume: train one epoch more (max_max_epoch may grow), lr decays.
    resumed = train.train("test", TINY, self.data, self._options())
    self.assertLen([f for f in os.listdir(self.run_dir)
                    if f.endswith(".index")], 2)  # max_to_keep=2.
    self.assertLen(resumed["epochs"], 3)
    self.assertEqual(resumed["epochs"][2]["learning_rate"], 0.5)
    self.assertEqual(resumed["epochs"][:2], first["epochs"][:2])

    # Same seed, uninterrupted: the same numbers as stop-and-resume.
    straight = train.train("test", TINY, self.data,
                           self._options(save_path=None))
    self.assertAlmostEqual(straight["epochs"][2]["train_perplexity"],
                           resumed["epochs"][2]["train_perplexity"], places=4)
    self.assertAlmostEqual(straight["test_perplexity"],
                           resumed["test_perplexity"], places=4)

    # Eval-only restores the weights: same valid/test perplexity.
    result = train.evaluate("test", TINY, self.data, self.run_dir)
    self.assertAlmostEqual(result["valid"],
                           resumed["epochs"][2]["valid_perplexity"], places=4)
    self.assertAlmostEqual(result["test"], resumed["test_perplexity"],
                           places=4)

  def test_same_seed_same_perplexity(self):
    cfg = dataclasses.replace(TINY, max_max_epoch=1)
    a = train.train("test", cfg, self.data, self._options(save_path=None))
    b = train.train("test", cfg, self.data, self._options(save_path=None))
    self.assertEqual(a["epochs"][0]["train_perplexity"],
                     b["epochs"][0]["train_perplexity"])
    self.assertEqual(a["test_perplexity"], b["test_perplexity"])

  def test_changed_config_is_refused(self):
    train.train("test", dataclasses.replace(TINY, max_max_epoch=1), self.data,
                self._options())
    with self.assertRaisesRegex(UserError, "different config.*hidden_size"):
      train.train("test", dataclasses.replace(TINY, hidden_size=8), self.data,
                  self._options())

  def test_non_finite_loss_keeps_last_checkpoint(self):
    cfg = dataclasses.replace(TINY, max_max_epoch=1)
    train.train("test", cfg, self.data, self._options())
    state_path = os.path.join(self.run_dir, "train_state.json")
    with open(state_path) as f:
      before = f.read()
    with mock.patch.object(configs.PTBConfig, "lr_for_epoch",
                           return_value=float("inf")), \
        testutil.spy(train.MetricsLog, "close") as close:
      with self.assertRaisesRegex(UserError, "non-finite loss"):
        train.train("test", TINY, self.data, self._options())
    close.assert_called_once()  # Its TensorBoard writer too, on the error.
    with open(state_path) as f:
      self.assertEqual(f.read(), before)
    result = train.evaluate("test", TINY, self.data, self.run_dir)
    self.assertLess(result["test"], 20.0)  # The good weights, not NaN.

  def test_an_unwritable_record_still_closes_the_metrics_log(self):
    testutil.assert_closes_when_unwritable(
        self, train.MetricsLog, self.run_dir, lambda metrics: train.record_test(
            "test", metrics, train.EpochResult(100.0, 1.0, 1.0)))

  def test_vocab_larger_than_config_is_refused(self):
    # 16 distinct words plus <eos>.
    with self.assertRaisesRegex(UserError, "--vocab_size=17"):
      train.train("test", dataclasses.replace(TINY, vocab_size=5), self.data,
                  self._options(save_path=None))


class ProgressLinesTest(absltest.TestCase):

  def test_ten_lines_at_the_tutorials_steps(self):
    self.assertEqual(progress.progress_steps(2323), list(range(10, 2323, 232)))
    self.assertEqual(progress.progress_steps(110), list(range(10, 110, 11)))

  def test_short_epochs_give_exactly_ten_lines(self):
    for n in (10, 15, 50, 99, 109):
      steps = progress.progress_steps(n)
      self.assertLen(steps, 10, msg=n)
      self.assertEqual(steps[0], 0)
      self.assertLess(steps[-1], n)
    self.assertEqual(progress.progress_steps(15),
                     [0, 1, 3, 4, 6, 7, 9, 10, 12, 13])
    self.assertEqual(progress.progress_steps(5), [0, 1, 2, 3, 4])


class MemoryCheckTest(absltest.TestCase):

  def test_message(self):
    large = configs.CONFIGS.get("large")
    need = configs.estimate_memory_bytes(large)
    with mock.patch.object(memory, "available_bytes", return_value=10**9):
      with self.assertRaisesRegex(UserError, "^%s$" % re.escape(
          "this config needs about %.1f GB of memory (hidden_size=1500, "
          "vocab_size=10000, num_layers=2, batch_size=20, num_steps=35) and "
          "1.0 GB are available; use a smaller model, batch or num_steps"
          % (need / 1e9))):
        configs.check_fits_in_memory(large)
    with mock.patch.object(memory, "available_bytes", return_value=need):
      configs.check_fits_in_memory(large)

  def test_a_graph_of_many_layers_is_refused(self):
    # Tiny weights, but 100,000 layers' ops: the graph alone would take
    # ~300 GB and a day to build; refused before it starts.
    deep = dataclasses.replace(configs.CONFIGS.get("test"),
                               num_layers=100000)
    with mock.patch.object(memory, "available_bytes", return_value=24e9):
      with self.assertRaisesRegex(UserError, r"needs about 3\d\d\.\d GB"):
        configs.check_fits_in_memory(deep)


class ComparisonTest(absltest.TestCase):

  def test_small_rows(self):
    rows = train.comparison("small", {"train": 40.0, "valid": 121.39,
                                      "test": 118.0})
    by_key = {(r["source"], r["metric"]): r for r in rows}
    tut = by_key[("TF tutorial (small)", "test")]
    self.assertAlmostEqual(tut["delta_pct"], 100 * (118.0 - 115.91) / 115.91)
    self.assertAlmostEqual(by_key[("TF tutorial (small)", "valid")]
                           ["delta_pct"], 0.0)
    self.assertEqual(by_key[("Zaremba 2014 (non-regularized)", "test")]
                     ["published"], 114.5)
    self.assertLen(rows, 5)


class CommandLineTest(absltest.TestCase):
  """The entry script, in a subprocess: end to end, and one-line errors."""

  def setUp(self):
    super().setUp()
    self.data = write_tiny_corpus(self.create_tempdir("data").full_path)
    self.tiny_flags = ["--model=test", "--data_path=" + self.data,
                       "--vocab_size=20", "--hidden_size=8",
                       "--num_steps=5", "--batch_size=4", "--seed=1"]

  def test_train_resume_eval(self):
    run_dir = os.path.join(self.create_tempdir().full_path, "run")
    first = testutil.run_cli("ptb/ptb_word_lm.py", *self.tiny_flags,
                             "--save_path=" + run_dir)
    self.assertEqual(first.returncode, 0, first.stderr)
    self.assertRegex(first.stderr, r"Epoch: 1 Learning rate: 1\.000")
    self.assertRegex(first.stderr, r"perplexity: [\d.]+ speed: \d+ wps ETA")
    self.assertRegex(first.stderr, r"Epoch: 1 Train Perplexity: [\d.]+")
    self.assertRegex(first.stderr, r"Epoch: 1 Valid Perplexity: [\d.]+")
    self.assertRegex(first.stderr, r"Test Perplexity: [\d.]+")
    again = testutil.run_cli("ptb/ptb_word_lm.py", *self.tiny_flags,
                             "--save_path=" + run_dir, "--max_max_epoch=2")
    self.assertEqual(again.returncode, 0, again.stderr)
    self.assertIn("Resuming from model.ckpt-", again.stderr)
    self.assertIn("Epoch: 2 Learning rate: 0.500", again.stderr)
    self.assertNotIn("Epoch: 1 ", again.stderr)
    # Eval-only takes the run's saved config: no size flags needed.
    evaluated = testutil.run_cli("ptb/ptb_word_lm.py", "--data_path=" +
                                 self.data, "--save_path=" + run_dir,
                                 "--eval_only")
    self.assertIn("Using the config saved with", evaluated.stderr)
    self.assertEqual(evaluated.returncode, 0, evaluated.stderr)
    self.assertRegex(evaluated.stderr, r"Valid Perplexity: [\d.]+")
    other_shape = testutil.run_cli(
        "ptb/ptb_word_lm.py", *self.tiny_flags, "--hidden_size=9",
        "--checkpoint=" + run_dir, "--eval_only")
    testutil.assert_one_line_error(self, other_shape, "does not fit the model")
    with open(os.path.join(run_dir, "metrics.json")) as f:
      metrics = json.load(f)
    self.assertLen(metrics["epochs"], 2)
    self.assertIn("tensorflow", metrics["versions"])

  def test_bad_inputs_give_one_line(self):
    bad_utf8 = self.create_tempdir("bad").full_path
    write_tiny_corpus(bad_utf8)
    with open(os.path.join(bad_utf8, "ptb.valid.txt"), "wb") as f:
      f.write(b"caf\xe9\n")
    short_valid = self.create_tempdir("short").full_path
    write_tiny_corpus(short_valid)
    with open(os.path.join(short_valid, "ptb.valid.txt"), "w") as f:
      f.write(" the cat \n")
    cases = [
        (["--data_path=/nonexistent/ptb"], "not found"),
        (["--data_path=" + short_valid, "--save_path=" + os.path.join(
            short_valid, "run")], "valid: 3 words is too short"),
        (["positional"], "unexpected arguments: positional"),
        (["--seed=-1"], "seed"),
        (["--keep_prob=1.5"], "keep_prob must be in (0, 1]"),
        (["--hidden_size=0"], "hidden_size must be positive"),
        (["--data_path=" + bad_utf8], "not UTF-8"),
        (["--batch_size=400"], "decrease batch_size or num_steps"),
        (["--eval_only"], "--eval_only needs --checkpoint or --save_path"),
        (["--eval_only", "--checkpoint=" + self.data], "no checkpoint in"),
        # Finite losses of ~1e29 a word: exp() overflows. Was perplexity inf,
        # saved and reported, exit 0.
        (["--learning_rate=1e5"], "train perplexity overflows (mean loss"),
        # Was a run with no run directory, as if the flag were left out.
        (["--save_path="], "--save_path given empty (an unset shell"),
    ]
    results = testutil.run_clis(
        "ptb/ptb_word_lm.py",
        [list(self.tiny_flags) + extra for extra, _ in cases])
    for (extra, needle), result in zip(cases, results):
      with self.subTest(extra=extra):
        testutil.assert_one_line_error(self, result, needle)
    # The short validation file is refused before the run directory exists.
    self.assertFalse(os.path.exists(os.path.join(short_valid, "run")))

  def test_console_script_installed(self):
    script = os.path.join(os.path.dirname(sys.executable), "ptb-word-lm")
    self.assertTrue(os.path.exists(script),
                    "run.sh installs the package; %s is missing" % script)
    result = subprocess.run([script, "--model=huge"], capture_output=True,
                            text=True, timeout=300, check=False)
    testutil.assert_one_line_error(self, result, "value should be one of")

  def test_every_config_field_has_a_flag(self):
    # Each field's flag must be in the overrides applied to the config, under
    # the field's name.
    overrides = testutil.flag_overrides("ptb.ptb_word_lm")
    self.assertEqual(set(overrides),
                     {f.name for f in dataclasses.fields(configs.PTBConfig)})
    for name, flag in overrides.items():
      self.assertEqual(flag, name)

  def test_bench_prints_json(self):
    result = subprocess.run(
        [sys.executable, "-m", "ptb.bench", "--model=test", "--steps=3",
         "--warmup_steps=1", "--rounds=2", "--test_words=300",
         "--peers=basic,fused,tf2,tutorial"], cwd=testutil.REPO_ROOT,
        capture_output=True, text=True, timeout=300, check=False)
    self.assertEqual(result.returncode, 0, result.stderr)
    record = json.loads(result.stdout)
    self.assertEqual(sorted(record["train"]),
                     ["basic", "fused", "tf2", "tutorial"])
    for row in record["train"].values():
      self.assertLen(row["words_per_sec"], 2)  # One per round.
      self.assertBetween(row["median"], min(row["words_per_sec"]) - 1,
                         max(row["words_per_sec"]) + 1)
      self.assertGreater(row["fraction_of_ceiling"], 0)
    self.assertIn(record["ratios"]["fastest_mode"], ("basic", "fused"))
    self.assertGreater(record["ratios"]["tf2_vs_basic"], 0)
    # FLOPs of `test` (1 layer of 2 units, vocab 10000): 3 x (32 + 40000).
    self.assertEqual(record["train_flops_per_word"],
                     3 * (2 * 4 * 8 + 2 * 2 * 10000))
    test_pass = record["test_pass"]
    # Same predictions in both modes (a random model: near-uniform).
    self.assertAlmostEqual(test_pass["fast_perplexity"],
                           test_pass["tutorial_perplexity"],
                           delta=1e-4 * test_pass["tutorial_perplexity"])
    self.assertIsInstance(record["cpu"]["flags"], list)
    # Peers not asked for are said so, not "not importable" or "no bf16".
    self.assertEqual((record["torch"], record["bf16"]),
                     ("not requested", "not requested"))

  def test_bench_refuses_unknown_or_no_peers(self):
    for peers, needle in (("basic,keras", "unknown --peers keras"),
                          ("", "--peers is empty")):
      result = subprocess.run(
          [sys.executable, "-m", "ptb.bench", "--peers=" + peers],
          cwd=testutil.REPO_ROOT, capture_output=True, text=True,
          timeout=300, check=False)
      testutil.assert_one_line_error(self, result, needle)

  def test_unknown_model_flag(self):
    result = testutil.run_cli("ptb/ptb_word_lm.py", "--model=huge")
    testutil.assert_one_line_error(
        self, result, "value should be one of <small|medium|large|test>")
    result = testutil.run_cli("ptb/ptb_word_lm.py", "--num_threads=-1")
    testutil.assert_one_line_error(self, result, "num_threads")


if __name__ == "__main__":
  absltest.main()
