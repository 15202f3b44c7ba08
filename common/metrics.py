"""Metrics: one JSON record per run, JSON lines per event, TensorBoard."""

import json
import os
import platform
import subprocess
import time
from typing import Any, Dict, Optional

import numpy as np

from common import bench
from common.checkpoint import atomic_write_json
from common.errors import UserError
from common.tf_compat import tf, tf1

METRICS_FILE = "metrics.json"
EVENTS_FILE = "metrics.jsonl"
TENSORBOARD_DIR = "tensorboard"


def git_commit() -> str:
  """The project's git commit (``+dirty`` if changed), or ``unknown``."""
  root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
  try:
    sha = subprocess.run(["git", "rev-parse", "HEAD"], cwd=root, text=True,
                         capture_output=True, check=True).stdout.strip()
    dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"],
                           cwd=root, text=True, capture_output=True,
                           check=True).stdout.strip()
  except (OSError, subprocess.CalledProcessError):
    return "unknown"
  return sha + ("+dirty" if dirty else "")


def versions() -> Dict[str, str]:
  """Software versions (and the code's commit) that make a number reproducible."""
  import tf_keras  # pylint: disable=g-import-not-at-top
  return {"python": platform.python_version(), "tensorflow": tf.__version__,
          "tf_keras": tf_keras.__version__, "numpy": np.__version__,
          "platform": platform.platform(), "git_commit": git_commit()}


def machine() -> Dict[str, Any]:
  """The machine a number is measured on: CPU model, SIMD features, cores.

  Speed depends on it, and float results may (other SIMD kernels round
  differently), so a comparison of two runs says when their machines differ.
  """
  cpu = bench.cpu_info()
  return {"cpu": cpu["model"], "cpu_flags": cpu["flags"],
          "cores": os.cpu_count()}


def _note_machine(record: Dict[str, Any]) -> None:
  """Appends this machine to ``record["machines"]`` unless it is the last
  one there: a run resumed on other hardware lists each machine in turn."""
  machines = record.get("machines")
  if not isinstance(machines, list):
    machines = record["machines"] = []
  here = machine()
  if not machines or machines[-1] != here:
    machines.append(here)


def _jsonable(value):
  if isinstance(value, (np.floating, np.integer)):
    return value.item()
  return value


