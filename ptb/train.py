"""PTB training, evaluation and the published comparison (owns the Session).

Schedule, loss and state feeding are the tutorial's:

* epoch i (0-based) runs at ``lr * lr_decay ** max(i + 1 - max_epoch, 0)``;
* each pass starts from the zero state, and the final state of every chunk is
  fed (through ``feed_dict``) as the initial state of the next chunk;
* perplexity = exp(sum of chunk costs / number of steps).

Checkpoints are written at the end of every epoch; restarting with the same
``save_path`` resumes after the last finished epoch (learning rate and global
step come back from the checkpoint).
"""

import dataclasses
from typing import Any, Callable, Dict, List, Optional, Tuple

from absl import logging
import numpy as np

from common import checkpoint as ckpt_lib
from common import compare
from common import config as config_lib
from common import session as session_lib
from common.errors import UserError, check_finite_loss
from common.metrics import MetricsLog
from common.progress import Throughput, format_duration
from common.tf_compat import rnn_cell, tf, tf1
from ptb import configs
from ptb import model as model_lib
from ptb import reader


@dataclasses.dataclass(frozen=True)
class RunOptions:
  """How to run (not what to train): seeding, threads, output."""
  seed: Optional[int] = None  # Graph + numpy seed; same seed, same numbers.
  deterministic: bool = False  # TF deterministic kernels (slower).
  intra_op_threads: int = 0  # 0 = TF default (all cores).
  inter_op_threads: int = 0  # 0 = TF default.
  save_path: Optional[str] = None  # Run directory; None = no checkpoints.
  checkpoint_every_secs: float = 600  # Mid-epoch saves; 0 = epoch ends only.
  rnn_mode: str = "basic"  # basic | block | fused (model.RNN_MODES).
  eval_mode: str = "fast"  # Test pass: fast (exact, chunked) | tutorial.


@dataclasses.dataclass
class EpochResult:
  perplexity: float
  words_per_sec: float
  seconds: float
  # The mean of the chunks' costs (each summed over num_steps): what the
  # tutorial's "Validation Loss" summary of the Valid model's cost shows.
  mean_chunk_cost: float = float("nan")


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
              num_layers: int) -> "Position":
    """The inverse of :meth:`to_json` + :meth:`arrays`.

    Raises:
      UserError: the arrays do not hold ``num_layers`` layers of state.
    """
    names = ["%s%d" % (k, i) for i in range(num_layers) for k in "ch"]
    if sorted(arrays) != sorted(names):
      raise UserError("the saved mid-epoch state has arrays %s, expected %s"
                      % (sorted(arrays), sorted(names)))
    state = tuple(rnn_cell.LSTMStateTuple(arrays["c%d" % i], arrays["h%d" % i])
                  for i in range(num_layers))
    return cls(step=int(saved["step"]), costs=float(saved["costs"]),
               iters=int(saved["iters"]), state=state)


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


