"""Using a trained PTB model: sample text, score a text, export a SavedModel.

Everything runs the batch-1 graph, the tutorial's Test model
(``configs.eval_config``: one stream, one word per ``session.run``), with the
LSTM state carried from word to word as in the test pass::

    state = zero state;  input = <eos>           (the start of a sentence)
    repeat:  log_probs, state = step(input, state)
             input = the next word (the text's, or one sampled from log_probs)

``log_probs`` are the log-softmax of the Test model's logits. ``PTBModel``
does not expose its logits, so they are rebuilt here from what it does
expose: the top layer's new ``h`` (an LSTM cell's output is its new ``h``;
with one step it is the step's output) times the shared ``Model/softmax_w``
plus ``Model/softmax_b``. The tests check that ``-log_probs[target]`` is the
model's own cost.

The vocabulary is rebuilt from the training file, as the training run built
it (``reader.build_vocab``); a checkpoint holds no words. User text is
tokenized like PTB: split on whitespace, each newline becomes ``<eos>`` (the
spaced form, :func:`ptb.reader.split_words` with ``spaced_eos=True``, so a
line need not end in a space), words outside the vocabulary become
``<unk>``.

The SavedModel (TF1 ``tf.compat.v1.saved_model.Builder``, tag ``serve``) has
one signature, ``serving_default``::

    inputs   word_id [1, 1] int32,  c0, h0, ..., c{L-1}, h{L-1}  [1, H] float32
    outputs  log_probs [1, V] float32,  new_c0, new_h0, ...       [1, H]
    assets/vocab.txt   the words in id order, one per line

``V`` is the model's ``vocab_size``; when that is larger than the training
file's vocabulary, ids from ``len(vocab.txt)`` on are never trained targets
(generation here never samples them).

One file over 400 lines: sampling, scoring and export are each a few
functions over the one :class:`LanguageModel` and :class:`Vocabulary` defined
here (:mod:`ptb.generate` uses the first two together); apart, each would be
under 120 lines importing the rest.
"""

import collections
import dataclasses
import math
import os
import shutil
import tempfile
from typing import Any, Dict, List, Optional, Sequence, Tuple

from absl import logging
import numpy as np

from common import checkpoint as ckpt_lib
from common import session as session_lib
from common.errors import UserError
from common.tf_compat import tf, tf1
from ptb import configs
from ptb import model as model_lib
from ptb import reader
from ptb import run_state

EOS = reader.EOS
UNK = "<unk>"
VOCAB_ASSET = "vocab.txt"
SIGNATURE_KEY = "serving_default"


@dataclasses.dataclass(frozen=True)
class Vocabulary:
  """The words of a training file, in id order."""
  words: Tuple[str, ...]

  @classmethod
  def from_word_to_id(cls, word_to_id: Dict[str, int]) -> "Vocabulary":
    return cls(tuple(sorted(word_to_id, key=word_to_id.get)))

  def __len__(self) -> int:
    return len(self.words)

  @property
  def vocab_size(self) -> int:  # As reader.PTBData's (run_state.check_vocab).
    return len(self.words)

  @property
  def word_to_id(self) -> Dict[str, int]:
    return {w: i for i, w in enumerate(self.words)}

  @property
  def start_id(self) -> int:
    """The id of ``<eos>``, the word every text and sample starts after.

    Raises:
      UserError: the vocabulary has no ``<eos>`` of its own.
    """
    if EOS not in self.words:
      raise UserError("the vocabulary has no %s word (a training file whose "
                      "lines do not end in a space glues it to the last word)"
                      % EOS)
    return self.words.index(EOS)

  def encode(self, words: Sequence[str]) -> Tuple[List[int], List[str]]:
    """``(ids, oov)``: each word's id, ``<unk>``'s for the words outside
    the vocabulary, which ``oov`` lists in text order.

    Raises:
      UserError: a word is outside the vocabulary and there is no ``<unk>``.
    """
    word_to_id = self.word_to_id
    oov = [w for w in words if w not in word_to_id]
    if oov and UNK not in word_to_id:
      raise UserError("words not in the vocabulary (%s) and no %s to map "
                      "them to" % (", ".join(_distinct(oov)), UNK))
    return [word_to_id.get(w, word_to_id.get(UNK)) for w in words], oov


