"""IMDB training, evaluation, seeds' comparison (owns the Session).

One epoch = one pass over the training reviews in a fresh order
(``reader.epoch_order(seed, epoch)``, so a resumed run sees the same orders),
``batch_size`` reviews per step, the last batch smaller (Keras ``fit`` on
arrays does the same). After each epoch: loss and accuracy on the validation
reviews (if ``validation_split > 0``), a checkpoint, early stopping on the
validation loss (``patience``, Keras ``EarlyStopping(monitor="val_loss")``).
At the end: loss and accuracy on all 25,000 test reviews, compared with what
the seeds report.

Restarting with the same ``save_path`` resumes after the last finished epoch
(weights, optimizer slots and global step come back from the checkpoint; the
dropout masks of the remaining epochs are not the ones an uninterrupted run
would draw). A non-finite training loss stops the run before the epoch's
checkpoint is written, so the last checkpoint stays the last good one.
``max_epochs`` and ``patience`` may change on resume
(:data:`imdb.configs.RESUMABLE_CHANGES`): a finished run can be trained
longer, and whether an early stop holds is decided again with the new
patience. Without dropout a resumed run repeats the uninterrupted one's
numbers.
"""

import dataclasses
import time
from typing import Any, Dict, Optional

from absl import logging
import numpy as np

from common import checkpoint as ckpt_lib
from common import compare
from common import config as config_lib
from common import epoch_book
from common import session as session_lib
from common import variables
from common.errors import check_finite_loss
from common.metrics import MetricsLog
from common.progress import Throughput, format_duration
from common.tf_compat import tf, tf1
from imdb import configs
from imdb import model as model_lib
from imdb import reader

# The numbers each history entry (``_epoch_record``) holds besides its
# 1-based ``epoch`` (and ``valid_*`` where there is a validation split).
EPOCH_FIELDS = ("train_loss", "train_accuracy", "train_examples_per_sec",
                "seconds")


@dataclasses.dataclass(frozen=True)
class RunOptions:
  """How to run (not what to train): output, cache, logging, threads."""
  save_path: Optional[str] = None  # Run directory; None = no checkpoints.
  cache_dir: Optional[str] = None  # Tokenized-corpus cache; None = none.
  log_every: int = 50  # Steps between progress lines (0 = none).
  deterministic: bool = False  # TF deterministic kernels (slower).
  intra_op_threads: int = 0  # 0 = TF default (all cores).
  inter_op_threads: int = 0  # 0 = TF default.


@dataclasses.dataclass(frozen=True)
class PassResult:
  """Mean loss and accuracy of one pass over some examples, and its speed."""
  loss: float
  accuracy: float
  examples: int
  seconds: float

  @property
  def examples_per_sec(self) -> float:
    return self.examples / max(self.seconds, 1e-9)


# ------------------------------------------------------------------- data


def load_dataset(config: configs.IMDBConfig, data_path: str,
                 cache_dir: Optional[str] = None) -> reader.Dataset:
  """Reads (or loads from the cache) and encodes the reviews for ``config``."""
  corpus = reader.load_corpus(data_path, cache_dir)
  dataset = reader.make_dataset(
      corpus, config.num_words, config.maxlen, padding=config.padding,
      truncating=config.truncating, validation_split=config.validation_split,
      seed=config.seed)
  stats = reader.length_stats(corpus.train, config.maxlen)
  logging.info(
      "IMDB: %d train, %d validation, %d test reviews; %d training words, "
      "ids < %d keep the %d most frequent; mean review %.0f ids, %.1f%% "
      "truncated to %d", len(dataset.train), len(dataset.valid),
      len(dataset.test), len(corpus.words), config.num_words,
      min(len(corpus.words), config.num_words - reader.INDEX_FROM - 1),
      stats["mean_length"], 100 * stats["truncated_fraction"], config.maxlen)
  return dataset


# ---------------------------------------------------------------- passes


def feed_dict(model: model_lib.IMDBModel, examples: reader.Examples, index):
  """The feed of the examples at ``index`` (inputs and labels)."""
  return {model.inputs: examples.x[index], model.labels: examples.y[index]}


