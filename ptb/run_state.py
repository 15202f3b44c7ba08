"""What a PTB run directory holds besides the weights, and getting a run back.

``train_state.json`` (written by :class:`common.checkpoint.Checkpointer`
through :class:`common.epoch_book.EpochBook`) holds, besides the checkpoint's
name: ``epoch`` (epochs finished), ``history`` (their records), ``seed``,
``vocab`` (:func:`vocab_record`) and, for a mid-epoch save, ``position``
(:class:`Position`, whose LSTM state is the checkpoint's ``.arrays.npz``).
The dropout masks need no saved random state: they are a function of
(seed, global step), see :mod:`common.dropout`.

Shared by both APIs (:mod:`ptb.train`, :mod:`ptb.train_tf2`) and by
:mod:`ptb.inference`; weights-only restores (:func:`restore_model_weights`)
take any mode's or the original tutorial's checkpoints.
"""

import dataclasses
import json
import os
from typing import Any, Callable, Dict, Optional, Tuple

from absl import logging
import numpy as np

from common import checkpoint as ckpt_lib
from common import epoch_book
from common.errors import UserError
from common.metrics import MetricsLog
from common.tf_compat import rnn_cell, tf1
from ptb import configs
from ptb import model as model_lib
from ptb import reader

# The types train_state.json's fields must have where present.
STATE_TYPES = {"epoch": int, "history": list, "seed": int,
               "position": dict, "vocab": dict}
# The numbers each history entry (``train.epoch_record``) holds besides its
# 1-based ``epoch``.
EPOCH_FIELDS = ("learning_rate", "train_perplexity", "valid_perplexity",
                "train_words_per_sec", "seconds")


@dataclasses.dataclass
class Position:
  """Where a pass stands after ``step`` chunks: enough to continue it exactly.

  ``state`` is the LSTM state the next chunk starts from (a tuple of
  ``LSTMStateTuple(c, h)`` numpy arrays, one per layer); None = zero state.
  """
  step: int = 0
  costs: float = 0.0
  iters: int = 0
  state: Optional[Tuple[Any, ...]] = None

  def to_json(self) -> Dict[str, Any]:
    return {"step": self.step, "costs": self.costs, "iters": self.iters}

  def arrays(self) -> Dict[str, np.ndarray]:
    """The carried state as named arrays: ``c0, h0, c1, h1, ...``."""
    out = {}
    for i, layer in enumerate(self.state or ()):
      out["c%d" % i], out["h%d" % i] = layer.c, layer.h
    return out

  @classmethod
  def restore(cls, saved: Dict[str, Any], arrays: Dict[str, np.ndarray],
              config: configs.PTBConfig, epoch_size: int) -> "Position":
    """The inverse of :meth:`to_json` + :meth:`arrays`, checked against the
    run's ``config`` and the ``epoch_size`` of its training data.

    Raises:
      UserError: the arrays do not hold ``config``'s layers of state, the
        numbers do not agree, or the position lies past the end of an epoch
        (the run was started on a longer training file).
    """
    n, shape = config.num_layers, [config.batch_size, config.hidden_size]
    names = ["%s%d" % (k, i) for i in range(n) for k in "ch"]
    if sorted(arrays) != sorted(names):
      raise UserError("the saved mid-epoch state has arrays %s, expected %s"
                      % (sorted(arrays), sorted(names)))
    wrong = [k for k in names if list(np.shape(arrays[k])) != shape]
    step, costs, iters = saved["step"], saved["costs"], saved["iters"]
    if (wrong or not 0 <= step or iters != step * config.num_steps
        or not 0 <= costs < float("inf")):
      raise UserError("malformed mid-epoch position %r (arrays %s of shape "
                      "%s)" % (saved, ", ".join(wrong) or "all", shape))
    if step > epoch_size:
      raise UserError(
          "the run stopped at chunk %d of an epoch, but an epoch of this "
          "ptb.train.txt has %d chunks: was it started on another training "
          "file?" % (step, epoch_size))
    state = tuple(rnn_cell.LSTMStateTuple(arrays["c%d" % i], arrays["h%d" % i])
                  for i in range(n))
    return cls(step=int(step), costs=float(costs), iters=int(iters),
               state=state)


