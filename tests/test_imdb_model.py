"""Tests for imdb/model.py and imdb/configs.py: shapes, Keras parameter counts,
padding semantics, dropout, optimizers."""

import dataclasses

from absl.testing import absltest
from absl.testing import parameterized
import numpy as np

from common import variables
from common.errors import UserError
from common.tf_compat import rnn_cell, tf, tf1
from imdb import configs
from imdb import model as model_lib

TINY = dataclasses.replace(configs.CONFIGS.get("test"), num_layers=1,
                           dropout=0.0)


def _init(session):
  session.run(tf1.global_variables_initializer())


class ParameterCountTest(parameterized.TestCase):

  @parameterized.named_parameters(
      # seed001's Keras summary prints 373,301; seed000 works out to
      # 10000*100 + 4*(64*(100+64)+64) + 4*(64*128+64) + 65 = 1,075,329.
      ("seed000", "seed000", 1075329),
      ("seed001", "seed001", 373301),
      ("seed003", "seed003", 328353),
      ("test", "test", 1497),
  )
  def test_equals_keras(self, name, expected):
    with tf.Graph().as_default():
      model_lib.build_models(configs.CONFIGS.get(name))
      self.assertEqual(
          variables.num_parameters(model_lib.weight_variables()), expected)

  def test_gru_count(self):
    config = dataclasses.replace(configs.CONFIGS.get("seed000"), cell="gru")
    with tf.Graph().as_default():
      model_lib.build_models(config)
      h, e = 64, 100
      expected = (10000 * e + 3 * h * (e + h) + 3 * h + 3 * h * (2 * h) +
                  3 * h + h + 1)
      self.assertEqual(
          variables.num_parameters(model_lib.weight_variables()), expected)

  def test_train_and_eval_share_weights(self):
    with tf.Graph().as_default():
      models = model_lib.build_models(configs.CONFIGS.get("seed000"))
      self.assertLen(model_lib.weight_variables(), 7)
      self.assertIsNot(models.train.logits, models.eval.logits)
      self.assertFalse(hasattr(models.eval, "train_op"))


class ShapesTest(parameterized.TestCase):

  @parameterized.product(cell=["lstm", "gru"], padding=["pre", "post"])
  def test_forward(self, cell, padding):
    config = dataclasses.replace(configs.CONFIGS.get("test"), cell=cell,
                                 padding=padding)
    with tf.Graph().as_default():
      m = model_lib.build_eval_model(config)
      with tf1.Session() as session:
        _init(session)
        x = np.random.RandomState(0).randint(1, 50, size=(3, config.maxlen))
        x[0, :5] = 0
        feed = {m.inputs: x, m.labels: [1, 0, 1]}
        logits, probs, loss, acc, lengths = session.run(
            [m.logits, m.probabilities, m.loss, m.accuracy, m.lengths], feed)
    self.assertEqual(logits.shape, (3,))
    np.testing.assert_allclose(probs, 1 / (1 + np.exp(-logits)), rtol=1e-5)
    self.assertEqual(np.shape(loss), ())
    self.assertIn(acc, (0.0, 1 / 3, 2 / 3, 1.0))
    np.testing.assert_array_equal(lengths, [config.maxlen - 5] +
                                  [config.maxlen] * 2)


class PaddingTest(absltest.TestCase):
  """Keras pre-padding reads the pads; post-padding + sequence_length skips
  them (see the model docstring)."""

  def _logits(self, padding, rows_long, rows_short):
    long_cfg = dataclasses.replace(TINY, padding=padding, maxlen=6)
    short_cfg = dataclasses.replace(TINY, padding=padding, maxlen=3)
    with tf.Graph().as_default():
      tf1.set_random_seed(3)
      long_model = model_lib.build_eval_model(long_cfg)
      short_model = model_lib.build_eval_model(short_cfg, reuse=True)
      with tf1.Session() as session:
        _init(session)
        return (session.run(long_model.logits, {long_model.inputs: rows_long}),
                session.run(short_model.logits,
                            {short_model.inputs: rows_short}))

  def test_post_padding_with_sequence_length_ignores_pads(self):
    long, short = self._logits("post", [[1, 5, 6, 0, 0, 0]], [[1, 5, 6]])
    np.testing.assert_allclose(long, short, rtol=1e-5, atol=1e-6)

  def test_pre_padding_runs_the_pads_like_keras(self):
    long, short = self._logits("pre", [[0, 0, 0, 1, 5, 6]], [[1, 5, 6]])
    self.assertGreater(abs(float(long[0] - short[0])), 1e-6)


