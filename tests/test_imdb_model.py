"""Tests for imdb/model.py and imdb/configs.py: shapes, Keras parameter counts,
Keras initialization, padding semantics, dropout, optimizers."""

import dataclasses
from unittest import mock

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
    # The loss is the batch mean of numpy's binary cross-entropy; a
    # prediction is positive where the logit is > 0.
    labels = np.array([1, 0, 1])
    z = logits.astype(np.float64)
    crossent = np.logaddexp(0, z) - labels * z
    self.assertAlmostEqual(loss, crossent.mean(), delta=1e-6)
    self.assertNotAlmostEqual(loss, crossent.sum(), delta=1e-3)
    self.assertAlmostEqual(acc, ((z > 0) == labels).mean(), places=6)
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

  def test_pre_padding_reads_the_last_words(self):
    # Fails if pre-padding were combined with sequence_length: the RNN would
    # stop after the pads and never see the last word (6 vs 7).
    rows = [[0, 0, 0, 1, 5, 6], [0, 0, 0, 1, 5, 7]]
    logits, _ = self._logits("pre", rows, [[1, 5, 6]])
    self.assertGreater(abs(float(logits[0] - logits[1])), 1e-6)

  def test_pre_padding_with_sequence_length_is_the_bug(self):
    # The buggy variant, built on purpose: pre-padding + sequence_length.
    rows = [[0, 0, 0, 1, 5, 6], [0, 0, 0, 1, 5, 7]]
    default, pads_only = self._logits("pre", rows, [[0, 0, 0]])
    with mock.patch.object(model_lib, "rnn_sequence_length",
                           lambda padding, lengths: lengths):
      buggy, _ = self._logits("pre", rows, [[1, 5, 6]])
    self.assertGreater(np.abs(buggy - default).max(), 1e-6)
    # It reads the 3 pads and stops: the last words do not matter, and the
    # result is that of the pads alone.
    np.testing.assert_allclose(buggy[0], buggy[1], rtol=1e-6)
    np.testing.assert_allclose(buggy[0], pads_only[0], rtol=1e-5, atol=1e-6)


def _keras_parts(kernel, num_units):
  """(input part, recurrent part) of a TF1 stacked kernel."""
  return kernel[:-num_units], kernel[-num_units:]


