"""PTB inference (ptb/inference.py): sampling, scoring, SavedModel export.

A tiny model is trained once (``ptb.train.train`` on the tiny corpus of
``test_ptb_train``, plus ``<unk>`` lines) and shared by the tests; the
original tutorial's checkpoints are written here by the tutorial's own BASIC
graph.
"""

import concurrent.futures
import dataclasses
import json
import math
import os
import shutil
import subprocess
import sys
import tempfile
from unittest import mock

from absl.testing import absltest
from absl.testing import parameterized
import numpy as np

from common import checkpoint as ckpt_lib
from common import session as session_lib
from common.errors import UserError
from common.tf_compat import tf, tf1
from ptb import configs
from ptb import inference
from ptb import model as model_lib
from ptb import reader
from ptb import train
from ptb import tutorial_reference
from tests import testutil
from tests.test_ptb_train import TINY, write_tiny_corpus

UNK_LINE = " the <unk> ate the fish "  # PTB's rare words are <unk> already.
CONFIG = dataclasses.replace(TINY, max_max_epoch=2)
_SHARED = {}  # The trained run, written once for all tests (setUpModule).


def write_corpus(directory):
  """The tiny corpus in PTB's line format, with ``<unk>`` in training."""
  write_tiny_corpus(directory)
  for name in reader.FILES.values():
    path = os.path.join(directory, name)
    with open(path) as f:
      lines = [" %s " % line.strip() for line in f.read().splitlines()]
    if name == reader.FILES["train"]:
      lines += [UNK_LINE] * 20
    with open(path, "w") as f:
      f.write("".join(line + "\n" for line in lines))
  return directory


def setUpModule():
  root = tempfile.mkdtemp(prefix="ptb_inference_test")
  data = os.path.join(root, "data")
  os.makedirs(data)
  write_corpus(data)
  run_dir = os.path.join(root, "run")
  train.train("test", CONFIG, data, train.RunOptions(
      seed=3, save_path=run_dir, checkpoint_every_secs=0))
  _SHARED.update(root=root, data=data, run=run_dir,
                 vocab=inference.load_vocabulary(data))


def tearDownModule():
  shutil.rmtree(_SHARED["root"], ignore_errors=True)


def _open_lm():
  return inference.open_model(_SHARED["run"], "small", _SHARED["vocab"])


def write_tutorial_checkpoint(prefix, config, words, mode="BASIC"):
  """Saves the original tutorial's graph (``ptb.tutorial_reference``, built
  the tutorial's way, in ``mode`` BASIC or BLOCK) to ``prefix``.

  Returns:
    That graph's log-probabilities after each of ``words`` [T, vocab_size],
    one stream from the zero state.
  """
  config = dataclasses.replace(config, init_scale=0.5)  # Far from uniform.
  tutorial_reference.write_checkpoint(config, mode, prefix)
  stream = dataclasses.replace(config, batch_size=1, num_steps=len(words))
  with tf.Graph().as_default():
    with tf1.variable_scope("Model"):
      m = tutorial_reference.build(stream, mode, is_training=True)
    with tf1.Session() as session:
      tf1.train.Saver(tf1.trainable_variables()).restore(session, prefix)
      logits = session.run(m["logits"], {m["input_data"]: [words]})
  return _log_softmax(logits[0])


def _log_softmax(logits):
  shifted = logits - logits.max(axis=-1, keepdims=True)
  return shifted - np.log(np.exp(shifted).sum(axis=-1, keepdims=True))


