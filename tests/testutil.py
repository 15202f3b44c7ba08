"""Helpers shared by the test modules: real data location and CLI runs.

Entry scripts are always run in a subprocess: each defines absl flags
(``--data_path``, ``--save_path``...) at import time, and two of them in one
process would clash. Library code (reader/model/train) is tested in-process,
with a fresh ``tf.Graph()`` per test.
"""

import concurrent.futures
import json
import os
import subprocess
import sys
from unittest import mock

from common.errors import UserError

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def data_dir(name: str) -> str:
  """``$DATA_DIR/<name>``, else ``../shared/data/<name>``; fails if absent.

  Missing data is a failure, never a skip: CI has ``../shared/data``.
  """
  root = os.environ.get("DATA_DIR") or os.path.join(REPO_ROOT, os.pardir,
                                                    "shared", "data")
  path = os.path.join(root, name)
  if not os.path.isdir(path):
    raise AssertionError("real data for %r not found at %s; set DATA_DIR" %
                         (name, path))
  return path


def run_cli(script: str, *args: str, env=None, timeout: float = 600):
  """Runs ``python <script> args...`` from the repo root; returns the result.

  Args:
    script: path relative to the repo root, e.g. ``"ptb/ptb_word_lm.py"``.
    *args: command-line arguments.
    env: extra environment variables.
    timeout: seconds.

  Returns:
    ``subprocess.CompletedProcess`` with text ``stdout`` and ``stderr``.
  """
  full_env = dict(os.environ, PYTHONUNBUFFERED="1")
  full_env.update(env or {})
  return subprocess.run([sys.executable, os.path.join(REPO_ROOT, script)]
                        + list(args), cwd=REPO_ROOT, env=full_env,
                        capture_output=True, text=True, timeout=timeout)


def run_clis(script: str, arg_lists, env=None, workers: int = 2):
  """``run_cli(script, *args)`` for each of ``arg_lists``, ``workers`` at a
  time (each is mostly a single-threaded TensorFlow import); results in
  order."""
  with concurrent.futures.ThreadPoolExecutor(max_workers=workers) as pool:
    return list(pool.map(lambda args: run_cli(script, *args, env=env),
                         arg_lists))


def assert_one_line_error(testcase, result, needle: str) -> None:
  """Asserts a non-zero exit with one ``error:`` line containing ``needle``."""
  testcase.assertNotEqual(result.returncode, 0, result.stderr)
  testcase.assertNotIn("Traceback", result.stderr)
  errors = [l for l in result.stderr.splitlines() if l.startswith("error:")]
  testcase.assertLen(errors, 1, result.stderr)
  testcase.assertIn(needle, errors[0])
  # The error is the last thing said: nothing of it spills onto more lines.
  testcase.assertEqual(result.stderr.rstrip().splitlines()[-1], errors[0])


def spy(cls, method: str):
  """Patches ``cls.method`` with a mock that still runs it, to count calls
  (autospec: each call's first argument is the instance)."""
  return mock.patch.object(cls, method, autospec=True,
                           side_effect=getattr(cls, method))


def assert_closes_when_unwritable(testcase, metrics_class, run_dir,
                                   record_test) -> None:
  """``record_test(metrics)`` (a trainer's last step) with ``metrics.json``
  unwritable: the error comes through and the metrics log is still closed."""
  metrics = metrics_class(run_dir, {})
  with mock.patch.object(metrics_class, "save", side_effect=UserError(
      "cannot write metrics.json")), spy(metrics_class, "close") as close:
    with testcase.assertRaisesRegex(UserError, "cannot write metrics.json"):
      record_test(metrics)
  close.assert_called_once()


def flag_overrides(module: str):
  """``{config field: flag name}`` of an entry script's ``_OVERRIDES``.

  In a subprocess: importing an entry script defines its absl flags, which
  would clash with another entry script's in this process.

  Args:
    module: e.g. ``"ptb.ptb_word_lm"``.
  """
  package, name = module.rsplit(".", 1)
  code = ("import json; from %s import %s as m; print(json.dumps("
          "{k: h.name for k, h in m._OVERRIDES.items()}))" % (package, name))
  result = subprocess.run([sys.executable, "-c", code], cwd=REPO_ROOT,
                          capture_output=True, text=True, timeout=120,
                          check=True)
  return json.loads(result.stdout)
