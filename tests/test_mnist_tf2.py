"""The TF2 twin of the MNIST models computes what the TF1 graphs compute.

Following TF's "validate correctness" guide (rtol 1e-6, atol 1e-5), on real
MNIST test images (``testutil.data_dir("mnist")``), for the stacked and the
bidirectional model (both merges):

* the same variables: count and shapes, and after conversion the values;
* the same logits and loss on a batch;
* from the same initial weights, 10 Adam steps (learning-rate decay and
  gradient clipping active) give the same loss at each step and the same
  weights and Adam moments after, with dropout off and on (both APIs draw
  the same masks from one seed);
* dropout where the seed's ``DropoutWrapper`` puts it: the TF2 model fed
  the masks a DropoutWrapper graph applied gives that graph's logits, and
  the same statistics where those masks cannot be read (the inner layer of
  a 2-layer stack);
* checkpoints: TF1 -> TF2 -> TF1 gives the original tensor for tensor (see
  the forget-bias note), bad input is one error line and leaves nothing;
* a tiny ``--api=tf2`` run end to end (train, checkpoint, resume, eval).

The command-line runs are started at module setup and run in parallel with
the in-process tests (each subprocess spends most of its time importing
TensorFlow).
"""

import concurrent.futures
import dataclasses
import json
import os
import shutil
import tempfile

from absl.testing import absltest
from absl.testing import parameterized
import numpy as np

from common.errors import UserError
from common.tf_compat import rnn_cell, tf, tf1
from mnist_rnn import configs
from mnist_rnn import convert_checkpoint as convert_lib
from mnist_rnn import model as model_lib
from mnist_rnn import model_tf2
from mnist_rnn import reader
from mnist_rnn import train
from mnist_rnn import train_tf2
from tests import testutil

CONVERT = "mnist_rnn/convert_checkpoint.py"
SCRIPT = "mnist_rnn/mnist_rnn.py"
RTOL, ATOL = 1e-6, 1e-5  # TF's guide.

_IMAGES = _LABELS = None  # The 10,000 real test images, float32 / one-hot.
_TMP = None  # Module temp dir: fixtures of the command-line runs.
_CLI = {}  # name -> Future of testutil.run_cli's result.
_POOL = None


def _config(model, merge="final", **changes):
  """A small LSTM config of ``model`` (the ``test`` preset's schedule)."""
  fields = dict(hidden_size=8, num_layers=2 if model == "stacked" else 1,
                bi_merge=merge, keep_prob=1.0, learning_rate=1e-2,
                lr_decay=1.0, max_grad_norm=0.0)
  fields.update(changes)
  return dataclasses.replace(configs.get_config(model, "test"), **fields)


MODELS = (("stacked", "final"), ("bidirectional", "final"),
          ("bidirectional", "seed"))


class Tf1Model:
  """A TF1 graph with its session, initialized from graph seed ``seed``;
  ``build`` makes the model (default: :class:`model_lib.MnistRnnModel`)."""

  def __init__(self, config, is_training=False, seed=1, dropout_seed=0,
               build=None):
    self.graph = tf.Graph()
    with self.graph.as_default():
      tf1.set_random_seed(seed)
      build = build or (lambda: model_lib.MnistRnnModel(
          config, is_training=is_training, dropout_seed=dropout_seed))
      self.model = build()
      self.variables = {v.op.name: v for v in tf1.global_variables()}
      init = tf1.global_variables_initializer()
    self.session = tf1.Session(graph=self.graph)
    self.session.run(init)

  def arrays(self):
    names = list(self.variables)
    return dict(zip(names, self.session.run([self.variables[n]
                                              for n in names])))

  def load(self, arrays):
    with self.graph.as_default():
      for name, value in arrays.items():
        self.variables[name].load(value, self.session)

  def run(self, fetches, images, labels, keep_prob=1.0, measurement=False):
    return self.session.run(fetches, self.model.feed(images, labels,
                                                     keep_prob, measurement))

  def close(self):
    self.session.close()


def random_biases(tf1_model, seed=0):
  """Non-zero LSTM and output biases (the initial zeros hide layout bugs)."""
  rng = np.random.default_rng(seed)
  arrays = {n: rng.normal(0.0, 0.5, a.shape).astype(np.float32)
            for n, a in tf1_model.arrays().items()
            if n.endswith(("lstm_cell/bias", "out_b"))}
  tf1_model.load(arrays)


def tf2_twin(config, tf1_model):
  """A TF2 model (and Adam) holding ``tf1_model``'s converted weights."""
  model = model_tf2.build_model(config)
  optimizer = model_tf2.build_optimizer(config, model)
  convert_lib.assign_to_model(tf1_model.arrays(), config, model, optimizer)
  return model, optimizer


def batch(start, size=32):
  return _IMAGES[start:start + size], _LABELS[start:start + size]


def _launch(name, script, *args):
  _CLI[name] = _POOL.submit(testutil.run_cli, script, *args, timeout=300)