def run_epoch(session: tf1.Session, model: model_lib.PTBModel, data,
              train_op=None, verbose: bool = False,
              metrics: Optional[MetricsLog] = None,
              name: str = "data", start: Optional[Position] = None,
              on_chunk: Optional[Callable[[Position], None]] = None,
              epochs_after: int = 0) -> EpochResult:
  """Runs one pass over ``data``; trains if ``train_op`` is given.

  Args:
    session: the session holding the variables.
    model: the graph to run (its batch_size/num_steps batch the data).
    data: word ids.
    train_op: op to run with each chunk (None = evaluate only).
    verbose: log ten progress lines.
    metrics: where progress scalars go (training only).
    name: data set name for error messages.
    start: continue a pass from this position (a mid-epoch checkpoint);
      None starts at chunk 0 from the zero state.
    on_chunk: called with the position after every chunk (e.g. to save).
    epochs_after: whole passes that follow this one, for the run's ETA.

  Returns:
    Perplexity, words/s and seconds of the pass (words/s and seconds of the
    part run here when resumed).

  Raises:
    UserError: a non-finite cost (nothing is saved by this function).
  """
  cfg = model.config
  n = reader.epoch_size(len(data), cfg.batch_size, cfg.num_steps)
  pos = start or Position()
  meter = Throughput(total_steps=n - pos.step)
  state = pos.state if pos.state is not None else session.run(
      model.initial_state)
  costs, iters = pos.costs, pos.iters
  log_at = set(progress_steps(n)) if verbose else set()
  fetches = {"cost": model.cost, "final_state": model.final_state}
  if train_op is not None:
    fetches["train_op"] = train_op
  chunks = reader.ptb_iterator(data, cfg.batch_size, cfg.num_steps, name)
  for step, (x, y) in enumerate(chunks):
    if step < pos.step:
      continue
    feed = {model.input_data: x, model.targets: y}
    feed.update(model_lib.state_feed(model.initial_state, state))
    vals = session.run(fetches, feed)
    check_finite_loss(vals["cost"], "%s step %d" % (name, step), what="loss")
    state = vals["final_state"]
    costs += float(vals["cost"])  # float64 sum (a float32 one drifts)
    iters += cfg.num_steps
    meter.update(steps=1, units=cfg.batch_size * cfg.num_steps)
    if verbose:
      log_run_estimate(meter, n, epochs_after)
    if step in log_at:
      log_progress(meter, n, step, costs / iters, epochs_after)
      if metrics is not None:
        _log_training_scalars(session, model, metrics, vals["cost"],
                              costs / iters)
    if on_chunk is not None:
      on_chunk(Position(step + 1, costs, iters, state))
  return EpochResult(perplexity=float(np.exp(costs / iters)),
                     words_per_sec=meter.rate(), seconds=meter.elapsed(),
                     mean_chunk_cost=costs * cfg.num_steps / iters)


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


FAST_EVAL_CHUNK = 1000  # Words per session.run in the fast Test pass.


def run_stream(session: tf1.Session, model: model_lib.PTBModel, data,
               chunk: int = FAST_EVAL_CHUNK, name: str = "data"
               ) -> EpochResult:
  """The Test pass of the tutorial, ``chunk`` words per ``session.run``.

  The tutorial runs its Test graph (batch 1, num_steps 1) once per word:
  predictions 1..N-1 of one stream, the state carried word to word. Here
  ``model`` (the ``test_fast`` graph: batch 1, open time axis) takes ``chunk``
  words at a time with the state carried chunk to chunk, and a last, shorter
  chunk takes the rest: the same N-1 predictions, the same per-word losses
  (summed in another order), the same perplexity, without a ``session.run``
  per word.
  """
  state = session.run(model.initial_state)

  def step(x: np.ndarray, y: np.ndarray) -> float:
    nonlocal state
    feed = {model.input_data: x, model.targets: y}
    feed.update(model_lib.state_feed(model.initial_state, state))
    cost, state = session.run([model.cost, model.final_state], feed)
    return cost
  return stream_pass(step, data, chunk, name)


def stream_pass(step: Callable[[np.ndarray, np.ndarray], float], data,
                chunk: int, name: str) -> EpochResult:
  """The fast Test pass's loop (:func:`run_stream`), for either API.

  Args:
    step: ``step(x, y) -> cost``: runs one chunk (ids ``[1, k]``, targets
      ``x`` shifted by one word) from the state the previous chunk left, and
      returns its summed cost.
    data: word ids: one stream, N - 1 predictions.
    chunk: words per ``step``.
    name: the data set's name, for messages.

  Raises:
    UserError: data too short for one prediction, a non-finite cost.
  """
  ids = np.asarray(data, dtype=np.int32)
  predictions = reader.check_batchable(len(ids), 1, 1, name)  # N - 1.
  meter = Throughput(total_steps=predictions)
  costs = 0.0
  for start in range(0, predictions, chunk):
    stop = min(start + chunk, predictions)
    cost = step(ids[None, start:stop], ids[None, start + 1:stop + 1])
    check_finite_loss(cost, "%s words %d-%d" % (name, start, stop),
                      what="loss")
    costs += float(cost)
    meter.update(steps=stop - start, units=stop - start)
  return EpochResult(perplexity=float(np.exp(costs / predictions)),
                     words_per_sec=meter.rate(), seconds=meter.elapsed())


