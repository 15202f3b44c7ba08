"""common/: checkpoints, config registry, comparison, progress, archives."""

import dataclasses
import io
import json
import os
import shutil
import signal
import subprocess
import sys
import tarfile
from unittest import mock

from absl.testing import absltest
import numpy as np

from common import checkpoint as ckpt_lib
from common import compare
from common import config as config_lib
from common import data as data_lib
from common import epoch_book
from common import memory
from common import metrics as metrics_lib
from common import preemption
from common import progress
from common import session as session_lib
from common.errors import UserError
from common.tf_compat import tf, tf1


def _graph_with_saver():
  graph = tf.Graph()
  with graph.as_default():
    var = tf1.get_variable("w", initializer=np.float32(3.0))
    saver = tf1.train.Saver(max_to_keep=2)
  return graph, var, saver


class ConsoleTest(absltest.TestCase):
  """TensorFlow's start-up lines are hidden unless TF_CPP_MIN_LOG_LEVEL is
  the user's."""

  _STARTUP = ("oneDNN custom operations", "cuda drivers", "cuInit",
              "absl::InitializeLog")

  def _stderr_of_import(self, level):
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("TF_CPP_MIN_LOG_LEVEL",
                                "TF1_RNN_TUTORIALS_"))}
    if level is not None:
      env["TF_CPP_MIN_LOG_LEVEL"] = level
    code = ("import sys; from common.tf_compat import tf; "
            "print('after', file=sys.stderr); tf.constant(1.0) + 1.0")
    return subprocess.run([sys.executable, "-c", code], env=env,
                          cwd=os.path.dirname(os.path.dirname(__file__)),
                          capture_output=True, text=True, check=True).stderr

  def test_quiet_by_default_and_loud_when_the_user_says(self):
    quiet = self._stderr_of_import(None)
    self.assertEqual(quiet.strip(), "after")
    loud = self._stderr_of_import("0")
    self.assertTrue(any(line in loud for line in self._STARTUP), loud)


  def test_checkpoint_saves_do_not_chatter(self):
    from absl import logging  # pylint: disable=g-import-not-at-top
    checkpoint = tf.train.Checkpoint(v=tf.Variable(1.0))
    with self.assertLogs(logger="absl", level="INFO") as logs:
      checkpoint.save(os.path.join(self.create_tempdir().full_path, "c"))
      logging.info("marker")
    self.assertEqual([r.getMessage() for r in logs.records], ["marker"])


_INTACT = "checkpoint in /runs/r is intact"


class PreemptionTest(absltest.TestCase):
  """What the SIGTERM handler does (called as the signal would call it)."""

  def setUp(self):
    super().setUp()
    preemption.note_run_dir("/runs/r")  # As a Checkpointer does.
    self.addCleanup(preemption.note_run_dir, None)

  def _sigterm(self):
    preemption._on_sigterm(signal.SIGTERM, None)  # pylint: disable=protected-access

  def test_outside_a_listening_loop_it_stops_at_once(self):
    with self.assertRaisesRegex(
        preemption.Stopped, r"^SIGTERM; the last checkpoint in /runs/r is "
        r"intact \(the same command resumes the run\)$"):
      self._sigterm()
    with self.assertRaises(preemption.Stopped):
      with preemption.listening(False):  # No run directory to save to.
        self._sigterm()

  def test_a_command_without_a_run_directory_claims_no_checkpoint(self):
    # A report, a benchmark, or training without --save_path.
    preemption.note_run_dir(None)
    with self.assertRaisesRegex(preemption.Stopped, "^SIGTERM$"):
      self._sigterm()
    self.assertEqual(preemption.stop_message("interrupted"), "interrupted")

  def test_a_listening_loop_is_asked_to_save_then_stop(self):
    with self.assertRaisesRegex(preemption.Stopped, "saved model.ckpt-7"):
      with preemption.listening():
        preemption.stop_after_save("model.ckpt-6")  # Not asked yet.
        self._sigterm()
        self.assertTrue(preemption.requested())
        preemption.stop_after_save("model.ckpt-7")
    self.assertFalse(preemption.requested())

  def test_a_second_sigterm_stops_at_once(self):
    with self.assertRaisesRegex(preemption.Stopped, _INTACT):
      with preemption.listening():
        self._sigterm()
        self._sigterm()

  def test_a_request_after_the_last_save_point_stops_at_the_loop_end(self):
    ran_on = []
    with self.assertRaisesRegex(preemption.Stopped, _INTACT):
      with preemption.listening():
        self._sigterm()
      ran_on.append("the test pass")
    self.assertEqual(ran_on, [])


