r"""PTB throughput benchmark: this port's modes beside its peers; one JSON object.

Run::

    python -m ptb.bench --model=small [--rounds=3] [--peers=basic,block,...]

Measured in one process, in interleaved rounds (peer A, B, C, then again),
so that every ratio compares numbers taken under the same conditions:

* ``train``: training words/s of each peer on the preset's shapes (SGD,
  clipping, the state carried chunk to chunk; random word ids: speed does not
  depend on the words). Peers: ``basic``, ``block``, ``fused`` (this port's
  ``--rnn_mode``s), ``bf16`` (``fused`` with ``--precision=bf16``; only
  where the CPU has AMX-BF16 or AVX512-BF16), ``tf2`` (the TF2 twin's ``tf.function`` train step,
  ``--api=tf2``), ``tutorial`` (the tutorial's own graph,
  ``ptb/tutorial_reference.py``: static unroll of BasicLSTMCell) and
  ``torch`` (PyTorch ``nn.LSTM``, the same shapes and update; only when
  ``torch`` is importable: ``pip install torch``, never required);
* ``matmul_gflops``: fp32 matmul rate (TF, 1024 x 1024, this process's
  threads) and from it the ceiling: words/s if every FLOP of training
  (3 x forward matmul FLOPs per word) ran at that rate;
* ``test_pass``: the Test pass words/s, the tutorial's one word per
  ``session.run`` against the exact fast pass (``train.run_stream``);
* ``peak_rss_mb`` of the whole process (all peers; run ``--peers=basic`` for
  one graph's memory);
* the CPU model and its SIMD flags, detected from ``/proc/cpuinfo``.
"""

import os
import statistics
import sys
import time
from typing import Any, Callable, Sequence

if __package__ in (None, ""):  # `python ptb/bench.py` from a checkout.
  sys.path[0] = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

from absl import flags  # pylint: disable=g-import-not-at-top,wrong-import-position
import numpy as np  # pylint: disable=g-import-not-at-top,wrong-import-position

from common import app  # pylint: disable=wrong-import-position
from common import bench  # pylint: disable=wrong-import-position
from common import session as session_lib  # pylint: disable=wrong-import-position
from common.tf_compat import tf, tf1  # pylint: disable=wrong-import-position
from ptb import configs  # pylint: disable=wrong-import-position
from ptb import model as model_lib  # pylint: disable=wrong-import-position
from ptb import model_tf2  # pylint: disable=wrong-import-position
from ptb import train  # pylint: disable=wrong-import-position
from ptb import train_tf2  # pylint: disable=wrong-import-position
from ptb import tutorial_reference  # pylint: disable=wrong-import-position

PEERS = ("basic", "block", "fused", "bf16", "tf2", "tutorial", "torch")

_MODEL = flags.DEFINE_enum("model", "small", configs.CONFIGS.names, "Preset.")
_PEERS = flags.DEFINE_list("peers", list(PEERS), "Which of %s to run."
                           % ", ".join(PEERS))
_ROUNDS = flags.DEFINE_integer("rounds", 3, "Interleaved rounds.",
                               lower_bound=1)
_STEPS = flags.DEFINE_integer("steps", 50, "Timed training steps per peer "
                              "and round.", lower_bound=1)
_WARMUP_STEPS = flags.DEFINE_integer("warmup_steps", 10, "Untimed steps.",
                                     lower_bound=0)
_TEST_WORDS = flags.DEFINE_integer("test_words", 2000, "Words of the Test "
                                   "pass timed in each mode.", lower_bound=2)
_NUM_THREADS = flags.DEFINE_integer("num_threads", 0, "intra-op threads "
                                    "(0 = all cores).", lower_bound=0)


def forward_flops_per_word(config: configs.PTBConfig) -> int:
  """Matmul FLOPs of one word forward: the LSTM layers and the softmax."""
  h = config.hidden_size
  lstm = config.num_layers * 2 * (2 * h) * (4 * h)
  return lstm + 2 * h * config.vocab_size


def matmul_gflops(threads: int, n: int = 1024, repeats: int = 20) -> float:
  """fp32 matmul GFLOP/s of an [n, n] x [n, n] product in a TF session."""
  graph = tf.Graph()
  with graph.as_default():
    a = tf.random.uniform([n, n])
    b = tf1.Variable(tf.random.uniform([n, n]))
    product = tf.reduce_sum(tf.matmul(a, b))
    with session_lib.make_session(graph, threads) as sess:
      sess.run(tf1.global_variables_initializer())
      seconds = bench.timed(lambda: sess.run(product), 2)  # Warm up.
      seconds = bench.timed(lambda: sess.run(product), repeats)
  return 2.0 * n ** 3 * repeats / seconds / 1e9


def _random_chunk(rng, config):
  shape = (config.batch_size, config.num_steps)
  return (rng.integers(0, config.vocab_size, shape, np.int32),
          rng.integers(0, config.vocab_size, shape, np.int32))


