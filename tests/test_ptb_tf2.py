"""The TF2 twin of the PTB model computes the TF1 graph's numbers.

Following TF's "validate correctness" guide for a TF1 -> TF2 migration (rtol
1e-6, atol 1e-5): the same variables; with converted weights the same
per-chunk losses and carried states, and the same perplexity on the real
validation set; from the same initial weights the same losses at every SGD
step and the same weights after, with dropout off and on. Dropout needs no
random test tool: both APIs draw the masks from ``common.dropout`` keyed by
(seed, global step), so the same seed gives bit-identical masks. Then the
checkpoint converter (round trips, the tutorial's names, bad input through
its command line) and the ``--api=tf2`` run end to end.
"""

import concurrent.futures
import dataclasses
import glob
import json
import os
import re
from unittest import mock

from absl.testing import absltest
from absl.testing import parameterized
import numpy as np

from common import checkpoint as ckpt_lib
from common import session as session_lib
from common.errors import UserError
from common.tf_compat import rnn_cell, tf, tf1
from ptb import configs
from ptb import convert_checkpoint as cc
from ptb import model as model_lib
from ptb import model_tf2
from ptb import reader
from ptb import run_state
from ptb import train
from ptb import train_tf2
from tests import testutil
from tests.test_ptb_train import write_tiny_corpus

RTOL, ATOL = 1e-6, 1e-5

# Two layers, every size distinct, weights large enough for non-trivial
# gates.
TINY = dataclasses.replace(
    configs.CONFIGS.get("test"), vocab_size=31, hidden_size=6, num_layers=2,
    num_steps=4, batch_size=3, init_scale=0.5, max_grad_norm=0.25)


class _TF1:
  """The TF1 graphs of ``config`` (``build_models``) in an open session."""

  def __init__(self, config, seed=1, dropout_seed=0):
    self.graph, self.models = session_lib.build_graph(
        lambda: model_lib.build_models(config, configs.eval_config(config),
                                       dropout_seed=dropout_seed), seed)
    self.session = session_lib.make_session(self.graph)
    with self.graph.as_default():
      self.session.run(tf1.global_variables_initializer())
      self.weight_vars = model_lib.weight_variables()
      self.global_step = tf1.train.get_global_step()

  def arrays(self):
    with self.graph.as_default():
      return {v.op.name: self.session.run(v) for v in self.weight_vars}

  def weights(self):
    return cc.weights_from_tf1(self.arrays(), "the TF1 graph")

  def load(self, weights):
    arrays = weights.tf1_arrays()
    with self.graph.as_default():
      for v in self.weight_vars:
        v.load(arrays[v.op.name], self.session)

  def run(self, model, x, y, state, train_op=None):
    """One chunk: ``(cost, final state)``; trains if ``train_op``."""
    feed = {model.input_data: x, model.targets: y}
    feed.update(model_lib.state_feed(model.initial_state, state))
    fetches = [model.cost, model.final_state]
    if train_op is not None:
      fetches.append(train_op)
    out = self.session.run(fetches, feed)
    return out[0], out[1]

  def zero_state(self, model):
    return self.session.run(model.initial_state)


def _twin_of(tf1_run, config, dropout_seed=0):
  """A TF2 model holding the TF1 graph's current weights (converted)."""
  model = model_tf2.build_model(config, seed=5, dropout_seed=dropout_seed)
  cc.assign_to_model(tf1_run.weights(), model)
  return model


def _chunks(config, count, seed=0):
  """``count`` consecutive (x, y) chunks of random word ids."""
  words = config.batch_size * (count * config.num_steps + 1)
  ids = np.random.RandomState(seed).randint(0, config.vocab_size, words)
  return list(reader.ptb_iterator(ids, config.batch_size, config.num_steps))


def _assert_states_close(testcase, tf1_state, tf2_state):
  testcase.assertLen(tf2_state, len(tf1_state))
  for a, b in zip(tf1_state, tf2_state):
    np.testing.assert_allclose(b.c, a.c, rtol=RTOL, atol=ATOL)
    np.testing.assert_allclose(b.h, a.h, rtol=RTOL, atol=ATOL)


def _assert_weights_close(a: cc.Weights, b: cc.Weights, exact=False):
  arrays_a, arrays_b = a.tf1_arrays(), b.tf1_arrays()
  assert sorted(arrays_a) == sorted(arrays_b), (sorted(arrays_a),
                                                sorted(arrays_b))
  for name in arrays_a:
    if exact:
      np.testing.assert_array_equal(arrays_b[name], arrays_a[name], name)
      assert arrays_b[name].dtype == arrays_a[name].dtype, name
    else:
      np.testing.assert_allclose(arrays_b[name], arrays_a[name], rtol=RTOL,
                                 atol=ATOL, err_msg=name)


# The three parity runs below are also what
# docs/results/measurements/ptb_migration_parity.py prints the gaps of.


