"""Tests of mnist_rnn/train.py, the entry script and the benchmark."""

import dataclasses
import json
import os
import signal
from unittest import mock

from absl.testing import absltest
from absl.testing import parameterized
import numpy as np

from common import checkpoint as ckpt_lib
from common import config as config_lib
from common import preemption
from common.errors import UserError
from common.tf_compat import tf
from mnist_rnn import configs
from mnist_rnn import model as model_lib
from mnist_rnn import reader
from mnist_rnn import train
from tests import testutil

SCRIPT = "mnist_rnn/mnist_rnn.py"


def subset(data: reader.DataSets, n_train: int, n_eval: int,
           seed: int = 0) -> reader.DataSets:
  """The first examples of each split (re-wrapped; real pixels)."""
  def take(ds, n, shuffle, seed=None):
    images = np.round(ds.images[:n] * 255).astype(np.uint8).reshape(n, 28, 28)
    return reader.DataSet(images, ds.labels[:n].argmax(1), seed=seed,
                          shuffle=shuffle)
  return reader.DataSets(train=take(data.train, n_train, True, seed),
                         validation=take(data.validation, n_eval, False),
                         test=take(data.test, n_eval, False))


def checkpoint_weights(save_path: str):
  """name -> value of the weights in the run's last checkpoint."""
  with open(os.path.join(save_path, "train_state.json")) as f:
    prefix = os.path.join(save_path, json.load(f)["checkpoint"])
  ckpt = tf.train.load_checkpoint(prefix)
  return {name: ckpt.get_tensor(name)
          for name in ckpt.get_variable_to_shape_map()}


