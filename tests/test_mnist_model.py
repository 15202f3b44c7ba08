"""Tests of mnist_rnn/model.py: shapes, parameters, merge, loss, training."""

import dataclasses

from absl.testing import absltest
from absl.testing import parameterized
import numpy as np

from common import variables
from common.tf_compat import tf, tf1
from mnist_rnn import configs
from mnist_rnn import model as model_lib
from mnist_rnn import reader

# (model, cell) -> trainable parameters of the small config's network.
# LSTM layer: (inputs + H) * 4H + 4H; GRU: (inputs + H) * 3H + 3H;
# dense: features * 10 + 10.
SMALL_PARAMETERS = {
    ("stacked", "lstm"): (28 + 128) * 512 + 512 + 256 * 512 + 512 + 1290,
    ("stacked", "gru"): (28 + 128) * 384 + 384 + 256 * 384 + 384 + 1290,
    ("bidirectional", "lstm"): 2 * ((28 + 128) * 512 + 512) + 2570,
    ("bidirectional", "gru"): 2 * ((28 + 128) * 384 + 384) + 2570,
}


def small(model, **changes):
  return dataclasses.replace(configs.get_config(model, "small"), **changes)


def patterned_batch(n=16, seed=0):
  """Label k lights rows 2k+4..2k+6 of a faint noise image (easy to learn)."""
  rng = np.random.default_rng(seed)
  labels = rng.integers(0, 10, n)
  images = rng.random((n, 28, 28), dtype=np.float32) * 0.1
  for image, label in zip(images, labels):
    image[2 * label + 4:2 * label + 7, :] = 1.0
  return images.reshape(n, 784), reader.to_one_hot(labels)


def random_batch(n=5, seed=0):
  rng = np.random.default_rng(seed)
  images = rng.random((n, reader.IMAGE_PIXELS), dtype=np.float32)
  labels = reader.to_one_hot(rng.integers(0, 10, n))
  return images, labels