def _distinct(words: Sequence[str]) -> List[str]:
  """``words`` without repeats, in first-seen order."""
  return list(dict.fromkeys(words))


def load_vocabulary(data_path: str) -> Vocabulary:
  """The vocabulary the model was trained with: built from
  ``data_path/ptb.train.txt`` the way the training run built it.

  Raises:
    UserError: the training file is missing, unreadable or empty.
  """
  path = os.path.join(data_path, reader.FILES["train"])
  vocab = Vocabulary.from_word_to_id(reader.build_vocab(path))
  logging.info("Vocabulary: %d words from %s (fingerprint %s)", len(vocab),
               path, reader.vocab_fingerprint(vocab.word_to_id))
  return vocab


def resolve_config(checkpoint: str, model_name: str,
                   name_given: bool = False
                   ) -> Tuple[str, configs.PTBConfig]:
  """``(preset name, config)`` of ``checkpoint``.

  A run directory's ``config.json`` wins; a checkpoint without one (the
  original tutorial's) takes the preset ``model_name``.

  Raises:
    UserError: ``name_given`` and the run was trained with another preset;
      an unreadable ``config.json``; an unknown preset.
  """
  name, config = ckpt_lib.config_for_checkpoint(
      checkpoint, configs.PTBConfig, "model", model_name,
      configs.CONFIGS.get(model_name), {}, name_given=name_given)
  if ckpt_lib.saved_config(checkpoint) is None:
    logging.info("No config.json with %s; using the %s preset", checkpoint,
                 model_name)
  return name or "saved", config


def check_vocabulary(vocab: Vocabulary, config: configs.PTBConfig) -> None:
  """UserError unless the model has a softmax row for every word."""
  if len(vocab) > config.vocab_size:
    raise UserError("the training file has %d words but the model has "
                    "vocab_size=%d; pass the --data_path it was trained on"
                    % (len(vocab), config.vocab_size))


def build_batch1_graph(config: configs.PTBConfig):
  """In the default graph: the Test model and its next-word log-probs.

  ``PTBModel(is_training=False)`` only reuses variables (its cells are built
  with ``reuse=True``, as the Valid/Test graphs of a training run); here no
  Train graph exists to create them, so a custom getter lets every
  ``get_variable`` create the variable it asks for, under the same name.

  Returns:
    ``(model, log_probs)``: the ``PTBModel`` and a [1, vocab_size] tensor.
  """
  def create_or_reuse(getter, *args, **kwargs):
    kwargs["reuse"] = tf1.AUTO_REUSE
    return getter(*args, **kwargs)

  with tf1.variable_scope(model_lib.MODEL_SCOPE, custom_getter=create_or_reuse):
    model = model_lib.PTBModel(configs.eval_config(config), is_training=False)
  with tf1.variable_scope(model_lib.MODEL_SCOPE, reuse=True):
    softmax_w = tf1.get_variable("softmax_w")
    softmax_b = tf1.get_variable("softmax_b")
  top_output = model.final_state[-1].h  # [1, H]: the top layer's output.
  log_probs = tf.nn.log_softmax(
      tf1.nn.xw_plus_b(top_output, softmax_w, softmax_b), name="log_probs")
  return model, log_probs