class CheckpointerTest(absltest.TestCase):

  def setUp(self):
    super().setUp()
    self.dir = os.path.join(self.create_tempdir().full_path, "run")

  def test_save_restore_and_config_binding(self):
    graph, var, saver = _graph_with_saver()
    with graph.as_default(), tf1.Session() as sess:
      sess.run(var.initializer)
      preemption.note_run_dir(None)
      self.addCleanup(preemption.note_run_dir, None)
      ckpt = ckpt_lib.Checkpointer(self.dir, saver, {"a": 1})
      self.assertIsNone(ckpt.state())
      # Nothing saved yet: a stop claims no checkpoint.
      self.assertEqual(preemption.stop_message("SIGTERM"), "SIGTERM")
      # No checkpoint yet: another config may take the directory over.
      ckpt = ckpt_lib.Checkpointer(self.dir, saver, {"a": 2})
      ckpt.save(sess, 5, {"epoch": 1})
      # From the first save on, a stop names the run directory's checkpoint.
      self.assertIn("last checkpoint in %s is intact" % self.dir,
                    preemption.stop_message("SIGTERM"))
      with self.assertRaisesRegex(UserError, r"different config \(a: 2 -> 3\)"):
        ckpt_lib.Checkpointer(self.dir, saver, {"a": 3})
      mutable = ckpt_lib.Checkpointer(self.dir, saver, {"a": 3},
                                      mutable_fields=("a",))
      sess.run(var.assign(7.0))
      state = mutable.restore(sess)
      self.assertEqual(state, {"epoch": 1, "checkpoint": "model.ckpt-5"})
      self.assertEqual(sess.run(var), 3.0)
      # The changed mutable field is written with the next save, not before:
      # a resume refused after the restore leaves the directory as it was.
      self.assertEqual(ckpt_lib.saved_config(self.dir), {"a": 2})
      mutable.save(sess, 6, {"epoch": 2})
      self.assertEqual(ckpt_lib.saved_config(self.dir), {"a": 3})

  def test_resumed_saver_still_deletes_old_checkpoints(self):
    graph, var, saver = _graph_with_saver()
    with graph.as_default(), tf1.Session() as sess:
      sess.run(var.initializer)
      ckpt = ckpt_lib.Checkpointer(self.dir, saver, {})
      for step in (1, 2):
        ckpt.save(sess, step, {})
      resumed = ckpt_lib.Checkpointer(self.dir, tf1.train.Saver(max_to_keep=2),
                                      {})
      resumed.restore(sess)
      for step in (3, 4):
        resumed.save(sess, step, {})
    index_files = sorted(f for f in os.listdir(self.dir)
                         if f.endswith(".index"))
    self.assertEqual(index_files, ["model.ckpt-3.index", "model.ckpt-4.index"])

  def _killed_before_its_state(self, checkpointer, session, step):
    """A kill after the checkpoint files of ``step``, before its state."""
    class Killed(BaseException):
      pass
    with mock.patch.object(ckpt_lib, "atomic_write_json", side_effect=Killed):
      with self.assertRaises(Killed):
        checkpointer.save(session, step, {"step": step})

  def _index_files(self):
    return sorted(f for f in os.listdir(self.dir) if f.endswith(".index"))

  def test_a_kill_in_a_save_after_a_resume_from_a_killed_save_loses_nothing(
      self):
    # Steps 1, 2 saved; a kill in save 3 leaves model.ckpt-3 on disk and in
    # TF's `checkpoint` file, but the state names model.ckpt-2. Resumed from
    # 2, the next save (4) must not delete 2 to make room for the unfinished
    # 3: a kill in it would leave no checkpoint to resume from.
    graph, var, saver = _graph_with_saver()
    with graph.as_default(), tf1.Session() as sess:
      sess.run(var.initializer)
      ckpt = ckpt_lib.Checkpointer(self.dir, saver, {})
      for step in (1, 2):
        sess.run(var.assign(float(step)))
        ckpt.save(sess, step, {"step": step})
      sess.run(var.assign(3.0))
      self._killed_before_its_state(ckpt, sess, 3)
      for _ in range(2):  # The second time after a kill in save 4.
        resumed = ckpt_lib.Checkpointer(
            self.dir, tf1.train.Saver(max_to_keep=2), {})
        sess.run(var.assign(0.0))
        self.assertEqual(resumed.restore(sess)["step"], 2)
        self.assertEqual(sess.run(var), 2.0)
        # Save 3 rotated model.ckpt-1 out; the last good one stays.
        self.assertEqual(self._index_files(), ["model.ckpt-2.index"])
        self.assertEqual(tf1.train.latest_checkpoint(self.dir),
                         os.path.join(self.dir, "model.ckpt-2"))
        self._killed_before_its_state(resumed, sess, 4)
      resumed.restore(sess)
      for step in (5, 6):  # Rotation goes on: only the newest two stay.
        resumed.save(sess, step, {"step": step})
    self.assertEqual(self._index_files(),
                     ["model.ckpt-5.index", "model.ckpt-6.index"])

  def test_the_tf2_manager_also_drops_an_unfinished_save(self):
    variable = tf.Variable(1.0)
    checkpoint = tf.train.Checkpoint(v=variable)
    def open_run():
      return ckpt_lib.Checkpointer(
          self.dir, ckpt_lib.ManagerSaver(checkpoint, self.dir, 2), {})
    ckpt = open_run()
    for step in (1, 2):
      variable.assign(float(step))
      ckpt.save(None, step, {"step": step})
    variable.assign(3.0)
    self._killed_before_its_state(ckpt, None, 3)
    resumed = open_run()
    self.assertEqual(resumed.restore(None)["step"], 2)
    self.assertEqual(float(variable.numpy()), 2.0)
    self._killed_before_its_state(resumed, None, 4)
    resumed = open_run()
    self.assertEqual(resumed.restore(None)["step"], 2)
    self.assertEqual(self._index_files(), ["model.ckpt-2.index"])
    for step in (5, 6):
      resumed.save(None, step, {"step": step})
    self.assertEqual(self._index_files(),
                     ["model.ckpt-5.index", "model.ckpt-6.index"])

  def test_resuming_a_copied_run_leaves_the_original_alone(self):
    graph, var, saver = _graph_with_saver()
    copy = self.dir + "_copy"
    with graph.as_default(), tf1.Session() as sess:
      sess.run(var.initializer)
      ckpt = ckpt_lib.Checkpointer(os.path.abspath(self.dir), saver, {})
      for step in (1, 2):
        ckpt.save(sess, step, {})
      shutil.copytree(self.dir, copy)
      resumed = ckpt_lib.Checkpointer(copy, tf1.train.Saver(max_to_keep=2),
                                      {})
      resumed.restore(sess)
      for step in (3, 4):
        resumed.save(sess, step, {})
    def index_files(d):
      return sorted(f for f in os.listdir(d) if f.endswith(".index"))
    self.assertEqual(index_files(self.dir),
                     ["model.ckpt-1.index", "model.ckpt-2.index"])
    self.assertEqual(index_files(copy),
                     ["model.ckpt-3.index", "model.ckpt-4.index"])

  def test_malformed_state_is_a_clear_error(self):
    graph, _, saver = _graph_with_saver()
    with graph.as_default():
      ckpt = ckpt_lib.Checkpointer(self.dir, saver, {})
    with open(os.path.join(self.dir, ckpt_lib.STATE_FILE), "w") as f:
      json.dump({"epoch": 3}, f)
    with self.assertRaisesRegex(UserError, "malformed"):
      ckpt.state()
    with self.assertRaisesRegex(UserError, "malformed"):
      ckpt_lib.find_checkpoint(self.dir)

  def test_state_fields_and_types_are_checked(self):
    graph, _, saver = _graph_with_saver()
    with graph.as_default():
      ckpt = ckpt_lib.Checkpointer(self.dir, saver, {}, state_fields=("epoch",),
                                   state_types={"epoch": int,
                                                "seconds": (int, float)})
    path = os.path.join(self.dir, ckpt_lib.STATE_FILE)
    for state, needle in (({"checkpoint": "model.ckpt-1"}, "epoch"),
                          ({"checkpoint": 5, "epoch": 1}, "bad checkpoint"),
                          ({"checkpoint": "../x", "epoch": 1}, "checkpoint"),
                          ({"checkpoint": "..", "epoch": 1}, "checkpoint"),
                          ({"checkpoint": "", "epoch": 1}, "checkpoint"),
                          ({"checkpoint": "model.ckpt-1", "epoch": -3},
                           "bad epoch"),
                          ({"checkpoint": "model.ckpt-1", "epoch": 1,
                            "history": [1]}, "bad history"),
                          ({"checkpoint": "model.ckpt-1", "epoch": 2,
                            "history": [{}]}, "bad history"),
                          ({"checkpoint": "model.ckpt-1", "epoch": "2"},
                           "bad epoch"),
                          ({"checkpoint": "model.ckpt-1", "epoch": True},
                           "bad epoch"),
                          ({"checkpoint": "model.ckpt-1", "epoch": 1,
                            "seconds": float("nan")}, "bad seconds")):
      with open(path, "w") as f:
        json.dump(state, f)
      with self.assertRaisesRegex(UserError, "malformed.*" + needle):
        ckpt.state()
    with open(path, "w") as f:
      json.dump({"checkpoint": "model.ckpt-1", "epoch": 2}, f)
    self.assertEqual(ckpt.state()["epoch"], 2)

  def test_truncated_checkpoint_is_a_clear_error(self):
    graph, var, saver = _graph_with_saver()
    with graph.as_default(), tf1.Session() as sess:
      sess.run(var.initializer)
      ckpt = ckpt_lib.Checkpointer(self.dir, saver, {})
      ckpt.save(sess, 1, {})
      (data,) = [f for f in os.listdir(self.dir) if ".data-" in f]
      with open(os.path.join(self.dir, data), "r+b") as f:
        f.truncate(1)
      # The cause, not TensorFlow's "Graph execution error:" header.
      with self.assertRaisesRegex(UserError, "cannot restore checkpoint "
                                  ".*: Read less bytes than requested"):
        ckpt.restore(sess)

  def test_an_undecodable_checkpoint_list_is_a_clear_error(self):
    graph, var, saver = _graph_with_saver()
    with graph.as_default(), tf1.Session() as sess:
      sess.run(var.initializer)
      ckpt_lib.Checkpointer(self.dir, saver, {}).save(sess, 1, {})
    listing = os.path.join(self.dir, ckpt_lib.TF_LIST_FILE)
    with open(listing, "wb") as f:
      f.write(b"\xb0\xff not text")
    checkpoint = tf.train.Checkpoint(v=tf.Variable(1.0))
    for opens in (lambda: ckpt_lib.Checkpointer(self.dir, saver, {}),
                  lambda: ckpt_lib.ManagerSaver(checkpoint, self.dir, 2),
                  lambda: ckpt_lib.latest_checkpoint(self.dir)):
      with self.assertRaisesRegex(UserError, "checkpoint .TensorFlow's list "
                                  "of checkpoints. is not text; delete it and "
                                  "run again .train_state.json names"):
        opens()
    # train_state.json names the checkpoint: --eval_only needs no list.
    self.assertEqual(ckpt_lib.find_checkpoint(self.dir),
                     os.path.join(self.dir, "model.ckpt-1"))
    # As the message says: without the list the run resumes.
    os.remove(listing)
    with graph.as_default(), tf1.Session() as sess:
      state = ckpt_lib.Checkpointer(self.dir, saver, {}).restore(sess)
    self.assertEqual(state["checkpoint"], "model.ckpt-1")
    # Without train_state.json (a tutorial's or a converted directory) the
    # list is all that names the checkpoint: the message says how to
    # rewrite it, and the rewritten list finds it.
    os.remove(os.path.join(self.dir, ckpt_lib.STATE_FILE))
    with open(listing, "wb") as f:
      f.write(b"\xb0\xff not text")
    with self.assertRaisesRegex(UserError, r"is not text; write it anew as "
                                r"the one line: model_checkpoint_path: "
                                r"\"model.ckpt-\d\"$") as raised:
      ckpt_lib.latest_checkpoint(self.dir)
    with open(listing, "w") as f:
      f.write(str(raised.exception).split("the one line: ")[1] + "\n")
    self.assertEqual(ckpt_lib.latest_checkpoint(self.dir),
                     os.path.join(self.dir, "model.ckpt-1"))

  def _damage_data_file(self, how):
    (data,) = [f for f in os.listdir(self.dir) if ".data-" in f]
    path = os.path.join(self.dir, data)
    if how == "truncate":
      with open(path, "r+b") as f:
        f.truncate(1)
    else:
      os.remove(path)

  def test_damaged_tf2_checkpoint_is_a_clear_error(self):
    from common import convert  # pylint: disable=g-import-not-at-top
    checkpoint = tf.train.Checkpoint(v=tf.Variable(np.arange(64.0)))
    ckpt = ckpt_lib.Checkpointer(
        self.dir, ckpt_lib.ManagerSaver(checkpoint, self.dir, 2), {})
    prefix = ckpt.save(None, 1, {})
    reader = tf.train.load_checkpoint(prefix)
    self._damage_data_file("truncate")
    with self.assertRaisesRegex(UserError, "cannot restore checkpoint .*: "
                                "Read less bytes than requested"):
      ckpt.restore(None)  # TF raises IndexError here.
    with self.assertRaisesRegex(UserError, r"cannot read .* from the "
                                r"checkpoint \(Read less bytes than requested"
                                r"\); is its \.data file truncated"):
      convert.object_graph(reader)

  def test_diverged_weights_are_not_saved(self):
    graph, var, saver = _graph_with_saver()
    with graph.as_default(), tf1.Session() as sess:
      sess.run(var.initializer)
      ckpt = ckpt_lib.Checkpointer(self.dir, saver, {})
      ckpt.save(sess, 1, {"step": 1})
      for value in (float("nan"), float("inf")):
        sess.run(var.assign(value))
        with self.assertRaisesRegex(
            UserError, r"^the weights at step 2 are not finite \(w\): the "
            r"model diverged .*; not saved, the last good checkpoint is "
            r".*model\.ckpt-1$"):
          ckpt.save(sess, 2, {"step": 2})
        self.assertEqual(self._index_files(), ["model.ckpt-1.index"])
        self.assertEqual(ckpt.state()["step"], 1)

  def test_a_refused_first_save_leaves_an_adopted_checkpoint_findable(self):
    # A tutorial's checkpoint (no train_state.json) is adopted by pointer;
    # the refused save had left TF's pointer naming its deleted files.
    graph, var, saver = _graph_with_saver()
    with graph.as_default(), tf1.Session() as sess:
      sess.run(var.initializer)
      adopted = tf1.train.Saver().save(
          sess, os.path.join(self.dir, "model.ckpt"), global_step=40)
      ckpt = ckpt_lib.Checkpointer(self.dir, saver, {})
      sess.run(var.assign(float("nan")))
      with self.assertRaisesRegex(UserError, "no checkpoint was written"):
        ckpt.save(sess, 41, {})
    self.assertEqual(tf1.train.latest_checkpoint(self.dir), adopted)

  def test_an_older_stray_later_checkpoint_is_not_taken_for_a_killed_save(
      self):
    # E.g. a converted step-5000 checkpoint that a run from step 0 saves
    # beside: written before the run's state, it is not a killed save.
    graph, var, saver = _graph_with_saver()
    with graph.as_default(), tf1.Session() as sess:
      sess.run(var.initializer)
      tf1.train.Saver().save(sess, os.path.join(self.dir, "model.ckpt"),
                             global_step=5000)
      ckpt = ckpt_lib.Checkpointer(self.dir, saver, {})
      ckpt.save(sess, 1, {"step": 1})
      ckpt_lib.Checkpointer(self.dir, tf1.train.Saver(max_to_keep=2),
                            {}).restore(sess)
    self.assertIn("model.ckpt-5000.index", self._index_files())

  def test_damaged_arrays_file_is_a_clear_error(self):
    graph, var, saver = _graph_with_saver()
    with graph.as_default(), tf1.Session() as sess:
      sess.run(var.initializer)
      ckpt = ckpt_lib.Checkpointer(self.dir, saver, {})
      prefix = ckpt.save(sess, 1, {}, arrays={"c0": np.ones([2, 3])})
      for size in (200, 0):  # Truncated: BadZipFile; empty: EOFError.
        with open(prefix + ckpt_lib.ARRAYS_SUFFIX, "r+b") as f:
          f.truncate(size)
        with self.assertRaisesRegex(UserError, r"cannot read .*model\.ckpt-1"
                                    r"\.arrays\.npz"):
          ckpt.restore(sess)

  def test_missing_data_file_names_the_cause(self):
    graph, var, saver = _graph_with_saver()
    with graph.as_default(), tf1.Session() as sess:
      sess.run(var.initializer)
      ckpt = ckpt_lib.Checkpointer(self.dir, saver, {})
      ckpt.save(sess, 1, {})
      self._damage_data_file("remove")
      # Not the Saver's guess about renamed variables that precedes it.
      with self.assertRaisesRegex(UserError, "cannot restore checkpoint "
                                  r".*: .*data-00000-of-00001.*No such file"):
        ckpt.restore(sess)

  def test_unwritable_config_is_a_clear_error(self):
    # config.json cannot be replaced (a directory stands there; permissions
    # would not stop root).
    os.makedirs(os.path.join(self.dir, ckpt_lib.CONFIG_FILE))
    graph, _, saver = _graph_with_saver()
    with graph.as_default():
      with self.assertRaisesRegex(UserError, "cannot write .*config.json"):
        ckpt_lib.Checkpointer(self.dir, saver, {})

  def test_restore_weights_checks_shapes(self):
    graph, var, saver = _graph_with_saver()
    with graph.as_default(), tf1.Session() as sess:
      sess.run(var.initializer)
      ckpt_lib.Checkpointer(self.dir, saver, {}).save(sess, 1, {})
    with tf.Graph().as_default(), tf1.Session() as sess:
      other = tf1.get_variable("w", shape=[2])
      with self.assertRaisesRegex(UserError, r"w is \[\], the model's \[2\]"):
        ckpt_lib.restore_weights(sess, self.dir, [other])
    with self.assertRaisesRegex(UserError, "no checkpoint in"):
      ckpt_lib.find_checkpoint(self.create_tempdir().full_path)