def setUpModule():
  global _IMAGES, _LABELS, _TMP, _POOL
  images, labels = reader.load_pair(testutil.data_dir("mnist"),
                                    reader.TEST_IMAGES, reader.TEST_LABELS,
                                    verify_checksums=False)
  _IMAGES, _LABELS = reader.to_float_images(images), reader.to_one_hot(labels)
  _TMP = tempfile.mkdtemp(prefix="test_mnist_tf2.")
  _POOL = concurrent.futures.ThreadPoolExecutor(max_workers=5)
  f = _bad_input_fixtures(_TMP)
  _launch("shapes", CONVERT, "--from=tf1", "--to=tf2", f["shapes"],
          os.path.join(_TMP, "out_shapes"))
  _launch("missing", CONVERT, "--from=tf2", "--to=tf1", f["missing"],
          os.path.join(_TMP, "out_missing"))
  _launch("not_a_checkpoint", CONVERT, "--from=tf1", "--to=tf2", f["junk"],
          os.path.join(_TMP, "out_junk"))
  _launch("out_exists", CONVERT, "--from=tf1", "--to=tf2", f["good_tf1"],
          f["existing"])
  # Converting the TF1 checkpoint runs TF: the thread count must be set
  # before it (it was refused as "cannot set thread counts").
  _launch("eval_tf1_with_threads", SCRIPT, "--api=tf2", "--eval_only",
          "--checkpoint=%s" % f["good_tf1"], "--num_threads=1",
          "--model=stacked", "--config=test", "--hidden_size=4",
          "--num_layers=2", "--data_path=%s" % testutil.data_dir("mnist"))
  # --api=tf1 --eval_only of a TF2 checkpoint: the entry script converts it.
  _launch("eval_tf2_with_tf1", SCRIPT, "--api=tf1", "--eval_only",
          "--checkpoint=%s" % f["good_tf2"], "--model=stacked",
          "--config=test", "--hidden_size=4", "--num_layers=2",
          "--data_path=%s" % testutil.data_dir("mnist"))
  _launch("tf2_run", SCRIPT, "--api=tf2", "--model=bidirectional",
          "--config=test", "--keep_prob=0.5", "--seed=1",
          "--data_path=%s" % testutil.data_dir("mnist"),
          "--save_path=%s" % os.path.join(_TMP, "tf2_run"))


def tearDownModule():
  _POOL.shutdown(wait=True)
  shutil.rmtree(_TMP, ignore_errors=True)


def _bad_input_fixtures(root):
  """Checkpoints for the command-line bad-input cases."""
  h = 4
  shapes_dir = os.path.join(root, "shapes")
  # LSTM bias [4H] says H=4; a kernel [20, 16] has 20 rows, not 28 + 4.
  convert_lib.write_tf1({
      "rnn/multi_rnn_cell/cell_0/lstm_cell/kernel":
          np.zeros([20, 4 * h], np.float32),
      "rnn/multi_rnn_cell/cell_0/lstm_cell/bias": np.zeros([4 * h],
                                                           np.float32),
      "out_w": np.zeros([h, 10], np.float32),
      "out_b": np.zeros([10], np.float32)}, shapes_dir)
  # An object-based checkpoint of the LSTM layers only: no model/out.
  model = model_tf2.build_model(_config("stacked", hidden_size=h))
  missing = tf.train.Checkpoint(model=tf.train.Checkpoint(
      lstm_0=model.lstm_0, lstm_1=model.lstm_1)).write(
          os.path.join(root, "missing", "ckpt"))
  junk = os.path.join(root, "junk")
  with open(junk + ".index", "w") as f:
    f.write("not a checkpoint\n")
  good = Tf1Model(_config("stacked", hidden_size=h))
  with good.graph.as_default():
    good_tf1 = tf1.train.Saver().save(good.session,
                                      os.path.join(root, "good", "model.ckpt"))
  good.close()
  good_tf2 = convert_lib.convert(good_tf1, "tf1", "tf2",
                                 os.path.join(root, "good_tf2"))
  existing = os.path.join(root, "existing")
  os.makedirs(existing)
  return dict(shapes=shapes_dir, missing=missing, junk=junk,
              good_tf1=good_tf1, good_tf2=good_tf2, existing=existing)