def test_pass(session: tf1.Session, models: model_lib.Models, data,
              eval_mode: str) -> EpochResult:
  """The Test perplexity: ``fast`` (:func:`run_stream`) or ``tutorial``
  (:func:`run_epoch` on the batch-1, one-word Test graph)."""
  if eval_mode == "tutorial":
    return run_epoch(session, models.test, data, name="test")
  return run_stream(session, models.test_fast, data, name="test")


def _log_training_scalars(session, model, metrics: MetricsLog,
                          chunk_cost: float, mean_loss: float) -> None:
  """The tutorial's summaries "Training Loss" (the chunk's cost: summed over
  its steps) and "Learning Rate", plus the epoch's mean loss so far."""
  global_step = session.run(tf1.train.get_global_step())
  metrics.scalars(global_step, **{
      "Training Loss": float(chunk_cost),
      "Learning Rate": float(session.run(model.lr)),
      "epoch_mean_loss": mean_loss})


@dataclasses.dataclass
class _Run:
  """A built graph and its open session."""
  graph: tf.Graph
  session: tf1.Session
  models: model_lib.Models


def _load_data(config: configs.PTBConfig, data_path: str) -> reader.PTBData:
  """Reads the three splits; checks vocabulary and lengths before any work.

  Raises:
    UserError: unreadable files, more words than ``vocab_size``, a split too
      short for one chunk.
  """
  data = reader.load(data_path)
  if data.vocab_size > config.vocab_size:
    raise UserError("the data has %d words but vocab_size=%d; set "
                    "--vocab_size=%d" % (data.vocab_size, config.vocab_size,
                                         data.vocab_size))
  if data.vocab_size < config.vocab_size:
    logging.warning("the data has %d words, vocab_size=%d: rows %d.. of the "
                    "embedding and softmax are never used", data.vocab_size,
                    config.vocab_size, data.vocab_size)
  test_config = configs.eval_config(config)
  for name, ids, cfg in (("train", data.train, config),
                         ("valid", data.valid, config),
                         ("test", data.test, test_config)):
    reader.check_batchable(len(ids), cfg.batch_size, cfg.num_steps, name)
  return data


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


# Memory model of a training run, in float32 values (checked before any
# graph or run directory exists). Measured: small 673 MB and medium 1,535 MB
# peak RSS, about 4x the values below plus TensorFlow's ~400 MB.
_BYTES_PER_VALUE = 4
_TF_BASE_BYTES = 400 * 2**20


def estimate_memory_bytes(config: configs.PTBConfig) -> int:
  """Rough peak memory of training ``config``: weights, gradients and the
  SGD update (x3), plus logits and LSTM activations kept for backprop."""
  h, v, layers = config.hidden_size, config.vocab_size, config.num_layers
  params = 2 * v * h + v + layers * (8 * h * h + 4 * h)
  words = config.batch_size * config.num_steps
  activations = words * (3 * v + 12 * h * layers)
  return int(_TF_BASE_BYTES + 4 * _BYTES_PER_VALUE * (3 * params + activations))


def check_fits_in_memory(config: configs.PTBConfig) -> None:
  """UserError when :func:`estimate_memory_bytes` exceeds the memory this
  machine has available (``MemAvailable``; unknown = not checked)."""
  available = _available_memory_bytes()
  need = estimate_memory_bytes(config)
  if available is not None and need > available:
    raise UserError(
        "this config needs about %.1f GB of memory (hidden_size=%d, "
        "vocab_size=%d, num_layers=%d) and %.1f GB are available; use a "
        "smaller model" % (need / 1e9, config.hidden_size, config.vocab_size,
                           config.num_layers, available / 1e9))


def _available_memory_bytes() -> Optional[int]:
  try:
    with open("/proc/meminfo") as f:
      for line in f:
        if line.startswith("MemAvailable:"):
          return int(line.split()[1]) * 1024
  except (OSError, ValueError, IndexError):
    pass
  return None