class VocabularyTest(absltest.TestCase):

  def test_trained_vocabulary(self):
    vocab = _SHARED["vocab"]
    self.assertLen(vocab, 18)  # 16 words, <eos>, <unk>.
    self.assertEqual(vocab.words[:3], ("the", "<eos>", "a"))
    self.assertEqual(vocab.start_id, 1)

  def test_oov_words_become_unk(self):
    vocab = inference.Vocabulary(("the", "<eos>", "<unk>", "cat"))
    ids, oov = vocab.encode(["the", "zebra", "cat", "zebra", "gnu"])
    self.assertEqual(ids, [0, 2, 3, 2, 2])
    self.assertEqual(oov, ["zebra", "zebra", "gnu"])

  def test_oov_without_unk_is_refused(self):
    vocab = inference.Vocabulary(("the", "<eos>"))
    with self.assertRaisesRegex(UserError, r"not in the vocabulary \(zebra\)"):
      vocab.encode(["the", "zebra", "zebra"])

  def test_vocabulary_without_eos_is_refused(self):
    with self.assertRaisesRegex(UserError, "no <eos>"):
      _ = inference.Vocabulary(("the", "cat<eos>")).start_id

  def test_larger_than_the_model_is_refused(self):
    with self.assertRaisesRegex(UserError, "has 18 words but the model has "
                                "vocab_size=10"):
      inference.check_vocabulary(_SHARED["vocab"],
                                 dataclasses.replace(CONFIG, vocab_size=10))


class TextTest(absltest.TestCase):

  def test_eos_is_a_line_break(self):
    self.assertEqual(inference.format_text(
        ["a", "b", "<eos>", "<eos>", "c", "<eos>"]), "a b\n\nc")
    self.assertEqual(inference.format_text(["a", "<eos>", "b"]), "a\nb")

  def test_lines_of_tokens(self):
    text = " the cat\n\nmy zebra ate \nthe end"  # No newline at the end.
    tokens = reader.split_words(text, spaced_eos=True)
    lines = inference.split_lines(tokens)
    self.assertEqual(lines, [["the", "cat", "<eos>"], ["<eos>"],
                             ["my", "zebra", "ate", "<eos>"],
                             ["the", "end"]])
    self.assertEqual(sum(lines, []), tokens)

  def test_read_text_errors(self):
    directory = self.create_tempdir().full_path
    empty = os.path.join(directory, "empty.txt")
    latin1 = os.path.join(directory, "latin1.txt")
    open(empty, "w").close()
    blank = os.path.join(directory, "blank.txt")
    with open(blank, "w") as f:
      f.write(" \n\t\n")  # Was scored as two <eos> "lines".
    with open(latin1, "wb") as f:
      f.write(b"caf\xe9 au lait\n")
    for path, needle in ((empty, "holds no words"),
                         (blank, "holds no words, only 2 line end"),
                         (latin1, "not UTF-8"),
                         (os.path.join(directory, "nope.txt"),
                          "No such file")):
      with self.subTest(path=path):
        with self.assertRaisesRegex(UserError, needle):
          inference.read_text(path)


class SamplingProbsTest(absltest.TestCase):

  def test_softmax_at_temperature_over_the_vocabulary(self):
    log_probs = np.log(np.array([0.5, 0.25, 0.125, 0.125], np.float32))
    np.testing.assert_allclose(inference.sampling_probs(log_probs, 1.0, 4),
                               [0.5, 0.25, 0.125, 0.125], rtol=1e-6)
    # T = 0.5 squares the probabilities (then renormalizes).
    np.testing.assert_allclose(inference.sampling_probs(log_probs, 0.5, 4),
                               np.array([16, 4, 1, 1]) / 22, rtol=1e-6)
    # Ids past the vocabulary (vocab_size > words) get no mass.
    np.testing.assert_allclose(inference.sampling_probs(log_probs, 1.0, 2),
                               [2 / 3, 1 / 3], rtol=1e-6)

  def test_temperature_must_be_positive(self):
    for t in (0.0, -1.0, float("nan"), float("inf")):
      with self.subTest(t=t):
        with self.assertRaisesRegex(UserError, "--temperature must be > 0"):
          inference.sampling_probs(np.zeros(3), t, 3)