class LayoutTest(parameterized.TestCase):
  """Variables: count, shapes, and where each TF1 value goes."""

  @parameterized.parameters(("stacked", 213258), ("bidirectional", 163338))
  def test_small_parameter_counts(self, model_name, count):
    config = configs.get_config(model_name, "small")
    self.assertEqual(model_tf2.build_model(config).count_params(), count)

  @parameterized.parameters("stacked", "bidirectional")
  def test_same_variables(self, model_name):
    config = _config(model_name, hidden_size=6)
    tf1_model = Tf1Model(config)
    self.addCleanup(tf1_model.close)
    with tf1_model.graph.as_default():
      weights = {v.op.name: v.shape.as_list()
                 for v in model_lib.weight_variables()}
    self.assertEqual(weights, convert_lib.tf1_shapes(config))
    model = model_tf2.build_model(config)
    tf2 = {}
    for names, layer in zip(convert_lib.lstm_names(config),
                            model.lstm_layers):
      for part in convert_lib.KERAS_PARTS:
        tf2[names.tf2 + "/" + part] = list(getattr(layer.cell, part).shape)
    tf2[convert_lib.TF2_OUT_W] = list(model.out.kernel.shape)
    tf2[convert_lib.TF2_OUT_B] = list(model.out.bias.shape)
    self.assertEqual(tf2, convert_lib.tf2_shapes(config))
    self.assertEqual(sum(np.prod(s) for s in weights.values()),
                     model.count_params())
    self.assertLen(model.trainable_variables, len(tf2))

  def test_gate_layout_and_forget_bias(self):
    # Column blocks of a TF1 kernel [in + H, 4H] marked by gate: i=1, j=2,
    # f=3, o=4; rows by origin: x rows positive, h rows negative.
    h, n_in = 2, 3
    gates = np.repeat(np.arange(1, 5, dtype=np.float32), h)
    kernel = np.concatenate([np.tile(gates, (n_in, 1)),
                             -np.tile(gates, (h, 1))])
    bias = gates / 10
    k, r, b = convert_lib.keras_lstm_from_tf1(kernel, bias, n_in,
                                              model_tf2.FORGET_BIAS)
    keras_gates = np.repeat(np.float32([1, 3, 2, 4]), h)  # i, f, c(=j), o
    np.testing.assert_array_equal(k, np.tile(keras_gates, (n_in, 1)))
    np.testing.assert_array_equal(r, -np.tile(keras_gates, (h, 1)))
    np.testing.assert_array_equal(
        b, np.float32([.1, .1, 1.3, 1.3, .2, .2, .4, .4]))  # f + 1.
    back_k, back_b = convert_lib.tf1_lstm_from_keras(k, r, b,
                                                     model_tf2.FORGET_BIAS)
    np.testing.assert_array_equal(back_k, kernel)
    np.testing.assert_allclose(back_b, bias, rtol=0, atol=2**-24)

  def test_initial_values_follow_tf1(self):
    config = _config("bidirectional", hidden_size=32)
    model = model_tf2.build_model(config, seed=5)
    fw, bw = model.lstm_layers
    limit = np.sqrt(6.0 / (28 + 32 + 4 * 32))
    for cell in (fw.cell, bw.cell):
      for w in (cell.kernel, cell.recurrent_kernel):
        self.assertLessEqual(np.abs(w.numpy()).max(), limit)
        self.assertGreater(np.abs(w.numpy()).max(), 0.95 * limit)
      # Zero bias plus TF1's forget_bias=1.0, on Keras's f block.
      np.testing.assert_array_equal(
          cell.bias.numpy(), np.repeat(np.float32([0, 1, 0, 0]), 32))
    # Each weight has its own draw (the backward layer is not a clone).
    self.assertFalse(np.array_equal(fw.cell.kernel.numpy(),
                                    bw.cell.kernel.numpy()))
    self.assertFalse(np.array_equal(fw.cell.kernel.numpy()[:32],
                                    fw.cell.recurrent_kernel.numpy()))
    out = model.out.kernel.numpy()
    self.assertLessEqual(np.abs(out).max(), 0.2)  # Truncated at 2 stddev.
    self.assertBetween(out.std(), 0.07, 0.1)
    same = model_tf2.build_model(config, seed=5)
    np.testing.assert_array_equal(same.out.kernel.numpy(),
                                  model.out.kernel.numpy())
    # The output bias as the seed's: 0.1 stacked, 0 bidirectional.
    for name, bias in (("stacked", 0.1), ("bidirectional", 0.0)):
      built = model_tf2.build_model(_config(name), seed=5)
      np.testing.assert_array_equal(built.out.bias.numpy(),
                                    np.full(10, bias, np.float32))