class SessionTest(absltest.TestCase):

  def test_the_saved_seed_then_the_flag_then_a_logged_random_one(self):
    self.assertEqual(session_lib.resolve_seed(None, {"seed": 7}), 7)
    self.assertEqual(session_lib.resolve_seed(7, {"seed": 7}), 7)
    with self.assertRaisesRegex(UserError, "started with --seed=7; resume "
                                "it with that seed"):
      session_lib.resolve_seed(8, {"seed": 7})
    self.assertEqual(session_lib.resolve_seed(8, None), 8)
    with self.assertLogs(level="INFO") as logs:
      seed = session_lib.resolve_seed(None, None)
    self.assertIn("Seed %d drawn at random; pass --seed=%d to repeat this run"
                  % (seed, seed), "\n".join(logs.output))

  def test_thread_counts_out_of_range_are_one_error_line(self):
    # 10**10 was TF's "Value out of range" ValueError traceback.
    for make in (lambda n: session_lib.make_session(tf.Graph(), n),
                 lambda n: session_lib.make_session(tf.Graph(), 0, n),
                 lambda n: session_lib.configure_eager(intra_op_threads=n)):
      with self.assertRaisesRegex(UserError, r"^thread counts must be in "
                                  r"\[0, 1024\] \(0: all cores\), got "
                                  r"10000000000$"):
        make(10**10)
    session_lib.check_thread_counts(0, session_lib.MAX_THREADS)

  def test_a_refused_run_directory_closes_the_session(self):
    graph = tf.Graph()
    with graph.as_default():
      one = tf.constant(1)
    session = session_lib.make_session(graph)
    with session_lib.closed_on_error(session):
      pass
    self.assertEqual(session.run(one), 1)  # Left open.
    with self.assertRaises(UserError):
      with session_lib.closed_on_error(session):
        raise UserError("another config")
    with self.assertRaisesRegex(RuntimeError, "closed Session"):
      session.run(one)

  def test_a_failing_close_does_not_hide_the_error(self):
    class _FailingClose:
      def close(self):
        raise OSError("disk full")
    with self.assertLogs(level="ERROR") as logs:
      with self.assertRaisesRegex(UserError, "non-finite loss"):
        with session_lib.closed_on_error(_FailingClose()):
          raise UserError("non-finite loss")
    self.assertIn("disk full", "\n".join(logs.output))

  def test_a_hand_edited_saved_seed_is_refused(self):
    # np.random.seed raised a ValueError traceback at the resume.
    for seed in (-5, 2**40, "7"):
      with self.assertRaisesRegex(UserError, r"^the run's saved seed "
                                  r"\(train_state.json\) must be an integer"):
        session_lib.resolve_seed(None, {"seed": seed})