def per_chunk_parity(chunks: int = 5):
  """The TF1 Valid graph and its TF2 twin over ``chunks`` random chunks of
  ``TINY``, the state carried: ``(tf1_cost, tf2_cost, tf1_state,
  tf2_state)`` per chunk."""
  tf1_run = _TF1(TINY)
  model = _twin_of(tf1_run, TINY)
  steps = train_tf2.Steps(model)
  valid = tf1_run.models.valid
  tf1_state = tf1_run.zero_state(valid)
  tf2_state = model.zero_state(TINY.batch_size)
  out = []
  for x, y in _chunks(TINY, chunks):
    tf1_cost, tf1_state = tf1_run.run(valid, x, y, tf1_state)
    tf2_cost, tf2_state = steps.evaluate(tf.constant(x), tf.constant(y),
                                         tf2_state)
    out.append((tf1_cost, tf2_cost, tf1_state, tf2_state))
  return out


def real_valid_parity(data):
  """Valid perplexity of random weights (small, H=16) on the real valid set,
  TF1 and its twin: ``(config, tf1_run, model, steps, tf1_ppl, tf2_ppl)``."""
  cfg = dataclasses.replace(configs.CONFIGS.get("small"), hidden_size=16,
                            init_scale=0.5)
  tf1_run = _TF1(cfg, seed=3)
  with tf1_run.graph.as_default():
    tf1_ppl = train.run_epoch(tf1_run.session, tf1_run.models.valid,
                              data.valid, name="valid").perplexity
  model = _twin_of(tf1_run, cfg)
  steps = train_tf2.Steps(model)
  tf2_ppl = train_tf2.run_epoch(steps.evaluate, model, cfg, data.valid,
                                name="valid").perplexity
  return cfg, tf1_run, model, steps, tf1_ppl, tf2_ppl


@dataclasses.dataclass
class SgdParity:
  """What :func:`ten_sgd_steps_parity` ran and measured."""
  config: configs.PTBConfig
  tf1_run: "_TF1"
  model: object
  optimizer: object
  tf1_losses: list
  tf2_losses: list
  norms: list  # TF2's global gradient norms before clipping.
  tf1_state: tuple
  tf2_state: tuple


def ten_sgd_steps_parity(keep_prob: float) -> SgdParity:
  """Ten SGD steps (lr 1.0, clipping active) of ``TINY`` in TF1 and in its
  twin from the same weights and dropout seed."""
  cfg = dataclasses.replace(TINY, keep_prob=keep_prob)
  tf1_run = _TF1(cfg, seed=4, dropout_seed=11)
  model = _twin_of(tf1_run, cfg, dropout_seed=11)
  optimizer = model_tf2.build_optimizer(model)
  lr = 1.0
  tf1_run.models.train.assign_lr(tf1_run.session, lr)
  optimizer.learning_rate = lr
  steps = train_tf2.Steps(model, optimizer)
  m = tf1_run.models.train
  tf1_state = tf1_run.zero_state(m)
  tf2_state = model.zero_state(cfg.batch_size)
  tf1_losses, tf2_losses, norms = [], [], []
  for x, y in _chunks(cfg, 10, seed=1):
    with tf1_run.graph.as_default():
      cost, tf1_state = tf1_run.run(m, x, y, tf1_state, m.train_op)
    tf1_losses.append(cost)
    cost, tf2_state, norm = steps.train(tf.constant(x), tf.constant(y),
                                        tf2_state)
    tf2_losses.append(float(cost))
    norms.append(float(norm))
  return SgdParity(cfg, tf1_run, model, optimizer, tf1_losses, tf2_losses,
                   norms, tf1_state, tf2_state)


