"""MNIST reader: the four IDX files -> train/validation/test, in numpy (no TF).

Same semantics as TF1's ``tensorflow.examples.tutorials.mnist.input_data``
(``read_data_sets(dir, one_hot=True)``), minus TensorFlow:

* validation = the first 5,000 images of the training file, train = the other
  55,000, test = the 10,000 of the test file;
* images are float32 784-vectors scaled to [0, 1] (``uint8 / 255``), labels
  are one-hot float32 10-vectors;
* :meth:`DataSet.next_batch` shuffles every epoch (the first one included)
  and a batch that crosses an epoch boundary is the rest of the old epoch
  followed by the start of the newly shuffled one.

The one intended difference: shuffling uses a seeded
``numpy.random.Generator`` owned by the DataSet, not the global RNG, so the
batch order is reproducible and can be saved with a checkpoint
(:meth:`DataSet.get_state`).

IDX layout (all integers big-endian)::

    images: int32 magic 2051 | int32 count | int32 rows | int32 cols
            | count*rows*cols uint8 pixels, row-major
    labels: int32 magic 2049 | int32 count | count uint8 labels (0..9)

Each file may be stored as ``NAME`` or gzipped as ``NAME.gz`` (detected by
content). Once the pair of files parses (a malformed one is reported as
such), the *decompressed* content is checked against the published
md5/sha256 (``../shared/data/README.md``); pass ``verify_checksums=False``
(``--noverify_checksums``) to read other IDX data sets of the same shape,
such as Fashion-MNIST.
"""

import dataclasses
import gzip
import os
import zlib
from typing import Any, Dict, Optional, Tuple

import numpy as np

from common import data as data_lib
from common.errors import UserError

IMAGE_ROWS = 28  # Time steps of the RNN: one image row per step.
IMAGE_COLS = 28  # Inputs per time step: the pixels of one row.
IMAGE_PIXELS = IMAGE_ROWS * IMAGE_COLS
NUM_CLASSES = 10
VALIDATION_SIZE = 5000
TEST_SIZE = 10000  # Images in MNIST's test files.

IMAGES_MAGIC = 2051
LABELS_MAGIC = 2049
_GZIP_MAGIC = b"\x1f\x8b"


@dataclasses.dataclass(frozen=True)
class IdxFile:
  """One of the four standard files and its decompressed checksums."""
  name: str  # File name without ".gz".
  md5: str  # md5 of the decompressed content.
  sha256: str  # sha256 of the decompressed content.


TRAIN_IMAGES = IdxFile(
    "train-images-idx3-ubyte", "6bbc9ace898e44ae57da46a324031adb",
    "ba891046e6505d7aadcbbe25680a0738ad16aec93bde7f9b65e87a2fc25776db")
TRAIN_LABELS = IdxFile(
    "train-labels-idx1-ubyte", "a25bea736e30d166cdddb491f175f624",
    "65a50cbbf4e906d70832878ad85ccda5333a97f0f4c3dd2ef09a8a9eef7101c5")
TEST_IMAGES = IdxFile(
    "t10k-images-idx3-ubyte", "2646ac647ad5339dbf082846283269ea",
    "0fa7898d509279e482958e8ce81c8e77db3f2f8254e26661ceb7762c4d494ce7")
TEST_LABELS = IdxFile(
    "t10k-labels-idx1-ubyte", "27ae3e4e09519cfbb04c329615203637",
    "ff7bcfd416de33731a308c3f266cc351222c34898ecbeaf847f06e48f7ec33f2")
FILES = (TRAIN_IMAGES, TRAIN_LABELS, TEST_IMAGES, TEST_LABELS)


# --------------------------------------------------------------------------
# IDX files.


def existing_file(data_dir: str, spec: IdxFile) -> Optional[str]:
  """Path of ``spec.name`` or else ``spec.name + '.gz'``; None if neither."""
  for name in (spec.name, spec.name + ".gz"):
    path = os.path.join(data_dir, name)
    if os.path.isfile(path):
      return path
  return None


