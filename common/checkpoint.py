"""Checkpoints that survive crashes, resume, and refuse a changed config.

A run directory (``--save_path``) holds::

    save_path/
      config.json            the config the run was started with
      model.ckpt-<step>.*    tf.compat.v1.train.Saver files (max_to_keep kept)
      model.ckpt-<step>.arrays.npz   numpy arrays saved with that checkpoint
                             (e.g. the RNN state carried mid-epoch)
      checkpoint             TF's own pointer file
      train_state.json       {"checkpoint": "model.ckpt-<step>", ...progress}
      .lock                  held (flock) by the one process writing here

``train_state.json`` is written (atomically, by rename) only after the Saver
has finished writing the checkpoint it names (and its arrays), so a crash or
an abort at any point leaves the last good checkpoint and the state that
describes it intact. The lock is the kernel's: it goes away with the process
that held it, so a killed run never leaves a stale lock behind.

One file over 400 lines: the run directory (saves, state, lock) and the
restore side (finding a checkpoint, its config, matching shapes) are the two
halves of one on-disk format, kept together so that both change together.
"""

import fcntl
import json
import math
import os
import re
import shutil
import time
from typing import (Any, Dict, Iterable, List, Mapping, Optional, Sequence,
                    Tuple)

from absl import logging

from common import config as config_lib
from common import preemption
from common.errors import UserError
from common.tf_compat import tf, tf1

CONFIG_FILE = "config.json"
STATE_FILE = "train_state.json"
CKPT_PREFIX = "model.ckpt"
ARRAYS_SUFFIX = ".arrays.npz"
LOCK_FILE = ".lock"


def atomic_write_json(path: str, obj: Any) -> None:
  """Writes JSON to ``path`` via a temp file and rename (never half-written).

  Raises:
    UserError: the file cannot be written (e.g. a read-only directory).
  """
  tmp = path + ".tmp"
  try:
    with open(tmp, "w") as f:
      json.dump(obj, f, indent=2, sort_keys=True)
      f.write("\n")
    os.replace(tmp, path)
  except OSError as e:
    raise UserError("cannot write %s: %s" % (path, e)) from e


def _first_line(error: Exception) -> str:
  """The first informative line of a (TensorFlow) error message.

  Graph-mode errors start with a "Graph execution error:" header, a
  "Detected at node ..." traceback and a "Node: ..." line; the cause is the
  first other line.
  """
  text = str(error)
  # tf1 Saver.restore wraps the cause in a guess about renamed variables.
  text = text.split("Original error:", 1)[-1]
  for line in text.splitlines():
    line = line.strip()
    if line and not line.startswith(("Graph execution error",
                                     "Detected at", "File ", "Node:")):
      return line
  return type(error).__name__


def _read_json(path: str, required: Sequence[str] = ()) -> Dict[str, Any]:
  """Reads a JSON object; UserError if unreadable or missing ``required``."""
  try:
    with open(path) as f:
      obj = json.load(f)
  except (OSError, ValueError) as e:
    raise UserError("cannot read %s: %s" % (path, e)) from e
  if not isinstance(obj, dict) or any(k not in obj for k in required):
    raise UserError("%s is malformed (expected an object with %s)" %
                    (path, ", ".join(required) or "fields"))
  return obj


def _read_state(path: str, required: Sequence[str] = (),
                types: Optional[Mapping[str, Any]] = None) -> Dict[str, Any]:
  """Reads ``train_state.json``: ``checkpoint`` (a file name in its
  directory) and ``required`` must be there, each key of ``types`` that is
  there must be an instance of its type(s) (see :func:`is_a`), an
  ``epoch`` not negative, and a ``history`` one object per epoch."""
  state = _read_json(path, required=("checkpoint",) + tuple(required))
  types = dict(types or {}, checkpoint=str)
  wrong = [k for k, t in types.items()
           if k in state and not is_a(state[k], t)]
  if not wrong and isinstance(state.get("epoch"), int) and state["epoch"] < 0:
    wrong = ["epoch"]
  history = state.get("history")
  if not wrong and isinstance(history, list) and (
      not all(isinstance(e, dict) for e in history) or
      ("epoch" in state and len(history) != state["epoch"])):
    wrong = ["history"]
  name = state["checkpoint"]
  if wrong or os.path.basename(name) != name or name in ("", ".", ".."):
    raise UserError("%s is malformed (bad %s)" %
                    (path, ", ".join(wrong) or "checkpoint"))
  return state


