"""PTB training, evaluation and the published comparison (owns the Session).

Schedule, loss and state feeding are the tutorial's:

* epoch i (0-based) runs at ``lr * lr_decay ** max(i + 1 - max_epoch, 0)``;
* each pass starts from the zero state, and the final state of every chunk is
  fed (through ``feed_dict``) as the initial state of the next chunk;
* perplexity = exp(sum of chunk costs / number of steps).

Checkpoints are written at the end of every epoch (and every
``checkpoint_every_secs`` inside one); restarting with the same ``save_path``
resumes where the last one was written (learning rate and global step come
back from the checkpoint). The bookkeeping (history, metrics, the saved
state, resume) is :class:`common.epoch_book.EpochBook` and
:mod:`ptb.run_state`; the memory estimate is
:func:`ptb.configs.check_fits_in_memory`.
"""

import dataclasses
import functools
from typing import Any, Callable, Dict, Optional, Tuple

from absl import logging
import numpy as np

from common import checkpoint as ckpt_lib
from common import compare
from common import config as config_lib
from common import convert as common_convert
from common import preemption
from common import session as session_lib
from common.errors import UserError, check_finite_loss
from common.metrics import MetricsLog
from common.progress import Throughput
from common.tf_compat import tf, tf1
from ptb import configs
from ptb import convert_checkpoint
from ptb import model as model_lib
from ptb import progress
from ptb import reader
from ptb import run_state
from ptb.run_state import Position


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
  precision: str = "fp32"  # Train graph's matmuls: fp32 | bf16 (fused mode).


def perplexity(mean_loss: float, name: str) -> float:
  """``exp(mean_loss)``: a pass's perplexity from its mean loss per word.

  Raises:
    UserError: it overflows (a loss of over 709 nats a word: the model
      diverged), rather than a perplexity of inf reported as a result.
  """
  if not mean_loss < _MAX_LOG_PERPLEXITY:
    raise UserError(
        "the %s perplexity overflows (mean loss %.4g nats per word): the "
        "model diverged (try a lower --learning_rate or --max_grad_norm); "
        "stopped before saving or reporting it" % (name, mean_loss))
  return float(np.exp(mean_loss))


_MAX_LOG_PERPLEXITY = float(np.log(np.finfo(np.float64).max))


@dataclasses.dataclass
class EpochResult:
  perplexity: float
  words_per_sec: float
  seconds: float
  # The mean of the chunks' costs (each summed over num_steps): what the
  # tutorial's "Validation Loss" summary of the Valid model's cost shows.
  mean_chunk_cost: float = float("nan")


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
  fetches = {"cost": model.cost, "final_state": model.final_state}
  if train_op is not None:
    fetches["train_op"] = train_op

  def step(x, y, state):
    feed = {model.input_data: x, model.targets: y}
    feed.update(model_lib.state_feed(model.initial_state, state))
    vals = session.run(fetches, feed)
    return vals["cost"], vals["final_state"]

  def log_scalars(cost: float, mean_loss: float) -> None:
    if metrics is not None:
      _log_training_scalars(session, model, metrics, cost, mean_loss)

  state = (start.state if start is not None and start.state is not None
           else session.run(model.initial_state))
  return chunk_pass(step, data, cfg.batch_size, cfg.num_steps, state,
                    name=name, start=start, verbose=verbose,
                    on_progress=log_scalars, on_chunk=on_chunk,
                    epochs_after=epochs_after)


