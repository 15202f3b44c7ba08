"""PTB training and evaluation in TF2: eager, a ``tf.function`` step, Keras 3.

The twin of :mod:`ptb.train` (hold the two side by side): the same schedule,
loss, state carrying, progress lines, metrics record, run directory, resume
(at epoch ends and mid-epoch), ``--eval_only`` and published comparison;
only the API underneath differs::

    ptb/train.py (TF1)                       here (TF2)
    tf1.Session + session.run(fetches,       a tf.function step called with
      feed_dict={inputs, state})               (x, y, state), returning
                                               (cost, final state)
    tf.gradients + clip_by_global_norm +     tf.GradientTape + the same
      GradientDescentOptimizer                 clip_by_global_norm + Keras SGD
    model.assign_lr(session, lr)             optimizer.learning_rate = lr
    tf1.train.get_global_step()              optimizer.iterations
    tf1.train.Saver (+ Checkpointer)         tf.train.Checkpoint(model=,
                                               optimizer=) + CheckpointManager
                                               (+ the same Checkpointer)
    tf1.summary.FileWriter                   tf.summary.create_file_writer

What is shared, not copied: the reader, the configs (and their memory
check), ``RunOptions``, the data checks, the epoch and test records, the
published comparison (from :mod:`ptb.train`), the saved state, the resume
point and the run's :class:`~common.epoch_book.EpochBook` (from
:mod:`ptb.run_state`), the progress steps and lines (:mod:`ptb.progress`),
the seed and thread settings (:mod:`common.session`), the run directory
machinery (:class:`common.checkpoint.Checkpointer`, which takes a
:class:`common.checkpoint.ManagerSaver` where the TF1 path passes a
``tf1.train.Saver``) and the metrics (:class:`common.metrics.
SummaryMetricsLog`, :class:`~common.metrics.MetricsLog` through
``tf.summary``).

A TF2 run directory holds TF2 checkpoints (``model.ckpt-<step>``, object
based); a TF1 one is refused for training (convert it with
``python -m ptb.convert_checkpoint``). ``--eval_only`` reads either format.
"""

import functools
from typing import Any, Callable, Dict, Optional

from absl import logging

from common import checkpoint as ckpt_lib
from common import config as config_lib
from common import convert as common_convert
from common import preemption
from common import session as session_lib
from common.errors import UserError
from common.metrics import SummaryMetricsLog
from common.tf_compat import tf
from ptb import configs
from ptb import convert_checkpoint as convert_lib
from ptb import model_tf2
from ptb import run_state
from ptb import train as train_lib
from ptb.run_state import Position
from ptb.train import EpochResult, RunOptions

StepFn = Callable[[Any, Any, model_tf2.State], Any]


def as_state(state) -> model_tf2.State:
  """Any L pairs ``(c, h)`` (numpy, a TF1 ``LSTMStateTuple``...) as the
  tuple of float32 :class:`~ptb.model_tf2.LayerState` the steps take."""
  return tuple(model_tf2.LayerState(tf.convert_to_tensor(c, tf.float32),
                                    tf.convert_to_tensor(h, tf.float32))
               for c, h in state)


class Steps:
  """The model's compiled steps (one ``tf.function`` each).

  ``train(x, y, state) -> (cost, final_state, global_norm)``: the TF1
  ``train_op`` (masks keyed by the step being taken, i.e. ``iterations``
  before this update; the gradient norm before clipping is returned so the
  tests can see clipping act). ``evaluate(x, y, state) -> (cost,
  final_state)``: the Valid/Test graphs.
  """

  def __init__(self, model: model_tf2.PTBModel, optimizer=None):
    self.model = model
    self.optimizer = optimizer
    self.train = tf.function(self._train)
    self.evaluate = tf.function(self._evaluate)

  def _train(self, x, y, state):
    with tf.GradientTape() as tape:
      logits, final = self.model(x, state, training=True,
                                 step=self.optimizer.iterations)
      cost = model_tf2.sequence_cost(logits, y)
    variables = self.model.trainable_variables
    grads, norm = tf.clip_by_global_norm(
        tape.gradient(cost, variables), self.model.config.max_grad_norm)
    self.optimizer.apply_gradients(zip(grads, variables))
    return cost, final, norm

  def _evaluate(self, x, y, state):
    logits, final = self.model(x, state)
    return model_tf2.sequence_cost(logits, y), final


