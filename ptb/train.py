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
import math
from typing import Any, Dict, Optional

from absl import logging
import numpy as np

from common import checkpoint as ckpt_lib
from common import compare
from common import config as config_lib
from common import session as session_lib
from common.errors import UserError, check_finite_loss
from common.metrics import MetricsLog
from common.progress import Throughput
from common.tf_compat import tf, tf1
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


@dataclasses.dataclass
class EpochResult:
  perplexity: float
  words_per_sec: float
  seconds: float


def _progress_step(step: int, epoch_size: int) -> bool:
  """The tutorial's ``step % (epoch_size // 10) == 10``, safe for tiny epochs.

  Gives ten progress lines per epoch; for epochs shorter than 110 steps the
  offset 10 cannot be reached, so the offset becomes 0 (a deliberate
  deviation: the tutorial divides by zero below 10 steps).
  """
  period = max(epoch_size // 10, 1)
  return step % period == (10 if period > 10 else 0)


def run_epoch(session: tf1.Session, model: model_lib.PTBModel, data,
              train_op=None, verbose: bool = False,
              metrics: Optional[MetricsLog] = None,
              name: str = "data") -> EpochResult:
  """Runs one pass over ``data``; trains if ``train_op`` is given.

  Args:
    session: the session holding the variables.
    model: the graph to run (its batch_size/num_steps batch the data).
    data: word ids.
    train_op: op to run with each chunk (None = evaluate only).
    verbose: log ten progress lines.
    metrics: where progress scalars go (training only).
    name: data set name for error messages.

  Returns:
    Perplexity, words/s and seconds of the pass.

  Raises:
    UserError: a non-finite cost (nothing is saved by this function).
  """
  cfg = model.config
  n = reader.epoch_size(len(data), cfg.batch_size, cfg.num_steps)
  meter = Throughput(total_steps=n)
  costs, iters = 0.0, 0
  state = session.run(model.initial_state)
  fetches = {"cost": model.cost, "final_state": model.final_state}
  if train_op is not None:
    fetches["train_op"] = train_op
  for step, (x, y) in enumerate(
      reader.ptb_iterator(data, cfg.batch_size, cfg.num_steps, name)):
    feed = {model.input_data: x, model.targets: y}
    feed.update(model_lib.state_feed(model.initial_state, state))
    vals = session.run(fetches, feed)
    check_finite_loss(vals["cost"], "%s step %d" % (name, step), what="loss")
    state = vals["final_state"]
    costs += vals["cost"]
    iters += cfg.num_steps
    meter.update(steps=1, units=cfg.batch_size * cfg.num_steps)
    if verbose and _progress_step(step, n):
      logging.info("%.3f perplexity: %.3f speed: %.0f wps ETA %s",
                   step * 1.0 / n, np.exp(costs / iters), meter.rate(),
                   meter.eta())
      if metrics is not None:
        global_step = session.run(tf1.train.get_global_step())
        metrics.scalars(global_step, training_loss=costs / iters,
                        learning_rate=session.run(model.lr))
  return EpochResult(perplexity=float(np.exp(costs / iters)),
                     words_per_sec=meter.rate(), seconds=meter.elapsed())


@dataclasses.dataclass
class _Run:
  """A built graph and its open session."""
  graph: tf.Graph
  session: tf1.Session
  models: model_lib.Models


def _load_data(config: configs.PTBConfig, data_path: str):
  """Reads the three splits; checks vocabulary and lengths before any work."""
  train_data, valid_data, test_data, vocab = reader.ptb_raw_data(data_path)
  if vocab > config.vocab_size:
    raise UserError("the data has %d words but vocab_size=%d; set "
                    "--vocab_size=%d" % (vocab, config.vocab_size, vocab))
  test_config = configs.eval_config(config)
  for name, data, cfg in (("train", train_data, config),
                          ("valid", valid_data, config),
                          ("test", test_data, test_config)):
    reader.check_batchable(len(data), cfg.batch_size, cfg.num_steps, name)
  return train_data, valid_data, test_data


def _build(config: configs.PTBConfig, options: RunOptions) -> _Run:
  graph, models = session_lib.build_graph(
      lambda: model_lib.build_models(config, configs.eval_config(config)),
      options.seed, options.deterministic)
  session = session_lib.make_session(graph, options.intra_op_threads,
                                     options.inter_op_threads)
  return _Run(graph=graph, session=session, models=models)


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
  train_data, valid_data, test_data = _load_data(config, data_path)
  config_dict = dict(config_lib.to_dict(config), model=model_name)
  logging.info("PTB config %s: %s", model_name, config_dict)
  run = _build(config, options)
  checkpointer = None
  if options.save_path:  # Refuses another run's directory before writing.
    with run.graph.as_default():
      checkpointer = ckpt_lib.Checkpointer(
          options.save_path, tf1.train.Saver(max_to_keep=2), config_dict,
          mutable_fields=("max_max_epoch",), state_fields=("epoch",),
          state_types={"epoch": int, "history": list})
  metrics = MetricsLog(options.save_path, config_dict)
  with run.graph.as_default(), run.session as session:
    m = run.models
    session.run(tf1.global_variables_initializer())
    start_epoch = 0
    state = checkpointer.restore(session) if checkpointer else None
    if state is not None:
      start_epoch = state["epoch"]
      # The checkpoint's history is the truth (metrics.json may lag it).
      metrics.set_epochs(state.get("history", metrics.record["epochs"]))
      logging.info("Resuming from %s after epoch %d (global step %d)",
                   state["checkpoint"], start_epoch,
                   session.run(tf1.train.get_global_step()))
    for i in range(start_epoch, config.max_max_epoch):
      m.train.assign_lr(session, config.lr_for_epoch(i))
      lr = session.run(m.train.lr)
      logging.info("Epoch: %d Learning rate: %.3f", i + 1, lr)
      train_result = run_epoch(session, m.train, train_data,
                               train_op=m.train.train_op, verbose=True,
                               metrics=metrics, name="train")
      logging.info("Epoch: %d Train Perplexity: %.3f", i + 1,
                   train_result.perplexity)
      valid_result = run_epoch(session, m.valid, valid_data, name="valid")
      logging.info("Epoch: %d Valid Perplexity: %.3f", i + 1,
                   valid_result.perplexity)
      global_step = int(session.run(tf1.train.get_global_step()))
      metrics.scalars(global_step, validation_loss=math.log(
          valid_result.perplexity))
      epoch_record = dict(
          epoch=i + 1, learning_rate=float(lr),
          train_perplexity=train_result.perplexity,
          valid_perplexity=valid_result.perplexity,
          train_words_per_sec=train_result.words_per_sec,
          seconds=train_result.seconds + valid_result.seconds)
      if checkpointer is not None:
        history = metrics.record["epochs"] + [epoch_record]
        checkpointer.save(session, global_step,
                          dict(epoch_record, history=history))
      metrics.add_epoch(**epoch_record)
    test_result = run_epoch(session, m.test, test_data, name="test")
    logging.info("Test Perplexity: %.3f", test_result.perplexity)
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


def evaluate(model_name: str, config: configs.PTBConfig, data_path: str,
             checkpoint: str, options: RunOptions = RunOptions()
             ) -> Dict[str, float]:
  """Restores the weights at ``checkpoint``; reports valid and test perplexity.

  Only ``Model/...`` weights are restored, so checkpoints of the original
  TF tutorial (BASIC mode) load as well as this port's.

  Args:
    model_name: preset name (for the comparison).
    config: must match the checkpoint's shapes.
    data_path: the PTB directory.
    checkpoint: a run directory or a checkpoint prefix.
    options: seed and threads (save_path is ignored).

  Returns:
    ``{"valid": ppl, "test": ppl}``.
  """
  _, valid_data, test_data = _load_data(config, data_path)
  run = _build(config, options)
  with run.graph.as_default(), run.session as session:
    path = ckpt_lib.restore_weights(session, checkpoint,
                                    model_lib.weight_variables())
    logging.info("Restored %s", path)
    valid = run_epoch(session, run.models.valid, valid_data, name="valid")
    logging.info("Valid Perplexity: %.3f", valid.perplexity)
    test = run_epoch(session, run.models.test, test_data, name="test")
    logging.info("Test Perplexity: %.3f", test.perplexity)
  result = {"valid": valid.perplexity, "test": test.perplexity}
  log_comparison(model_name, comparison(model_name, result))
  return result
