"""Graph variable helpers shared by the workloads' models and tests."""

from typing import Iterable

from common.tf_compat import tf1


def num_parameters(variables: Iterable[tf1.Variable]) -> int:
  """Total number of scalars in ``variables`` (all shapes must be known)."""
  return sum(v.shape.num_elements() for v in variables)
