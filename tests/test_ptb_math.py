"""The PTB graph's math against independent statements of it.

Each test would fail on a plausible regression of the model or of
``train.run_epoch``: the loss's reduction (mean over the batch, sum over the
steps), the perplexity's normalisation, dynamic_rnn against a static unroll,
where dropout sits (and that only the training graph has it), the
initializer of the layer-wise modes, ``clip_by_global_norm`` and the learning
rate, and the LSTM state carried from chunk to chunk. Reference values come from
numpy (the LSTM unrolled step by step in float64), from TF's ``static_rnn``
over the same variables, from the unclipped ``tf.gradients`` or from
arithmetic (a uniform model's perplexity is its vocabulary size), not from
the code under test. Each plausible bug these tests were checked against
(cost reduction, perplexity normalisation, state reset per chunk, dropout in
the eval graphs or off the inputs, per-tensor clipping, a forget bias of 1,
gate order, ...) fails at least one of them.

Covered elsewhere, not repeated here: BASIC mode's initializer
(``test_ptb_tf2.py``, ``test_same_initial_distribution``); basic, block and
fused training against each other (``test_ptb_modes.py``).
"""

import dataclasses

from absl.testing import absltest
from absl.testing import parameterized
import numpy as np

from common import dropout
from common import session as session_lib
from common.tf_compat import rnn_cell, tf, tf1
from ptb import configs
from ptb import model as model_lib
from ptb import reader
from ptb import train
from tests import numpy_rnn

# Every size distinct (B != T, so "mean over the batch, sum over the steps"
# is not "sum over the batch, mean over the steps"), two layers, weights
# large enough for non-trivial gates and a state that matters.
TINY = dataclasses.replace(
    configs.CONFIGS.get("test"), vocab_size=11, hidden_size=5, num_layers=2,
    num_steps=4, batch_size=3, init_scale=1.0)
CELL = "Model/RNN/multi_rnn_cell/cell_%d/basic_lstm_cell/"


def _build(cfg, rnn_mode="basic", dropout_seed=0, seed=1):
  """``(graph, models, session)``: build_models in a fresh graph, with the
  variables initialised."""
  graph, models = session_lib.build_graph(
      lambda: model_lib.build_models(cfg, configs.eval_config(cfg),
                                     dropout_seed=dropout_seed,
                                     rnn_mode=rnn_mode), seed)
  session = session_lib.make_session(graph)
  with graph.as_default():
    session.run(tf1.global_variables_initializer())
  return graph, models, session


def _weights(session):
  """``{name: value}`` of the ``Model/...`` weights (inside the graph)."""
  return {v.op.name: session.run(v) for v in model_lib.weight_variables()}


def _load(session, weights):
  for v in model_lib.weight_variables():
    v.load(weights[v.op.name], session)


def _state(cfg, rng=None):
  """A state for ``cfg``'s graphs: zeros, or uniform(-1, 1) given ``rng``."""
  shape = (cfg.batch_size, cfg.hidden_size)
  def value():
    if rng is None:
      return np.zeros(shape, np.float32)
    return rng.uniform(-1, 1, shape).astype(np.float32)
  return tuple(rnn_cell.LSTMStateTuple(value(), value())
               for _ in range(cfg.num_layers))


def _ids(rng, cfg):
  return rng.integers(0, cfg.vocab_size,
                      (cfg.batch_size, cfg.num_steps)).astype(np.int32)


def _run(session, model, x, y, state, fetch=()):
  """``[cost, final_state, *fetch]`` of one chunk, ``state`` fed."""
  feed = {model.input_data: x, model.targets: y}
  feed.update(model_lib.state_feed(model.initial_state, state))
  return session.run([model.cost, model.final_state] + list(fetch), feed)


