"""rnn_mode (basic / block / fused), the fast Test pass, tutorial checkpoints.

Every mode builds the same variables and computes the same math; the fast
Test pass makes the tutorial's batch-1, one-word-per-run predictions; and
checkpoints written by the tutorial's own graph (BASIC and BLOCK names) load.
"""

import dataclasses
import os

from absl.testing import absltest
from absl.testing import parameterized
import numpy as np

from common import bench
from common import session as session_lib
from common.errors import UserError
from common.tf_compat import tf, tf1
from ptb import configs
from ptb import model as model_lib
from ptb import reader
from ptb import train
from tests import testutil
from ptb import tutorial_reference as tutorial_ptb
from tests.test_ptb_train import TINY, write_tiny_corpus

MODES = model_lib.RNN_MODES
SMALLISH = dataclasses.replace(
    configs.CONFIGS.get("small"), hidden_size=24, vocab_size=50,
    num_steps=7, batch_size=3, keep_prob=0.5, max_grad_norm=0.5)


def _build(cfg, mode, seed=1, precision="fp32"):
  return session_lib.build_graph(
      lambda: model_lib.build_models(cfg, configs.eval_config(cfg),
                                     dropout_seed=3, rnn_mode=mode,
                                     precision=precision), seed)


def _train_steps(cfg, mode, weights, steps=10, precision="fp32"):
  """Costs of ``steps`` SGD steps (state carried) and the weights after."""
  graph, m = _build(cfg, mode, precision=precision)
  rng = np.random.default_rng(0)
  with graph.as_default(), session_lib.make_session(graph) as sess:
    sess.run(tf1.global_variables_initializer())
    for v in model_lib.weight_variables():
      v.load(weights[v.op.name], sess)
    m.train.assign_lr(sess, 1.0)
    state = sess.run(m.train.initial_state)
    costs = []
    for _ in range(steps):
      shape = (cfg.batch_size, cfg.num_steps)
      feed = {m.train.input_data: rng.integers(0, cfg.vocab_size, shape),
              m.train.targets: rng.integers(0, cfg.vocab_size, shape)}
      feed.update(model_lib.state_feed(m.train.initial_state, state))
      out = sess.run({"cost": m.train.cost, "state": m.train.final_state,
                      "op": m.train.train_op}, feed)
      costs.append(out["cost"])
      state = out["state"]
    after = {v.op.name: sess.run(v) for v in model_lib.weight_variables()}
  return np.array(costs), after


def _initial_weights(cfg):
  graph, _ = _build(cfg, "basic")
  with graph.as_default(), session_lib.make_session(graph) as sess:
    sess.run(tf1.global_variables_initializer())
    return {v.op.name: sess.run(v) for v in model_lib.weight_variables()}


class ModesTest(parameterized.TestCase):

  @parameterized.parameters("block", "fused")
  def test_same_variables_as_basic(self, mode):
    shapes = {}
    for m in ("basic", mode):
      graph, _ = _build(SMALLISH, m)
      with graph.as_default():
        shapes[m] = {v.op.name: v.shape.as_list()
                     for v in tf1.global_variables()}
    self.assertEqual(shapes["basic"], shapes[mode])

  @parameterized.parameters("block", "fused")
  def test_same_training_as_basic_with_dropout_and_clipping(self, mode):
    weights = _initial_weights(SMALLISH)
    base_costs, base_after = _train_steps(SMALLISH, "basic", weights)
    costs, after = _train_steps(SMALLISH, mode, weights)
    np.testing.assert_allclose(costs, base_costs, rtol=1e-6, atol=1e-5)
    for name, value in base_after.items():
      np.testing.assert_allclose(after[name], value, rtol=1e-6, atol=1e-5,
                                 err_msg=name)
    # Training moved the weights (the comparison is not of idle copies).
    moved = max(np.abs(base_after[n] - weights[n]).max() for n in weights)
    self.assertGreater(moved, 1e-3)


