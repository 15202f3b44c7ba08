"""Tests for imdb/train.py, imdb/imdb_lstm.py and imdb/bench.py: tiny end-to-end
runs (train -> checkpoint -> resume -> eval), early stopping, aborts, CLI."""

import dataclasses
import json
import os
import re
import subprocess
import sys
from unittest import mock

from absl.testing import absltest
from absl.testing import parameterized
import numpy as np

from common import checkpoint as ckpt_lib
from common.errors import UserError
from imdb import configs
from imdb import train as train_lib
from tests import imdb_fixtures
from tests import testutil

TEST = configs.CONFIGS.get("test")  # 15 train / 5 valid reviews: 4 steps.


class EarlyStoppingTest(parameterized.TestCase):

  @parameterized.named_parameters(
      ("first_epoch", None, 0, 0.7, 2, (0.7, 0, False)),
      ("improves", 0.7, 1, 0.6, 2, (0.6, 0, False)),
      ("equal_is_no_improvement", 0.7, 0, 0.7, 2, (0.7, 1, False)),
      ("patience_reached", 0.7, 1, 0.8, 2, (0.7, 2, True)),
      ("patience_zero_never_stops", 0.7, 5, 0.9, 0, (0.7, 6, False)),
  )
  def test_keras_semantics(self, best, wait, loss, patience, expected):
    self.assertEqual(train_lib.early_stopping(best, wait, loss, patience),
                     expected)


def _nan_embedding_in_epoch(epoch: int, after: bool = False):
  """Patches ``train.train_epoch`` to make the embedding NaN as ``epoch``
  starts, so that epoch's training loss is non-finite (``after``: as it
  ends, so that only what follows sees NaN weights)."""
  real_epoch = train_lib.train_epoch
  calls = []

  def nan_weights(session, model, *args, **kwargs):
    calls.append(1)
    if len(calls) == epoch and not after:
      _nan_embedding(session)
    result = real_epoch(session, model, *args, **kwargs)
    if len(calls) == epoch and after:
      _nan_embedding(session)
    return result

  return mock.patch.object(train_lib, "train_epoch", side_effect=nan_weights)


def _nan_embedding(session):
  (embedding,) = [v for v in session.graph.get_collection(
      "trainable_variables") if v.op.name == "Model/embedding"]
  embedding.load(np.full(embedding.shape, np.nan, np.float32), session)