class LanguageModel:
  """The batch-1 graph with a checkpoint's weights, in its own session.

  Use as a context manager (closes the session)::

      with LanguageModel(config, "runs/ptb_small") as lm:
        state = lm.zero_state()
        log_probs, state = lm.step(word_id, state)
  """

  def __init__(self, config: configs.PTBConfig, checkpoint: str):
    """Builds the graph and restores ``Model/...`` weights from
    ``checkpoint`` (a run directory or a checkpoint prefix, this port's or
    the original tutorial's).

    Raises:
      UserError: nothing restorable, or weights of another shape.
    """
    self.config = config
    self.graph, (self.model, self.log_probs) = session_lib.build_graph(
        lambda: build_batch1_graph(config))
    self.session = session_lib.make_session(self.graph)
    try:
      with self.graph.as_default():
        weights = model_lib.weight_variables()
        self.checkpoint_path, naming = run_state.restore_model_weights(
            self.session, checkpoint)
        restored = {id(v) for v in weights}
        others = [v for v in tf1.global_variables()
                  if id(v) not in restored]
        if others:  # Nothing to restore them from; not used by a step.
          self.session.run(tf1.variables_initializer(others))
        self._zero_state = self.session.run(self.model.initial_state)
    except BaseException:
      self.session.close()
      raise
    logging.info("Restored %s (%s-mode names)", self.checkpoint_path, naming)

  def __enter__(self) -> "LanguageModel":
    return self

  def __exit__(self, *exc) -> None:
    self.close()

  def close(self) -> None:
    self.session.close()

  def zero_state(self):
    """The state a text starts from: every layer's c and h zero."""
    return self._zero_state

  def step(self, word_id: int, state) -> Tuple[np.ndarray, Any]:
    """Feeds one word; returns ``(log_probs [vocab_size], new state)``."""
    feed = {self.model.input_data: [[word_id]]}
    feed.update(model_lib.state_feed(self.model.initial_state, state))
    log_probs, new_state = self.session.run(
        (self.log_probs, self.model.final_state), feed)
    return log_probs[0], new_state

  def feed(self, word_ids: Sequence[int], state=None):
    """Feeds ``word_ids`` in order; returns the last step's result."""
    state = self.zero_state() if state is None else state
    log_probs = None
    for word_id in word_ids:
      log_probs, state = self.step(word_id, state)
    return log_probs, state


def open_model(checkpoint: str, model_name: str, vocab: Vocabulary,
               name_given: bool = False) -> LanguageModel:
  """The :class:`LanguageModel` of ``checkpoint``, with its saved config
  (else the preset ``model_name``), checked against ``vocab``."""
  _, config = resolve_config(checkpoint, model_name, name_given)
  run_state.check_vocab(run_state.saved_near(checkpoint), vocab, checkpoint)
  check_vocabulary(vocab, config)
  return LanguageModel(config, checkpoint)


# Sampling.


def check_temperature(temperature: float) -> None:
  """UserError unless ``temperature`` is a finite number > 0."""
  if not (temperature > 0 and math.isfinite(temperature)):
    raise UserError("--temperature must be > 0 (and finite), got %r"
                    % temperature)


def sampling_probs(log_probs: np.ndarray, temperature: float,
                   num_words: int) -> np.ndarray:
  """``softmax(log_probs / temperature)`` over the first ``num_words`` ids
  (the vocabulary's), in float64; the ids after them get no mass."""
  check_temperature(temperature)
  z = np.asarray(log_probs[:num_words], dtype=np.float64) / temperature
  e = np.exp(z - z.max())
  return e / e.sum()


@dataclasses.dataclass
class Sample:
  """A generated text: the prime as fed (OOV words as ``<unk>``), the
  sampled words, the prime's OOV words, and the seed that repeats it."""
  prime: List[str]
  words: List[str]
  oov: List[str]
  seed: int


def generate(lm: LanguageModel, vocab: Vocabulary, num_words: int,
             temperature: float = 1.0, seed: Optional[int] = None,
             prime: str = "") -> Sample:
  """Samples ``num_words`` words after ``<eos>`` and the ``prime`` text.

  Each word is drawn with ``numpy.random.default_rng(seed)`` from
  :func:`sampling_probs` of the previous step, then fed back with the state
  carried; the same seed (and checkpoint) gives the same words.

  Raises:
    UserError: ``temperature`` not > 0, ``num_words`` < 1, or prime words
      outside a vocabulary with no ``<unk>``.
  """
  check_temperature(temperature)
  if num_words < 1:
    raise UserError("--words must be at least 1, got %d" % num_words)
  seed = session_lib.seed_or_random(seed, "text")
  rng = np.random.default_rng(seed)
  prime_words = reader.split_words(prime, spaced_eos=True)
  prime_ids, oov = vocab.encode(prime_words)
  if oov:
    logging.warning("Prime words not in the vocabulary, fed as %s: %s", UNK,
                    ", ".join(_distinct(oov)))
  log_probs, state = lm.feed([vocab.start_id] + prime_ids)
  sampled = []
  while True:
    word_id = int(rng.choice(len(vocab), p=sampling_probs(
        log_probs, temperature, len(vocab))))
    sampled.append(word_id)
    if len(sampled) == num_words:
      break
    log_probs, state = lm.step(word_id, state)
  return Sample(prime=[vocab.words[i] for i in prime_ids],
                words=[vocab.words[i] for i in sampled], oov=oov, seed=seed)