class PrecisionTest(parameterized.TestCase):
  """--precision=bf16: the fused Train graph's matmuls in bfloat16 only."""

  def test_bf16_matmuls_are_the_train_graphs_only(self):
    graph, _ = _build(SMALLISH, "fused", precision="bf16")
    bf16 = [op.name for op in graph.get_operations()
            if op.type == "MatMul" and op.get_attr("T") == tf.bfloat16]
    self.assertTrue(all(n.startswith("Train/") for n in bf16), bf16)
    # Forward: per layer the input projection and one recurrent product per
    # step, then the softmax layer; gradients add their own.
    layers, steps = SMALLISH.num_layers, SMALLISH.num_steps
    forward = [n for n in bf16 if "gradients" not in n]
    self.assertLen(forward, layers * (1 + steps) + 1)
    self.assertGreater(len(bf16), 2 * len(forward))

  def test_bf16_trains_like_fp32_to_bf16_rounding(self):
    weights = _initial_weights(SMALLISH)
    fp32_costs, fp32_after = _train_steps(SMALLISH, "fused", weights)
    costs, after = _train_steps(SMALLISH, "fused", weights, precision="bf16")
    # bfloat16 keeps 8 bits of mantissa (relative rounding 2**-9 = 0.002).
    # Measured here: costs within 4e-6 relative (small logits), weights
    # within 0.5% of how far training moved them; not equal (bf16 did run).
    np.testing.assert_allclose(costs, fp32_costs, rtol=1e-4)
    diff = max(np.abs(after[n] - v).max() for n, v in fp32_after.items())
    moved = max(np.abs(v - weights[n]).max() for n, v in fp32_after.items())
    self.assertGreater(diff, 1e-6)
    self.assertLess(diff, 0.02 * moved)

  @parameterized.parameters("basic", "block")
  def test_bf16_is_refused_outside_fused(self, mode):
    with self.assertRaisesRegex(ValueError, "fused training graph only"):
      _build(SMALLISH, mode, precision="bf16")

  def test_cpu_without_native_bf16_is_refused(self):
    plain = {"model": "Some CPU", "flags": ["avx2", "fma"]}
    with self.assertRaisesRegex(UserError,
                                "Some CPU.*neither amx_bf16 nor avx512_bf16"):
      bench.require_native_bf16(plain)
    bench.require_native_bf16({"model": "x", "flags": ["amx_bf16"]})
    bench.require_native_bf16({"model": "x", "flags": ["avx512_bf16"]})

  def test_cli_combinations_are_one_line_errors(self):
    cases = [("--precision=bf16",), ("--precision=bf16", "--rnn_mode=block"),
             ("--precision=bf16", "--api=tf2")]
    needles = ["needs --rnn_mode=fused (got basic)",
               "needs --rnn_mode=fused (got block)",
               "--precision apply to --api=tf1 only"]
    results = testutil.run_clis("ptb/ptb_word_lm.py",
                                [("--model=test",) + c for c in cases])
    for result, needle in zip(results, needles):
      testutil.assert_one_line_error(self, result, needle)


