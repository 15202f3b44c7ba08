"""Entry-point wrapper: absl app with one-line errors for bad input."""

import sys

from absl import app

from common.errors import UserError

__all__ = ["run", "UserError"]


class _Guarded:
  """Calls ``main(argv)``, turning known bad input into one line + exit 2."""

  def __init__(self, main):
    self._main = main

  def __call__(self, argv):
    try:
      return self._main(argv)
    except UserError as e:
      print("error: %s" % e, file=sys.stderr)
      sys.exit(2)
    except KeyboardInterrupt:
      print("error: interrupted; the last checkpoint is intact", file=sys.stderr)
      sys.exit(130)


def run(main):
  """Runs ``main`` like ``absl.app.run``; ``UserError`` -> one line, exit 2."""
  app.run(_Guarded(main))
