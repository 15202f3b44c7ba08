r"""Golden values: each workload's ``test`` preset on a fixed real-data slice.

Each golden run trains a workload's ``test`` preset with a fixed seed, TF's
deterministic kernels and one intra-op / one inter-op thread on a fixed small
slice of the real data set, and keeps the numbers it ends with (perplexities,
losses, accuracies; never timings). ``tests/golden/<workload>.json`` holds the
committed numbers with the software versions and the CPU's SIMD flags they
were produced with; ``tests/test_golden.py`` runs each again and compares at
:data:`RTOL`. A TensorFlow or numpy upgrade, a new CPU, or a change of the
math shows up there first.

Regenerate (and print the differences from the committed values)::

    python -m common.golden [--data_dir=ROOT] [--check] [--workloads=ptb,imdb]

``ROOT`` holds ``ptb/``, ``mnist/`` and ``imdb/`` (default ``$DATA_DIR``,
else ``../shared/data``); ``--check`` compares and writes nothing (exit 1 if a
value is outside the tolerance).

The slices (fixed by content, not by an archive's member order):

* PTB: the first :data:`PTB_LINES` lines of ``ptb.{train,valid,test}.txt``
  (the vocabulary is the train slice's, as the reader builds it);
* MNIST: validation = the first 128 training images, train = the next 512,
  test = the first 256 test images (file order);
* IMDB: the reviews with ids 0..19 of each of ``{train,test}/{pos,neg}``
  (80 training and 80 test reviews).

Tolerance (:data:`RTOL` = 1e-5, relative, per value). Measured
(``docs/results/measurements/golden_sensitivity.py``; numbers there): the
PTB values repeat bit for bit in a process and with 1 or 2 threads; on an
avx512 CPU they differ from ``ptb.json`` (made on an avx2-only one) by at
most 2.1e-6 (1e-5 is 4.8 times that; the MNIST and IMDB files pass there
too, not measured closer); a float32-rounding-sized change of
PTB's learning rate or init scale (one or two ulps) moves them by at most
2.1e-7. A change of the math moves them by far more: ``forget_bias``
0 -> 1 by 6.4% to 8.3%, the loss as a mean instead of a sum over the steps
by 95% to 100%; ``tests/test_golden.py`` mocks the first and checks that it
fails, and that the one-ulp change passes. (A learning rate 1e-5 higher
moves them by 7.6e-6 to 1.5e-5: about the smallest change this tolerance
notices.)

One file over 400 lines: each workload's fixed data slice and seeded run
(three short sections), the record and its diff, and the regenerate command.
"""

import contextlib
import dataclasses
import json
import os
import platform
import re
import sys
import tarfile
import tempfile
from typing import Any, Callable, Dict, List, Mapping, Optional, Sequence

if __package__ in (None, ""):  # `python common/golden.py` from a checkout.
  sys.path[0] = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

from absl import flags  # pylint: disable=g-import-not-at-top,wrong-import-position
import numpy as np  # pylint: disable=wrong-import-position

from common import bench  # pylint: disable=wrong-import-position
from common.errors import UserError  # pylint: disable=wrong-import-position

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
GOLDEN_DIR = os.path.join(REPO_ROOT, "tests", "golden")
WORKLOADS = ("ptb", "mnist_rnn", "imdb")

RTOL = 1e-5  # Relative tolerance per value; see the module docstring.
SEED = 1234  # PTB and MNIST; the IMDB test preset carries its own (22).
THREADS = 1  # intra-op and inter-op threads of every golden run.

PTB_LINES = 400  # Lines of each PTB file (about 8,600 train words).
MNIST_VALIDATION, MNIST_TRAIN, MNIST_TEST = 128, 512, 256
IMDB_IDS = 20  # Review ids 0..IMDB_IDS-1 of each folder.

# SIMD features that change float results (kernels chosen by TF / oneDNN).
# ------------------------------------------------------------ environment


cpu_info = bench.cpu_info  # Re-exported: the tests and records use it.


def environment() -> Dict[str, Any]:
  """What a golden value depends on besides the code."""
  from common.tf_compat import tf  # pylint: disable=g-import-not-at-top
  import tf_keras  # pylint: disable=g-import-not-at-top
  return {"tensorflow": tf.__version__, "tf_keras": tf_keras.__version__,
          "numpy": np.__version__,
          "python": platform.python_version(),
          "machine": platform.machine(),
          "onednn": os.environ.get("TF_ENABLE_ONEDNN_OPTS", "default"),
          "cpu": cpu_info()}