class LayoutTest(absltest.TestCase):
  """The gate map, and one LSTM step in all three implementations."""

  def test_gate_blocks_move_as_drawn(self):
    h, n_in = 2, 3
    # Column value = its gate's index in the TF1 order i, j, f, o.
    kernel = np.repeat(np.arange(4.0), h)[None, :].repeat(n_in + h, axis=0)
    bias = np.repeat(np.arange(4.0), h)
    k, r, b = cc.keras_lstm_from_tf1(kernel, bias)
    self.assertEqual((k.shape, r.shape), ((n_in, 4 * h), (h, 4 * h)))
    keras_order = [0, 2, 1, 3]  # Keras i, f, c, o = TF1 i, f, j, o.
    np.testing.assert_array_equal(b, np.repeat(keras_order, h))
    np.testing.assert_array_equal(k[0], np.repeat(keras_order, h))
    back_k, back_b = cc.tf1_lstm_from_keras(k, r, b)
    np.testing.assert_array_equal(back_k, kernel)
    np.testing.assert_array_equal(back_b, bias)

  def test_one_step_keras_equals_basic_cell_and_block_op(self):
    rng = np.random.RandomState(3)
    n_in, h, batch = 5, 4, 3
    kernel = rng.uniform(-1, 1, (n_in + h, 4 * h)).astype(np.float32)
    bias = rng.uniform(-1, 1, 4 * h).astype(np.float32)
    x = rng.uniform(-1, 1, (batch, n_in)).astype(np.float32)
    c0 = rng.uniform(-1, 1, (batch, h)).astype(np.float32)
    h0 = rng.uniform(-1, 1, (batch, h)).astype(np.float32)

    def sigmoid(z):
      return 1 / (1 + np.exp(-z))
    # BasicLSTMCell(forget_bias=0.0), written out.
    i, j, f, o = np.split(np.concatenate([x, h0], 1) @ kernel + bias, 4, 1)
    c_ref = c0 * sigmoid(f) + sigmoid(i) * np.tanh(j)
    h_ref = np.tanh(c_ref) * sigmoid(o)
    # The TF1 cell itself, in a graph.
    with tf.Graph().as_default(), tf1.Session() as session:
      cell = rnn_cell.BasicLSTMCell(h, forget_bias=0.0)
      _, basic = cell(tf.constant(x), rnn_cell.LSTMStateTuple(
          tf.constant(c0), tf.constant(h0)))
      cell_kernel, cell_bias = cell.weights
      session.run([cell_kernel.assign(kernel), cell_bias.assign(bias)])
      basic = session.run(basic)
    # The BLOCK mode's cell op (--rnn_mode=block runs BlockLSTM, the same
    # cell over a whole sequence), on the same TF1 layout.
    no_peephole = np.zeros(h, np.float32)
    block = tf.raw_ops.LSTMBlockCell(
        x=x, cs_prev=c0, h_prev=h0, w=kernel, wci=no_peephole,
        wcf=no_peephole, wco=no_peephole, b=bias, forget_bias=0.0,
        cell_clip=-1.0, use_peephole=False)
    # Keras 3, converted weights.
    layer = model_tf2.keras.layers.LSTM(h, return_state=True,
                                        unit_forget_bias=False)
    layer.build((None, 1, n_in))
    for var, value in zip((layer.cell.kernel, layer.cell.recurrent_kernel,
                           layer.cell.bias), cc.keras_lstm_from_tf1(kernel,
                                                                    bias)):
      var.assign(value)
    _, h_keras, c_keras = layer(x[:, None, :], initial_state=[h0, c0])
    for c_out, h_out in ((basic.c, basic.h), (block.cs, block.h),
                         (c_keras, h_keras)):
      np.testing.assert_allclose(c_out, c_ref, rtol=RTOL, atol=1e-6)
      np.testing.assert_allclose(h_out, h_ref, rtol=RTOL, atol=1e-6)


class VariablesTest(absltest.TestCase):

  def test_same_variables_count_shapes_and_values(self):
    tf1_run = _TF1(TINY)
    names = {v.op.name: v.shape.as_list() for v in tf1_run.weight_vars}
    h, v, layers = TINY.hidden_size, TINY.vocab_size, TINY.num_layers
    expected = {cc.EMBEDDING: [v, h], cc.SOFTMAX_W: [h, v],
                cc.SOFTMAX_B: [v]}
    for layer in range(layers):
      expected[cc.tf1_cell_name(layer, "kernel")] = [2 * h, 4 * h]
      expected[cc.tf1_cell_name(layer, "bias")] = [4 * h]
    self.assertEqual(names, expected)

    model = _twin_of(tf1_run, TINY)
    shapes = sorted(tuple(w.shape) for w in model.trainable_variables)
    keras = [(v, h), (h, v), (v,)] + [(h, 4 * h), (h, 4 * h), (4 * h,)
                                      ] * layers
    self.assertEqual(shapes, sorted(keras))
    self.assertLen(model.trainable_variables, 3 + 3 * layers)  # TF1: 3 + 2L.
    self.assertEqual(sum(int(np.prod(s)) for s in shapes),
                     sum(int(np.prod(s)) for s in names.values()))
    # Values: every Keras tensor is a block of a TF1 one, nothing else.
    arrays = tf1_run.arrays()
    np.testing.assert_array_equal(model.embedding.embeddings,
                                  arrays[cc.EMBEDDING])
    np.testing.assert_array_equal(model.softmax.kernel, arrays[cc.SOFTMAX_W])
    np.testing.assert_array_equal(model.softmax.bias, arrays[cc.SOFTMAX_B])
    for layer, lstm in enumerate(model.lstm_layers):
      kernel = arrays[cc.tf1_cell_name(layer, "kernel")]
      i, j, f, o = np.split(kernel, 4, axis=1)
      np.testing.assert_array_equal(
          np.concatenate([lstm.cell.kernel, lstm.cell.recurrent_kernel]),
          np.concatenate([i, f, j, o], axis=1))
    _assert_weights_close(tf1_run.weights(), cc.weights_of(model),
                          exact=True)

  def test_same_initial_distribution(self):
    cfg = dataclasses.replace(TINY, vocab_size=500, hidden_size=40,
                              init_scale=0.3)
    tf1_weights = _TF1(cfg, seed=1).weights()
    tf2_weights = cc.weights_of(model_tf2.build_model(cfg, seed=1))
    for weights in (tf1_weights, tf2_weights):
      uniform = [weights.embedding, weights.softmax_w, weights.softmax_b
                 ] + weights.kernels
      for a in uniform:  # U(-0.3, 0.3): bounds, mean, spread.
        self.assertLessEqual(np.abs(a).max(), 0.3)
        self.assertGreater(np.abs(a).max(), 0.29)
        self.assertLess(abs(a.mean()), 0.03)
        self.assertAlmostEqual(a.std(), 0.3 / np.sqrt(3), delta=0.02)
      for b in weights.biases:  # BasicLSTMCell's zeros_initializer.
        np.testing.assert_array_equal(b, np.zeros_like(b))
    again = cc.weights_of(model_tf2.build_model(cfg, seed=1))
    other = cc.weights_of(model_tf2.build_model(cfg, seed=2))
    _assert_weights_close(tf2_weights, again, exact=True)
    self.assertFalse(np.array_equal(tf2_weights.embedding, other.embedding))
    self.assertFalse(np.array_equal(tf2_weights.kernels[0],
                                    tf2_weights.kernels[1]))


