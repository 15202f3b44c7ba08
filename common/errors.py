"""The error type for bad input: reported as one line, exit status 2."""


class UserError(Exception):
  """A problem with the user's input (flags, data files, checkpoints).

  Entry points run under :func:`common.app.run`, which prints
  ``error: <message>`` on one line and exits non-zero, with no traceback.
  """