class ParityTest(parameterized.TestCase):
  """The same numbers from converted weights."""

  @parameterized.parameters(*MODELS)
  def test_same_logits_and_loss(self, model_name, merge):
    config = _config(model_name, merge, hidden_size=16)
    tf1_model = Tf1Model(config)
    self.addCleanup(tf1_model.close)
    random_biases(tf1_model)
    model, _ = tf2_twin(config, tf1_model)
    for name, values in convert_lib.arrays_of(config, model).items():
      np.testing.assert_allclose(values, tf1_model.arrays()[name], rtol=0,
                                 atol=2**-24, err_msg=name)
    images, labels = batch(0, 100)
    logits, loss = tf1_model.run([tf1_model.model.logits,
                                  tf1_model.model.loss], images, labels)
    tf2_logits = model(images)
    tf2_loss, _ = model_tf2.loss_and_correct(tf2_logits, labels)
    np.testing.assert_allclose(tf2_logits, logits, rtol=RTOL, atol=ATOL)
    np.testing.assert_allclose(float(tf2_loss), loss, rtol=RTOL, atol=ATOL)
    # The check has teeth: without the forget bias the numbers move.
    arrays = tf1_model.arrays()
    wrong = model_tf2.build_model(config)
    for names, layer in zip(convert_lib.lstm_names(config),
                            wrong.lstm_layers):
      parts = convert_lib.keras_lstm_from_tf1(
          arrays[names.tf1 + "/kernel"], arrays[names.tf1 + "/bias"],
          names.inputs, forget_bias=0.0)
      for part, value in zip(convert_lib.KERAS_PARTS, parts):
        getattr(layer.cell, part).assign(value)
    wrong.out.kernel.assign(arrays["out_w"])
    wrong.out.bias.assign(arrays["out_b"])
    self.assertGreater(np.abs(wrong(images) - logits).max(), 1e-3)

  @parameterized.parameters(("stacked", "final", 1.0),
                            ("bidirectional", "seed", 1.0),
                            ("stacked", "final", 0.5),
                            ("bidirectional", "final", 0.8))
  def test_ten_adam_steps(self, model_name, merge, keep_prob):
    # lr x0.5 every 4 steps and clipping at a norm the gradients exceed; with
    # keep_prob < 1 both APIs draw their masks from seed 7, and the progress
    # line's measurement (other masks) is compared after each step.
    config = _config(model_name, merge, hidden_size=16, learning_rate=1e-2,
                     lr_decay=0.5, lr_decay_steps=4, max_grad_norm=0.1,
                     keep_prob=keep_prob, progress_keep_prob=keep_prob)
    tf1_model = Tf1Model(config, is_training=True, dropout_seed=7)
    self.addCleanup(tf1_model.close)
    random_biases(tf1_model)
    model, optimizer = tf2_twin(config, tf1_model)
    steps = model_tf2.Steps(config, model, optimizer, seed=7)
    images, labels = batch(0)
    with tf.GradientTape() as tape:
      loss, _ = model_tf2.loss_and_correct(model(images), labels)
    norm = tf.linalg.global_norm(tape.gradient(loss,
                                               model.trainable_variables))
    self.assertGreater(float(norm), 2 * config.max_grad_norm)  # Clipped.
    m = tf1_model.model
    for step in range(10):
      images, labels = batch(32 * step)
      _, tf1_loss, tf1_lr = tf1_model.run(
          [m.train_op, m.loss, m.learning_rate], images, labels, keep_prob)
      self.assertAlmostEqual(steps.learning_rate(), tf1_lr, places=9)
      tf2_loss = steps.train(images, labels)
      np.testing.assert_allclose(float(tf2_loss), tf1_loss, rtol=RTOL,
                                 atol=ATOL, err_msg="step %d" % step)
      tf1_measured = tf1_model.run(m.loss, images, labels, keep_prob,
                                   measurement=True)
      _, tf2_measured = steps.measure(images, labels)
      np.testing.assert_allclose(float(tf2_measured), tf1_measured,
                                 rtol=RTOL, atol=ATOL,
                                 err_msg="measurement %d" % step)
      if keep_prob < 1:  # The measurement's masks are not the step's.
        self.assertNotAlmostEqual(tf1_measured, tf1_model.run(
            m.loss, images, labels, keep_prob), places=4)
    self.assertEqual(int(optimizer.iterations), 10)
    tf1_after = tf1_model.arrays()
    tf2_after = convert_lib.arrays_of(config, model, optimizer)
    self.assertEqual(sorted(tf2_after), sorted(tf1_after))
    for name, value in tf1_after.items():
      if "Adam" in name:  # Moments ~1e-10..1e-3: to 1e-4 of their scale.
        tol = dict(rtol=1e-4, atol=1e-4 * np.abs(value).max())
      else:
        tol = dict(rtol=RTOL, atol=ATOL)
      np.testing.assert_allclose(tf2_after[name], value, err_msg=name, **tol)


class _SeedDropoutGraph:
  """The seed's dropout, for reference: ``DropoutWrapper(output_keep_prob)``
  round every cell (what ``model.py`` built before its stateless masks),
  with ``model.py``'s variable names. ``rnn_outputs`` are the wrappers'
  outputs (stacked: the top layer's); ``feed`` is ``model.py``'s."""

  def __init__(self, config):
    self.images = tf1.placeholder(tf.float32, [None, 784])
    self.labels = tf1.placeholder(tf.float32, [None, 10])
    self.keep_prob = tf1.placeholder(tf.float32, [])
    x = tf.reshape(self.images, [-1, 28, 28])
    b = tf.shape(self.images)[0]
    wrap = lambda: rnn_cell.DropoutWrapper(model_lib.make_cell(config),
                                           output_keep_prob=self.keep_prob)
    if config.model == "stacked":
      cell = rnn_cell.MultiRNNCell([wrap()
                                    for _ in range(config.num_layers)])
      outputs, _ = tf1.nn.dynamic_rnn(
          cell, x, initial_state=cell.zero_state(b, tf.float32))
      self.rnn_outputs = outputs
      features = outputs[:, -1]
    else:
      fw, bw = wrap(), wrap()
      self.rnn_outputs, _ = tf1.nn.bidirectional_dynamic_rnn(
          fw, bw, x, initial_state_fw=fw.zero_state(b, tf.float32),
          initial_state_bw=bw.zero_state(b, tf.float32))
      bw_index = 0 if config.bi_merge == "final" else -1
      features = tf.concat([self.rnn_outputs[0][:, -1],
                            self.rnn_outputs[1][:, bw_index]], axis=1)
    out_w = tf1.get_variable("out_w", [features.shape[-1], 10])
    out_b = tf1.get_variable("out_b", [10])
    self.logits = tf.matmul(features, out_w) + out_b

  def feed(self, images, labels, keep_prob=1.0, measurement=False):
    del measurement  # DropoutWrapper draws afresh at every run.
    return {self.images: images, self.labels: labels,
            self.keep_prob: keep_prob}


