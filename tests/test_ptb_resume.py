"""PTB with dropout on: same seed, same numbers; exact resume mid-epoch.

Dropout masks are stateless functions of (seed, global step) (see
``common/dropout.py``), and a mid-epoch checkpoint holds the position, the
running cost and the carried LSTM state, so a run stopped at any save and
resumed ends with the numbers of a run that was never stopped.
"""

import dataclasses
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from unittest import mock

from absl.testing import absltest

from common import checkpoint as ckpt_lib
from common.errors import UserError
from ptb import train
from tests import testutil
from tests.test_ptb_train import TINY, write_tiny_corpus

DROPOUT = dataclasses.replace(TINY, keep_prob=0.5)


class _Stop(Exception):
  """Stands for a kill: the process dies between two saves."""


def _epoch_numbers(record):
  return [(e["train_perplexity"], e["valid_perplexity"])
          for e in record["epochs"]]


class DropoutSeedTest(absltest.TestCase):

  def setUp(self):
    super().setUp()
    self.data = write_tiny_corpus(self.create_tempdir("data").full_path)

  def _train(self, seed):
    return train.train("test", dataclasses.replace(DROPOUT, max_max_epoch=1),
                       self.data, train.RunOptions(seed=seed))

  def test_same_seed_same_numbers_other_seed_other_numbers(self):
    a, b, c = self._train(7), self._train(7), self._train(8)
    self.assertEqual(_epoch_numbers(a), _epoch_numbers(b))
    self.assertEqual(a["test_perplexity"], b["test_perplexity"])
    self.assertNotEqual(a["epochs"][0]["train_perplexity"],
                        c["epochs"][0]["train_perplexity"])

  def test_dropout_changes_training_only(self):
    no_dropout = train.train("test", dataclasses.replace(TINY, max_max_epoch=1),
                             self.data, train.RunOptions(seed=7))
    dropout = self._train(7)
    # Same initial weights (same seed), other training: other numbers.
    self.assertNotAlmostEqual(no_dropout["epochs"][0]["train_perplexity"],
                              dropout["epochs"][0]["train_perplexity"],
                              places=3)