def open_run_dir(save_path: str, saver, config_dict: Dict[str, Any]
                 ) -> ckpt_lib.Checkpointer:
  """The run directory ``save_path`` of a PTB run with ``config_dict``
  (``max_max_epoch`` may change on resume), saving with ``saver``.

  Raises:
    UserError: the directory holds a run of another config.
  """
  return ckpt_lib.Checkpointer(
      save_path, saver, config_dict, mutable_fields=("max_max_epoch",),
      state_fields=("epoch",), state_types=STATE_TYPES)


def vocab_record(data: reader.PTBData) -> Dict[str, Any]:
  """What a run saves of its vocabulary: size and fingerprint."""
  return {"size": data.vocab_size,
          "sha256_16": reader.vocab_fingerprint(data.word_to_id)}


def check_vocab(saved: Optional[Dict[str, Any]], data: reader.PTBData,
                where: str) -> None:
  """Refuses data whose vocabulary is not the one ``where`` was trained on.

  Word ids index the embedding and the softmax: another corpus's ids give
  meaningless perplexities with no error. Checkpoints that saved no
  vocabulary (the original tutorial's) are accepted with a logged note.

  Raises:
    UserError: the fingerprints differ.
  """
  vocab = (saved or {}).get("vocab")
  if not isinstance(vocab, dict):
    logging.info("%s has no saved vocabulary (e.g. a tutorial checkpoint); "
                 "the data's is assumed to be the one it was trained on",
                 where)
    return
  ours = vocab_record(data)
  if vocab != ours:
    raise UserError(
        "%s was trained on another vocabulary (%s words, fingerprint %s); "
        "this data has %d words, fingerprint %s: use the corpus it was "
        "trained on" % (where, vocab.get("size"), vocab.get("sha256_16"),
                        ours["size"], ours["sha256_16"]))


# A converted checkpoint's directory holds no train_state.json (it is
# adopted, training from epoch 1), only the vocabulary record of its source.
VOCAB_FILE = "vocab.json"


def saved_near(checkpoint: str) -> Optional[Dict[str, Any]]:
  """What :func:`check_vocab` reads for ``checkpoint`` (a run directory or
  a prefix): its run's ``train_state.json``, else the ``vocab.json`` of a
  converted checkpoint as ``{"vocab": ...}``, else None (a tutorial's)."""
  state = ckpt_lib.state_near(checkpoint)
  if state is not None:
    return state
  directory = checkpoint if os.path.isdir(checkpoint) else os.path.dirname(
      checkpoint)
  path = os.path.join(directory or ".", VOCAB_FILE)
  if not os.path.isfile(path):
    return None
  try:
    with open(path) as f:
      vocab = json.load(f)
  except (OSError, ValueError) as e:
    raise UserError("cannot read %s: %s" % (path, e)) from e
  if not (isinstance(vocab, dict) and isinstance(vocab.get("size"), int)
          and isinstance(vocab.get("sha256_16"), str)):
    # Taken for "no vocabulary" it would let any corpus through.
    raise UserError("%s is not a vocabulary record (an object with size "
                    "and sha256_16)" % path)
  return {"vocab": vocab}


def write_vocab(vocab: Optional[Dict[str, Any]], directory: str) -> None:
  """Writes :data:`VOCAB_FILE` into ``directory`` (nothing for None)."""
  if vocab is not None:
    ckpt_lib.atomic_write_json(os.path.join(directory, VOCAB_FILE), vocab)


def saved_run_state(save_path: Optional[str], data: reader.PTBData
                    ) -> Optional[Dict[str, Any]]:
  """The state saved in run directory ``save_path`` (None: no run there
  yet, or no run directory), read before any graph or model exists.

  Raises:
    UserError: a malformed state, or a run trained on another vocabulary.
  """
  if not save_path:
    return None
  saved = ckpt_lib.saved_state(save_path, STATE_TYPES)
  if saved is not None:
    check_vocab(saved, data, save_path)
  elif os.path.isfile(os.path.join(save_path, VOCAB_FILE)):
    check_vocab(saved_near(save_path), data, save_path)  # To be adopted.
  return saved