def is_a(value: Any, types) -> bool:
  """``isinstance``, where a bool is no number and a number is finite (a
  saved state's numbers are; Python's json reads NaN and Infinity)."""
  types = types if isinstance(types, tuple) else (types,)
  if isinstance(value, bool) and bool not in types:
    return False
  if isinstance(value, float) and not math.isfinite(value):
    return False
  return isinstance(value, types)


def saved_state(save_path: str, types: Optional[Mapping[str, Any]] = None
                ) -> Optional[Dict[str, Any]]:
  """The state saved in run directory ``save_path`` (None: no run there yet).

  Read before a graph is built, e.g. for the seed a resumed run must keep.
  """
  path = os.path.join(save_path, STATE_FILE)
  if not os.path.isfile(path):
    return None
  return _read_state(path, types=types)


def _config_diff(old: Dict[str, Any], new: Dict[str, Any]):
  keys = sorted(set(old) | set(new))
  return ["%s: %r -> %r" % (k, old.get(k), new.get(k))
          for k in keys if old.get(k) != new.get(k)]


class Checkpointer:
  """Saves and restores one run directory; see the module docstring."""

  def __init__(self, save_path: str, saver: tf1.train.Saver,
               config: Dict[str, Any], mutable_fields: Sequence[str] = (),
               state_fields: Sequence[str] = (),
               state_types: Optional[Mapping[str, Any]] = None):
    """Opens (creating if needed) ``save_path`` for the run with ``config``.

    Args:
      save_path: the run directory.
      saver: a Saver over every variable that must survive a resume.
      config: the run's config as a JSON-friendly dict.
      mutable_fields: config keys that may change on resume (e.g. the total
        number of epochs, to train a finished run longer).
      state_fields: keys every saved state must hold (besides
        ``checkpoint``).
      state_types: the type(s) a saved state's key must have where present;
        a hand-edited state that breaks them is a UserError, not a crash.

    Raises:
      UserError: the directory belongs to a run with a different config, or
        cannot be created.
    """
    self.save_path = save_path
    self._saver = saver
    self._state_fields = tuple(state_fields)
    self._state_types = dict(state_types or {})
    try:
      os.makedirs(save_path, exist_ok=True)
    except OSError as e:
      raise UserError("cannot create save_path %s: %s" % (save_path, e)) from e
    self._lock = lock_run_dir(save_path)
    check_checkpoint_list(save_path)
    self._config_path = os.path.join(save_path, CONFIG_FILE)
    config = json.loads(json.dumps(config))  # Normalise tuples etc.
    self._pending_config = config
    if self.state() is not None:  # Only a run with a checkpoint is binding.
      preemption.note_run_dir(save_path)  # A stop leaves that checkpoint.
      old = _read_json(self._config_path)
      diff = _config_diff({k: v for k, v in old.items()
                           if k not in mutable_fields},
                          {k: v for k, v in config.items()
                           if k not in mutable_fields})
      if diff:
        raise UserError(
            "%s holds a run with a different config (%s); use a new "
            "--save_path or the same settings" % (save_path, "; ".join(diff)))
      # A changed mutable field is written with the next save: a resume
      # refused before then leaves the directory as it found it.
      if old == config:
        self._pending_config = None
    else:
      self._write_config()

  def _write_config(self) -> None:
    if self._pending_config is not None:
      atomic_write_json(self._config_path, self._pending_config)
      self._pending_config = None

  def state(self) -> Optional[Dict[str, Any]]:
    """The progress saved with the last checkpoint, or None for a fresh run."""
    path = os.path.join(self.save_path, STATE_FILE)
    if not os.path.exists(path):
      return None
    return _read_state(path, self._state_fields, self._state_types)

  def restore(self, session: tf1.Session) -> Optional[Dict[str, Any]]:
    """Restores the last checkpoint into ``session``; returns its state."""
    state = self.state()
    if state is None:
      return None
    prefix = os.path.join(self.save_path, state["checkpoint"])
    restore_checkpoint(session, self._saver, prefix)
    if os.path.exists(prefix + ARRAYS_SUFFIX):
      state["arrays"] = _load_arrays(prefix + ARRAYS_SUFFIX)
    # A fresh Saver forgets older checkpoints; let max_to_keep delete them.
    self._saver.recover_last_checkpoints(self._adopt_checkpoints(prefix))
    return state

  def _adopt_checkpoints(self, prefix: str) -> List[str]:
    """The checkpoints a resumed run keeps rotating: those of TF's
    ``checkpoint`` file up to ``prefix`` (the one ``train_state.json``
    names), oldest first.

    Later ones were written by a save that was killed before it wrote its
    state: no state describes them, and left in the rotation the next save
    would delete ``prefix`` (the last good one) to make room for them, so a
    second kill in that save would leave nothing to resume. They are deleted
    (temp files of a half-written save too), and TF's ``checkpoint`` file is
    rewritten to match. It may also hold absolute paths into the directory
    the run was copied from: only this directory's own files are adopted.
    """
    step = _checkpoint_step(os.path.basename(prefix))
    # Written after the state (a stray later checkpoint from elsewhere, e.g.
    # a converted one, is older than the state and stays).
    state_time = os.path.getmtime(os.path.join(self.save_path, STATE_FILE))
    unfinished = sorted(
        name for name in os.listdir(self.save_path)
        if step is not None and (_checkpoint_step(name) or 0) > step
        and os.path.getmtime(os.path.join(self.save_path, name)) >= state_time)
    if unfinished:
      logging.warning("Deleting %s: written after %s by a save that did not "
                      "finish", ", ".join(unfinished), prefix)
    for name in unfinished:
      _remove(os.path.join(self.save_path, name))
    listed = tf1.train.get_checkpoint_state(self.save_path)
    now = time.time()
    stamps = {}  # Own path -> its save time (the TF2 manager rotates by it).
    if listed is not None:
      times = list(listed.all_model_checkpoint_timestamps)
      for i, path in enumerate(listed.all_model_checkpoint_paths):
        own = os.path.join(self.save_path, os.path.basename(path))
        if own != prefix and os.path.exists(own + ".index"):
          stamps[own] = times[i] if i < len(times) else now
    kept = list(stamps) + [prefix]
    tf1.train.update_checkpoint_state(
        self.save_path, prefix, kept,
        all_model_checkpoint_timestamps=[stamps.get(p, now) for p in kept],
        last_preserved_timestamp=(listed.last_preserved_timestamp
                                  if listed is not None else None))
    return kept

  def save(self, session: tf1.Session, global_step: int,
           state: Dict[str, Any],
           arrays: Optional[Mapping[str, Any]] = None) -> str:
    """Writes a checkpoint (and ``arrays``), then the state that points at
    them; returns the checkpoint prefix.

    Raises:
      UserError: the disk is full or the directory unwritable; the message
        names the last good checkpoint, which is left intact.
    """
    pointer = os.path.join(self.save_path, "checkpoint")  # TF's own file.
    pointed = _read_bytes(pointer)
    try:
      path = self._saver.save(
          session, os.path.join(self.save_path, CKPT_PREFIX),
          global_step=global_step, write_meta_graph=False)
      if arrays:
        _save_arrays(path + ARRAYS_SUFFIX, arrays)
    except (tf.errors.OpError, OSError) as e:
      raise UserError("cannot write a checkpoint under %s (%s); %s" % (
          self.save_path, _save_failure(e), self._last_good())) from e
    bad = _non_finite_tensors(path)
    if bad:  # Diverged: no state names it; its files go, TF's pointer back.
      for name in os.listdir(self.save_path):
        if _checkpoint_step(name) == _checkpoint_step(os.path.basename(path)):
          _remove(os.path.join(self.save_path, name))
      _restore_bytes(pointer, pointed)
      raise UserError(
          "the weights at step %d are not finite (%s): the model diverged "
          "(try a lower --learning_rate or --max_grad_norm); not saved, %s"
          % (global_step, ", ".join(bad[:3]) + (", ..." if bad[3:] else ""),
             self._last_good()))
    try:
      self._write_config()
    except UserError as e:
      raise UserError("%s; %s" % (e, self._last_good())) from e
    atomic_write_json(os.path.join(self.save_path, STATE_FILE),
                      dict(state, checkpoint=os.path.basename(path)))
    preemption.note_run_dir(self.save_path)
    self._remove_orphan_arrays()
    return path

  def _last_good(self) -> str:
    try:
      state = self.state()
    except UserError:
      state = None
    if state is None:
      return "no checkpoint was written before"
    return "the last good checkpoint is %s" % os.path.join(
        self.save_path, state["checkpoint"])

  def _remove_orphan_arrays(self) -> None:
    """Deletes arrays whose checkpoint the Saver's max_to_keep removed."""
    for name in os.listdir(self.save_path):
      if name.endswith(ARRAYS_SUFFIX):
        prefix = os.path.join(self.save_path, name[:-len(ARRAYS_SUFFIX)])
        if not os.path.exists(prefix + ".index"):
          os.remove(os.path.join(self.save_path, name))