class InferenceParityTest(absltest.TestCase):

  def test_per_chunk_losses_and_carried_states(self):
    costs = []
    for tf1_cost, tf2_cost, tf1_state, tf2_state in per_chunk_parity():
      np.testing.assert_allclose(tf2_cost, tf1_cost, rtol=RTOL, atol=ATOL)
      _assert_states_close(self, tf1_state, tf2_state)
      costs.append(tf1_cost)
    # Not trivially equal: the states moved and the costs differ by chunk.
    self.assertGreater(np.abs(tf1_state[-1].c).min(), 1e-4)
    self.assertGreater(np.ptp(costs), 0.1)

  def test_real_valid_perplexity_to_four_significant_digits(self):
    data = reader.load(testutil.data_dir("ptb"))
    cfg, tf1_run, model, steps, tf1_ppl, tf2_ppl = real_valid_parity(data)
    self.assertEqual("%.4g" % tf2_ppl, "%.4g" % tf1_ppl)
    self.assertAlmostEqual(tf2_ppl, tf1_ppl, delta=1e-5 * tf1_ppl)
    self.assertGreater(tf1_ppl, 100.0)  # Random weights: far from trained.
    # The Test pass: word by word (tutorial) and in one 399-word call (fast:
    # 1000-word chunks).
    words = data.test[:400]
    with tf1_run.graph.as_default():
      tf1_test = train.run_epoch(tf1_run.session, tf1_run.models.test, words,
                                 name="test").perplexity
    for mode in ("tutorial", "fast"):
      tf2_test = train_tf2.test_pass(steps, cfg, words, mode).perplexity
      self.assertAlmostEqual(tf2_test, tf1_test, delta=1e-5 * tf1_test,
                             msg=mode)
    # 150-word chunks: the state carried across calls, a shorter last one.
    chunked = train_tf2.run_stream(steps.evaluate, model, words, chunk=150)
    self.assertAlmostEqual(chunked.perplexity, tf1_test,
                           delta=1e-5 * tf1_test)


class TrainingParityTest(parameterized.TestCase):

  @parameterized.named_parameters(("dropout_off", 1.0), ("dropout_on", 0.5))
  def test_ten_sgd_steps_with_clipping(self, keep_prob):
    run = ten_sgd_steps_parity(keep_prob)
    np.testing.assert_allclose(run.tf2_losses, run.tf1_losses, rtol=RTOL,
                               atol=ATOL)
    # Clipping acted.
    self.assertGreater(min(run.norms), run.config.max_grad_norm)
    _assert_states_close(self, run.tf1_state, run.tf2_state)
    _assert_weights_close(run.tf1_run.weights(), cc.weights_of(run.model))
    self.assertEqual(run.tf1_run.session.run(run.tf1_run.global_step), 10)
    self.assertEqual(int(run.optimizer.iterations), 10)
    self.assertGreater(np.ptp(run.tf1_losses), 0.01)  # It trained.
    if keep_prob < 1:
      self._check_masks_matter(run.tf1_run, run.config, run.tf1_losses)

  def _check_masks_matter(self, tf1_run, cfg, tf1_losses):
    """Control: with another dropout seed the TF2 losses differ (the
    equality above comes from equal masks, not from losses blind to them).
    """
    del tf1_run
    fresh = _TF1(cfg, seed=4, dropout_seed=11)
    model = _twin_of(fresh, cfg, dropout_seed=12)
    optimizer = model_tf2.build_optimizer(model, learning_rate=1.0)
    steps = train_tf2.Steps(model, optimizer)
    state = model.zero_state(cfg.batch_size)
    losses = []
    for x, y in _chunks(cfg, 10, seed=1):
      cost, state, _ = steps.train(tf.constant(x), tf.constant(y), state)
      losses.append(float(cost))
    self.assertGreater(np.abs(np.subtract(losses, tf1_losses)).max(), 1e-2)


def _tf1_checkpoint(directory, config, global_step=5, lr=0.25):
  """Saves a TF1 graph of ``config`` as train.py does (all its variables);
  returns ``(prefix, {name: array})``."""
  tf1_run = _TF1(config, seed=2)
  with tf1_run.graph.as_default():
    tf1_run.session.run(tf1_run.global_step.assign(global_step))
    tf1_run.models.train.assign_lr(tf1_run.session, lr)
    saver = tf1.train.Saver()
    prefix = saver.save(tf1_run.session,
                        os.path.join(directory, ckpt_lib.CKPT_PREFIX),
                        global_step=global_step, write_meta_graph=False)
  return prefix, _all_tensors(prefix)


