"""Row-by-row MNIST training and evaluation (owns the Session).

The loop is the seed's: ``max_steps`` Adam steps on ``next_batch`` minibatches
with dropout (``keep_prob``). After the progress steps (every ``log_every``
steps, shifted by ``log_offset``) the same minibatch is re-run with
``progress_keep_prob`` and its accuracy and loss are logged; that accuracy is
what ``stop_at_accuracy`` tests. The ``small`` presets reproduce each seed
script's measurement: stacked without dropout after steps 200, 400, ...;
bidirectional with its training keep 0.8 after steps 1, 51, 101, ... At the
end the accuracy on all 10,000 test images is reported. Added here: validation
accuracy every ``eval_every`` steps, checkpoints every ``checkpoint_every``
steps and at the end, resume, metrics and TensorBoard scalars in the run
directory, and the comparison with the reference numbers.

Resume is exact, dropout included: the training set's position and
shuffling-generator state are saved with each checkpoint, so a resumed run
sees the same minibatches as an uninterrupted one, and the dropout masks are
a function of (seed, global step) (:func:`mnist_rnn.model.dropout_masks`),
so the run's seed is saved too and a resumed run draws the masks the
uninterrupted one would. A run without ``--seed`` draws one and logs it.

Evaluation runs in chunks of ``eval_batch_size`` images (the seed fed all
10,000 at once); the accuracy is the same, the memory much smaller.

Why a class here and a function in PTB and IMDB: those two are epoch loops
(``train()`` reads as epochs -> train -> valid -> save, the bookkeeping in
:class:`common.epoch_book.EpochBook`); the seed's MNIST loop has no epochs
(``max_steps`` steps, with progress lines, validation and checkpoints at step
intervals), and one copy of it serves both APIs: :class:`_Trainer` holds it,
and :mod:`mnist_rnn.train_tf2` overrides only the methods under "The API".
That is also why the file is a little over 400 lines.
"""

import dataclasses
import json
from typing import Any, Callable, Dict, Optional, Tuple

from absl import logging
import numpy as np

from common import checkpoint as ckpt_lib
from common import compare
from common import config as config_lib
from common import convert as common_convert
from common import preemption
from common import session as session_lib
from common import variables
from common.errors import UserError, check_finite_loss
from common.metrics import MetricsLog
from common.progress import Throughput
from common.tf_compat import tf, tf1
from mnist_rnn import configs
from mnist_rnn import model as model_lib
from mnist_rnn import reader


@dataclasses.dataclass(frozen=True)
class RunOptions:
  """How to run (not what to train): seeding, threads, output."""
  seed: Optional[int] = None  # TF op seeds + data shuffling; None = random.
  deterministic: bool = False  # TF deterministic kernels (slower).
  intra_op_threads: int = 0  # 0 = TF default (all cores).
  inter_op_threads: int = 0  # 0 = TF default.
  save_path: Optional[str] = None  # Run directory; None = no checkpoints.
  eval_batch_size: int = 1000  # Images per evaluation chunk (memory only).
  steps_this_run: Optional[int] = None  # Pause (checkpoint, stop) after this
  #                                       many steps; resume later.

  def __post_init__(self):
    config_lib.check_positive(self, "eval_batch_size")
    config_lib.check_non_negative(self, "intra_op_threads", "inter_op_threads")
    if self.steps_this_run is not None:
      config_lib.check_positive(self, "steps_this_run")
      if not self.save_path:  # Its pause would throw the steps away.
        raise UserError("--steps_this_run needs --save_path (the pause is a "
                        "checkpoint to resume from)")


@dataclasses.dataclass
class _Run:
  """A built graph, its model and its open session."""
  graph: tf.Graph
  model: model_lib.MnistRnnModel
  session: tf1.Session
  saver: tf1.train.Saver


def _build(config: configs.MnistRnnConfig, is_training: bool,
           options: RunOptions, seed: Optional[int] = None) -> _Run:
  """The graph (seeded by ``seed``, which also keys the dropout masks), its
  Saver and a session."""
  def build():
    return (model_lib.MnistRnnModel(config, is_training=is_training,
                                    dropout_seed=seed or 0),
            tf1.train.Saver(max_to_keep=3))
  graph, (model, saver) = session_lib.build_graph(build, seed,
                                                  options.deterministic)
  session = session_lib.make_session(graph, options.intra_op_threads,
                                     options.inter_op_threads)
  return _Run(graph=graph, model=model, session=session, saver=saver)