def _build(config: configs.PTBConfig, options: RunOptions,
           seed: Optional[int]) -> _Run:
  graph, models = session_lib.build_graph(
      lambda: model_lib.build_models(config, configs.eval_config(config),
                                     dropout_seed=seed or 0,
                                     rnn_mode=options.rnn_mode),
      seed, options.deterministic)
  session = session_lib.make_session(graph, options.intra_op_threads,
                                     options.inter_op_threads)
  return _Run(graph=graph, session=session, models=models)


_STATE_TYPES = {"epoch": int, "history": list, "seed": int,
                "position": dict, "vocab": dict}


def saved_run_state(save_path: Optional[str], data: reader.PTBData
                    ) -> Optional[Dict[str, Any]]:
  """The state saved in run directory ``save_path`` (None: no run there
  yet, or no run directory), read before any graph or model exists.

  Raises:
    UserError: a malformed state, or a run trained on another vocabulary.
  """
  if not save_path:
    return None
  saved = ckpt_lib.saved_state(save_path, _STATE_TYPES)
  if saved is not None:
    check_vocab(saved, data, save_path)
  return saved


def _adopt_tutorial_checkpoint(session: tf1.Session, save_path: str) -> None:
  """A run directory with checkpoints but no ``train_state.json`` (the
  tutorial's Supervisor writes that): restore its weights and global step
  and start at epoch 1, as the tutorial's Supervisor does on a restart."""
  latest = tf1.train.latest_checkpoint(save_path)
  if latest is None:
    return
  path, naming = restore_model_weights(session, latest)
  global_step = tf1.train.get_global_step()
  if global_step.op.name in dict(tf1.train.list_variables(path)):
    tf1.train.Saver([global_step]).restore(session, path)
  logging.info("%s holds a checkpoint without train_state.json (%s names): "
               "restored its weights; training starts at epoch 1, as the "
               "tutorial's Supervisor does after a restart", path, naming)


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


def _resume_point(state: Dict[str, Any], config: configs.PTBConfig,
                  metrics: MetricsLog) -> Tuple[int, Optional[Position]]:
  """``(epoch to run next, position inside it or None)`` of a restored run.

  Raises:
    UserError: ``max_max_epoch`` lowered below the epochs already finished
      (the weights are those of a later epoch), or a malformed position.
  """
  epoch = state["epoch"]
  if config.max_max_epoch < epoch:
    raise UserError(
        "%s has finished %d epochs; --max_max_epoch=%d cannot undo them (use "
        "--max_max_epoch>=%d, or --eval_only to score it)" % (
            checkpoint_dir(state), epoch, config.max_max_epoch, epoch))
  # The checkpoint's history is the truth (metrics.json may lag it).
  metrics.set_epochs(state.get("history", metrics.record["epochs"]))
  position = None
  if "position" in state:
    saved = state["position"]
    if not all(isinstance(saved.get(k), (int, float))
               for k in ("step", "costs", "iters")):
      raise UserError("%s: malformed mid-epoch position %r"
                      % (checkpoint_dir(state), saved))
    position = Position.restore(saved, state.get("arrays", {}),
                                config.num_layers)
  logging.info("Resuming from %s: epoch %d, step %d", state["checkpoint"],
               epoch + 1, position.step if position else 0)
  return epoch, position


def checkpoint_dir(state: Dict[str, Any]) -> str:
  return state.get("checkpoint", "the checkpoint")