def seed_dropout_graph(config):
  """A :class:`_SeedDropoutGraph` holding the weights of a fresh
  ``model.py`` graph (graph seed 1), non-zero biases."""
  reference = Tf1Model(config)
  random_biases(reference)
  arrays = reference.arrays()
  reference.close()
  graph = Tf1Model(config, build=lambda: _SeedDropoutGraph(config))
  graph.load({name: arrays[name] for name in graph.variables})
  return graph


class DropoutTest(parameterized.TestCase):
  """The seed's placement exactly; the same statistics where the seed's
  masks cannot be read."""

  @parameterized.parameters(("stacked", "final"), ("bidirectional", "final"),
                            ("bidirectional", "seed"))
  def test_seed_masks_give_seed_logits(self, model_name, merge):
    # The TF1 graph's outputs after DropoutWrapper are h * mask: where one
    # is 0 the mask was (h itself is never 0 with these biases). One layer
    # per direction, so every mask that counts is visible.
    config = _config(model_name, merge, hidden_size=16, num_layers=1,
                     keep_prob=0.5)
    tf1_model = seed_dropout_graph(config)
    self.addCleanup(tf1_model.close)
    model, _ = tf2_twin(config, tf1_model)
    images, labels = batch(0, 64)
    m = tf1_model.model
    logits, outputs = tf1_model.run([m.logits, m.rnn_outputs], images,
                                    labels, keep_prob=0.5)
    outputs = outputs if model_name == "bidirectional" else (outputs,)
    masks = [np.where(o != 0, 2.0, 0.0).astype(np.float32) for o in outputs]
    kept = np.mean([mask.mean() / 2 for mask in masks])
    self.assertBetween(kept, 0.45, 0.55)
    np.testing.assert_allclose(model(images, dropout_masks=masks), logits,
                               rtol=RTOL, atol=ATOL)
    self.assertGreater(np.abs(model(images).numpy() - logits).max(), 1e-2)

  def test_statistics_of_a_two_layer_stack(self):
    # Layer 0's masks live inside dynamic_rnn's loop: compare the logits'
    # distribution over 300 draws per API instead. Layer 0 is made to matter
    # (its kernel x3, layer 1's input rows x4), and the statistics are shown
    # to reject dropout left off either layer.
    config = _config("stacked", hidden_size=16, keep_prob=0.5)
    tf1_model = seed_dropout_graph(config)
    self.addCleanup(tf1_model.close)
    arrays = tf1_model.arrays()
    kernel_0, kernel_1 = ("rnn/multi_rnn_cell/cell_%d/lstm_cell/kernel" % l
                          for l in (0, 1))
    arrays[kernel_0] *= 3
    arrays[kernel_1][:16] *= 4
    tf1_model.load({kernel_0: arrays[kernel_0], kernel_1: arrays[kernel_1]})
    model, _ = tf2_twin(config, tf1_model)
    images, labels = batch(0, 64)
    draws = 300
    tf1_logits = np.array([tf1_model.run(tf1_model.model.logits, images,
                                         labels, 0.5) for _ in range(draws)])

    @tf.function
    def tf2_logits(step, keep_layers):
      masks = model_tf2.draw_masks(config, 7, step, 64, 0.5)
      masks = [m if keep else tf.ones_like(m)
               for m, keep in zip(masks, keep_layers)]
      return model(images, dropout_masks=masks)

    def statistics(keep_layers):
      """Mean squared z of the mean logits; mean ratio of their stds."""
      other = np.array([tf2_logits(tf.constant(s), keep_layers)
                        for s in range(draws)])
      se2 = (tf1_logits.var(0) + other.var(0)) / draws
      z2 = np.mean((tf1_logits.mean(0) - other.mean(0))**2 / se2)
      return z2, np.mean(other.std(0) / tf1_logits.std(0))

    z2, std_ratio = statistics((True, True))
    self.assertLess(z2, 2.0)  # Measured 1.07 (1 expected).
    self.assertBetween(std_ratio, 0.95, 1.05)  # Measured 0.999.
    z2, std_ratio = statistics((False, True))  # Layer 0 not dropped.
    self.assertTrue(z2 > 5 or not 0.95 < std_ratio < 1.05)  # 11.5, 0.89.
    z2, std_ratio = statistics((True, False))  # Layer 1 not dropped.
    self.assertTrue(z2 > 5 or not 0.95 < std_ratio < 1.05)  # 1.03, 0.47.

  def test_masks_are_keyed_by_seed_and_step(self):
    config = _config("stacked", hidden_size=16, keep_prob=0.8)
    draw = lambda seed, step, measurement=False: np.stack(
        model_tf2.draw_masks(config, seed, step, 32, 0.8, measurement))
    first = draw(1, 3)
    np.testing.assert_array_equal(draw(1, 3), first)
    self.assertEqual(first.shape, (2, 32, 28, 16))  # Layers, B, rows, H.
    self.assertEqual(set(np.unique(first)), {0.0, np.float32(1 / 0.8)})
    self.assertBetween((first > 0).mean(), 0.78, 0.82)
    for other in (draw(2, 3), draw(1, 4), draw(1, 3, measurement=True)):
      self.assertBetween((other != first).mean(), 0.25, 0.39)  # 2 p (1-p).
    self.assertIsNone(model_tf2.draw_masks(config, 1, 3, 32, 1.0))