class ManagerSaver:
  """What :class:`Checkpointer` asks of a ``tf1.train.Saver`` (``save``,
  ``restore``, ``recover_last_checkpoints``; no session), over a
  ``tf.train.Checkpoint`` and a ``tf.train.CheckpointManager``: the TF2
  twins pass this where the TF1 path passes a Saver.

  The Checkpointer keeps doing what it does for the TF1 path (refuse another
  config, hold the run directory's lock, write ``train_state.json`` only
  after the checkpoint it names); the manager writes ``model.ckpt-<step>``
  object-based checkpoints, keeps the last ``max_to_keep`` (as the TF1
  Saver's ``max_to_keep``) and writes TF's ``checkpoint`` file with relative
  paths, finding the older ones itself from it, so a copied run directory
  resumes (and rotates) its own files only.
  """

  def __init__(self, checkpoint: tf.train.Checkpoint, directory: str,
               max_to_keep: int):
    self.checkpoint = checkpoint
    self._directory = directory
    self._max_to_keep = max_to_keep
    self._manager = self._new_manager()

  def _new_manager(self) -> tf.train.CheckpointManager:
    """A manager over the checkpoints TF's ``checkpoint`` file lists now."""
    check_checkpoint_list(self._directory)
    return tf.train.CheckpointManager(
        self.checkpoint, self._directory, max_to_keep=self._max_to_keep,
        checkpoint_name=CKPT_PREFIX)

  def save(self, session, save_path, global_step, write_meta_graph=False):
    del session, save_path, write_meta_graph  # The manager knows its path.
    return self._manager.save(checkpoint_number=int(global_step))

  def restore(self, session, path: str) -> None:
    """``checkpoint.restore(path)``, every object of ours matched.

    Raises:
      ValueError: an object is missing (the Checkpointer reports it).
    """
    del session
    try:
      self.checkpoint.restore(path).assert_existing_objects_matched()
    except AssertionError as e:
      raise ValueError(str(e).strip().splitlines()[0]) from e

  def recover_last_checkpoints(self, paths) -> None:
    """Reads the ``checkpoint`` file again, which the Checkpointer has just
    rewritten to list ``paths``."""
    del paths
    self._manager = self._new_manager()