class _Echo(rnn_cell.RNNCell):
  """Outputs its inputs: shows what the wrapper feeds the cell."""

  def __init__(self, size):
    super().__init__()
    self._size = size

  @property
  def state_size(self):
    return self._size

  @property
  def output_size(self):
    return self._size

  def call(self, inputs, state):
    return inputs, state


class DropoutTest(absltest.TestCase):

  def test_one_input_mask_per_review_like_keras(self):
    batch, steps, size, keep = 64, 7, 10, 0.6
    with tf.Graph().as_default():
      tf1.set_random_seed(0)
      mask = model_lib.input_dropout_mask(tf.constant(batch), size, keep)
      cell = model_lib.SequenceInputDropoutWrapper(_Echo(size), mask)
      self.assertIsInstance(cell, rnn_cell.DropoutWrapper)
      outputs, _ = tf1.nn.dynamic_rnn(
          cell, tf.ones([batch, steps, size]), dtype=tf.float32)
      with tf1.Session() as session:
        out = session.run(outputs)
    for t in range(1, steps):  # The same mask at every step ...
      np.testing.assert_array_equal(out[:, t], out[:, 0])
    self.assertGreater(len({tuple(row) for row in out[:, 0]}), batch // 2)
    np.testing.assert_allclose(np.unique(out), [0.0, 1 / keep], rtol=1e-6)
    self.assertBetween((out[:, 0] == 0).mean(), 0.3, 0.5)  # ~1 - keep.

  def test_dropout_only_in_training(self):
    config = dataclasses.replace(configs.CONFIGS.get("test"), dropout=0.5)
    with tf.Graph().as_default():
      tf1.set_random_seed(1)
      models = model_lib.build_models(config)
      x = np.random.RandomState(0).randint(1, 50, size=(16, config.maxlen))
      with tf1.Session() as session:
        _init(session)
        train_a = session.run(models.train.logits, {models.train.inputs: x})
        train_b = session.run(models.train.logits, {models.train.inputs: x})
        eval_a = session.run(models.eval.logits, {models.eval.inputs: x})
        eval_b = session.run(models.eval.logits, {models.eval.inputs: x})
        no_drop = session.run(models.train.logits, {
            models.train.inputs: x, models.train.keep_prob: 1.0})
        self.assertAlmostEqual(
            session.run(models.train.keep_prob), 0.5)
    self.assertFalse(np.allclose(train_a, train_b))
    np.testing.assert_array_equal(eval_a, eval_b)
    np.testing.assert_allclose(no_drop, eval_a, rtol=1e-5, atol=1e-6)


class OptimizerTest(absltest.TestCase):

  def test_rmsprop_matches_keras_first_step(self):
    # Keras RMSprop: ms starts at 0; ms = 0.1 g^2; x -= lr g / sqrt(ms + eps).
    config = dataclasses.replace(TINY, optimizer="rmsprop",
                                 learning_rate=0.01)
    with tf.Graph().as_default():
      x = tf1.get_variable("x", initializer=tf.constant([1.0, -2.0, 0.001]))
      optimizer = model_lib.make_optimizer(config)
      step = optimizer.minimize(0.5 * tf.reduce_sum(x * x))
      with tf1.Session() as session:
        _init(session)
        np.testing.assert_array_equal(
            session.run(optimizer.get_slot(x, "rms")), [0, 0, 0])
        session.run(step)
        got = session.run(x)
    g = np.array([1.0, -2.0, 0.001])
    expected = g - 0.01 * g / np.sqrt(0.1 * g * g + 1e-7)
    np.testing.assert_allclose(got, expected, rtol=1e-5)

  def test_adam_matches_keras_first_step(self):
    # First Adam step moves each weight by lr * g / (|g| + eps) ~ lr.
    with tf.Graph().as_default():
      x = tf1.get_variable("x", initializer=tf.constant([1.0, -2.0]))
      step = model_lib.make_optimizer(TINY).minimize(
          0.5 * tf.reduce_sum(x * x))
      with tf1.Session() as session:
        _init(session)
        session.run(step)
        got = session.run(x)
    np.testing.assert_allclose(got, [1.0 - 0.01, -2.0 + 0.01], rtol=1e-5)

  def test_training_learns_a_keyword(self):
    config = dataclasses.replace(TINY, learning_rate=0.05, maxlen=8,
                                 batch_size=32)
    rng = np.random.RandomState(0)
    x = rng.randint(4, 50, size=(64, 8))
    y = rng.randint(0, 2, size=64)
    x[y == 1, rng.randint(0, 8, size=int(y.sum()))] = 4  # The "great" id.
    x[y == 0] = np.where(x[y == 0] == 4, 5, x[y == 0])
    with tf.Graph().as_default():
      tf1.set_random_seed(0)
      models = model_lib.build_models(config)
      with tf1.Session() as session:
        _init(session)
        feed = {models.train.inputs: x, models.train.labels: y}
        first = session.run(models.train.loss, feed)
        for _ in range(60):
          session.run(models.train.train_op, feed)
        last, acc = session.run([models.eval.loss, models.eval.accuracy],
                                {models.eval.inputs: x, models.eval.labels: y})
        self.assertEqual(session.run(models.train.global_step), 60)
    self.assertLess(last, first * 0.5)
    self.assertGreater(acc, 0.9)


class ConfigTest(parameterized.TestCase):

  @parameterized.named_parameters(
      ("dropout", dict(dropout=1.0), "dropout must be in"),
      ("split", dict(validation_split=1.0), "validation_split must be in"),
      ("cell", dict(cell="rnn"), "cell must be one of"),
      ("optimizer", dict(optimizer="sgd"), "optimizer must be one of"),
      ("padding", dict(padding="mid"), "padding must be one of"),
      ("num_words", dict(num_words=4), "num_words must be > 4"),
      ("batch", dict(batch_size=0), "batch_size must be positive"),
      ("patience", dict(patience=2, validation_split=0.0), "needs validation"),
  )
  def test_invalid(self, change, message):
    with self.assertRaisesRegex(UserError, message):
      dataclasses.replace(configs.CONFIGS.get("seed000"), **change)

  def test_presets_match_the_issue_table(self):
    s0, s1, s3 = (configs.CONFIGS.get(n) for n in ("seed000", "seed001",
                                                   "seed003"))
    self.assertEqual((s0.maxlen, s0.embed_size, s0.num_layers, s0.hidden_size,
                      s0.dropout, s0.batch_size, s0.max_epochs),
                     (80, 100, 2, 64, 0.5, 128, 4))
    self.assertEqual((s1.maxlen, s1.embed_size, s1.hidden_size,
                      s1.batch_size, s1.max_epochs, s1.patience),
                     (500, 32, 100, 64, 10, 10))
    self.assertEqual((s3.optimizer, s3.hidden_size, s3.validation_split,
                      s3.max_epochs), ("rmsprop", 32, 0.2, 10))
    for config in (s0, s1, s3):
      self.assertEqual(config.num_words, 10000)
      self.assertEqual((config.padding, config.truncating), ("pre", "pre"))
    with self.assertRaisesRegex(UserError, "unknown config 'x'"):
      configs.CONFIGS.get("x")


if __name__ == "__main__":
  absltest.main()