class TrainTest(parameterized.TestCase):
  """In-process runs of train()/evaluate() on real data."""

  @classmethod
  def setUpClass(cls):
    super().setUpClass()
    cls.full = reader.read_data_sets(testutil.data_dir("mnist"))

  def data(self, n_train=2000, n_eval=500, seed=0):
    return subset(self.full, n_train, n_eval, seed)

  def make_config(self, model="stacked", **changes):
    return dataclasses.replace(configs.get_config(model, "test"), **changes)

  def record_keep_probs(self):
    """Records the keep_prob of every feed_dict built; returns the list."""
    keep_probs = []
    original = model_lib.MnistRnnModel.feed

    def feed(model, images, labels, keep_prob=1.0, **kwargs):
      keep_probs.append(keep_prob)
      return original(model, images, labels, keep_prob, **kwargs)

    self.enter_context(mock.patch.object(model_lib.MnistRnnModel, "feed",
                                         feed))
    return keep_probs

  def assert_same_weights(self, run_dir, other_run_dir):
    a, b = checkpoint_weights(run_dir), checkpoint_weights(other_run_dir)
    self.assertEqual(sorted(a), sorted(b))
    self.assertIn("global_step", a)
    for name in a:
      np.testing.assert_allclose(a[name], b[name], rtol=1e-5, atol=1e-6,
                                 err_msg=name)

  def test_a_non_finite_evaluation_loss_is_not_reported(self):
    # Was "validation accuracy 0.0958 loss nan" and a test accuracy, exit 0.
    config = self.make_config("stacked")
    with mock.patch.object(train._Trainer, "evaluate",  # pylint: disable=protected-access
                           return_value=(0.0958, float("nan"))):
      with self.assertRaisesRegex(UserError,
                                  r"non-finite validation loss \(nan\)"):
        train.train(config, self.data(), train.RunOptions(seed=3))

  def test_sigterm_saves_at_the_next_step_then_stops(self):
    config = self.make_config("stacked", keep_prob=0.5)
    straight = self.create_tempdir().full_path
    stopped = self.create_tempdir().full_path
    train.train(config, self.data(), train.RunOptions(seed=3,
                                                      save_path=straight))
    train_step = train._Trainer.train_step  # pylint: disable=protected-access

    def sigterm_in_step_3(trainer):
      result = train_step(trainer)
      if trainer.step == 3:  # What the installed handler does on SIGTERM:
        preemption._on_sigterm(signal.SIGTERM, None)  # pylint: disable=protected-access
      return result
    with mock.patch.object(train._Trainer, "train_step", sigterm_in_step_3):  # pylint: disable=protected-access
      with self.assertRaisesRegex(preemption.Stopped,
                                  r"saved the checkpoint of step 3:"):
        train.train(config, self.data(), train.RunOptions(
            seed=3, save_path=stopped))
    self.assertEqual(ckpt_lib.saved_state(stopped)["step"], 3)
    self.assertFalse(preemption.requested())  # Reset for the next loop.
    resumed = train.train(config, self.data(seed=99), train.RunOptions(
        seed=3, save_path=stopped))
    self.assertTrue(resumed["finished"])
    self.assert_same_weights(straight, stopped)

  @parameterized.parameters((3, 2), (4, 2))  # max_steps 6: 3, 6; 4, end.
  def test_validation_passes_count_the_runs(self, eval_every, passes):
    # The benchmark's run estimate counts them.
    config = self.make_config("stacked", eval_every=eval_every)
    evaluate = train._Trainer.evaluate  # pylint: disable=protected-access
    validations = []

    def counting(trainer, dataset):
      if dataset is trainer.data.validation:
        validations.append(trainer.step)
      return evaluate(trainer, dataset)
    with mock.patch.object(train._Trainer, "evaluate", counting):  # pylint: disable=protected-access
      train.train(config, self.data(n_train=200, n_eval=50),
                  train.RunOptions(seed=3))
    self.assertLen(validations, passes)
    self.assertEqual(config.validation_passes(), passes)

  @parameterized.parameters("stacked", "bidirectional")
  def test_train_checkpoint_resume_eval(self, model):
    """Pausing and resuming gives the weights of an uninterrupted run, with
    dropout on (the masks are keyed by the saved seed and the step)."""
    config = self.make_config(model, keep_prob=0.5)
    straight = self.create_tempdir().full_path
    paused = self.create_tempdir().full_path
    train.train(config, self.data(), train.RunOptions(seed=3,
                                                      save_path=straight))
    first = train.train(config, self.data(), train.RunOptions(
        seed=3, save_path=paused, steps_this_run=4))
    self.assertFalse(first["finished"])
    self.assertEqual(first["step"], 4)
    self.assertEqual(first["api"], "tf1")  # For the report.
    self.assertNotIn("test_accuracy", first)
    # A new process would rebuild the data sets: a fresh generator.
    second = train.train(config, self.data(seed=99), train.RunOptions(
        seed=3, save_path=paused))
    self.assertTrue(second["finished"])
    self.assertEqual(second["step"], config.max_steps)
    self.assert_same_weights(straight, paused)
    evaluated = train.evaluate(config, self.data(), paused)
    self.assertEqual(evaluated["step"], config.max_steps)
    self.assertEqual(evaluated["test_accuracy"], second["test_accuracy"])

  def test_seed_repeats_a_run_with_dropout(self):
    # DropoutWrapper's stateful ops did not: 0.7016 and 0.7008 test accuracy
    # from two runs with one seed (model.py's docstring).
    config = self.make_config("stacked", keep_prob=0.5, hidden_size=16)
    runs = {}
    for name, seed in (("a", 5), ("b", 5), ("other", 6)):
      save_path = self.create_tempdir().full_path
      # The data order is the same for all three: only the TF seed differs.
      train.train(config, self.data(), train.RunOptions(seed=seed,
                                                        save_path=save_path))
      runs[name] = checkpoint_weights(save_path)
    for name in runs["a"]:
      np.testing.assert_array_equal(runs["a"][name], runs["b"][name],
                                    err_msg=name)
    kernel = "rnn/multi_rnn_cell/cell_0/lstm_cell/kernel"
    self.assertGreater(np.abs(runs["a"][kernel] - runs["other"][kernel]).max(),
                       1e-3)

  def test_seed_is_saved_and_a_resume_must_match_it(self):
    config = self.make_config("stacked", keep_prob=0.5)
    save_path = self.create_tempdir().full_path
    train.train(config, self.data(), train.RunOptions(
        save_path=save_path, steps_this_run=2))  # No --seed: one is drawn.
    with open(os.path.join(save_path, "train_state.json")) as f:
      seed = json.load(f)["seed"]
    with self.assertRaisesRegex(UserError, "started with --seed=%d" % seed):
      train.train(config, self.data(), train.RunOptions(
          seed=seed + 1, save_path=save_path))
    record = train.train(config, self.data(), train.RunOptions(
        save_path=save_path))
    self.assertEqual(record["seed"], seed)

  def test_record_metrics_and_eval_only(self):
    save_path = self.create_tempdir().full_path
    data = self.data()
    record = train.train(self.make_config(), data,
                         train.RunOptions(seed=1, save_path=save_path))
    # A share of all 500 test images, evaluated in chunks: a mean of the
    # chunks' means would not be a multiple of 1/500 in general.
    hits = record["test_accuracy"] * data.test.num_examples
    self.assertEqual(data.test.num_examples, 500)
    self.assertAlmostEqual(hits, round(hits), places=3)
    self.assertBetween(round(hits), 0, 500)
    self.assertEqual(record["comparison"], [])  # test: no reference.
    with open(os.path.join(save_path, "metrics.json")) as f:
      saved = json.load(f)
    self.assertEqual(saved["test_accuracy"], record["test_accuracy"])
    self.assertEqual(saved["config"]["model"], "stacked")
    with open(os.path.join(save_path, "metrics.jsonl")) as f:
      events = [json.loads(line) for line in f]
    logged = {k for e in events for k in e}
    self.assertContainsSubset({"train_accuracy", "train_loss",
                               "validation_accuracy", "test_accuracy",
                               "examples_per_sec"}, logged)
    self.assertNotEmpty(os.listdir(os.path.join(save_path, "tensorboard")))
    # Checkpoints at 3 (checkpoint_every) and 6 (the end).
    self.assertTrue(os.path.exists(os.path.join(save_path,
                                                "model.ckpt-3.index")))
    evaluated = train.evaluate(
        ckpt_lib.saved_run_config(save_path, configs.MnistRnnConfig)[1],
        data, save_path)
    self.assertEqual(evaluated["step"], 6)
    self.assertEqual(evaluated["test_accuracy"], record["test_accuracy"])
    self.assertEqual(evaluated["validation_accuracy"],
                     record["validation_accuracy"])

  def test_other_config_in_save_path_is_refused(self):
    save_path = self.create_tempdir().full_path
    train.train(self.make_config(), self.data(),
                train.RunOptions(save_path=save_path, steps_this_run=1))
    with self.assertRaisesRegex(UserError, "different config.*hidden_size"):
      train.train(self.make_config(hidden_size=9), self.data(),
                  train.RunOptions(save_path=save_path))

  def test_early_stop_measures_like_the_seed(self):
    # The bidirectional seed re-runs the minibatch with its training dropout
    # (keep 0.8) after steps 1, 51, ... and stops on that accuracy.
    seed = configs.get_config("bidirectional", "small")
    save_path = self.create_tempdir().full_path
    options = train.RunOptions(seed=1, save_path=save_path)
    config = self.make_config(
        "bidirectional", keep_prob=seed.keep_prob, batch_size=seed.batch_size,
        progress_keep_prob=seed.progress_keep_prob, log_every=seed.log_every,
        log_offset=seed.log_offset, stop_at_accuracy=0.01)
    keep_probs = self.record_keep_probs()
    record = train.train(config, self.data(), options)
    self.assertTrue(record["stopped_early"])
    self.assertEqual(record["step"], 1)
    # The training step, then the measurement the early stop used.
    self.assertEqual(keep_probs[:2], [0.8, 0.8])
    self.assertIn("test_accuracy", record)
    again = train.train(config, self.data(), options)  # Stays stopped.
    self.assertEqual(again["step"], 1)

  def test_progress_steps_and_keep_prob(self):
    config = self.make_config("bidirectional", keep_prob=0.9,
                              progress_keep_prob=0.8, log_every=2,
                              log_offset=1, eval_every=100,
                              checkpoint_every=100)
    keep_probs = self.record_keep_probs()
    train.train(config, self.data(), train.RunOptions(seed=1))
    # 6 training steps feed 0.9; the progress re-runs after steps 1, 3 and 5
    # feed 0.8; evaluation (1.0) is left out.
    self.assertEqual([k for k in keep_probs if k != 1.0],
                     [0.9, 0.8, 0.9, 0.9, 0.8, 0.9, 0.9, 0.8, 0.9])

  def test_non_finite_loss_keeps_the_last_checkpoint(self):
    # NaN images from step 4 on, after the checkpoint at step 3: the run
    # stops at step 4, the state still names model.ckpt-3, and a resume with
    # good data trains on from it.
    save_path = self.create_tempdir().full_path
    data = self.data()
    real_next_batch = data.train.next_batch
    calls = []

    def poisoned_from_step_4(batch_size):
      calls.append(1)
      images, labels = real_next_batch(batch_size)
      return (images * np.nan if len(calls) >= 4 else images), labels

    options = train.RunOptions(save_path=save_path)
    with mock.patch.object(data.train, "next_batch",
                           side_effect=poisoned_from_step_4):
      with self.assertRaisesRegex(UserError,
                                  "non-finite training loss.*step 4"):
        train.train(self.make_config(), data, options)
    with open(os.path.join(save_path, "train_state.json")) as f:
      self.assertEqual(json.load(f)["checkpoint"], "model.ckpt-3")
    self.assertEmpty([f for f in os.listdir(save_path) if "ckpt-4" in f])
    record = train.train(self.make_config(), self.data(), options)
    self.assertEqual(record["step"], 6)
    self.assertTrue(np.isfinite(record["test_accuracy"]))

  def test_resuming_a_finished_run_only_evaluates(self):
    save_path = self.create_tempdir().full_path
    options = train.RunOptions(seed=1, save_path=save_path)
    first = train.train(self.make_config(), self.data(), options)
    with mock.patch.object(train._Trainer, "train_step",  # pylint: disable=protected-access
                           side_effect=AssertionError("trained again")):
      again = train.train(self.make_config(), self.data(), options)
    self.assertEqual(again["step"], 6)
    self.assertEqual(again["test_accuracy"], first["test_accuracy"])
    # Training longer is allowed: max_steps may change on resume.
    longer = train.train(self.make_config(max_steps=8), self.data(), options)
    self.assertEqual(longer["step"], 8)

  def test_eval_with_another_config_is_refused(self):
    save_path = self.create_tempdir().full_path
    train.train(self.make_config(), self.data(),
                train.RunOptions(save_path=save_path, steps_this_run=1))
    with self.assertRaisesRegex(UserError, "does not fit the model"):
      train.evaluate(self.make_config(hidden_size=9), self.data(), save_path)

  def test_eval_of_missing_checkpoint(self):
    with self.assertRaisesRegex(UserError, "no checkpoint"):
      train.evaluate(self.make_config(), self.data(),
                     self.create_tempdir().full_path)

  def test_learns_real_digits(self):
    # A small model on 5,000 real images: > 90% on 1,000 test images (a few
    # seconds; it measured a few points above the threshold).
    config = self.make_config(hidden_size=64, batch_size=64, max_steps=500,
                              log_every=500, eval_every=500,
                              checkpoint_every=500)
    record = train.train(config, self.data(n_train=5000, n_eval=1000),
                         train.RunOptions(seed=1))
    self.assertGreater(record["test_accuracy"], 0.90)


