"""common/report.py on the real records in docs/results, bad input, plots."""

import io
import json
import os
import shutil
import stat
import subprocess
import sys
from unittest import mock

from absl.testing import absltest

from common import report
from common.errors import UserError
from tests import testutil

RESULTS = os.path.join(testutil.REPO_ROOT, "docs", "results")
PTB_SMALL = os.path.join(RESULTS, "ptb_small")
MNIST = os.path.join(RESULTS, "mnist_rnn")
IMDB = os.path.join(RESULTS, "imdb")


def _run_dirs():
  """Every run directory under docs/results that has a metrics.json."""
  found = []
  for root, _, files in os.walk(RESULTS):
    if report.METRICS_FILE in files:
      found.append(root)
  return sorted(found)


def _cli(*args, cwd=testutil.REPO_ROOT):
  return subprocess.run([sys.executable, "-m", "common.report", *args],
                        cwd=cwd, capture_output=True, text=True, timeout=120,
                        env=dict(os.environ, PYTHONPATH=testutil.REPO_ROOT))


def _copy_run(src, dst, **config_changes):
  """Copies a run's metrics files into ``dst``, changing config fields."""
  os.makedirs(dst, exist_ok=True)
  for name in (report.METRICS_FILE, report.EVENTS_FILE):
    if os.path.exists(os.path.join(src, name)):
      shutil.copy(os.path.join(src, name), dst)
  if config_changes:
    _edit_record(dst, lambda record: record["config"].update(config_changes))
  return dst


def _edit_record(run_dir, edit):
  """Rewrites ``run_dir``'s metrics.json after ``edit(record)``."""
  path = os.path.join(run_dir, report.METRICS_FILE)
  with open(path) as f:
    record = json.load(f)
  edit(record)
  with open(path, "w") as f:
    json.dump(record, f)