def restore_model_weights(session: tf1.Session, checkpoint: str
                          ) -> Tuple[str, str]:
  """Restores ``Model/...`` from a checkpoint of any mode or origin.

  Returns:
    ``(checkpoint prefix, naming)``: naming is ``basic`` (this port's and
    the tutorial's BASIC mode) or ``block`` (the tutorial's BLOCK mode,
    ``.../cell_{i}/lstm_cell/...``).
  """
  path = ckpt_lib.find_checkpoint(checkpoint)
  stored = ckpt_lib.checkpoint_names(path)
  var_list, naming = model_lib.checkpoint_var_list(
      model_lib.weight_variables(), stored)
  ckpt_lib.check_variable_shapes(path, var_list)
  ckpt_lib.restore_checkpoint(session, tf1.train.Saver(var_list), path)
  return path, naming


def adopt_tutorial_checkpoint(session: tf1.Session, save_path: str) -> None:
  """A run directory with checkpoints but no ``train_state.json`` (the
  tutorial's Supervisor writes that): restore its weights and global step
  and start at epoch 1, as the tutorial's Supervisor does on a restart."""
  latest = ckpt_lib.latest_checkpoint(save_path)
  if latest is None:
    return
  path, naming = restore_model_weights(session, latest)
  global_step = tf1.train.get_global_step()
  if global_step.op.name in dict(tf1.train.list_variables(path)):
    tf1.train.Saver([global_step]).restore(session, path)
  logging.info("%s holds a checkpoint without train_state.json (%s names): "
               "restored its weights; training starts at epoch 1, as the "
               "tutorial's Supervisor does after a restart", path, naming)


def resume_point(state: Dict[str, Any], config: configs.PTBConfig,
                 metrics: MetricsLog, train_words: int
                 ) -> Tuple[int, Optional[Position]]:
  """``(epoch to run next, position inside it or None)`` of a restored run
  on ``train_words`` of training data.

  Raises:
    UserError: ``max_max_epoch`` lowered below the epochs already finished
      (the weights are those of a later epoch), or a malformed position.
  """
  epoch = epoch_book.resume_epochs(state, metrics, config.max_max_epoch,
                                   "max_max_epoch", EPOCH_FIELDS)
  position = None
  if "position" in state:
    saved = state["position"]
    kinds = {"step": int, "iters": int, "costs": (int, float)}
    if not (isinstance(saved, dict) and all(
        ckpt_lib.is_a(saved.get(k), kind) for k, kind in kinds.items())):
      raise UserError("%s: malformed mid-epoch position %r"
                      % (epoch_book.checkpoint_dir(state), saved))
    try:
      position = Position.restore(
          saved, state.get("arrays", {}), config, reader.epoch_size(
              train_words, config.batch_size, config.num_steps))
    except UserError as e:
      raise UserError("%s: %s" % (epoch_book.checkpoint_dir(state), e)
                      ) from e
  logging.info("Resuming from %s: epoch %d, step %d", state["checkpoint"],
               epoch + 1, position.step if position else 0)
  return epoch, position


def restore_run(checkpointer: Optional[ckpt_lib.Checkpointer], session,
                config: configs.PTBConfig, metrics: MetricsLog,
                train_words: int, adopt: Callable[[], None]
                ) -> Tuple[int, Optional[Position]]:
  """Restores the run directory's last checkpoint into ``session``.

  Args:
    checkpointer: the run directory (None: none, a fresh run).
    session: what ``checkpointer.restore`` takes (None for TF2).
    config: the run's config.
    metrics: gets the saved history.
    train_words: the length of the training data (a saved position must
      lie inside an epoch of it).
    adopt: called for a run directory with no saved state (it may hold
      checkpoints without one, e.g. the tutorial's).

  Returns:
    :func:`resume_point` of the restored state; ``(0, None)`` without one.
  """
  state = checkpointer.restore(session) if checkpointer else None
  if state is not None:
    return resume_point(state, config, metrics, train_words)
  if checkpointer is not None:
    adopt()
  return 0, None


def new_book(checkpointer: Optional[ckpt_lib.Checkpointer], session,
             metrics: MetricsLog, global_step: Callable[[], int], seed: int,
             every_secs: float, data: reader.PTBData) -> epoch_book.EpochBook:
  """The run's :class:`~common.epoch_book.EpochBook`: every saved state
  holds the seed and the vocabulary."""
  return epoch_book.EpochBook(checkpointer, session, metrics, global_step,
                              every_secs,
                              dict(seed=seed, vocab=vocab_record(data)))