class ConvertTest(parameterized.TestCase):
  """Checkpoints both ways, round trips, bad input."""

  def trained_tf1(self, config, steps=3):
    """A TF1 training checkpoint after ``steps`` Adam steps (non-zero
    biases, moments and beta powers); returns (prefix, arrays)."""
    tf1_model = Tf1Model(config, is_training=True)
    self.addCleanup(tf1_model.close)
    random_biases(tf1_model, seed=3)
    m = tf1_model.model
    for step in range(steps):
      tf1_model.run(m.train_op, *batch(32 * step))
    directory = self.create_tempdir().full_path
    with tf1_model.graph.as_default():
      prefix = tf1.train.Saver().save(
          tf1_model.session, os.path.join(directory, "model.ckpt"),
          global_step=steps, write_meta_graph=False)
    return prefix, tf1_model.arrays()

  @parameterized.parameters("stacked", "bidirectional")
  def test_round_trip_tf1_tf2_tf1(self, model_name):
    config = _config(model_name, hidden_size=8)
    prefix, original = self.trained_tf1(config)
    root = self.create_tempdir().full_path
    tf2_prefix = convert_lib.convert(prefix, "tf1", "tf2",
                                     os.path.join(root, "tf2"))
    self.assertEqual(convert_lib.checkpoint_format(tf2_prefix), "tf2")
    back = convert_lib.convert(tf2_prefix, "tf2", "tf1",
                               os.path.join(root, "tf1"))
    self.assertEqual(os.path.basename(back), "model.ckpt-3")
    ckpt = tf.train.load_checkpoint(back)
    self.assertEqual(sorted(ckpt.get_variable_to_shape_map()),
                     sorted(original))
    h = config.hidden_size
    for name, value in original.items():
      got = ckpt.get_tensor(name)
      self.assertEqual(got.dtype, value.dtype, name)
      if name.endswith("lstm_cell/bias"):  # The forget quarter: (b+1)-1.
        np.testing.assert_allclose(got, value, rtol=0, atol=2**-24)
        np.testing.assert_array_equal(np.delete(got, np.s_[2 * h:3 * h]),
                                      np.delete(value, np.s_[2 * h:3 * h]))
      else:
        np.testing.assert_array_equal(got, value, err_msg=name)
    self.assertEqual(ckpt.get_tensor("global_step"), 3)

  def test_initial_weights_round_trip_bit_for_bit(self):
    config = _config("bidirectional", hidden_size=8)
    tf1_model = Tf1Model(config, is_training=True)
    self.addCleanup(tf1_model.close)
    original = tf1_model.arrays()  # Zero biases: b + 1 - 1 == b exactly.
    root = self.create_tempdir().full_path
    convert_lib.write_tf1(original, os.path.join(root, "a"))
    tf2_prefix = convert_lib.convert(os.path.join(root, "a"), "tf1", "tf2",
                                     os.path.join(root, "b"))
    _, _, _, back = convert_lib.read_arrays(tf2_prefix)
    self.assertEqual(sorted(back), sorted(original))
    for name, value in original.items():
      np.testing.assert_array_equal(back[name], value, err_msg=name)

  def test_run_directory_converts_and_resumes_with_the_other_api(self):
    # A TF1 run paused at step 3, converted, finishes under --api=tf2 with
    # the TF1 run's data position; its config and state come along.
    config = _config("stacked", max_steps=5, checkpoint_every=3,
                     eval_every=100)
    data = small_data()
    tf1_run = self.create_tempdir().full_path
    train.train(config, data, train.RunOptions(seed=2, save_path=tf1_run,
                                               steps_this_run=3))
    out = os.path.join(self.create_tempdir().full_path, "tf2_run")
    convert_lib.convert(tf1_run, "tf1", "tf2", out)
    self.assertCountEqual(
        [f for f in os.listdir(out) if not f.startswith("model.ckpt-3")],
        ["checkpoint", "config.json", "train_state.json"])
    with open(os.path.join(out, "train_state.json")) as f:
      self.assertEqual(json.load(f)["checkpoint"], "model.ckpt-3")
    record = train_tf2.train(config, small_data(),
                             train.RunOptions(seed=2, save_path=out))
    self.assertEqual(record["step"], 5)
    self.assertEqual(record["api"], "tf2")
    with self.assertRaisesRegex(UserError, "holds tf1 .* train it with "
                                "--api=tf1"):
      train_tf2.train(config, small_data(),
                      train.RunOptions(save_path=tf1_run))
    # And the other way: the TF1 trainer named the 15 variables it missed.
    with self.assertRaisesRegex(UserError, "holds tf2 .* train it with "
                                "--api=tf2, or convert its last checkpoint "
                                r"\(python -m mnist_rnn.convert_checkpoint "
                                "--from=tf2 --to=tf1"):
      train.train(config, small_data(), train.RunOptions(save_path=out))

  def test_bad_input_in_process(self):
    root = self.create_tempdir().full_path
    text = os.path.join(root, "notes.txt")
    with open(text, "w") as f:
      f.write("hello\n")
    prefix, arrays = self.trained_tf1(_config("stacked"), steps=1)
    out = os.path.join(root, "out")
    cases = [
        ((text, "tf1", "tf2", out), "notes.txt is not a readable TF "),
        ((os.path.join(root, "nothing"), "tf1", "tf2", out),
         "no checkpoint at .*nothing"),
        ((prefix, "tf2", "tf1", out), "is a tf1 .* not --from=tf2"),
        ((prefix, "tf1", "tf1", out), "both tf1"),
        ((prefix, "tf1", "tf2", root), "exists; expected a path"),
    ]
    partial = dict(arrays)
    del partial["out_b/Adam_1"]
    convert_lib.write_tf1(partial, os.path.join(root, "partial"))
    cases.append(((os.path.join(root, "partial"), "tf1", "tf2", out),
                  r"incomplete Adam state \(out_b/Adam_1 missing\)"))
    gru = {n.replace("lstm_cell", "gru_cell/gates"): a
           for n, a in arrays.items() if "Adam" not in n}
    convert_lib.write_tf1(gru, os.path.join(root, "gru"))
    cases.append(((os.path.join(root, "gru"), "tf1", "tf2", out),
                  "it has GRU cells"))
    for args, needle in cases:
      with self.assertRaisesRegex(UserError, needle):
        convert_lib.convert(*args)
    self.assertFalse(os.path.exists(out))
    self.assertEqual(sorted(os.listdir(root)),
                     ["gru", "notes.txt", "partial"])  # No temp dirs left.

  @parameterized.parameters(
      ("shapes", "rnn/multi_rnn_cell/cell_0/lstm_cell/kernel is [20, 16], "
       "the model's [32, 16]"),
      ("missing", "model/out/_kernel missing; model/out/bias missing"),
      ("not_a_checkpoint", "is not a readable TF checkpoint"),
      ("out_exists", "exists; expected a path that does not exist yet"))
  def test_bad_input_is_one_line_and_writes_nothing(self, case, needle):
    result = _CLI[case].result()
    testutil.assert_one_line_error(self, result, needle)
    self.assertEqual(result.returncode, 2)
    self.assertFalse(os.path.exists(os.path.join(_TMP, "out_" + case)))
    self.assertEqual(os.listdir(os.path.join(_TMP, "existing")), [])
    self.assertEqual([f for f in os.listdir(_TMP) if ".tmp-" in f], [])


