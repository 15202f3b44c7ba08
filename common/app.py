"""Entry-point wrapper: absl app with one-line errors for bad input."""

import sys

from absl import app
from absl import flags

from common import preemption
from common.errors import UserError

__all__ = ["run", "refuse_flags", "UserError"]


def _error(message) -> None:
  """Prints ``error: message`` as one line (newlines in it folded)."""
  print("error: %s" % " ".join(str(message).split()), file=sys.stderr)


class _Guarded:
  """Calls ``main(argv)``, turning known bad input into one line + exit 2."""

  def __init__(self, main, max_args: int = 0):
    self._main = main
    self._max_args = max_args

  def __call__(self, argv):
    try:
      if len(argv) > 1 + self._max_args:
        raise UserError("unexpected arguments: %s" %
                        " ".join(argv[1 + self._max_args:]))
      return self._main(argv)
    except UserError as e:
      _error(e)
      sys.exit(2)
    except KeyboardInterrupt:
      _error(preemption.stop_message("interrupted"))
      sys.exit(130)
    except preemption.Stopped as e:
      print("stopped: %s" % e, file=sys.stderr)
      sys.exit(preemption.EXIT_STATUS)


def refuse_flags(names, program: str) -> None:
  """UserError if any flag in ``names`` was given: a command that shares an
  entry script's flags but has no use for some must not ignore them."""
  given = ["--%s" % n for n in names if flags.FLAGS[n].present]
  if given:
    raise UserError("%s does not take %s" % (program, ", ".join(given)))


_MAY_BE_EMPTY = set()  # String flags for which empty means something.


def allow_empty(*names: str) -> None:
  """Lets string flags ``names`` be given empty (e.g. ``--cache_dir=``:
  no cache); other string flags whose default is not empty refuse it."""
  _MAY_BE_EMPTY.update(names)


def _parse_flags(argv):
  """absl's flag parsing, with a bad flag value as one ``error:`` line.

  A string flag given empty (``--save_path=``, usually an unset shell
  variable) is refused unless empty is its default or means something
  (:func:`allow_empty`): taken as "not given", it would quietly run without
  a run directory, sample instead of score, and so on.
  """
  try:
    argv = flags.FLAGS(argv)
  except flags.Error as e:
    _error(e)
    sys.exit(2)
  empty = sorted("--%s" % name for name in set(flags.FLAGS)
                 if flags.FLAGS[name].present and flags.FLAGS[name].value == ""
                 and flags.FLAGS[name].default != ""
                 and name not in _MAY_BE_EMPTY)
  if empty:
    _error("%s given empty (an unset shell variable?); give a value or leave "
           "the flag out" % ", ".join(empty))
    sys.exit(2)
  return argv


def run(main, max_args: int = 0):
  """Runs ``main`` like ``absl.app.run``; bad flags or ``UserError`` -> one
  ``error: ...`` line on stderr and exit status 2, no traceback.

  ``main`` gets ``argv``: the program name plus at most ``max_args``
  positional arguments (more are refused). SIGTERM stops a training loop
  at its next save (:mod:`common.preemption`): one ``stopped: ...`` line
  and exit status 143."""
  preemption.install()
  app.run(_Guarded(main, max_args), flags_parser=_parse_flags)