@dataclasses.dataclass(frozen=True)
class _Config:
  size: int = 2
  rate: float = 0.5
  name: str = "x"

  def __post_init__(self):
    config_lib.check_positive(self, "size", "rate")


@dataclasses.dataclass(frozen=True)
class _Frozen:
  a: int


class ConfigTest(absltest.TestCase):

  def test_from_dict_checks_json_types(self):
    self.assertEqual(config_lib.from_dict(_Config, {"size": 3, "rate": 1}),
                     _Config(size=3, rate=1))
    for fields, needle in (({"size": 12.5}, "size"), ({"size": True}, "size"),
                           ({"rate": "fast"}, "rate"), ({"name": 5}, "name")):
      with self.assertRaisesRegex(UserError,
                                  "invalid saved config: wrong type for "
                                  + needle):
        config_lib.from_dict(_Config, fields)

  def test_another_workloads_config_is_named_so(self):
    # It was "__init__() got an unexpected keyword argument 'init_scale'".
    with self.assertRaisesRegex(UserError, r"^invalid saved config: not a "
                                r"_Config \(unknown fields: init_scale, "
                                r"keep_prob\); another workload's run\?$"):
      config_lib.from_dict(_Config, {"init_scale": 0.1, "keep_prob": 1.0})
    with self.assertRaisesRegex(UserError, r"not a _Frozen \(missing "
                                r"fields: a\)"):
      config_lib.from_dict(_Frozen, {})

  def test_positive_means_finite_too(self):
    # 1e39 is inf in the float32 model: one step makes NaN weights.
    for rate in (float("inf"), float("nan"), 0.0, 1e39):
      with self.assertRaisesRegex(UserError, "rate must be positive"):
        _Config(rate=rate)
    self.assertEqual(_Config(rate=3e38).rate, 3e38)

  def test_non_negative_means_a_float32_too(self):
    config = _Config()
    for value in (0, 0.0, 3e38):
      object.__setattr__(config, "rate", value)
      config_lib.check_non_negative(config, "rate")
    for value in (-1e-9, float("inf"), float("nan"), 1e39):
      object.__setattr__(config, "rate", value)
      with self.assertRaisesRegex(UserError, r"^rate must be >= 0 and at most "
                                  r"3\.403e\+38 \(float32\), got"):
        config_lib.check_non_negative(config, "rate")

  def test_an_int_field_must_fit_an_int64(self):
    # Beyond int64 TF cannot make the int a tensor (MNIST's lr_decay_steps
    # was a TypeError traceback).
    self.assertEqual(_Config(size=2**63 - 1).size, 2**63 - 1)
    with self.assertRaisesRegex(UserError, r"^size must be positive and at "
                                r"most 9\.223e\+18 \(int64\), got 10{30}$"):
      _Config(size=10**30)

  def test_seeds_are_ints_that_numpy_accepts(self):
    config_lib.check_seed(0)
    config_lib.check_seed(2**32 - 1)
    for seed in (-5, 2**32, 1.0, True, "1", None):
      with self.assertRaisesRegex(UserError, r"^the saved seed must be an "
                                  r"integer in \[0, 4294967295\], got"):
        config_lib.check_seed(seed, "the saved seed")