def numpy_lm(weights, x, y, state, num_layers, masks=None, drop_state=False):
  """The tutorial's model in float64 numpy, one step at a time.

  BasicLSTMCell (kernel [in + H, 4H], gates i, j, f, o, forget bias 0);
  dropout masks, if given, on the embedded inputs (mask 0) and on layer l's
  output (mask l + 1), never on the carried state -- unless ``drop_state``
  (a wrong placement, for the controls: the masked h is carried).

  Returns:
    ``(crossent [B, T], [(c, h) per layer])``; the tutorial's cost is
    ``crossent.sum() / B``.
  """
  w = {k: v.astype(np.float64) for k, v in weights.items()}
  inputs = w["Model/embedding"][x]  # [B, T, H]
  if masks is not None:
    inputs = inputs * masks[0]
  final = []
  for layer in range(num_layers):
    kernel, bias = w[CELL % layer + "kernel"], w[CELL % layer + "bias"]
    c, h = (np.asarray(s, np.float64) for s in state[layer])
    outputs = []
    for t in range(x.shape[1]):
      c, h = numpy_rnn.lstm_step(kernel, bias, inputs[:, t], c, h,
                                 forget_bias=0.0)
      out = h if masks is None else h * masks[layer + 1][:, t]
      if drop_state:
        h = out
      outputs.append(out)
    final.append((c, h))
    inputs = np.stack(outputs, axis=1)
  logits = inputs @ w["Model/softmax_w"] + w["Model/softmax_b"]  # [B, T, V]
  log_p = np.take_along_axis(numpy_rnn.log_softmax(logits), y[..., None],
                             axis=-1)[..., 0]
  return -log_p, final


def _cost(crossent):
  return crossent.sum() / crossent.shape[0]


def _assert_state_close(final, expected, rtol=1e-5, atol=1e-6):
  for layer, (c, h) in zip(final, expected):
    np.testing.assert_allclose(layer.c, c, rtol=rtol, atol=atol)
    np.testing.assert_allclose(layer.h, h, rtol=rtol, atol=atol)


class CostTest(absltest.TestCase):
  """1. The cost is numpy's cross-entropy, mean over batch, sum over steps."""

  def test_cost_is_numpy_crossent_mean_over_batch_sum_over_steps(self):
    graph, m, session = _build(TINY)
    rng = np.random.default_rng(0)
    with graph.as_default(), session:
      weights = _weights(session)
      for model in (m.train, m.valid, m.test):
        cfg = model.config
        x, y, state = _ids(rng, cfg), _ids(rng, cfg), _state(cfg, rng)
        cost, final = _run(session, model, x, y, state)
        crossent, expected_final = numpy_lm(weights, x, y, state,
                                            cfg.num_layers)
        expected = _cost(crossent)
        self.assertAlmostEqual(cost, expected, delta=1e-5 * expected,
                               msg=model.input_data.name)
        _assert_state_close(final, expected_final)
        if cfg.batch_size > 1:
          # The other reductions are far from it at B=3, T=4.
          for wrong in (crossent.mean(), crossent.sum(),
                        crossent.mean(axis=1).sum()):
            self.assertGreater(abs(wrong - cost), 0.1 * cost)


class UniformModelTest(absltest.TestCase):
  """2. Zero softmax weights: every word has probability 1 / vocab_size."""

  def test_perplexity_is_vocab_size_through_run_epoch(self):
    cfg = configs.CONFIGS.get("test")  # B=20, T=2, vocab 10000.
    graph, m, session = _build(cfg)
    data = np.random.default_rng(1).integers(0, cfg.vocab_size, 1000)
    with graph.as_default(), session:
      for v in model_lib.weight_variables():
        if v.op.name in ("Model/softmax_w", "Model/softmax_b"):
          v.load(np.zeros(v.shape.as_list(), np.float32), session)
      m.train.assign_lr(session, 0.0)  # Trains, but nothing moves.
      results = {
          "train": train.run_epoch(session, m.train, data,
                                   train_op=m.train.train_op),
          "valid": train.run_epoch(session, m.valid, data),
          "test": train.run_epoch(session, m.test, data[:200]),
          "fast": train.run_stream(session, m.test_fast, data, chunk=300)}
      self.assertEqual(session.run(tf1.train.get_global_step()),
                       reader.epoch_size(len(data), cfg.batch_size,
                                         cfg.num_steps))
    for name, result in results.items():
      self.assertAlmostEqual(result.perplexity, cfg.vocab_size,
                             delta=1e-5 * cfg.vocab_size, msg=name)