def _all_tensors(prefix):
  checkpoint = tf.train.load_checkpoint(prefix)
  return {name: checkpoint.get_tensor(name)
          for name in checkpoint.get_variable_to_shape_map()}


def _save_tf1_arrays(arrays, prefix):
  """Writes ``{name: array}`` with a name-based Saver at ``prefix``."""
  with tf.Graph().as_default():
    variables = {n: tf1.Variable(a, name=n) for n, a in arrays.items()}
    with tf1.Session() as session:
      session.run(tf1.global_variables_initializer())
      return tf1.train.Saver(variables).save(session, prefix)


class ConvertTest(absltest.TestCase):

  def setUp(self):
    super().setUp()
    self.dir = self.create_tempdir().full_path

  def _path(self, name):
    return os.path.join(self.dir, name)

  def test_round_trip_tf1_tf2_tf1_is_tensor_for_tensor(self):
    prefix, original = _tf1_checkpoint(self._path("run"), TINY)
    self.assertLen(original, 3 + 2 * TINY.num_layers + 2)  # + step, lr.
    tf2_prefix = cc.convert(self._path("run"), "tf1", "tf2", self._path("b"))
    self.assertEqual(cc.checkpoint_format(self._path("b")), "tf2")
    self.assertEqual(os.path.basename(tf2_prefix), "model.ckpt-5")
    back = cc.convert(self._path("b"), "tf2", "tf1", self._path("c"))
    self.assertEqual(cc.checkpoint_format(back), "tf1")
    final = _all_tensors(back)
    self.assertEqual(sorted(final), sorted(original))
    for name, value in original.items():
      np.testing.assert_array_equal(final[name], value, err_msg=name)
      self.assertEqual(final[name].dtype, value.dtype, name)
    # The TF2 checkpoint restores into the model and optimizer as train_tf2
    # builds them: global step and lr included.
    model = model_tf2.build_model(TINY, seed=9)
    optimizer = model_tf2.build_optimizer(model)
    train_tf2.restore_tf2(model_tf2.make_checkpoint(model, optimizer),
                          tf2_prefix)
    self.assertEqual(int(optimizer.iterations), 5)
    self.assertEqual(float(optimizer.learning_rate.numpy()), 0.25)
    _assert_weights_close(cc.weights_from_tf1(original, prefix),
                          cc.weights_of(model, optimizer), exact=True)
    # A TF2 run saving into the converted directory rotates its own
    # checkpoints (max_to_keep=2) and keeps the converted one.
    saver = train_tf2._ObjectSaver(  # pylint: disable=protected-access
        model_tf2.make_checkpoint(model, optimizer), self._path("b"))
    for step in (6, 7, 8):
      saver.save(None, None, global_step=step)
    self.assertEqual(sorted(glob.glob(os.path.join(self._path("b"),
                                                   "*.index"))),
                     [os.path.join(self._path("b"), "model.ckpt-%d.index" % s)
                      for s in (5, 7, 8)])

  def test_conversion_keeps_the_vocabulary_record(self):
    # The converted directory has no train_state.json (it is adopted, from
    # epoch 1); it lost the vocabulary check with it: another corpus's data
    # was evaluated and sampled without a word.
    _tf1_checkpoint(self._path("run"), TINY)
    vocab = {"size": TINY.vocab_size, "sha256_16": "0123456789abcdef"}
    ckpt_lib.atomic_write_json(
        self._path("run/train_state.json"),
        {"checkpoint": "model.ckpt-5", "epoch": 1, "vocab": vocab})
    cc.convert(self._path("run"), "tf1", "tf2", self._path("b"))
    cc.convert(self._path("b"), "tf2", "tf1", self._path("c"))
    data = reader.load(write_tiny_corpus(self.create_tempdir().full_path))
    for converted in ("b", "c"):
      with open(self._path(converted + "/vocab.json")) as f:
        self.assertEqual(json.load(f), vocab)
      self.assertFalse(os.path.exists(self._path(converted +
                                                 "/train_state.json")))
      self.assertEqual(run_state.saved_near(self._path(converted)),
                       {"vocab": vocab})
      with self.assertRaisesRegex(UserError, "trained on another vocabulary"):
        run_state.check_vocab(run_state.saved_near(self._path(converted)),
                              data, converted)
      # Adopted as a run directory for training: refused the same way.
      with self.assertRaisesRegex(UserError, "trained on another vocabulary"):
        run_state.saved_run_state(self._path(converted), data)
    # A hand-edited vocab.json is refused, not taken for "no vocabulary"
    # (which let another corpus through).
    for edited in (["x"], {"size": "3"}, {}):
      ckpt_lib.atomic_write_json(self._path("c/vocab.json"), edited)
      with self.assertRaisesRegex(UserError, "vocab.json is not a vocabulary "
                                  "record"):
        run_state.saved_near(self._path("c"))
    # A source without a vocabulary record (a tutorial's) gives none.
    _tf1_checkpoint(self._path("tutorial"), TINY)
    cc.convert(self._path("tutorial"), "tf1", "tf2", self._path("d"))
    self.assertFalse(os.path.exists(self._path("d/vocab.json")))

  def test_round_trip_tf2_tf1_tf2(self):
    model = model_tf2.build_model(TINY, seed=3)
    optimizer = model_tf2.build_optimizer(model, learning_rate=0.5)
    optimizer.iterations.assign(7)
    saver = train_tf2._ObjectSaver(  # pylint: disable=protected-access
        model_tf2.make_checkpoint(model, optimizer), self._path("run"))
    saver.save(None, None, global_step=7)
    cc.convert(self._path("run"), "tf2", "tf1", self._path("b"))
    cc.convert(self._path("b"), "tf1", "tf2", self._path("c"))
    for path in ("run", "c"):
      _, fmt, weights = cc.read_weights(self._path(path))
      self.assertEqual(fmt, "tf2")
      _assert_weights_close(cc.weights_of(model, optimizer), weights,
                            exact=True)

  def test_tutorial_checkpoints_basic_and_block_names(self):
    _, original = _tf1_checkpoint(self._path("port"), TINY)
    weights = cc.weights_from_tf1(original)
    for naming, cell in (("basic", cc.BASIC_CELL), ("block", cc.BLOCK_CELL)):
      arrays = {n: a for n, a in weights.tf1_arrays(cell).items()
                if n not in (cc.GLOBAL_STEP, cc.LEARNING_RATE)}
      arrays["Model/RNN/multi_rnn_cell/cell_0/%s/kernel/Momentum" % cell] = (
          arrays[cc.tf1_cell_name(0, "kernel", cell)])  # Other names: ignored.
      directory = self._path(naming)
      _save_tf1_arrays(arrays, os.path.join(directory, "model.ckpt"))
      _, fmt, read = cc.read_weights(directory)
      self.assertEqual(fmt, "tf1")
      self.assertIsNone(read.global_step)
      np.testing.assert_array_equal(read.kernels[1], weights.kernels[1])
      out = cc.convert(directory, "tf1", "tf2", self._path(naming + "_tf2"))
      _assert_weights_close(
          dataclasses.replace(weights, global_step=np.int64(0),
                              learning_rate=np.float32(0.0)),
          cc.read_weights(out)[2], exact=True)

  def test_bad_input_is_refused_in_process(self):
    prefix, original = _tf1_checkpoint(self._path("run"), TINY)
    with self.assertRaisesRegex(UserError, "both tf1"):
      cc.convert(prefix, "tf1", "tf1", self._path("x"))
    with self.assertRaisesRegex(UserError, "is a tf1 .* not --from=tf2"):
      cc.convert(prefix, "tf2", "tf1", self._path("x"))
    weights = cc.weights_from_tf1(original)
    with self.assertRaisesRegex(UserError, "does not fit the model .*"
                                "hidden_size=6, num_layers=2; the model 31, "
                                "7, 2"):
      weights.check_fits(dataclasses.replace(TINY, hidden_size=7), prefix)
    with open(self._path("corrupt.index"), "wb") as f:
      f.write(b"\x00garbage" * 10)
    with self.assertRaisesRegex(UserError, "corrupt is not a readable TF "
                                "checkpoint"):
      cc.convert(self._path("corrupt"), "tf1", "tf2", self._path("x"))
    with self.assertRaisesRegex(UserError, "no checkpoint at .*nowhere; "
                                "expected a checkpoint prefix"):
      cc.convert(self._path("nowhere"), "tf1", "tf2", self._path("x"))
    with self.assertRaisesRegex(UserError, "not a PTB checkpoint: "
                                "Model/embedding, Model/softmax_w"):
      cc.weights_from_tf1({"Model/other": np.zeros(3)}, "other")

    class _Holder:
      value = "tf1"
    with self.assertRaisesRegex(UserError, "expected IN and OUT"):
      cc.main(["convert_checkpoint", prefix], _Holder, _Holder)
    self.assertFalse(os.path.exists(self._path("x")))
    self.assertEqual([n for n in os.listdir(self.dir) if ".tmp-" in n], [])


