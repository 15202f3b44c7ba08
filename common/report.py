r"""Regression report of finished (or running) runs, for every workload.

    python -m common.report RUN_DIR [RUN_DIR ...] [--against=OTHER_RUN]
        [--tolerance=PCT] [--markdown | --json] [--plot_dir=DIR | --noplot]

(``tf1-rnn-report`` after ``pip install .``.) Each ``RUN_DIR`` is a run
directory (or its ``metrics.json``) written by ``ptb/ptb_word_lm.py``,
``mnist_rnn/mnist_rnn.py`` or ``imdb/imdb_lstm.py``. The workload is told
from the record's config (PTB: ``num_steps`` + ``vocab_size``; MNIST:
``bi_merge``/``max_steps``; IMDB: ``maxlen`` + ``num_words``), the preset
from its name in the config (PTB ``model``, IMDB ``config``) or, for MNIST,
which records no name, the preset of its ``model`` with the fewest differing
fields; differing fields are listed as overrides. The final numbers are
compared with the published ones of that preset (``ptb.configs.PUBLISHED``,
``mnist_rnn.configs.references``, ``imdb.configs.PUBLISHED``).

``--against=OTHER_RUN`` compares every final number with another run of the
same workload and preset (another TF version, machine, mode or API; the
API that trained each run is shown: ``--api=tf1`` or ``tf2``).
``--tolerance=PCT`` makes the command a gate: exit status 1, naming each
number, when one differs by more than PCT percent (from the other run with
``--against``, else from the published numbers). Bad input (no or a
truncated ``metrics.json``, ``--against`` a run of another workload or
preset) is one ``error:`` line and exit status 2.

The plot ``report.png`` (train/valid curves per epoch, per logged step for
MNIST, with the published end points marked and, with ``--against``, the
other run's curves dashed) goes beside ``metrics.json``, or into
``--plot_dir`` as ``<run name>.png`` (for read-only run directories). It
needs matplotlib (``pip install .[report]``); without it the text report is
the same and one line says so. See ``docs/report.md``.

One file over 400 lines, on purpose: the three workloads' record adapters
(``_ptb``, ``_mnist``, ``_imdb``), the comparisons, the text/markdown/JSON
formats and the plot are one command's parts that share :class:`RunReport`;
split, each file would import most of the others.
"""

import dataclasses
import json
import math
import os
import sys
from typing import Any, Dict, List, Mapping, Optional, Sequence, Tuple

if __package__ in (None, ""):  # `python common/report.py` from a checkout.
  sys.path[0] = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

from absl import flags  # pylint: disable=g-import-not-at-top,wrong-import-position

from common import app  # pylint: disable=wrong-import-position
from common import compare  # pylint: disable=wrong-import-position
from common.compare import Reference  # pylint: disable=wrong-import-position
from common.errors import UserError  # pylint: disable=wrong-import-position

METRICS_FILE = "metrics.json"  # As common.metrics writes them (no TF here).
EVENTS_FILE = "metrics.jsonl"
PLOT_FILE = "report.png"
WORKLOADS = ("ptb", "mnist_rnn", "imdb")
INSTALL_HINT = "pip install .[report]"


# ------------------------------------------------------------------ model


@dataclasses.dataclass(frozen=True)
class Series:
  """One curve: ``split`` (train/valid/test) picks its colour."""
  label: str
  split: str
  x: Tuple[float, ...]
  y: Tuple[float, ...]


@dataclasses.dataclass(frozen=True)
class Point:
  """An end point: measured (filled) or published (hollow, by source)."""
  label: str
  split: str
  x: float
  y: float
  published: bool


@dataclasses.dataclass(frozen=True)
class Panel:
  """One subplot."""
  ylabel: str
  series: Tuple[Series, ...]
  points: Tuple[Point, ...]
  log_y: bool = False


@dataclasses.dataclass(frozen=True)
class Metric:
  """A final number; ``key`` is the name the published rows use.

  ``by_epoch``: for a number of the last finished epoch (PTB train/valid,
  IMDB train/valid), its value after every epoch, so that two runs at
  different epochs are compared at the last epoch both have. ``name`` is the
  label without the epoch.
  """
  key: str
  label: str
  value: Optional[float]
  by_epoch: Optional[Dict[int, float]] = None
  name: Optional[str] = None


@dataclasses.dataclass
class RunReport:
  """What one run's record says, in workload-independent terms."""
  path: str
  workload: str
  model: Optional[str]  # MNIST: stacked / bidirectional.
  preset: str
  overrides: Dict[str, Tuple[Any, Any]]  # field -> (preset's, run's).
  config: Dict[str, Any]
  api: Optional[str]
  seed: Optional[int]
  versions: Dict[str, Any]
  progress: str
  metrics: List[Metric]
  references: List[Reference]
  x_label: str
  panels: List[Panel]
  # How the last attempt ran, where its record says (PTB TF1: rnn_mode,
  # precision, eval_mode); shown where not the default.
  options: Dict[str, Any] = dataclasses.field(default_factory=dict)
  # The machines that wrote the record, in turn (one unless resumed on other
  # hardware); empty for a record written before they were noted.
  machines: List[Dict[str, Any]] = dataclasses.field(default_factory=list)

  @property
  def name(self) -> str:
    return os.path.basename(os.path.normpath(self.path))

  @property
  def kind(self) -> str:
    """``workload preset`` (with the MNIST model), for messages."""
    preset = "%s/%s" % (self.model, self.preset) if self.model else self.preset
    return "%s %s" % (self.workload, preset)

  def values(self) -> Dict[str, Optional[float]]:
    return {m.key: m.value for m in self.metrics}


# --------------------------------------------------------------- reading