def run_epoch(step_fn: StepFn, model: model_tf2.PTBModel,
              config: configs.PTBConfig, data, verbose: bool = False,
              metrics: Optional[SummaryMetricsLog] = None,
              optimizer=None, name: str = "data",
              start: Optional[Position] = None,
              on_chunk: Optional[Callable[[Position], None]] = None,
              epochs_after: int = 0) -> EpochResult:
  """One pass over ``data`` (:func:`ptb.train.run_epoch`, in TF2).

  Args:
    step_fn: ``Steps.train`` or ``Steps.evaluate`` (its first two results
      are the chunk's cost and final state).
    model: gives the zero state.
    config: its ``batch_size`` and ``num_steps`` batch the data.
    data: word ids.
    verbose: log ten progress lines (and the run's estimate).
    metrics: where the progress scalars go (training).
    optimizer: for the scalars' step and learning rate (training).
    name: the data set's name, for messages.
    start: continue a pass from this position (a mid-epoch checkpoint).
    on_chunk: called with the position after every chunk.
    epochs_after: whole passes after this one, for the run's ETA.

  Returns:
    Perplexity, words/s and seconds (of the part run here when resumed).

  Raises:
    UserError: a non-finite cost.
  """
  def step(x, y, state):
    out = step_fn(tf.constant(x), tf.constant(y), state)
    return out[0], out[1]

  def log_scalars(cost: float, mean_loss: float) -> None:
    if metrics is not None:
      metrics.scalars(int(optimizer.iterations), **{
          "Training Loss": cost,
          "Learning Rate": float(optimizer.learning_rate.numpy()),
          "epoch_mean_loss": mean_loss})

  state = as_state(start.state if start is not None and start.state is not None
                   else model.zero_state(config.batch_size))
  return train_lib.chunk_pass(step, data, config.batch_size, config.num_steps,
                              state, name=name, start=start, verbose=verbose,
                              on_progress=log_scalars, on_chunk=on_chunk,
                              epochs_after=epochs_after)


def run_stream(step_fn: StepFn, model: model_tf2.PTBModel, data,
               chunk: int = train_lib.FAST_EVAL_CHUNK,
               name: str = "data") -> EpochResult:
  """The Test pass, ``chunk`` words per call (:func:`ptb.train.run_stream`).

  One stream (batch 1), the state carried: the same N - 1 predictions as
  the tutorial's batch-1, one-word Test graph. The time axis of the Keras
  model is open, so no second model is needed (the last, shorter chunk
  traces the step once more).
  """
  state = model.zero_state(1)

  def step(x, y):
    nonlocal state
    cost, state = step_fn(tf.constant(x), tf.constant(y), state)
    return cost
  return train_lib.stream_pass(step, data, chunk, name)


def test_pass(steps: Steps, config: configs.PTBConfig, data,
              eval_mode: str) -> EpochResult:
  """The Test perplexity: ``fast`` (:func:`run_stream`) or ``tutorial``
  (:func:`run_epoch` with batch 1, one word per call)."""
  if eval_mode == "tutorial":
    return run_epoch(steps.evaluate, steps.model, configs.eval_config(config),
                     data, name="test")
  return run_stream(steps.evaluate, steps.model, data, name="test")


def restore_tf2(checkpoint: tf.train.Checkpoint, path: str) -> None:
  """``checkpoint.read(path)``, every object of ours matched.

  ``read``, not ``restore``: the checkpoint's ``save_counter`` is not ours
  (a checkpoint written with ``tf.train.Checkpoint.write`` has none).

  Raises:
    UserError: not a TF2 checkpoint, or one that lacks some of our objects.
  """
  fmt = convert_lib.checkpoint_format(path)
  if fmt != convert_lib.TF2:
    raise UserError("%s is a %s checkpoint; --api=tf2 trains from %s ones "
                    "(use --api=tf1, or python -m ptb.convert_checkpoint "
                    "--from=tf1 --to=tf2)" % (
                        path, convert_lib.FORMAT_NAMES[fmt],
                        convert_lib.FORMAT_NAMES[convert_lib.TF2]))
  try:
    checkpoint.read(path).assert_existing_objects_matched()
  except (AssertionError, ValueError, tf.errors.OpError) as e:
    raise UserError("cannot restore checkpoint %s: %s" % (
        path, common_convert.error_line(e))) from e


class _ObjectSaver(ckpt_lib.ManagerSaver):
  """The TF1 path's ``tf1.train.Saver(max_to_keep=2)``, for the TF2 model:
  a :class:`common.checkpoint.ManagerSaver` keeping the last two
  checkpoints, which restores with :func:`restore_tf2`."""

  def __init__(self, checkpoint: tf.train.Checkpoint, save_path: str):
    super().__init__(checkpoint, save_path, max_to_keep=2)

  def restore(self, session, path: str) -> None:
    del session
    restore_tf2(self.checkpoint, path)


def configure(options: RunOptions) -> None:
  """Determinism and thread counts (before TF's eager context starts):
  :func:`common.session.configure_eager` with ``options``'s.

  Raises:
    UserError: thread counts asked for once TensorFlow has started (only
      in a process that ran TF code before; a command-line run has not).
  """
  session_lib.configure_eager(options.deterministic, options.intra_op_threads,
                              options.inter_op_threads)


def _adopt_checkpoint(model, optimizer, save_path: str) -> None:
  """A TF2 directory with checkpoints but no ``train_state.json`` (e.g. one
  written by ``ptb.convert_checkpoint``): its weights and global step, and
  training from epoch 1 (what the TF1 path does with a tutorial's)."""
  latest = ckpt_lib.latest_checkpoint(save_path)
  if latest is None:
    return
  restore_tf2(model_tf2.make_checkpoint(model, optimizer), latest)
  logging.info("%s holds a checkpoint without train_state.json: restored "
               "its weights and global step; training starts at epoch 1",
               latest)


