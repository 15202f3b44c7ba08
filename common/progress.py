"""Throughput and ETA for progress lines."""

import time


def format_duration(seconds: float) -> str:
  """``3725`` -> ``'1:02:05'``; negative or unknown -> ``'?'``."""
  if seconds != seconds or seconds < 0:  # NaN or negative.
    return "?"
  seconds = int(round(seconds))
  return "%d:%02d:%02d" % (seconds // 3600, seconds // 60 % 60, seconds % 60)


class Throughput:
  """Counts units (words, examples) over wall time; estimates time left.

  Example::

      meter = Throughput(total_steps=epoch_size)
      for step in range(epoch_size):
        ...
        meter.update(steps=1, units=batch_size * num_steps)
        print("%.0f wps ETA %s" % (meter.rate(), meter.eta()))
  """

  def __init__(self, total_steps: int, clock=time.time):
    self._clock = clock
    self._start = clock()
    self.total_steps = total_steps
    self.steps = 0
    self.units = 0

  def update(self, steps: int = 1, units: int = 0) -> None:
    self.steps += steps
    self.units += units

  def elapsed(self) -> float:
    return self._clock() - self._start

  def rate(self) -> float:
    """Units per second so far."""
    return self.units / max(self.elapsed(), 1e-9)

  def seconds_left(self) -> float:
    """Time left for the remaining steps at the pace so far (NaN: unknown)."""
    if self.steps == 0:
      return float("nan")
    return (self.total_steps - self.steps) * self.elapsed() / self.steps

  def eta(self) -> str:
    """Formatted :meth:`seconds_left`."""
    return format_duration(self.seconds_left())