def _read_json(path: str) -> Any:
  try:
    with open(path) as f:
      return json.load(f)
  except ValueError as e:
    raise UserError("%s is not valid JSON (truncated?): %s" % (path, e)) from e
  except OSError as e:
    raise UserError("cannot read %s: %s" % (path, e.strerror)) from e


def metrics_path(run: str) -> str:
  """``run/metrics.json`` (or ``run`` itself if it names the file).

  Raises:
    UserError: neither exists.
  """
  if os.path.isfile(run):
    return run
  path = os.path.join(run, METRICS_FILE)
  if not os.path.isdir(run):
    raise UserError("run directory %s not found" % run)
  if not os.path.isfile(path):
    raise UserError("no %s in %s (not a run directory, or the run has not "
                    "started)" % (METRICS_FILE, run))
  return path


# What a record's numbers can be. A hand-edited or foreign record that
# breaks this is refused rather than drawn (a test accuracy of 7.5 showed as
# 750%, a perplexity of -5 passed the --against gate). A non-finite value
# stays what it is: a run that measured no finite number.
_NUMBER_KINDS = (("perplexity", 1.0, math.inf, "a perplexity (>= 1)"),
                 ("accuracy", 0.0, 1.0, "an accuracy (0 to 1)"),
                 ("loss", 0.0, math.inf, "a loss (>= 0)"))
_COUNTS = ("epoch", "step")


def _check_numbers(fields: Mapping[str, Any], where: str) -> None:
  """UserError for a count or a perplexity/accuracy/loss (by the key's
  ending) of ``fields`` that no run can have written; None is absent."""
  for key, value in fields.items():
    if value is None:
      continue
    is_number = (isinstance(value, (int, float))
                 and not isinstance(value, bool))
    if key in _COUNTS:
      if not (is_number and isinstance(value, int) and value >= 0):
        raise UserError("%s: %s is %r, not a count (an integer >= 0)"
                        % (where, key, value))
      continue
    for ending, low, high, what in _NUMBER_KINDS:
      if key.endswith(ending) and not (
          is_number and (not math.isfinite(value) or low <= value <= high)):
        raise UserError("%s: %s is %r, not %s" % (where, key, value, what))


def read_events(run_dir: str) -> List[Dict[str, Any]]:
  """The ``scalars`` lines of ``metrics.jsonl`` (none if the file is absent).

  A torn last line (a run killed while writing it) is skipped; a torn line
  elsewhere is bad input.

  Raises:
    UserError: a malformed line that is not the last, or a number no run
      writes (:func:`_check_numbers`).
  """
  path = os.path.join(run_dir, EVENTS_FILE)
  if not os.path.isfile(path):
    return []
  try:
    with open(path, "rb") as f:  # Lines are decoded one by one (a torn
      lines = f.read().splitlines()  # last line may end inside a character).
  except OSError as e:
    raise UserError("cannot read %s: %s" % (path, e.strerror)) from e
  events = []
  for number, line in enumerate(lines, 1):
    try:
      event = json.loads(line.decode("utf-8"))
    except ValueError as e:  # UnicodeDecodeError is one.
      if number == len(lines):
        break
      raise UserError("%s line %d is not JSON: %s" % (path, number, e)) from e
    if isinstance(event, dict) and event.get("kind") == "scalars":
      _check_numbers(event, "%s line %d" % (path, number))
      events.append(event)
  return events


def detect_workload(config: Mapping[str, Any]) -> str:
  """``ptb``, ``mnist_rnn`` or ``imdb`` from a record's config.

  Raises:
    UserError: a config of none of them.
  """
  if "maxlen" in config and "num_words" in config:
    return "imdb"
  if "num_steps" in config and "vocab_size" in config:
    return "ptb"
  if "max_steps" in config and config.get("model") in ("stacked",
                                                       "bidirectional"):
    return "mnist_rnn"
  raise UserError("the config (fields %s) is none of %s" %
                  (", ".join(sorted(config)) or "none", ", ".join(WORKLOADS)))


def _config_differences(preset, config: Mapping[str, Any],
                        ignore: Sequence[str] = ("seed",)
                        ) -> Dict[str, Tuple[Any, Any]]:
  """Fields (present in both, but ``ignore``: the seed is shown apart) where
  ``config`` differs from ``preset``."""
  out = {}
  for field in dataclasses.fields(preset):
    name = field.name
    if name in config and name not in ignore:
      ours = getattr(preset, name)
      if config[name] != ours:
        out[name] = (ours, config[name])
  return out


def _preset_overrides(registry, preset: str, config: Mapping[str, Any]
                      ) -> Dict[str, Tuple[Any, Any]]:
  """``_config_differences`` against the registry's preset ``preset``;
  none for a name the registry does not hold (a custom config)."""
  if preset not in registry.names:
    return {}
  return _config_differences(registry.get(preset), config)


def _number(value) -> Optional[float]:
  if isinstance(value, bool) or not isinstance(value, (int, float)):
    return None
  return float(value) if math.isfinite(value) else None


def _series(label: str, split: str, rows: Sequence[Mapping[str, Any]],
            x_key: str, y_key: str, scale: float = 1.0) -> List[Series]:
  """A one-element list with the curve of ``y_key``, or [] if it has none."""
  points = [(r[x_key], _number(r.get(y_key))) for r in rows
            if _number(r.get(x_key)) is not None]
  points = [(x, y * scale) for x, y in points if y is not None]
  if not points:
    return []
  xs, ys = zip(*points)
  return [Series(label, split, tuple(xs), tuple(ys))]


def _published_points(references: Sequence[Reference], x: float,
                      splits: Mapping[str, str]) -> List[Point]:
  """Markers of the published values; ``splits`` maps a metric key to its
  split and picks which metrics go on this panel."""
  return [Point("%s: %s" % (ref.source, key), splits[key], x, value,
                published=True)
          for ref in references for key, value in ref.values.items()
          if key in splits]


