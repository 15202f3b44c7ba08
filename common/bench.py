"""Small helpers for benchmark commands (which print one JSON object)."""

import json
import resource
import sys
import time


def peak_rss_mb() -> float:
  """Peak resident set size of this process in MiB (Linux reports KiB)."""
  kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
  return kib / (1024.0 if sys.platform != "darwin" else 1024.0 ** 2)


def timed(fn, repeats: int) -> float:
  """Seconds taken by ``repeats`` calls of ``fn()``."""
  start = time.perf_counter()
  for _ in range(repeats):
    fn()
  return time.perf_counter() - start


def rate(step, units_per_step: float, steps: int, warmup: int) -> float:
  """Units per second of ``step()``: ``warmup`` untimed calls, then ``steps``
  timed ones."""
  timed(step, warmup)
  return steps * units_per_step / timed(step, steps)


def print_json(record) -> None:
  """Prints ``record``, with the software ``versions`` (and git commit) that
  produced it, as one sorted JSON object on stdout."""
  from common import metrics  # pylint: disable=g-import-not-at-top
  record = dict(record)
  record.setdefault("versions", metrics.versions())
  print(json.dumps(record, indent=2, sort_keys=True))