class CommandLineTest(absltest.TestCase):
  """``python -m ptb.convert_checkpoint`` and ``ptb_word_lm.py --api=tf2``,
  two commands at a time (each is mostly TensorFlow's import)."""

  def setUp(self):
    super().setUp()
    self.dir = self.create_tempdir().full_path
    self.data = write_tiny_corpus(self.create_tempdir("data").full_path)

  def _path(self, *names):
    path = os.path.join(self.dir, *names)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    return path

  @staticmethod
  def _run_all(commands):
    """``[(script, args)]`` -> results (two at a time)."""
    with concurrent.futures.ThreadPoolExecutor(2) as pool:
      futures = [pool.submit(testutil.run_cli, script, *args)
                 for script, args in commands]
      return [f.result() for f in futures]

  def test_convert_cli_and_its_bad_input(self):
    prefix, original = _tf1_checkpoint(self._path("good"), TINY)
    other = dict(original)
    other[cc.tf1_cell_name(1, "kernel")] = np.zeros(
        [13, 4 * TINY.hidden_size], np.float32)
    shapes = _save_tf1_arrays(other, self._path("shapes", "model.ckpt"))
    partial = tf.Module()  # An object-based checkpoint: the embedding only.
    partial.embedding = model_tf2.keras.layers.Embedding(TINY.vocab_size, 6)
    partial.embedding.build((None, None))
    missing = tf.train.Checkpoint(model=partial).write(
        self._path("missing", "ckpt"))
    text = self._path("text.txt")
    with open(text, "w") as f:
      f.write("not a checkpoint\n")
    existing = self._path("exists", "")
    bad = {  # case: (--from, IN, OUT, needle)
        "other shapes": ("tf1", shapes, self._path("out1"),
                         "layer 1 kernel is [13, 24], expected [12, 24]"),
        "missing keys": ("tf2", missing, self._path("out2"),
                         "lacks model/softmax/_kernel, model/softmax/bias, "
                         "model/lstm_0/cell/kernel"),
        "not a checkpoint": ("tf1", text, self._path("out3"),
                             "%s is not a readable TF checkpoint" % text),
        "output exists": ("tf1", prefix, existing,
                          "exists; expected a path that does not exist yet"),
    }
    commands = [("ptb/convert_checkpoint.py", [
        "--from=tf1", "--to=tf2", self._path("good"), self._path("out_tf2")])]
    for src, path, out, _ in bad.values():
      commands.append(("ptb/convert_checkpoint.py", [
          "--from=" + src, "--to=" + ("tf1" if src == "tf2" else "tf2"),
          path, out]))
    results = self._run_all(commands)
    self.assertEqual(results[0].returncode, 0, results[0].stderr)
    self.assertIn("Read %s (tf1 (name-based" % prefix, results[0].stderr)
    self.assertIn("wrote %s (tf2 (object-based" % self._path(
        "out_tf2", "model.ckpt-5"), results[0].stderr)
    _, fmt, weights = cc.read_weights(self._path("out_tf2"))
    self.assertEqual(fmt, "tf2")
    _assert_weights_close(cc.weights_from_tf1(original), weights, exact=True)
    for (case, (_, _, out, needle)), result in zip(bad.items(), results[1:]):
      with self.subTest(case):
        testutil.assert_one_line_error(self, result, needle)
        if out != existing:
          self.assertFalse(os.path.exists(out))
    self.assertEqual(os.listdir(existing), [])
    # Nothing half-written: no temporary directories left beside the outputs.
    self.assertEqual([n for n in os.listdir(self.dir) if ".tmp-" in n], [])

  def test_api_tf2_train_and_eval_of_a_tf1_checkpoint(self):
    flags = ["--model=test", "--data_path=" + self.data, "--vocab_size=20",
             "--hidden_size=8", "--num_steps=5", "--batch_size=4", "--seed=1"]
    tf1_dir = self._path("tf1_run")
    tf1_cfg = dataclasses.replace(configs.CONFIGS.get("test"), vocab_size=20,
                                  hidden_size=8, num_steps=5, batch_size=4)
    tf1_record = train.train("test", tf1_cfg, self.data,
                             train.RunOptions(seed=1, save_path=tf1_dir))
    run_dir = self._path("tf2_run")
    trained, evaluated = self._run_all([
        ("ptb/ptb_word_lm.py", flags + ["--api=tf2", "--save_path=" +
                                        run_dir]),
        ("ptb/ptb_word_lm.py", ["--api=tf2", "--eval_only", "--data_path=" +
                                self.data, "--checkpoint=" + tf1_dir])])
    self.assertEqual(trained.returncode, 0, trained.stderr)
    for needle in (r"train_tf2.py:\d+\] Epoch: 1 Learning rate: 1\.000",
                   r"perplexity: [\d.]+ speed: \d+ wps ETA",
                   r"Epoch: 1 Train Perplexity: [\d.]+",
                   r"Epoch: 1 Valid Perplexity: [\d.]+",
                   r"Test Perplexity: [\d.]+"):
      self.assertRegex(trained.stderr, needle)
    self.assertEqual(evaluated.returncode, 0, evaluated.stderr)
    self.assertIn("Using the config saved with", evaluated.stderr)
    self.assertRegex(evaluated.stderr, r"Restored \S+model.ckpt-\d+ \(a tf1 "
                     r"\(name-based")
    valid = float(evaluated.stderr.split("Valid Perplexity: ")[1].split()[0])
    self.assertAlmostEqual(valid, tf1_record["epochs"][0]["valid_perplexity"],
                           places=3)
    # The TF2 run directory: its record, TensorBoard tags, eval, and a TF1
    # directory refused for TF2 training.
    with open(os.path.join(run_dir, "metrics.json")) as f:
      record = json.load(f)
    self.assertEqual(record["attempts"][0]["api"], "tf2")
    self.assertLen(record["epochs"], 1)
    events = glob.glob(os.path.join(run_dir, "tensorboard", "*tfevents*"))
    tags = {v.tag for f in events for e in tf1.train.summary_iterator(f)
            for v in e.summary.value}
    self.assertEqual(tags, {"Training Loss", "Learning Rate",
                            "epoch_mean_loss", "Validation Loss"})
    cfg = dataclasses.replace(tf1_cfg, hidden_size=8)
    result = train_tf2.evaluate("test", cfg, self.data, run_dir)
    self.assertAlmostEqual(result["valid"],
                           record["epochs"][0]["valid_perplexity"],
                           delta=1e-6 * result["valid"])
    # TF1's --eval_only of the TF2 run: converted on the fly (it was "does
    # not fit the model (... missing)"), the same numbers.
    with self.assertLogs(level="INFO") as logs:
      tf1_result = train.evaluate("test", cfg, self.data, run_dir)
    self.assertRegex("\n".join(logs.output), r"Converted to tf1 \(name-based, "
                     r"tf1.train.Saver\) for --api=tf1")
    for split in ("valid", "test"):
      self.assertAlmostEqual(tf1_result[split], result[split],
                             delta=1e-5 * result[split])
    # A misfit names the run's checkpoint, not the temporary TF1 copy.
    with self.assertRaisesRegex(UserError, r"^checkpoint %s\d+ does not fit "
                                "the model .*hidden_size=8" % re.escape(
                                    os.path.join(run_dir, "model.ckpt-"))):
      train.evaluate("test", dataclasses.replace(cfg, hidden_size=9),
                     self.data, run_dir)
    with self.assertRaisesRegex(UserError, "holds tf1 .* train it with "
                                "--api=tf1"):
      train_tf2.train("test", tf1_cfg, self.data,
                      train.RunOptions(seed=1, save_path=tf1_dir))
    with self.assertRaisesRegex(UserError, "holds tf2 .* train it with "
                                "--api=tf2, or convert its last checkpoint "
                                r"\(python -m ptb.convert_checkpoint "
                                "--from=tf2 --to=tf1"):
      train.train("test", cfg, self.data,
                  train.RunOptions(seed=1, save_path=run_dir))