class StaticUnrollTest(parameterized.TestCase):
  """3. Each mode's unroll equals TF's static_rnn over the same weights."""

  @parameterized.named_parameters((m, m) for m in model_lib.RNN_MODES)
  def test_equals_static_rnn_of_basic_lstm_cells(self, rnn_mode):
    cfg = TINY
    graph, m, session = _build(cfg, rnn_mode)
    with graph.as_default():
      # The tutorial's static unroll, reading the model's own variables
      # (reuse=True: a name that differs is an error).
      with tf1.variable_scope(model_lib.MODEL_SCOPE, reuse=True):
        cell = rnn_cell.MultiRNNCell(
            [rnn_cell.BasicLSTMCell(cfg.hidden_size, forget_bias=0.0,
                                    reuse=True)
             for _ in range(cfg.num_layers)])
        x = tf1.placeholder(tf.int32, [cfg.batch_size, cfg.num_steps])
        y = tf1.placeholder(tf.int32, [cfg.batch_size, cfg.num_steps])
        state0 = cell.zero_state(cfg.batch_size, tf.float32)
        inputs = tf1.nn.embedding_lookup(tf1.get_variable("embedding"), x)
        outputs, final = tf1.nn.static_rnn(
            cell, tf.unstack(inputs, axis=1), initial_state=state0,
            scope="RNN")
        logits = tf.einsum("tbh,hv->btv", tf.stack(outputs),
                           tf1.get_variable("softmax_w")
                           ) + tf1.get_variable("softmax_b")
        cost = tf.reduce_sum(
            tf1.nn.sparse_softmax_cross_entropy_with_logits(
                labels=y, logits=logits)) / cfg.batch_size
      rng = np.random.default_rng(2)
      with session:
        for random_state in (False, True):
          xv, yv = _ids(rng, cfg), _ids(rng, cfg)
          state = _state(cfg, rng if random_state else None)
          got_cost, got_final = _run(session, m.valid, xv, yv, state)
          feed = {x: xv, y: yv}
          feed.update(model_lib.state_feed(state0, state))
          want_cost, want_final = session.run([cost, final], feed)
          np.testing.assert_allclose(got_cost, want_cost, rtol=1e-6)
          _assert_state_close(got_final, want_final, rtol=1e-6, atol=1e-6)
          # Not a comparison of idle states.
          self.assertGreater(np.abs(got_final[-1].c - state[-1].c).max(),
                             0.05)


