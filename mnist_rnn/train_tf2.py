"""Row-by-row MNIST training and evaluation in TF2: eager plus tf.function.

The twin of :mod:`mnist_rnn.train` (hold the two side by side): the same
loop, progress lines, validation, early stop, checkpoints every
``checkpoint_every`` steps, resume, metrics and comparison; what differs is
the API underneath::

    mnist_rnn/train.py (TF1)                 here (TF2)
    graph + tf1.Session + feed_dict          eager; model_tf2.Steps, three
                                               tf.functions (train, measure,
                                               evaluate)
    global_variables_initializer()           build_model(config, seed)
    session.run([train_op, loss], feed)      steps.train(images, labels)
    tf1.train.Saver under                    tf.train.Checkpoint(model=,
      common.checkpoint.Checkpointer           optimizer=) + CheckpointManager
                                               under the same Checkpointer
                                               (config check, lock,
                                               train_state.json)
    tf1.summary.FileWriter                   tf.summary.create_file_writer
    graph op seeds (tf1.set_random_seed)     the seed of the initializers

Resume is exact, dropout included: the data position is saved with each
checkpoint (as in TF1), and the dropout masks are a function of (seed, step)
(:func:`mnist_rnn.model_tf2.draw_masks`), so the seed is saved too and a
resumed run uses it. ``--eval_only`` (:func:`evaluate`) reads either format,
converting a TF1 checkpoint first (:func:`mnist_rnn.convert_checkpoint.
in_format`).
"""

import dataclasses
import json
import os
import secrets
from typing import Any, Dict, Optional, Tuple

from absl import logging
import keras

from common import checkpoint as ckpt_lib
from common import config as config_lib
from common import session as session_lib
from common.errors import check_finite_loss
from common.errors import UserError
from common.metrics import MetricsLog
from common.metrics import TENSORBOARD_DIR
from common.progress import Throughput
from common.tf_compat import tf, tf1
from mnist_rnn import configs
from mnist_rnn import convert_checkpoint as convert_lib
from mnist_rnn import model_tf2
from mnist_rnn import reader
from mnist_rnn import train as train_tf1
from mnist_rnn.train import RunOptions

__all__ = ["RunOptions", "train", "evaluate", "evaluate_set"]

_STATE_TYPES = {"data": dict, "stopped_early": bool,
                "train_seconds": (int, float), "seed": int}


class _ManagerSaver:
  """What :class:`common.checkpoint.Checkpointer` asks of a ``tf1.train.Saver``
  (save, restore, recover_last_checkpoints), over a ``CheckpointManager``.

  The Checkpointer keeps doing what it does for the TF1 path (refuse another
  config, hold the run directory's lock, write ``train_state.json`` only
  after the checkpoint it names); the manager writes ``model.ckpt-<step>``
  object-based checkpoints, keeps the last 3 (the TF1 Saver's max_to_keep)
  and finds the older ones itself from the ``checkpoint`` file.
  """

  def __init__(self, checkpoint: tf.train.Checkpoint, directory: str):
    self._checkpoint = checkpoint
    self._manager = tf.train.CheckpointManager(
        checkpoint, directory, max_to_keep=3,
        checkpoint_name=ckpt_lib.CKPT_PREFIX)

  def save(self, session, save_path, global_step, write_meta_graph):
    del session, save_path, write_meta_graph  # The manager knows its path.
    return self._manager.save(checkpoint_number=global_step)

  def restore(self, session, path):
    del session
    try:
      self._checkpoint.restore(path).assert_existing_objects_matched()
    except AssertionError as e:  # The Checkpointer reports ValueErrors.
      raise ValueError(str(e).strip().splitlines()[0]) from e

  def recover_last_checkpoints(self, paths):
    del paths  # The manager read them from the `checkpoint` file.


class _SummaryMetricsLog(MetricsLog):
  """:class:`common.metrics.MetricsLog` (``metrics.json``, ``metrics.jsonl``)
  with its TensorBoard scalars written by ``tf.summary``.

  MetricsLog opens a ``tf1.summary.FileWriter`` (which leaves an events file
  holding only its version record); it is closed at once and a
  ``tf.summary`` writer takes its place in the same directory. Each value is
  written with ``tf.summary.write`` and the ``scalars`` plugin's metadata,
  the event ``tf.summary.scalar`` writes, which needs the ``tensorboard``
  package (not a dependency of this project) only for that metadata.
  """

  _SCALAR = tf1.SummaryMetadata(
      plugin_data=tf1.SummaryMetadata.PluginData(plugin_name="scalars"))

  def __init__(self, save_path: Optional[str], config: Dict[str, Any]):
    super().__init__(save_path, config)
    self._summary = None
    if self._writer is not None:
      self._writer.close()
      self._writer = None
      self._summary = tf.summary.create_file_writer(
          os.path.join(save_path, TENSORBOARD_DIR))

  def scalars(self, step: int, **values: float) -> None:
    super().scalars(step, **values)  # The metrics.jsonl line.
    if self._summary is not None:
      with self._summary.as_default(step=int(step)):
        for tag, value in values.items():
          tf.summary.write(tag, tf.constant(float(value), tf.float32),
                           metadata=self._SCALAR)
      self._summary.flush()

  def close(self) -> None:
    super().close()
    if self._summary is not None:
      self._summary.close()