def _measured_point(label: str, split: str, x: float,
                    value: Optional[float]) -> List[Point]:
  return [] if value is None or x is None else [
      Point(label, split, x, value, published=False)]


# Run options a record's attempts may carry, and their defaults (not shown).
RUN_OPTIONS = {"rnn_mode": "basic", "precision": "fp32", "eval_mode": "fast"}


def _options_of(record: Mapping[str, Any]) -> Dict[str, Any]:
  """The last attempt's :data:`RUN_OPTIONS` that differ from the default."""
  attempts = record.get("attempts")
  if not (isinstance(attempts, list) and attempts and
          isinstance(attempts[-1], dict)):
    return {}
  last = attempts[-1]
  return {k: last[k] for k, default in RUN_OPTIONS.items()
          if k in last and last[k] != default}


# Workloads with a TF2 twin (``--api``); their records without an ``api``
# are TF1 runs (written before TF1 runs noted it).
TWINNED = ("ptb", "mnist_rnn")


def _api_of(record: Mapping[str, Any], workload: str) -> Optional[str]:
  """The API that trained the run: the config's ``api`` (a hand-made
  record), the record's (MNIST), the last attempt's (PTB); ``tf1`` for a
  twinned workload's record that names none; None for the others."""
  attempts = record.get("attempts")
  last = (attempts[-1] if isinstance(attempts, list) and attempts and
          isinstance(attempts[-1], dict) else {})
  for source in (record.get("config", {}), record, last):
    if isinstance(source.get("api"), str):
      return source["api"]
  return "tf1" if workload in TWINNED else None


def _machines_of(record: Mapping[str, Any]) -> List[Dict[str, Any]]:
  """The record's ``machines`` (see :func:`common.metrics.machine`)."""
  machines = record.get("machines")
  if not isinstance(machines, list):
    return []
  return [m for m in machines if isinstance(m, dict)]


def machine_text(machines: Sequence[Mapping[str, Any]]) -> str:
  """``CPU <model> (<features>), <n> cores``; each machine in turn, and how
  many, for a run resumed on other hardware."""
  if not machines:
    return "machine not recorded"
  def one(m):
    flags = [f for f in m.get("cpu_flags") or () if f in _SHOWN_CPU_FLAGS]
    return "%s%s, %s cores" % (m.get("cpu", "?"),
                               " (%s)" % " ".join(flags) if flags else "",
                               m.get("cores", "?"))
  if len(machines) == 1:
    return "CPU " + one(machines[0])
  return "CPUs (resumed on %d machines, in turn): %s" % (
      len(machines), "; ".join(one(m) for m in machines))


# The features that tell the machines of this project apart (AVX2-only, AVX-
# 512, AMX); the record keeps them all.
_SHOWN_CPU_FLAGS = ("avx2", "avx512f", "avx512_bf16", "amx_bf16")


def _seed_of(record: Mapping[str, Any]) -> Optional[int]:
  """The run's seed: the record's (MNIST) or its config's (IMDB), else its
  first attempt's (PTB)."""
  for seed in (record.get("seed"), record["config"].get("seed")):
    if isinstance(seed, int) and not isinstance(seed, bool):
      return seed
  attempts = record.get("attempts")
  if isinstance(attempts, list) and attempts and isinstance(attempts[0], dict):
    seed = attempts[0].get("seed")
    return seed if isinstance(seed, int) else None
  return None


def _epoch_metric(key: str, name: str, epochs: Sequence[Mapping[str, Any]],
                  field: str) -> Metric:
  """The last epoch's ``field``, with its value after every epoch."""
  last = epochs[-1] if epochs else {}
  by_epoch = {}
  for e in epochs:
    value = _number(e.get(field))
    if isinstance(e.get("epoch"), int) and value is not None:
      by_epoch[e["epoch"]] = value
  label = name + (" (epoch %s)" % last.get("epoch", "?") if last else "")
  return Metric(key, label, _number(last.get(field)), by_epoch, name)


def _epochs(record: Mapping[str, Any], path: str) -> List[Dict[str, Any]]:
  epochs = record.get("epochs", [])
  if not isinstance(epochs, list) or not all(isinstance(e, dict)
                                             for e in epochs):
    raise UserError("%s: \"epochs\" is not a list of records" % path)
  return epochs


# ------------------------------------------------------------ workloads


def _ptb(path: str, record: Mapping[str, Any], config: Dict[str, Any],
         events) -> Dict[str, Any]:
  """PTB: per-epoch train/valid perplexity; published train/valid/test."""
  del events  # The per-epoch numbers are in metrics.json.
  from ptb import configs  # pylint: disable=g-import-not-at-top
  preset = str(config.get("model", "custom"))
  overrides = _preset_overrides(configs.CONFIGS, preset, config)
  epochs = _epochs(record, path)
  last = epochs[-1] if epochs else {}
  metrics = [
      _epoch_metric("train", "train perplexity", epochs, "train_perplexity"),
      _epoch_metric("valid", "valid perplexity", epochs, "valid_perplexity"),
      Metric("test", "test perplexity", _number(record.get("test_perplexity")))]
  references = list(configs.PUBLISHED.get(preset, []))
  end = _number(config.get("max_max_epoch")) or (last.get("epoch") or 1)
  panel = Panel(
      "perplexity",
      tuple(_series("train", "train", epochs, "epoch", "train_perplexity") +
            _series("valid", "valid", epochs, "epoch", "valid_perplexity")),
      tuple(_published_points(references, end, {
          "train": "train", "valid": "valid", "test": "test"}) +
            _measured_point("test (measured)", "test", last.get("epoch"),
                            metrics[2].value)),
      log_y=True)
  total = config.get("max_max_epoch", "?")
  return dict(model=None, preset=preset, overrides=overrides,
              progress="%d of %s epochs%s" % (
                  len(epochs), total, "" if metrics[2].value is not None
                  else ", no test perplexity yet"),
              metrics=metrics, references=references, x_label="epoch",
              panels=[panel])


