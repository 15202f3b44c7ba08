"""Tests of mnist_rnn/reader.py: IDX parsing, checks, splits, next_batch."""

import dataclasses
import gzip
import json
import os
import struct

from absl.testing import absltest
from absl.testing import parameterized
import numpy as np

from common.errors import UserError
from mnist_rnn import download
from mnist_rnn import reader
from tests import testutil

# Label counts of the real test set (the widely published MNIST numbers).
TEST_LABEL_COUNTS = [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009]


def idx_images(images: np.ndarray, magic: int = reader.IMAGES_MAGIC) -> bytes:
  n, rows, cols = images.shape
  return struct.pack(">iiii", magic, n, rows, cols) + images.tobytes()


def idx_labels(labels: np.ndarray, magic: int = reader.LABELS_MAGIC) -> bytes:
  return struct.pack(">ii", magic, len(labels)) + labels.tobytes()


def fake_images(n: int, size: int = 28) -> np.ndarray:
  """Image i has every pixel = i % 256 (so a batch reveals its indices)."""
  return np.repeat(np.arange(n, dtype=np.uint8), size * size).reshape(
      n, size, size)


def fake_labels(n: int) -> np.ndarray:
  return (np.arange(n) % reader.NUM_CLASSES).astype(np.uint8)


def write(path: str, content: bytes, compress: bool = False) -> str:
  if compress:
    path += ".gz"
    content = gzip.compress(content)
  with open(path, "wb") as f:
    f.write(content)
  return path


def write_dataset(directory: str, n_train: int = 30, n_test: int = 10,
                  compress: bool = False, **replace: bytes) -> None:
  """Writes the four files; ``replace[name]`` overrides one file's content."""
  contents = {
      reader.TRAIN_IMAGES.name: idx_images(fake_images(n_train)),
      reader.TRAIN_LABELS.name: idx_labels(fake_labels(n_train)),
      reader.TEST_IMAGES.name: idx_images(fake_images(n_test)),
      reader.TEST_LABELS.name: idx_labels(fake_labels(n_test)),
  }
  for key, value in replace.items():
    contents[getattr(reader, key).name] = value
  for name, content in contents.items():
    write(os.path.join(directory, name), content, compress)


def batch_indices(images: np.ndarray) -> list:
  """Recovers fake_images indices from a batch of float images."""
  return [int(round(v)) for v in images[:, 0] * 255.0]