_CHECKPOINT_FILE = re.compile(re.escape(CKPT_PREFIX) + r"-(\d+)(?:[._]|$)")


def _checkpoint_step(name: str) -> Optional[int]:
  """The step of a checkpoint file name (``model.ckpt-<step>.index``,
  ``...data-*``, ``.arrays.npz[.tmp]``, ``_temp*``), else None."""
  match = _CHECKPOINT_FILE.match(name)
  return int(match.group(1)) if match else None


TF_LIST_FILE = "checkpoint"  # TF's list of a directory's checkpoints.


def check_checkpoint_list(directory: str) -> None:
  """Refuses a ``checkpoint`` file (TF's list) in ``directory`` that is not
  UTF-8 text: TF ignores a list it cannot parse, but one it cannot decode
  is a UnicodeDecodeError in every reader (a Saver, a CheckpointManager,
  ``latest_checkpoint``).

  Raises:
    UserError: the list is not text.
  """
  path = os.path.join(directory, TF_LIST_FILE)
  data = _read_bytes(path) if os.path.isfile(path) else None
  try:
    (data or b"").decode("utf-8")
  except UnicodeDecodeError as e:
    raise UserError("%s (TensorFlow's list of checkpoints) is not text; %s"
                    % (path, _list_repair(directory))) from e


