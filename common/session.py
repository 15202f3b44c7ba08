"""Session creation: thread settings, seeding and the determinism switch."""

import random
from typing import Callable, Optional, Tuple, TypeVar

import numpy as np

from common.tf_compat import tf, tf1

T = TypeVar("T")


def seed_everything(seed: Optional[int]) -> None:
  """Seeds the default graph's op seeds, numpy's global RNG and `random`.

  Call inside ``with graph.as_default():`` *before* building ops: TF1 derives
  each op's seed from the graph seed at op-creation time.

  Args:
    seed: None leaves everything unseeded.
  """
  if seed is None:
    return
  tf1.set_random_seed(seed)
  np.random.seed(seed)
  random.seed(seed)


def enable_determinism(enabled: bool) -> None:
  """Turns on TF's deterministic kernels (process-wide; may be slower)."""
  if enabled:
    tf.config.experimental.enable_op_determinism()


def make_session(graph: tf.Graph,
                 intra_op_threads: int = 0,
                 inter_op_threads: int = 0) -> tf1.Session:
  """Creates a Session for ``graph``; 0 threads means TF's default (all cores).

  Args:
    graph: the graph to run.
    intra_op_threads: threads inside one op (matmul etc.).
    inter_op_threads: ops run concurrently.

  Returns:
    An open ``tf.compat.v1.Session``.
  """
  config = tf1.ConfigProto(
      intra_op_parallelism_threads=intra_op_threads,
      inter_op_parallelism_threads=inter_op_threads,
      allow_soft_placement=True)
  return tf1.Session(graph=graph, config=config)


def build_graph(build_fn: Callable[[], T], seed: Optional[int] = None,
                deterministic: bool = False) -> Tuple[tf.Graph, T]:
  """A fresh graph, seeded before any op exists, with ``build_fn()`` in it.

  Args:
    build_fn: builds the model(s) in the default graph; its result is passed
      back.
    seed: see :func:`seed_everything`.
    deterministic: see :func:`enable_determinism`.

  Returns:
    ``(graph, build_fn())``.
  """
  enable_determinism(deterministic)
  graph = tf.Graph()
  with graph.as_default():
    seed_everything(seed)
    built = build_fn()
  return graph, built
