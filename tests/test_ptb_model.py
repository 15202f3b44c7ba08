"""PTB graph: parameter counts, variable names, state feeding, checkpoints."""

import dataclasses

from absl.testing import absltest
from absl.testing import parameterized
import numpy as np

from common import variables
from common.errors import UserError
from common.tf_compat import tf, tf1
from ptb import configs
from ptb import model as model_lib

TUTORIAL_PARAMS = {"small": 4651600, "medium": 19775200, "large": 66022000,
                   "test": 50040}


def _tiny_config(**changes):
  base = dataclasses.replace(configs.CONFIGS.get("test"), vocab_size=10,
                             hidden_size=4, num_layers=2, num_steps=3,
                             batch_size=1, init_scale=0.5)
  return dataclasses.replace(base, **changes)


def _tutorial_names(num_layers):
  names = {"Model/embedding", "Model/softmax_w", "Model/softmax_b"}
  for i in range(num_layers):
    prefix = "Model/RNN/multi_rnn_cell/cell_%d/basic_lstm_cell/" % i
    names |= {prefix + "kernel", prefix + "bias"}
  return names


class ConfigTest(parameterized.TestCase):

  def test_unknown_name_lists_valid_ones(self):
    with self.assertRaisesRegex(UserError,
                                "unknown model 'huge'; valid: small, medium, "
                                "large, test"):
      configs.CONFIGS.get("huge")

  @parameterized.parameters(("keep_prob", 0.0), ("keep_prob", 1.5),
                            ("hidden_size", 0), ("batch_size", -1),
                            ("num_steps", 0))
  def test_invalid_values(self, field, value):
    with self.assertRaisesRegex(UserError, field):
      dataclasses.replace(configs.CONFIGS.get("small"), **{field: value})

  @parameterized.parameters(
      ("small", [1.0] * 4 + [0.5, 0.25, 0.125]),
      ("medium", [1.0] * 6 + [0.8, 0.64]),
      ("large", [1.0] * 14 + [1 / 1.15, 1 / 1.15 ** 2]))
  def test_lr_schedule(self, name, expected):
    cfg = configs.CONFIGS.get(name)
    np.testing.assert_allclose(
        [cfg.lr_for_epoch(i) for i in range(len(expected))], expected)

  def test_eval_config(self):
    cfg = configs.eval_config(configs.CONFIGS.get("medium"))
    self.assertEqual((cfg.batch_size, cfg.num_steps), (1, 1))
    self.assertEqual(cfg.hidden_size, 650)


class GraphTest(parameterized.TestCase):

  @parameterized.parameters(*TUTORIAL_PARAMS)
  def test_parameter_count_and_names(self, name):
    cfg = configs.CONFIGS.get(name)
    with tf.Graph().as_default():
      model_lib.build_models(cfg, configs.eval_config(cfg))
      weights = model_lib.weight_variables()
      self.assertEqual(variables.num_parameters(weights), TUTORIAL_PARAMS[name])
      self.assertEqual({v.op.name for v in weights},
                       _tutorial_names(cfg.num_layers))
      all_names = {v.op.name for v in tf1.global_variables()}
      self.assertEqual(all_names - _tutorial_names(cfg.num_layers),
                       {"Model/global_step", "Train/Model/Variable"})

  def test_shapes(self):
    cfg = configs.CONFIGS.get("small")
    with tf.Graph().as_default():
      models = model_lib.build_models(cfg, configs.eval_config(cfg))
      self.assertEqual(models.train.input_data.shape.as_list(), [20, 20])
      self.assertEqual(models.test.input_data.shape.as_list(), [1, 1])
      self.assertLen(models.train.initial_state, 2)
      self.assertEqual(models.train.initial_state[1].h.shape.as_list(),
                       [20, 200])
      self.assertEqual(models.train.cost.shape.as_list(), [])


