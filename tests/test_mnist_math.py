"""The row-by-row MNIST graphs' math against numpy (the PTB math tests' twin).

References come from ``tests/numpy_rnn.py`` (TF1's cells in float64 numpy)
and from Adam's and ``clip_by_global_norm``'s equations, not from the code
under test. Each test has a control: the plausible bug it is meant to catch
(columns read as time steps, forget bias 0 instead of TF1's 1, the backward
output taken at the wrong end, per-tensor clipping, plain SGD) is computed too
and shown to be far from what the graph gives.

Covered in ``test_mnist_model.py``, not repeated here: the loss against a
numpy cross-entropy, accuracy and ``num_correct``, dropout only when
``keep_prob < 1``, the learning rate's stairs.
"""

import dataclasses

from absl.testing import absltest
from absl.testing import parameterized
import numpy as np

from common import session as session_lib
from common.tf_compat import tf, tf1
from mnist_rnn import configs
from mnist_rnn import model as model_lib
from mnist_rnn import reader
from tests import numpy_rnn

H = 6  # Hidden size: small, and distinct from 28 and 10.
ADAM = dict(beta1=0.9, beta2=0.999, epsilon=1e-8)  # TF1's AdamOptimizer.


def _config(model, cell="lstm", **changes):
  base = configs.get_config(model, "small")
  layers = 2 if model == "stacked" else 1
  return dataclasses.replace(base, cell=cell, hidden_size=H,
                             num_layers=layers, **changes)


def _build(config, is_training=False):
  """``(graph, model, session)`` with random uniform(-0.5, 0.5) weights
  (biases included, so a dropped bias term shows)."""
  graph, model = session_lib.build_graph(
      lambda: model_lib.MnistRnnModel(config, is_training=is_training), 1)
  session = session_lib.make_session(graph)
  rng = np.random.default_rng(3)
  with graph.as_default():
    session.run(tf1.global_variables_initializer())
    for v in model_lib.weight_variables():
      v.load(rng.uniform(-0.5, 0.5, v.shape.as_list()).astype(np.float32),
             session)
    weights = {v.op.name: session.run(v).astype(np.float64)
               for v in model_lib.weight_variables()}
  return graph, model, session, weights


def _images(n=4, seed=0):
  """Images whose rows differ from their columns (a transposition shows)."""
  rng = np.random.default_rng(seed)
  images = rng.random((n, 28, 28))
  images[:, :, :7] = 0.0  # Dark left columns, not dark top rows.
  return images.reshape(n, reader.IMAGE_PIXELS).astype(np.float32)


def _run_cell(weights, scope, cell, rows, forget_bias=1.0):
  """The outputs ``[B, T, H]`` of one cell read over ``rows [B, T, in]``."""
  batch = rows.shape[0]
  h = np.zeros((batch, H))
  c = np.zeros((batch, H))
  outputs = []
  for t in range(rows.shape[1]):
    if cell == "lstm":
      c, h = numpy_rnn.lstm_step(weights[scope + "lstm_cell/kernel"],
                                 weights[scope + "lstm_cell/bias"],
                                 rows[:, t], c, h, forget_bias)
    else:
      g = scope + "gru_cell/"
      h = numpy_rnn.gru_step(
          weights[g + "gates/kernel"], weights[g + "gates/bias"],
          weights[g + "candidate/kernel"], weights[g + "candidate/bias"],
          rows[:, t], h)
    outputs.append(h)
  return np.stack(outputs, axis=1)


def numpy_logits(config, weights, images, forget_bias=1.0, transpose=False,
                 bw_index=None):
  """The seed's model in numpy: rows are time steps (unless ``transpose``,
  a control), stacked layers or both directions, then ``out_w``, ``out_b``.
  ``bw_index`` overrides the config's choice of backward output (control).
  """
  x = images.astype(np.float64).reshape(-1, 28, 28)
  if transpose:
    x = x.transpose(0, 2, 1)
  if config.model == "stacked":
    for layer in range(config.num_layers):
      x = _run_cell(weights, "rnn/multi_rnn_cell/cell_%d/" % layer,
                    config.cell, x, forget_bias)
    features = x[:, -1]
  else:
    out_fw = _run_cell(weights, "bidirectional_rnn/fw/", config.cell, x,
                       forget_bias)
    # The backward cell reads rows 27..0; its outputs back in input order.
    out_bw = _run_cell(weights, "bidirectional_rnn/bw/", config.cell,
                       x[:, ::-1], forget_bias)[:, ::-1]
    if bw_index is None:
      bw_index = 0 if config.bi_merge == "final" else -1
    features = np.concatenate([out_fw[:, -1], out_bw[:, bw_index]], axis=1)
  return features @ weights["out_w"] + weights["out_b"]