def _list_repair(directory: str) -> str:
  """What to do about ``directory``'s undecodable checkpoint list."""
  if os.path.exists(os.path.join(directory, STATE_FILE)):
    return ("delete it and run again (train_state.json names the last "
            "checkpoint)")
  # Nothing else names the checkpoint (a tutorial's or a converted run).
  prefixes = [name[:-len(".index")] for name in os.listdir(directory)
              if name.endswith(".index")]
  if not prefixes:
    return "delete it (the directory holds no checkpoint)"
  newest = max(prefixes, key=lambda p: os.path.getmtime(
      os.path.join(directory, p + ".index")))
  return "write it anew as the one line: model_checkpoint_path: \"%s\"" % (
      newest)


def latest_checkpoint(directory: str) -> Optional[str]:
  """``tf.train.latest_checkpoint`` with an undecodable list refused."""
  check_checkpoint_list(directory)
  return tf1.train.latest_checkpoint(directory)


def _read_bytes(path: str) -> Optional[bytes]:
  """The file's bytes, or None if there is none."""
  try:
    with open(path, "rb") as f:
      return f.read()
  except FileNotFoundError:
    return None


def _restore_bytes(path: str, data: Optional[bytes]) -> None:
  """Puts back what :func:`_read_bytes` read (None: no file)."""
  if data is None:
    if os.path.exists(path):
      os.remove(path)
    return
  with open(path + ".tmp", "wb") as f:
    f.write(data)
  os.replace(path + ".tmp", path)


def _non_finite_tensors(prefix: str) -> List[str]:
  """The floating-point tensors of checkpoint ``prefix`` holding a NaN or an
  infinity (read back from the files just written: the page cache's copy,
  a fraction of a second for PTB medium's 80 MB)."""
  import numpy as np  # pylint: disable=g-import-not-at-top
  try:
    reader = tf.train.load_checkpoint(prefix)
    return sorted(
        name for name, dtype in reader.get_variable_to_dtype_map().items()
        if dtype.is_floating and not np.isfinite(reader.get_tensor(name)).all())
  except (tf.errors.OpError, IndexError, ValueError) as e:
    raise UserError("cannot read back the checkpoint just written, %s: %s"
                    % (prefix, _first_line(e))) from e


def _remove(path: str) -> None:
  """Deletes a file or a directory tree (a half-written save's temp dir)."""
  if os.path.isdir(path):
    shutil.rmtree(path, ignore_errors=True)
  else:
    os.remove(path)


def _save_failure(error: Exception) -> str:
  """'disk full' for ENOSPC-like errors, else the error's first line."""
  text = str(error)
  if "No space left" in text or getattr(error, "errno", None) == 28:
    return "the disk is full"
  return _first_line(error) if isinstance(error, tf.errors.OpError) else text


def _save_arrays(path: str, arrays: Mapping[str, Any]) -> None:
  """``np.savez`` to ``path`` through a temp file and rename."""
  import numpy as np  # pylint: disable=g-import-not-at-top
  tmp = path + ".tmp"
  with open(tmp, "wb") as f:
    np.savez(f, **arrays)
    f.flush()
    os.fsync(f.fileno())
  os.replace(tmp, path)