class DropoutTest(parameterized.TestCase):
  """4. Dropout on the embedded inputs and each layer's output, Train only."""

  def _setup(self, rnn_mode):
    self.cfg = dataclasses.replace(TINY, keep_prob=0.5)
    self.graph, self.m, self.session = _build(self.cfg, rnn_mode,
                                              dropout_seed=5)
    self.addCleanup(self.session.close)
    with self.graph.as_default():
      self.weights = _weights(self.session)
      self.global_step = tf1.train.get_global_step()
      # The masks the Train graph draws now (common.dropout: a function of
      # seed, global step and index).
      with tf1.name_scope("reference_masks"):
        self.masks = dropout.dropout_masks(
            5, self.global_step, self.cfg.num_layers + 1,
            [self.cfg.batch_size, self.cfg.num_steps, self.cfg.hidden_size],
            self.cfg.keep_prob)
    rng = np.random.default_rng(3)
    self.x, self.y = _ids(rng, self.cfg), _ids(rng, self.cfg)
    self.state = _state(self.cfg, rng)

  def _numpy_cost(self, **kwargs):
    return _cost(numpy_lm(self.weights, self.x, self.y, self.state,
                          self.cfg.num_layers, **kwargs)[0])

  @parameterized.named_parameters((m, m) for m in model_lib.RNN_MODES)
  def test_training_masks_inputs_and_layer_outputs_not_the_state(
      self, rnn_mode):
    self._setup(rnn_mode)
    with self.graph.as_default():
      cost, final, masks = _run(self.session, self.m.train, self.x, self.y,
                                self.state, [self.masks])
    self.assertBetween(np.mean([mk == 0 for mk in masks]), 0.3, 0.7)
    crossent, expected_final = numpy_lm(self.weights, self.x, self.y,
                                        self.state, self.cfg.num_layers,
                                        masks=masks)
    self.assertAlmostEqual(cost, _cost(crossent), delta=1e-5 * cost)
    _assert_state_close(final, expected_final)
    # Controls: no dropout, the input mask only, or the masked h carried
    # in the state give other costs.
    for wrong in (self._numpy_cost(),
                  self._numpy_cost(masks=[masks[0]] + [np.ones_like(
                      masks[0])] * self.cfg.num_layers),
                  self._numpy_cost(masks=masks, drop_state=True)):
      self.assertGreater(abs(wrong - cost), 1e-3 * cost)

  @parameterized.named_parameters((m, m) for m in model_lib.RNN_MODES)
  def test_valid_and_test_graphs_have_no_dropout(self, rnn_mode):
    self._setup(rnn_mode)
    # No dropout op outside Train/ (the initializers are not stateless).
    random_ops = [op.name for op in self.graph.get_operations()
                  if op.type.startswith("StatelessRandom")
                  and not op.name.startswith("reference_masks/")]
    self.assertNotEmpty(random_ops)
    for name in random_ops:
      self.assertTrue(name.startswith("Train/"), name)
    with self.graph.as_default():
      valid = [_run(self.session, self.m.valid, self.x, self.y, self.state)]
      train_costs = [_run(self.session, self.m.train, self.x, self.y,
                          self.state)[0]]
      self.global_step.load(7, self.session)  # Other masks in Train.
      valid.append(_run(self.session, self.m.valid, self.x, self.y,
                        self.state))
      train_costs.append(_run(self.session, self.m.train, self.x, self.y,
                              self.state)[0])
      test_x, test_y = self.x[:1, :1], self.y[:1, :1]
      test_state = tuple(rnn_cell.LSTMStateTuple(s.c[:1], s.h[:1])
                         for s in self.state)
      test_cost = _run(self.session, self.m.test, test_x, test_y,
                       test_state)[0]
    self.assertGreater(abs(train_costs[0] - train_costs[1]), 1e-3)
    self.assertEqual(valid[0][0], valid[1][0])
    _assert_state_close(valid[0][1], valid[1][1], rtol=0, atol=0)
    self.assertAlmostEqual(valid[0][0], self._numpy_cost(),
                           delta=1e-5 * valid[0][0])
    # The same weights in a keep_prob=1 graph: the same numbers.
    graph, m, session = _build(dataclasses.replace(self.cfg, keep_prob=1.0),
                               rnn_mode, seed=2)
    with graph.as_default(), session:
      _load(session, self.weights)
      plain = _run(session, m.valid, self.x, self.y, self.state)
      plain_test = _run(session, m.test, test_x, test_y, test_state)[0]
    np.testing.assert_allclose(valid[0][0], plain[0], rtol=1e-7)
    _assert_state_close(valid[0][1], plain[1], rtol=1e-7, atol=0)
    np.testing.assert_allclose(test_cost, plain_test, rtol=1e-7)


class InitializerTest(parameterized.TestCase):
  """5. Layer-wise modes: weights U(-init_scale, init_scale), biases zero.

  (BASIC mode: ``test_ptb_tf2.py``, ``test_same_initial_distribution``.)
  """

  @parameterized.named_parameters(("block", "block"), ("fused", "fused"))
  def test_uniform_weights_and_zero_lstm_biases(self, rnn_mode):
    cfg = dataclasses.replace(TINY, vocab_size=300, hidden_size=20,
                              init_scale=0.3)
    graph, _, session = _build(cfg, rnn_mode)
    with graph.as_default(), session:
      weights = _weights(session)
    self.assertLen(weights, 3 + 2 * cfg.num_layers)
    for name, value in weights.items():
      if name.endswith("basic_lstm_cell/bias"):
        np.testing.assert_array_equal(value, np.zeros_like(value), name)
        continue
      # Uniform over the whole range: bounds, mean and spread.
      self.assertLessEqual(np.abs(value).max(), cfg.init_scale, name)
      self.assertGreater(np.abs(value).max(), 0.95 * cfg.init_scale, name)
      self.assertLess(abs(value.mean()), 0.1 * cfg.init_scale, name)
      self.assertAlmostEqual(value.std(), cfg.init_scale / np.sqrt(3),
                             delta=0.1 * cfg.init_scale, msg=name)