@dataclasses.dataclass
class _Run:
  """A built model, its optimizer, compiled steps and checkpoint root."""
  model: model_tf2.MnistRnnModel
  optimizer: keras.optimizers.Optimizer
  steps: model_tf2.Steps
  checkpoint: tf.train.Checkpoint


def _set_threads(options: RunOptions) -> None:
  """``tf.config.threading``: TF1's ConfigProto thread counts, process-wide.

  Raises:
    UserError: TF has started and runs with other counts.
  """
  threading = tf.config.threading
  for count, get, set_ in (
      (options.intra_op_threads, threading.get_intra_op_parallelism_threads,
       threading.set_intra_op_parallelism_threads),
      (options.inter_op_threads, threading.get_inter_op_parallelism_threads,
       threading.set_inter_op_parallelism_threads)):
    if count and get() != count:
      try:
        set_(count)
      except RuntimeError as e:
        raise UserError("cannot set %d threads: TensorFlow has started (%s)"
                        % (count, e)) from e


def _build(config: configs.MnistRnnConfig, options: RunOptions,
           seed: Optional[int]) -> _Run:
  session_lib.enable_determinism(options.deterministic)
  _set_threads(options)
  model = model_tf2.build_model(config, seed=seed)
  optimizer = model_tf2.build_optimizer(config, model)
  steps = model_tf2.Steps(config, model, optimizer, seed or 0)
  return _Run(model=model, optimizer=optimizer, steps=steps,
              checkpoint=model_tf2.make_checkpoint(model, optimizer))


def evaluate_set(steps: model_tf2.Steps, dataset: reader.DataSet,
                 batch_size: int) -> Tuple[float, float]:
  """Accuracy and mean loss over all of ``dataset``, without dropout.

  Args:
    steps: the model's compiled functions.
    dataset: evaluated in file order, ``batch_size`` images at a time.
    batch_size: chunk size (does not change the result).

  Returns:
    (accuracy in [0, 1], mean cross-entropy).
  """
  correct, loss_sum = 0, 0.0
  for start in range(0, dataset.num_examples, batch_size):
    images = dataset.images[start:start + batch_size]
    labels = dataset.labels[start:start + batch_size]
    n, loss = steps.evaluate(images, labels)
    correct += int(n)
    loss_sum += float(loss) * len(images)
  return correct / dataset.num_examples, loss_sum / dataset.num_examples


def _log_comparison(rows) -> None:
  train_tf1._log_comparison(rows)  # pylint: disable=protected-access


def resolve_seed(flag_seed: Optional[int],
                 state: Optional[Dict[str, Any]]) -> int:
  """The run's seed: the one a resumed run was started with, else ``--seed``,
  else one drawn at random (logged, and saved with every checkpoint).

  Raises:
    UserError: ``--seed`` differs from the seed of the run being resumed.
  """
  saved = (state or {}).get("seed")
  if saved is not None:
    if flag_seed is not None and flag_seed != saved:
      raise UserError("this run was started with --seed=%d; resume it with "
                      "that seed (or none) or use a new --save_path" % saved)
    return saved
  if flag_seed is not None:
    return flag_seed
  seed = secrets.randbelow(2**31)
  logging.info("Seed %d drawn at random; pass --seed=%d to repeat this run",
               seed, seed)
  return seed


def _saved_state(save_path: Optional[str]) -> Optional[Dict[str, Any]]:
  """The run directory's state, after checking it is a TF2 run.

  Raises:
    UserError: the directory holds a TF1 run (a CheckpointManager must not
      adopt, and later delete, the Saver's checkpoints).
  """
  if not save_path:
    return None
  state = ckpt_lib.saved_state(save_path, _STATE_TYPES)
  if state is not None:
    prefix = os.path.join(save_path, state["checkpoint"])
    if convert_lib.checkpoint_format(prefix) != convert_lib.TF2:
      raise UserError(
          "%s holds a --api=tf1 run (%s is a %s checkpoint); resume it with "
          "--api=tf1, or convert it: python -m mnist_rnn.convert_checkpoint "
          "--from=tf1 --to=tf2 %s NEW_DIR" % (
              save_path, prefix, convert_lib.FORMAT_NAMES[convert_lib.TF1],
              save_path))
  return state