def _latest_by_step(events, keys: Sequence[str]) -> List[Dict[str, Any]]:
  """One row per step holding ``keys``: a step logged again by a resumed
  run (a later line) replaces the earlier one."""
  rows: Dict[int, Dict[str, Any]] = {}
  for event in events:
    step = event.get("step")
    if isinstance(step, int) and any(k in event for k in keys):
      rows.setdefault(step, {"step": step}).update(
          {k: event[k] for k in keys if k in event})
  return [rows[s] for s in sorted(rows)]


def _mnist_preset(config: Mapping[str, Any]):
  """``(name, preset, overrides)``: the model's preset nearest to
  ``config`` (fewest differing fields; ties go to the first listed)."""
  from mnist_rnn import configs  # pylint: disable=g-import-not-at-top
  registry = configs.CONFIGS[config["model"]]
  best = None
  for name in registry.names:
    preset = registry.get(name)
    diffs = _config_differences(preset, config)
    if best is None or len(diffs) < len(best[2]):
      best = (name, preset, diffs)
  return best


def _mnist_references(preset, config: Mapping[str, Any]) -> List[Reference]:
  """The reference of the run's config (its ``target_accuracy``; older
  records without the field: the preset's)."""
  from mnist_rnn import configs  # pylint: disable=g-import-not-at-top
  target = config.get("target_accuracy", preset.target_accuracy)
  try:
    return configs.references(dataclasses.replace(preset,
                                                  target_accuracy=target))
  except (UserError, TypeError, ValueError):
    return []


def _mnist(path: str, record: Mapping[str, Any], config: Dict[str, Any],
           events) -> Dict[str, Any]:
  """MNIST: minibatch and validation accuracy/loss per logged step (from
  ``metrics.jsonl``); the reference is the test accuracy in %."""
  del path
  name, preset, overrides = _mnist_preset(config)
  train_rows = _latest_by_step(events, ("train_accuracy", "train_loss"))
  valid_rows = _latest_by_step(events, ("validation_accuracy",
                                        "validation_loss"))
  test_acc = _number(record.get("test_accuracy"))
  valid_acc = _number(record.get("validation_accuracy"))
  metrics = [
      Metric("test", "test accuracy %",
             None if test_acc is None else 100.0 * test_acc),
      Metric("validation", "validation accuracy %",
             None if valid_acc is None else 100.0 * valid_acc),
      Metric("test_loss", "test loss", _number(record.get("test_loss")))]
  references = _mnist_references(preset, config)
  step = record.get("step")
  end = _number(config.get("max_steps")) or step
  accuracy = Panel(
      "accuracy %",
      tuple(_series("train (minibatch)", "train", train_rows, "step",
                    "train_accuracy", 100.0) +
            _series("validation", "valid", valid_rows, "step",
                    "validation_accuracy", 100.0)),
      tuple(_published_points(references, end, {"test": "test"}) +
            _measured_point("test (measured)", "test", step,
                            metrics[0].value)))
  loss = Panel(
      "cross-entropy",
      tuple(_series("train (minibatch)", "train", train_rows, "step",
                    "train_loss") +
            _series("validation", "valid", valid_rows, "step",
                    "validation_loss")),
      tuple(_measured_point("test (measured)", "test", step,
                            metrics[2].value)),
      log_y=True)
  progress = "step %s of %s%s%s" % (
      step if step is not None else "?", config.get("max_steps", "?"),
      " (stopped early)" if record.get("stopped_early") else "",
      "" if test_acc is not None else ", no test accuracy yet")
  if not train_rows and not valid_rows:
    progress += "; no %s, so no curves" % EVENTS_FILE
  return dict(model=config["model"], preset=name, overrides=overrides,
              progress=progress, metrics=metrics, references=references,
              x_label="step", panels=[accuracy, loss])


def _imdb(path: str, record: Mapping[str, Any], config: Dict[str, Any],
          events) -> Dict[str, Any]:
  """IMDB: per-epoch train/valid accuracy and loss; published test ones."""
  del events
  from imdb import configs  # pylint: disable=g-import-not-at-top
  preset = str(config.get("config", record.get("config_name", "custom")))
  overrides = _preset_overrides(configs.CONFIGS, preset, config)
  epochs = _epochs(record, path)
  last = epochs[-1] if epochs else {}
  metrics = [
      Metric("test_accuracy", "test accuracy",
             _number(record.get("test_accuracy"))),
      Metric("test_loss", "test loss", _number(record.get("test_loss")))]
  for key in ("train_accuracy", "train_loss", "valid_accuracy", "valid_loss"):
    if key in last:
      metrics.append(_epoch_metric(key, key.replace("_", " "), epochs, key))
  references = list(configs.PUBLISHED.get(preset, []))
  end = _number(config.get("max_epochs")) or (last.get("epoch") or 1)
  x = last.get("epoch")
  panels = []
  for what, ylabel in (("accuracy", "accuracy"), ("loss", "cross-entropy")):
    panels.append(Panel(
        ylabel,
        tuple(_series("train", "train", epochs, "epoch", "train_" + what) +
              _series("valid", "valid", epochs, "epoch", "valid_" + what)),
        tuple(_published_points(references, end, {"test_" + what: "test"}) +
              _measured_point("test (measured)", "test", x,
                              _number(record.get("test_" + what))))))
  return dict(model=None, preset=preset, overrides=overrides,
              progress="%d of %s epochs%s%s" % (
                  len(epochs), config.get("max_epochs", "?"),
                  " (stopped early)" if record.get("stopped_early") else "",
                  "" if metrics[0].value is not None
                  else ", no test accuracy yet"),
              metrics=metrics, references=references, x_label="epoch",
              panels=panels)