def find_file(data_dir: str, spec: IdxFile) -> str:
  """Path of ``spec.name`` or else ``spec.name + '.gz'`` in ``data_dir``.

  Raises:
    UserError: neither exists.
  """
  path = existing_file(data_dir, spec)
  if path is not None:
    return path
  raise UserError("missing MNIST file %s(.gz) in %s; pass --data_path=DIR "
                  "holding the four IDX files (or --download)" %
                  (spec.name, data_dir))


def read_content(path: str) -> bytes:
  """The bytes of ``path``, decompressed if it is gzipped.

  Raises:
    UserError: unreadable file or corrupt/truncated gzip stream.
  """
  try:
    with open(path, "rb") as f:
      raw = f.read()
  except OSError as e:
    raise UserError("cannot read %s: %s" % (path, e.strerror)) from e
  if not raw.startswith(_GZIP_MAGIC):
    return raw
  try:
    return gzip.decompress(raw)
  except (OSError, EOFError, zlib.error) as e:
    raise UserError("corrupt gzip file %s: %s" % (path, e)) from e


def verify_content(path: str, content: bytes, spec: IdxFile) -> None:
  """Checks the decompressed ``content`` against ``spec``'s md5 and sha256.

  Raises:
    UserError: a digest differs (names the file and how to skip the check).
  """
  name = "%s (decompressed content; --noverify_checksums skips this check " \
         "for other IDX data sets)" % path
  data_lib.check_digest(name, data_lib.bytes_digest(content, "md5"),
                        spec.md5)
  data_lib.check_digest(name, data_lib.bytes_digest(content, "sha256"),
                        spec.sha256)


def _header(content: bytes, path: str, num_ints: int) -> Tuple[int, ...]:
  """The first ``num_ints`` big-endian int32s of an IDX file."""
  size = 4 * num_ints
  if len(content) < size:
    raise UserError("truncated IDX file %s: %d bytes, shorter than its %d-byte "
                    "header" % (path, len(content), size))
  return tuple(int(x) for x in np.frombuffer(content[:size], dtype=">i4"))


def _check_magic(path: str, magic: int, expected: int, kind: str) -> None:
  if magic != expected:
    raise UserError("bad magic number %d in %s: expected %d for an IDX %s file"
                    % (magic, path, expected, kind))


def _payload(content: bytes, path: str, offset: int, size: int) -> np.ndarray:
  """The ``size`` uint8 bytes after the header; the length must be exact."""
  actual = len(content) - offset
  if actual < size:
    raise UserError("truncated IDX file %s: header promises %d data bytes, "
                    "found %d" % (path, size, actual))
  if actual > size:
    raise UserError("malformed IDX file %s: %d unexpected bytes after the %d "
                    "data bytes its header promises" %
                    (path, actual - size, size))
  return np.frombuffer(content, dtype=np.uint8, offset=offset)


def parse_images(content: bytes, path: str) -> np.ndarray:
  """IDX image file content -> uint8 array [count, 28, 28].

  Raises:
    UserError: wrong magic, image size other than 28x28, or wrong length.
  """
  magic, count, rows, cols = _header(content, path, 4)
  _check_magic(path, magic, IMAGES_MAGIC, "image")
  if (rows, cols) != (IMAGE_ROWS, IMAGE_COLS):
    raise UserError("%s holds %dx%d images; the row-by-row models need %dx%d"
                    % (path, rows, cols, IMAGE_ROWS, IMAGE_COLS))
  pixels = _payload(content, path, 16, count * rows * cols)
  return pixels.reshape(count, rows, cols)


def parse_labels(content: bytes, path: str) -> np.ndarray:
  """IDX label file content -> uint8 array [count] with values 0..9.

  Raises:
    UserError: wrong magic, wrong length, or a label outside 0..9.
  """
  magic, count = _header(content, path, 2)
  _check_magic(path, magic, LABELS_MAGIC, "label")
  labels = _payload(content, path, 8, count)
  if count and labels.max() >= NUM_CLASSES:
    raise UserError("%s holds label %d; expected 0..%d" %
                    (path, labels.max(), NUM_CLASSES - 1))
  return labels