class ForwardTest(parameterized.TestCase):
  """The logits equal numpy's over the same weights, for every variant."""

  @parameterized.named_parameters(
      ("stacked_lstm", "stacked", "lstm", "final"),
      ("stacked_gru", "stacked", "gru", "final"),
      ("bidirectional_lstm_final", "bidirectional", "lstm", "final"),
      ("bidirectional_lstm_seed", "bidirectional", "lstm", "seed"),
      ("bidirectional_gru_final", "bidirectional", "gru", "final"))
  def test_logits_equal_numpy(self, model, cell, bi_merge):
    config = _config(model, cell, bi_merge=bi_merge)
    graph, m, session, weights = _build(config)
    images = _images()
    with graph.as_default(), session:
      logits = session.run(m.logits, m.feed(images, reader.to_one_hot(
          np.arange(len(images)))))
    want = numpy_logits(config, weights, images)
    np.testing.assert_allclose(logits, want, rtol=1e-5, atol=1e-5)
    scale = np.abs(want).max()
    controls = {"columns as time steps": dict(transpose=True)}
    if cell == "lstm":
      controls["forget bias 0"] = dict(forget_bias=0.0)
    if model == "bidirectional":
      controls["other backward end"] = dict(
          bw_index=-1 if bi_merge == "final" else 0)
    for name, change in controls.items():
      wrong = numpy_logits(config, weights, images, **change)
      self.assertGreater(np.abs(wrong - logits).max(), 1e-3 * scale,
                         msg=name)


def _adam(weights, grads, slots, lr, step):
  """One step of TF1's Adam on ``{name: array}``, in place; ``step`` from 1."""
  b1, b2, eps = ADAM["beta1"], ADAM["beta2"], ADAM["epsilon"]
  lr_t = lr * np.sqrt(1 - b2 ** step) / (1 - b1 ** step)
  for name, g in grads.items():
    m, v = slots.setdefault(name, (np.zeros_like(g), np.zeros_like(g)))
    m = b1 * m + (1 - b1) * g
    v = b2 * v + (1 - b2) * g * g
    slots[name] = (m, v)
    weights[name] = weights[name] - lr_t * m / (np.sqrt(v) + eps)


def _clip_global(grads, max_norm):
  norm = np.sqrt(sum((g * g).sum() for g in grads.values()))
  scale = min(1.0, max_norm / norm)
  return {k: g * scale for k, g in grads.items()}, norm


class TrainStepTest(absltest.TestCase):
  """Two training steps equal numpy's Adam over globally clipped gradients."""

  def test_two_adam_steps_with_global_norm_clipping(self):
    max_norm = 0.05
    config = _config("stacked", learning_rate=0.01, max_grad_norm=max_norm,
                     keep_prob=1.0)
    graph, m, session, weights = _build(config, is_training=True)
    with graph.as_default():
      tvars = model_lib.weight_variables()
    names = [v.op.name for v in tvars]
    self.assertLen(names, 2 * 2 + 2)  # Two LSTM layers, the output layer.
    # The graph's trajectory and two wrong ones (controls): each tensor
    # clipped alone, and plain SGD. Adam's first step hardly depends on the
    # gradients' scale; its second depends on the ratio of the two steps'
    # gradients, which a per-tensor norm changes.
    want, per_tensor, sgd = dict(weights), dict(weights), dict(weights)
    slots, per_tensor_slots = {}, {}
    with graph.as_default(), session:
      raw_grads = tf.gradients(m.loss, tvars)
      for step, seed in ((1, 0), (2, 1)):
        feed = m.feed(_images(n=8, seed=seed),
                      reader.to_one_hot(np.arange(8) % 10))
        grads = dict(zip(names, (g.astype(np.float64)
                                 for g in session.run(raw_grads, feed))))
        clipped, norm = _clip_global(grads, max_norm)
        self.assertGreater(norm, 2 * max_norm)  # Clipping is active.
        _adam(want, clipped, slots, config.learning_rate, step)
        _adam(per_tensor, {k: _clip_global({k: g}, max_norm)[0][k]
                           for k, g in grads.items()},
              per_tensor_slots, config.learning_rate, step)
        sgd = {k: sgd[k] - config.learning_rate * g
               for k, g in clipped.items()}
        session.run(m.train_op, feed)
      got = {v.op.name: session.run(v) for v in tvars}
      self.assertEqual(session.run(m.global_step), 2)
    for name in names:
      np.testing.assert_allclose(got[name], want[name], rtol=1e-4, atol=1e-6,
                                 err_msg=name)
    def distance(other):
      return max(np.abs(other[k] - got[k]).max() for k in names)
    moved = distance(weights)
    self.assertGreater(moved, 0.5 * config.learning_rate)
    self.assertGreater(distance(sgd), 0.5 * moved)
    self.assertGreater(distance(per_tensor), 1e-3)


if __name__ == "__main__":
  absltest.main()