class GenerateTest(absltest.TestCase):

  @classmethod
  def setUpClass(cls):
    super().setUpClass()
    cls.lm = _open_lm()
    cls.vocab = _SHARED["vocab"]

  @classmethod
  def tearDownClass(cls):
    cls.lm.close()
    super().tearDownClass()

  def _generate(self, **kw):
    args = dict(num_words=30, temperature=1.0, seed=11, prime="")
    args.update(kw)
    return inference.generate(self.lm, self.vocab, **args)

  def test_same_seed_same_text_other_seed_other_text(self):
    a, b = self._generate(seed=11), self._generate(seed=11)
    self.assertLen(a.words, 30)
    self.assertEqual(a.words, b.words)
    self.assertNotEqual(self._generate(seed=12).words, a.words)
    self.assertTrue(set(a.words) <= set(self.vocab.words))

  def test_unseeded_run_logs_a_seed_that_repeats_it(self):
    with self.assertLogs(level="INFO") as logs:
      first = self._generate(seed=None)
    self.assertIn("Seed %d drawn at random" % first.seed, "\n".join(
        logs.output))
    self.assertEqual(self._generate(seed=first.seed).words, first.words)

  def test_cold_sampling_is_the_greedy_path(self):
    sample = self._generate(temperature=1e-4, prime="the cat", num_words=12)
    log_probs, state = self.lm.feed(
        [self.vocab.start_id] + [self.vocab.word_to_id[w]
                                 for w in ("the", "cat")])
    greedy = []
    for _ in range(12):
      greedy.append(int(np.argmax(log_probs[:len(self.vocab)])))
      log_probs, state = self.lm.step(greedy[-1], state)
    self.assertEqual(sample.words, [self.vocab.words[i] for i in greedy])
    self.assertEqual(sample.prime, ["the", "cat"])

  def test_oov_prime_words_are_fed_as_unk_and_named(self):
    with self.assertLogs(level="WARNING") as logs:
      sample = self._generate(prime="the zebra ate gnu zebra")
    self.assertEqual(sample.prime, ["the", "<unk>", "ate", "<unk>", "<unk>"])
    self.assertEqual(sample.oov, ["zebra", "gnu", "zebra"])
    self.assertIn("fed as <unk>: zebra, gnu", logs.output[0])
    # The OOV prime is the <unk> prime.
    self.assertEqual(self._generate(prime="the <unk> ate <unk> <unk>").words,
                     sample.words)

  def test_bad_arguments(self):
    with self.assertRaisesRegex(UserError, "--temperature must be > 0"):
      self._generate(temperature=0.0)
    with self.assertRaisesRegex(UserError, "--temperature must be > 0"):
      self._generate(temperature=-0.5)
    with self.assertRaisesRegex(UserError, "--words must be at least 1"):
      self._generate(num_words=0)

  def test_log_probs_are_the_models_cost(self):
    # -log_probs[target] is the Test model's own cross-entropy.
    m, vocab = self.lm.model, self.vocab
    state = self.lm.zero_state()
    ids = [vocab.word_to_id[w] for w in "<eos> the cat sat on".split()]
    for word, target in zip(ids, ids[1:]):
      feed = {m.input_data: [[word]], m.targets: [[target]]}
      feed.update(model_lib.state_feed(m.initial_state, state))
      cost, log_probs, state = self.lm.session.run(
          (m.cost, self.lm.log_probs, m.final_state), feed)
      self.assertAlmostEqual(float(cost), -float(log_probs[0, target]),
                             delta=1e-5)
      self.assertAlmostEqual(float(np.exp(log_probs).sum()), 1.0, delta=1e-5)