class MetricsLogTest(absltest.TestCase):

  def test_foreign_metrics_json_is_a_clear_error(self):
    from common import metrics  # pylint: disable=g-import-not-at-top
    run = self.create_tempdir().full_path
    with open(os.path.join(run, metrics.METRICS_FILE), "w") as f:
      json.dump({"accuracy": 0.9}, f)  # Another tool's file: no epochs.
    with self.assertRaisesRegex(UserError, "cannot use .*no list of epochs"):
      metrics.MetricsLog(run, {})
    with open(os.path.join(run, metrics.METRICS_FILE), "w") as f:
      json.dump({"epochs": [], "attempts": "x"}, f)  # Hand-edited.
    with self.assertRaisesRegex(UserError, "cannot use .*attempts are not a "
                                "list"):
      metrics.MetricsLog(run, {})

  def test_unwritable_tensorboard_dir_is_a_clear_error(self):
    from common import metrics  # pylint: disable=g-import-not-at-top
    run = self.create_tempdir().full_path
    with open(os.path.join(run, metrics.TENSORBOARD_DIR), "w") as f:
      f.write("a file where the directory should be")
    with self.assertRaisesRegex(UserError, "cannot write TensorBoard"):
      metrics.MetricsLog(run, {})

  def test_each_machine_that_writes_the_run_is_noted_once(self):
    run = self.create_tempdir().full_path
    amd = {"model": "AMD EPYC", "flags": ["avx2", "avx512f"]}
    xeon = {"model": "Intel Xeon", "flags": ["avx2", "avx512f", "amx_bf16"]}
    def open_on(cpu):
      with mock.patch.object(metrics_lib.bench, "cpu_info", return_value=cpu):
        log = metrics_lib.MetricsLog(run, {})
      log.save()
      log.close()
      return log.record["machines"]
    self.assertEqual(open_on(amd), [{"cpu": "AMD EPYC",
                                     "cpu_flags": ["avx2", "avx512f"],
                                     "cores": os.cpu_count()}])
    self.assertLen(open_on(amd), 1)  # Resumed on the same machine.
    self.assertEqual([m["cpu"] for m in open_on(xeon)],
                     ["AMD EPYC", "Intel Xeon"])


