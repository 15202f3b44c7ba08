"""The bookkeeping of an epoch-based run: history, metrics, resume, saves.

A run's history (one record per finished epoch) lives twice: in the run
record (``metrics.json``, :class:`common.metrics.MetricsLog`) and in the state
saved with each checkpoint (``train_state.json``,
:class:`common.checkpoint.Checkpointer`). The checkpoint's is the truth on
resume (``metrics.json`` may lag it). :func:`resume_epochs` adopts it;
an :class:`EpochBook` writes both as the run goes: a checkpoint at each
epoch's end and every ``every_secs`` inside one.

The saved state is ``dict(epoch=..., history=..., **fields)``, plus the
epoch's record at an epoch's end, or ``position`` (where the pass stands, as
JSON) and the position's arrays (the checkpoint's ``.arrays.npz``) inside one.
"""

import math
import os
from typing import Any, Callable, Dict, Mapping, Optional, Sequence

from absl import logging

from common import checkpoint as ckpt_lib
from common import preemption
from common.errors import UserError
from common.metrics import MetricsLog


def checkpoint_dir(state: Dict[str, Any]) -> str:
  """The name of the checkpoint a saved state belongs to, for messages."""
  return state.get("checkpoint", "the checkpoint")


def resume_epochs(state: Dict[str, Any], metrics: MetricsLog,
                  max_epochs: int, flag: str,
                  fields: Sequence[str] = ()) -> int:
  """The epochs a restored run has finished (= the 0-based epoch to run
  next); puts its saved history into ``metrics``.

  Args:
    state: the restored checkpoint's state (with ``epoch``).
    metrics: the run record, whose epochs become the saved history.
    max_epochs: the epochs the run is now asked for.
    flag: the flag that sets ``max_epochs``, for the message.
    fields: the numbers each epoch's record holds (the run's summary reads
      them).

  Raises:
    UserError: ``max_epochs`` lowered below the epochs already finished
      (the weights are those of a later epoch); a (hand-edited) history
      entry without its epoch number or one of ``fields``.
  """
  epoch = state["epoch"]
  for i, record in enumerate(state.get("history", [])):
    epoch_number = record.get("epoch")
    problems = [] if type(epoch_number) is int and epoch_number == i + 1 else [
        "epoch is %r" % (epoch_number,)]
    problems += [k for k in fields if not _is_number(record.get(k))]
    if problems:
      raise UserError("%s: malformed history entry %d (%s)" % (
          checkpoint_dir(state), i + 1, ", ".join(problems)))
  if max_epochs < epoch:
    raise UserError(
        "%s has finished %d epochs; --%s=%d cannot undo them (use "
        "--%s>=%d, or --eval_only to score it)" % (
            checkpoint_dir(state), epoch, flag, max_epochs, flag, epoch))
  # The checkpoint's history is the truth (metrics.json may lag it).
  metrics.set_epochs(state.get("history", metrics.record["epochs"]))
  return epoch


def _is_number(value: Any) -> bool:
  """A finite int or float, not a bool (Python's json reads NaN)."""
  return (isinstance(value, (int, float)) and not isinstance(value, bool)
          and math.isfinite(value))


class EpochBook:
  """Checkpoints at each epoch's end and every ``every_secs`` inside one,
  and keeps the history in the run record.

  What continuing a pass exactly needs besides the checkpoint (weights,
  learning rate, global step) is the workload's position object: its
  ``step``, ``to_json()`` (saved as ``position``) and ``arrays()`` (saved
  with the checkpoint).
  """

  def __init__(self, checkpointer: Optional[ckpt_lib.Checkpointer], session,
               metrics: MetricsLog, global_step: Callable[[], int],
               every_secs: float, fields: Mapping[str, Any]):
    """Starts the mid-epoch save timer.

    Args:
      checkpointer: the run directory (None: no checkpoints).
      session: what ``checkpointer.save`` takes (the TF1 Session; None for
        a :class:`common.checkpoint.ManagerSaver`).
      metrics: the run record.
      global_step: returns the step a checkpoint is saved at.
      every_secs: seconds between mid-epoch saves (0: epoch ends only).
      fields: saved in every state (e.g. the seed and the vocabulary).
    """
    self._checkpointer = checkpointer
    self._session = session
    self._metrics = metrics
    self._global_step = global_step
    self._fields = dict(fields)
    self._timer = ckpt_lib.SaveTimer(every_secs)

  def hook(self, epoch: int) -> Optional[Callable[[Any], None]]:
    """The per-chunk callback of training epoch ``epoch`` (0-based): saves
    the position it is given when a mid-epoch save is due (None: no run
    directory)."""
    if self._checkpointer is None:
      return None

    def on_chunk(position) -> None:
      if self._timer.due() or preemption.requested():
        path = self._checkpointer.save(
            self._session, self._global_step(),
            dict(epoch=epoch, history=self._metrics.record["epochs"],
                 **self._fields, position=position.to_json()),
            arrays=position.arrays())
        self._timer.reset()
        logging.info("Saved mid-epoch checkpoint (epoch %d, step %d)",
                     epoch + 1, position.step)
        preemption.stop_after_save("%s (epoch %d, step %d)" % (
            os.path.basename(path), epoch + 1, position.step))
    return on_chunk

  def end_epoch(self, record: Dict[str, Any], scalars: Mapping[str, float],
                state: Mapping[str, Any] = None) -> None:
    """Logs ``scalars`` at the global step, saves, and adds ``record`` (the
    finished epoch's, with its 1-based ``epoch``) to the history.

    ``state``: saved with this checkpoint only, not put in the history (e.g.
    early stopping's counters).
    """
    global_step = self._global_step()
    self._metrics.scalars(global_step, **scalars)
    path = None
    if self._checkpointer is not None:
      history = self._metrics.record["epochs"] + [record]
      path = self._checkpointer.save(
          self._session, global_step,
          dict(record, history=history, **self._fields, **(state or {})))
      self._timer.reset()
    self._metrics.add_epoch(**record)
    if path is not None:  # SIGTERM during the epoch's evaluation.
      preemption.stop_after_save("%s (end of epoch %d)" % (
          os.path.basename(path), record["epoch"]))