class IdxParsingTest(parameterized.TestCase):

  @parameterized.parameters(False, True)
  def test_reads_plain_and_gzipped_files(self, compress):
    d = self.create_tempdir().full_path
    write_dataset(d, compress=compress)
    data = reader.read_data_sets(d, validation_size=5,
                                 verify_checksums=False)
    self.assertEqual(data.train.num_examples, 25)
    self.assertEqual(data.validation.num_examples, 5)
    self.assertEqual(data.test.num_examples, 10)
    # Validation is the first 5 training images, train the rest, in order.
    self.assertEqual(batch_indices(data.validation.images), [0, 1, 2, 3, 4])
    self.assertEqual(batch_indices(data.train.images), list(range(5, 30)))
    np.testing.assert_array_equal(data.train.labels.argmax(1),
                                  fake_labels(30)[5:])

  def test_parse_images_shape_and_values(self):
    images = np.random.default_rng(0).integers(0, 256, (3, 28, 28),
                                               dtype=np.uint8)
    parsed = reader.parse_images(idx_images(images), "x")
    self.assertEqual(parsed.shape, (3, 28, 28))
    np.testing.assert_array_equal(parsed, images)

  @parameterized.named_parameters(
      ("images_magic", "TRAIN_IMAGES",
       idx_images(fake_images(30), magic=2049), "bad magic number 2049"),
      ("labels_magic", "TEST_LABELS",
       idx_labels(fake_labels(10), magic=2051), "bad magic number 2051"),
      ("images_truncated", "TRAIN_IMAGES",
       idx_images(fake_images(30))[:-100], "truncated IDX file"),
      ("labels_truncated", "TEST_LABELS",
       idx_labels(fake_labels(10))[:-1], "truncated IDX file"),
      ("header_truncated", "TEST_IMAGES", b"\x00\x00\x08\x03\x00",
       "shorter than its 16-byte header"),
      ("trailing_bytes", "TEST_IMAGES",
       idx_images(fake_images(10)) + b"\x00" * 7, "7 unexpected bytes"),
      ("image_size", "TEST_IMAGES", idx_images(fake_images(10, size=32)),
       "32x32 images"),
      ("label_range", "TEST_LABELS",
       idx_labels(np.full(10, 12, dtype=np.uint8)), "holds label 12"),
      ("count_mismatch", "TRAIN_LABELS", idx_labels(fake_labels(29)),
       "holds 30 images but"),
  )
  def test_bad_file_is_one_clear_error_naming_it(self, key, content, needle):
    d = self.create_tempdir().full_path
    write_dataset(d, **{key: content})
    with self.assertRaisesRegex(UserError, needle) as cm:
      reader.read_data_sets(d, validation_size=5, verify_checksums=False)
    self.assertIn(getattr(reader, key).name, str(cm.exception))
    self.assertNotIn("\n", str(cm.exception))

  @parameterized.named_parameters(
      ("corrupt", lambda gz: gz[:20] + bytes(b ^ 0xFF for b in gz[20:40])
       + gz[40:]),
      ("truncated", lambda gz: gz[:len(gz) // 2]),
      ("bad_header", lambda gz: gz[:2] + b"\x00" * 8 + gz[10:]),
  )
  def test_corrupt_gzip(self, damage):
    d = self.create_tempdir().full_path
    write_dataset(d, compress=True)
    path = os.path.join(d, reader.TEST_IMAGES.name + ".gz")
    with open(path, "rb") as f:
      gz = f.read()
    write(path, damage(gz))
    with self.assertRaisesRegex(UserError, "corrupt gzip file .*%s" %
                                reader.TEST_IMAGES.name):
      reader.read_data_sets(d, validation_size=5, verify_checksums=False)

  def test_missing_file_and_directory(self):
    d = self.create_tempdir().full_path
    write_dataset(d)
    os.remove(os.path.join(d, reader.TEST_LABELS.name))
    with self.assertRaisesRegex(UserError, "missing MNIST file %s" %
                                reader.TEST_LABELS.name):
      reader.read_data_sets(d, validation_size=5, verify_checksums=False)
    with self.assertRaisesRegex(UserError, "not found"):
      reader.read_data_sets(os.path.join(d, "nope"))

  def test_checksum_mismatch_names_file_and_skip_flag(self):
    d = self.create_tempdir().full_path
    write_dataset(d, compress=True)
    with self.assertRaisesRegex(
        UserError, "checksum mismatch for .*%s.gz .*--noverify_checksums" %
        reader.TRAIN_IMAGES.name):
      reader.read_data_sets(d, validation_size=5)

  @parameterized.named_parameters(
      ("truncated", "TEST_LABELS", lambda real: real[:-1],
       "truncated IDX file"),
      ("wrong_magic", "TRAIN_IMAGES",
       lambda real: struct.pack(">i", reader.LABELS_MAGIC) + real[4:],
       "bad magic number 2049"),
      ("count_mismatch", "TRAIN_LABELS",
       lambda real: idx_labels(fake_labels(29)), "holds 60000 images but"),
  )
  def test_malformed_real_file_is_reported_before_checksums(self, key, damage,
                                                            needle):
    # With checksums on (the default), a broken file must be reported as
    # such, not as a checksum mismatch that --noverify_checksums would skip.
    source = testutil.data_dir("mnist")
    d = self.create_tempdir().full_path
    for spec in reader.FILES:
      path = reader.find_file(source, spec)
      if spec is getattr(reader, key):
        write(os.path.join(d, spec.name), damage(reader.read_content(path)))
      else:
        os.symlink(path, os.path.join(d, os.path.basename(path)))
    with self.assertRaisesRegex(UserError, needle) as cm:
      reader.read_data_sets(d)
    self.assertIn(getattr(reader, key).name, str(cm.exception))
    self.assertNotIn("checksum mismatch", str(cm.exception))

  def test_verify_content_accepts_matching_digests(self):
    content = idx_labels(fake_labels(4))
    spec = reader.IdxFile("x", reader.data_lib.bytes_digest(content, "md5"),
                          reader.data_lib.bytes_digest(content))
    reader.verify_content("x", content, spec)  # No exception.
    with self.assertRaisesRegex(UserError, "checksum mismatch"):
      reader.verify_content("x", content + b"\x00", spec)
    # Each digest is checked on its own: the right md5 with a wrong sha256
    # (and the other way round) is refused too.
    for wrong in (dataclasses.replace(spec, sha256="0" * 64),
                  dataclasses.replace(spec, md5="0" * 32)):
      with self.assertRaisesRegex(UserError, "checksum mismatch"):
        reader.verify_content("x", content, wrong)

  def test_no_test_images(self):
    for compress, name in ((False, r"t10k-images-idx3-ubyte"),
                           (True, r"t10k-images-idx3-ubyte\.gz")):
      d = self.create_tempdir().full_path
      write_dataset(d, n_test=0, compress=compress)
      with self.subTest(compress=compress):
        # The message names the file that is there.
        with self.assertRaisesRegex(UserError,
                                    "/%s holds no test images" % name):
          reader.read_data_sets(d, validation_size=5, verify_checksums=False)

  def test_validation_size_out_of_range(self):
    d = self.create_tempdir().full_path
    write_dataset(d)
    with self.assertRaisesRegex(UserError, "validation_size 30"):
      reader.read_data_sets(d, validation_size=30, verify_checksums=False)


class RealDataTest(absltest.TestCase):
  """The real files in $DATA_DIR/mnist (checksums verified)."""

  @classmethod
  def setUpClass(cls):
    super().setUpClass()
    cls.dir = testutil.data_dir("mnist")
    cls.data = reader.read_data_sets(cls.dir)

  def test_split_sizes(self):
    self.assertEqual(self.data.train.num_examples, 55000)
    self.assertEqual(self.data.validation.num_examples, 5000)
    self.assertEqual(self.data.test.num_examples, 10000)

  def test_scaling_and_one_hot(self):
    for ds in (self.data.train, self.data.validation, self.data.test):
      self.assertEqual(ds.images.dtype, np.float32)
      self.assertEqual(ds.images.shape[1], 784)
      self.assertEqual(ds.images.min(), 0.0)
      self.assertEqual(ds.images.max(), 1.0)
      self.assertEqual(ds.labels.shape[1], 10)
      np.testing.assert_array_equal(ds.labels.sum(axis=1), 1.0)
    # Exactly uint8 / 255.
    pixels = self.data.test.images * 255.0
    np.testing.assert_allclose(pixels, np.round(pixels), atol=1e-4)
    np.testing.assert_array_equal(
        np.bincount(self.data.test.labels.argmax(1)), TEST_LABEL_COUNTS)

  def test_validation_is_first_5000_of_train_file(self):
    images, labels = reader.load_pair(self.dir, reader.TRAIN_IMAGES,
                                      reader.TRAIN_LABELS,
                                      verify_checksums=False)
    # input_data's scaling: float32 pixels times (1 / 255).
    expected = np.multiply(images[:5000].reshape(5000, 784).astype(np.float32),
                           np.float32(1.0 / 255.0))
    np.testing.assert_array_equal(self.data.validation.images, expected)
    np.testing.assert_array_equal(self.data.train.labels.argmax(1),
                                  labels[5000:])


class DownloadTest(absltest.TestCase):
  """maybe_download against a file:// "mirror" (no network needed)."""

  def test_fetches_missing_files_and_verifies_them(self):
    mirror = "file://%s/" % os.path.abspath(testutil.data_dir("mnist"))
    d = os.path.join(self.create_tempdir().full_path, "mnist")
    fetched = download.maybe_download(d, source_url=mirror)
    self.assertLen(fetched, 4)
    self.assertEmpty(download.maybe_download(d, source_url=mirror))
    self.assertEqual(reader.read_data_sets(d).test.num_examples, 10000)

  def test_bad_download_is_refused_and_deleted(self):
    mirror = self.create_tempdir().full_path
    write_dataset(mirror, compress=True)  # Right format, wrong content.
    d = self.create_tempdir().full_path
    with self.assertRaisesRegex(UserError, "checksum mismatch"):
      download.maybe_download(d, source_url="file://%s/" % mirror)
    self.assertEmpty(os.listdir(d))

  def test_unreachable_mirror(self):
    d = self.create_tempdir().full_path
    with self.assertRaisesRegex(UserError, "cannot download"):
      download.maybe_download(d, source_url="file:///nonexistent/mirror/")


class NextBatchTest(parameterized.TestCase):

  def dataset(self, n=10, seed=7, shuffle=True):
    return reader.DataSet(fake_images(n), fake_labels(n), seed=seed,
                          shuffle=shuffle)

  def test_straddling_batch_takes_rest_then_new_epoch(self):
    ds = self.dataset(n=10, seed=7)
    rng = np.random.default_rng(7)
    perm0, perm1 = rng.permutation(10), rng.permutation(10)
    b1, _ = ds.next_batch(4)
    b2, _ = ds.next_batch(4)
    self.assertEqual(ds.epochs_completed, 0)
    b3, l3 = ds.next_batch(4)
    self.assertEqual(ds.epochs_completed, 1)
    self.assertEqual(batch_indices(b1), list(perm0[:4]))
    self.assertEqual(batch_indices(b2), list(perm0[4:8]))
    self.assertEqual(batch_indices(b3), list(perm0[8:]) + list(perm1[:2]))
    np.testing.assert_array_equal(l3.argmax(1), batch_indices(b3))
    b4, _ = ds.next_batch(4)
    self.assertEqual(batch_indices(b4), list(perm1[2:6]))

  def test_batch_ending_at_epoch_end_completes_it_on_next_call(self):
    ds = self.dataset(n=8, seed=3)
    rng = np.random.default_rng(3)
    perm0, perm1 = rng.permutation(8), rng.permutation(8)
    ds.next_batch(4)
    b2, _ = ds.next_batch(4)
    self.assertEqual(batch_indices(b2), list(perm0[4:]))
    self.assertEqual(ds.epochs_completed, 0)  # TF1's lag at the boundary.
    b3, _ = ds.next_batch(4)
    self.assertEqual(ds.epochs_completed, 1)
    self.assertEqual(batch_indices(b3), list(perm1[:4]))

  def test_each_epoch_is_a_permutation(self):
    ds = self.dataset(n=12, seed=1)
    seen = [batch_indices(ds.next_batch(3)[0]) for _ in range(8)]
    first, second = sum(seen[:4], []), sum(seen[4:], [])
    self.assertCountEqual(first, range(12))
    self.assertCountEqual(second, range(12))
    self.assertNotEqual(first, second)
    self.assertNotEqual(first, list(range(12)))

  def test_seeded_and_independent_of_global_rng(self):
    np.random.seed(1)
    a = batch_indices(self.dataset(seed=5).next_batch(10)[0])
    np.random.seed(123)  # Must not matter.
    b = batch_indices(self.dataset(seed=5).next_batch(10)[0])
    c = batch_indices(self.dataset(seed=6).next_batch(10)[0])
    self.assertEqual(a, b)
    self.assertNotEqual(a, c)

  def test_does_not_touch_global_rng(self):
    np.random.seed(42)
    expected = np.random.random()
    np.random.seed(42)
    ds = self.dataset(seed=1)
    for _ in range(5):
      ds.next_batch(3)
    self.assertEqual(np.random.random(), expected)

  @parameterized.parameters(1, 4, 10, 13)
  def test_state_round_trip_continues_the_stream(self, calls):
    ds = self.dataset(n=10, seed=9)
    for _ in range(calls):
      ds.next_batch(3)
    state = json.loads(json.dumps(ds.get_state()))
    expected = [batch_indices(ds.next_batch(3)[0]) for _ in range(6)]
    resumed = self.dataset(n=10, seed=0)
    resumed.set_state(state)
    self.assertEqual(resumed.epochs_completed, state["epochs_completed"])
    got = [batch_indices(resumed.next_batch(3)[0]) for _ in range(6)]
    self.assertEqual(got, expected)

  def test_state_before_first_batch(self):
    ds = self.dataset(seed=2)
    resumed = self.dataset(seed=0)  # The state alone must carry the order.
    resumed.set_state(ds.get_state())
    self.assertEqual(batch_indices(resumed.next_batch(5)[0]),
                     batch_indices(ds.next_batch(5)[0]))

  def test_malformed_state(self):
    with self.assertRaisesRegex(UserError, "malformed data state"):
      self.dataset().set_state({"epochs_completed": 0})
    with self.assertRaisesRegex(UserError, "does not fit"):
      self.dataset().set_state({"epochs_completed": 0, "index_in_epoch": 99,
                                "rng_state": None})
    with self.assertRaisesRegex(UserError, "must be integers"):
      self.dataset().set_state({"epochs_completed": 0, "index_in_epoch": 2.5,
                                "rng_state": None})
    # A hand-edited generator state: numpy's OverflowError was a traceback.
    state = self.dataset().get_state()
    state["rng_state"]["state"]["inc"] = -1
    with self.assertRaisesRegex(UserError, "malformed generator state"):
      self.dataset().set_state(state)

  def test_no_shuffle_keeps_file_order(self):
    ds = self.dataset(n=6, shuffle=False)
    self.assertEqual(batch_indices(ds.next_batch(4)[0]), [0, 1, 2, 3])
    self.assertEqual(batch_indices(ds.next_batch(4)[0]), [4, 5, 0, 1])

  @parameterized.parameters(0, -1, 11)
  def test_bad_batch_size(self, batch_size):
    with self.assertRaisesRegex(UserError, "batch_size"):
      self.dataset(n=10).next_batch(batch_size)


if __name__ == "__main__":
  absltest.main()