class ScoreTest(absltest.TestCase):

  TEXT = (" the cat sat on the mat\n my zebra ate the fish \n\n"
          "a dog ran gnu zebra")  # A blank line; no newline at the end.

  @classmethod
  def setUpClass(cls):
    super().setUpClass()
    cls.vocab = _SHARED["vocab"]
    cls.tokens = reader.split_words(cls.TEXT, spaced_eos=True)
    with _open_lm() as lm:
      cls.scores = inference.score(lm, cls.vocab, cls.tokens)

  def test_lines_and_oov_counts(self):
    s = self.scores
    self.assertEqual([len(l.tokens) for l in s.lines], [7, 6, 1, 5])
    self.assertEqual([l.oov for l in s.lines], [0, 1, 0, 2])
    self.assertEqual(s.num_tokens, len(self.tokens))
    self.assertEqual(s.oov_words, {"zebra": 2, "gnu": 1})
    self.assertEqual(s.num_oov, 3)

  def test_total_is_the_token_weighted_geometric_mean_of_lines(self):
    s = self.scores
    combined = math.exp(sum(len(l.tokens) * math.log(l.perplexity)
                            for l in s.lines) / s.num_tokens)
    self.assertAlmostEqual(combined, s.perplexity, delta=1e-9 * s.perplexity)
    self.assertGreater(max(l.perplexity for l in s.lines), s.perplexity)
    self.assertLess(min(l.perplexity for l in s.lines), s.perplexity)

  def test_total_is_the_test_models_perplexity_from_run_epoch(self):
    # The same tokens (OOV as <unk>, after <eos>) through the training
    # code's own Test graph and pass.
    ids, _ = self.vocab.encode(self.tokens)
    data = [self.vocab.start_id] + ids
    graph, models = session_lib.build_graph(
        lambda: model_lib.build_models(CONFIG, configs.eval_config(CONFIG)))
    with graph.as_default(), session_lib.make_session(graph) as session:
      ckpt_lib.restore_weights(session, _SHARED["run"],
                               model_lib.weight_variables())
      result = train.run_epoch(session, models.test, data, name="text")
    self.assertAlmostEqual(result.perplexity, self.scores.perplexity,
                           delta=1e-5 * result.perplexity)
    self.assertGreater(result.perplexity, 1.5)

  def test_a_diverged_model_is_a_clear_error(self):
    # A loss of 1e29 nats (finite) made exp() overflow in the table.
    for nll in (1e29, float("nan")):
      with mock.patch.object(inference, "token_nlls",
                             lambda *unused, v=nll: [1.0, v, 2.0]):
        with self.assertRaisesRegex(UserError, "did the checkpoint diverge"):
          inference.score(None, self.vocab, ["the", "cat", "sat"])

  def test_table(self):
    table = inference.format_scores(self.scores).splitlines()
    self.assertEqual(table[0], "line\ttokens\toov\tperplexity\ttext")
    self.assertEqual(table[2].split("\t")[:3], ["2", "6", "1"])
    self.assertEqual(table[2].split("\t")[4], "my zebra ate the fish")
    self.assertEqual(table[-1], "total\t19\t3\t%.3f\t4 lines; 3 OOV word(s) "
                     "mapped to <unk>: zebra x2, gnu x1"
                     % self.scores.perplexity)