def _load_arrays(path: str) -> Dict[str, Any]:
  import zipfile  # pylint: disable=g-import-not-at-top
  import numpy as np  # pylint: disable=g-import-not-at-top
  try:
    with np.load(path, allow_pickle=False) as z:
      return {k: z[k] for k in z.files}
  except (OSError, ValueError, EOFError, zipfile.BadZipFile) as e:
    raise UserError("cannot read %s: %s" % (path, e)) from e


def lock_run_dir(save_path: str):
  """Takes the run directory's exclusive lock; returns the open lock file.

  The lock lives as long as the process. This process may open the same
  directory again (a resumed run in one test, an eval after training): the
  lock it holds is shared, not taken twice.

  Raises:
    UserError: another live process holds it (its pid is named).
  """
  path = os.path.realpath(os.path.join(save_path, LOCK_FILE))
  if path in _HELD_LOCKS:
    return _HELD_LOCKS[path]
  try:
    f = open(path, "a+")
  except OSError as e:
    raise UserError("cannot create %s: %s" % (path, e)) from e
  try:
    fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
  except OSError:
    f.seek(0)
    holder = f.read().strip() or "unknown"
    f.close()
    raise UserError("%s is in use by another run (pid %s); wait for it to "
                    "end or use another --save_path" % (save_path, holder))
  f.seek(0)
  f.truncate()
  f.write("%d\n" % os.getpid())
  f.flush()
  _HELD_LOCKS[path] = f
  return f


_HELD_LOCKS: Dict[str, Any] = {}  # Lock files this process holds, by path.


class SaveTimer:
  """Says when ``every_secs`` have passed since the last :meth:`reset`."""

  def __init__(self, every_secs: float, clock=time.monotonic):
    self._every = every_secs
    self._clock = clock
    self._last = clock()

  def due(self) -> bool:
    return self._every > 0 and self._clock() - self._last >= self._every

  def reset(self) -> None:
    self._last = self._clock()


def saved_config(path: str) -> Optional[Dict[str, Any]]:
  """The config dict a run directory (or a checkpoint's directory) was made
  with, or None when there is no ``config.json`` there."""
  directory = path if os.path.isdir(path) else os.path.dirname(path)
  config_path = os.path.join(directory, CONFIG_FILE)
  if not os.path.isfile(config_path):
    return None
  return _read_json(config_path)


def saved_run_config(path: str, cls, name_key: Optional[str] = None
                     ) -> Optional[Tuple[Optional[str], Any]]:
  """``(preset name, config)`` a run directory was made with, or None.

  Args:
    path: a run directory or a checkpoint prefix in one.
    cls: the config dataclass.
    name_key: the key under which the run saved its preset's name next to
      the config's fields (popped; None if the run saved none).

  Returns:
    None when there is no ``config.json`` (e.g. a checkpoint written by the
    original tutorial).

  Raises:
    UserError: an unreadable or invalid ``config.json``.
  """
  fields = saved_config(path)
  if fields is None:
    return None
  name = fields.pop(name_key, None) if name_key else None
  if name is not None and not isinstance(name, str):
    raise UserError("invalid saved config: %s is %r, not a name"
                    % (name_key, name))
  return name, config_lib.from_dict(cls, fields)


def config_for_checkpoint(checkpoint: str, cls, name_key: Optional[str],
                name: Optional[str], config, overrides: Mapping[str, Any],
                name_given: bool = False):
  """``(preset name, config)`` to evaluate ``checkpoint`` with.

  The run directory's saved config with the explicit flag ``overrides``
  applied, when there is one (fields such as ``maxlen`` do not show in the
  weights' shapes, so a checkpoint must be scored with the config it was
  trained with); else ``(name, config)``. The saved preset name wins over
  ``name`` (None if the run saved none).

  Raises:
    UserError: ``name_given`` (the preset flag was set explicitly) and the
      run was trained with another preset; an unreadable saved config.
  """
  saved = saved_run_config(checkpoint, cls, name_key)
  if saved is None:
    return name, config
  saved_name, saved_config = saved
  if name_given and saved_name not in (None, name):
    raise UserError("%s was trained with --%s=%s, not %s" %
                    (checkpoint, name_key, saved_name, name))
  logging.info("Using the config saved with %s", checkpoint)
  return saved_name, config_lib.apply_overrides(saved_config, overrides)