class MemoryTest(absltest.TestCase):

  def test_refuses_more_than_available_and_skips_unknown(self):
    with mock.patch.object(memory, "available_bytes", return_value=10**9):
      memory.check_fits(10**9, "this", "x=1", "do less")
      with self.assertRaisesRegex(UserError, r"^this needs about 2\.5 GB of "
                                  r"memory \(x=1\) and 1\.0 GB are "
                                  r"available; do less$"):
        memory.check_fits(25 * 10**8, "this", "x=1", "do less")
    with mock.patch.object(memory, "available_bytes", return_value=None):
      memory.check_fits(10**15, "this", "x=1", "do less")


class _FakeCheckpointer:
  """Records what :class:`common.epoch_book.EpochBook` saves."""

  def __init__(self):
    self.saves = []

  def save(self, session, global_step, state, arrays=None):
    # As written to train_state.json then (the history list grows later).
    self.saves.append((session, global_step, json.loads(json.dumps(state)),
                       arrays))
    return "run/model.ckpt-%d" % global_step  # The prefix, as the real one.


class _FakePosition:
  step = 3

  def to_json(self):
    return {"step": 3}

  def arrays(self):
    return {"c0": np.zeros(1)}


class EpochBookTest(absltest.TestCase):

  def test_saved_states_and_history(self):
    metrics = metrics_lib.MetricsLog(None, {})
    saver = _FakeCheckpointer()
    book = epoch_book.EpochBook(saver, "sess", metrics, lambda: 7, 0,
                                {"seed": 5})
    book.hook(0)(_FakePosition())  # every_secs=0: never due.
    self.assertEmpty(saver.saves)
    with mock.patch.object(ckpt_lib.SaveTimer, "due", return_value=True):
      book.hook(0)(_FakePosition())
    record = {"epoch": 1, "learning_rate": 1.0}
    book.end_epoch(record, {"Validation Loss": 2.0})
    (_, step, mid, arrays), (session, _, end, none) = saver.saves
    self.assertEqual((step, session, none), (7, "sess", None))
    self.assertEqual(mid, {"epoch": 0, "history": [], "seed": 5,
                           "position": {"step": 3}})
    self.assertEqual(list(arrays), ["c0"])
    self.assertEqual(end, dict(record, history=[record], seed=5))
    self.assertEqual(metrics.record["epochs"], [record])
    self.assertIsNone(epoch_book.EpochBook(None, None, metrics, lambda: 0, 0,
                                           {}).hook(0))

  def test_sigterm_saves_at_the_next_chunk_or_the_epoch_end_then_stops(self):
    metrics = metrics_lib.MetricsLog(None, {})
    saver = _FakeCheckpointer()
    book = epoch_book.EpochBook(saver, "sess", metrics, lambda: 7, 0, {})
    with self.assertRaisesRegex(
        preemption.Stopped,
        r"^SIGTERM; saved model\.ckpt-7 \(epoch 1, step 3\): run the same "
        r"command to resume$"):
      with preemption.listening():
        book.hook(0)(_FakePosition())  # Not due, not asked: no save.
        self.assertEmpty(saver.saves)
        preemption._on_sigterm(signal.SIGTERM, None)  # pylint: disable=protected-access
        book.hook(0)(_FakePosition())
    self.assertLen(saver.saves, 1)
    with self.assertRaisesRegex(preemption.Stopped,
                                r"saved model\.ckpt-7 \(end of epoch 1\)"):
      with preemption.listening():  # During the Valid pass: the epoch's save.
        preemption._on_sigterm(signal.SIGTERM, None)  # pylint: disable=protected-access
        book.end_epoch({"epoch": 1}, {})
    self.assertLen(saver.saves, 2)
    self.assertEqual(metrics.record["epochs"], [{"epoch": 1}])

  def test_resume_epochs(self):
    metrics = metrics_lib.MetricsLog(None, {})
    state = {"checkpoint": "model.ckpt-9", "epoch": 2,
             "history": [{"epoch": 1}, {"epoch": 2}]}
    self.assertEqual(epoch_book.resume_epochs(state, metrics, 3, "n"), 2)
    self.assertEqual(metrics.record["epochs"], state["history"])
    with self.assertRaisesRegex(
        UserError, r"^model\.ckpt-9 has finished 2 epochs; --n=1 cannot undo "
        r"them \(use --n>=2, or --eval_only to score it\)$"):
      epoch_book.resume_epochs(state, metrics, 1, "n")

  def test_a_hand_edited_history_entry_is_refused(self):
    # A run's final summary reads the last entry's numbers: an entry that
    # lacks them crashed there, after the whole run.
    metrics = metrics_lib.MetricsLog(None, {})
    good = {"epoch": 1, "loss": 2.5}
    for entry, needle in (({}, r"\(epoch is None, loss\)"),
                          (dict(good, epoch=2), r"\(epoch is 2\)"),
                          ({"epoch": 1}, r"\(loss\)"),
                          (dict(good, loss="2.5"), r"\(loss\)"),
                          (dict(good, loss=True), r"\(loss\)"),
                          (dict(good, loss=float("nan")), r"\(loss\)"),
                          (dict(good, epoch=True), r"\(epoch is True\)"),
                          (dict(good, epoch=1.0), r"\(epoch is 1\.0\)")):
      state = {"checkpoint": "model.ckpt-9", "epoch": 1, "history": [entry]}
      with self.subTest(entry=entry):
        with self.assertRaisesRegex(
            UserError, r"^model\.ckpt-9: malformed history entry 1 " + needle):
          epoch_book.resume_epochs(state, metrics, 3, "n", ("loss",))
    state = {"checkpoint": "model.ckpt-9", "epoch": 1, "history": [good]}
    self.assertEqual(epoch_book.resume_epochs(state, metrics, 3, "n",
                                              ("loss",)), 1)