class TutorialCheckpointTest(parameterized.TestCase):
  """Checkpoints written by the original tutorial's graph, both modes."""

  @parameterized.parameters(("BASIC", "basic_lstm_cell"),
                            ("BLOCK", "lstm_cell"))
  def test_same_log_probs_as_the_tutorials_graph(self, mode, cell_name):
    config = dataclasses.replace(CONFIG, hidden_size=8, vocab_size=18)
    words = [1, 0, 3, 15, 11, 0, 9, 1, 17, 4]
    prefix = os.path.join(self.create_tempdir().full_path, "model.ckpt")
    expected = write_tutorial_checkpoint(prefix, config, words, mode)
    names = dict(tf1.train.list_variables(prefix))
    self.assertIn("Model/RNN/multi_rnn_cell/cell_1/%s/kernel" % cell_name,
                  names)
    with inference.LanguageModel(config, prefix) as lm:
      state = lm.zero_state()
      for t, word in enumerate(words):
        log_probs, state = lm.step(word, state)
        np.testing.assert_allclose(log_probs, expected[t], atol=1e-5)
    # Not a constant distribution: the comparison could fail.
    self.assertGreater(np.ptp(expected[-1]), 0.1)

  def test_generate_from_a_tutorial_checkpoint_with_a_preset(self):
    directory = self.create_tempdir().full_path  # No config.json here.
    prefix = os.path.join(directory, "model.ckpt")
    write_tutorial_checkpoint(prefix, configs.CONFIGS.get("test"), [1, 2])

    with self.assertLogs(level="INFO") as logs:
      lm = inference.open_model(directory, "test", _SHARED["vocab"])
    with lm:
      self.assertEqual(lm.config, configs.CONFIGS.get("test"))
      sample = inference.generate(lm, _SHARED["vocab"], 20, seed=5)
    self.assertLen(sample.words, 20)
    self.assertIn("using the test preset", "\n".join(logs.output))
    # The preset that does not fit the weights: one clear error.
    with self.assertRaisesRegex(UserError, "does not fit the model"):
      inference.open_model(directory, "small", _SHARED["vocab"])


# Runs in plain TensorFlow 2, in a clean interpreter: imports nothing else.
_TF2_SCRIPT = r"""
import json, sys
import tensorflow as tf
export_dir, ids = sys.argv[1], json.loads(sys.argv[2])
loaded = tf.saved_model.load(export_dir)
fn = loaded.signatures["serving_default"]
specs = fn.structured_input_signature[1]
state = {k: tf.zeros(s.shape, s.dtype) for k, s in specs.items()
         if k != "word_id"}
rows = []
for i in ids:
  out = fn(word_id=tf.constant([[i]], tf.int32), **state)
  rows.append(out["log_probs"].numpy()[0].tolist())
  state = {k: out["new_" + k] for k in state}
assets = [a.asset_path.numpy().decode() for a in loaded.asset_paths]
with open(assets[0], encoding="utf-8") as f:
  vocab = f.read().splitlines()
print(json.dumps({"log_probs": rows, "vocab": vocab, "inputs": sorted(specs),
                  "assets": [a[len(export_dir):] for a in assets],
                  "modules": sorted(m for m in sys.modules
                                    if m.split(".")[0] in ("ptb", "common"))}))
"""


class ExportTest(absltest.TestCase):

  def test_existing_dir_is_refused_and_kept(self):
    parent = self.create_tempdir().full_path
    existing = os.path.join(parent, "model")
    os.makedirs(existing)
    with open(os.path.join(existing, "keep.txt"), "w") as f:
      f.write("mine")
    with _open_lm() as lm:
      with self.assertRaisesRegex(UserError, "already exists; refusing"):
        inference.export_saved_model(lm, _SHARED["vocab"], existing)
    self.assertEqual(os.listdir(existing), ["keep.txt"])
    self.assertEqual(sorted(os.listdir(parent)), ["model"])  # No temp dir.