class TrainTest(absltest.TestCase):

  def setUp(self):
    super().setUp()
    tmp = self.create_tempdir().full_path
    self.data = imdb_fixtures.write_tree(os.path.join(tmp, "data"),
                                         n_per_folder=10)
    self.run_dir = os.path.join(tmp, "run")
    self.options = train_lib.RunOptions(save_path=self.run_dir, log_every=2)

  def _state(self):
    with open(os.path.join(self.run_dir, ckpt_lib.STATE_FILE)) as f:
      return json.load(f)

  def test_train_interrupt_resume_eval(self):
    real_epoch = train_lib.train_epoch
    calls = []

    def crash_in_second_epoch(*args, **kwargs):
      calls.append(1)
      if len(calls) == 2:
        raise KeyboardInterrupt
      return real_epoch(*args, **kwargs)

    with mock.patch.object(train_lib, "train_epoch",
                           side_effect=crash_in_second_epoch):
      with self.assertRaises(KeyboardInterrupt):
        train_lib.train("test", TEST, self.data, self.options)
    self.assertEqual(self._state()["epoch"], 1)
    self.assertEqual(self._state()["checkpoint"], "model.ckpt-4")

    record = train_lib.train("test", TEST, self.data, self.options)
    self.assertEqual([e["epoch"] for e in record["epochs"]], [1, 2])
    self.assertEqual(self._state()["checkpoint"], "model.ckpt-8")
    # A resume checks the saved history for EPOCH_FIELDS.
    self.assertEqual(set(record["epochs"][-1]),
                     {"epoch", "valid_loss", "valid_accuracy",
                      *train_lib.EPOCH_FIELDS})
    self.assertEqual(record["test_examples"], 20)
    # A share of the 20 reviews (a mean of uneven batches' means is not).
    hits = record["test_accuracy"] * 20
    self.assertAlmostEqual(hits, round(hits), places=4)
    self.assertBetween(round(hits), 0, 20)
    self.assertEqual(record["num_parameters"], 1497)
    self.assertNotEmpty(os.listdir(os.path.join(self.run_dir, "tensorboard")))
    with open(os.path.join(self.run_dir, "metrics.json")) as f:
      self.assertEqual(json.load(f)["test_accuracy"], record["test_accuracy"])

    # A finished run resumes to the test evaluation only.
    again = train_lib.train("test", TEST, self.data, self.options)
    self.assertLen(again["epochs"], 2)
    self.assertAlmostEqual(again["test_accuracy"], record["test_accuracy"])

    result = train_lib.evaluate("test", TEST, self.data, self.run_dir)
    self.assertAlmostEqual(result["test_accuracy"], record["test_accuracy"])
    self.assertAlmostEqual(result["test_loss"], record["test_loss"], places=5)

  def test_changed_config_is_refused(self):
    config = dataclasses.replace(TEST, max_epochs=1)
    train_lib.train("test", config, self.data, self.options)
    with self.assertRaisesRegex(UserError, "different config"):
      train_lib.train("test", dataclasses.replace(config, learning_rate=0.02),
                      self.data, self.options)
    with self.assertRaisesRegex(UserError, "does not fit the model"):
      train_lib.evaluate("test", dataclasses.replace(TEST, hidden_size=9),
                         self.data, self.run_dir)

  def test_finished_run_trains_longer(self):
    # max_epochs may change on resume (like PTB's max_max_epoch).
    train_lib.train("test", dataclasses.replace(TEST, max_epochs=1),
                    self.data, self.options)
    self.assertEqual(self._state()["checkpoint"], "model.ckpt-4")
    record = train_lib.train("test", TEST, self.data, self.options)
    self.assertEqual([e["epoch"] for e in record["epochs"]], [1, 2])
    self.assertEqual(self._state()["checkpoint"], "model.ckpt-8")
    # ... but not below the epochs finished: the weights are epoch 2's.
    with self.assertRaisesRegex(UserError,
                                "finished 2 epochs; --max_epochs=1 cannot"):
      train_lib.train("test", dataclasses.replace(TEST, max_epochs=1),
                      self.data, self.options)
    self.assertEqual(self._state()["checkpoint"], "model.ckpt-8")

  def test_same_seed_same_numbers(self):
    config = dataclasses.replace(TEST, max_epochs=1)
    options = train_lib.RunOptions(intra_op_threads=1, inter_op_threads=1,
                                   log_every=0)
    a, b, c = (train_lib.train("test", cfg, self.data, options)
               for cfg in (config, config,
                           dataclasses.replace(config, seed=23)))
    for key in ("train_loss", "train_accuracy", "valid_loss"):
      self.assertEqual(a["epochs"][0][key], b["epochs"][0][key], key)
    self.assertEqual(a["test_loss"], b["test_loss"])
    self.assertNotEqual(a["test_loss"], c["test_loss"])

  def test_resume_equals_uninterrupted(self):
    # Without dropout (whose masks are drawn afresh after a restart) the
    # checkpoint holds everything: weights, Adam slots, global step; the
    # epoch orders depend on (seed, epoch) only.
    config = dataclasses.replace(TEST, dropout=0.0)
    threads = dict(intra_op_threads=1, inter_op_threads=1, log_every=0)
    whole = train_lib.train(
        "test", config, self.data, train_lib.RunOptions(
            save_path=os.path.join(self.run_dir, "whole"), **threads))
    options = train_lib.RunOptions(
        save_path=os.path.join(self.run_dir, "parts"), **threads)
    train_lib.train("test", dataclasses.replace(config, max_epochs=1),
                    self.data, options)
    resumed = train_lib.train("test", config, self.data, options)
    self.assertLen(resumed["epochs"], 2)
    for key in ("train_loss", "train_accuracy", "valid_loss"):
      self.assertAlmostEqual(resumed["epochs"][1][key],
                             whole["epochs"][1][key], places=6, msg=key)
    self.assertAlmostEqual(resumed["test_loss"], whole["test_loss"], places=6)

  def test_non_finite_loss_keeps_the_last_checkpoint(self):
    # The embedding turns NaN as epoch 2 starts (after epoch 1's checkpoint
    # model.ckpt-4): the run stops, the state still names model.ckpt-4, and
    # a resume trains epoch 2 again from it.
    with _nan_embedding_in_epoch(2):
      with self.assertRaisesRegex(UserError,
                                  "non-finite training loss.*epoch 2/2"):
        train_lib.train("test", TEST, self.data, self.options)
    self.assertEqual(self._state()["checkpoint"], "model.ckpt-4")
    self.assertEmpty([f for f in os.listdir(self.run_dir)
                      if f.startswith("model.ckpt-8")])
    record = train_lib.train("test", TEST, self.data, self.options)
    self.assertEqual([e["epoch"] for e in record["epochs"]], [1, 2])
    self.assertTrue(np.isfinite(record["test_loss"]))

  def test_weights_gone_nan_by_the_epoch_end_are_not_saved_nor_reported(
      self):
    # The training loss was finite; the valid loss was NaN and went into
    # the record (and early stopping) before.
    with _nan_embedding_in_epoch(1, after=True):
      with self.assertRaisesRegex(UserError,
                                  r"non-finite evaluation loss \(nan\)"):
        train_lib.train("test", TEST, self.data, self.options)
    self.assertFalse(os.path.exists(os.path.join(self.run_dir,
                                                 ckpt_lib.STATE_FILE)))
    self.assertEmpty([f for f in os.listdir(self.run_dir)
                      if f.startswith("model.ckpt")])

  def test_an_unwritable_record_still_closes_the_metrics_log(self):
    testutil.assert_closes_when_unwritable(
        self, train_lib.MetricsLog, self.run_dir,
        lambda metrics: train_lib.record_test(
            "test", metrics, train_lib.PassResult(0.5, 0.8, 10, 1.0)))

  def test_non_finite_loss_in_the_first_epoch_saves_nothing(self):
    with _nan_embedding_in_epoch(1), \
        testutil.spy(train_lib.MetricsLog, "close") as close:
      with self.assertRaisesRegex(UserError,
                                  "non-finite training loss.*epoch 1/2"):
        train_lib.train("test", TEST, self.data, self.options)
    close.assert_called_once()  # Its TensorBoard writer too, on the error.
    self.assertFalse(os.path.exists(os.path.join(self.run_dir,
                                                 ckpt_lib.STATE_FILE)))
    self.assertEmpty([f for f in os.listdir(self.run_dir)
                      if f.startswith("model.ckpt")])

  def test_early_stopping_stops_and_stays_stopped(self):
    config = dataclasses.replace(TEST, max_epochs=6, patience=2)
    losses = iter([0.5, 0.6, 0.7, 0.1, 0.1, 0.1])
    real_eval = train_lib.evaluate_examples

    def rising_valid_loss(session, model, examples, batch_size):
      result = real_eval(session, model, examples, batch_size)
      if len(examples) == 5:  # The validation set.
        return dataclasses.replace(result, loss=next(losses))
      return result

    with mock.patch.object(train_lib, "evaluate_examples",
                           side_effect=rising_valid_loss):
      record = train_lib.train("test", config, self.data, self.options)
    self.assertLen(record["epochs"], 3)
    self.assertTrue(record["stopped_early"])
    self.assertTrue(self._state()["stopped_early"])
    again = train_lib.train("test", config, self.data, self.options)
    self.assertLen(again["epochs"], 3)
    # A larger patience (it may change on resume) lifts the stop.
    losses = iter([0.05, 0.04, 0.03])
    with mock.patch.object(train_lib, "evaluate_examples",
                           side_effect=rising_valid_loss):
      longer = train_lib.train("test", dataclasses.replace(config, patience=4),
                               self.data, self.options)
    self.assertLen(longer["epochs"], 6)
    self.assertFalse(longer["stopped_early"])