class _PortPeer:
  """This port's training graph in one ``rnn_mode``."""

  def __init__(self, config, mode, threads, precision="fp32"):
    self.graph, self.models = session_lib.build_graph(
        lambda: model_lib.build_models(config, configs.eval_config(config),
                                       rnn_mode=mode, precision=precision),
        seed=0)
    self.session = session_lib.make_session(self.graph, threads)
    with self.graph.as_default():
      self.session.run(tf1.global_variables_initializer())
      self.models.train.assign_lr(self.session, config.learning_rate)
    m = self.models.train
    self._fetches = {"cost": m.cost, "state": m.final_state,
                     "op": m.train_op}
    self._state = self.session.run(m.initial_state)
    self._config = config
    self._rng = np.random.default_rng(0)

  def step(self):
    m = self.models.train
    x, y = _random_chunk(self._rng, self._config)
    feed = {m.input_data: x, m.targets: y}
    feed.update(model_lib.state_feed(m.initial_state, self._state))
    self._state = self.session.run(self._fetches, feed)["state"]


class _TF2Peer:
  """The TF2 twin (``--api=tf2``): eager, Keras 3 layers, a ``tf.function``
  train step."""

  def __init__(self, config):
    model = model_tf2.build_model(config, seed=0)
    self._steps = train_tf2.Steps(
        model, model_tf2.build_optimizer(model, config.learning_rate))
    self._state = model.zero_state(config.batch_size)
    self._config = config
    self._rng = np.random.default_rng(0)

  def step(self):
    x, y = _random_chunk(self._rng, self._config)
    _, self._state, _ = self._steps.train(tf.constant(x), tf.constant(y),
                                          self._state)


class _TutorialPeer:
  """The tutorial's own training graph (static unroll, BASIC cells)."""

  def __init__(self, config, threads):
    self.graph = tf.Graph()
    with self.graph.as_default():
      tf1.set_random_seed(0)
      init = tf1.random_uniform_initializer(-config.init_scale,
                                            config.init_scale)
      with tf1.variable_scope("Model", initializer=init):
        self._m = tutorial_reference.build(config, "BASIC", is_training=True)
      self.session = session_lib.make_session(self.graph, threads)
      self.session.run(tf1.global_variables_initializer())
      self._m["lr"].load(config.learning_rate, self.session)
    self._state = self.session.run(self._m["initial_state"])
    self._config = config
    self._rng = np.random.default_rng(0)

  def step(self):
    m = self._m
    x, y = _random_chunk(self._rng, self._config)
    feed = {m["input_data"]: x, m["targets"]: y}
    for i, (c, h) in enumerate(m["initial_state"]):
      feed[c], feed[h] = self._state[i].c, self._state[i].h
    _, self._state = self.session.run([m["train_op"], m["final_state"]], feed)


class _TorchPeer:
  """PyTorch ``nn.LSTM`` with the same shapes, loss, SGD and clipping."""

  def __init__(self, config, threads):
    import torch  # pylint: disable=g-import-not-at-top
    self._torch = torch
    if threads:
      torch.set_num_threads(threads)
    torch.manual_seed(0)
    h, v = config.hidden_size, config.vocab_size
    self._emb = torch.nn.Embedding(v, h)
    self._lstm = torch.nn.LSTM(h, h, config.num_layers, batch_first=True)
    self._out = torch.nn.Linear(h, v)
    self._params = (list(self._emb.parameters()) +
                    list(self._lstm.parameters()) +
                    list(self._out.parameters()))
    self._opt = torch.optim.SGD(self._params, lr=config.learning_rate)
    zeros = torch.zeros(config.num_layers, config.batch_size, h)
    self._state = (zeros, zeros.clone())
    self._config = config
    self._rng = np.random.default_rng(0)

  def step(self):
    torch, cfg = self._torch, self._config
    x, y = (torch.from_numpy(a.astype(np.int64))
            for a in _random_chunk(self._rng, cfg))
    out, state = self._lstm(self._emb(x), self._state)
    logits = self._out(out)
    # Sum over steps of the batch-mean cross-entropy, as the tutorial.
    loss = torch.nn.functional.cross_entropy(
        logits.reshape(-1, cfg.vocab_size), y.reshape(-1)) * cfg.num_steps
    self._opt.zero_grad()
    loss.backward()
    torch.nn.utils.clip_grad_norm_(self._params, cfg.max_grad_norm)
    self._opt.step()
    self._state = tuple(s.detach() for s in state)


def _torch_version() -> str:
  """The version of the PyTorch peer's torch (it is importable)."""
  import torch  # pylint: disable=g-import-not-at-top
  return torch.__version__


def _torch_available() -> bool:
  try:
    import torch  # pylint: disable=g-import-not-at-top,unused-import
  except ImportError:
    return False
  return True


def make_peers(config, names, threads):
  """``{name: peer}`` for the requested peers that can run here."""
  peers = {}
  for name in names:
    if name in model_lib.RNN_MODES:
      peers[name] = _PortPeer(config, name, threads)
    elif name == "bf16" and bench.native_bf16():
      peers[name] = _PortPeer(config, "fused", threads, precision="bf16")
    elif name == "tf2":
      peers[name] = _TF2Peer(config)
    elif name == "tutorial":
      peers[name] = _TutorialPeer(config, threads)
    elif name == "torch" and _torch_available():
      peers[name] = _TorchPeer(config, threads)
  return peers


