"""PTB reader: words, vocabulary and batching, in pure numpy (no TF).

Same semantics as the TF tutorial's ``reader.py``, minus the queue runners:
``ptb_producer`` built a TF input pipeline; here :func:`ptb_iterator` yields
the same ``(x, y)`` chunks as numpy arrays, to be fed through ``feed_dict``.

Batching (``batch_size`` B, ``num_steps`` T)::

    data:  w0 w1 w2 ... w(N-1)                 (N word ids)
    batch_len = N // B;  the tail N - B*batch_len is dropped
    rows   = data[:B*batch_len].reshape(B, batch_len)   (B contiguous streams)

             <----------------- batch_len ----------------->
    row 0:   w0            w1            ...
    row 1:   w(batch_len)  ...
    ...
    row B-1: ...

    epoch_size = (batch_len - 1) // T
    step i:  x = rows[:, i*T     : (i+1)*T]
             y = rows[:, i*T + 1 : (i+1)*T + 1]    (x shifted by one word)

Row b of step i+1 continues row b of step i, which is why the LSTM's final
state of one chunk is fed as the initial state of the next.
"""

import collections
import dataclasses
import hashlib
import os
import stat
from typing import Dict, Iterator, List, Tuple

from absl import logging
import numpy as np

from common.errors import UserError

FILES = {"train": "ptb.train.txt", "valid": "ptb.valid.txt",
         "test": "ptb.test.txt"}
EOS = "<eos>"


BOM = "\ufeff"


def _read_text(filename: str) -> str:
  """A regular file's UTF-8 text, a leading byte-order mark removed.

  Raises:
    UserError: missing, not a regular file (a FIFO would block forever),
      unreadable, or not UTF-8.
  """
  try:
    mode = os.stat(filename).st_mode
  except OSError as e:
    raise UserError("cannot read %s: %s" % (filename, e.strerror)) from e
  if not stat.S_ISREG(mode):
    raise UserError("%s is not a regular file" % filename)
  try:
    with open(filename, "rb") as f:
      raw = f.read()
  except OSError as e:
    raise UserError("cannot read %s: %s" % (filename, e.strerror)) from e
  try:
    text = raw.decode("utf-8")
  except UnicodeDecodeError as e:
    raise UserError("%s is not UTF-8 text (byte %d)" % (filename, e.start)) from e
  if text.startswith(BOM):  # Else it would be glued to the first word.
    logging.warning("%s starts with a UTF-8 byte-order mark; ignoring it",
                    filename)
    text = text[len(BOM):]
  return text


def split_words(text: str, spaced_eos: bool = False) -> List[str]:
  """The tutorial's tokenization: ``text.replace("\n", "<eos>").split()``.

  Pitfall: the tutorial puts no spaces around ``<eos>``, so a line that does
  not end in a space glues it to its last word (``"i am\nrain"`` gives
  ``am<eos>``). Every line of the PTB files ends in a space, so there both
  forms give the same tokens; ``spaced_eos=True`` (``" <eos> "``) makes
  ``<eos>`` a token of its own in any text.
  """
  return text.replace("\n", " %s " % EOS if spaced_eos else EOS).split()


def read_words(filename: str, spaced_eos: bool = False) -> List[str]:
  """Words of a file, each newline replaced by ``<eos>`` (:func:`split_words`).

  Raises:
    UserError: see :func:`_read_text`; or a file with no words.
  """
  words = split_words(_read_text(filename), spaced_eos)
  if not words:
    raise UserError("%s holds no words" % filename)
  return words


def build_vocab(filename: str, spaced_eos: bool = False) -> Dict[str, int]:
  """Word -> id, ordered by descending count, then word; ids from 0."""
  counter = collections.Counter(read_words(filename, spaced_eos))
  pairs = sorted(counter.items(), key=lambda x: (-x[1], x[0]))
  return {word: i for i, (word, _) in enumerate(pairs)}