def evaluate_set(session: tf1.Session, model: model_lib.MnistRnnModel,
                 dataset: reader.DataSet, batch_size: int
                 ) -> Tuple[float, float]:
  """Accuracy and mean loss over all of ``dataset``, without dropout.

  Args:
    session: holds the variables.
    model: the graph.
    dataset: evaluated in file order, ``batch_size`` images at a time.
    batch_size: chunk size (does not change the result).

  Returns:
    (accuracy in [0, 1], mean cross-entropy).
  """
  return evaluate_in_chunks(
      lambda images, labels: session.run(
          [model.num_correct, model.loss],
          model.feed(images, labels, keep_prob=1.0)),
      dataset, batch_size)


def evaluate_in_chunks(evaluate_batch: Callable[[Any, Any], Tuple[Any, Any]],
                       dataset: reader.DataSet, batch_size: int
                       ) -> Tuple[float, float]:
  """:func:`evaluate_set`'s loop, for either API.

  Args:
    evaluate_batch: ``(images, labels) -> (number correct, mean loss)``.
    dataset: evaluated in file order, ``batch_size`` images at a time.
    batch_size: chunk size (does not change the result).

  Returns:
    (accuracy in [0, 1], mean cross-entropy).
  """
  correct, loss_sum = 0, 0.0
  for start in range(0, dataset.num_examples, batch_size):
    images = dataset.images[start:start + batch_size]
    labels = dataset.labels[start:start + batch_size]
    n, loss = evaluate_batch(images, labels)
    correct += int(n)
    loss_sum += float(loss) * len(images)
  return correct / dataset.num_examples, loss_sum / dataset.num_examples


def comparison(config: configs.MnistRnnConfig, test_accuracy: float):
  """Rows comparing the test accuracy (in %) with the reference numbers.

  Empty when ``config`` has no published reference (``small``, ``test``).
  """
  return compare.compare({"test": 100.0 * test_accuracy},
                         configs.references(config))


def _log_comparison(rows) -> None:
  compare.log_comparison(
      rows, "Comparison with the reference (accuracy in %)",
      "No published reference for this config (the seed publishes no "
      "accuracy; only medium/large carry the issue's target).")


def report_evaluation(config: configs.MnistRnnConfig, data: reader.DataSets,
                      step: int, valid_accuracy: float,
                      test_accuracy: float) -> Dict[str, Any]:
  """Logs an evaluated checkpoint's accuracies and the comparison; returns
  what :func:`evaluate` returns."""
  logging.info("step %d: validation accuracy %.4f, test accuracy %.4f (all "
               "%d test images)", step, valid_accuracy, test_accuracy,
               data.test.num_examples)
  rows = comparison(config, test_accuracy)
  _log_comparison(rows)
  return {"step": step, "validation_accuracy": valid_accuracy,
          "test_accuracy": test_accuracy, "comparison": rows}


# What train_state.json holds besides the checkpoint's name and its step.
STATE_TYPES = {"data": dict, "stopped_early": bool,
               "train_seconds": (int, float), "seed": int}