def format_text(words: Sequence[str]) -> str:
  """Words joined by spaces, each ``<eos>`` a line break."""
  lines, line = [], []
  for word in words:
    if word == EOS:
      lines.append(" ".join(line))
      line = []
    else:
      line.append(word)
  if line:
    lines.append(" ".join(line))
  return "\n".join(lines)


# Scoring.


def read_text(path: str) -> List[str]:
  """The tokens of a user's text file (PTB tokenization, see module doc).

  Raises:
    UserError: missing, not a regular file, not UTF-8, or no words (blank
      lines are line ends only: nothing to score).
  """
  tokens = reader.read_words(path, spaced_eos=True)
  if all(token == EOS for token in tokens):
    raise UserError("%s holds no words, only %d line end(s)"
                    % (path, len(tokens)))
  return tokens


def split_lines(tokens: Sequence[str]) -> List[List[str]]:
  """Tokens cut after each ``<eos>``: one list per line of the text (a last
  line without a newline has no ``<eos>``)."""
  lines, line = [], []
  for token in tokens:
    line.append(token)
    if token == EOS:
      lines.append(line)
      line = []
  if line:
    lines.append(line)
  return lines


@dataclasses.dataclass
class LineScore:
  number: int  # 1-based line of the text.
  tokens: List[str]  # As written, <eos> last (unless the text ends here).
  oov: int  # Tokens mapped to <unk>.
  nll: float  # Summed negative log-likelihood (nats).

  @property
  def perplexity(self) -> float:
    return math.exp(self.nll / len(self.tokens))


_MAX_NLL = math.log(np.finfo(np.float64).max)


@dataclasses.dataclass
class Scores:
  """Per-line and total perplexity of a text."""
  lines: List[LineScore]
  oov_words: Dict[str, int]  # OOV word -> times seen, in first-seen order.

  @property
  def num_tokens(self) -> int:
    return sum(len(line.tokens) for line in self.lines)

  @property
  def num_oov(self) -> int:
    return sum(self.oov_words.values())

  @property
  def nll(self) -> float:
    return sum(line.nll for line in self.lines)

  @property
  def perplexity(self) -> float:
    """exp(total NLL / tokens): the tutorial's perplexity over the text."""
    return math.exp(self.nll / self.num_tokens)


def token_nlls(lm: LanguageModel, vocab: Vocabulary,
               ids: Sequence[int]) -> List[float]:
  """-log p(word | everything before it) of each id, after ``<eos>``."""
  state, prev, nlls = lm.zero_state(), vocab.start_id, []
  for word_id in ids:
    log_probs, state = lm.step(prev, state)
    nlls.append(-float(log_probs[word_id]))
    prev = word_id
  return nlls


def score(lm: LanguageModel, vocab: Vocabulary,
          tokens: Sequence[str]) -> Scores:
  """Scores ``tokens`` as one text, the state carried across lines.

  Raises:
    UserError: no tokens, OOV words and no ``<unk>``, or a non-finite
      log-likelihood.
  """
  if not tokens:
    raise UserError("no words to score")
  ids, oov = vocab.encode(tokens)
  nlls = token_nlls(lm, vocab, ids)
  # A diverged checkpoint: a loss of over 709 nats a word overflows exp().
  worst = next((nll for nll in nlls if not nll < _MAX_NLL), None)  # NaN too.
  if worst is not None:
    raise UserError("the model gives a word a loss of %.4g nats (a "
                    "perplexity beyond float range); did the checkpoint "
                    "diverge (are its weights finite)?" % worst)
  oov_set = set(oov)
  lines, start = [], 0
  for number, line in enumerate(split_lines(tokens), 1):
    end = start + len(line)
    lines.append(LineScore(number=number, tokens=list(line),
                           oov=sum(w in oov_set for w in line),
                           nll=math.fsum(nlls[start:end])))
    start = end
  return Scores(lines=lines, oov_words=dict(collections.Counter(oov)))