class _Trainer:
  """The training loop's state: one instance per call of :func:`train`."""

  def __init__(self, config, data: reader.DataSets, run: _Run,
               options: RunOptions, seed: int, metrics: MetricsLog,
               checkpointer: Optional[ckpt_lib.Checkpointer]):
    self.config = config
    self.data = data
    self.run = run
    self.options = options
    self.seed = seed
    self.metrics = metrics
    self.checkpointer = checkpointer
    self.step = 0
    self.stopped_early = False
    self.train_seconds = 0.0  # Over all processes of this run.
    self.last_saved_step = None
    self.last_validation = None  # (step, accuracy) of the latest evaluation.

  def restore(self) -> None:
    """Resumes from the run directory's last checkpoint, if there is one.

    (The weights of a fresh run exist already: :func:`_build` created them
    from the seed, TF1's ``global_variables_initializer``.)
    """
    if self.checkpointer is None:
      return
    state = self.checkpointer.restore(None)
    if state is None:
      return
    self.data.train.set_state(state["data"])
    self.step = int(self.run.optimizer.iterations.numpy())
    # An early stop holds unless the resumed config no longer asks for it.
    self.stopped_early = (bool(state.get("stopped_early", False)) and
                          self.config.stop_at_accuracy > 0)
    self.train_seconds = float(state.get("train_seconds", 0.0))
    self.last_saved_step = self.step
    logging.info("Resumed from %s at step %d (epochs_completed %d)%s",
                 state["checkpoint"], self.step,
                 self.data.train.epochs_completed,
                 "; it had stopped early" if self.stopped_early else "")

  def save(self, meter: Throughput) -> None:
    if self.checkpointer is None or self.last_saved_step == self.step:
      return
    state = {"step": self.step, "data": self.data.train.get_state(),
             "stopped_early": self.stopped_early, "seed": self.seed,
             "train_seconds": self.train_seconds + meter.elapsed()}
    path = self.checkpointer.save(None, self.step, state)
    self.last_saved_step = self.step
    logging.info("Saved %s", path)

  def train_step(self) -> Tuple[Any, Any]:
    """One Adam step; returns its minibatch."""
    images, labels = self.data.train.next_batch(self.config.batch_size)
    loss = self.run.steps.train(images, labels)
    self.step += 1
    check_finite_loss(loss, "step %d" % self.step,
                      hint=" (try a lower --learning_rate or --max_grad_norm)")
    return images, labels

  def log_progress(self, images, labels, meter: Throughput) -> None:
    """The seed's progress line; sets ``stopped_early`` as the seed would.

    The step's minibatch is re-run with ``progress_keep_prob`` (fresh masks,
    as TF1 draws); ``stop_at_accuracy`` is tested against that accuracy.
    """
    keep_prob = self.config.progress_keep_prob
    accuracy, loss = (float(t) for t in self.run.steps.measure(images,
                                                               labels))
    lr = self.run.steps.learning_rate()
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
    accuracy, loss = evaluate_set(self.run.steps, self.data.validation,
                                  self.options.eval_batch_size)
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
    while self.step < end and not self.stopped_early:
      images, labels = self.train_step()
      meter.update(steps=1, units=len(images))
      if config.is_progress_step(self.step):
        self.log_progress(images, labels, meter)
      if self.step % config.eval_every == 0:
        self.validate()
      if self.step % config.checkpoint_every == 0 or self.stopped_early:
        self.save(meter)
    self.save(meter)
    return meter


