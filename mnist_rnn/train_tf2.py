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
                                               (common.checkpoint.
                                               ManagerSaver) under the same
                                               Checkpointer (config check,
                                               lock, train_state.json)
    tf1.summary.FileWriter                   tf.summary.create_file_writer
                                               (common.metrics.
                                               SummaryMetricsLog)
    ConfigProto thread counts                tf.config.threading
                                               (common.session.
                                               configure_eager)
    graph op seeds (tf1.set_random_seed)     the seed of the initializers

What is shared, not copied: the loop, progress lines, early stop,
validation, checkpoint state, run record and comparison are
:class:`mnist_rnn.train._Trainer`'s; the :class:`_Trainer` here overrides
only the methods that run the model (restore, train, measure, evaluate),
with the TF2 calls.

Resume is exact, dropout included, as in TF1: the data position and the seed
are saved with each checkpoint, and the dropout masks are a function of
(seed, step) (:func:`mnist_rnn.model_tf2.draw_masks`, the TF1 graph's
draw). ``--eval_only`` (:func:`evaluate`) reads either format,
converting a TF1 checkpoint first (:func:`mnist_rnn.convert_checkpoint.
in_format`).
"""

import dataclasses
from typing import Any, Dict, Optional, Tuple

from absl import logging
import keras

from common import checkpoint as ckpt_lib
from common import convert as common_convert
from common import session as session_lib
from common.errors import UserError
from common.metrics import MetricsLog
from common.metrics import SummaryMetricsLog
from common.tf_compat import tf
from mnist_rnn import configs
from mnist_rnn import convert_checkpoint as convert_lib
from mnist_rnn import model_tf2
from mnist_rnn import reader
from mnist_rnn import train as train_tf1
from mnist_rnn.train import RunOptions

__all__ = ["RunOptions", "train", "evaluate", "evaluate_set"]

@dataclasses.dataclass
class _Run:
  """A built model, its optimizer, compiled steps and checkpoint root."""
  model: model_tf2.MnistRnnModel
  optimizer: keras.optimizers.Optimizer
  steps: model_tf2.Steps
  checkpoint: tf.train.Checkpoint


def _build(config: configs.MnistRnnConfig, options: RunOptions,
           seed: Optional[int]) -> _Run:
  session_lib.configure_eager(options.deterministic, options.intra_op_threads,
                              options.inter_op_threads)
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
  return train_tf1.evaluate_in_chunks(steps.evaluate, dataset, batch_size)


def _saved_state(save_path: Optional[str]) -> Optional[Dict[str, Any]]:
  """The run directory's state, after checking it is a TF2 run.

  Raises:
    UserError: the directory holds a TF1 run (a CheckpointManager must not
      adopt, and later delete, the Saver's checkpoints).
  """
  if not save_path:
    return None
  common_convert.refuse_other_api(save_path, "tf2",
                                  "mnist_rnn.convert_checkpoint")
  return ckpt_lib.saved_state(save_path, train_tf1.STATE_TYPES)


class _Trainer(train_tf1._Trainer):  # pylint: disable=protected-access
  """:class:`mnist_rnn.train._Trainer` with the TF2 model: its steps are
  the ``tf.function`` s of :class:`mnist_rnn.model_tf2.Steps`."""

  def _restore_checkpoint(self) -> Optional[Dict[str, Any]]:
    """Restores the last checkpoint and returns its state, or None.

    (The weights of a fresh run exist already: :func:`_build` created them
    from the seed, TF1's ``global_variables_initializer``.)
    """
    if self.checkpointer is None:
      return None
    return self.checkpointer.restore(None)

  def _global_step(self) -> int:
    return int(self.run.optimizer.iterations.numpy())

  def _save_checkpoint(self, state: Dict[str, Any]) -> str:
    return self.checkpointer.save(None, self.step, state)

  def _train_on(self, images, labels):
    """One Adam step with dropout (``keep_prob``); returns its loss."""
    return self.run.steps.train(images, labels)

  def _measure(self, images, labels) -> Tuple[float, float, float]:
    """``(accuracy, loss, learning rate)`` of a minibatch run with
    ``progress_keep_prob`` (fresh masks, as TF1 draws)."""
    accuracy, loss = (float(t) for t in self.run.steps.measure(images,
                                                               labels))
    return accuracy, loss, self.run.steps.learning_rate()

  def evaluate(self, dataset: reader.DataSet) -> Tuple[float, float]:
    """:func:`evaluate_set` of the current weights."""
    return evaluate_set(self.run.steps, dataset, self.options.eval_batch_size)


def _check_lstm(config: configs.MnistRnnConfig) -> None:
  """UserError unless ``config`` is an LSTM model (the TF2 twin has no GRU)."""
  if config.cell != "lstm":
    raise UserError("--api=tf2 has the LSTM models only (cell=lstm); run "
                    "cell=%s with --api=tf1" % config.cell)


def train(config: configs.MnistRnnConfig, data: reader.DataSets,
          options: RunOptions = RunOptions()) -> Dict[str, Any]:
  """Trains ``config`` on ``data``; resumes from ``options.save_path``.

  Args:
    config: the hyperparameters (``cell="lstm"``).
    data: train/validation/test splits (:func:`reader.read_data_sets`).
    options: seed, threads, run directory, pause point.

  Returns:
    The run record (also ``metrics.json`` in the run directory), as
    :func:`mnist_rnn.train.train` returns it, with ``api`` ``"tf2"``.

  Raises:
    UserError: a GRU config, a save_path of another config or of a TF1 run,
      ``--seed`` other than the resumed run's, a non-finite loss.
  """
  _check_lstm(config)
  config_dict = train_tf1.log_start(config, options)
  logging.info("API: tf2 (eager + tf.function, Keras %s)", keras.__version__)
  state = _saved_state(options.save_path)
  seed = session_lib.resolve_seed(options.seed, state)
  run = _build(config, options, seed)
  checkpointer = None
  if options.save_path:  # Keeps the last 3, as the TF1 Saver's max_to_keep.
    checkpointer = train_tf1.open_run_dir(
        options.save_path, ckpt_lib.ManagerSaver(
            run.checkpoint, options.save_path, max_to_keep=3), config_dict)
  metrics = SummaryMetricsLog(options.save_path, config_dict)
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
  _Trainer(config, data, run, options, seed, metrics,
           checkpointer).train_and_report(api=convert_lib.TF2, seed=seed)


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
  _check_lstm(config)
  # Before the conversion below runs TF: thread counts are fixed from then.
  session_lib.configure_eager(options.deterministic, options.intra_op_threads,
                              options.inter_op_threads)
  with convert_lib.in_format(checkpoint, convert_lib.TF2) as path:
    prefix, _, _, _ = convert_lib.check_fits(path, config)
    run = _build(config, options, options.seed)
    step = convert_lib.restore_tf2_weights(prefix, run.model)
    logging.info("Restored %s (step %d)", prefix, step)
  valid_accuracy, _ = evaluate_set(run.steps, data.validation,
                                   options.eval_batch_size)
  test_accuracy, _ = evaluate_set(run.steps, data.test,
                                  options.eval_batch_size)
  return train_tf1.report_evaluation(config, data, step, valid_accuracy,
                                     test_accuracy)