@contextlib.contextmanager
def deterministic_ops():
  """TF's deterministic kernels inside the block, the previous state after.

  ``enable_op_determinism`` is process-wide and makes every later unseeded
  random op raise, so a test process must not keep it on.
  """
  from common import tf_compat  # pylint: disable=g-import-not-at-top,unused-import
  from tensorflow.python.framework import config as tf_config  # pylint: disable=g-import-not-at-top
  before = tf_config.is_op_determinism_enabled()
  tf_config.enable_op_determinism()
  try:
    yield
  finally:
    if not before:
      tf_config.disable_op_determinism()


# ----------------------------------------------------------------- slices


def _data(root: str, name: str) -> str:
  path = os.path.join(root, name)
  if not os.path.isdir(path):
    raise UserError("real %s data not found at %s; pass --data_dir=ROOT (or "
                    "set DATA_DIR) holding ptb/, mnist/ and imdb/" %
                    (name, path))
  return path


def write_ptb_slice(src: str, dst: str, lines: int = PTB_LINES) -> str:
  """Writes the first ``lines`` lines of each PTB file into ``dst``."""
  from ptb import reader  # pylint: disable=g-import-not-at-top
  for name in reader.FILES.values():
    path = os.path.join(src, name)
    try:
      with open(path, encoding="utf-8") as f:
        head = [f.readline() for _ in range(lines)]
    except OSError as e:
      raise UserError("cannot read %s: %s" % (path, e.strerror)) from e
    if not head[-1]:
      raise UserError("%s has fewer than %d lines" % (path, lines))
    with open(os.path.join(dst, name), "w", encoding="utf-8") as f:
      f.writelines(head)
  return dst


def read_mnist_slice(src: str):
  """The fixed MNIST slice as uint8 arrays: ``{split: (images, labels)}``."""
  from mnist_rnn import reader  # pylint: disable=g-import-not-at-top
  images, labels = reader.load_pair(src, reader.TRAIN_IMAGES,
                                    reader.TRAIN_LABELS, True)
  test_images, test_labels = reader.load_pair(src, reader.TEST_IMAGES,
                                              reader.TEST_LABELS, True)
  v, t = MNIST_VALIDATION, MNIST_VALIDATION + MNIST_TRAIN
  return {"train": (images[v:t], labels[v:t]),
          "validation": (images[:v], labels[:v]),
          "test": (test_images[:MNIST_TEST], test_labels[:MNIST_TEST])}


def mnist_datasets(arrays, seed: int = SEED):
  """Fresh ``reader.DataSets`` of :func:`read_mnist_slice`'s arrays (the
  training set shuffled by ``seed``, the others in file order)."""
  from mnist_rnn import reader  # pylint: disable=g-import-not-at-top
  return reader.DataSets(
      train=reader.DataSet(*arrays["train"], seed=seed),
      validation=reader.DataSet(*arrays["validation"], shuffle=False),
      test=reader.DataSet(*arrays["test"], shuffle=False))


_IMDB_MEMBER = re.compile(r"(?:^|/)aclImdb/((?:train|test)/(?:pos|neg))/"
                          r"(\d+)_(\d+)\.txt$")


def write_imdb_slice(src: str, dst: str, ids: int = IMDB_IDS) -> str:
  """Writes ``dst/aclImdb/`` with the reviews of ids < ``ids`` per folder.

  Args:
    src: the imdb data directory (an ``aclImdb/`` tree or its archive).
    dst: where the small tree goes.
    ids: reviews ``0_*.txt .. (ids-1)_*.txt`` of each folder are kept.

  Returns:
    ``dst``.
  """
  from imdb import reader  # pylint: disable=g-import-not-at-top
  source = reader.find_source(src)
  wanted = 4 * ids
  found = {}
  if os.path.isdir(source):
    for folder in ("train/pos", "train/neg", "test/pos", "test/neg"):
      for name in os.listdir(os.path.join(source, folder)):
        match = _IMDB_MEMBER.search("aclImdb/%s/%s" % (folder, name))
        if match and int(match.group(2)) < ids:
          with open(os.path.join(source, folder, name), "rb") as f:
            found["%s/%s" % (folder, name)] = f.read()
  else:
    with tarfile.open(source, "r:*") as tar:
      for member in tar:
        match = _IMDB_MEMBER.search(member.name)
        if member.isfile() and match and int(match.group(2)) < ids:
          found["%s/%s" % (match.group(1), os.path.basename(member.name))] = (
              tar.extractfile(member).read())
          if len(found) == wanted:
            break
  if len(found) != wanted:
    raise UserError("%s: found %d of the %d reviews with ids < %d" %
                    (source, len(found), wanted, ids))
  for key, data in found.items():
    path = os.path.join(dst, "aclImdb", key)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "wb") as f:
      f.write(data)
  return dst


# ------------------------------------------------------------- the runs


def _floats(values: Mapping[str, Any]) -> Dict[str, float]:
  return {k: float(v) for k, v in values.items()}