_ADAPTERS = {"ptb": _ptb, "mnist_rnn": _mnist, "imdb": _imdb}


def load_run(run: str) -> RunReport:
  """Reads one run's ``metrics.json`` (and ``metrics.jsonl``).

  Raises:
    UserError: missing, truncated or foreign records, or numbers no run
      writes (:func:`_check_numbers`).
  """
  path = os.path.normpath(metrics_path(run))
  run_dir = os.path.dirname(path) or "."
  record = _read_json(path)
  if not isinstance(record, dict) or not isinstance(record.get("config"),
                                                    dict):
    raise UserError("%s is not a run record (no \"config\" object)" % path)
  config = record["config"]
  _check_numbers(record, path)
  epochs = record.get("epochs")
  for number, epoch in enumerate(epochs if isinstance(epochs, list) else []):
    if isinstance(epoch, dict):  # Else the adapter says it is no record.
      _check_numbers(epoch, "%s epochs[%d]" % (path, number))
  try:
    workload = detect_workload(config)
  except UserError as e:
    raise UserError("%s: %s" % (path, e)) from e
  fields = _ADAPTERS[workload](path, record, config, read_events(run_dir))
  versions = record.get("versions")
  return RunReport(path=run_dir, workload=workload, config=config,
                   api=_api_of(record, workload), seed=_seed_of(record),
                   versions=versions if isinstance(versions, dict) else {},
                   options=_options_of(record),
                   machines=_machines_of(record), **fields)


# ------------------------------------------------------------ comparing


@dataclasses.dataclass(frozen=True)
class AgainstRow:
  """One final number of a run next to the other run's."""
  metric: str
  label: str
  value: Optional[float]
  other: Optional[float]

  @property
  def delta_pct(self) -> Optional[float]:
    if self.value is None or self.other is None or self.other == 0:
      return None
    return 100.0 * (self.value - self.other) / abs(self.other)


def check_comparable(run: RunReport, other: RunReport) -> None:
  """UserError unless both are runs of the same workload and preset."""
  if (run.workload, run.model, run.preset) != (other.workload, other.model,
                                               other.preset):
    raise UserError("cannot compare %s (%s) with %s (%s): another workload "
                    "or preset" % (run.path, run.kind, other.path, other.kind))


def _same_epoch_row(mine: Metric, theirs: Optional[Metric]) -> AgainstRow:
  """``mine`` against ``theirs``, at the same epoch.

  When the runs have finished different numbers of epochs (one in progress,
  or a longer run) a last-epoch number is compared at the last epoch both
  have: the two final numbers would be of different epochs. With no epoch
  in common there is nothing to compare it with.
  """
  if (theirs is None or mine.by_epoch is None or theirs.by_epoch is None or
      max(mine.by_epoch, default=None) == max(theirs.by_epoch,
                                               default=None)):
    return AgainstRow(mine.key, mine.label, mine.value,
                      None if theirs is None else theirs.value)
  common = set(mine.by_epoch) & set(theirs.by_epoch)
  if not common:
    return AgainstRow(mine.key, "%s (no epoch in common)" % mine.name,
                      mine.value, None)
  epoch = max(common)
  return AgainstRow(mine.key, "%s (epoch %d: the last both have)" % (
      mine.name, epoch), mine.by_epoch[epoch], theirs.by_epoch[epoch])


def against_rows(run: RunReport, other: RunReport) -> List[AgainstRow]:
  """Every final number of either run, in ``run``'s order (last-epoch
  numbers at the last epoch both runs have: :func:`_same_epoch_row`)."""
  theirs = {m.key: m for m in other.metrics}
  rows = [_same_epoch_row(m, theirs.get(m.key)) for m in run.metrics]
  mine = run.values()
  rows += [AgainstRow(m.key, m.label, None, m.value) for m in other.metrics
           if m.key not in mine]
  return rows


def config_changes(run: RunReport, other: RunReport) -> Dict[str, Tuple]:
  """Config fields whose values differ: field -> (run's, other's); ``api``
  is shown on its own (``APIs differ``)."""
  names = sorted((set(run.config) | set(other.config)) - {"api"})
  return {n: (run.config.get(n), other.config.get(n)) for n in names
          if run.config.get(n) != other.config.get(n)}


@dataclasses.dataclass(frozen=True)
class Outside:
  """A number that differs by more than the tolerance."""
  run: str
  metric: str
  versus: str  # A published source, or the other run's path.
  delta_pct: Optional[float]  # None: one side has no number.
  # With no delta: which side has no (finite) number, and how far that run
  # is (e.g. "11 of 39 epochs, no test perplexity yet").
  missing: Optional[str] = None

  def describe(self) -> str:
    delta = ("%+.2f%%" % self.delta_pct if self.delta_pct is not None
             else self.missing or "missing on one side")
    return "%s: %s vs %s: %s" % (self.run, self.metric, self.versus, delta)


def _missing(run: RunReport, where: str) -> str:
  return "no finite number %s (%s)" % (where, run.progress)


def _why_no_delta(row: AgainstRow, run: RunReport,
                  other: RunReport) -> Optional[str]:
  """Why ``row`` has no relative difference (None: it has one)."""
  if row.value is None and row.other is None:
    return "no finite number in either run (%s; the other: %s)" % (
        run.progress, other.progress)
  if row.value is None:
    return _missing(run, "in this run")
  if row.other is None:
    return _missing(other, "in the other run")
  if row.delta_pct is None:  # The other run's value is 0.
    return "the other run's value is 0: no relative difference"
  return None


