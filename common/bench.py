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


def print_json(record) -> None:
  """Prints ``record`` as one sorted JSON object on stdout."""
  print(json.dumps(record, indent=2, sort_keys=True))