class CommandLineTest(absltest.TestCase):
  """The entry scripts, in subprocesses."""

  def _cli(self, script, *args):
    return testutil.run_cli(script, "--checkpoint=" + _SHARED["run"],
                            "--data_path=" + _SHARED["data"], *args)

  def test_generate_prints_the_librarys_text(self):
    result = self._cli("ptb/generate.py", "--words=25", "--temperature=0.8",
                       "--seed=4", "--prime=the zebra sat")
    self.assertEqual(result.returncode, 0, result.stderr)
    with _open_lm() as lm:
      sample = inference.generate(lm, _SHARED["vocab"], 25, 0.8, 4,
                                  "the zebra sat")
    self.assertEqual(result.stdout, inference.format_text(
        sample.prime + sample.words) + "\n")
    self.assertTrue(result.stdout.startswith("the <unk> sat"))
    self.assertIn("fed as <unk>: zebra", result.stderr)

  def test_score_file(self):
    path = os.path.join(self.create_tempdir().full_path, "text.txt")
    with open(path, "w", encoding="utf-8") as f:
      f.write(ScoreTest.TEXT)
    result = self._cli("ptb/generate.py", "--score_file=" + path)
    self.assertEqual(result.returncode, 0, result.stderr)
    with _open_lm() as lm:
      scores = inference.score(lm, _SHARED["vocab"],
                               inference.read_text(path))
    self.assertEqual(result.stdout, inference.format_scores(scores) + "\n")
    self.assertIn("; 3 OOV word(s)", result.stdout.splitlines()[-1])

  def test_export_loads_in_plain_tf2(self):
    export_dir = os.path.join(self.create_tempdir().full_path, "a", "lm")
    result = subprocess.run(
        [sys.executable, "-m", "ptb.export", "--checkpoint=" + _SHARED["run"],
         "--export_dir=" + export_dir, "--data_path=" + _SHARED["data"]],
        cwd=testutil.REPO_ROOT, capture_output=True, text=True, timeout=300,
        check=False)
    self.assertEqual(result.returncode, 0, result.stderr)
    self.assertEqual(result.stdout, export_dir + "\n")
    self.assertEqual(sorted(os.listdir(os.path.dirname(export_dir))), ["lm"])
    vocab = _SHARED["vocab"]
    ids = [vocab.word_to_id[w] for w in "<eos> my cat ate the".split()]
    env = {k: v for k, v in os.environ.items()
           if k not in ("PYTHONPATH", "TF_USE_LEGACY_KERAS")}
    loaded = subprocess.run(
        [sys.executable, "-I", "-c", _TF2_SCRIPT, export_dir,
         json.dumps(ids)], cwd=self.create_tempdir().full_path, env=env,
        capture_output=True, text=True, timeout=300, check=False)
    self.assertEqual(loaded.returncode, 0, loaded.stderr)
    out = json.loads(loaded.stdout.splitlines()[-1])
    self.assertEqual(out["modules"], [])
    self.assertEqual(out["assets"], ["/assets/vocab.txt"])
    self.assertEqual(out["vocab"], list(vocab.words))
    self.assertEqual(out["inputs"], ["c0", "c1", "h0", "h1", "word_id"])
    with _open_lm() as lm:
      state = lm.zero_state()
      for word, row in zip(ids, out["log_probs"]):
        log_probs, state = lm.step(word, state)
        self.assertLen(row, CONFIG.vocab_size)
        np.testing.assert_allclose(row, log_probs, atol=1e-5)

  def test_bad_inputs_give_one_line(self):
    # Missing and non-UTF-8 files: TextTest (the same UserError path).
    directory = self.create_tempdir().full_path
    empty = os.path.join(directory, "empty.txt")
    open(empty, "w").close()
    cases = [
        ("ptb/generate.py", ["--temperature=0"], "--temperature must be > 0"),
        ("ptb/generate.py", ["--score_file=" + empty], "holds no words"),
        ("ptb/generate.py", ["--score_file=" + empty, "--prime=the"],
         "--score_file does not take --prime"),
        ("ptb/export.py", ["--export_dir=" + directory],
         "already exists; refusing"),
    ]
    # Each run is mostly TensorFlow's import: two at a time.
    with concurrent.futures.ThreadPoolExecutor(max_workers=2) as pool:
      results = list(pool.map(lambda c: self._cli(c[0], *c[1]), cases))
    for (script, extra, needle), result in zip(cases, results):
      with self.subTest(script=script, extra=extra):
        testutil.assert_one_line_error(self, result, needle)
    self.assertEqual(sorted(os.listdir(directory)), ["empty.txt"])


if __name__ == "__main__":
  absltest.main()
