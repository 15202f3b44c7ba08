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
import os
from typing import Dict, Iterator, List, Tuple

import numpy as np

from common.errors import UserError

FILES = {"train": "ptb.train.txt", "valid": "ptb.valid.txt",
         "test": "ptb.test.txt"}
EOS = "<eos>"


def read_words(filename: str) -> List[str]:
  """Words of a file, each newline replaced by ``<eos>``.

  Raises:
    UserError: missing/unreadable file, bytes that are not UTF-8, or no words.
  """
  try:
    with open(filename, "rb") as f:
      raw = f.read()
  except OSError as e:
    raise UserError("cannot read %s: %s" % (filename, e.strerror)) from e
  try:
    text = raw.decode("utf-8")
  except UnicodeDecodeError as e:
    raise UserError("%s is not UTF-8 text (byte %d)" % (filename, e.start)) from e
  words = text.replace("\n", " %s " % EOS).split()
  if not words:
    raise UserError("%s holds no words" % filename)
  return words


def build_vocab(filename: str) -> Dict[str, int]:
  """Word -> id, ordered by descending count, then word; ids from 0."""
  counter = collections.Counter(read_words(filename))
  pairs = sorted(counter.items(), key=lambda x: (-x[1], x[0]))
  return {word: i for i, (word, _) in enumerate(pairs)}


def file_to_word_ids(filename: str, word_to_id: Dict[str, int]) -> List[int]:
  """Ids of the words of ``filename`` that are in the vocabulary.

  Like the tutorial, out-of-vocabulary words are dropped (PTB has none: its
  rare words are already ``<unk>``).
  """
  return [word_to_id[w] for w in read_words(filename) if w in word_to_id]


def ptb_raw_data(data_path: str) -> Tuple[List[int], List[int], List[int], int]:
  """Loads the three PTB files from ``data_path``.

  Returns:
    (train_ids, valid_ids, test_ids, vocabulary_size)

  Raises:
    UserError: a missing directory or file, or a file that cannot be read.
  """
  if not data_path or not os.path.isdir(data_path):
    raise UserError("PTB data directory %r not found; pass --data_path=DIR "
                    "holding %s" % (data_path, ", ".join(FILES.values())))
  paths = {k: os.path.join(data_path, v) for k, v in FILES.items()}
  missing = [p for p in paths.values() if not os.path.isfile(p)]
  if missing:
    raise UserError("missing PTB file(s): %s" % ", ".join(missing))
  word_to_id = build_vocab(paths["train"])
  return (file_to_word_ids(paths["train"], word_to_id),
          file_to_word_ids(paths["valid"], word_to_id),
          file_to_word_ids(paths["test"], word_to_id),
          len(word_to_id))


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