def outside_tolerance(run: RunReport, tolerance: float,
                      published: Sequence[Mapping[str, Any]],
                      against: Optional[Sequence[AgainstRow]],
                      other: Optional[RunReport]) -> List[Outside]:
  """The numbers beyond ``tolerance`` percent: against the other run if
  given, else against the published rows. A number with no measured value
  (not measured yet, or not finite: a diverged run) is outside: an
  unfinished run cannot pass the gate."""
  out = []
  if against is not None:
    for row in against:
      if row.delta_pct is None or abs(row.delta_pct) > tolerance:
        out.append(Outside(run.path, row.metric, other.path, row.delta_pct,
                           _why_no_delta(row, run, other)))
    return out
  for row in published:
    delta = row["delta_pct"]
    if delta is None or abs(delta) > tolerance:
      out.append(Outside(run.path, row["metric"], row["source"], delta,
                         None if delta is not None
                         else _missing(run, "measured")))
  return out


# ------------------------------------------------------------- output


def _fmt(value: Optional[float]) -> str:
  return "-" if value is None else "%.6g" % value


def _pct(value: Optional[float]) -> str:
  return "-" if value is None else "%+.2f%%" % value


def _header(run: RunReport) -> List[str]:
  v = run.versions
  preset = run.preset + (" + %s" % ", ".join(
      "%s=%s" % (k, new) for k, (_, new) in sorted(run.overrides.items()))
                         if run.overrides else "")
  parts = ["workload %s" % run.workload]
  if run.model:
    parts.append("model %s" % run.model)
  parts.append("preset %s" % preset)
  if run.api:
    parts.append("api %s" % run.api)
  parts.extend("%s %s" % item for item in sorted(run.options.items()))
  parts.append("seed %s" % ("-" if run.seed is None else run.seed))
  software = "TF %s (tf_keras %s, numpy %s, Python %s)" % (
      v.get("tensorflow", "?"), v.get("tf_keras", "?"), v.get("numpy", "?"),
      v.get("python", "?"))
  return [", ".join(parts),
          "%s, commit %s" % (software, short_commit(v.get("git_commit"))),
          machine_text(run.machines),
          run.progress]


def short_commit(commit: Optional[str]) -> str:
  """The first 12 hex digits, keeping ``+dirty``: a run from a changed
  working tree must not read as one from the commit itself."""
  if not commit:
    return "-"
  return commit[:12] + ("+dirty" if commit.endswith("+dirty") else "")


def _table_text(header: Sequence[str], rows: Sequence[Sequence[str]],
                left: int, indent: str = "  ") -> List[str]:
  """Aligned columns: the first ``left`` to the left, numbers to the right."""
  widths = [max(len(str(c)) for c in col) for col in zip(header, *rows)]
  def line(cells):
    return (indent + "  ".join(
        ("%-*s" if i < left else "%*s") % (w, c)
        for i, (w, c) in enumerate(zip(widths, cells)))).rstrip()
  return [line(header)] + [line(r) for r in rows]


def _table_markdown(header: Sequence[str], rows: Sequence[Sequence[str]],
                    left: int) -> List[str]:
  out = ["| %s |" % " | ".join(header),
         "|%s|" % "|".join(["---"] * left + ["---:"] * (len(header) - left))]
  return out + ["| %s |" % " | ".join(str(c) for c in r) for r in rows]


@dataclasses.dataclass
class Section:
  """One run's report, before formatting."""
  run: RunReport
  published: List[Dict[str, Any]]
  other: Optional[RunReport]
  against: Optional[List[AgainstRow]]
  outside: List[Outside]
  plot: Optional[str]


def _tables(section: Section):
  """(title, header, left-aligned columns, rows) of the section's tables."""
  run = section.run
  tables = [("final numbers", ("metric", "value"), 1,
             [(m.label, _fmt(m.value)) for m in run.metrics])]
  if section.published:
    tables.append(("published (delta = measured vs published)",
                   ("published by", "metric", "published", "measured",
                    "delta"), 2,
                   [(r["source"], r["metric"], _fmt(r["published"]),
                     _fmt(r["measured"]), _pct(r["delta_pct"]))
                    for r in section.published]))
  if section.against is not None:
    tables.append(("against %s (delta = this vs other)" % section.other.path,
                   ("metric", "this", "other", "delta"), 1,
                   [(r.label, _fmt(r.value), _fmt(r.other), _pct(r.delta_pct))
                    for r in section.against]))
  return tables


def _notes(section: Section) -> List[str]:
  notes = []
  if not section.published:
    notes.append("no published numbers for %s" % section.run.kind)
  if section.other is not None:
    other = section.other
    notes.append("other: " + "; ".join(_header(other)))
    changes = config_changes(section.run, other)
    if section.run.api != other.api:
      notes.append("APIs differ: %s vs %s" % (section.run.api, other.api))
    if changes:
      notes.append("configs differ: %s" % ", ".join(
          "%s %s vs %s" % (k, a, b) for k, (a, b) in changes.items()))
    if (section.run.machines and other.machines and
        section.run.machines != other.machines):
      notes.append("machines differ: %s vs %s" % (
                       machine_text(section.run.machines),
                       machine_text(other.machines)))
  if section.plot:
    notes.append("plot: %s" % section.plot)
  return notes


def format_text(sections: Sequence[Section], tolerance: Optional[float]
                ) -> str:
  lines = []
  for section in sections:
    lines.append(section.run.path)
    lines += ["  " + h for h in _header(section.run)]
    for title, header, left, rows in _tables(section):
      lines.append("  %s:" % title)
      lines += _table_text(header, rows, left, indent="    ")
    lines += ["  " + n for n in _notes(section)]
    lines.append("")
  lines += _verdict(sections, tolerance)
  return "\n".join(lines).rstrip() + "\n"