class _Trainer:
  """The training loop's state: one instance per call of :func:`train`.

  The loop, progress lines, early stop, validation, checkpoints and the run
  record are the same for both APIs; the methods under "The API" run the
  TF1 graph in a Session here, and :class:`mnist_rnn.train_tf2._Trainer`
  overrides them (and only them) with the TF2 model's ``tf.function`` steps.
  """

  def __init__(self, config, data: reader.DataSets, run: _Run,
               options: RunOptions, seed: int, metrics: MetricsLog,
               checkpointer: Optional[ckpt_lib.Checkpointer]):
    self.config = config
    self.seed = seed  # Keys the dropout masks; saved with each checkpoint.
    self.data = data
    self.run = run
    self.options = options
    self.metrics = metrics
    self.checkpointer = checkpointer
    self.step = 0
    self.stopped_early = False
    self.train_seconds = 0.0  # Over all sessions of this run.
    self.last_saved_step = None
    self.last_validation = None  # (step, accuracy) of the latest evaluation.

  # --- The API: the TF1 graph, run in the Session -------------------------

  def _restore_checkpoint(self) -> Optional[Dict[str, Any]]:
    """Restores the last checkpoint and returns its state, or initialises
    the variables (a fresh run) and returns None."""
    state = None
    if self.checkpointer is not None:
      state = self.checkpointer.restore(self.run.session)
    if state is None:
      self.run.session.run(tf1.global_variables_initializer())
    return state

  def _global_step(self) -> int:
    return int(self.run.session.run(self.run.model.global_step))

  def _save_checkpoint(self, state: Dict[str, Any]) -> str:
    return self.checkpointer.save(self.run.session, self.step, state)

  def _train_on(self, images, labels):
    """One Adam step with dropout (``keep_prob``); returns its loss."""
    model = self.run.model
    _, loss = self.run.session.run(
        [model.train_op, model.loss],
        model.feed(images, labels, keep_prob=self.config.keep_prob))
    return loss

  def _measure(self, images, labels) -> Tuple[float, float, float]:
    """``(accuracy, loss, learning rate)`` of a minibatch run with
    ``progress_keep_prob`` (the seed's measurement: 1.0 in the stacked
    script, 0.8 in the bidirectional one)."""
    model = self.run.model
    return self.run.session.run(
        [model.accuracy, model.loss, model.learning_rate],
        model.feed(images, labels, keep_prob=self.config.progress_keep_prob,
                   measurement=True))

  def evaluate(self, dataset: reader.DataSet) -> Tuple[float, float]:
    """:func:`evaluate_set` of the current weights."""
    return evaluate_set(self.run.session, self.run.model, dataset,
                        self.options.eval_batch_size)

  # --- The loop, the same for both APIs -----------------------------------

  def restore(self) -> None:
    """Resumes from the run directory's last checkpoint, or starts afresh."""
    state = self._restore_checkpoint()
    if state is None:
      return
    self.data.train.set_state(state["data"])
    self.step = self._global_step()
    # An early stop holds unless the resumed config no longer asks for it.
    self.stopped_early = (bool(state.get("stopped_early", False)) and
                          self.config.stop_at_accuracy > 0)
    self.train_seconds = float(state.get("train_seconds", 0.0))
    self.last_saved_step = self.step
    logging.info("Resumed from %s at step %d (epochs_completed %d)%s",
                 state["checkpoint"], self.step,
                 self.data.train.epochs_completed,
                 "; it had stopped early" if self.stopped_early else "")

  def _checkpoint_state(self, meter: Throughput) -> Dict[str, Any]:
    """What train_state.json holds with a checkpoint (see STATE_TYPES)."""
    return {"step": self.step, "data": self.data.train.get_state(),
            "stopped_early": self.stopped_early,
            "train_seconds": self.train_seconds + meter.elapsed(),
            "seed": self.seed}

  def save(self, meter: Throughput) -> None:
    if self.checkpointer is None or self.last_saved_step == self.step:
      return
    path = self._save_checkpoint(self._checkpoint_state(meter))
    self.last_saved_step = self.step
    logging.info("Saved %s", path)

  def train_step(self) -> Tuple[np.ndarray, np.ndarray]:
    """One Adam step; returns its minibatch."""
    images, labels = self.data.train.next_batch(self.config.batch_size)
    loss = self._train_on(images, labels)
    self.step += 1
    check_finite_loss(loss, "step %d" % self.step,
                      hint=" (try a lower --learning_rate or --max_grad_norm)")
    return images, labels

  def log_progress(self, images, labels, meter: Throughput) -> None:
    """The seed's progress line; sets ``stopped_early`` as the seed would.

    The step's minibatch is re-run with ``progress_keep_prob``
    (:meth:`_measure`); ``stop_at_accuracy`` is tested against that
    accuracy.
    """
    keep_prob = self.config.progress_keep_prob
    accuracy, loss, lr = self._measure(images, labels)
    logging.info("epochs_completed %d step %d/%d: minibatch accuracy %.4f "
                 "loss %.4f (keep_prob %.2g) lr %.3g, %.0f examples/s, ETA %s",
                 self.data.train.epochs_completed, self.step,
                 self.config.max_steps, accuracy, loss, keep_prob, lr,
                 meter.rate(), meter.eta())
    self.metrics.scalars(self.step, train_accuracy=accuracy, train_loss=loss,
                         learning_rate=lr, examples_per_sec=meter.rate())
    stop = self.config.stop_at_accuracy
    if stop > 0 and accuracy >= stop:
      logging.info("minibatch accuracy %.4f >= stop_at_accuracy %.4f: "
                   "stopping early (as the seed did)", accuracy, stop)
      self.stopped_early = True

  def validate(self) -> float:
    """Validation accuracy at the current step (evaluated once per step)."""
    if self.last_validation and self.last_validation[0] == self.step:
      return self.last_validation[1]
    accuracy, loss = self.evaluate(self.data.validation)
    check_finite_loss(loss, "step %d" % self.step, what="validation loss")
    logging.info("step %d: validation accuracy %.4f loss %.4f", self.step,
                 accuracy, loss)
    self.metrics.scalars(self.step, validation_accuracy=accuracy,
                         validation_loss=loss)
    self.last_validation = (self.step, accuracy)
    return accuracy

  def loop(self) -> Throughput:
    """Trains until max_steps, an early stop, or steps_this_run."""
    config = self.config
    end = config.max_steps
    if self.options.steps_this_run is not None:
      end = min(end, self.step + self.options.steps_this_run)
    meter = Throughput(total_steps=max(end - self.step, 0))
    with preemption.listening(self.checkpointer is not None):
      self._steps(end, meter)
      self.save(meter)
    return meter

  def _steps(self, end: int, meter: Throughput) -> None:
    """The step loop of :meth:`loop`; on SIGTERM it saves and stops."""
    config = self.config
    while self.step < end and not self.stopped_early:
      images, labels = self.train_step()
      meter.update(steps=1, units=len(images))
      if config.is_progress_step(self.step):
        self.log_progress(images, labels, meter)
      if self.step % config.eval_every == 0:
        self.validate()
      if (self.step % config.checkpoint_every == 0 or self.stopped_early
          or preemption.requested()):
        self.save(meter)
        preemption.stop_after_save("the checkpoint of step %d" % self.step)

  def train_and_report(self, **record: Any) -> None:
    """Resumes, trains, and once the run is finished evaluates it: the test
    accuracy and the comparison, logged and in the run record.

    Args:
      **record: fields that head the record's others (seed, api).
    """
    self.restore()
    meter = self.loop()
    config, data, metrics = self.config, self.data, self.metrics
    train_seconds = self.train_seconds + meter.elapsed()
    finished = self.step >= config.max_steps or self.stopped_early
    metrics.set(**record, step=self.step, finished=finished,
                stopped_early=self.stopped_early,
                epochs_completed=data.train.epochs_completed,
                train_seconds=train_seconds,
                train_examples_per_sec=meter.rate() if meter.steps else None)
    if not finished:
      logging.info("Paused at step %d of %d; run again with the same "
                   "--save_path to resume", self.step, config.max_steps)
      return
    valid_accuracy = self.validate()
    test_accuracy, test_loss = self.evaluate(data.test)
    check_finite_loss(test_loss, "step %d" % self.step, what="test loss")
    logging.info("step %d: test accuracy %.4f loss %.4f (all %d test images); "
                 "trained %.0f s", self.step, test_accuracy, test_loss,
                 data.test.num_examples, train_seconds)
    metrics.scalars(self.step, test_accuracy=test_accuracy,
                    test_loss=test_loss)
    rows = comparison(config, test_accuracy)
    metrics.set(validation_accuracy=valid_accuracy,
                test_accuracy=test_accuracy, test_loss=test_loss,
                comparison=rows)
    _log_comparison(rows)