class MidEpochResumeTest(absltest.TestCase):

  def setUp(self):
    super().setUp()
    self.data = write_tiny_corpus(self.create_tempdir("data").full_path)
    self.run_dir = os.path.join(self.create_tempdir("run").full_path, "r")

  def _options(self, save_path, every=600):
    return train.RunOptions(seed=7, save_path=save_path,
                            checkpoint_every_secs=every)

  def test_stop_after_a_mid_epoch_save_then_resume_is_exact(self):
    straight = train.train("test", DROPOUT, self.data,
                           self._options(save_path=None))
    calls = {"n": 0}

    def due(unused_timer):
      calls["n"] += 1
      if calls["n"] == 130:  # Epoch 2 (epochs are 77 chunks), mid-way.
        raise _Stop()
      return calls["n"] == 110
    with mock.patch.object(ckpt_lib.SaveTimer, "due", due):
      with self.assertRaises(_Stop):
        train.train("test", DROPOUT, self.data, self._options(self.run_dir))
    with open(os.path.join(self.run_dir, "train_state.json")) as f:
      state = json.load(f)
    self.assertEqual(state["epoch"], 1)  # One epoch done, inside the second.
    self.assertEqual(state["position"]["step"], 110 - 77)
    self.assertEqual(state["seed"], 7)
    arrays = os.path.join(self.run_dir, state["checkpoint"] + ".arrays.npz")
    self.assertTrue(os.path.exists(arrays))

    resumed = train.train("test", DROPOUT, self.data,
                          self._options(self.run_dir))
    for (a, b), (c, d) in zip(_epoch_numbers(straight),
                              _epoch_numbers(resumed)):
      self.assertAlmostEqual(a, c, delta=1e-5 * a)
      self.assertAlmostEqual(b, d, delta=1e-5 * b)
    self.assertAlmostEqual(straight["test_perplexity"],
                           resumed["test_perplexity"],
                           delta=1e-5 * straight["test_perplexity"])
    self.assertEqual([a["start_step"] for a in resumed["attempts"]],
                     [0, 110 - 77])

  def _stop_in_epoch_1_after_a_save_at_chunk(self, chunk):
    """Trains until a mid-epoch save at ``chunk`` of epoch 1, then stops."""
    calls = {"n": 0}

    def due(unused_timer):
      calls["n"] += 1
      if calls["n"] == chunk + 1:
        raise _Stop()
      return calls["n"] == chunk
    with mock.patch.object(ckpt_lib.SaveTimer, "due", due):
      with self.assertRaises(_Stop):
        train.train("test", DROPOUT, self.data, self._options(self.run_dir))
    state_path = os.path.join(self.run_dir, "train_state.json")
    with open(state_path) as f:
      self.assertEqual(json.load(f)["position"]["step"], chunk)
    return state_path

  def test_a_position_past_the_end_of_a_shorter_training_file_is_refused(
      self):
    # Resumed on a shorter ptb.train.txt of the same vocabulary, the run
    # used to record epoch 1 as finished without running a chunk.
    self._stop_in_epoch_1_after_a_save_at_chunk(60)  # Epochs: 77 chunks.
    shorter = write_tiny_corpus(self.create_tempdir("short").full_path,
                                repeats=(120, 8, 8))
    with self.assertRaisesRegex(UserError, r"model\.ckpt-60: the run stopped "
                                r"at chunk 60 of an epoch, but an epoch of "
                                r"this ptb.train.txt has \d+ chunks"):
      train.train("test", DROPOUT, shorter, self._options(self.run_dir))

  def test_a_hand_edited_position_is_refused(self):
    state_path = self._stop_in_epoch_1_after_a_save_at_chunk(10)
    with open(state_path) as f:
      good = json.load(f)
    half = {"step": 10.5, "iters": 10.5 * DROPOUT.num_steps}  # Agreeing,
    for edit in ({"iters": 0}, {"costs": float("nan")},  # but was truncated.
                 {"costs": -1.0}, {"step": -5}, half, {"step": True}):
      with open(state_path, "w") as f:
        json.dump(dict(good, position=dict(good["position"], **edit)), f)
      with self.subTest(edit=edit):
        with self.assertRaisesRegex(UserError, "malformed mid-epoch position"):
          train.train("test", DROPOUT, self.data, self._options(self.run_dir))

  def test_resume_refuses_another_seed(self):
    cfg = dataclasses.replace(DROPOUT, max_max_epoch=1)
    train.train("test", cfg, self.data, self._options(self.run_dir))
    with self.assertRaisesRegex(UserError, "started with --seed=7"):
      train.train("test", cfg, self.data, train.RunOptions(
          seed=8, save_path=self.run_dir))

  def test_lowering_max_max_epoch_below_finished_epochs_is_refused(self):
    train.train("test", dataclasses.replace(DROPOUT, max_max_epoch=2),
                self.data, self._options(self.run_dir))
    with self.assertRaisesRegex(UserError, "finished 2 epochs"):
      train.train("test", dataclasses.replace(DROPOUT, max_max_epoch=1),
                  self.data, self._options(self.run_dir))
    # The refused resume left the run's config as it was.
    self.assertEqual(ckpt_lib.saved_config(self.run_dir)["max_max_epoch"], 2)

  def test_a_hand_edited_history_is_refused(self):
    # The finished run's summary reads the last entry's perplexities: an
    # entry without them crashed there (KeyError).
    cfg = dataclasses.replace(DROPOUT, max_max_epoch=1)
    train.train("test", cfg, self.data, self._options(self.run_dir))
    state_path = os.path.join(self.run_dir, ckpt_lib.STATE_FILE)
    with open(state_path) as f:
      state = json.load(f)
    state["history"] = [{"epoch": 1}]
    with open(state_path, "w") as f:
      json.dump(state, f)
    with self.assertRaisesRegex(UserError, r"model\.ckpt-\d+: malformed "
                                r"history entry 1 \(learning_rate, "):
      train.train("test", cfg, self.data, self._options(self.run_dir))


