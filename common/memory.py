"""Refusing a run that would not fit in this machine's memory, before it starts.

A workload estimates its own peak (e.g. :func:`ptb.configs.
estimate_memory_bytes`); this module compares a byte count with what the
machine has available.
"""

from typing import Optional

from common.errors import UserError


# TensorFlow's own footprint, and the factor between the float32 values a
# training graph holds and its peak RSS: measured on PTB (small 673 MB and
# medium 1,535 MB peak, about 4x the values plus ~400 MB).
TF_BASE_BYTES = 400 * 2**20
_RSS_PER_FLOAT32 = 4 * 4
# The graph itself, per RNN layer (cell) of the training and evaluation
# graphs: PTB's train/valid/test models of 40 one-step-wide LSTM layers grew
# the peak RSS by 129 MB while being built (and took 27 s; 2 layers: 2.5 s).
# So --num_layers=100000 is refused, not built for a day
# (docs/results/measurements/graph_memory_per_layer.py).
GRAPH_BYTES_PER_RNN_LAYER = 3 * 2**20


def training_bytes(params: int, copies: int, activations: int,
                   rnn_layers: int = 0) -> int:
  """Rough peak memory of training a float32 model in TensorFlow.

  Args:
    params: the model's parameters.
    copies: values held per parameter (weights, gradients, update or
      optimizer slots: 3 for SGD, 4 for Adam).
    activations: the values of one step kept for backprop.
    rnn_layers: RNN cells in the graph (layers x directions), each of which
      adds its ops to the graph (:data:`GRAPH_BYTES_PER_RNN_LAYER`).
  """
  return int(TF_BASE_BYTES + _RSS_PER_FLOAT32 * (copies * params + activations)
             + GRAPH_BYTES_PER_RNN_LAYER * rnn_layers)


def available_bytes() -> Optional[int]:
  """``MemAvailable`` of ``/proc/meminfo``, in bytes (None: unknown)."""
  try:
    with open("/proc/meminfo") as f:
      for line in f:
        if line.startswith("MemAvailable:"):
          return int(line.split()[1]) * 1024
  except (OSError, ValueError, IndexError):
    pass
  return None


def check_config_fits(need_bytes: int, config, fields, remedy: str) -> None:
  """:func:`check_fits` for a workload's ``config``, naming the values of
  the ``fields`` its estimate grows with."""
  check_fits(need_bytes, "this config", ", ".join(
      "%s=%d" % (name, getattr(config, name)) for name in fields), remedy)


def check_fits(need_bytes: int, what: str, detail: str, remedy: str) -> None:
  """Refuses ``need_bytes`` above :func:`available_bytes` (unknown = not
  checked).

  Args:
    need_bytes: the run's estimated peak memory.
    what: what needs it, e.g. ``"this config"``.
    detail: what the estimate depends on, shown in parentheses.
    remedy: what to do instead, e.g. ``"use a smaller model"``.

  Raises:
    UserError: ``"<what> needs about X GB of memory (<detail>) and Y GB are
      available; <remedy>"``.
  """
  available = available_bytes()
  if available is not None and need_bytes > available:
    raise UserError(
        "%s needs about %.1f GB of memory (%s) and %.1f GB are available; %s"
        % (what, need_bytes / 1e9, detail, available / 1e9, remedy))