class ReadRealRecordsTest(absltest.TestCase):

  def test_ptb_small(self):
    run = report.load_run(PTB_SMALL)
    self.assertEqual((run.workload, run.model, run.preset, run.overrides),
                     ("ptb", None, "small", {}))
    self.assertEqual(run.values(), {"train": 40.9845085144043,
                                    "valid": 119.61278533935547,
                                    "test": 114.6438980102539})
    self.assertEqual(run.progress, "13 of 13 epochs")
    (panel,) = run.panels
    self.assertEqual([s.label for s in panel.series], ["train", "valid"])
    self.assertEqual(panel.series[0].x, tuple(range(1, 14)))
    self.assertAlmostEqual(panel.series[1].y[-1], 119.61278533935547)
    published = {(p.label, p.x, p.y) for p in panel.points if p.published}
    self.assertIn(("TF tutorial (small): test", 13, 115.91), published)
    self.assertLen(published, 5)

  def test_mnist_preset_is_found_from_the_fields(self):
    run = report.load_run(os.path.join(MNIST, "bidirectional_medium"))
    self.assertEqual((run.workload, run.model, run.preset, run.overrides),
                     ("mnist_rnn", "bidirectional", "medium", {}))
    self.assertEqual(run.seed, 1)
    self.assertAlmostEqual(run.values()["test"], 98.88)
    v1 = report.load_run(os.path.join(MNIST, "bidirectional_medium_v1"))
    self.assertEqual(v1.preset, "medium")
    self.assertEqual(v1.overrides, {"keep_prob": (0.5, 0.8),
                                    "batch_size": (128, 200),
                                    "lr_decay_steps": (4000, 3000),
                                    "max_steps": (12000, 9000)})
    merge = report.load_run(os.path.join(MNIST,
                                         "bidirectional_small_seedmerge"))
    self.assertEqual((merge.preset, merge.overrides),
                     ("small", {"bi_merge": ("final", "seed")}))

  def test_mnist_curves_come_from_the_event_stream(self):
    run = report.load_run(os.path.join(MNIST, "stacked_small"))
    accuracy, loss = run.panels
    train, valid = accuracy.series
    self.assertEqual(train.x, (200, 400, 600, 800, 1000))
    self.assertAlmostEqual(train.y[0], 89.84375)
    self.assertEqual(valid.x, (500, 1000))
    self.assertEqual(valid.y, (95.56, 97.28))
    self.assertEqual([p.y for p in loss.points], [0.10922688134014606])
    self.assertEqual(run.references, [])  # small: none published.

  def test_run_options_of_the_last_attempt_are_shown_unless_default(self):
    run_dir = self.create_tempdir().full_path
    for name in (report.METRICS_FILE, "metrics.jsonl"):
      shutil.copy(os.path.join(PTB_SMALL, name), run_dir)
    self.assertEqual(report.load_run(run_dir).options, {})  # No attempts.
    path = os.path.join(run_dir, report.METRICS_FILE)
    with open(path) as f:
      record = json.load(f)
    record["attempts"] = [
        {"attempt": 1, "rnn_mode": "basic", "precision": "fp32"},
        {"attempt": 2, "rnn_mode": "fused", "precision": "bf16",
         "eval_mode": "fast"}]
    with open(path, "w") as f:
      json.dump(record, f)
    run = report.load_run(run_dir)
    self.assertEqual(run.options, {"rnn_mode": "fused", "precision": "bf16"})
    header = report._header(run)[0]  # pylint: disable=protected-access
    self.assertIn("precision bf16, rnn_mode fused, seed", header)

  def test_machines_are_shown_and_a_change_of_machine_is_said(self):
    amd = {"cpu": "AMD EPYC", "cpu_flags": ["sse4_2", "avx2", "avx512f"],
           "cores": 2}
    xeon = {"cpu": "Intel Xeon", "cpu_flags": ["avx2", "avx512f", "amx_bf16"],
            "cores": 2}
    self.assertEqual(report.machine_text([]), "machine not recorded")
    self.assertEqual(report.machine_text([amd]),
                     "CPU AMD EPYC (avx2 avx512f), 2 cores")
    self.assertEqual(
        report.machine_text([amd, xeon]),
        "CPUs (resumed on 2 machines, in turn): AMD EPYC (avx2 avx512f), "
        "2 cores; Intel Xeon (avx2 avx512f amx_bf16), 2 cores")
    dirs = []
    for machines in ([amd], [xeon]):
      run_dir = self.create_tempdir().full_path
      _copy_run(PTB_SMALL, run_dir)
      _edit_record(run_dir, lambda r, m=machines: r.update(machines=m))
      dirs.append(run_dir)
    run, other = (report.load_run(d) for d in dirs)
    self.assertEqual(run.machines, [amd])
    self.assertIn("CPU AMD EPYC (avx2 avx512f), 2 cores", report._header(run))  # pylint: disable=protected-access
    section = report.Section(run=run, published=[], other=other, against=[],
                             outside=[], plot=None)
    (note,) = [n for n in report._notes(section)  # pylint: disable=protected-access
               if n.startswith("machines differ")]
    self.assertIn("AMD EPYC", note)
    self.assertIn("Intel Xeon", note)
    section.other = report.load_run(dirs[0])
    self.assertFalse([n for n in report._notes(section)  # pylint: disable=protected-access
                      if n.startswith("machines differ")])

  def test_a_dirty_tree_stays_visible_in_the_short_commit(self):
    self.assertEqual(report.short_commit(None), "-")
    self.assertEqual(report.short_commit("fc0012ba9558ebd58c3c1a44"),
                     "fc0012ba9558")
    self.assertEqual(report.short_commit("fc0012ba9558ebd58c3c1a44+dirty"),
                     "fc0012ba9558+dirty")
    run = report.load_run(os.path.join(RESULTS, "ptb_large_1epoch"))
    self.assertIn("commit fc0012ba9558+dirty", report._header(run)[1])  # pylint: disable=protected-access

  def test_imdb_seed_and_preset(self):
    run = report.load_run(os.path.join(IMDB, "seed003_seed1"))
    self.assertEqual((run.workload, run.preset, run.seed, run.overrides),
                     ("imdb", "seed003", 1, {}))
    self.assertEqual(list(run.values()), [
        "test_accuracy", "test_loss", "train_accuracy", "train_loss",
        "valid_accuracy", "valid_loss"])
    self.assertAlmostEqual(run.values()["test_accuracy"], 0.84112, places=6)

  def test_published_rows_equal_the_ones_training_wrote(self):
    runs = _run_dirs()
    self.assertGreaterEqual(len(runs), 30)
    compared = 0
    in_progress = set()
    for path in runs:
      with open(os.path.join(path, report.METRICS_FILE)) as f:
        record = json.load(f)
      run = report.load_run(path)
      rows = report.compare.compare(run.values(), run.references)
      if "comparison" not in record:
        # A long run committed part-way (PTB medium across sessions; its
        # second start, cut off when its machine went): the comparison is
        # written with the test number, so it has neither yet.
        self.assertTrue(record["epochs"], msg=path)
        self.assertIsNone(run.values()["test"], msg=path)
        test_rows = [r for r in rows if r["metric"] == "test"]
        self.assertTrue(test_rows, msg=path)
        self.assertTrue(all(r["measured"] is None for r in test_rows),
                        msg=path)
        in_progress.add(os.path.relpath(path, RESULTS))
        continue
      written = record["comparison"] or []
      self.assertLen(rows, len(written), msg=path)
      for mine, theirs in zip(rows, written):
        self.assertEqual((mine["source"], mine["metric"], mine["published"]),
                         (theirs["source"], theirs["metric"],
                          theirs["published"]), msg=path)
        self.assertAlmostEqual(mine["delta_pct"], theirs["delta_pct"],
                               places=9, msg=path)
        compared += 1
    self.assertGreaterEqual(compared, 20)
    # Only PTB medium's superseded starts are committed part-way (the
    # fourth start, ptb_medium, finished).
    self.assertLessEqual(in_progress, {"ptb_medium_start2",
                                       "ptb_medium_start3"})


