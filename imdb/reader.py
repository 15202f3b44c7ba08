r"""Large Movie Review Dataset (Maas et al., 2011) -> Keras-style id arrays.

Pure Python/numpy (no TensorFlow, no network: :mod:`imdb.download` fetches
the archive). Where the reviews come from
(:func:`find_source`), given ``--data_path=DIR``:

1. ``DIR`` itself if it holds ``train/`` and ``test/`` (it *is* ``aclImdb/``);
2. ``DIR/aclImdb/``;
3. ``DIR/aclImdb_v1.tar.gz`` (the public archive, :data:`URL`), then
   ``DIR/aclImdb_v1_labeled.tar.gz`` (the labeled-only copy in
   ``../shared/data/imdb``); ``DIR`` may also be an archive's own path.

Reviews are ``{train,test}/{pos,neg}/<id>_<rating>.txt`` (pos -> label 1, neg
-> 0; ``train/unsup`` and the ``*.feat`` files are ignored). Archives are
streamed member by member and nothing is extracted; every member is checked
with :func:`common.data.check_member_safe` first, so an absolute path, a
``..`` escape, a link or a device file refuses the whole archive. Archives with
a published name are checked against their sha256 (:data:`SHA256`).

Tokens and ids follow ``keras.datasets.imdb`` (the seeds' loader, whose
``imdb_word_index.json`` and ``imdb.npz`` were made from these reviews):

* :func:`tokenize` is Keras's ``text_to_word_sequence`` with its defaults,
  as ``imdb.npz`` was made with it: ASCII capitals lowercased (only those:
  Python 2 byte strings), each character of :data:`KERAS_FILTERS` becomes a
  space, split on single spaces. Apostrophes and non-ASCII characters stay
  in words
  (``don't``, ``'royale``, ``café``) and ``<br />`` becomes the word ``br``,
  as in Keras's index, where "br" has rank 7. (Removing ``<br />``, as first
  specified, would be cleaner text, but the index that the seeds' data was
  encoded with keeps it, so the port follows the index. ``docs/imdb.md`` has
  the evidence.)
* the vocabulary comes from the training reviews only, ranked by count, rank
  1 = the most frequent word ("the"). The counts reproduce Keras's index:
  88,584 words, as many as its, and every Keras rank we know lies among the
  words of equal count here. Ties are ordered by the word; Keras
  ordered them by first occurrence in a file order that is not published;
* ids: 0 pad, 1 start of review, 2 out of vocabulary (OOV); the word of rank
  ``r`` gets ``r + index_from`` (``index_from=3``), so "the" is 4 and id 3 is
  never used (Keras's own decoding recipe names it ``<UNUSED>``); ids
  ``>= num_words`` become OOV, so ``num_words=10000`` keeps 9,996 words;
  test words never seen in training are left out, as in ``imdb.npz`` (they
  are not OOV there either);
* :func:`pad_sequences` has Keras's semantics and defaults:
  ``padding='pre', truncating='pre'`` keeps the *last* ``maxlen`` ids (the
  start id is dropped from long reviews) and pads at the front with 0.

Reading and tokenizing the 50,000 reviews of the labeled archive took 7.8 s
(``docs/results/imdb/seed003/train.log``: "Reading and tokenizing" to
"Cached"), reading the cache 0.14 s (``seed003_seed7/train.log``, one of the
37 committed logs that read it), so :func:`load_corpus` caches the
tokenized corpus (vocabulary ranks, not yet cut or padded) as an ``.npz`` in a
cache directory, keyed by the source's path, size and mtime (for a directory:
of every review file) and :data:`CACHE_VERSION`. ``num_words``, ``maxlen``,
padding, the validation split and the shuffles are applied afterwards, so one
cache file serves every config.

One file over 400 lines: each part is what rebuilding ``imdb.npz`` needs
(tokens, vocabulary, ids, padding, reading the reviews safely) or what a
measurement (the cache, above) or a caller and its tests back (the splits,
epoch orders and batches of :mod:`imdb.train`); split, the parts would share
the dataclasses and constants above.
"""

from collections import Counter
import dataclasses
import itertools
import json
import os
import re
import string
import tarfile
import zipfile
import zlib
from typing import (Dict, Iterable, Iterator, List, NamedTuple, Optional,
                    Sequence, Tuple)

from absl import logging
import numpy as np

from common import data as data_lib
from common.errors import UserError