def load_pair(data_dir: str, images_spec: IdxFile, labels_spec: IdxFile,
              verify_checksums: bool) -> Tuple[np.ndarray, np.ndarray]:
  """Reads, parses and verifies one images/labels pair of files.

  Parsing comes first, so a truncated or malformed file is reported as such;
  the checksums are checked only on files that parse.

  Returns:
    (uint8 images [n, 28, 28], uint8 labels [n]).

  Raises:
    UserError: any problem with either file, or different counts.
  """
  arrays, paths, contents = [], [], []
  for spec, parse in ((images_spec, parse_images), (labels_spec, parse_labels)):
    path = find_file(data_dir, spec)
    content = read_content(path)
    arrays.append(parse(content, path))
    paths.append(path)
    contents.append(content)
  images, labels = arrays
  if len(images) != len(labels):
    raise UserError("%s holds %d images but %s holds %d labels" %
                    (paths[0], len(images), paths[1], len(labels)))
  if verify_checksums:
    for spec, path, content in zip((images_spec, labels_spec), paths,
                                   contents):
      verify_content(path, content, spec)
  return images, labels


# --------------------------------------------------------------------------
# Data sets.


def to_one_hot(labels: np.ndarray, num_classes: int = NUM_CLASSES
              ) -> np.ndarray:
  """Integer labels [n] -> float32 one-hot [n, num_classes]."""
  one_hot = np.zeros((len(labels), num_classes), dtype=np.float32)
  one_hot[np.arange(len(labels)), labels] = 1.0
  return one_hot


def to_float_images(images: np.ndarray) -> np.ndarray:
  """uint8 [n, 28, 28] -> float32 [n, 784] in [0, 1] (``input_data``'s way)."""
  flat = images.reshape(len(images), -1).astype(np.float32)
  return np.multiply(flat, 1.0 / 255.0, dtype=np.float32)