class CommandTest(absltest.TestCase):

  def test_text_report_of_ptb_small(self):
    result = _cli(PTB_SMALL, "--noplot")
    self.assertEqual(result.returncode, 0, result.stderr)
    self.assertIn("workload ptb, preset small, api tf1, seed -", result.stdout)
    self.assertRegex(result.stdout,
                     r"TF tutorial \(small\)\s+train\s+37\.99\s+40\.9845"
                     r"\s+\+7\.88%")
    self.assertNotIn("PASS", result.stdout)  # No gate without --tolerance.

  def test_tolerance_names_the_number_outside(self):
    result = _cli(PTB_SMALL, "--noplot", "--tolerance=5")
    self.assertEqual(result.returncode, 1, result.stderr)
    self.assertIn("FAIL: 1 number(s) outside 5%:", result.stdout)
    self.assertIn("ptb_small: train vs TF tutorial (small): +7.88%",
                  result.stdout)
    result = _cli(PTB_SMALL, "--noplot", "--tolerance=7.9")
    self.assertEqual(result.returncode, 0, result.stderr)
    self.assertIn("PASS: every number within 7.9%", result.stdout)

  def test_against_another_run_number_by_number(self):
    result = _cli(os.path.join(IMDB, "seed003"), "--noplot",
                  "--against=%s" % os.path.join(IMDB, "seed003_seed3"),
                  "--tolerance=5", "--json")
    self.assertEqual(result.returncode, 1, result.stderr)
    out = json.loads(result.stdout)
    (run,) = out["runs"]
    rows = {r["metric"]: r for r in run["against"]["rows"]}
    self.assertAlmostEqual(rows["test_accuracy"]["delta_pct"],
                           100 * (0.86108 - 0.86476) / 0.86476, places=3)
    self.assertEqual(run["against"]["config_changes"],
                     {"seed": {"this": 22, "other": 3}})
    self.assertEqual(sorted(o["metric"] for o in out["outside"]),
                     ["test_loss", "train_loss"])
    # A run against itself: every delta 0, inside a zero tolerance.
    same = _cli(PTB_SMALL, "--noplot", "--against=%s" % PTB_SMALL,
                "--tolerance=0", "--markdown")
    self.assertEqual(same.returncode, 0, same.stderr)
    self.assertIn("| test perplexity | 114.644 | 114.644 | +0.00% |",
                  same.stdout)
    self.assertIn("PASS: every number within 0%", same.stdout)

  def test_runs_at_different_epochs_are_compared_at_a_common_one(self):
    # An in-progress run (5 of 13 epochs, no test yet) against the finished
    # run it is a prefix of: train and valid at epoch 5, not epoch 5 vs 13.
    run_dir = self.create_tempdir().full_path
    path = os.path.join(run_dir, report.METRICS_FILE)
    with open(os.path.join(PTB_SMALL, report.METRICS_FILE)) as f:
      record = json.load(f)
    full_epochs = record["epochs"]
    record["epochs"] = full_epochs[:5]
    del record["test_perplexity"]
    with open(path, "w") as f:
      json.dump(record, f)
    rows = report.against_rows(report.load_run(run_dir),
                               report.load_run(PTB_SMALL))
    by_key = {r.metric: r for r in rows}
    self.assertEqual(by_key["valid"].label,
                     "valid perplexity (epoch 5: the last both have)")
    self.assertEqual(by_key["valid"].value, by_key["valid"].other)
    self.assertEqual(by_key["train"].other, full_epochs[4]["train_perplexity"])
    self.assertEqual(by_key["valid"].delta_pct, 0.0)
    self.assertIsNone(by_key["test"].value)  # Not trained to the end yet.
    self.assertAlmostEqual(by_key["test"].other, 114.6438980102539)
    # Runs that end at the same epoch compare their last epochs.
    same = report.against_rows(report.load_run(PTB_SMALL),
                               report.load_run(PTB_SMALL))
    self.assertEqual(same[1].label, "valid perplexity (epoch 13)")
    # No epoch in common: nothing to set a last-epoch number against.
    record["epochs"] = [dict(e, epoch=e["epoch"] + 20)
                        for e in full_epochs[:2]]
    with open(path, "w") as f:
      json.dump(record, f)
    rows = report.against_rows(report.load_run(run_dir),
                               report.load_run(PTB_SMALL))
    self.assertEqual(rows[1].label, "valid perplexity (no epoch in common)")
    self.assertIsNone(rows[1].other)

  def test_several_runs_and_markdown(self):
    result = _cli(os.path.join(MNIST, "stacked_small"),
                  os.path.join(MNIST, "stacked_large"), "--markdown",
                  "--noplot")
    self.assertEqual(result.returncode, 0, result.stderr)
    self.assertIn("### `%s`" % os.path.join(MNIST, "stacked_small"),
                  result.stdout)
    self.assertIn("No published numbers for mnist_rnn stacked/small.",
                  result.stdout)
    self.assertIn("| issue #3 target, test acc. % | test | 98.8 | 99.21 | "
                  "+0.41% |", result.stdout)