class CompareAndProgressTest(absltest.TestCase):

  def test_delta_percent_and_missing(self):
    rows = compare.compare({"test": 110.0},
                           [compare.Reference("paper", {"test": 100.0,
                                                        "valid": 90.0})])
    self.assertAlmostEqual(rows[0]["delta_pct"], 10.0)
    self.assertIsNone(rows[1]["measured"])
    text = compare.format_comparison(rows)
    self.assertIn("+10.00%", text)
    self.assertIn("paper", text)

  def test_duration_and_eta(self):
    self.assertEqual(progress.format_duration(3725), "1:02:05")
    self.assertEqual(progress.format_duration(float("nan")), "?")
    clock = iter([0.0, 10.0, 10.0, 10.0]).__next__
    meter = progress.Throughput(total_steps=4, clock=clock)
    meter.update(steps=1, units=100)
    self.assertAlmostEqual(meter.rate(), 10.0)
    self.assertEqual(meter.eta(), "0:00:30")


class SafeExtractTest(absltest.TestCase):

  def _tar(self, names):
    path = os.path.join(self.create_tempdir().full_path, "a.tgz")
    with tarfile.open(path, "w:gz") as tar:
      for name in names:
        info = tarfile.TarInfo(name)
        info.size = 2
        tar.addfile(info, io.BytesIO(b"hi"))
    return path

  def test_prefix_with_and_without_dot_slash(self):
    dest = self.create_tempdir().full_path
    data_lib.safe_extract(self._tar(["./d/a.txt", "d/b.txt", "e/c.txt"]), dest,
                          members_prefix="d/")
    self.assertEqual(sorted(os.listdir(os.path.join(dest, "d"))),
                     ["a.txt", "b.txt"])
    self.assertFalse(os.path.exists(os.path.join(dest, "e")))

  def test_unsafe_member_is_refused(self):
    dest = self.create_tempdir().full_path
    with self.assertRaisesRegex(UserError, "unsafe path '../evil.txt'"):
      data_lib.safe_extract(self._tar(["ok.txt", "../evil.txt"]), dest)
    self.assertEqual(os.listdir(dest), [])


if __name__ == "__main__":
  absltest.main()