class ModelTest(parameterized.TestCase):

  def build(self, config, is_training=False, seed=1):
    """A fresh graph, the model and an initialised session."""
    graph = tf.Graph()
    with graph.as_default():
      tf1.set_random_seed(seed)
      model = model_lib.MnistRnnModel(config, is_training=is_training)
      params = variables.num_parameters(model_lib.weight_variables())
      names = [v.op.name for v in model_lib.weight_variables()]
      init = tf1.global_variables_initializer()
    session = tf1.Session(graph=graph)
    self.addCleanup(session.close)
    session.run(init)
    return model, session, params, names

  @parameterized.parameters(
      ("stacked", "lstm", 128), ("stacked", "gru", 128),
      ("bidirectional", "lstm", 256), ("bidirectional", "gru", 256))
  def test_shapes_and_parameter_counts(self, model_name, cell, width):
    model, session, params, _ = self.build(small(model_name, cell=cell))
    self.assertEqual(params, SMALL_PARAMETERS[(model_name, cell)])
    images, labels = random_batch(n=7)
    logits, features = session.run([model.logits, model.features],
                                   model.feed(images, labels))
    self.assertEqual(logits.shape, (7, 10))
    self.assertEqual(features.shape, (7, width))
    self.assertEqual(model.images.shape.as_list(), [None, 784])
    self.assertEqual(model.labels.shape.as_list(), [None, 10])

  def test_seed_variable_names(self):
    _, _, params, names = self.build(small("stacked"))
    self.assertEqual(params, 213258)
    self.assertEqual(names, [
        "rnn/multi_rnn_cell/cell_0/lstm_cell/kernel",
        "rnn/multi_rnn_cell/cell_0/lstm_cell/bias",
        "rnn/multi_rnn_cell/cell_1/lstm_cell/kernel",
        "rnn/multi_rnn_cell/cell_1/lstm_cell/bias", "out_w", "out_b"])
    _, _, params, names = self.build(small("bidirectional"))
    self.assertEqual(params, 163338)
    self.assertEqual(names[:2], ["bidirectional_rnn/fw/lstm_cell/kernel",
                                 "bidirectional_rnn/fw/lstm_cell/bias"])

  @parameterized.parameters("lstm", "gru")
  def test_default_merge_is_each_directions_final_output(self, cell):
    model, session, _, _ = self.build(small("bidirectional", cell=cell,
                                            hidden_size=16))
    images, labels = random_batch()
    features, (out_fw, out_bw), (state_fw, state_bw) = session.run(
        [model.features, model.rnn_outputs, model.rnn_state],
        model.feed(images, labels))
    np.testing.assert_array_equal(features[:, :16], out_fw[:, -1, :])
    np.testing.assert_array_equal(features[:, 16:], out_bw[:, 0, :])
    # Without dropout those are the final states' h.
    h_fw = state_fw.h if cell == "lstm" else state_fw
    h_bw = state_bw.h if cell == "lstm" else state_bw
    np.testing.assert_allclose(features,
                               np.concatenate([h_fw, h_bw], axis=1),
                               rtol=1e-6, atol=1e-6)

  def test_seed_merge_uses_backward_output_after_one_row(self):
    config = small("bidirectional", hidden_size=16)
    seed_model, seed_session, _, _ = self.build(
        dataclasses.replace(config, bi_merge="seed"))
    final_model, final_session, _, _ = self.build(config)  # Same init seed.
    images, labels = random_batch()
    seed_features, (_, out_bw) = seed_session.run(
        [seed_model.features, seed_model.rnn_outputs],
        seed_model.feed(images, labels))
    np.testing.assert_array_equal(seed_features[:, 16:], out_bw[:, -1, :])
    final_features = final_session.run(final_model.features,
                                       final_model.feed(images, labels))
    np.testing.assert_array_equal(seed_features[:, :16],
                                  final_features[:, :16])
    self.assertGreater(np.abs(seed_features[:, 16:] -
                              final_features[:, 16:]).max(), 1e-3)
    # The pitfall: the seed's backward half ignores rows 0..26.
    changed = images.copy()
    changed[:, :27 * 28] = 1.0 - changed[:, :27 * 28]
    seed_changed, final_changed = (
        seed_session.run(seed_model.features, seed_model.feed(changed,
                                                              labels)),
        final_session.run(final_model.features, final_model.feed(changed,
                                                                 labels)))
    np.testing.assert_array_equal(seed_changed[:, 16:], seed_features[:, 16:])
    self.assertGreater(np.abs(final_changed[:, 16:] -
                              final_features[:, 16:]).max(), 1e-3)

  @parameterized.parameters("stacked", "bidirectional")
  def test_loss_and_accuracy_ops(self, model_name):
    model, session, _, _ = self.build(small(model_name, hidden_size=8))
    images, labels = random_batch(n=9)
    logits, loss, accuracy, correct = session.run(
        [model.logits, model.loss, model.accuracy, model.num_correct],
        model.feed(images, labels))
    shifted = logits - logits.max(axis=1, keepdims=True)
    log_softmax = shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))
    np.testing.assert_allclose(loss, -(labels * log_softmax).sum(1).mean(),
                               rtol=1e-5)
    hits = (logits.argmax(1) == labels.argmax(1)).sum()
    self.assertEqual(correct, hits)
    self.assertAlmostEqual(accuracy, hits / 9, places=6)

  def test_dropout_only_when_keep_prob_below_one(self):
    model, session, _, _ = self.build(small("stacked", hidden_size=8))
    images, labels = random_batch()
    run = lambda p: session.run(model.logits,
                                model.feed(images, labels, keep_prob=p))
    np.testing.assert_array_equal(run(1.0), run(1.0))
    self.assertGreater(np.abs(run(0.5) - run(1.0)).max(), 1e-4)

  def train_loss_drop(self, config, steps=20):
    """Loss before and after ``steps`` Adam steps on one patterned batch."""
    model, session, _, _ = self.build(config, is_training=True)
    feed = model.feed(*patterned_batch(), keep_prob=1.0)
    before = session.run(model.loss, feed)
    for _ in range(steps):
      session.run(model.train_op, feed)
    self.assertEqual(session.run(model.global_step), steps)
    return before, session.run(model.loss, feed)

  @parameterized.parameters("stacked", "bidirectional")
  def test_training_lowers_loss_and_counts_steps(self, model_name):
    before, after = self.train_loss_drop(
        small(model_name, hidden_size=16, learning_rate=1e-2))
    self.assertLess(after, 0.7 * before)

  def test_gradient_clipping_is_applied(self):
    # Adam ignores the gradients' scale, unless clipping makes them tiny
    # next to its epsilon (1e-8): then the weights hardly move.
    config = small("stacked", hidden_size=16, learning_rate=1e-2)
    free_before, free_after = self.train_loss_drop(config, steps=5)
    clip_before, clip_after = self.train_loss_drop(
        dataclasses.replace(config, max_grad_norm=1e-10), steps=5)
    self.assertEqual(free_before, clip_before)
    self.assertLess(abs(clip_after - clip_before),
                    0.1 * abs(free_after - free_before))

  def test_learning_rate_decays_in_stairs(self):
    config = small("stacked", hidden_size=4, lr_decay=0.5, lr_decay_steps=2)
    model, session, _, _ = self.build(config, is_training=True)
    feed = model.feed(*random_batch(n=2))
    rates = []
    for _ in range(5):
      rates.append(session.run(model.learning_rate))
      session.run(model.train_op, feed)
    np.testing.assert_allclose(rates, [1e-3, 1e-3, 5e-4, 5e-4, 2.5e-4],
                               rtol=1e-6)

  def test_eval_graph_has_no_optimizer(self):
    model, _, _, _ = self.build(small("stacked", hidden_size=4))
    self.assertFalse(hasattr(model, "train_op"))
    names = [v.op.name for v in model.global_step.graph.get_collection(
        tf1.GraphKeys.GLOBAL_VARIABLES)]
    self.assertNotIn("Adam", " ".join(names))
    self.assertIn("global_step", names)


if __name__ == "__main__":
  absltest.main()