def train_epoch(session: tf1.Session, model: model_lib.IMDBModel,
                examples: reader.Examples, order: np.ndarray,
                epoch_name: str = "epoch", log_every: int = 0,
                metrics: Optional[MetricsLog] = None) -> PassResult:
  """One training pass over ``examples`` in ``order``.

  Args:
    session: holds the variables.
    model: the Train graph.
    examples: training examples.
    order: the example order of this epoch.
    epoch_name: prefix of the progress lines, e.g. ``"epoch 2/4"``.
    log_every: steps between progress lines and TensorBoard points (0: none).
    metrics: where progress scalars go.

  Returns:
    Mean training loss and accuracy (with dropout) over the epoch.

  Raises:
    UserError: a non-finite loss (nothing is saved by this function).
  """
  batch_size = model.config.batch_size
  steps = reader.num_batches(len(order), batch_size)
  meter = Throughput(total_steps=steps)
  global_step = int(session.run(model.global_step))
  loss_sum = correct = 0.0
  fetches = [model.loss, model.accuracy, model.train_op]
  for step, index in enumerate(reader.batches(len(order), batch_size, order)):
    loss, accuracy, _ = session.run(fetches, feed_dict(model, examples, index))
    check_finite_loss(loss, "%s step %d" % (epoch_name, step + 1))
    n = len(index)
    loss_sum += float(loss) * n
    correct += float(accuracy) * n
    global_step += 1
    meter.update(steps=1, units=n)
    if log_every and ((step + 1) % log_every == 0 or step + 1 == steps):
      logging.info("%s step %d/%d: loss %.4f acc %.4f | %.0f examples/s | "
                   "ETA %s", epoch_name, step + 1, steps,
                   loss_sum / meter.units, correct / meter.units,
                   meter.rate(), meter.eta())
      if metrics is not None:
        metrics.scalars(global_step, train_loss=loss_sum / meter.units,
                        train_accuracy=correct / meter.units,
                        train_examples_per_sec=meter.rate())
  return PassResult(loss=float(loss_sum / len(order)),
                    accuracy=float(correct / len(order)),
                    examples=len(order), seconds=meter.elapsed())


def evaluate_examples(session: tf1.Session, model: model_lib.IMDBModel,
                      examples: reader.Examples,
                      batch_size: int) -> PassResult:
  """Mean loss and accuracy over every example (no dropout)."""
  start = time.time()
  loss_sum = correct = 0.0
  for index in reader.batches(len(examples), batch_size):
    loss, accuracy = session.run([model.loss, model.accuracy],
                                 feed_dict(model, examples, index))
    loss_sum += float(loss) * len(index)
    correct += float(accuracy) * len(index)
  n = max(len(examples), 1)
  check_finite_loss(loss_sum, "the end of an evaluation pass",
                    what="evaluation loss")
  return PassResult(loss=float(loss_sum / n), accuracy=float(correct / n),
                    examples=len(examples), seconds=time.time() - start)


def early_stopping(best: Optional[float], wait: int, valid_loss: float,
                   patience: int):
  """Keras ``EarlyStopping(monitor="val_loss", patience)`` bookkeeping.

  Args:
    best: the lowest validation loss so far (None before the first epoch).
    wait: epochs since ``best``.
    valid_loss: this epoch's validation loss.
    patience: epochs without improvement before stopping; 0 = never stop.

  Returns:
    ``(best, wait, stop)`` after this epoch.
  """
  if best is None or valid_loss < best:
    return valid_loss, 0, False
  wait += 1
  return best, wait, bool(patience) and wait >= patience


# ------------------------------------------------------------- sessions


@dataclasses.dataclass
class Run:
  """A built graph and its open session."""
  graph: tf.Graph
  session: tf1.Session
  models: Optional[model_lib.Models]
  eval_model: model_lib.IMDBModel


def build_run(config: configs.IMDBConfig, options: RunOptions,
              training: bool = True) -> Run:
  """Builds the seeded graph (Train + Eval, or Eval alone) and a session."""
  def build():
    if training:
      models = model_lib.build_models(config)
      return models, models.eval
    return None, model_lib.build_eval_model(config)
  graph, (models, eval_model) = session_lib.build_graph(
      build, config.seed, options.deterministic)
  session = session_lib.make_session(graph, options.intra_op_threads,
                                     options.inter_op_threads)
  return Run(graph=graph, session=session, models=models,
             eval_model=eval_model)


def comparison(config_name: str, measured: Dict[str, float]):
  """Rows comparing ``measured`` test numbers with the seeds' reports."""
  return compare.compare(measured, configs.PUBLISHED.get(config_name, []))