def train(config: configs.MnistRnnConfig, data: reader.DataSets,
          options: RunOptions = RunOptions()) -> Dict[str, Any]:
  """Trains ``config`` on ``data``; resumes from ``options.save_path``.

  Args:
    config: the hyperparameters (``cell="lstm"``).
    data: train/validation/test splits (:func:`reader.read_data_sets`).
    options: seed, threads, run directory, pause point.

  Returns:
    The run record (also ``metrics.json`` in the run directory), as
    :func:`mnist_rnn.train.train` returns it, plus ``api`` (``"tf2"``) and
    ``seed`` (the one used, drawn if none was given).

  Raises:
    UserError: a GRU config, a save_path of another config or of a TF1 run,
      ``--seed`` other than the resumed run's, a non-finite loss.
  """
  if config.cell != "lstm":
    raise UserError("--api=tf2 has the LSTM models only (cell=lstm); run "
                    "cell=%s with --api=tf1" % config.cell)
  config_dict = config_lib.to_dict(config)
  logging.info("MNIST RNN config: %s", json.dumps(config_dict, sort_keys=True))
  logging.info("options: %s", options)
  logging.info("API: tf2 (eager + tf.function, Keras %s)", keras.__version__)
  state = _saved_state(options.save_path)
  seed = resolve_seed(options.seed, state)
  run = _build(config, options, seed)
  checkpointer = None
  if options.save_path:  # Refuses another run's directory before writing.
    checkpointer = ckpt_lib.Checkpointer(
        options.save_path, _ManagerSaver(run.checkpoint, options.save_path),
        config_dict, mutable_fields=configs.RESUMABLE_CHANGES,
        state_fields=("data",), state_types=_STATE_TYPES)
  metrics = _SummaryMetricsLog(options.save_path, config_dict)
  try:
    _train(config, data, run, options, seed, metrics, checkpointer)
  finally:
    metrics.close()
  return metrics.record


def _train(config: configs.MnistRnnConfig, data: reader.DataSets, run: _Run,
           options: RunOptions, seed: int, metrics: MetricsLog,
           checkpointer: Optional[ckpt_lib.Checkpointer]) -> None:
  """The body of :func:`train`."""
  logging.info("%d trainable parameters", run.model.count_params())
  trainer = _Trainer(config, data, run, options, seed, metrics, checkpointer)
  trainer.restore()
  meter = trainer.loop()
  train_seconds = trainer.train_seconds + meter.elapsed()
  finished = trainer.step >= config.max_steps or trainer.stopped_early
  metrics.set(api=convert_lib.TF2, seed=seed, step=trainer.step,
              finished=finished, stopped_early=trainer.stopped_early,
              epochs_completed=data.train.epochs_completed,
              train_seconds=train_seconds,
              train_examples_per_sec=meter.rate() if meter.steps else None)
  if not finished:
    logging.info("Paused at step %d of %d; run again with the same "
                 "--save_path to resume", trainer.step, config.max_steps)
    return
  valid_accuracy = trainer.validate()
  test_accuracy, test_loss = evaluate_set(run.steps, data.test,
                                          options.eval_batch_size)
  logging.info("step %d: test accuracy %.4f loss %.4f (all %d test images); "
               "trained %.0f s", trainer.step, test_accuracy, test_loss,
               data.test.num_examples, train_seconds)
  metrics.scalars(trainer.step, test_accuracy=test_accuracy,
                  test_loss=test_loss)
  rows = train_tf1.comparison(config, test_accuracy)
  metrics.set(validation_accuracy=valid_accuracy,
              test_accuracy=test_accuracy, test_loss=test_loss,
              comparison=rows)
  _log_comparison(rows)


def evaluate(config: configs.MnistRnnConfig, data: reader.DataSets,
             checkpoint: str, options: RunOptions = RunOptions()
             ) -> Dict[str, Any]:
  """Restores ``checkpoint`` (either format); reports validation and test
  accuracy, as :func:`mnist_rnn.train.evaluate` does.

  Args:
    config: must match the checkpoint's shapes.
    data: the splits.
    checkpoint: a run directory or a checkpoint prefix, TF1 or TF2 (a TF1
      one is converted in a temporary directory first; the log says so).
    options: threads and eval_batch_size (save_path is ignored).

  Returns:
    ``{"step", "validation_accuracy", "test_accuracy", "comparison"}``.

  Raises:
    UserError: no checkpoint, or one that does not fit ``config``.
  """
  if config.cell != "lstm":
    raise UserError("--api=tf2 has the LSTM models only (cell=lstm); run "
                    "cell=%s with --api=tf1" % config.cell)
  with convert_lib.in_format(checkpoint, convert_lib.TF2) as path:
    prefix, _, _, _ = convert_lib.check_fits(path, config)
    run = _build(config, options, options.seed)
    step = convert_lib.restore_tf2_weights(prefix, run.model)
    logging.info("Restored %s (step %d)", prefix, step)
  valid_accuracy, _ = evaluate_set(run.steps, data.validation,
                                   options.eval_batch_size)
  test_accuracy, _ = evaluate_set(run.steps, data.test,
                                  options.eval_batch_size)
  logging.info("step %d: validation accuracy %.4f, test accuracy %.4f (all "
               "%d test images)", step, valid_accuracy, test_accuracy,
               data.test.num_examples)
  rows = train_tf1.comparison(config, test_accuracy)
  _log_comparison(rows)
  return {"step": step, "validation_accuracy": valid_accuracy,
          "test_accuracy": test_accuracy, "comparison": rows}