def train(config: configs.MnistRnnConfig, data: reader.DataSets,
          options: RunOptions = RunOptions()) -> Dict[str, Any]:
  """Trains ``config`` on ``data``; resumes from ``options.save_path``.

  Args:
    config: the hyperparameters.
    data: train/validation/test splits (:func:`reader.read_data_sets`).
    options: seed, threads, run directory, pause point.

  Returns:
    The run record (also ``metrics.json`` in the run directory): config,
    ``step``, ``finished``, and once finished ``validation_accuracy``,
    ``test_accuracy`` and the ``comparison`` rows (empty for a config with
    no published reference), ``api`` (``"tf1"``) and ``seed`` (the one
    used, drawn if none was given).

  Raises:
    UserError: a save_path of another config, ``--seed`` other than the
      resumed run's, a non-finite loss.
  """
  config_dict = log_start(config, options)
  common_convert.refuse_other_api(options.save_path, "tf1",
                                  "mnist_rnn.convert_checkpoint")
  state = (ckpt_lib.saved_state(options.save_path, STATE_TYPES)
           if options.save_path else None)
  seed = session_lib.resolve_seed(options.seed, state)
  run = _build(config, is_training=True, options=options, seed=seed)
  with session_lib.closed_on_error(run.session):
    checkpointer = open_run_dir(options.save_path, run.saver, config_dict)
    metrics = MetricsLog(options.save_path, config_dict)
  try:
    with run.graph.as_default(), run.session:
      _train(config, data, run, options, seed, metrics, checkpointer)
  finally:
    metrics.close()
  return metrics.record