def find_checkpoint(path: str) -> str:
  """Resolves a run directory or a checkpoint prefix to a checkpoint prefix.

  Raises:
    UserError: nothing restorable at ``path``.
  """
  if os.path.isdir(path):
    state_path = os.path.join(path, STATE_FILE)
    if os.path.exists(state_path):
      return os.path.join(path, _read_state(state_path)["checkpoint"])
    latest = latest_checkpoint(path)
    if latest is None:
      raise UserError("no checkpoint in %s" % path)
    return latest
  if tf1.train.checkpoint_exists(path):
    return path
  raise UserError("no checkpoint at %s" % path)


def restore_checkpoint(session: tf1.Session, saver: tf1.train.Saver,
                       path: str) -> None:
  """``saver.restore`` with missing/mismatched variables as a UserError."""
  try:
    saver.restore(session, path)
  except (tf.errors.OpError, ValueError, IndexError) as e:
    raise UserError("cannot restore checkpoint %s: %s" %
                    (path, _first_line(e))) from e


def checkpoint_names(path: str) -> Dict[str, list]:
  """``{name: shape}`` of the variables stored at checkpoint prefix ``path``.

  Raises:
    UserError: not a readable checkpoint.
  """
  try:
    return {name: list(shape) for name, shape in tf1.train.list_variables(path)}
  except (tf.errors.OpError, ValueError) as e:
    raise UserError("cannot read checkpoint %s: %s" %
                    (path, _first_line(e))) from e


def state_near(checkpoint: str) -> Optional[Dict[str, Any]]:
  """The ``train_state.json`` of the run directory ``checkpoint`` is (or is
  in), or None (e.g. a checkpoint of the original tutorial)."""
  directory = checkpoint if os.path.isdir(checkpoint) else os.path.dirname(
      checkpoint)
  return saved_state(directory or ".")


def check_variable_shapes(path: str, variables) -> None:
  """Raises UserError unless checkpoint ``path`` holds each variable's shape.

  Resource variables take a restored value of any shape, so ``saver.restore``
  alone accepts a checkpoint of another config and the first ``session.run``
  fails with a shape error; call this before :func:`restore_checkpoint`.

  Args:
    path: a checkpoint prefix (see :func:`find_checkpoint`).
    variables: the variables to be restored: a list (saved under
      ``v.op.name``) or a ``{name in the checkpoint: variable}`` dict.
  """
  stored = checkpoint_names(path)
  if not isinstance(variables, dict):
    variables = {v.op.name: v for v in variables}
  problems = shape_problems(
      ((name, v.shape.as_list()) for name, v in sorted(variables.items())),
      stored)
  if problems:
    raise UserError("checkpoint %s does not fit the model (%s); use the "
                    "config it was trained with" % (path, "; ".join(problems)))


def shape_problems(expected: Iterable[Tuple[str, List[int]]],
                   stored: Mapping[str, Sequence[int]]) -> List[str]:
  """What keeps a checkpoint from holding the ``expected`` shapes, one
  phrase per name (``"x missing"``, ``"x is [3], the model's [4]"``).

  Args:
    expected: ``(name, shape)`` pairs, in the order to report them.
    stored: ``{name: shape}`` of what the checkpoint holds.
  """
  problems = []
  for name, shape in expected:
    if name not in stored:
      problems.append("%s missing" % name)
    elif list(stored[name]) != shape:
      problems.append("%s is %s, the model's %s" % (name, list(stored[name]),
                                                    shape))
  return problems


def restore_weights(session: tf1.Session, checkpoint: str, variables) -> str:
  """Eval-only restore: finds, shape-checks and restores ``variables``.

  Args:
    session: the session to restore into.
    checkpoint: a run directory or a checkpoint prefix.
    variables: the weights to restore (others stay uninitialized).

  Returns:
    The checkpoint prefix restored.

  Raises:
    UserError: nothing restorable, or shapes that do not fit the model.
  """
  path = find_checkpoint(checkpoint)
  check_variable_shapes(path, variables)
  restore_checkpoint(session, tf1.train.Saver(variables), path)
  return path
