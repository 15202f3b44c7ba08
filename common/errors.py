"""The error type for bad input: reported as one line, exit status 2."""

import math


class UserError(Exception):
  """A problem with the user's input (flags, data files, checkpoints).

  Entry points run under :func:`common.app.run`, which prints
  ``error: <message>`` on one line and exits non-zero, with no traceback.
  """


def check_finite_loss(loss: float, where: str, what: str = "training loss",
                      hint: str = "") -> None:
  """Raises :class:`UserError` if ``loss`` is NaN or infinite.

  Called before anything of the step is saved, so the message can promise
  that the last checkpoint is intact.

  Args:
    loss: the value just computed.
    where: e.g. ``"step 4"`` or ``"epoch 2/4 at step 3"``.
    what: what ``loss`` is, for the message.
    hint: appended to the message, e.g. which flag to try.
  """
  if not math.isfinite(float(loss)):
    raise UserError("non-finite %s (%r) at %s; stopped without saving, the "
                    "last checkpoint is intact%s" % (what, float(loss), where,
                                                     hint))