class BadInputTest(absltest.TestCase):

  def setUp(self):
    super().setUp()
    self.tmp = self.create_tempdir().full_path

  def _error(self, needle, *args):
    result = _cli(*args)
    testutil.assert_one_line_error(self, result, needle)
    self.assertEqual(result.stdout, "")
    return result

  def test_no_metrics_json(self):
    self._error("no metrics.json in %s" % self.tmp, self.tmp, "--noplot")
    self._error("not found", os.path.join(self.tmp, "absent"))

  def test_truncated_metrics_json(self):
    run = os.path.join(self.tmp, "run")
    os.makedirs(run)
    with open(os.path.join(PTB_SMALL, report.METRICS_FILE)) as f:
      text = f.read()
    with open(os.path.join(run, report.METRICS_FILE), "w") as f:
      f.write(text[:len(text) // 2])
    self._error("is not valid JSON (truncated?)", run)

  def test_not_a_run_record(self):
    run = os.path.join(self.tmp, "run")
    os.makedirs(run)
    with open(os.path.join(run, report.METRICS_FILE), "w") as f:
      json.dump({"config": {"color": "blue"}}, f)
    self._error("is none of ptb, mnist_rnn, imdb", run)
    with open(os.path.join(run, report.METRICS_FILE), "w") as f:
      json.dump([1, 2], f)
    self._error("is not a run record", run)
    # imdb/keras_reference.py's result.json: a config and an int "epochs".
    _copy_run(PTB_SMALL, run)
    _edit_record(run, lambda record: record.update(epochs=5))
    self._error('"epochs" is not a list of records', run, "--noplot")

  def test_against_another_workload_or_preset(self):
    self._error("another workload or preset", os.path.join(IMDB, "seed003"),
                "--against=%s" % PTB_SMALL)
    self._error("(imdb seed003) with", os.path.join(IMDB, "seed003"),
                "--against=%s" % os.path.join(IMDB, "seed000"))
    self._error("(mnist_rnn stacked/medium)",
                os.path.join(MNIST, "stacked_medium"),
                "--against=%s" % os.path.join(MNIST, "bidirectional_medium"))

  def test_numbers_no_run_writes_are_refused(self):
    # They were printed as given (a test accuracy 7.5 as 750%) or, for a
    # string, shown as missing; -5 passed the --against gate.
    def set_last_epoch(key, value):
      return lambda record: record["epochs"][-1].update({key: value})
    ptb = os.path.join(self.tmp, "ptb")
    mnist = os.path.join(self.tmp, "mnist")
    for src, dst, edit, needle in (
        (PTB_SMALL, ptb, set_last_epoch("valid_perplexity", -5),
         r"epochs\[12\]: valid_perplexity is -5, not a perplexity \(>= 1\)"),
        (PTB_SMALL, ptb, set_last_epoch("valid_perplexity", "abc"),
         "valid_perplexity is 'abc', not a perplexity"),
        (PTB_SMALL, ptb, set_last_epoch("epoch", -3),
         r"epoch is -3, not a count \(an integer >= 0\)"),
        (PTB_SMALL, ptb, set_last_epoch("epoch", 1e30),
         "epoch is 1e\\+30, not a count"),
        (PTB_SMALL, ptb, lambda r: r.update(test_perplexity=True),
         "metrics.json: test_perplexity is True, not a perplexity"),
        (os.path.join(MNIST, "stacked_small"), mnist,
         lambda r: r.update(test_accuracy=7.5),
         r"test_accuracy is 7.5, not an accuracy \(0 to 1\)")):
      shutil.rmtree(dst, ignore_errors=True)
      _copy_run(src, dst)
      _edit_record(dst, edit)
      with self.assertRaisesRegex(UserError, needle):
        report.load_run(dst)
    self._error("not an accuracy (0 to 1)", mnist, "--noplot")
    # A non-finite number is a run that measured none, not a bad record.
    _edit_record(ptb, lambda r: r.update(test_perplexity=float("inf")))
    self.assertIsNone(report.load_run(ptb).metrics[2].value)

  def test_bad_flags(self):
    self._error("exclude each other", PTB_SMALL, "--json", "--markdown")
    self._error("--tolerance must be a percentage >= 0", PTB_SMALL,
                "--tolerance=-1")
    self._error("give at least one run directory")


class ApiFieldTest(absltest.TestCase):

  def test_api_is_shown_and_runs_of_both_apis_compare(self):
    tmp = self.create_tempdir().full_path
    tf2 = _copy_run(PTB_SMALL, os.path.join(tmp, "tf2"), api="tf2")
    out = io.StringIO()
    status = report.report([tf2], against=PTB_SMALL, tolerance=0.0,
                           plot=False, out=out)
    self.assertEqual(status, 0)
    self.assertIn("workload ptb, preset small, api tf2, seed -",
                  out.getvalue())
    # The committed small run names no API: a TF1 run.
    self.assertIn("APIs differ: tf2 vs tf1", out.getvalue())
    self.assertNotIn("configs differ: api", out.getvalue())

  def test_the_api_of_real_runs_is_read_from_their_records(self):
    # PTB notes it in each attempt, MNIST in the record (a real TF2 run of
    # either once showed no API at all).
    out = io.StringIO()
    report.report([os.path.join(RESULTS, "ptb_small_tf2")],
                  against=PTB_SMALL, plot=False, out=out)
    self.assertIn("workload ptb, preset small, api tf2, seed 1234",
                  out.getvalue())
    self.assertIn("APIs differ: tf2 vs tf1", out.getvalue())
    self.assertEqual(report.load_run(os.path.join(
        MNIST, "bidirectional_medium_tf2")).api, "tf2")
    self.assertEqual(report.load_run(os.path.join(
        MNIST, "bidirectional_medium")).api, "tf1")
    self.assertIsNone(report.load_run(os.path.join(IMDB, "seed000")).api)


class ToleranceTest(absltest.TestCase):

  def _gate(self, run, other):
    """The --against gate's output at 1%; it must fail."""
    out = io.StringIO()
    self.assertEqual(report.report([run], against=other, tolerance=1.0,
                                   plot=False, out=out), 1)
    return out.getvalue()

  def test_a_number_missing_on_one_side_is_outside(self):
    tmp = self.create_tempdir().full_path
    unfinished = _copy_run(PTB_SMALL, os.path.join(tmp, "r"))
    _edit_record(unfinished, lambda r: r.pop("test_perplexity"))
    progress = "(13 of 13 epochs, no test perplexity yet)"
    # Either side may lack it; two unfinished runs cannot pass either (they
    # once did: the row was skipped).
    for run, other, needle in (
        (unfinished, PTB_SMALL, "r: test vs %s: no finite number in this run "
         "%s" % (PTB_SMALL, progress)),
        (PTB_SMALL, unfinished, ": test vs %s: no finite number in the other "
         "run %s" % (unfinished, progress)),
        (unfinished, unfinished, ": test vs %s: no finite number in either "
         "run" % unfinished)):
      with self.subTest(run=run, other=other):
        self.assertIn(needle, self._gate(run, other))

  def test_a_zero_in_the_other_run_has_no_relative_difference(self):
    tmp = self.create_tempdir().full_path
    # An accuracy of 0 (a perplexity cannot be: _check_numbers).
    run = os.path.join(MNIST, "stacked_small")
    zero = _copy_run(run, os.path.join(tmp, "zero"))
    _edit_record(zero, lambda r: r.update(test_accuracy=0.0))
    self.assertIn("test vs %s: the other run's value is 0" % zero,
                  self._gate(run, zero))

  def test_a_published_number_not_measured_or_not_finite_is_outside(self):
    # A diverged run's inf perplexities were once read as "not measured"
    # and skipped: the gate said PASS.
    tmp = self.create_tempdir().full_path
    for name, test in (("inf", float("inf")), ("none", None)):
      run = _copy_run(PTB_SMALL, os.path.join(tmp, name))
      _edit_record(run, lambda r, t=test: r.update(test_perplexity=t))
      out = io.StringIO()
      status = report.report([run], tolerance=50.0, plot=False, out=out)
      self.assertEqual(status, 1, out.getvalue())
      self.assertIn("%s: test vs TF tutorial (small): no finite number "
                    "measured (13 of 13 epochs" % run, out.getvalue())


class EventStreamTest(absltest.TestCase):

  def test_resumed_steps_replace_earlier_lines_and_a_torn_tail_is_skipped(
      self):
    tmp = self.create_tempdir().full_path
    run = _copy_run(os.path.join(MNIST, "stacked_small"),
                    os.path.join(tmp, "r"))
    with open(os.path.join(run, report.EVENTS_FILE), "a") as f:
      f.write(json.dumps({"kind": "scalars", "step": 400, "attempt": 2,
                          "train_accuracy": 0.5, "train_loss": 9.0}) + "\n")
      f.write('{"kind": "scal')  # Killed while writing.
    train = report.load_run(run).panels[0].series[0]
    self.assertEqual(train.x, (200, 400, 600, 800, 1000))
    self.assertEqual(train.y[1], 50.0)

  def test_a_torn_line_inside_is_an_error(self):
    tmp = self.create_tempdir().full_path
    run = _copy_run(os.path.join(MNIST, "stacked_small"),
                    os.path.join(tmp, "r"))
    path = os.path.join(run, report.EVENTS_FILE)
    with open(path) as f:
      lines = f.readlines()
    lines[2] = lines[2][:10] + "\n"
    with open(path, "w") as f:
      f.writelines(lines)
    with self.assertRaisesRegex(UserError, r"metrics.jsonl line 3 is not "
                                r"JSON"):
      report.load_run(run)

  def test_bytes_that_are_not_utf8_are_a_torn_tail_or_an_error(self):
    tmp = self.create_tempdir().full_path
    run = _copy_run(os.path.join(MNIST, "stacked_small"),
                    os.path.join(tmp, "r"))
    path = os.path.join(run, report.EVENTS_FILE)
    with open(path, "ab") as f:
      f.write(b'{"kind": "scalars", "note": "\xc3')  # Torn inside a char.
    self.assertLen(report.load_run(run).panels[0].series[0].x, 5)
    with open(path, "ab") as f:
      f.write(b"\n{}\n")  # Now the bad line is inside: UnicodeDecodeError.
    with self.assertRaisesRegex(UserError, r"metrics.jsonl line \d+ is not "
                                r"JSON: 'utf-8' codec can't decode"):
      report.load_run(run)


class PlotTest(absltest.TestCase):

  def setUp(self):
    super().setUp()
    self.tmp = self.create_tempdir().full_path
    if report.load_pyplot() is None:
      self.fail("matplotlib is needed for the plot tests: %s" %
                report.INSTALL_HINT)

  def test_png_beside_metrics_json(self):
    run = _copy_run(PTB_SMALL, os.path.join(self.tmp, "ptb"))
    out = io.StringIO()
    self.assertEqual(report.report([run], out=out), 0)
    png = os.path.join(run, report.PLOT_FILE)
    with open(png, "rb") as f:
      self.assertEqual(f.read(8), b"\x89PNG\r\n\x1a\n")
    self.assertIn("plot: %s" % png, out.getvalue())
    self.assertFalse([n for n in os.listdir(run) if ".tmp" in n])
    self.assertEqual(stat.S_IMODE(os.stat(png).st_mode) & 0o044, 0o044)

  def test_against_draws_the_other_runs_curves_dashed(self):
    plt = report.load_pyplot()
    run = report.load_run(os.path.join(IMDB, "seed003"))
    other = report.load_run(os.path.join(IMDB, "seed003_seed1"))
    figures = []
    with mock.patch.object(plt, "close", side_effect=figures.append):
      report.plot_run(plt, run, other, os.path.join(self.tmp, "a.png"))
    (fig,) = figures
    accuracy_axes = fig.axes[0]
    styles = [line.get_linestyle() for line in accuracy_axes.lines]
    self.assertEqual(styles, ["-", "-", "--", "--"])  # train, valid x 2.
    labels = accuracy_axes.get_legend_handles_labels()[1]
    self.assertIn("published seed 003 (Keras, LSTM 32): test_accuracy",
                  labels)
    self.assertIn("seed003_seed1: test (measured)", labels)
    plt.close(fig)

  def test_read_only_run_needs_plot_dir(self):
    run = _copy_run(PTB_SMALL, os.path.join(self.tmp, "ro"))
    real_access = os.access
    def access(path, mode):
      return False if os.path.abspath(path) == run else real_access(path,
                                                                    mode)
    out = io.StringIO()
    with mock.patch.object(report.os, "access", side_effect=access):
      with self.assertRaisesRegex(UserError, "pass --plot_dir=DIR or "
                                  "--noplot"):
        report.report([run], out=out)
      self.assertEqual(out.getvalue(), "")  # Nothing half-written.
      plots = os.path.join(self.tmp, "plots")
      os.makedirs(plots)
      self.assertEqual(report.report([run], plot_dir=plots, out=out), 0)
    self.assertTrue(os.path.isfile(os.path.join(plots, "ro.png")))
    self.assertFalse(os.path.exists(os.path.join(run, report.PLOT_FILE)))

  def test_without_matplotlib_one_line_and_the_text_report(self):
    run = _copy_run(PTB_SMALL, os.path.join(self.tmp, "ptb"))
    with mock.patch.dict(sys.modules, {"matplotlib": None}):
      self.assertIsNone(report.load_pyplot())
    out, err = io.StringIO(), io.StringIO()
    with mock.patch.object(report, "load_pyplot", return_value=None):
      self.assertEqual(report.report([run], out=out, err=err), 0)
    self.assertEqual(err.getvalue(), "note: matplotlib is not installed, so "
                     "no report.png; pip install .[report]\n")
    self.assertIn("test perplexity              114.644", out.getvalue())
    self.assertFalse(os.path.exists(os.path.join(run, report.PLOT_FILE)))


class RunShTest(absltest.TestCase):
  """run.sh's main job reports the run it made and keeps training's status."""

  def _fake_checkout(self, train_status):
    root = self.create_tempdir().full_path
    for name in ("run.sh", "setup.py"):
      shutil.copy(os.path.join(testutil.REPO_ROOT, name), root)
    bin_dir = os.path.join(root, ".venv", "bin")
    os.makedirs(bin_dir)
    digest = subprocess.run(["sha256sum", "setup.py"], cwd=root, text=True,
                            capture_output=True, check=True).stdout[:16]
    open(os.path.join(root, ".venv", ".installed-" + digest), "w").close()
    python = os.path.join(bin_dir, "python")
    with open(python, "w") as f:  # Training writes a record; report echoes.
      f.write("""#!/bin/sh
if [ "$1" = "-m" ]; then echo "REPORT $*"; exit 2; fi
for a in "$@"; do case "$a" in --save_path=*) d=${a#--save_path=};; esac; done
mkdir -p "$d" && echo '{}' > "$d/metrics.json"
echo "TRAIN $*"
exit %d
""" % train_status)
    os.chmod(python, 0o755)
    return root

  def test_report_after_training_with_trainings_status(self):
    root = self._fake_checkout(train_status=3)
    result = subprocess.run(["bash", "run.sh", "--save_path=runs/x"],
                            cwd=root, capture_output=True, text=True,
                            timeout=60, env=dict(os.environ, DATA_DIR="d"))
    self.assertEqual(result.returncode, 3, result.stderr)
    lines = result.stdout.splitlines()
    self.assertEqual(lines[0], "TRAIN ptb/ptb_word_lm.py --model=small "
                     "--data_path=d/ptb --download --save_path=runs/ptb_small "
                     "--save_path=runs/x")
    self.assertEqual(lines[1], "REPORT -m common.report runs/x")
    # Training succeeded, the report failed: still training's status (0).
    root = self._fake_checkout(train_status=0)
    result = subprocess.run(["bash", "run.sh"], cwd=root, capture_output=True,
                            text=True, timeout=60,
                            env=dict(os.environ, DATA_DIR="d"))
    self.assertEqual(result.returncode, 0, result.stderr)
    self.assertEqual(result.stdout.splitlines()[-1],
                     "REPORT -m common.report runs/ptb_small")


if __name__ == "__main__":
  absltest.main()