class DataSet:
  """Images and one-hot labels with ``input_data``'s ``next_batch``.

  Attributes:
    images: float32 [num_examples, 784] in [0, 1], in file order.
    labels: float32 one-hot [num_examples, 10], in file order.
  """

  def __init__(self, images: np.ndarray, labels: np.ndarray,
               seed: Optional[int] = 0, shuffle: bool = True):
    """Wraps uint8 images [n, 28, 28] and integer labels [n].

    Args:
      images: uint8 images as parsed from IDX.
      labels: integer labels 0..9.
      seed: seed of this DataSet's shuffling Generator (None: OS entropy).
      shuffle: False keeps the file order in every epoch.
    """
    if len(images) != len(labels):
      raise UserError("%d images but %d labels" % (len(images), len(labels)))
    self.images = to_float_images(images)
    self.labels = to_one_hot(labels)
    self._shuffle = shuffle
    self._rng = np.random.default_rng(seed)
    self._rng_state = None  # Generator state before the current epoch's order.
    self._order = None  # Example order of the current epoch.
    self._epochs_completed = 0
    self._index_in_epoch = 0

  @property
  def num_examples(self) -> int:
    return len(self.images)

  @property
  def epochs_completed(self) -> int:
    return self._epochs_completed

  def _new_epoch_order(self) -> None:
    self._rng_state = self._rng.bit_generator.state
    if self._shuffle:
      self._order = self._rng.permutation(self.num_examples)
    else:
      self._order = np.arange(self.num_examples)

  def next_batch(self, batch_size: int) -> Tuple[np.ndarray, np.ndarray]:
    """The next ``batch_size`` (images, labels), as ``input_data`` served them.

    The first call shuffles. A batch that does not fit in what is left of
    the epoch takes that rest, counts the epoch as completed, reshuffles, and
    fills up from the start of the new order. A batch that ends exactly at
    the end of an epoch does not complete it yet: the next call does (so
    ``epochs_completed`` lags by one call there, as it did in TF1).

    Raises:
      UserError: ``batch_size`` is not in 1..num_examples.
    """
    if not 0 < batch_size <= self.num_examples:
      raise UserError("batch_size %d must be in 1..%d (the examples in the "
                      "set)" % (batch_size, self.num_examples))
    if self._order is None:
      self._new_epoch_order()
    start = self._index_in_epoch
    if start + batch_size > self.num_examples:
      self._epochs_completed += 1
      rest = self._order[start:]
      self._new_epoch_order()
      self._index_in_epoch = batch_size - len(rest)
      index = np.concatenate([rest, self._order[:self._index_in_epoch]])
    else:
      self._index_in_epoch = start + batch_size
      index = self._order[start:self._index_in_epoch]
    return self.images[index], self.labels[index]

  def get_state(self) -> Dict[str, Any]:
    """JSON-friendly position in the batch stream (saved with checkpoints)."""
    rng_state = self._rng_state
    if rng_state is None:  # Before the first batch: the state that will
      rng_state = self._rng.bit_generator.state  # draw the first order.
    return {"epochs_completed": self._epochs_completed,
            "index_in_epoch": self._index_in_epoch,
            "rng_state": rng_state}

  def set_state(self, state: Dict[str, Any]) -> None:
    """Continues the batch stream exactly where :meth:`get_state` left it.

    Raises:
      UserError: a malformed state.
    """
    try:
      epochs = state["epochs_completed"]
      index = state["index_in_epoch"]
      rng_state = state["rng_state"]
    except (KeyError, TypeError) as e:
      raise UserError("malformed data state %r" % (state,)) from e
    if not all(isinstance(v, int) and not isinstance(v, bool)
               for v in (epochs, index)):
      raise UserError("malformed data state %r: epochs_completed and "
                      "index_in_epoch must be integers" % (state,))
    if not (epochs >= 0 and 0 <= index <= self.num_examples):
      raise UserError("data state %r does not fit a set of %d examples" %
                      (state, self.num_examples))
    self._epochs_completed = epochs
    self._index_in_epoch = index
    self._order = None
    self._rng_state = None
    if rng_state is not None:
      try:
        self._rng.bit_generator.state = rng_state
      except (TypeError, ValueError, KeyError, OverflowError) as e:
        raise UserError("malformed generator state in data state") from e
      self._new_epoch_order()


@dataclasses.dataclass
class DataSets:
  """The three splits, like ``input_data.read_data_sets``' result."""
  train: DataSet
  validation: DataSet
  test: DataSet


def read_data_sets(data_dir: str, validation_size: int = VALIDATION_SIZE,
                   verify_checksums: bool = True,
                   seed: Optional[int] = 0) -> DataSets:
  """Reads the four IDX files of ``data_dir`` into train/validation/test.

  Args:
    data_dir: directory holding the files (gzipped or not).
    validation_size: how many of the first training images form validation.
    verify_checksums: check the decompressed content (see module docstring).
    seed: seed of the training set's shuffling.

  Returns:
    The three splits (validation and test are never shuffled by the trainer:
    it evaluates them in file order).

  Raises:
    UserError: a missing directory or any problem with the files.
  """
  if not data_dir or not os.path.isdir(data_dir):
    raise UserError("MNIST data directory %r not found; pass --data_path=DIR "
                    "holding the four IDX files (or --download)" % (data_dir,))
  train_images, train_labels = load_pair(data_dir, TRAIN_IMAGES, TRAIN_LABELS,
                                         verify_checksums)
  test_images, test_labels = load_pair(data_dir, TEST_IMAGES, TEST_LABELS,
                                       verify_checksums)
  if not 0 < validation_size < len(train_images):
    raise UserError("validation_size %d must be in 1..%d" %
                    (validation_size, len(train_images) - 1))
  if not len(test_images):
    raise UserError("%s holds no test images" %
                    find_file(data_dir, TEST_IMAGES))
  return DataSets(
      train=DataSet(train_images[validation_size:],
                    train_labels[validation_size:], seed=seed),
      validation=DataSet(train_images[:validation_size],
                         train_labels[:validation_size], shuffle=False),
      test=DataSet(test_images, test_labels, shuffle=False))