class ConfigTest(parameterized.TestCase):

  def test_memory_estimate_passes_the_presets_and_stops_the_absurd(self):
    for model in configs.MODELS:
      for name in ("small", "medium", "large", "test"):
        config = configs.get_config(model, name)
        self.assertBetween(configs.estimate_memory_bytes(config), 4e8, 2e9)
        configs.check_fits_in_memory(config)
    with self.assertRaisesRegex(UserError, r"^this config needs about \d+"):
      configs.check_fits_in_memory(dataclasses.replace(
          configs.get_config("stacked", "test"), hidden_size=10**6))

  def test_small_is_the_seed(self):
    stacked = configs.get_config("stacked", "small")
    self.assertEqual((stacked.num_layers, stacked.hidden_size,
                      stacked.keep_prob, stacked.learning_rate,
                      stacked.batch_size, stacked.max_steps, stacked.cell),
                     (2, 128, 0.5, 1e-3, 128, 1000, "lstm"))
    # Progress after steps 200, 400, ... without dropout; no early stop.
    self.assertEqual((stacked.log_every, stacked.log_offset,
                      stacked.progress_keep_prob, stacked.stop_at_accuracy),
                     (200, 0, 1.0, 0.0))
    bi = configs.get_config("bidirectional", "small")
    self.assertEqual((bi.num_layers, bi.hidden_size, bi.keep_prob,
                      bi.learning_rate, bi.batch_size, bi.max_steps,
                      bi.stop_at_accuracy),
                     (1, 128, 0.8, 1e-3, 200, 2000, 0.999))
    # `if batch_idx % 50 == 0` after the step, with keep_prob 0.8 fed.
    self.assertEqual((bi.log_every, bi.log_offset, bi.progress_keep_prob),
                     (50, 1, 0.8))

  @parameterized.parameters(
      ("stacked", 1000, [200, 400, 600, 800, 1000]),
      ("bidirectional", 200, [1, 51, 101, 151]))
  def test_small_progress_steps_are_the_seeds(self, model, steps, expected):
    config = configs.get_config(model, "small")
    self.assertEqual([s for s in range(1, steps + 1)
                      if config.is_progress_step(s)], expected)

  @parameterized.product(model=configs.MODELS, name=configs.CONFIG_NAMES)
  def test_only_medium_and_large_have_the_reference(self, model, name):
    config = configs.get_config(model, name)
    rows = train.comparison(config, 0.99)
    if name in ("medium", "large"):
      self.assertLen(rows, 1)
      self.assertEqual(rows[0]["published"], 98.8)
      self.assertAlmostEqual(rows[0]["measured"], 99.0)
    else:
      self.assertEqual(rows, [])

  @parameterized.parameters(
      ("hidden_size", 0, "hidden_size must be positive"),
      ("batch_size", -5, "batch_size must be positive"),
      ("max_steps", 0, "max_steps must be positive"),
      ("keep_prob", 0.0, "keep_prob must be in"),
      ("keep_prob", 1.5, "keep_prob must be in"),
      ("cell", "rnn", "cell must be one of"),
      ("bi_merge", "mean", "bi_merge must be one of"),
      ("num_layers", 2, "one layer per direction"),
      ("progress_keep_prob", 0.0, "progress_keep_prob must be in"),
      ("log_offset", -1, "log_offset must be >= 0"),
      ("target_accuracy", 120.0, "target_accuracy is in %"),
      ("learning_rate", -1.0, "learning_rate must be positive"),
      ("learning_rate", 1e39, "learning_rate must be positive and at most"),
      ("lr_decay_steps", 10**30, r"lr_decay_steps .* at most 9.223e\+18 "
       r"\(int64\)"),
      ("max_grad_norm", float("inf"), "max_grad_norm must be >= 0 and at"))
  def test_invalid_override(self, field, value, needle):
    with self.assertRaisesRegex(UserError, needle):
      config_lib.apply_overrides(configs.get_config("bidirectional", "small"),
                                 {field: value})

  def test_unknown_names(self):
    with self.assertRaisesRegex(UserError, "unknown model 'cnn'"):
      configs.get_config("cnn", "small")
    with self.assertRaisesRegex(UserError, "unknown config 'huge'.*medium"):
      configs.get_config("stacked", "huge")


