"""Session creation: thread settings, seeding and the determinism switch.

The TF2 twins have no Session: :func:`configure_eager` sets the same thread
counts process-wide. Both APIs pick a run's seed with :func:`resolve_seed`.
"""

import contextlib
import random
import secrets
from typing import Any, Callable, Dict, Iterator, Optional, Tuple, TypeVar

from absl import logging
import numpy as np

from common import config as config_lib
from common.errors import UserError
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


# More threads than any CPU here has cores, by far; TF's own limit (an
# int32) would first try to start that many threads.
MAX_THREADS = 1024


def check_thread_counts(*counts: int) -> None:
  """Raises UserError unless each count is in [0, MAX_THREADS]."""
  for count in counts:
    if not 0 <= count <= MAX_THREADS:
      raise UserError("thread counts must be in [0, %d] (0: all cores), got "
                      "%d" % (MAX_THREADS, count))


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

  Raises:
    UserError: a thread count out of :func:`check_thread_counts`' range.
  """
  check_thread_counts(intra_op_threads, inter_op_threads)
  config = tf1.ConfigProto(
      intra_op_parallelism_threads=intra_op_threads,
      inter_op_parallelism_threads=inter_op_threads,
      allow_soft_placement=True)
  return tf1.Session(graph=graph, config=config)


@contextlib.contextmanager
def closed_on_error(resource: Any) -> Iterator[None]:
  """Closes ``resource`` (a session, a metrics log: anything with
  ``close()``) if the block raises, and only then.

  A trainer's session: what it opens between building the session and
  entering it (the run directory, the metrics) may refuse, and the session
  would stay open in the process. A trainer's metrics log: a refused resume
  or a diverged epoch would leave its TensorBoard writer open in an
  in-process caller (a run that ends well closes it itself).
  """
  try:
    yield
  except BaseException:
    try:
      resource.close()
    except Exception:  # pylint: disable=broad-except
      # The block's error is the one to report (a disk-full flush of a
      # TensorBoard writer must not hide a non-finite loss).
      logging.exception("closing %r after an error failed", resource)
    raise


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


def configure_eager(deterministic: bool = False, intra_op_threads: int = 0,
                    inter_op_threads: int = 0) -> None:
  """Determinism and :func:`make_session`'s thread counts for eager TF2
  (``tf.config.threading``, process-wide); 0 threads = TF's default.

  Call before TF's eager context starts (before any TF op runs).

  Raises:
    UserError: thread counts asked for once TensorFlow has started with
      others (only in a process that ran TF code before; a command-line
      run has not), or out of :func:`check_thread_counts`' range.
  """
  check_thread_counts(intra_op_threads, inter_op_threads)
  enable_determinism(deterministic)
  threading = tf.config.threading
  for value, get, set_ in (
      (intra_op_threads, threading.get_intra_op_parallelism_threads,
       threading.set_intra_op_parallelism_threads),
      (inter_op_threads, threading.get_inter_op_parallelism_threads,
       threading.set_inter_op_parallelism_threads)):
    if value and value != get():
      try:
        set_(value)
      except RuntimeError as e:
        raise UserError("cannot set thread counts once TensorFlow has "
                        "started: %s" % e) from e


def resolve_seed(flag_seed: Optional[int],
                 saved: Optional[Dict[str, Any]]) -> int:
  """The run's seed: the one a resumed run was started with, else ``--seed``,
  else a fresh random one (logged, so the run can be repeated).

  Args:
    flag_seed: ``--seed`` (None: not given).
    saved: the run directory's saved state (None: a fresh run); its
      ``seed``, if any, is the resumed run's.

  Raises:
    UserError: ``--seed`` differs from the seed of the run being resumed,
      or the saved seed is no seed (a hand-edited state).
  """
  saved_seed = (saved or {}).get("seed")
  if saved_seed is not None:
    config_lib.check_seed(saved_seed, "the run's saved seed (train_state.json)")
    if flag_seed is not None and flag_seed != saved_seed:
      raise UserError("this run was started with --seed=%d; resume it with "
                      "that seed (or none) or use a new --save_path"
                      % saved_seed)
    return saved_seed
  return seed_or_random(flag_seed, "run")


def seed_or_random(seed: Optional[int], what: str) -> int:
  """``seed``, or a fresh random one, logged so that ``what`` (a run, a
  generated text) can be repeated with ``--seed``."""
  if seed is not None:
    return seed
  seed = secrets.randbelow(2**31)
  logging.info("Seed %d drawn at random; pass --seed=%d to repeat this %s",
               seed, seed, what)
  return seed