def format_markdown(sections: Sequence[Section], tolerance: Optional[float]
                    ) -> str:
  lines = []
  for section in sections:
    lines += ["### `%s`" % section.run.path, ""]
    lines += [" \\\n".join(_header(section.run)), ""]
    for title, header, left, rows in _tables(section):
      lines += ["%s%s:" % (title[0].upper(), title[1:]), ""]
      lines += _table_markdown(header, rows, left) + [""]
    for note in _notes(section):
      if note.startswith("plot: "):
        lines += ["![%s](%s)" % (section.run.name, section.plot), ""]
      else:
        lines += [note[0].upper() + note[1:] + ".", ""]
  lines += _verdict(sections, tolerance, bullet="- ")
  return "\n".join(lines).rstrip() + "\n"


def _verdict(sections: Sequence[Section], tolerance: Optional[float],
             bullet: str = "  ") -> List[str]:
  """PASS / FAIL lines of the tolerance gate (none without a tolerance)."""
  if tolerance is None:
    return []
  outside = [o for s in sections for o in s.outside]
  if not outside:
    return ["PASS: every number within %g%%" % tolerance]
  head = "FAIL: %d number(s) outside %g%%:" % (len(outside), tolerance)
  return [head] + ([""] if bullet.strip() else []) + [
      bullet + o.describe() for o in outside]


def to_json(sections: Sequence[Section], tolerance: Optional[float]
            ) -> Dict[str, Any]:
  def run_dict(run: RunReport):
    return {"path": run.path, "workload": run.workload, "model": run.model,
            "preset": run.preset, "api": run.api, "seed": run.seed,
            "options": run.options,
            "overrides": {k: {"preset": a, "run": b}
                          for k, (a, b) in run.overrides.items()},
            "versions": run.versions, "machines": run.machines,
            "progress": run.progress,
            "metrics": {m.key: m.value for m in run.metrics}}
  runs = []
  for s in sections:
    entry = run_dict(s.run)
    entry["published"] = s.published
    if s.against is not None:
      entry["against"] = {
          "run": run_dict(s.other),
          "config_changes": {k: {"this": a, "other": b} for k, (a, b)
                             in config_changes(s.run, s.other).items()},
          "rows": [dict(metric=r.metric, this=r.value, other=r.other,
                        delta_pct=r.delta_pct) for r in s.against]}
    entry["plot"] = s.plot
    runs.append(entry)
  out = {"runs": runs}
  if tolerance is not None:
    out["tolerance_pct"] = tolerance
    out["outside"] = [dataclasses.asdict(o) for s in sections
                      for o in s.outside]
  return out


# --------------------------------------------------------------- plots


def load_pyplot():
  """matplotlib's pyplot on the Agg backend, or None if not installed."""
  try:
    import matplotlib  # pylint: disable=g-import-not-at-top
  except ImportError:
    return None
  matplotlib.use("Agg")
  import matplotlib.pyplot as plt  # pylint: disable=g-import-not-at-top
  return plt


_COLORS = {"train": "C0", "valid": "C1", "test": "C2"}
_SOURCE_MARKERS = ("*", "D", "s", "^", "v")


def plot_run(plt, run: RunReport, other: Optional[RunReport], path: str
             ) -> None:
  """Writes ``path`` (PNG): one subplot per panel; ``other`` dashed."""
  fig, axes = plt.subplots(1, len(run.panels), squeeze=False,
                           figsize=(6.4 * len(run.panels), 4.6))
  sources = []
  for ref in run.references:
    if ref.source not in sources:
      sources.append(ref.source)
  for i, (ax, panel) in enumerate(zip(axes[0], run.panels)):
    for s in panel.series:
      ax.plot(s.x, s.y, color=_COLORS[s.split], marker="." if len(s.x) < 40
              else None, label="%s: %s" % (run.name, s.label))
    if other is not None and i < len(other.panels):
      for s in other.panels[i].series:
        ax.plot(s.x, s.y, color=_COLORS[s.split], linestyle="--", alpha=0.7,
                label="%s: %s" % (other.name, s.label))
      for p in other.panels[i].points:
        if not p.published:
          ax.scatter([p.x], [p.y], s=50, marker="x", color=_COLORS[p.split],
                     zorder=3, label="%s: %s" % (other.name, p.label))
    for p in panel.points:
      if p.published:
        source = p.label.split(": ")[0]
        marker = _SOURCE_MARKERS[sources.index(source) % len(
            _SOURCE_MARKERS)] if source in sources else "*"
        ax.scatter([p.x], [p.y], s=90, marker=marker, facecolors="none",
                   edgecolors=_COLORS[p.split], linewidths=1.6, zorder=3,
                   label="published %s" % p.label)
      else:
        ax.scatter([p.x], [p.y], s=50, marker="o", color=_COLORS[p.split],
                   zorder=3, label="%s: %s" % (run.name, p.label))
    if panel.log_y and all(v > 0 for s in panel.series for v in s.y):
      ax.set_yscale("log")
      plain = plt.FuncFormatter(lambda v, _: "%g" % v)
      ax.yaxis.set_major_formatter(plain)
      low, high = ax.get_ylim()
      if high < 10 * low:  # Less than a decade: label the minor ticks too.
        ax.yaxis.set_minor_formatter(plain)
    ax.set_xlabel(run.x_label)
    ax.xaxis.set_major_locator(plt.MaxNLocator(integer=True))
    ax.set_ylabel(panel.ylabel)
    ax.grid(True, alpha=0.3)
    if ax.get_legend_handles_labels()[0]:  # Below the axes: never on a curve.
      ax.legend(fontsize=7, loc="upper center", bbox_to_anchor=(0.5, -0.17),
                ncol=2, frameon=False)
  title = "%s (%s)" % (run.path, run.kind)
  if other is not None:
    title += " vs %s" % other.path
  fig.suptitle(title, fontsize=10)
  fig.tight_layout()
  tmp = "%s.tmp%d" % (path, os.getpid())  # Same directory: atomic rename.
  try:
    with open(tmp, "wb") as f:
      fig.savefig(f, format="png", dpi=80, bbox_inches="tight")
    os.replace(tmp, path)
  except OSError as e:
    if os.path.exists(tmp):
      os.remove(tmp)
    raise UserError("cannot write %s: %s" % (path, e.strerror)) from e
  finally:
    plt.close(fig)