def train(model_name: str, config: configs.PTBConfig, data_path: str,
          options: RunOptions = RunOptions()) -> Dict[str, Any]:
  """Trains ``config`` on PTB with the TF2 twin; resumes if possible.

  Same arguments, record and errors as :func:`ptb.train.train`
  (``options.rnn_mode`` does not apply: Keras has one LSTM).
  """
  configure(options)
  data = train_lib.load_data(config, data_path)
  config_dict = dict(config_lib.to_dict(config), model=model_name)
  logging.info("PTB config %s (--api=tf2): %s", model_name, config_dict)
  configs.check_fits_in_memory(config)
  common_convert.refuse_other_api(options.save_path, "tf2",
                                  "ptb.convert_checkpoint")
  saved = run_state.saved_run_state(options.save_path, data)
  seed = session_lib.resolve_seed(options.seed, saved)
  session_lib.seed_everything(seed)
  model = model_tf2.build_model(config, seed=seed, dropout_seed=seed)
  optimizer = model_tf2.build_optimizer(model)
  checkpointer = None
  if options.save_path:  # Refuses another run's directory before writing.
    checkpointer = run_state.open_run_dir(
        options.save_path,
        _ObjectSaver(model_tf2.make_checkpoint(model, optimizer),
                     options.save_path), config_dict)
  metrics = SummaryMetricsLog(options.save_path, config_dict)
  with session_lib.closed_on_error(metrics):
    start_epoch, position = run_state.restore_run(
        checkpointer, None, config, metrics, len(data.train), functools.partial(
            _adopt_checkpoint, model, optimizer, options.save_path))
    metrics.start_attempt(seed=seed, start_epoch=start_epoch,
                          start_step=position.step if position else 0,
                          api="tf2", eval_mode=options.eval_mode)
    book = run_state.new_book(
        checkpointer, None, metrics, lambda: int(optimizer.iterations), seed,
        options.checkpoint_every_secs, data)
    steps = Steps(model, optimizer)
    with preemption.listening(checkpointer is not None):
      for i in range(start_epoch, config.max_max_epoch):
        optimizer.learning_rate = config.lr_for_epoch(i)
        lr = float(optimizer.learning_rate.numpy())
        logging.info("Epoch: %d Learning rate: %.3f", i + 1, lr)
        train_result = run_epoch(
            steps.train, model, config, data.train, verbose=True,
            metrics=metrics, optimizer=optimizer, name="train", start=position,
            on_chunk=book.hook(i), epochs_after=config.max_max_epoch - i - 1)
        position = None
        logging.info("Epoch: %d Train Perplexity: %.3f", i + 1,
                     train_result.perplexity)
        valid_result = run_epoch(steps.evaluate, model, config, data.valid,
                                 name="valid")
        logging.info("Epoch: %d Valid Perplexity: %.3f", i + 1,
                     valid_result.perplexity)
        book.end_epoch(
            train_lib.epoch_record(i, lr, train_result, valid_result),
            {"Validation Loss": valid_result.mean_chunk_cost})
    test_result = test_pass(steps, config, data.test, options.eval_mode)
    logging.info("Test Perplexity: %.3f", test_result.perplexity)
  return train_lib.record_test(model_name, metrics, test_result)


def evaluate(model_name: str, config: configs.PTBConfig, data_path: str,
             checkpoint: str, options: RunOptions = RunOptions()
             ) -> Dict[str, float]:
  """Valid and test perplexity of the weights at ``checkpoint``.

  Reads either format (:func:`ptb.convert_checkpoint.read_weights`): a TF2
  run's, a TF1 run's, the original tutorial's (BASIC or BLOCK names) or a
  converted one, and logs which it read. Same arguments and result as
  :func:`ptb.train.evaluate`.

  Raises:
    UserError: no checkpoint, one of other shapes, another vocabulary.
  """
  configure(options)
  data = train_lib.load_data(config, data_path)
  run_state.check_vocab(run_state.saved_near(checkpoint), data, checkpoint)
  model = model_tf2.build_model(config, seed=options.seed)
  prefix, fmt, weights = convert_lib.read_weights(checkpoint)
  weights.check_fits(config, prefix)
  convert_lib.assign_to_model(weights, model)
  logging.info("Restored %s (a %s checkpoint)", prefix,
               convert_lib.FORMAT_NAMES[fmt])
  steps = Steps(model)
  valid = run_epoch(steps.evaluate, model, config, data.valid, name="valid")
  logging.info("Valid Perplexity: %.3f", valid.perplexity)
  test = test_pass(steps, config, data.test, options.eval_mode)
  logging.info("Test Perplexity: %.3f", test.perplexity)
  result = {"valid": valid.perplexity, "test": test.perplexity}
  train_lib.log_comparison(model_name,
                           train_lib.comparison(model_name, result))
  return result