URL = "https://ai.stanford.edu/~amaas/data/sentiment/aclImdb_v1.tar.gz"
DIRNAME = "aclImdb"
# Published sha256 of the archives, in the order find_source looks for them.
SHA256 = {
    "aclImdb_v1.tar.gz":
        "c40f74a18d3b61f90feba1e17730e0d38e8b97c05fde7008942e91923d1658fe",
    "aclImdb_v1_labeled.tar.gz":
        "4d287d9158d23bf982a1b4724b257c3aeb6938e85108771c63405ca60174e2c4",
}

PAD = 0  # Padding id.
START = 1  # Prepended to every review (Keras start_char).
OOV = 2  # Out-of-vocabulary id (Keras oov_char).
INDEX_FROM = 3  # The word of frequency rank r (1-based) gets id r + 3.

SPLITS = ("train", "test")
LABELS = {"neg": 0, "pos": 1}  # Folder name -> label.
CACHE_VERSION = 3  # Bump when tokenization or the cache layout changes.
# Keras text_to_word_sequence's default `filters`: each becomes a space.
KERAS_FILTERS = '!"#$%&()*+,-./:;<=>?@[\\]^_`{|}~\t\n'

# Keras's filters become spaces; ASCII capitals (only) become small letters.
_LOWER_AND_FILTER = str.maketrans(
    KERAS_FILTERS + string.ascii_uppercase,
    " " * len(KERAS_FILTERS) + string.ascii_lowercase)
_NAME_RE = re.compile(r"(\d+)_(\d+)\.txt")
_MAX_REVIEW_ID = 2**31 - 1  # Ids are kept as int32 (aclImdb's are < 12,500).


class Review(NamedTuple):
  """One review file: label (1 = pos), numeric id, star rating 1..10, text."""
  label: int
  review_id: int
  rating: int
  text: str


@dataclasses.dataclass(frozen=True)
class TokenizedSplit:
  """One split as vocabulary ranks, reviews concatenated.

  Attributes:
    ranks: int32 [total tokens]: the training-vocabulary rank (1 = most
      frequent) of each token; words that never occur in training are not
      there (see :func:`build_corpus`).
    offsets: int64 [n + 1]: review i is ``ranks[offsets[i]:offsets[i + 1]]``.
    labels: int32 [n]: 1 positive, 0 negative.
    review_ids: int32 [n]: the ``<id>`` of the file name.
    ratings: int32 [n]: the ``<rating>`` of the file name.
  """
  ranks: np.ndarray
  offsets: np.ndarray
  labels: np.ndarray
  review_ids: np.ndarray
  ratings: np.ndarray

  def __len__(self) -> int:
    return len(self.labels)

  def lengths(self) -> np.ndarray:
    """Tokens per review (without the start id)."""
    return np.diff(self.offsets)


@dataclasses.dataclass(frozen=True)
class Corpus:
  """The tokenized corpus: vocabulary (by rank) and the two splits."""
  words: Tuple[str, ...]  # words[r - 1] has rank r.
  train: TokenizedSplit
  test: TokenizedSplit


@dataclasses.dataclass(frozen=True)
class Examples:
  """Model-ready examples: ``x`` int32 [n, maxlen] ids, ``y`` int32 [n]."""
  x: np.ndarray
  y: np.ndarray

  def __len__(self) -> int:
    return len(self.y)


@dataclasses.dataclass(frozen=True)
class Dataset:
  """Train / validation (possibly empty) / test examples of one config."""
  train: Examples
  valid: Examples
  test: Examples

  def sizes(self) -> Dict[str, int]:
    """Examples per split, as run records and benchmarks print them."""
    return {"train": len(self.train), "valid": len(self.valid),
            "test": len(self.test)}


# ----------------------------------------------------------------- tokens, ids


def tokenize(text: str) -> List[str]:
  """Keras ``text_to_word_sequence(text)`` as ``imdb.npz`` was made with it:
  lowercase ASCII letters, filter, split on " ".

  Only ASCII letters are lowercased (``AMÉLIE`` becomes ``amÉlie``), as
  Python 2's ``str.lower`` does on byte strings: so this reader's index and
  id counts equal ``imdb.npz``'s exactly (``docs/imdb.md``); with Python 3's
  ``str.lower`` the index would have 88,582 words, not 88,584. Only the
  space separates words (a tab or newline does because it is in
  :data:`KERAS_FILTERS`; other Unicode spaces such as U+0085 stay inside
  words, as in Keras's index: ``most\x85and``).
  """
  return [w for w in text.translate(_LOWER_AND_FILTER).split(" ") if w]