class ClippingTest(absltest.TestCase):
  """6. SGD with clip_by_global_norm; the lr variable scales the step."""

  def _step(self, cfg, lrs):
    """Unclipped gradients and the weight update of one step at each lr."""
    graph, m, session = _build(cfg)
    rng = np.random.default_rng(4)
    x, y, state = _ids(rng, cfg), _ids(rng, cfg), _state(cfg, rng)
    with graph.as_default(), session:
      tvars = model_lib.weight_variables()
      grads = [tf.convert_to_tensor(g)  # The embedding's: IndexedSlices.
               for g in tf.gradients(m.train.cost, tvars)]
      feed = {m.train.input_data: x, m.train.targets: y}
      feed.update(model_lib.state_feed(m.train.initial_state, state))
      before = _weights(session)
      grad = np.concatenate([g.ravel() for g in session.run(grads, feed)])
      deltas = []
      for lr in lrs:
        _load(session, before)
        m.train.assign_lr(session, lr)
        session.run(m.train.train_op, feed)
        after = _weights(session)
        deltas.append(np.concatenate([
            (after[v.op.name].astype(np.float64) - before[v.op.name]).ravel()
            for v in tvars]))
    return grad.astype(np.float64), deltas

  def test_huge_gradient_moves_weights_by_lr_times_max_grad_norm(self):
    cfg = dataclasses.replace(TINY, max_grad_norm=1e-3, init_scale=0.05)
    grad, (d1, d2) = self._step(cfg, [10.0, 20.0])
    norm = np.linalg.norm(grad)
    self.assertGreater(norm, 100 * cfg.max_grad_norm)
    for lr, delta in ((10.0, d1), (20.0, d2)):
      self.assertAlmostEqual(np.linalg.norm(delta), lr * cfg.max_grad_norm,
                             delta=1e-5 * lr * cfg.max_grad_norm)
      # Along the whole gradient, every tensor scaled alike (not clipped
      # tensor by tensor).
      np.testing.assert_allclose(
          delta, -lr * cfg.max_grad_norm / norm * grad, rtol=0,
          atol=1e-6 * lr * cfg.max_grad_norm)
    np.testing.assert_allclose(d2, 2 * d1, rtol=0,
                               atol=1e-6 * np.linalg.norm(d2))

  def test_small_gradient_is_not_clipped(self):
    cfg = dataclasses.replace(TINY, max_grad_norm=1e3)
    grad, (delta,) = self._step(cfg, [0.5])
    self.assertBetween(np.linalg.norm(grad), 0.1, cfg.max_grad_norm)
    np.testing.assert_allclose(delta, -0.5 * grad, rtol=0,
                               atol=1e-5 * np.linalg.norm(delta))


class StateCarryTest(absltest.TestCase):
  """7. run_epoch feeds chunk k's final state as chunk k+1's initial state."""

  def _manual(self, session, model, data, carry):
    cfg = model.config
    state, costs, iters = _state(cfg), 0.0, 0
    for x, y in reader.ptb_iterator(data, cfg.batch_size, cfg.num_steps):
      cost, final = _run(session, model, x, y, state if carry else
                         _state(cfg))
      state = final
      costs += float(cost)
      iters += cfg.num_steps
    return float(np.exp(costs / iters))

  def test_run_epoch_carries_the_state_chunk_to_chunk(self):
    graph, m, session = _build(TINY)
    data = np.random.default_rng(5).integers(0, TINY.vocab_size, 100)
    with graph.as_default(), session:
      for model in (m.valid, m.test):  # 8 chunks of [3, 4]; 99 of [1, 1].
        got = train.run_epoch(session, model, data).perplexity
        carried = self._manual(session, model, data, carry=True)
        reset = self._manual(session, model, data, carry=False)
        self.assertAlmostEqual(got, carried, delta=1e-6 * got)
        self.assertGreater(abs(reset - got), 1e-3 * got)


if __name__ == "__main__":
  absltest.main()