class StateTest(absltest.TestCase):
  """The final state of one chunk is the initial state of the next."""

  def setUp(self):
    super().setUp()
    self.graph = tf.Graph()
    cfg = _tiny_config()
    with self.graph.as_default():
      tf1.set_random_seed(3)
      self.models = model_lib.build_models(cfg, configs.eval_config(cfg))
      self.session = tf1.Session()
      self.session.run(tf1.global_variables_initializer())
    rng = np.random.RandomState(0)
    self.x = rng.randint(0, 10, size=(1, 3)).astype(np.int32)
    self.y = rng.randint(0, 10, size=(1, 3)).astype(np.int32)

  def tearDown(self):
    self.session.close()
    super().tearDown()

  def _run(self, model, x, y, state):
    feed = {model.input_data: x, model.targets: y}
    feed.update(model_lib.state_feed(model.initial_state, state))
    return self.session.run([model.cost, model.final_state], feed)

  def test_fed_state_changes_the_loss(self):
    m = self.models.valid
    zero = self.session.run(m.initial_state)
    cost0, final = self._run(m, self.x, self.y, zero)
    cost1, _ = self._run(m, self.x, self.y, final)
    self.assertGreater(abs(cost1 - cost0), 1e-4)

  def test_k_single_steps_equal_one_chunk_of_k(self):
    chunk, single = self.models.valid, self.models.test
    cost_k, final_k = self._run(chunk, self.x, self.y,
                                self.session.run(chunk.initial_state))
    state = self.session.run(single.initial_state)
    total = 0.0
    for t in range(3):
      cost, state = self._run(single, self.x[:, t:t + 1], self.y[:, t:t + 1],
                              state)
      total += cost
    self.assertAlmostEqual(total, cost_k, delta=1e-5)
    for layer_k, layer_1 in zip(final_k, state):
      np.testing.assert_allclose(layer_k.c, layer_1.c, atol=1e-5)
      np.testing.assert_allclose(layer_k.h, layer_1.h, atol=1e-5)


class CheckpointCompatibilityTest(absltest.TestCase):
  """Checkpoints move between this port and the tutorial's variable names."""

  def test_tutorial_checkpoint_restores_into_port(self):
    cfg = _tiny_config()
    h, v = cfg.hidden_size, cfg.vocab_size
    shapes = {"Model/embedding": [v, h], "Model/softmax_w": [h, v],
              "Model/softmax_b": [v]}
    for i in range(cfg.num_layers):
      prefix = "Model/RNN/multi_rnn_cell/cell_%d/basic_lstm_cell/" % i
      shapes[prefix + "kernel"] = [2 * h, 4 * h]
      shapes[prefix + "bias"] = [4 * h]
    rng = np.random.RandomState(1)
    values = {n: rng.uniform(-1, 1, s).astype(np.float32)
              for n, s in shapes.items()}
    prefix = self.create_tempdir().full_path + "/tutorial.ckpt"
    # An independent graph: plain variables with the tutorial's names.
    with tf.Graph().as_default():
      saved = [tf1.Variable(val, name=n) for n, val in values.items()]
      with tf1.Session() as sess:
        sess.run(tf1.global_variables_initializer())
        tf1.train.Saver(saved).save(sess, prefix)
    with tf.Graph().as_default():
      model_lib.build_models(cfg, configs.eval_config(cfg))
      with tf1.Session() as sess:
        tf1.train.Saver(model_lib.weight_variables()).restore(sess, prefix)
        for var in model_lib.weight_variables():
          np.testing.assert_array_equal(sess.run(var), values[var.op.name])

  def test_port_checkpoint_has_tutorial_names(self):
    cfg = _tiny_config()
    prefix = self.create_tempdir().full_path + "/port.ckpt"
    with tf.Graph().as_default():
      model_lib.build_models(cfg, configs.eval_config(cfg))
      with tf1.Session() as sess:
        sess.run(tf1.global_variables_initializer())
        tf1.train.Saver().save(sess, prefix)
    names = {n for n, _ in tf1.train.list_variables(prefix)}
    self.assertEqual(names, _tutorial_names(2) | {"Model/global_step",
                                                  "Train/Model/Variable"})


if __name__ == "__main__":
  absltest.main()