def run_ptb(data_root: str, threads: int = THREADS) -> Dict[str, float]:
  """PTB ``--model=test`` on the slice: train/valid/test perplexity."""
  from ptb import configs, train  # pylint: disable=g-import-not-at-top
  with tempfile.TemporaryDirectory() as tmp:
    data = write_ptb_slice(_data(data_root, "ptb"), tmp)
    options = train.RunOptions(seed=SEED, deterministic=True,
                               intra_op_threads=threads,
                               inter_op_threads=threads)
    record = train.train("test", configs.CONFIGS.get("test"), data, options)
  last = record["epochs"][-1]
  return _floats({"train_perplexity": last["train_perplexity"],
                   "valid_perplexity": last["valid_perplexity"],
                   "test_perplexity": record["test_perplexity"]})


def run_mnist(data_root: str, threads: int = THREADS) -> Dict[str, float]:
  """MNIST ``--config=test`` of both models on the slice."""
  from mnist_rnn import configs, train  # pylint: disable=g-import-not-at-top
  arrays = read_mnist_slice(_data(data_root, "mnist"))
  values = {}
  for model in configs.MODELS:
    data = mnist_datasets(arrays)
    options = train.RunOptions(seed=SEED, deterministic=True,
                               intra_op_threads=threads,
                               inter_op_threads=threads)
    record = train.train(configs.get_config(model, "test"), data, options)
    for key in ("validation_accuracy", "test_accuracy", "test_loss"):
      values["%s.%s" % (model, key)] = float(record[key])
  return values


def run_imdb(data_root: str, threads: int = THREADS) -> Dict[str, float]:
  """IMDB ``--config=test`` on the slice: per-epoch and test numbers."""
  from imdb import configs, train  # pylint: disable=g-import-not-at-top
  with tempfile.TemporaryDirectory() as tmp:
    data = write_imdb_slice(_data(data_root, "imdb"), tmp)
    options = train.RunOptions(deterministic=True, log_every=0,
                               intra_op_threads=threads,
                               inter_op_threads=threads)
    record = train.train("test", configs.CONFIGS.get("test"), data, options)
  values = {}
  for epoch in record["epochs"]:
    for key in ("train_loss", "train_accuracy", "valid_loss",
                "valid_accuracy"):
      values["epoch%d.%s" % (epoch["epoch"], key)] = float(epoch[key])
  values.update(test_loss=float(record["test_loss"]),
                test_accuracy=float(record["test_accuracy"]))
  return values


RUNS: Dict[str, Callable[..., Dict[str, float]]] = {
    "ptb": run_ptb, "mnist_rnn": run_mnist, "imdb": run_imdb}

SETUP = {
    "ptb": {"preset": "test", "seed": SEED,
            "slice": "first %d lines of ptb.{train,valid,test}.txt" %
                     PTB_LINES},
    "mnist_rnn": {"preset": "test (stacked and bidirectional)", "seed": SEED,
                  "slice": "validation = train images [0, %d), train = "
                           "[%d, %d), test = test images [0, %d)" % (
                               MNIST_VALIDATION, MNIST_VALIDATION,
                               MNIST_VALIDATION + MNIST_TRAIN, MNIST_TEST)},
    "imdb": {"preset": "test", "seed": "the preset's (22)",
             "slice": "reviews with ids 0..%d of {train,test}/{pos,neg}" %
                      (IMDB_IDS - 1)},
}


def run(workload: str, data_root: str, threads: int = THREADS
        ) -> Dict[str, float]:
  """The golden values of ``workload`` computed now (deterministic kernels).

  Raises:
    UserError: an unknown workload or missing data.
  """
  if workload not in RUNS:
    raise UserError("unknown workload %r; valid: %s" %
                    (workload, ", ".join(WORKLOADS)))
  with deterministic_ops():
    return RUNS[workload](data_root, threads)


def make_record(workload: str, values: Mapping[str, float]) -> Dict[str, Any]:
  """The JSON committed as ``tests/golden/<workload>.json``."""
  return {"workload": workload, **SETUP[workload], "deterministic": True,
          "threads": {"intra_op": THREADS, "inter_op": THREADS},
          "rtol": RTOL, "environment": environment(),
          "values": dict(sorted(values.items()))}


# ----------------------------------------------------------- comparison


@dataclasses.dataclass(frozen=True)
class Difference:
  """One golden value against its fresh counterpart."""
  name: str
  golden: Optional[float]
  fresh: Optional[float]
  rtol: float

  @property
  def relative(self) -> Optional[float]:
    if self.golden is None or self.fresh is None:
      return None
    return abs(self.fresh - self.golden) / max(abs(self.golden), 1e-12)

  @property
  def outside(self) -> bool:
    return self.relative is None or self.relative > self.rtol