def compare_with_seeds(config_name: str, accuracy: float, loss: float,
                       title: str = "Seeds' comparison"):
  """Logs the comparison of test numbers with the seed's report and the
  target (if any); returns the comparison rows."""
  rows = comparison(config_name, {"test_accuracy": accuracy,
                                  "test_loss": loss})
  compare.log_comparison(
      rows, "%s (delta = measured vs reported)" % title,
      "No reported numbers for config %r." % config_name)
  reached = target_reached(config_name, accuracy)
  if reached is not None:
    logging.info("Target test accuracy >= %.3f: %s",
                 configs.TARGETS[config_name],
                 "reached" if reached else "NOT reached")
  return rows


def target_reached(config_name: str, accuracy: float) -> Optional[bool]:
  """Whether ``accuracy`` meets the config's target; None without one."""
  target = configs.TARGETS.get(config_name)
  return None if target is None else accuracy >= target


def log_comparison(config_name: str, test: PassResult):
  """Logs test numbers, the seeds' comparison and the target; returns rows."""
  logging.info("Test: loss %.4f accuracy %.4f on %d reviews (%.0f examples/s)",
               test.loss, test.accuracy, test.examples, test.examples_per_sec)
  return compare_with_seeds(config_name, test.accuracy, test.loss)


def _epoch_record(epoch: int, train_result: PassResult,
                  valid_result: Optional[PassResult]) -> Dict[str, Any]:
  record = dict(epoch=epoch, train_loss=train_result.loss,
                train_accuracy=train_result.accuracy,
                train_examples_per_sec=train_result.examples_per_sec,
                seconds=train_result.seconds)
  if valid_result is not None:
    record.update(valid_loss=valid_result.loss,
                  valid_accuracy=valid_result.accuracy,
                  seconds=train_result.seconds + valid_result.seconds)
  return record


def _log_epoch(name: str, record: Dict[str, Any]) -> None:
  valid = ""
  if "valid_loss" in record:
    valid = " | valid loss %.4f acc %.4f" % (record["valid_loss"],
                                             record["valid_accuracy"])
  logging.info("%s: train loss %.4f acc %.4f (%.0f examples/s, %s)%s", name,
               record["train_loss"], record["train_accuracy"],
               record["train_examples_per_sec"],
               format_duration(record["seconds"]), valid)


def _checkpointer(graph: tf.Graph, save_path: Optional[str],
                  config_dict: Dict[str, Any]
                  ) -> Optional[ckpt_lib.Checkpointer]:
  """The run directory's checkpointer (None without one); refuses another
  run's directory before anything is written."""
  if not save_path:
    return None
  with graph.as_default():
    return ckpt_lib.Checkpointer(
        save_path, tf1.train.Saver(max_to_keep=2), config_dict,
        mutable_fields=configs.RESUMABLE_CHANGES, state_fields=("epoch",),
        state_types={"epoch": int, "wait": int, "history": list,
                     "best_valid_loss": (int, float, type(None))})


def _restore(checkpointer: Optional[ckpt_lib.Checkpointer], session,
             config: configs.IMDBConfig, metrics: MetricsLog
             ) -> Dict[str, Any]:
  """The restored checkpoint's state (``{}`` for a fresh run); its history
  goes into ``metrics``."""
  state = checkpointer.restore(session) if checkpointer else None
  if not state:
    return {}
  epoch_book.resume_epochs(state, metrics, config.max_epochs, "max_epochs",
                           EPOCH_FIELDS)
  logging.info("Resuming from %s after epoch %d (global step %d)",
               state["checkpoint"], state["epoch"],
               session.run(tf1.train.get_global_step()))
  return state


def record_test(config_name: str, metrics: MetricsLog, test: PassResult,
                **fields: Any) -> Dict[str, Any]:
  """Records the test pass and the comparison (logged); returns the closed
  run record."""
  rows = log_comparison(config_name, test)
  try:
    metrics.set(config_name=config_name, **fields, test_loss=test.loss,
                test_accuracy=test.accuracy, test_examples=test.examples,
                test_examples_per_sec=test.examples_per_sec, comparison=rows)
  finally:  # Closed even if metrics.json cannot be written.
    metrics.close()
  return metrics.record