def build_vocab(token_lists: Iterable[Sequence[str]]) -> Tuple[str, ...]:
  """Words ranked by count, most frequent first; ties broken by the word."""
  counts = Counter(itertools.chain.from_iterable(token_lists))
  return tuple(sorted(counts, key=lambda w: (-counts[w], w)))


def to_ranks(tokens: Sequence[str], rank: Dict[str, int]) -> np.ndarray:
  """int32 ranks of the ``tokens`` found in ``rank``; the others are dropped.

  Keras's ``imdb.npz`` encoded each review with an index made from the
  training reviews and left out test words that are not in it (they are
  neither ids nor OOV there; ``docs/imdb.md`` shows the counts).
  """
  return np.array([rank[w] for w in tokens if w in rank], np.int32)


def ranks_to_ids(ranks: np.ndarray, num_words: int) -> np.ndarray:
  """Keras ids of ranks: ``rank + INDEX_FROM``; ids >= num_words are OOV."""
  ids = ranks.astype(np.int32) + INDEX_FROM
  return np.where(ids < num_words, ids, OOV).astype(np.int32)


def encode(split: TokenizedSplit, num_words: int) -> List[np.ndarray]:
  """Each review as Keras ids: ``[START] + ranks_to_ids(ranks)``."""
  ids = ranks_to_ids(split.ranks, num_words)
  start = np.array([START], np.int32)
  return [np.concatenate((start, ids[a:b]))
          for a, b in zip(split.offsets[:-1], split.offsets[1:])]


def pad_sequences(sequences: Sequence[Sequence[int]], maxlen: int,
                  padding: str = "pre", truncating: str = "pre") -> np.ndarray:
  """``keras.preprocessing.sequence.pad_sequences`` for int ids.

  Args:
    sequences: lists/arrays of ids.
    maxlen: output length.
    padding: ``"pre"`` pads at the front, ``"post"`` at the end.
    truncating: ``"pre"`` drops ids from the front (keeps the last
      ``maxlen``), ``"post"`` drops them from the end.

  Returns:
    int32 [len(sequences), maxlen].

  Raises:
    UserError: unknown padding/truncating, or maxlen < 1.
  """
  for name, mode in (("padding", padding), ("truncating", truncating)):
    if mode not in ("pre", "post"):
      raise UserError("%s must be 'pre' or 'post', got %r" % (name, mode))
  if maxlen < 1:
    raise UserError("maxlen must be positive, got %r" % maxlen)
  out = np.full((len(sequences), maxlen), PAD, np.int32)
  for i, seq in enumerate(sequences):
    seq = np.asarray(seq, np.int32)
    seq = seq[-maxlen:] if truncating == "pre" else seq[:maxlen]
    if not len(seq):
      continue
    if padding == "pre":
      out[i, maxlen - len(seq):] = seq
    else:
      out[i, :len(seq)] = seq
  return out


# ------------------------------------------------------------ reading reviews


def find_source(data_path: str) -> str:
  """The directory or archive to read under ``data_path`` (module docstring).

  Raises:
    UserError: ``data_path`` is missing or holds none of the accepted forms.
  """
  if os.path.isfile(data_path):
    return data_path
  if not os.path.isdir(data_path):
    raise UserError("IMDB data_path %s does not exist" % data_path)
  if all(os.path.isdir(os.path.join(data_path, s)) for s in SPLITS):
    return data_path
  candidates = [os.path.join(data_path, DIRNAME)]
  candidates += [os.path.join(data_path, name) for name in SHA256]
  for path in candidates:
    if os.path.exists(path):
      return path
  raise UserError(
      "no IMDB data in %s: expected %s/ or one of %s (--download fetches %s)"
      % (data_path, DIRNAME, ", ".join(SHA256), URL))


def _parse_name(name: str, where: str) -> Tuple[int, int]:
  """``"123_8.txt"`` -> (123, 8); UserError for any other .txt name."""
  match = _NAME_RE.fullmatch(name)
  if (not match or not 1 <= int(match.group(2)) <= 10
      or int(match.group(1)) > _MAX_REVIEW_ID):
    raise UserError("unexpected review file name %r in %s (want "
                    "<id>_<rating>.txt with id at most %d and rating 1..10)"
                    % (name, where, _MAX_REVIEW_ID))
  return int(match.group(1)), int(match.group(2))


