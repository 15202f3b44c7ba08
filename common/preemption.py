"""SIGTERM during training: save at the next step, then stop.

SIGTERM is how a long run is usually stopped from outside: ``kill``, a
scheduler preempting the job, a machine or session shutting down (SIGKILL
follows only if the process does not go). Python's default is to die at
once, losing the work done since the last periodic checkpoint (up to
``--checkpoint_every_secs``). Instead::

    SIGTERM inside listening(True)     the flag is set; the training loop
    (a loop that saves every chunk     saves at its next chunk (PTB) or step
    or step if asked)                  (MNIST), or at the epoch end when the
                                       signal came during the Valid pass,
                                       then raises Stopped
    SIGTERM anywhere else, or a        Stopped is raised at once (the last
    second SIGTERM                     checkpoint of an opened run directory
                                       is intact: checkpoints are written
                                       before the state naming them)

:func:`common.app.run` installs the handler and turns :class:`Stopped` into
one ``stopped: ...`` line and exit status 143 (128 + SIGTERM, what the
default action reports). Running the same command again resumes.
"""

import contextlib
import signal
import threading

from absl import logging

EXIT_STATUS = 128 + signal.SIGTERM


class Stopped(BaseException):
  """The process was asked to stop (SIGTERM). A BaseException, like
  KeyboardInterrupt, so that no ``except Exception`` swallows it."""


_listening = False  # A training loop checks requested() at each step.
_requested = False  # SIGTERM came while it was listening.
_run_dir = None  # The run directory holding this process's checkpoint.


def note_run_dir(path) -> None:
  """Records the run directory that holds a checkpoint of this process's
  run (opened with one, or saved to; None: forget it), so that a stop
  outside a save point says that its last checkpoint stands."""
  global _run_dir
  _run_dir = path


def stop_message(what: str) -> str:
  """What a stop outside a save point (SIGTERM, Ctrl-C) says: ``what``, and
  in a training run whose run directory holds a checkpoint, that it is
  intact (checkpoints are written before the state naming them). A command
  with none (no ``--save_path``, nothing saved yet, a report, a benchmark)
  claims nothing."""
  if _run_dir is None:
    return what
  return ("%s; the last checkpoint in %s is intact (the same command "
          "resumes the run)" % (what, _run_dir))


def install() -> None:
  """Sets the SIGTERM handler (main thread only: elsewhere, TF's default)."""
  if threading.current_thread() is threading.main_thread():
    signal.signal(signal.SIGTERM, _on_sigterm)


def _on_sigterm(signum, frame) -> None:
  del signum, frame
  global _requested
  if _listening and not _requested:
    _requested = True
    logging.warning("SIGTERM: saving at the next training step, then "
                    "stopping (a second SIGTERM stops at once)")
    return
  raise Stopped(stop_message("SIGTERM"))


def requested() -> bool:
  """Whether SIGTERM asked the listening training loop to save and stop."""
  return _requested


@contextlib.contextmanager
def listening(enabled: bool = True):
  """Inside this block SIGTERM only sets :func:`requested` (``enabled``:
  the loop has a run directory to save to; without one it stops at once)."""
  global _listening, _requested
  _listening, _requested = enabled, False
  try:
    yield
  finally:
    _listening = False  # First: a SIGTERM from here on stops at once.
    pending, _requested = _requested, False
  if pending:  # Came after the block's last save point, which saved.
    raise Stopped(stop_message("SIGTERM"))


def stop_after_save(where: str) -> None:
  """Raises :class:`Stopped` if SIGTERM was requested; the caller has just
  saved ``where`` (e.g. ``model.ckpt-120 (epoch 2, step 40)``)."""
  if _requested:
    raise Stopped("SIGTERM; saved %s: run the same command to resume"
                  % where)