def train_rates(peers, words_per_step, rounds, steps, warmup):
  """``{name: [words/s per round]}``, peers interleaved within each round."""
  rates = {name: [] for name in peers}
  for name, peer in peers.items():
    bench.timed(peer.step, warmup)
  for _ in range(rounds):
    for name, peer in peers.items():
      rates[name].append(words_per_step * steps /
                         bench.timed(peer.step, steps))
  return rates


def test_pass_rates(config, words: int, threads: int):
  """Words/s of the Test pass: the tutorial's loop and the fast pass."""
  peer = _PortPeer(config, "basic", threads)
  data = np.random.default_rng(1).integers(0, config.vocab_size, words + 1)
  out = {}
  with peer.graph.as_default():
    for mode in ("tutorial", "fast"):
      train.test_pass(peer.session, peer.models, data[:101], mode)  # Warm.
      start = time.perf_counter()
      result = train.test_pass(peer.session, peer.models, data, mode)
      out[mode + "_words_per_sec"] = words / (time.perf_counter() - start)
      out[mode + "_perplexity"] = result.perplexity
  out["speedup"] = out["fast_words_per_sec"] / out["tutorial_words_per_sec"]
  return out


def summarize(rates, ceiling):
  """Medians, fractions of the ceiling and the ratios the issue asks for."""
  peers = {name: {"words_per_sec": [round(r) for r in values],
                  "median": round(statistics.median(values)),
                  "fraction_of_ceiling": round(
                      statistics.median(values) / ceiling, 3)}
           for name, values in rates.items()}
  ours = [n for n in peers if n in model_lib.RNN_MODES]
  ratios = {}
  if ours:
    fastest = max(ours, key=lambda n: peers[n]["median"])
    ratios["fastest_mode"] = fastest
    for other in ("tutorial", "torch", "basic"):
      if other in peers and other != fastest:
        ratios["%s_vs_%s" % (fastest, other)] = round(
            peers[fastest]["median"] / peers[other]["median"], 3)
  for other in ("fused", "torch", "tutorial"):
    if "bf16" in peers and other in peers:
      ratios["bf16_vs_" + other] = round(
          peers["bf16"]["median"] / peers[other]["median"], 3)
  if "tf2" in peers and "basic" in peers:
    ratios["tf2_vs_basic"] = round(
        peers["tf2"]["median"] / peers["basic"]["median"], 3)
  return peers, ratios


def _peer_note(name: str, peers, requested: Sequence[str],
               present: Callable[[], Any], absent: str):
  """The record's word on an optional peer: ``present()`` when it ran,
  ``absent`` (why it could not) when ``requested``, else "not requested"."""
  if name in peers:
    return present()
  return absent if name in requested else "not requested"


def main(argv):
  del argv
  unknown = sorted(set(_PEERS.value) - set(PEERS))
  if unknown:
    raise app.UserError("unknown --peers %s; valid: %s"
                        % (", ".join(unknown), ", ".join(PEERS)))
  if not _PEERS.value:
    raise app.UserError("--peers is empty; name at least one of %s"
                        % ", ".join(PEERS))
  config = configs.CONFIGS.get(_MODEL.value)
  threads = _NUM_THREADS.value
  # The TF2 peer's threads (TF1 sessions take theirs in make_session).
  train_tf2.configure(train.RunOptions(intra_op_threads=threads))
  gflops = matmul_gflops(threads)
  train_flops = 3 * forward_flops_per_word(config)
  ceiling = gflops * 1e9 / train_flops
  peers = make_peers(config, _PEERS.value, threads)
  words = config.batch_size * config.num_steps
  rates = train_rates(peers, words, _ROUNDS.value, _STEPS.value,
                      _WARMUP_STEPS.value)
  peer_rows, ratios = summarize(rates, ceiling)
  record = {
      "model": _MODEL.value,
      "cpu": bench.cpu_info(),
      "threads": threads,
      "matmul_gflops": round(gflops, 1),
      "train_flops_per_word": train_flops,
      "ceiling_words_per_sec": round(ceiling),
      "train": peer_rows,
      "ratios": ratios,
      "torch": _peer_note("torch", peers, _PEERS.value, _torch_version,
                          "not importable"),
      "bf16": _peer_note("bf16", peers, _PEERS.value, lambda: True,
                         "no native bf16 (%s)" % " / ".join(bench.BF16_FLAGS)),
      "test_pass": test_pass_rates(config, _TEST_WORDS.value, threads),
      "rounds": _ROUNDS.value, "steps": _STEPS.value,
      "warmup_steps": _WARMUP_STEPS.value,
  }
  record["peak_rss_mb"] = round(bench.peak_rss_mb())
  bench.print_json(record)


if __name__ == "__main__":
  app.run(main)