def _decode(data: bytes, where: str) -> str:
  """UTF-8 text of a review file; UserError if empty or not UTF-8."""
  if not data.strip():
    raise UserError("empty review file %s" % where)
  try:
    return data.decode("utf-8")
  except UnicodeDecodeError as e:
    raise UserError("review file %s is not valid UTF-8 (byte %d: %s)" %
                    (where, e.start, e.reason)) from e


def _review(label_name: str, file_name: str, data: bytes,
            where: str) -> Review:
  review_id, rating = _parse_name(file_name, os.path.dirname(where) or where)
  return Review(label=LABELS[label_name], review_id=review_id, rating=rating,
                text=_decode(data, where))


def _review_folders(root: str) -> Iterator[Tuple[str, str, str]]:
  """(split, label name, folder path) of the four labeled folders."""
  for split in SPLITS:
    for label_name in LABELS:
      yield split, label_name, os.path.join(root, split, label_name)


def _read_directory(root: str) -> Dict[str, List[Review]]:
  reviews = {split: [] for split in SPLITS}
  for split, label_name, folder in _review_folders(root):
    if not os.path.isdir(folder):
      raise UserError("missing IMDB folder %s" % folder)
    try:
      names = sorted(os.listdir(folder))
    except OSError as e:
      raise UserError("cannot list %s: %s" % (folder, e)) from e
    for name in names:
      if not name.endswith(".txt"):
        continue
      path = os.path.join(folder, name)
      try:
        with open(path, "rb") as f:
          data = f.read()
      except OSError as e:
        raise UserError("cannot read %s: %s" % (path, e)) from e
      reviews[split].append(_review(label_name, name, data, path))
  return reviews


def _member_key(name: str) -> Optional[Tuple[str, str, str]]:
  """(split, label name, file name) of a review member, else None.

  Accepts ``aclImdb/train/pos/1_7.txt`` (both archives have the top folder).
  """
  parts = [p for p in name.split("/") if p not in ("", ".")]
  if len(parts) != 4:
    return None
  split, label_name, file_name = parts[1:]
  if split in SPLITS and label_name in LABELS and file_name.endswith(".txt"):
    return split, label_name, file_name
  return None


def _read_archive(path: str) -> Dict[str, List[Review]]:
  reviews = {split: [] for split in SPLITS}
  try:
    with tarfile.open(path, "r:*") as tar:
      for member in tar:
        data_lib.check_member_safe(member, path)
        key = _member_key(member.name)
        if key is None or not member.isfile():
          continue
        split, label_name, file_name = key
        data = tar.extractfile(member).read()
        reviews[split].append(_review(label_name, file_name, data,
                                      "%s:%s" % (path, member.name)))
      _check_end_of_archive(tar, path)
  except (tarfile.TarError, OSError, EOFError, zlib.error) as e:
    raise UserError("cannot read archive %s: %s" % (path, e)) from e
  return reviews


def _check_end_of_archive(tar: tarfile.TarFile, path: str) -> None:
  """UserError unless the members ended at tar's end-of-archive block.

  ``tarfile`` takes a file cut between two members for a complete archive
  (a gzip stream's own checks catch a cut .tar.gz, not a .tar cut before it
  was compressed): the reviews after the cut would be silently missing.
  Having read the last header, ``tarfile`` stands a block past the last
  member's data if that header was the zero block, at it if the file ended.
  """
  if tar.fileobj.tell() < tar.offset + tarfile.BLOCKSIZE:
    raise UserError("archive %s ends without tar's end-of-archive block "
                    "after %d bytes: it is truncated; download or copy it "
                    "again" % (path, tar.offset))


def _check_folders_present(reviews: Dict[str, List[Review]],
                           source: str) -> None:
  for split in SPLITS:
    for label_name, label in LABELS.items():
      if not any(r.label == label for r in reviews[split]):
        raise UserError("no reviews in %s/%s/%s of %s" %
                        (DIRNAME, split, label_name, source))


def read_reviews(source: str) -> Dict[str, List[Review]]:
  """Reads every labeled review of a directory or an archive.

  Args:
    source: from :func:`find_source`.

  Returns:
    ``{"train": [...], "test": [...]}``, each sorted by (label, id).

  Raises:
    UserError: a missing folder, an empty or non-UTF-8 file, an unexpected
      file name, an unreadable or unsafe archive, a checksum mismatch.
  """
  if os.path.isdir(source):
    reviews = _read_directory(source)
  else:
    name = os.path.basename(source)
    if name in SHA256:
      try:
        digest = data_lib.file_digest(source)
      except OSError as e:
        raise UserError("cannot read archive %s: %s" % (source, e)) from e
      data_lib.check_digest(source, digest, SHA256[name])
    reviews = _read_archive(source)
  _check_folders_present(reviews, source)
  return {split: sorted(rs, key=lambda r: (r.label, r.review_id))
          for split, rs in reviews.items()}