def format_scores(scores: Scores) -> str:
  """A tab-separated table: a header, one row per line, a total row."""
  rows = ["line\ttokens\toov\tperplexity\ttext"]
  for line in scores.lines:
    rows.append("%d\t%d\t%d\t%.3f\t%s" % (
        line.number, len(line.tokens), line.oov, line.perplexity,
        " ".join(w for w in line.tokens if w != EOS)))
  oov = ", ".join("%s x%d" % kv for kv in scores.oov_words.items())
  rows.append("total\t%d\t%d\t%.3f\t%d lines; %d OOV word(s) mapped to %s%s"
              % (scores.num_tokens, scores.num_oov, scores.perplexity,
                 len(scores.lines), scores.num_oov, UNK,
                 ": " + oov if oov else ""))
  return "\n".join(rows)


# SavedModel export.


def check_export_dir(export_dir: str) -> None:
  """UserError if anything exists at ``export_dir`` (never overwritten)."""
  if os.path.lexists(export_dir):
    raise UserError("%s already exists; refusing to overwrite it (pick a new "
                    "--export_dir or remove it)" % export_dir)


def _signature(lm: LanguageModel):
  inputs = {"word_id": lm.model.input_data}
  outputs = {"log_probs": lm.log_probs}
  for i, (c, h) in enumerate(lm.model.initial_state):
    new = lm.model.final_state[i]
    inputs["c%d" % i], inputs["h%d" % i] = c, h
    outputs["new_c%d" % i], outputs["new_h%d" % i] = new.c, new.h
  return tf1.saved_model.predict_signature_def(inputs, outputs)


def _write_saved_model(lm: LanguageModel, vocab: Vocabulary, path: str,
                       scratch: str) -> None:
  """The SavedModel of ``lm`` at ``path`` (which must not exist)."""
  vocab_file = os.path.join(scratch, VOCAB_ASSET)
  with open(vocab_file, "w", encoding="utf-8") as f:
    f.write("".join(w + "\n" for w in vocab.words))
  with lm.graph.as_default():
    asset = tf.constant(vocab_file, name="vocab_file")  # Copied to assets/.
    builder = tf1.saved_model.Builder(path)
    builder.add_meta_graph_and_variables(
        lm.session, [tf1.saved_model.SERVING],
        signature_def_map={SIGNATURE_KEY: _signature(lm)},
        assets_collection=[asset], clear_devices=True,
        strip_default_attrs=True)
    builder.save()


def export_saved_model(lm: LanguageModel, vocab: Vocabulary,
                       export_dir: str) -> str:
  """Writes the SavedModel (module docstring) to ``export_dir``.

  It is written into a temporary directory next to ``export_dir`` and
  renamed into place at the end, so ``export_dir`` never holds half a model.

  Returns:
    ``export_dir``.

  Raises:
    UserError: ``export_dir`` exists, or cannot be written.
  """
  check_export_dir(export_dir)
  check_vocabulary(vocab, lm.config)
  parent = os.path.dirname(os.path.abspath(export_dir))
  try:
    os.makedirs(parent, exist_ok=True)
    scratch = tempfile.mkdtemp(dir=parent, prefix=".%s.tmp-" %
                               os.path.basename(os.path.abspath(export_dir)))
  except OSError as e:
    raise UserError("cannot write to %s: %s" % (parent, e)) from e
  try:
    staged = os.path.join(scratch, "saved_model")
    _write_saved_model(lm, vocab, staged, scratch)
    check_export_dir(export_dir)  # Appeared meanwhile: still not replaced.
    os.rename(staged, export_dir)
  except (tf.errors.OpError, OSError) as e:
    raise UserError("cannot write the SavedModel to %s: %s" %
                    (export_dir, e)) from e
  finally:
    shutil.rmtree(scratch, ignore_errors=True)
  logging.info("Exported %s (vocab_size %d, %d words in %s/%s)", export_dir,
               lm.config.vocab_size, len(vocab), "assets", VOCAB_ASSET)
  return export_dir