def train(config_name: str, config: configs.IMDBConfig, data_path: str,
          options: RunOptions = RunOptions()) -> Dict[str, Any]:
  """Trains ``config`` on the reviews in ``data_path``; resumes if possible.

  The same loop as :func:`ptb.train.train` (epochs -> train -> valid ->
  save; then test), with the seed's early stopping on the validation loss.

  Args:
    config_name: preset name (for the comparison and the record).
    config: the hyperparameters.
    data_path: see :func:`imdb.reader.find_source`.
    options: run directory, cache, logging and threads.

  Returns:
    The run record (``metrics.json``): epochs, test numbers, comparison.

  Raises:
    UserError: bad data, a save_path of another config, a non-finite loss,
      ``max_epochs`` lowered below the epochs a run directory has finished.
  """
  config_dict = dict(config_lib.to_dict(config), config=config_name)
  logging.info("IMDB config %s: %s", config_name, config_dict)
  dataset = load_dataset(config, data_path, options.cache_dir)
  run = build_run(config, options)
  with session_lib.closed_on_error(run.session):
    checkpointer = _checkpointer(run.graph, options.save_path, config_dict)
    metrics = MetricsLog(options.save_path, config_dict)
  with session_lib.closed_on_error(metrics), run.graph.as_default(), \
      run.session as session:
    m = run.models
    num_params = variables.num_parameters(model_lib.weight_variables())
    logging.info("Model: %d parameters", num_params)
    session.run(tf1.global_variables_initializer())
    state = _restore(checkpointer, session, config, metrics)
    best, wait = state.get("best_valid_loss"), state.get("wait", 0)
    # Decided again: ``patience`` may have changed since the checkpoint.
    stopped = bool(config.patience) and wait >= config.patience
    book = epoch_book.EpochBook(
        checkpointer, session, metrics,
        lambda: int(session.run(m.train.global_step)), 0, {})
    for epoch in range(state.get("epoch", 0), config.max_epochs):
      if stopped:
        break
      name = "epoch %d/%d" % (epoch + 1, config.max_epochs)
      order = reader.epoch_order(len(dataset.train), config.seed, epoch)
      train_result = train_epoch(session, m.train, dataset.train, order,
                                 name, options.log_every, metrics)
      valid_result = None
      if len(dataset.valid):
        valid_result = evaluate_examples(session, m.eval, dataset.valid,
                                         config.batch_size)
        best, wait, stopped = early_stopping(best, wait, valid_result.loss,
                                             config.patience)
      record = _epoch_record(epoch + 1, train_result, valid_result)
      _log_epoch(name, record)
      book.end_epoch(record, {k: v for k, v in record.items()
                              if k.startswith(("train_", "valid_"))},
                     state=dict(best_valid_loss=best, wait=wait,
                                stopped_early=stopped))
      if stopped:
        logging.info("Early stop: validation loss has not improved on %.4f "
                     "for %d epochs", best, wait)
    test = evaluate_examples(session, m.eval, dataset.test, config.batch_size)
  return record_test(config_name, metrics, test, num_parameters=num_params,
                     stopped_early=stopped)


def evaluate(config_name: str, config: configs.IMDBConfig, data_path: str,
             checkpoint: str, options: RunOptions = RunOptions()
             ) -> Dict[str, float]:
  """Restores the weights at ``checkpoint``; reports test loss and accuracy.

  Args:
    config_name: preset name (for the comparison).
    config: must match the checkpoint's shapes.
    data_path: see :func:`imdb.reader.find_source`.
    checkpoint: a run directory or a checkpoint prefix.
    options: cache and threads (save_path is ignored).

  Returns:
    ``{"test_loss", "test_accuracy", "test_examples"}``.

  Raises:
    UserError: no checkpoint, or one of another shape.
  """
  ckpt_lib.find_checkpoint(checkpoint)  # Fail before reading the data.
  dataset = load_dataset(config, data_path, options.cache_dir)
  run = build_run(config, options, training=False)
  with run.graph.as_default(), run.session as session:
    path = ckpt_lib.restore_weights(session, checkpoint,
                                    model_lib.weight_variables())
    logging.info("Restored %s", path)
    test = evaluate_examples(session, run.eval_model, dataset.test,
                             config.batch_size)
  log_comparison(config_name, test)
  return {"test_loss": test.loss, "test_accuracy": test.accuracy,
          "test_examples": test.examples}