def _tokenized_split(reviews: Sequence[Review], token_lists,
                     rank: Dict[str, int]) -> TokenizedSplit:
  rank_lists = [to_ranks(t, rank) for t in token_lists]
  offsets = np.zeros(len(reviews) + 1, np.int64)
  np.cumsum([len(r) for r in rank_lists], out=offsets[1:])
  ranks = (np.concatenate(rank_lists) if rank_lists
           else np.zeros(0, np.int32))
  return TokenizedSplit(
      ranks=ranks, offsets=offsets,
      labels=np.array([r.label for r in reviews], np.int32),
      review_ids=np.array([r.review_id for r in reviews], np.int32),
      ratings=np.array([r.rating for r in reviews], np.int32))


def build_corpus(reviews: Dict[str, List[Review]]) -> Corpus:
  """Tokenizes both splits; the vocabulary comes from ``train`` only.

  Test words outside the vocabulary are dropped (:func:`to_ranks`), as in
  Keras's ``imdb.npz``; words that are in it but rarer than ``num_words``
  become OOV later (:func:`ranks_to_ids`).
  """
  tokens = {split: [tokenize(r.text) for r in rs]
            for split, rs in reviews.items()}
  words = build_vocab(tokens["train"])
  rank = {w: i + 1 for i, w in enumerate(words)}
  return Corpus(words=words, **{
      split: _tokenized_split(reviews[split], tokens[split], rank)
      for split in SPLITS})


# ---------------------------------------------------------------------- cache


def default_cache_dir() -> str:
  """``$XDG_CACHE_HOME/tf1-rnn-tutorials``, else ``~/.cache/...`` likewise."""
  root = os.environ.get("XDG_CACHE_HOME") or os.path.join(
      os.path.expanduser("~"), ".cache")
  return os.path.join(root, "tf1-rnn-tutorials")


def _fingerprint(source: str) -> str:
  """Changes whenever the source (or the tokenizer version) changes.

  Raises:
    UserError: the source cannot be listed or a file in it not stat'ed.
  """
  try:
    identity = _identity(source)
  except OSError as e:
    raise UserError("cannot read IMDB data %s: %s" % (source, e)) from e
  blob = json.dumps([CACHE_VERSION, identity]).encode()
  return data_lib.bytes_digest(blob)[:20]


def _identity(source: str):
  """Path, sizes and mtimes of the source (every review file of a tree)."""
  if os.path.isdir(source):
    files = []
    for _, _, folder in _review_folders(source):
      if os.path.isdir(folder):
        for entry in sorted(os.scandir(folder), key=lambda e: e.name):
          st = entry.stat()
          files.append((entry.path, st.st_size, st.st_mtime_ns))
    identity = [os.path.realpath(source), files]
  else:
    st = os.stat(source)
    identity = [os.path.realpath(source), st.st_size, st.st_mtime_ns]
  return identity


def _corpus_arrays(corpus: Corpus) -> Dict[str, np.ndarray]:
  arrays = {"words": np.frombuffer("\n".join(corpus.words).encode("utf-8"),
                                   np.uint8)}
  for split in SPLITS:
    for field in dataclasses.fields(TokenizedSplit):
      arrays["%s_%s" % (split, field.name)] = getattr(getattr(corpus, split),
                                                      field.name)
  return arrays


def _corpus_from_arrays(arrays) -> Corpus:
  text = arrays["words"].tobytes().decode("utf-8")
  splits = {split: TokenizedSplit(**{
      f.name: arrays["%s_%s" % (split, f.name)]
      for f in dataclasses.fields(TokenizedSplit)}) for split in SPLITS}
  return Corpus(words=tuple(text.split("\n")) if text else (), **splits)


def _read_cache(path: str) -> Optional[Corpus]:
  if not os.path.exists(path):
    return None
  try:
    with np.load(path, allow_pickle=False) as arrays:
      return _corpus_from_arrays(arrays)
  except (OSError, EOFError, ValueError, KeyError, TypeError,
          zipfile.BadZipFile) as e:
    logging.warning("Ignoring unreadable IMDB cache %s (%s)", path, e)
    return None