class KillTest(absltest.TestCase):
  """The entry script killed (SIGKILL) or stopped (SIGTERM) mid-epoch, then
  resumed, against one uninterrupted run of the same command."""

  @classmethod
  def setUpClass(cls):
    super().setUpClass()
    root = tempfile.mkdtemp()
    cls.addClassCleanup(shutil.rmtree, root, ignore_errors=True)
    os.makedirs(os.path.join(root, "data"))
    cls.data = write_tiny_corpus(os.path.join(root, "data"),
                                 repeats=(4000, 8, 8))
    cls.straight_dir = os.path.join(root, "straight")
    cls.straight = testutil.run_cli("ptb/ptb_word_lm.py",
                                    *cls._args(cls.straight_dir))

  def setUp(self):
    super().setUp()
    self.root = self.create_tempdir("runs").full_path

  @classmethod
  def _args(cls, save_path, every_secs=1):
    fields = dict(vocab_size=20, hidden_size=24, num_layers=2, num_steps=5,
                  batch_size=4, max_grad_norm=5, max_epoch=1, max_max_epoch=2,
                  keep_prob=0.5)
    return (["--model=test", "--data_path=" + cls.data, "--seed=3",
             "--save_path=" + save_path,
             "--checkpoint_every_secs=%d" % every_secs]
            + ["--%s=%s" % kv for kv in fields.items()])

  def _metrics(self, save_path):
    with open(os.path.join(save_path, "metrics.json")) as f:
      return json.load(f)

  def _start_and_wait(self, save_path, saved, every_secs=1):
    """Starts the entry script; returns it once its saved state is
    ``saved(state)`` (it must still be running then)."""
    proc = subprocess.Popen(
        [sys.executable, os.path.join(testutil.REPO_ROOT, "ptb/ptb_word_lm.py")]
        + self._args(save_path, every_secs), cwd=testutil.REPO_ROOT,
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    state_path = os.path.join(save_path, "train_state.json")
    deadline = time.time() + 240
    while time.time() < deadline and proc.poll() is None:
      try:
        with open(state_path) as f:
          if saved(json.load(f)):
            break
      except (OSError, ValueError):
        pass
      time.sleep(0.05)
    self.assertIsNone(proc.poll(), "the run ended before the awaited save")
    return proc

  def _assert_resumes_to_the_straight_numbers(self, save_path):
    self.assertEqual(self.straight.returncode, 0, self.straight.stderr)
    result = testutil.run_cli("ptb/ptb_word_lm.py", *self._args(save_path))
    self.assertEqual(result.returncode, 0, result.stderr)
    self.assertIn("Resuming from", result.stderr)
    straight = self._metrics(self.straight_dir)
    resumed = self._metrics(save_path)
    for a, b in zip(_epoch_numbers(straight), _epoch_numbers(resumed)):
      for x, y in zip(a, b):
        self.assertAlmostEqual(x, y, delta=1e-5 * x)
    self.assertAlmostEqual(straight["test_perplexity"],
                           resumed["test_perplexity"],
                           delta=1e-5 * straight["test_perplexity"])
    self.assertLen(resumed["attempts"], 2)
    # Every event line says which attempt wrote it.
    with open(os.path.join(save_path, "metrics.jsonl")) as f:
      attempts = {json.loads(line)["attempt"] for line in f}
    self.assertEqual(attempts, {1, 2})

  def test_killed_mid_epoch_resumes_to_the_same_numbers(self):
    killed_dir = os.path.join(self.root, "killed")
    proc = self._start_and_wait(
        killed_dir, lambda s: s.get("epoch") == 1 and "position" in s)
    time.sleep(0.3)  # Past the save: the kill loses work done since.
    proc.send_signal(signal.SIGKILL)
    proc.communicate()
    self._assert_resumes_to_the_straight_numbers(killed_dir)

  def test_sigterm_saves_mid_epoch_then_stops_and_resumes_exactly(self):
    # No periodic saves: the one inside epoch 2 is SIGTERM's.
    stopped_dir = os.path.join(self.root, "stopped")
    proc = self._start_and_wait(stopped_dir, lambda s: s.get("epoch") == 1,
                                every_secs=0)
    proc.send_signal(signal.SIGTERM)
    _, stderr = proc.communicate(timeout=120)
    self.assertEqual(proc.returncode, 143, stderr)
    self.assertNotIn("Traceback", stderr)
    with open(os.path.join(stopped_dir, "train_state.json")) as f:
      state = json.load(f)
    self.assertEqual(state["epoch"], 1)
    self.assertGreater(state["position"]["step"], 0)
    self.assertRegex(
        stderr.strip().splitlines()[-1],
        r"^stopped: SIGTERM; saved %s \(epoch 2, step %d\): run the same "
        r"command to resume$" % (state["checkpoint"],
                                 state["position"]["step"]))
    self._assert_resumes_to_the_straight_numbers(stopped_dir)


if __name__ == "__main__":
  absltest.main()