class _MidEpochSaver:
  """Checkpoints at each epoch's end and every ``every_secs`` inside one.

  A mid-epoch save holds what continuing the pass exactly needs: weights,
  lr and global step (the Saver), the next chunk, the running cost and
  iteration count (``position``) and the carried LSTM state (arrays). The
  dropout masks need no saved random state: they are a function of
  (seed, global step), see :mod:`common.dropout`.
  """

  def __init__(self, checkpointer, session, seed: int, metrics: MetricsLog,
               every_secs: float, vocab: Dict[str, Any]):
    self._checkpointer = checkpointer
    self._session = session
    self._seed = seed
    self._vocab = vocab
    self._metrics = metrics
    self._timer = ckpt_lib.SaveTimer(every_secs)

  def _global_step(self) -> int:
    return int(self._session.run(tf1.train.get_global_step()))

  def hook(self, epoch: int) -> Optional[Callable[[Position], None]]:
    """The ``on_chunk`` callback for training epoch ``epoch`` (0-based)."""
    if self._checkpointer is None:
      return None

    def on_chunk(position: Position) -> None:
      if self._timer.due():
        self._checkpointer.save(
            self._session, self._global_step(),
            dict(epoch=epoch, history=self._metrics.record["epochs"],
                 seed=self._seed, vocab=self._vocab,
                 position=position.to_json()),
            arrays=position.arrays())
        self._timer.reset()
        logging.info("Saved mid-epoch checkpoint (epoch %d, step %d)",
                     epoch + 1, position.step)
    return on_chunk

  def end_epoch(self, epoch: int, record: Dict[str, Any],
                valid_loss: float) -> None:
    """Logs ``valid_loss`` (the Valid pass's mean chunk cost) as the
    tutorial's "Validation Loss", saves, and adds ``record``."""
    global_step = self._global_step()
    self._metrics.scalars(global_step, **{"Validation Loss": valid_loss})
    if self._checkpointer is not None:
      history = self._metrics.record["epochs"] + [record]
      self._checkpointer.save(
          self._session, global_step,
          dict(record, history=history, seed=self._seed, vocab=self._vocab))
      self._timer.reset()
    self._metrics.add_epoch(**record)


def epoch_record(epoch: int, lr: float, train_result: EpochResult,
                 valid_result: EpochResult) -> Dict[str, Any]:
  """What the run records of finished epoch ``epoch`` (0-based)."""
  return dict(epoch=epoch + 1, learning_rate=float(lr),
              train_perplexity=train_result.perplexity,
              valid_perplexity=valid_result.perplexity,
              train_words_per_sec=train_result.words_per_sec,
              seconds=train_result.seconds + valid_result.seconds)


def record_test(model_name: str, metrics: MetricsLog,
                test_result: EpochResult) -> Dict[str, Any]:
  """Records the Test pass and the published comparison (of it and the last
  epoch's numbers), logs the comparison; returns the closed run record."""
  epochs = metrics.record["epochs"]
  measured = {"test": test_result.perplexity}
  if epochs:
    measured.update(train=epochs[-1]["train_perplexity"],
                    valid=epochs[-1]["valid_perplexity"])
  rows = comparison(model_name, measured)
  metrics.set(test_perplexity=test_result.perplexity, comparison=rows,
              test_words_per_sec=test_result.words_per_sec)
  metrics.close()
  log_comparison(model_name, rows)
  return metrics.record


def comparison(model_name: str, measured: Dict[str, float]):
  """Rows comparing ``measured`` perplexities with the published ones."""
  return compare.compare(measured, configs.PUBLISHED.get(model_name, []))


def log_comparison(model_name: str, rows) -> None:
  compare.log_comparison(
      rows, "Published comparison (delta = measured vs published)",
      "No published numbers for config %r." % model_name)