def _write_cache(path: str, corpus: Corpus) -> None:
  """Writes atomically; a cache that cannot be written is only a warning."""
  tmp = "%s.tmp%d" % (path, os.getpid())
  try:
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(tmp, "wb") as f:  # A file object: savez adds no ".npz".
      np.savez(f, **_corpus_arrays(corpus))
    os.replace(tmp, path)
    logging.info("Cached the tokenized IMDB corpus in %s", path)
  except OSError as e:
    logging.warning("Cannot write IMDB cache %s (%s)", path, e)
    if os.path.exists(tmp):
      os.remove(tmp)


def load_corpus(data_path: str, cache_dir: Optional[str] = None) -> Corpus:
  """Reads and tokenizes the reviews under ``data_path``, using the cache.

  Args:
    data_path: see :func:`find_source`.
    cache_dir: where tokenized corpora are kept; None or "" = no cache.

  Returns:
    The corpus.

  Raises:
    UserError: see :func:`read_reviews`.
  """
  source = find_source(data_path)
  cache_path = None
  if cache_dir:
    cache_path = os.path.join(cache_dir, "imdb-%s.npz" % _fingerprint(source))
    corpus = _read_cache(cache_path)
    if corpus is not None:
      logging.info("Read the tokenized IMDB corpus from %s", cache_path)
      return corpus
  logging.info("Reading and tokenizing the reviews in %s", source)
  corpus = build_corpus(read_reviews(source))
  if cache_path:
    _write_cache(cache_path, corpus)
  return corpus


# -------------------------------------------------------- examples, batches


def _rng(seed: int, *stream: int) -> np.random.Generator:
  return np.random.default_rng([seed, *stream])


def validation_size(num_train: int, validation_split: float) -> int:
  """Reviews held out of ``num_train`` (at least 1 if the split is > 0).

  Raises:
    UserError: the split would leave no training review.
  """
  if validation_split <= 0:
    return 0
  size = max(int(round(num_train * validation_split)), 1)
  if size >= num_train:
    raise UserError("validation_split=%g leaves no training reviews (of %d)" %
                    (validation_split, num_train))
  return size


def make_examples(split: TokenizedSplit, num_words: int, maxlen: int,
                  padding: str = "pre", truncating: str = "pre") -> Examples:
  """Encodes and pads one split."""
  x = pad_sequences(encode(split, num_words), maxlen, padding, truncating)
  return Examples(x=x, y=split.labels.astype(np.int32))


def subset(examples: Examples, index: np.ndarray) -> Examples:
  return Examples(x=examples.x[index], y=examples.y[index])


def make_dataset(corpus: Corpus, num_words: int, maxlen: int,
                 padding: str = "pre", truncating: str = "pre",
                 validation_split: float = 0.0, seed: int = 0) -> Dataset:
  """Encodes, pads and splits the corpus (all deterministic given ``seed``).

  The training reviews are shuffled with ``seed``; the last
  ``validation_split`` of them (Keras also holds out the tail) become the
  validation set. The test set keeps its (label, id) order.
  """
  train_all = make_examples(corpus.train, num_words, maxlen, padding,
                            truncating)
  n = len(train_all)
  order = _rng(seed, 0).permutation(n)
  n_valid = validation_size(n, validation_split)
  return Dataset(
      train=subset(train_all, order[:n - n_valid]),
      valid=subset(train_all, order[n - n_valid:]),
      test=make_examples(corpus.test, num_words, maxlen, padding, truncating))


def epoch_order(n: int, seed: int, epoch: int) -> np.ndarray:
  """The training order of 0-based ``epoch``: the same after a resume."""
  return _rng(seed, 1, epoch).permutation(n)


def batches(n: int, batch_size: int,
            order: Optional[np.ndarray] = None) -> Iterator[np.ndarray]:
  """Index arrays of ``batch_size`` (the last one may be smaller)."""
  order = np.arange(n) if order is None else order
  for start in range(0, n, batch_size):
    yield order[start:start + batch_size]


def num_batches(n: int, batch_size: int) -> int:
  return -(-n // batch_size)


def length_stats(split: TokenizedSplit, maxlen: int) -> Dict[str, float]:
  """Mean/median review length (with the start id) and share truncated."""
  lengths = split.lengths() + 1
  return {"mean_length": float(lengths.mean()),
          "median_length": float(np.median(lengths)),
          "truncated_fraction": float((lengths > maxlen).mean())}