def _cli(*args, tmp):
  return testutil.run_cli("imdb/imdb_lstm.py", *args,
                          env={"XDG_CACHE_HOME": os.path.join(tmp, "cache")})


class TargetTest(absltest.TestCase):

  def test_target_reached(self):
    self.assertTrue(train_lib.target_reached("seed000", 0.83))
    self.assertFalse(train_lib.target_reached("seed003", 0.8669))
    self.assertIsNone(train_lib.target_reached("test", 1.0))
    with self.assertLogs(level="INFO") as logs:
      train_lib.compare_with_seeds("seed003", 0.87, 0.3)
    self.assertIn("Target test accuracy >= 0.867: reached",
                  "\n".join(logs.output))


class CliTest(parameterized.TestCase):

  def test_train_then_eval_only_from_archive(self):
    tmp = self.create_tempdir().full_path
    archive = imdb_fixtures.write_archive(os.path.join(tmp, "reviews.tar.gz"),
                                           n_per_folder=10)
    run_dir = os.path.join(tmp, "run")
    args = ("--config=test", "--data_path=" + archive,
            "--save_path=" + run_dir, "--log_every=1", "--cell=gru",
            "--padding=post")
    first = _cli(*args, tmp=tmp)
    self.assertEqual(first.returncode, 0, first.stderr)
    self.assertIn("'cell': 'gru'", first.stderr)  # The full config is logged.
    self.assertRegex(first.stderr, r"epoch 1/2 step 1/4: loss \S+ acc \S+ \| "
                     r"\d+ examples/s \| ETA")
    self.assertIn("epoch 2/2: train loss", first.stderr)
    self.assertIn("No reported numbers for config 'test'", first.stderr)
    # The tokenized corpus went to $XDG_CACHE_HOME/tf1-rnn-tutorials.
    self.assertLen(os.listdir(os.path.join(tmp, "cache",
                                           "tf1-rnn-tutorials")), 1)
    with open(os.path.join(run_dir, "metrics.json")) as f:
      accuracy = json.load(f)["test_accuracy"]

    # Without --cell/--padding: the run's saved config decides (GRU weights,
    # post-padding; the padding would not show in the weights' shapes).
    evaluated = _cli(*args[:3], "--eval_only", tmp=tmp)
    self.assertEqual(evaluated.returncode, 0, evaluated.stderr)
    self.assertIn("Using the config saved with", evaluated.stderr)
    self.assertIn("Restored", evaluated.stderr)
    found = re.search(r"Test: loss \S+ accuracy (\S+) on 20 reviews",
                      evaluated.stderr)
    self.assertIsNotNone(found, evaluated.stderr)
    self.assertAlmostEqual(float(found.group(1)), accuracy, places=4)
    # An explicit --config that is not the run's is refused, not ignored.
    other = _cli("--config=seed003", *args[1:3], "--eval_only", tmp=tmp)
    testutil.assert_one_line_error(self, other,
                                   "was trained with --config=test, not seed003")

  @parameterized.named_parameters(
      ("bad_value", ["--config=test", "--dropout=1.5"], "dropout must be in"),
      ("unsafe_archive", ["--config=test", "--data_path={tmp}/evil.tar.gz"],
       "unsafe path"),
      # tarfile's message has one line per method it tried: folded into one.
      ("not_an_archive", ["--config=test", "--data_path={tmp}/junk.tar.gz"],
       "cannot read archive"),
      # Was numpy's "Unable to allocate 8.73 TiB" traceback.
      ("too_big", ["--config=test", "--maxlen=100000000000"],
       "this config needs about"),
  )
  def test_one_line_errors(self, args, needle):
    tmp = self.create_tempdir().full_path
    imdb_fixtures.write_archive(os.path.join(tmp, "evil.tar.gz"),
                                extra={"../evil.txt": b"x"})
    with open(os.path.join(tmp, "junk.tar.gz"), "wb") as f:
      f.write(b"not a tar archive")
    result = _cli(*[a.format(tmp=tmp) for a in args], tmp=tmp)
    testutil.assert_one_line_error(self, result, needle)

  def test_every_config_field_has_a_flag(self):
    # Every field gets a value other than the preset's through its flag and
    # must arrive in the config (in a subprocess: importing the entry script
    # defines its absl flags).
    changed = dict(num_words=60, maxlen=13, embed_size=9, cell="gru",
                   num_layers=1, hidden_size=7, dropout=0.25,
                   optimizer="rmsprop", learning_rate=0.02, batch_size=5,
                   max_epochs=3, validation_split=0.3, patience=2,
                   padding="post", truncating="post", seed=7)
    self.assertEqual(set(changed),
                     {f.name for f in dataclasses.fields(configs.IMDBConfig)})
    for name, value in changed.items():
      self.assertNotEqual(getattr(TEST, name), value, name)
    argv = ["imdb_lstm", "--config=test"] + [
        "--%s=%s" % item for item in changed.items()]
    code = ("import dataclasses, json, sys; from absl import flags; "
            "from imdb import imdb_lstm; flags.FLAGS(json.loads(sys.argv[1])); "
            "print(json.dumps(dataclasses.asdict("
            "imdb_lstm.config_from_flags()[1])))")
    result = subprocess.run([sys.executable, "-c", code, json.dumps(argv)],
                            cwd=testutil.REPO_ROOT, capture_output=True,
                            text=True, timeout=120)
    self.assertEqual(result.returncode, 0, result.stderr)
    self.assertEqual(json.loads(result.stdout), changed)

  def test_bench_prints_json(self):
    tmp = self.create_tempdir().full_path
    data = imdb_fixtures.write_tree(tmp)
    result = testutil.run_cli(
        "imdb/bench.py", "--config=test", "--data_path=" + data,
        "--cache_dir=", "--train_steps=3", "--eval_steps=2",
        "--warmup_steps=1")
    self.assertEqual(result.returncode, 0, result.stderr)
    report = json.loads(result.stdout)
    self.assertGreater(report["train_examples_per_sec"], 0)
    self.assertGreater(report["eval_examples_per_sec"], 0)
    self.assertGreater(report["peak_rss_mb"], 50)
    self.assertEqual(report["examples"], {"train": 12, "valid": 4,
                                          "test": 16})
    self.assertGreater(report["estimated_run_seconds"], 0)

  def test_keras_reference_prints_json(self):
    tmp = self.create_tempdir().full_path
    data = imdb_fixtures.write_tree(tmp)
    result = testutil.run_cli(
        "imdb/keras_reference.py", "--config=test", "--data_path=" + data,
        "--cache_dir=", "--max_epochs=3")
    self.assertEqual(result.returncode, 0, result.stderr)
    report = json.loads(result.stdout)  # stdout is the JSON alone.
    self.assertEqual(report["model"], "keras")
    self.assertEqual(report["epochs"], 3)
    self.assertLen(report["history"]["val_accuracy"], 3)
    self.assertEqual(report["examples"], {"train": 12, "valid": 4,
                                          "test": 16})
    hits = report["test_accuracy"] * 16  # A share of the 16 test reviews.
    self.assertAlmostEqual(hits, round(hits), places=4)
    self.assertBetween(round(hits), 0, 16)
    self.assertEqual(report["comparison"], [])  # "test": no reported numbers.
    self.assertIn("keras epoch 3/3: accuracy", result.stderr)

  def test_keras_reference_bad_flag_is_one_line(self):
    result = testutil.run_cli("imdb/keras_reference.py", "--config=test",
                              "--dropout=1.5")
    testutil.assert_one_line_error(self, result, "dropout must be in")

  def test_keras_reference_refuses_flags_it_has_no_use_for(self):
    # Training would otherwise start and quietly ignore them.
    result = testutil.run_cli("imdb/keras_reference.py", "--config=test",
                              "--eval_only", "--save_path=/nonexistent")
    testutil.assert_one_line_error(
        self, result, "does not take --eval_only, --save_path")


if __name__ == "__main__":
  absltest.main()