def small_data(seed=0):
  """Real test images split into train 512 / validation 128 / test 256."""
  def take(start, n, shuffle):
    images = np.round(_IMAGES[start:start + n] * 255).astype(np.uint8)
    return reader.DataSet(images.reshape(n, 28, 28),
                          _LABELS[start:start + n].argmax(1),
                          seed=seed, shuffle=shuffle)
  return reader.DataSets(train=take(0, 512, True),
                         validation=take(512, 128, False),
                         test=take(640, 256, False))


class EndToEndTest(parameterized.TestCase):
  """``--api=tf2``: train, checkpoint, resume, evaluate."""

  def test_pause_resume_is_exact_with_dropout(self):
    config = _config("bidirectional", keep_prob=0.5, max_steps=6,
                     checkpoint_every=3, eval_every=3)
    straight_dir = self.create_tempdir().full_path
    paused_dir = self.create_tempdir().full_path
    straight = train_tf2.train(config, small_data(), train.RunOptions(
        seed=4, save_path=straight_dir))
    first = train_tf2.train(config, small_data(), train.RunOptions(
        seed=4, save_path=paused_dir, steps_this_run=4))
    self.assertFalse(first["finished"])
    # A new process: fresh data sets; the seed comes from the run.
    resumed = train_tf2.train(config, small_data(seed=99), train.RunOptions(
        save_path=paused_dir))
    self.assertEqual(resumed["step"], 6)
    self.assertEqual(resumed["seed"], 4)
    self.assertEqual(resumed["test_accuracy"], straight["test_accuracy"])
    self.assertEqual(resumed["test_loss"], straight["test_loss"])
    a = tf.train.load_checkpoint(os.path.join(straight_dir, "model.ckpt-6"))
    b = tf.train.load_checkpoint(os.path.join(paused_dir, "model.ckpt-6"))
    names = sorted(a.get_variable_to_shape_map())
    self.assertEqual(names, sorted(b.get_variable_to_shape_map()))
    for name in names:  # All but the object graph and how often it saved.
      if not name.startswith(("_CHECKPOINTABLE_OBJECT_GRAPH", "save_counter")):
        np.testing.assert_array_equal(a.get_tensor(name), b.get_tensor(name),
                                      err_msg=name)
    evaluated = train_tf2.evaluate(config, small_data(), paused_dir)
    self.assertEqual(evaluated["step"], 6)
    self.assertEqual(evaluated["test_accuracy"], resumed["test_accuracy"])
    with self.assertRaisesRegex(UserError, "started with --seed=4"):
      train_tf2.train(config, small_data(), train.RunOptions(
          seed=5, save_path=paused_dir))

  def test_eval_only_reads_either_format(self):
    config = _config("stacked", max_steps=3, checkpoint_every=3,
                     eval_every=100)
    tf1_dir = self.create_tempdir().full_path
    record = train.train(config, small_data(), train.RunOptions(
        seed=1, save_path=tf1_dir))
    with self.assertLogs(level="INFO") as logs:
      tf2_eval = train_tf2.evaluate(config, small_data(), tf1_dir)
    self.assertTrue(any("is a tf1 (name-based" in line
                        for line in logs.output))
    self.assertEqual(tf2_eval["step"], 3)
    self.assertEqual(tf2_eval["test_accuracy"], record["test_accuracy"])
    tf2_dir = os.path.join(self.create_tempdir().full_path, "tf2")
    convert_lib.convert(tf1_dir, "tf1", "tf2", tf2_dir)
    with convert_lib.in_format(tf2_dir, "tf1") as path:
      tf1_eval = train.evaluate(config, small_data(), path)
    self.assertEqual(tf1_eval["test_accuracy"], record["test_accuracy"])

  def test_eval_only_with_api_tf1_of_a_tf2_checkpoint(self):
    # The entry script's conversion (the in-process test above does its own).
    result = _CLI["eval_tf2_with_tf1"].result()
    self.assertEqual(result.returncode, 0, result.stderr)
    self.assertIn("is a tf2 (", result.stderr)
    self.assertIn("Converted to tf1", result.stderr)
    self.assertRegex(result.stderr, r"test accuracy 0\.\d+")

  def test_eval_only_of_a_tf1_checkpoint_with_a_thread_count(self):
    result = _CLI["eval_tf1_with_threads"].result()
    self.assertEqual(result.returncode, 0, result.stderr)
    self.assertIn("is a tf1 (name-based", result.stderr)
    self.assertRegex(result.stderr, r"test accuracy 0\.\d+")

  def test_command_line_run(self):
    result = _CLI["tf2_run"].result()
    self.assertEqual(result.returncode, 0, result.stderr)
    self.assertIn("API: tf2", result.stderr)
    self.assertRegex(result.stderr, r"epochs_completed 0 step 2/6: minibatch "
                     r"accuracy 0\.\d+ loss \d\.\d+ \(keep_prob 1\) lr 0\.01")
    self.assertRegex(result.stderr, r"test accuracy 0\.\d+ .*all 10000 test")
    save_path = os.path.join(_TMP, "tf2_run")
    with open(os.path.join(save_path, "metrics.json")) as f:
      record = json.load(f)
    self.assertEqual((record["api"], record["step"], record["seed"]),
                     ("tf2", 6, 1))
    self.assertTrue(os.path.exists(os.path.join(save_path,
                                                "model.ckpt-3.index")))
    self.assertTrue(any(f.startswith("events.out.tfevents") for f in
                        os.listdir(os.path.join(save_path, "tensorboard"))))
    # The checkpoint it wrote evaluates to the accuracy it reported.
    saved = train_tf2.evaluate(
        configs.MnistRnnConfig(**record["config"]),
        reader.DataSets(train=None, validation=small_data().validation,
                        test=reader.DataSet(
                            np.round(_IMAGES * 255).astype(np.uint8).reshape(
                                -1, 28, 28), _LABELS.argmax(1),
                            shuffle=False)), save_path)
    self.assertEqual(saved["test_accuracy"], record["test_accuracy"])


if __name__ == "__main__":
  absltest.main()