class MetricsLog:
  """Run record (``metrics.json``), event stream and TensorBoard scalars.

  With ``save_path=None`` every method is a no-op apart from keeping the
  record in memory, so training code never branches on it. On resume the
  existing ``metrics.json`` is loaded and extended, not overwritten.
  """

  def __init__(self, save_path: Optional[str], config: Dict[str, Any]):
    self._save_path = save_path
    self.record: Dict[str, Any] = {"config": config, "versions": versions(),
                                   "epochs": []}
    self._writer = None
    self.attempt = 1
    if save_path:
      path = os.path.join(save_path, METRICS_FILE)
      try:
        os.makedirs(save_path, exist_ok=True)
        if os.path.exists(path):
          with open(path) as f:
            old = json.load(f)
          if not (isinstance(old, dict) and
                  isinstance(old.get("epochs"), list)):
            raise ValueError("not a metrics record (no list of epochs)")
          if not isinstance(old.get("attempts", []), list):
            raise ValueError("its attempts are not a list")
          old.update(config=config, versions=self.record["versions"])
          self.record = old
        _note_machine(self.record)
      except (OSError, ValueError) as e:
        raise UserError("cannot use %s for metrics: %s" % (path, e)) from e
      board = os.path.join(save_path, TENSORBOARD_DIR)
      try:
        # FileWriter refuses eager mode; it writes event protos from Python,
        # so a private graph context is all it needs.
        with tf.Graph().as_default():
          self._writer = tf1.summary.FileWriter(board)
      except tf.errors.OpError as e:
        raise UserError("cannot write TensorBoard events to %s: %s" %
                        (board, e.message.splitlines()[0])) from e

  def start_attempt(self, **fields: Any) -> int:
    """Marks the start of a process's work on the run; returns its number.

    Every later ``metrics.jsonl`` line carries ``"attempt": n``, so lines a
    resumed run writes again for the same steps (after a kill between two
    checkpoints) can be told apart: the highest attempt is the one that
    counts. ``metrics.json`` lists the attempts.
    """
    attempts = self.record.setdefault("attempts", [])
    self.attempt = len(attempts) + 1
    attempts.append(dict(attempt=self.attempt, time=time.time(),
                         git_commit=self.record["versions"]["git_commit"],
                         **{k: _jsonable(v) for k, v in fields.items()}))
    self.save()
    self.event("attempt", **fields)
    return self.attempt

  def scalars(self, step: int, **values: float) -> None:
    """TensorBoard scalars plus one ``metrics.jsonl`` line."""
    values = {k: _jsonable(v) for k, v in values.items()}
    self.event("scalars", step=int(step), **values)
    if self._writer is not None:
      summary = tf1.Summary(value=[
          tf1.Summary.Value(tag=k, simple_value=float(v))
          for k, v in values.items()])
      self._writer.add_summary(summary, int(step))
      self._writer.flush()

  def event(self, kind: str, **fields: Any) -> None:
    """Appends one JSON line ``{"time", "kind", **fields}``."""
    if not self._save_path:
      return
    line = dict(time=time.time(), kind=kind, attempt=self.attempt,
                **{k: _jsonable(v) for k, v in fields.items()})
    path = os.path.join(self._save_path, EVENTS_FILE)
    try:
      with open(path, "a") as f:
        f.write(json.dumps(line) + "\n")
    except OSError as e:
      raise UserError("cannot write %s: %s" % (path, e)) from e

  def set_epochs(self, epochs) -> None:
    """Replaces the per-epoch entries (e.g. with a checkpoint's history)."""
    self.record["epochs"] = list(epochs)
    self.save()

  def add_epoch(self, **fields: Any) -> None:
    """Appends a per-epoch entry to the record and saves it."""
    self.record["epochs"].append({k: _jsonable(v) for k, v in fields.items()})
    self.save()

  def set(self, **fields: Any) -> None:
    """Sets top-level record fields and saves."""
    self.record.update({k: _jsonable(v) for k, v in fields.items()})
    self.save()

  def save(self) -> None:
    if self._save_path:
      atomic_write_json(os.path.join(self._save_path, METRICS_FILE),
                        self.record)

  def close(self) -> None:
    if self._writer is not None:
      self._writer.close()


class SummaryMetricsLog(MetricsLog):
  """:class:`MetricsLog` with its TensorBoard scalars written through
  ``tf.summary`` (``create_file_writer`` + ``write``, the TF2 API) instead
  of ``tf1.summary.FileWriter``: what the TF2 twins use.

  Same ``metrics.json`` / ``metrics.jsonl`` and the same tags in the same
  ``tensorboard/`` directory as a TF1 run. The base class's FileWriter
  (which leaves an events file holding only its version record) is closed
  at once and a ``tf.summary`` writer takes its place.
  """

  # The scalars plugin's tag, what ``tf.summary.scalar`` writes (it lives in
  # the tensorboard package, which this project does not install):
  # TensorBoard draws these values as scalar charts.
  _SCALAR = tf1.SummaryMetadata(
      plugin_data=tf1.SummaryMetadata.PluginData(plugin_name="scalars"))

  def __init__(self, save_path: Optional[str], config: Dict[str, Any]):
    super().__init__(save_path, config)
    self._summary = None
    if save_path:
      if self._writer is not None:  # The base class's TF1 writer: unused.
        self._writer.close()
        self._writer = None
      board = os.path.join(save_path, TENSORBOARD_DIR)
      try:
        self._summary = tf.summary.create_file_writer(board)
      except tf.errors.OpError as e:
        raise UserError("cannot write TensorBoard events to %s: %s" %
                        (board, e.message.splitlines()[0])) from e

  def scalars(self, step: int, **values: float) -> None:
    super().scalars(step, **values)  # The metrics.jsonl line.
    if self._summary is not None:
      with self._summary.as_default():
        for tag, value in values.items():
          tf.summary.write(tag, tf.constant(float(value), tf.float32),
                           step=int(step), metadata=self._SCALAR)
      self._summary.flush()

  def close(self) -> None:
    super().close()
    if self._summary is not None:
      self._summary.close()