def differences(golden: Mapping[str, float], fresh: Mapping[str, float],
                rtol: float = RTOL) -> List[Difference]:
  """Every value of either side, paired by name (a missing one is outside)."""
  names = sorted(set(golden) | set(fresh))
  return [Difference(n, golden.get(n), fresh.get(n), rtol) for n in names]


def format_differences(workload: str, diffs: Sequence[Difference]) -> str:
  """A table: value, golden, fresh, relative difference, verdict."""
  lines = ["%s (rtol %.0e):" % (workload, diffs[0].rtol if diffs else RTOL),
           "  %-34s %16s %16s %8s" % ("value", "golden", "fresh", "rel")]
  for d in diffs:
    show = lambda v: "-" if v is None else "%.10g" % v
    rel = "-" if d.relative is None else "%.1e" % d.relative
    verdict = ("new" if d.golden is None else "missing" if d.fresh is None
               else "OUTSIDE" if d.outside else "")
    lines.append(("  %-34s %16s %16s %8s  %s" % (
        d.name, show(d.golden), show(d.fresh), rel, verdict)).rstrip())
  return "\n".join(lines)


def golden_path(workload: str, golden_dir: str = GOLDEN_DIR) -> str:
  return os.path.join(golden_dir, "%s.json" % workload)


def load(workload: str, golden_dir: str = GOLDEN_DIR) -> Dict[str, Any]:
  """The committed golden record of ``workload``.

  Raises:
    UserError: missing or unreadable file.
  """
  path = golden_path(workload, golden_dir)
  try:
    with open(path) as f:
      record = json.load(f)
  except (OSError, ValueError) as e:
    raise UserError("cannot read golden values %s: %s" % (path, e)) from e
  if not isinstance(record, dict) or not isinstance(record.get("values"),
                                                    dict):
    raise UserError("%s holds no golden values" % path)
  return record


def environment_note(recorded: Mapping[str, Any]) -> str:
  """What differs between the recorded environment and this one ("" if
  nothing that matters): shown next to a failing comparison."""
  now = environment()
  notes = []
  for key in ("tensorflow", "numpy", "onednn"):
    if recorded.get(key) != now[key]:
      notes.append("%s %s (golden: %s)" % (key, now[key], recorded.get(key)))
  old_flags = set(recorded.get("cpu", {}).get("flags", []))
  new_flags = set(now["cpu"]["flags"])
  if old_flags != new_flags:
    notes.append("CPU flags %s (golden: %s)" % (
        ",".join(sorted(new_flags)) or "-", ",".join(sorted(old_flags)) or "-"))
  return "; ".join(notes)


# --------------------------------------------------------------- command

_DATA_DIR = flags.DEFINE_string(
    "data_dir", None, "Directory holding ptb/, mnist/ and imdb/ (default: "
    "$DATA_DIR, else ../shared/data).")
_CHECK = flags.DEFINE_bool(
    "check", False, "Compare with the committed values only; write nothing; "
    "exit 1 if any value is outside the tolerance.")
_WORKLOADS = flags.DEFINE_list("workloads", ",".join(WORKLOADS),
                               "Workloads to run.")
_GOLDEN_DIR = flags.DEFINE_string("golden_dir", GOLDEN_DIR,
                                  "Where the golden JSON files live.")


def default_data_root() -> str:
  return os.environ.get("DATA_DIR") or os.path.join(REPO_ROOT, os.pardir,
                                                    "shared", "data")


def _write(path: str, record: Mapping[str, Any]) -> None:
  tmp = path + ".tmp"
  with open(tmp, "w") as f:
    json.dump(record, f, indent=2)
    f.write("\n")
  os.replace(tmp, path)


def main(argv):
  del argv
  root = _DATA_DIR.value or default_data_root()
  unknown = sorted(set(_WORKLOADS.value) - set(WORKLOADS))
  if unknown:
    raise UserError("unknown workload(s) %s; valid: %s" %
                    (", ".join(unknown), ", ".join(WORKLOADS)))
  outside = []
  for workload in _WORKLOADS.value:
    fresh = run(workload, root)
    path = golden_path(workload, _GOLDEN_DIR.value)
    old = load(workload, _GOLDEN_DIR.value) if os.path.exists(path) else None
    diffs = differences(old["values"] if old else {}, fresh)
    print(format_differences(workload, diffs))
    if old:
      note = environment_note(old.get("environment", {}))
      if note:
        print("  environment differs: %s" % note)
    if any(d.outside for d in diffs):
      outside.append(workload)
    if not _CHECK.value:
      _write(path, make_record(workload, fresh))
      print("  wrote %s" % os.path.relpath(path))
  if _CHECK.value and outside:
    print("outside the tolerance: %s" % ", ".join(outside))
    sys.exit(1)


def cli():
  from common import app  # pylint: disable=g-import-not-at-top
  app.run(main)


if __name__ == "__main__":
  cli()