class FastTestPassTest(absltest.TestCase):

  def test_equals_the_tutorial_loop_on_the_real_test_set(self):
    # A random model, one layer of 8 units: the tutorial's loop (one
    # session.run per word) over the 82,430 words stays short.
    cfg = dataclasses.replace(configs.CONFIGS.get("small"), hidden_size=8,
                              num_layers=1, init_scale=0.5)
    test_data = reader.load(testutil.data_dir("ptb")).test
    graph, m = _build(cfg, "basic")
    with graph.as_default(), session_lib.make_session(graph) as sess:
      sess.run(tf1.global_variables_initializer())
      fast = train.test_pass(sess, m, test_data, "fast")
      slow = train.test_pass(sess, m, test_data, "tutorial")
    self.assertAlmostEqual(fast.perplexity, slow.perplexity,
                           delta=1e-4 * slow.perplexity)
    self.assertGreater(slow.perplexity, 100)  # A random model: near-uniform.

  def test_the_last_short_chunk_is_scored(self):
    cfg = dataclasses.replace(TINY, num_layers=1)
    data = np.random.default_rng(1).integers(0, cfg.vocab_size, 2345)
    graph, m = _build(cfg, "basic")
    with graph.as_default(), session_lib.make_session(graph) as sess:
      sess.run(tf1.global_variables_initializer())
      whole = train.run_stream(sess, m.test_fast, data, chunk=10000)
      chunked = train.run_stream(sess, m.test_fast, data, chunk=1000)
      dropped_tail = train.run_stream(sess, m.test_fast, data[:2001],
                                      chunk=1000)
    self.assertAlmostEqual(whole.perplexity, chunked.perplexity, places=4)
    self.assertNotAlmostEqual(whole.perplexity, dropped_tail.perplexity,
                              places=4)


  def test_pieces_shorter_than_the_pipeline_equal_the_tutorial_loop(self):
    # The scoring graph cuts a chunk into TIME_PIECES pieces (some empty
    # when the chunk is shorter): every chunk length gives the loop's
    # numbers, with both layers' state carried.
    cfg = TINY
    self.assertGreater(cfg.num_layers, 1)
    data = np.random.default_rng(2).integers(0, cfg.vocab_size, 61)
    graph, m = _build(cfg, "basic")
    with graph.as_default(), session_lib.make_session(graph) as sess:
      sess.run(tf1.global_variables_initializer())
      loop = train.test_pass(sess, m, data, "tutorial").perplexity
      for chunk in (1, 3, model_lib.TIME_PIECES - 1, model_lib.TIME_PIECES,
                    2 * model_lib.TIME_PIECES + 3, 60):
        fast = train.run_stream(sess, m.test_fast, data, chunk=chunk)
        self.assertAlmostEqual(fast.perplexity / loop, 1.0, delta=1e-6,
                               msg=chunk)


class CrossModeCheckpointTest(parameterized.TestCase):
  """A run of one ``--rnn_mode`` is evaluated in the others (README: "each
  reads the others' checkpoints")."""

  @parameterized.parameters(*MODES)
  def test_a_run_of_one_mode_evaluates_alike_in_the_others(self, mode):
    data = write_tiny_corpus(self.create_tempdir("data").full_path)
    run_dir = self.create_tempdir("run").full_path
    record = train.train("test", dataclasses.replace(TINY, max_max_epoch=1),
                         data, train.RunOptions(seed=1, save_path=run_dir,
                                                rnn_mode=mode))
    valid = record["epochs"][-1]["valid_perplexity"]
    for other in MODES:
      if other != mode:
        result = train.evaluate("test", TINY, data, run_dir,
                                train.RunOptions(rnn_mode=other))
        self.assertAlmostEqual(result["valid"], valid, delta=1e-5 * valid,
                               msg=other)
        self.assertAlmostEqual(result["test"], record["test_perplexity"],
                               delta=1e-5 * record["test_perplexity"],
                               msg=other)


class TutorialCheckpointTest(parameterized.TestCase):
  """Checkpoints written by the tutorial's graph, both of its namings."""

  def setUp(self):
    super().setUp()
    self.data = write_tiny_corpus(self.create_tempdir("data").full_path)
    self.prefix = os.path.join(self.create_tempdir("ckpt").full_path,
                               "model.ckpt")

  @parameterized.product(tutorial_mode=("BASIC", "BLOCK"), rnn_mode=MODES)
  def test_eval_only_reads_it_into_every_mode(self, tutorial_mode, rnn_mode):
    tutorial_ptb.write_checkpoint(TINY, tutorial_mode, self.prefix)
    expected = tutorial_ptb.perplexity(
        TINY, tutorial_mode, self.prefix, reader.load(self.data).valid)
    result = train.evaluate("test", TINY, self.data, self.prefix,
                            train.RunOptions(rnn_mode=rnn_mode))
    self.assertAlmostEqual(result["valid"], expected, delta=1e-5 * expected)

  def test_a_tutorial_run_directory_is_adopted_at_epoch_one(self):
    run_dir = os.path.dirname(self.prefix)
    tutorial_ptb.write_checkpoint(TINY, "BLOCK", self.prefix)
    with self.assertLogs(level="INFO") as logs:
      record = train.train("test", dataclasses.replace(TINY, max_max_epoch=1),
                           self.data, train.RunOptions(seed=1,
                                                       save_path=run_dir))
    self.assertTrue(any("without train_state.json" in line
                        for line in logs.output))
    self.assertLen(record["epochs"], 1)


if __name__ == "__main__":
  absltest.main()