def chunk_pass(step: Callable[[np.ndarray, np.ndarray, Any], Tuple[Any, Any]],
               data, batch_size: int, num_steps: int, state, name: str,
               start: Optional[Position] = None, verbose: bool = False,
               on_progress: Optional[Callable[[float, float], None]] = None,
               on_chunk: Optional[Callable[[Position], None]] = None,
               epochs_after: int = 0) -> EpochResult:
  """The loop of :func:`run_epoch`, for either API (the TF2 twin's
  ``train_tf2.run_epoch`` calls it too).

  Args:
    step: ``step(x, y, state) -> (cost, final_state)``: runs one chunk
      (ids and targets ``[batch_size, num_steps]``) from ``state``.
    data: word ids.
    batch_size: streams (:func:`ptb.reader.ptb_iterator`).
    num_steps: words per stream and chunk.
    state: the state the first chunk run here starts from (the zero state,
      or ``start``'s).
    name: the data set's name, for messages.
    start: where a resumed pass stands (None: chunk 0).
    verbose: log the run's estimate and ten progress lines.
    on_progress: ``on_progress(chunk cost, mean loss so far)`` at each
      progress line (the training scalars).
    on_chunk: called with the position after every chunk.
    epochs_after: whole passes after this one, for the run's ETA.

  Raises:
    UserError: a non-finite cost.
  """
  n = reader.epoch_size(len(data), batch_size, num_steps)
  pos = start or Position()
  meter = Throughput(total_steps=n - pos.step)
  costs, iters = pos.costs, pos.iters
  log_at = set(progress.progress_steps(n)) if verbose else set()
  chunks = reader.ptb_iterator(data, batch_size, num_steps, name)
  for i, (x, y) in enumerate(chunks):
    if i < pos.step:
      continue
    cost, state = step(x, y, state)
    cost = float(cost)
    check_finite_loss(cost, "%s step %d" % (name, i), what="loss")
    costs += cost  # float64 sum (a float32 one drifts)
    iters += num_steps
    meter.update(steps=1, units=batch_size * num_steps)
    if verbose:
      progress.log_run_estimate(meter, n, epochs_after)
    if i in log_at:
      progress.log_progress(meter, n, i, costs / iters, epochs_after)
      if on_progress is not None:
        on_progress(cost, costs / iters)
    if on_chunk is not None:
      on_chunk(Position(i + 1, costs, iters, state))
  return EpochResult(perplexity=perplexity(costs / iters, name),
                     words_per_sec=meter.rate(), seconds=meter.elapsed(),
                     mean_chunk_cost=costs * num_steps / iters)


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
  return EpochResult(perplexity=perplexity(costs / predictions, name),
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


def load_data(config: configs.PTBConfig, data_path: str) -> reader.PTBData:
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


def _build(config: configs.PTBConfig, options: RunOptions,
           seed: Optional[int]) -> _Run:
  graph, models = session_lib.build_graph(
      lambda: model_lib.build_models(config, configs.eval_config(config),
                                     dropout_seed=seed or 0,
                                     rnn_mode=options.rnn_mode,
                                     precision=options.precision),
      seed, options.deterministic)
  session = session_lib.make_session(graph, options.intra_op_threads,
                                     options.inter_op_threads)
  return _Run(graph=graph, session=session, models=models)


def _checkpointer(graph: tf.Graph, save_path: Optional[str],
                  config_dict: Dict[str, Any]
                  ) -> Optional[ckpt_lib.Checkpointer]:
  """The run directory (None: no ``save_path``); refuses another run's
  directory before anything is written."""
  if not save_path:
    return None
  with graph.as_default():
    return run_state.open_run_dir(
        save_path, tf1.train.Saver(max_to_keep=2), config_dict)


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
  try:
    metrics.set(test_perplexity=test_result.perplexity, comparison=rows,
                test_words_per_sec=test_result.words_per_sec)
  finally:  # Closed even if metrics.json cannot be written.
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
  data = load_data(config, data_path)
  config_dict = dict(config_lib.to_dict(config), model=model_name)
  logging.info("PTB config %s: %s", model_name, config_dict)
  logging.info("Run options: %s", dataclasses.asdict(options))
  configs.check_fits_in_memory(config)
  common_convert.refuse_other_api(options.save_path, "tf1",
                                  "ptb.convert_checkpoint")
  saved = run_state.saved_run_state(options.save_path, data)
  seed = session_lib.resolve_seed(options.seed, saved)
  run = _build(config, options, seed)
  with session_lib.closed_on_error(run.session):
    checkpointer = _checkpointer(run.graph, options.save_path, config_dict)
    metrics = MetricsLog(options.save_path, config_dict)
  with session_lib.closed_on_error(metrics), run.graph.as_default(), \
      run.session as session:
    m = run.models
    session.run(tf1.global_variables_initializer())
    start_epoch, position = run_state.restore_run(
        checkpointer, session, config, metrics, len(data.train),
        functools.partial(
            run_state.adopt_tutorial_checkpoint, session, options.save_path))
    metrics.start_attempt(seed=seed, start_epoch=start_epoch,
                          start_step=position.step if position else 0,
                          api="tf1", rnn_mode=options.rnn_mode,
                          precision=options.precision,
                          eval_mode=options.eval_mode)
    global_step = tf1.train.get_global_step()
    book = run_state.new_book(
        checkpointer, session, metrics,
        lambda: int(session.run(global_step)), seed,
        options.checkpoint_every_secs, data)
    with preemption.listening(checkpointer is not None):
      for i in range(start_epoch, config.max_max_epoch):
        m.train.assign_lr(session, config.lr_for_epoch(i))
        lr = session.run(m.train.lr)
        logging.info("Epoch: %d Learning rate: %.3f", i + 1, lr)
        train_result = run_epoch(
            session, m.train, data.train, train_op=m.train.train_op,
            verbose=True, metrics=metrics, name="train", start=position,
            on_chunk=book.hook(i), epochs_after=config.max_max_epoch - i - 1)
        position = None
        logging.info("Epoch: %d Train Perplexity: %.3f", i + 1,
                     train_result.perplexity)
        valid_result = run_epoch(session, m.valid, data.valid, name="valid")
        logging.info("Epoch: %d Valid Perplexity: %.3f", i + 1,
                     valid_result.perplexity)
        book.end_epoch(epoch_record(i, lr, train_result, valid_result),
                       {"Validation Loss": valid_result.mean_chunk_cost})
    test_result = test_pass(session, m, data.test, options.eval_mode)
    logging.info("Test Perplexity: %.3f", test_result.perplexity)
  return record_test(model_name, metrics, test_result)


def _convert_if_it_fits(config: configs.PTBConfig, source: str,
                        from_format: str, to_format: str, out: str) -> str:
  """:func:`ptb.convert_checkpoint.convert`, once ``source``'s weights are
  known to fit ``config`` (so that a misfit names ``source``, not the
  temporary copy)."""
  prefix, _, weights = convert_checkpoint.read_weights(source)
  weights.check_fits(config, prefix)
  return convert_checkpoint.convert(source, from_format, to_format, out)


def evaluate(model_name: str, config: configs.PTBConfig, data_path: str,
             checkpoint: str, options: RunOptions = RunOptions()
             ) -> Dict[str, float]:
  """Restores the weights at ``checkpoint``; reports valid and test perplexity.

  Only ``Model/...`` weights are restored, so checkpoints of the original
  TF tutorial (BASIC and BLOCK mode names) load as well as this port's, into
  any ``rnn_mode``; a TF2 checkpoint (``--api=tf2``'s) is converted on the
  fly (:func:`common.convert.in_format`). A run directory's saved vocabulary
  must match the data's.

  Args:
    model_name: preset name (for the comparison).
    config: must match the checkpoint's shapes.
    data_path: the PTB directory.
    checkpoint: a run directory or a checkpoint prefix.
    options: seed and threads (save_path is ignored).

  Returns:
    ``{"valid": ppl, "test": ppl}``.
  """
  data = load_data(config, data_path)
  run_state.check_vocab(run_state.saved_near(checkpoint), data, checkpoint)
  with common_convert.in_format(
      checkpoint, common_convert.TF1,
      functools.partial(_convert_if_it_fits, config)) as tf1_checkpoint:
    run = _build(config, options, options.seed)
    with run.graph.as_default(), run.session as session:
      path, naming = run_state.restore_model_weights(session, tf1_checkpoint)
      logging.info("Restored %s (%s-mode names)", path, naming)
      valid = run_epoch(session, run.models.valid, data.valid, name="valid")
      logging.info("Valid Perplexity: %.3f", valid.perplexity)
      test = test_pass(session, run.models, data.test, options.eval_mode)
      logging.info("Test Perplexity: %.3f", test.perplexity)
  result = {"valid": valid.perplexity, "test": test.perplexity}
  log_comparison(model_name, comparison(model_name, result))
  return result