class TrainTF2Test(absltest.TestCase):
  """train_tf2 in-process: checkpoint, resume (at an epoch end and
  mid-epoch, exact), eval."""

  def setUp(self):
    super().setUp()
    self.data = write_tiny_corpus(self.create_tempdir("data").full_path,
                                  repeats=(120, 8, 8))
    self.run_dir = os.path.join(self.create_tempdir("run").full_path, "r")
    self.cfg = dataclasses.replace(
        configs.CONFIGS.get("test"), vocab_size=20, hidden_size=8,
        num_layers=2, num_steps=5, batch_size=4, max_grad_norm=5,
        max_epoch=1, max_max_epoch=2, keep_prob=0.5)

  def _options(self, save_path=None):
    return train.RunOptions(seed=7, save_path=save_path)

  def test_stop_mid_epoch_resume_is_exact_then_eval(self):
    straight = train_tf2.train("test", self.cfg, self.data, self._options())
    calls = {"n": 0}

    class _Stop(Exception):
      pass

    def due(unused_timer):
      calls["n"] += 1
      if calls["n"] == 60:  # Epochs are 38 chunks: inside epoch 2.
        raise _Stop()
      return calls["n"] == 50
    with mock.patch.object(ckpt_lib.SaveTimer, "due", due), \
        testutil.spy(train_tf2.SummaryMetricsLog, "close") as close:
      with self.assertRaises(_Stop):
        train_tf2.train("test", self.cfg, self.data,
                        self._options(self.run_dir))
    close.assert_called_once()  # Closed on the way out of the error.
    with open(os.path.join(self.run_dir, "train_state.json")) as f:
      state = json.load(f)
    self.assertEqual((state["epoch"], state["position"]["step"]), (1, 12))
    resumed = train_tf2.train("test", self.cfg, self.data,
                              self._options(self.run_dir))
    self.assertEqual([a["start_step"] for a in resumed["attempts"]], [0, 12])
    for a, b in zip(straight["epochs"], resumed["epochs"]):
      for key in ("train_perplexity", "valid_perplexity"):
        self.assertAlmostEqual(a[key], b[key], delta=1e-6 * a[key])
    self.assertAlmostEqual(straight["test_perplexity"],
                           resumed["test_perplexity"],
                           delta=1e-6 * straight["test_perplexity"])
    self.assertEqual(straight["epochs"][1]["learning_rate"], 0.5)
    result = train_tf2.evaluate("test", self.cfg, self.data, self.run_dir)
    self.assertAlmostEqual(result["valid"],
                           resumed["epochs"][1]["valid_perplexity"],
                           delta=1e-6 * result["valid"])
    self.assertAlmostEqual(result["test"], resumed["test_perplexity"],
                           delta=1e-6 * result["test"])
    with self.assertRaisesRegex(UserError, "does not fit the model"):
      train_tf2.evaluate("test", dataclasses.replace(self.cfg, hidden_size=9),
                         self.data, self.run_dir)
    # Max to keep 2, as the TF1 Saver: the manager rotated the older ones.
    self.assertLen(glob.glob(os.path.join(self.run_dir, "*.index")), 2)


if __name__ == "__main__":
  absltest.main()