class InitializerTest(parameterized.TestCase):
  """Weights start as Keras's: glorot input kernel, orthogonal recurrent
  kernel, zero biases, uniform(-0.05, 0.05) embedding."""

  def _weights(self, config, seed=22):
    with tf.Graph().as_default():
      tf1.set_random_seed(seed)
      model_lib.build_models(config)
      weights = model_lib.weight_variables()
      with tf1.Session() as session:
        _init(session)
        return dict(zip([w.op.name for w in weights], session.run(weights)))

  def _check_kernel(self, kernel, input_size, num_units, gates):
    width = gates * num_units
    self.assertEqual(kernel.shape, (input_size + num_units, width))
    inputs, recurrent = _keras_parts(kernel, num_units)
    # Orthogonal [H, gates*H]: orthonormal rows.
    np.testing.assert_allclose(recurrent @ recurrent.T, np.eye(num_units),
                               atol=1e-5)
    # glorot_uniform over Keras's [in, gates*H] input kernel.
    limit = np.sqrt(6.0 / (input_size + width))
    self.assertLessEqual(np.abs(inputs).max(), limit)
    self.assertGreater(np.abs(inputs).max(), 0.95 * limit)
    self.assertBetween(inputs.std(), 0.9 * limit / np.sqrt(3),
                       1.1 * limit / np.sqrt(3))

  def test_lstm_like_keras(self):
    config = configs.CONFIGS.get("seed000")
    w = self._weights(config)
    cells = "Model/RNN/multi_rnn_cell/cell_%d/lstm_cell/"
    for layer, input_size in ((0, 100), (1, 64)):
      self._check_kernel(w[cells % layer + "kernel"], input_size, 64, 4)
      # Zero bias; LSTMCell adds forget_bias=1.0 (Keras unit_forget_bias).
      np.testing.assert_array_equal(w[cells % layer + "bias"], 0)
    embedding = w["Model/embedding"]
    self.assertLessEqual(np.abs(embedding).max(), 0.05)
    self.assertGreater(np.abs(embedding).max(), 0.049)
    dense_limit = np.sqrt(6.0 / (64 + 1))
    self.assertLessEqual(np.abs(w["Model/dense/kernel"]).max(), dense_limit)
    np.testing.assert_array_equal(w["Model/dense/bias"], 0)

  def test_lstm_forget_bias_is_one(self):
    with tf.Graph().as_default():
      m = model_lib.build_eval_model(TINY)
      cell = m._make_cell(0)  # pylint: disable=protected-access
    self.assertEqual(cell._forget_bias, 1.0)  # pylint: disable=protected-access

  def test_gru_like_keras(self):
    config = dataclasses.replace(configs.CONFIGS.get("seed000"), cell="gru")
    w = self._weights(config)
    cells = "Model/RNN/multi_rnn_cell/cell_%d/gru_cell/"
    for layer, input_size in ((0, 100), (1, 64)):
      # Gates [in+H, 2H] and candidate [in+H, H] together are Keras's
      # kernel + recurrent_kernel of 3H columns (one orthogonal draw).
      kernel = np.concatenate([w[cells % layer + "gates/kernel"],
                               w[cells % layer + "candidate/kernel"]], axis=1)
      self._check_kernel(kernel, input_size, 64, 3)
      np.testing.assert_array_equal(w[cells % layer + "gates/bias"], 0)
      np.testing.assert_array_equal(w[cells % layer + "candidate/bias"], 0)

  def test_seeded_by_the_graph_seed(self):
    config = configs.CONFIGS.get("test")
    a, b, c = self._weights(config), self._weights(config), self._weights(
        config, seed=23)
    for name in a:
      np.testing.assert_array_equal(a[name], b[name])
    kernel = "Model/RNN/multi_rnn_cell/cell_0/lstm_cell/kernel"
    self.assertFalse(np.allclose(a[kernel], c[kernel]))

  def test_initializer_refuses_too_many_columns(self):
    init = model_lib.KerasRecurrentInitializer(3, 2, 3)
    with tf.Graph().as_default():
      init([5, 4])
      with self.assertRaisesRegex(ValueError, "columns"):
        init([5, 4])
      with self.assertRaisesRegex(ValueError, "rows"):
        init([4, 1])


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
    # Keras 2 RMSprop: ms starts at 0; ms = 0.1 g^2; x -= lr g / (sqrt(ms) + eps).
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
    expected = g - 0.01 * g / (np.sqrt(0.1 * g * g) + 1e-7)
    np.testing.assert_allclose(got, expected, rtol=1e-5)

  def test_adam_matches_keras_two_steps(self):
    # Keras Adam (epsilon 1e-7): lr_t = lr sqrt(1 - b2^t) / (1 - b1^t),
    # x -= lr_t m / (sqrt(v) + eps). Gradients ~1e-7 make eps matter: TF1's
    # default 1e-8 would move these weights about twice as far.
    start = np.array([1e-7, -2e-7, 3.0])
    with tf.Graph().as_default():
      x = tf1.get_variable("x", initializer=tf.constant(start, tf.float64))
      step = model_lib.make_optimizer(TINY).minimize(
          0.5 * tf.reduce_sum(x * x))
      with tf1.Session() as session:
        _init(session)
        session.run(step)
        session.run(step)
        got = session.run(x)
    lr, b1, b2, eps = TINY.learning_rate, 0.9, 0.999, 1e-7
    expected, m, v = start.copy(), 0.0, 0.0
    for t in (1, 2):
      g = expected.copy()  # d(x^2 / 2)/dx
      m = b1 * m + (1 - b1) * g
      v = b2 * v + (1 - b2) * g * g
      lr_t = lr * np.sqrt(1 - b2**t) / (1 - b1**t)
      expected = expected - lr_t * m / (np.sqrt(v) + eps)
    # rtol: TF1 keeps beta1^t, beta2^t in float32 variables.
    np.testing.assert_allclose(got, expected, rtol=2e-5)

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

  def test_memory_estimate_passes_the_presets_and_stops_the_absurd(self):
    for name in configs.CONFIGS.names:
      config = configs.CONFIGS.get(name)
      self.assertBetween(configs.estimate_memory_bytes(config), 4e8, 2e9)
      configs.check_fits_in_memory(config)
    for field in ("maxlen", "embed_size", "num_words", "batch_size"):
      # Each named in the message with its value.
      with self.assertRaisesRegex(UserError, r"^this config needs about .*"
                                  r"%s=10000000000.*; use a smaller model, "
                                  r"maxlen or batch$" % field):
        configs.check_fits_in_memory(dataclasses.replace(
            configs.CONFIGS.get("test"), **{field: 10**10}))

  @parameterized.named_parameters(
      ("dropout", dict(dropout=1.0), "dropout must be in"),
      ("split", dict(validation_split=1.0), "validation_split must be in"),
      ("cell", dict(cell="rnn"), "cell must be one of"),
      ("optimizer", dict(optimizer="sgd"), "optimizer must be one of"),
      ("padding", dict(padding="mid"), "padding must be one of"),
      ("num_words", dict(num_words=4), "num_words must be > 4"),
      ("batch", dict(batch_size=0), "batch_size must be positive"),
      ("patience", dict(patience=2, validation_split=0.0), "needs validation"),
      ("seed_negative", dict(seed=-1), "seed must be"),
      ("seed_too_big", dict(seed=2**32), "seed must be an integer in"),
  )
  def test_invalid(self, change, message):
    with self.assertRaisesRegex(UserError, message):
      dataclasses.replace(configs.CONFIGS.get("seed000"), **change)

  def test_largest_seed_is_accepted(self):
    config = dataclasses.replace(configs.CONFIGS.get("seed000"),
                                 seed=2**32 - 1)
    np.random.seed(config.seed)  # What the seed has to satisfy.

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