def train(model_name: str, config: configs.PTBConfig, data_path: str,
          options: RunOptions = RunOptions()) -> Dict[str, Any]:
  """Trains ``config`` on the PTB files in ``data_path``; resumes if possible.

  Args:
    model_name: preset name (for the published comparison and the record).
    config: the hyperparameters.
    data_path: directory with ``ptb.{train,valid,test}.txt``.
    options: seed, threads and the run directory.

  Returns:
    The run record: per-epoch numbers, test perplexity, comparison rows.

  Raises:
    UserError: bad data, a save_path of another config, a non-finite loss.
  """
  data = _load_data(config, data_path)
  config_dict = dict(config_lib.to_dict(config), model=model_name)
  logging.info("PTB config %s: %s", model_name, config_dict)
  logging.info("Run options: %s", dataclasses.asdict(options))
  check_fits_in_memory(config)
  saved = saved_run_state(options.save_path, data)
  seed = session_lib.resolve_seed(options.seed, saved)
  run = _build(config, options, seed)
  checkpointer = None
  if options.save_path:  # Refuses another run's directory before writing.
    with run.graph.as_default():
      checkpointer = ckpt_lib.Checkpointer(
          options.save_path, tf1.train.Saver(max_to_keep=2), config_dict,
          mutable_fields=("max_max_epoch",), state_fields=("epoch",),
          state_types=_STATE_TYPES)
  metrics = MetricsLog(options.save_path, config_dict)
  with run.graph.as_default(), run.session as session:
    m = run.models
    session.run(tf1.global_variables_initializer())
    start_epoch, position = 0, None
    state = checkpointer.restore(session) if checkpointer else None
    if state is not None:
      start_epoch, position = _resume_point(state, config, metrics)
    elif options.save_path:
      _adopt_tutorial_checkpoint(session, options.save_path)
    metrics.start_attempt(seed=seed, start_epoch=start_epoch,
                          start_step=position.step if position else 0)
    saver = _MidEpochSaver(checkpointer, session, seed, metrics,
                           options.checkpoint_every_secs, vocab_record(data))
    for i in range(start_epoch, config.max_max_epoch):
      m.train.assign_lr(session, config.lr_for_epoch(i))
      lr = session.run(m.train.lr)
      logging.info("Epoch: %d Learning rate: %.3f", i + 1, lr)
      train_result = run_epoch(
          session, m.train, data.train, train_op=m.train.train_op,
          verbose=True, metrics=metrics, name="train", start=position,
          on_chunk=saver.hook(i), epochs_after=config.max_max_epoch - i - 1)
      position = None
      logging.info("Epoch: %d Train Perplexity: %.3f", i + 1,
                   train_result.perplexity)
      valid_result = run_epoch(session, m.valid, data.valid, name="valid")
      logging.info("Epoch: %d Valid Perplexity: %.3f", i + 1,
                   valid_result.perplexity)
      saver.end_epoch(i, epoch_record(i, lr, train_result, valid_result),
                      valid_result.mean_chunk_cost)
    test_result = test_pass(session, m, data.test, options.eval_mode)
    logging.info("Test Perplexity: %.3f", test_result.perplexity)
  return record_test(model_name, metrics, test_result)


def evaluate(model_name: str, config: configs.PTBConfig, data_path: str,
             checkpoint: str, options: RunOptions = RunOptions()
             ) -> Dict[str, float]:
  """Restores the weights at ``checkpoint``; reports valid and test perplexity.

  Only ``Model/...`` weights are restored, so checkpoints of the original
  TF tutorial (BASIC and BLOCK mode names) load as well as this port's, into
  any ``rnn_mode``. A run directory's saved vocabulary must match the data's.

  Args:
    model_name: preset name (for the comparison).
    config: must match the checkpoint's shapes.
    data_path: the PTB directory.
    checkpoint: a run directory or a checkpoint prefix.
    options: seed and threads (save_path is ignored).

  Returns:
    ``{"valid": ppl, "test": ppl}``.
  """
  data = _load_data(config, data_path)
  check_vocab(ckpt_lib.state_near(checkpoint), data, checkpoint)
  run = _build(config, options, options.seed)
  with run.graph.as_default(), run.session as session:
    path, naming = restore_model_weights(session, checkpoint)
    logging.info("Restored %s (%s-mode names)", path, naming)
    valid = run_epoch(session, run.models.valid, data.valid, name="valid")
    logging.info("Valid Perplexity: %.3f", valid.perplexity)
    test = test_pass(session, run.models, data.test, options.eval_mode)
    logging.info("Test Perplexity: %.3f", test.perplexity)
  result = {"valid": valid.perplexity, "test": test.perplexity}
  log_comparison(model_name, comparison(model_name, result))
  return result