def log_start(config: configs.MnistRnnConfig, options: RunOptions
              ) -> Dict[str, Any]:
  """Logs the config and the options at a run's start; returns the config
  as the run directory and the record keep it."""
  config_dict = config_lib.to_dict(config)
  logging.info("MNIST RNN config: %s", json.dumps(config_dict, sort_keys=True))
  logging.info("options: %s", options)
  return config_dict


def open_run_dir(save_path: Optional[str], saver, config_dict: Dict[str, Any]
                 ) -> Optional[ckpt_lib.Checkpointer]:
  """The run directory (None without ``save_path``), saving with ``saver``
  (either API's); refuses another run's directory before anything is
  written."""
  if not save_path:
    return None
  return ckpt_lib.Checkpointer(
      save_path, saver, config_dict, mutable_fields=configs.RESUMABLE_CHANGES,
      state_fields=("data",), state_types=STATE_TYPES)


def _train(config: configs.MnistRnnConfig, data: reader.DataSets, run: _Run,
           options: RunOptions, seed: int, metrics: MetricsLog,
           checkpointer: Optional[ckpt_lib.Checkpointer]) -> None:
  """The body of :func:`train`, inside the graph and the session."""
  logging.info("%d trainable parameters",
               variables.num_parameters(model_lib.weight_variables()))
  _Trainer(config, data, run, options, seed, metrics,
           checkpointer).train_and_report(api=common_convert.TF1, seed=seed)


def evaluate(config: configs.MnistRnnConfig, data: reader.DataSets,
             checkpoint: str, options: RunOptions = RunOptions()
             ) -> Dict[str, Any]:
  """Restores ``checkpoint``; reports validation and test accuracy.

  Args:
    config: must match the checkpoint's shapes (see
      :func:`common.checkpoint.saved_run_config`).
    data: the splits.
    checkpoint: a run directory or a checkpoint prefix.
    options: threads and eval_batch_size (save_path is ignored).

  Returns:
    ``{"step", "validation_accuracy", "test_accuracy", "comparison"}``.

  Raises:
    UserError: no checkpoint, or one that does not fit ``config``.
  """
  ckpt_lib.find_checkpoint(checkpoint)  # Fail before building the graph.
  run = _build(config, is_training=False, options=options)
  with run.graph.as_default(), run.session as session:
    path = ckpt_lib.restore_weights(session, checkpoint,
                                    tf1.global_variables())
    step = int(session.run(run.model.global_step))
    logging.info("Restored %s (step %d)", path, step)
    valid_accuracy, _ = evaluate_set(session, run.model, data.validation,
                                     options.eval_batch_size)
    test_accuracy, _ = evaluate_set(session, run.model, data.test,
                                    options.eval_batch_size)
  return report_evaluation(config, data, step, valid_accuracy, test_accuracy)
