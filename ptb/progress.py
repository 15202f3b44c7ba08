"""The tutorial's progress lines of a PTB training pass, for both APIs.

Ten lines a pass (:func:`progress_steps`): the fraction of the pass, the
perplexity so far and words/s (the tutorial's), with the pass's and the
whole run's ETA (:func:`log_progress`); and once a pass, early, the whole
run's time estimate (:func:`log_run_estimate`). Used by
:func:`ptb.train.run_epoch` and :func:`ptb.train_tf2.run_epoch`.
"""

from typing import List

from absl import logging
import numpy as np

from common.progress import Throughput, format_duration

_ESTIMATE_AFTER = 20  # Chunks timed before the whole run's estimate.


def progress_steps(epoch_size: int) -> List[int]:
  """The steps of an epoch that log a progress line: ten of them.

  Epochs of 110 steps or more use the tutorial's rule, ``step %
  (epoch_size // 10) == 10``, which gives exactly ten. Shorter epochs (where
  the tutorial logs 11, or divides by zero below 10 steps) use ten evenly
  spaced steps ``k * epoch_size // 10`` instead; an epoch of fewer than ten
  steps logs every step.
  """
  period = epoch_size // 10
  if period > 10:
    return [s for s in range(epoch_size) if s % period == 10]
  return sorted({k * epoch_size // 10 for k in range(10)})


def log_run_estimate(meter: Throughput, epoch_size: int,
                     epochs_after: int) -> None:
  """The whole run's time estimate, logged once in a pass: after its first
  ``_ESTIMATE_AFTER`` chunks (or all of them, if fewer are left).

  Args:
    meter: the pass's meter (``total_steps``: the chunks run in this pass).
    epoch_size: chunks in a whole pass.
    epochs_after: whole passes that follow this one.
  """
  if meter.steps != min(_ESTIMATE_AFTER, meter.total_steps):
    return
  per_epoch = epoch_size * meter.elapsed() / meter.steps
  logging.info("Estimate: %.1f epochs left x %s per epoch = %s (rate of "
               "the first %d chunks)",
               epochs_after + meter.total_steps / epoch_size,
               format_duration(per_epoch), format_duration(
                   meter.seconds_left() + epochs_after * per_epoch),
               meter.steps)


def log_progress(meter: Throughput, epoch_size: int, step: int,
                 mean_cost: float, epochs_after: int) -> None:
  """The tutorial's progress line (fraction of the pass, perplexity so far,
  words/s), with the pass's and the whole run's ETA.

  Args:
    meter: the pass's meter.
    epoch_size: chunks in a whole pass.
    step: the chunk just run (0-based).
    mean_cost: the pass's cost per time step so far (``costs / iters``).
    epochs_after: whole passes that follow this one.
  """
  run_left = meter.seconds_left() + epochs_after * epoch_size * (
      meter.elapsed() / meter.steps)
  logging.info("%.3f perplexity: %.3f speed: %.0f wps ETA %s "
               "(run ETA %s)", step * 1.0 / epoch_size, np.exp(mean_cost),
               meter.rate(), meter.eta(), format_duration(run_left))