def plot_targets(runs: Sequence[RunReport], plot_dir: Optional[str]
                 ) -> List[str]:
  """Where each run's PNG goes; checked before any output is written.

  Raises:
    UserError: a directory that cannot be written, or two runs of the same
      name for one ``plot_dir``.
  """
  if plot_dir:
    if not os.path.isdir(plot_dir):
      raise UserError("--plot_dir %s is not a directory" % plot_dir)
    names = [r.name for r in runs]
    twice = sorted({n for n in names if names.count(n) > 1})
    if twice:
      raise UserError("two runs named %s for one --plot_dir; plot them in "
                      "separate calls" % ", ".join(twice))
    targets = [os.path.join(plot_dir, "%s.png" % n) for n in names]
  else:
    targets = [os.path.join(r.path, PLOT_FILE) for r in runs]
  for target in targets:
    directory = os.path.dirname(target) or "."
    if not os.access(directory, os.W_OK):
      raise UserError("cannot write %s (read-only?); pass --plot_dir=DIR or "
                      "--noplot" % target)
  return targets


# --------------------------------------------------------------- command


def build_sections(runs: Sequence[RunReport], other: Optional[RunReport],
                   tolerance: Optional[float],
                   plots: Sequence[Optional[str]]) -> List[Section]:
  sections = []
  for run, plot in zip(runs, plots):
    published = compare.compare(run.values(), run.references)
    against = None if other is None else against_rows(run, other)
    outside = ([] if tolerance is None else
               outside_tolerance(run, tolerance, published, against, other))
    sections.append(Section(run, published, other, against, outside, plot))
  return sections


def report(run_dirs: Sequence[str], against: Optional[str] = None,
           tolerance: Optional[float] = None, output: str = "text",
           plot: bool = True, plot_dir: Optional[str] = None,
           out=None, err=None) -> int:
  """The whole command; returns the exit status (1: outside tolerance).

  Args:
    run_dirs: run directories (or metrics.json paths).
    against: another run to compare each with.
    tolerance: percent; None = no gate.
    output: ``text``, ``markdown`` or ``json``.
    plot: write PNGs (if matplotlib is installed).
    plot_dir: where the PNGs go instead of the run directories.
    out: where the report goes (default stdout).
    err: where notes go (default stderr).

  Raises:
    UserError: bad input; nothing has been written then.
  """
  out = out or sys.stdout
  err = err or sys.stderr
  if not run_dirs:
    raise UserError("give at least one run directory")
  if tolerance is not None and not (tolerance >= 0 and math.isfinite(
      tolerance)):
    raise UserError("--tolerance must be a percentage >= 0, got %r" %
                    tolerance)
  runs = [load_run(r) for r in run_dirs]
  other = load_run(against) if against else None
  for run in runs if other is not None else ():
    check_comparable(run, other)
  plt, plots = None, [None] * len(runs)
  if plot:
    plt = load_pyplot()
    if plt is None:
      print("note: matplotlib is not installed, so no %s; %s" % (
          PLOT_FILE, INSTALL_HINT), file=err)
    else:
      plots = plot_targets(runs, plot_dir)
  sections = build_sections(runs, other, tolerance, plots)
  for section in sections:
    if section.plot:
      plot_run(plt, section.run, section.other, section.plot)
  if output == "json":
    out.write(json.dumps(to_json(sections, tolerance), indent=2) + "\n")
  elif output == "markdown":
    out.write(format_markdown(sections, tolerance))
  else:
    out.write(format_text(sections, tolerance))
  return 1 if any(s.outside for s in sections) else 0


_AGAINST = flags.DEFINE_string(
    "against", None, "Another run (directory or metrics.json) of the same "
    "workload and preset to compare each run with, number by number.")
_TOLERANCE = flags.DEFINE_float(
    "tolerance", None, "Percent: exit status 1, naming them, if numbers "
    "differ by more (from --against, else from the published numbers).")
_MARKDOWN = flags.DEFINE_bool("markdown", False, "Markdown tables.")
_JSON = flags.DEFINE_bool("json", False, "JSON on stdout.")
_PLOT = flags.DEFINE_bool(
    "plot", True, "Write the PNG (%s beside metrics.json, or into "
    "--plot_dir); --noplot: text only." % PLOT_FILE)
_PLOT_DIR = flags.DEFINE_string(
    "plot_dir", None, "Write <run name>.png here instead of into the run "
    "directories (for read-only ones).")


def main(argv):
  if _MARKDOWN.value and _JSON.value:
    raise UserError("--markdown and --json exclude each other")
  output = "json" if _JSON.value else "markdown" if _MARKDOWN.value else "text"
  status = report(argv[1:], against=_AGAINST.value,
                  tolerance=_TOLERANCE.value, output=output,
                  plot=_PLOT.value, plot_dir=_PLOT_DIR.value)
  sys.exit(status)


def run():
  app.run(main, max_args=1 << 20)


if __name__ == "__main__":
  run()