def file_to_word_ids(filename: str, word_to_id: Dict[str, int],
                     spaced_eos: bool = False) -> List[int]:
  """Ids of the words of ``filename`` that are in the vocabulary.

  Like the tutorial, out-of-vocabulary words are dropped (PTB has none: its
  rare words are already ``<unk>``); unlike it, a warning says how many, as
  their perplexity is not measured.
  """
  words = read_words(filename, spaced_eos)
  ids = [word_to_id[w] for w in words if w in word_to_id]
  if len(ids) < len(words):
    dropped = collections.Counter(w for w in words if w not in word_to_id)
    logging.warning(
        "%s: %d of %d words are not in the training vocabulary and are "
        "dropped, as the tutorial drops them (most common: %s)", filename,
        len(words) - len(ids), len(words), ", ".join(
            w for w, _ in dropped.most_common(5)))
  return ids


def vocab_fingerprint(word_to_id: Dict[str, int]) -> str:
  """sha256 (16 hex digits) of the words in id order: the same corpus
  vocabulary gives the same fingerprint on any machine."""
  words = sorted(word_to_id, key=word_to_id.get)
  return hashlib.sha256("\n".join(words).encode("utf-8")).hexdigest()[:16]


@dataclasses.dataclass
class PTBData:
  """The three splits as word ids, and the vocabulary they were mapped by."""
  train: List[int]
  valid: List[int]
  test: List[int]
  word_to_id: Dict[str, int]

  @property
  def vocab_size(self) -> int:
    return len(self.word_to_id)


def load(data_path: str, spaced_eos: bool = False) -> PTBData:
  """Loads the three PTB files from ``data_path`` (vocabulary from train).

  Raises:
    UserError: a missing directory or file, or a file that cannot be read.
  """
  if not data_path or not os.path.isdir(data_path):
    raise UserError("PTB data directory %r not found; pass --data_path=DIR "
                    "holding %s" % (data_path, ", ".join(FILES.values())))
  paths = {k: os.path.join(data_path, v) for k, v in FILES.items()}
  missing = [p for p in paths.values() if not os.path.lexists(p)]
  if missing:
    raise UserError("missing PTB file(s): %s" % ", ".join(missing))
  word_to_id = build_vocab(paths["train"], spaced_eos)
  ids = {k: file_to_word_ids(p, word_to_id, spaced_eos)
         for k, p in paths.items()}
  return PTBData(ids["train"], ids["valid"], ids["test"], word_to_id)


def ptb_raw_data(data_path: str) -> Tuple[List[int], List[int], List[int], int]:
  """The tutorial's function: ``(train_ids, valid_ids, test_ids, vocab size)``.

  Raises:
    UserError: see :func:`load`.
  """
  data = load(data_path)
  return data.train, data.valid, data.test, data.vocab_size


def epoch_size(num_words: int, batch_size: int, num_steps: int) -> int:
  """Number of (x, y) chunks :func:`ptb_iterator` yields per pass."""
  return (num_words // batch_size - 1) // num_steps


def check_batchable(num_words: int, batch_size: int, num_steps: int,
                    name: str = "data") -> int:
  """Returns the epoch size; UserError if the data is too short for a chunk."""
  n = epoch_size(num_words, batch_size, num_steps)
  if n <= 0:
    raise UserError(
        "%s: %d words is too short for batch_size=%d, num_steps=%d; decrease "
        "batch_size or num_steps" % (name, num_words, batch_size, num_steps))
  return n


def ptb_iterator(raw_data, batch_size: int, num_steps: int,
                 name: str = "data") -> Iterator[Tuple[np.ndarray, np.ndarray]]:
  """Yields ``(x, y)`` int32 arrays of shape [batch_size, num_steps].

  See the module docstring for the layout.

  Raises:
    UserError: the data is too short for one chunk.
  """
  data = np.asarray(raw_data, dtype=np.int32)
  n = check_batchable(len(data), batch_size, num_steps, name)
  batch_len = len(data) // batch_size
  rows = data[:batch_size * batch_len].reshape(batch_size, batch_len)
  for i in range(n):
    x = rows[:, i * num_steps:(i + 1) * num_steps]
    y = rows[:, i * num_steps + 1:(i + 1) * num_steps + 1]
    yield x, y