class CliTest(parameterized.TestCase):
  """The entry script and the benchmark, in subprocesses."""

  def run_script(self, *args, script=SCRIPT):
    return testutil.run_cli(script, *args, timeout=120)

  def test_train_pause_resume_eval(self):
    # The stacked model's flow is tested in-process (TrainTest).
    save_path = self.create_tempdir().full_path
    args = ["--model=bidirectional", "--config=test", "--seed=1",
            "--data_path=%s" % testutil.data_dir("mnist"),
            "--save_path=%s" % save_path]
    first = self.run_script(*args, "--steps_this_run=3")
    self.assertEqual(first.returncode, 0, first.stderr)
    self.assertIn("Paused at step 3", first.stderr)
    self.assertTrue(os.path.exists(os.path.join(save_path,
                                                "model.ckpt-3.index")))
    second = self.run_script(*args)
    self.assertEqual(second.returncode, 0, second.stderr)
    self.assertIn("Resumed from model.ckpt-3 at step 3", second.stderr)
    self.assertIn("minibatch accuracy", second.stderr)
    self.assertRegex(second.stderr, r"test accuracy 0\.\d+ .*all 10000 test")
    self.assertIn("No published reference", second.stderr)
    with open(os.path.join(save_path, "metrics.json")) as f:
      record = json.load(f)
    # --eval_only on the run directory reports the same test accuracy; an
    # explicit field flag still applies on top of the saved config.
    evaluated = self.run_script("--eval_only", *args, "--target_accuracy=50")
    self.assertEqual(evaluated.returncode, 0, evaluated.stderr)
    self.assertIn("Restored", evaluated.stderr)
    self.assertIn("issue #3 target", evaluated.stderr)
    self.assertIn("test accuracy %.4f" % record["test_accuracy"],
                  evaluated.stderr)
    # An explicit --model other than the run's is refused, not ignored.
    other = self.run_script("--eval_only", *args[1:], "--model=stacked")
    testutil.assert_one_line_error(
        self, other, "was trained with --model=bidirectional, not stacked")

  def test_bad_flag_is_one_line(self):
    # Other bad values raise the same UserError in-process (ConfigTest).
    result = self.run_script("--model=bidirectional", "--keep_prob=1.5")
    testutil.assert_one_line_error(self, result, "keep_prob must be in (0, 1]")

  def test_a_pause_without_a_run_directory_is_refused(self):
    # It trained, said "run again with the same --save_path to resume" and
    # exited 0 with nothing saved.
    with self.assertRaisesRegex(UserError, "--steps_this_run needs "
                                "--save_path"):
      train.RunOptions(steps_this_run=2)
    self.assertEqual(train.RunOptions(steps_this_run=2, save_path="r")
                     .steps_this_run, 2)

  def test_a_config_too_big_for_memory_is_one_line(self):
    # Was a TensorFlow traceback ("Cannot parse tensor from proto").
    result = self.run_script("--hidden_size=100000")
    testutil.assert_one_line_error(self, result, "this config needs about")

  @parameterized.parameters(
      ("--model=cnn", "stacked|bidirectional"),
      ("--config=huge", "small|medium|large|test"),
      ("--cell=rnn", "lstm|gru"),
      ("--bi_merge=mean", "final|seed"))
  def test_bad_enum_flag_is_one_line(self, arg, choices):
    result = self.run_script(arg)
    testutil.assert_one_line_error(self, result, arg)
    self.assertIn(choices, result.stderr)

  def test_every_config_field_has_a_flag(self):
    overrides = testutil.flag_overrides("mnist_rnn.mnist_rnn")
    fields = {f.name for f in dataclasses.fields(configs.MnistRnnConfig)}
    self.assertEqual(set(overrides), fields - {"model"})  # --model picks.
    for name, flag in overrides.items():
      self.assertEqual(flag, name)

  def test_corrupt_gzip_is_one_line(self):
    d = self.create_tempdir().full_path
    source = testutil.data_dir("mnist")
    for spec in reader.FILES:
      with open(reader.find_file(source, spec), "rb") as f:
        content = f.read()
      if spec is reader.TEST_LABELS:
        content = content[:len(content) // 2]
      with open(os.path.join(d, spec.name + ".gz"), "wb") as f:
        f.write(content)
    result = self.run_script("--config=test", "--data_path=%s" % d)
    testutil.assert_one_line_error(self, result, "corrupt gzip file")
    self.assertIn(reader.TEST_LABELS.name, result.stderr)

  def test_benchmark_prints_json(self):
    result = self.run_script("--model=bidirectional", "--config=test",
                             "--steps=3", "--warmup_steps=1",
                             "--eval_examples=50", "--hidden_size=16",
                             script="mnist_rnn/bench.py")
    self.assertEqual(result.returncode, 0, result.stderr)
    report = json.loads(result.stdout)
    self.assertEqual(report["model"], "bidirectional")
    self.assertEqual(report["hidden_size"], 16)  # Field flags apply.
    refused = self.run_script("--config=test", "--seed=1",
                              script="mnist_rnn/bench.py")
    testutil.assert_one_line_error(self, refused, "does not take --seed")
    for key in ("train_examples_per_sec", "eval_examples_per_sec",
                "peak_rss_mb"):
      self.assertGreater(report[key], 0, key)


if __name__ == "__main__":
  absltest.main()
