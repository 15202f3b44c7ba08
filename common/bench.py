"""Small helpers for benchmark commands (which print one JSON object)."""

import json
import platform
import re
import resource
import sys
import time
from typing import Any, Dict

from common.errors import UserError


# SIMD / matrix features that change float results or speed.
CPU_FLAGS = ("sse4_2", "avx", "avx2", "fma", "f16c", "avx512f", "avx512bw",
             "avx512vl", "avx512_vnni", "avx512_bf16", "avx512_fp16",
             "avx_vnni", "amx_tile", "amx_bf16", "amx_int8")


def cpu_info(cpuinfo: str = "/proc/cpuinfo") -> Dict[str, Any]:
  """The CPU model and which of :data:`CPU_FLAGS` it has (Linux; else empty).

  Args:
    cpuinfo: path of the ``/proc/cpuinfo`` text.
  """
  try:
    with open(cpuinfo) as f:
      text = f.read()
  except OSError:
    return {"model": platform.processor() or "unknown", "flags": []}
  model = re.search(r"^model name\s*:\s*(.*)$", text, re.M)
  found = re.search(r"^flags\s*:\s*(.*)$", text, re.M)
  have = set(found.group(1).split()) if found else set()
  return {"model": model.group(1).strip() if model else "unknown",
          "flags": [f for f in CPU_FLAGS if f in have]}


BF16_FLAGS = ("amx_bf16", "avx512_bf16")  # Native bfloat16 matmul support.


def native_bf16(info: Dict[str, Any] = None) -> bool:
  """Whether the CPU (``cpu_info()`` by default) multiplies bfloat16
  natively (AMX-BF16 or AVX512-BF16); elsewhere oneDNN emulates it, slowly."""
  info = cpu_info() if info is None else info
  return any(f in info["flags"] for f in BF16_FLAGS)


def require_native_bf16(cpu: Dict[str, Any]) -> None:
  """Refuses bf16 on a CPU (:func:`cpu_info`) without native support.

  Raises:
    UserError: one line naming the CPU and the flags it lacks.
  """
  if not native_bf16(cpu):
    raise UserError(
        "--precision=bf16: this CPU (%s) has neither %s; bfloat16 would be "
        "emulated, slower than fp32. Use --precision=fp32"
        % (cpu["model"], " nor ".join(BF16_FLAGS)))


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
