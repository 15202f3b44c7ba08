"""Tests for imdb/reader.py: tokens, Keras ids, padding, reading, cache, splits."""

import collections
import gzip
import io
import os
import shutil
import tarfile
import tempfile
from unittest import mock

from absl.testing import absltest
from absl.testing import parameterized
import numpy as np

from common import data as data_lib
from common.errors import UserError
from imdb import download
from imdb import reader
from tests import imdb_fixtures
from tests import testutil


def _corpora_equal(testcase, a: reader.Corpus, b: reader.Corpus) -> None:
  testcase.assertEqual(a.words, b.words)
  for split in reader.SPLITS:
    for field in ("ranks", "offsets", "labels", "review_ids", "ratings"):
      np.testing.assert_array_equal(getattr(getattr(a, split), field),
                                    getattr(getattr(b, split), field))


class TokenizeTest(parameterized.TestCase):

  @parameterized.named_parameters(
      ("lowercase_and_punctuation", "This movie was GREAT!!! (Really.)",
       ["this", "movie", "was", "great", "really"]),
      # As in Keras's index, where "br" has rank 7.
      ("br_becomes_a_word", "Bad.<br /><br />Worse.<br/>End<BR />x",
       ["bad", "br", "br", "worse", "br", "end", "br", "x"]),
      # The apostrophe is not a Keras filter: kept anywhere in a word.
      ("apostrophes_kept", "I didn't like 'it' -- it's 80's trash",
       ["i", "didn't", "like", "'it'", "it's", "80's", "trash"]),
      ("digits_and_accents", "10/10, café-au-lait_x",
       ["10", "10", "café", "au", "lait", "x"]),
      # Only " " splits (tab and newline are filters); U+0085 and U+00A0
      # stay inside a word, as "most\x85and" in Keras's index.
      ("only_space_splits", "most\x85and\u00a0so\tend\nnow",
       ["most\x85and\u00a0so", "end", "now"]),
      ("nothing", " ... !!! \t\n ", []),
      # Only ASCII capitals are lowered (Python 2 bytes, as imdb.npz's index
      # has "amÉlie" beside "amélie"; RealDataTest counts its words).
      ("only_ascii_lowered", "AMÉLIE Amélie ÁLVARO Østbye",
       ["amÉlie", "amélie", "Álvaro", "Østbye"]),
  )
  def test_tokenize(self, text, expected):
    self.assertEqual(reader.tokenize(text), expected)


class VocabAndIdsTest(absltest.TestCase):

  def test_vocab_by_count_then_word(self):
    words = reader.build_vocab([["b", "a", "c"], ["b", "a", "d", "d"], ["e"]])
    self.assertEqual(words, ("a", "b", "d", "c", "e"))

  def test_keras_id_conventions(self):
    rank = {w: i + 1 for i, w in enumerate(("the", "and", "a", "of"))}
    # A word outside the index ("zebra") is dropped, as in imdb.npz.
    ranks = reader.to_ranks(["the", "of", "zebra", "and", "a"], rank)
    np.testing.assert_array_equal(ranks, [1, 4, 2, 3])
    # rank r -> r + 3 ("the" = 4, id 3 unused); ids >= num_words (of = 7 with
    # num_words=7) -> OOV 2.
    np.testing.assert_array_equal(reader.ranks_to_ids(ranks, num_words=7),
                                  [4, 2, 5, 6])
    np.testing.assert_array_equal(reader.ranks_to_ids(ranks, num_words=100),
                                  [4, 7, 5, 6])

  def test_unknown_test_words_dropped_even_all_of_them(self):
    reviews = {"train": [reader.Review(1, 0, 9, "Good film.")],
               "test": [reader.Review(0, 0, 2, "Zebra quagga!"),
                        reader.Review(1, 1, 8, "good zebra")]}
    corpus = reader.build_corpus(reviews)
    self.assertEqual(corpus.words, ("film", "good"))
    np.testing.assert_array_equal(corpus.test.lengths(), [0, 1])
    # The first test review is its start id alone; "good" (rank 2) is 5.
    self.assertEqual([e.tolist() for e in reader.encode(corpus.test, 10)],
                     [[1], [1, 5]])
    np.testing.assert_array_equal(
        reader.pad_sequences(reader.encode(corpus.test, 10), 3),
        [[0, 0, 1], [0, 1, 5]])

  def test_encode_prepends_start(self):
    split = reader.TokenizedSplit(
        ranks=np.array([1, 2, 5, 3], np.int32),
        offsets=np.array([0, 3, 3, 4]), labels=np.array([1, 0, 1]),
        review_ids=np.array([1, 2, 3]), ratings=np.array([9, 2, 8]))
    encoded = reader.encode(split, num_words=8)
    self.assertEqual([e.tolist() for e in encoded], [[1, 4, 5, 2], [1], [1, 6]])


class PadSequencesTest(parameterized.TestCase):

  SEQS = [[1, 2, 3, 4, 5], [6, 7], []]

  @parameterized.named_parameters(
      ("keras_default_pre_pre", "pre", "pre",
       [[3, 4, 5], [0, 6, 7], [0, 0, 0]]),
      ("pre_post", "pre", "post", [[1, 2, 3], [0, 6, 7], [0, 0, 0]]),
      ("post_pre", "post", "pre", [[3, 4, 5], [6, 7, 0], [0, 0, 0]]),
      ("post_post", "post", "post", [[1, 2, 3], [6, 7, 0], [0, 0, 0]]),
  )
  def test_modes(self, padding, truncating, expected):
    out = reader.pad_sequences(self.SEQS, 3, padding=padding,
                               truncating=truncating)
    self.assertEqual(out.dtype, np.int32)
    np.testing.assert_array_equal(out, expected)

  def test_defaults_keep_the_last_maxlen(self):
    np.testing.assert_array_equal(reader.pad_sequences([[1, 9, 8, 7]], 2),
                                  [[8, 7]])
    np.testing.assert_array_equal(reader.pad_sequences([[1, 9]], 4),
                                  [[0, 0, 1, 9]])

  def test_bad_mode(self):
    with self.assertRaisesRegex(UserError, "padding must be"):
      reader.pad_sequences(self.SEQS, 3, padding="middle")


class ReadTest(absltest.TestCase):

  def setUp(self):
    super().setUp()
    self.tmp = self.create_tempdir().full_path

  def test_directory(self):
    root = imdb_fixtures.write_tree(self.tmp, n_per_folder=6)
    corpus = reader.load_corpus(root)
    self.assertLen(corpus.train, 12)
    self.assertLen(corpus.test, 12)
    # Sorted by (label, id): the 6 negatives first.
    np.testing.assert_array_equal(corpus.train.labels, [0] * 6 + [1] * 6)
    np.testing.assert_array_equal(corpus.train.review_ids[:6], range(6))
    self.assertEqual(corpus.train.ratings[0], 1)
    self.assertEqual(corpus.train.ratings[6], 7)
    # Vocabulary from training reviews only: "train" is known, "test" is
    # not; "<br />" is the word "br".
    self.assertIn("train", corpus.words)
    self.assertNotIn("test", corpus.words)
    self.assertIn("br", corpus.words)
    counts = collections.Counter(
        w for f, files in imdb_fixtures.reviews(6).items()
        if f.startswith("train") for data in files.values()
        for w in reader.tokenize(data.decode()))
    self.assertEqual(list(corpus.words),
                     sorted(counts, key=lambda w: (-counts[w], w)))
    # Tied counts are ordered by the word.
    self.assertEqual(counts["extra"], counts["train"])
    self.assertLess(corpus.words.index("extra"), corpus.words.index("train"))
    # Test words outside the vocabulary ("test" of "Extra test words.") are
    # dropped, as in imdb.npz: each test review keeps its other tokens.
    test_tokens = [reader.tokenize(r.text) for r in
                   reader.read_reviews(reader.find_source(root))["test"]]
    self.assertGreater(sum(t.count("test") for t in test_tokens), 0)
    decoded = [[corpus.words[r - 1] for r in corpus.test.ranks[a:b]]
               for a, b in zip(corpus.test.offsets[:-1],
                               corpus.test.offsets[1:])]
    self.assertEqual(decoded, [[w for w in t if w != "test"]
                               for t in test_tokens])
    # First review: "An awful film. Boring and bad.<br />I hated it."
    first = corpus.train.ranks[:corpus.train.offsets[1]]
    self.assertEqual([corpus.words[r - 1] for r in first],
                     ["an", "awful", "film", "boring", "and", "bad", "br",
                      "i", "hated", "it"])

  def test_archive_equals_directory_and_aclimdb_itself(self):
    from_dir = reader.load_corpus(imdb_fixtures.write_tree(self.tmp))
    archive = imdb_fixtures.write_archive(os.path.join(self.tmp, "r.tar.gz"))
    _corpora_equal(self, reader.load_corpus(archive), from_dir)
    _corpora_equal(self, reader.load_corpus(os.path.join(self.tmp,
                                                         "aclImdb")), from_dir)

  def test_directory_is_preferred_over_archive(self):
    imdb_fixtures.write_tree(self.tmp)
    with open(os.path.join(self.tmp, "aclImdb_v1.tar.gz"), "wb") as f:
      f.write(b"not an archive")
    self.assertEqual(reader.find_source(self.tmp),
                     os.path.join(self.tmp, "aclImdb"))

  def test_unsafe_archive_member_is_refused(self):
    archive = imdb_fixtures.write_archive(
        os.path.join(self.tmp, "evil.tar.gz"),
        extra={"aclImdb/../../escaped.txt": b"gotcha"})
    with self.assertRaisesRegex(UserError, "unsafe path"):
      reader.load_corpus(archive)
    self.assertFalse(os.path.exists(os.path.join(self.tmp, "escaped.txt")))
    self.assertFalse(os.path.exists(os.path.join(os.path.dirname(self.tmp),
                                                 "escaped.txt")))

  def test_absolute_path_and_link_members_are_refused(self):
    absolute = imdb_fixtures.write_archive(
        os.path.join(self.tmp, "abs.tar.gz"), extra={"/tmp/x.txt": b"x"})
    with self.assertRaisesRegex(UserError, "unsafe path"):
      reader.load_corpus(absolute)
    link = imdb_fixtures.write_archive(os.path.join(self.tmp, "l.tar.gz"),
                                       symlink="aclImdb/train/pos/99_9.txt")
    with self.assertRaisesRegex(UserError, "link or device"):
      reader.load_corpus(link)

  def test_published_archive_name_is_checksummed(self):
    imdb_fixtures.write_archive(
        os.path.join(self.tmp, "aclImdb_v1_labeled.tar.gz"))
    with self.assertRaisesRegex(UserError, "checksum mismatch"):
      reader.load_corpus(self.tmp)


class BadInputTest(parameterized.TestCase):

  @parameterized.named_parameters(
      ("missing_folder", {"test/neg": None}, "missing IMDB folder"),
      ("empty_file", {"train/pos/3_9.txt": b"  \n"}, "empty review file"),
      ("not_utf8", {"train/neg/2_3.txt": b"caf\xe9 awful"}, "not valid UTF-8"),
      ("bad_name", {"train/pos/great.txt": b"great"}, "unexpected review file"),
      ("bad_rating", {"train/pos/5_11.txt": b"great"}, "rating 1..10"),
      ("id_beyond_int32", {"train/pos/99999999999_8.txt": b"great"},
       "with id at most 2147483647"),
  )
  def test_directory(self, replace, message):
    root = imdb_fixtures.write_tree(self.create_tempdir().full_path,
                                    replace=replace)
    with self.assertRaisesRegex(UserError, message):
      reader.load_corpus(root)

  def test_empty_folder(self):
    root = self.create_tempdir().full_path
    imdb_fixtures.write_tree(root)
    folder = os.path.join(root, "aclImdb", "test", "pos")
    for name in os.listdir(folder):
      os.remove(os.path.join(folder, name))
    with self.assertRaisesRegex(UserError, "no reviews in aclImdb/test/pos"):
      reader.load_corpus(root)

  def test_no_data(self):
    root = self.create_tempdir().full_path
    with self.assertRaisesRegex(UserError, "no IMDB data.*--download"):
      reader.load_corpus(root)
    with self.assertRaisesRegex(UserError, "does not exist"):
      reader.load_corpus(os.path.join(root, "nope"))

  def test_archive_cut_between_two_members_is_refused(self):
    # tarfile reads such a file as a complete, shorter archive: training
    # went on, silently, with the reviews before the cut.
    tmp = self.create_tempdir().full_path
    packed = imdb_fixtures.write_archive(os.path.join(tmp, "a.tar.gz"))
    with gzip.open(packed) as f:
      whole = f.read()
    with tarfile.open(fileobj=io.BytesIO(whole)) as tar:
      member = tar.getmembers()[5]
      cut = member.offset_data + -(-member.size // 512) * 512
    for name, opener in (("cut.tar", open), ("cut.tar.gz", gzip.open)):
      path = os.path.join(tmp, name)
      with opener(path, "wb") as f:
        f.write(whole[:cut])
      with self.assertRaisesRegex(UserError, r"ends without tar's "
                                  r"end-of-archive block after %d bytes: it "
                                  r"is truncated" % cut):
        reader.load_corpus(path)
    plain = os.path.join(tmp, "whole.tar")
    with open(plain, "wb") as f:
      f.write(whole)
    _corpora_equal(self, reader.load_corpus(plain), reader.load_corpus(packed))

  def test_corrupt_archive(self):
    path = os.path.join(self.create_tempdir().full_path, "x.tar.gz")
    with open(path, "wb") as f:
      f.write(b"\x1f\x8b" + b"garbage" * 100)
    with self.assertRaisesRegex(UserError, "cannot read archive"):
      reader.load_corpus(path)

  def test_non_utf8_in_archive_names_the_member(self):
    tmp = self.create_tempdir().full_path
    archive = imdb_fixtures.write_archive(
        os.path.join(tmp, "a.tar.gz"),
        extra={"aclImdb/test/pos/77_8.txt": b"\xff\xfe bad"})
    with self.assertRaisesRegex(UserError, r"a\.tar\.gz:aclImdb/test/pos/77_8"):
      reader.load_corpus(archive)


def _no_source_reads():
  """Within it, reading the reviews (a cache miss) fails the test."""
  return mock.patch.object(reader, "read_reviews",
                           side_effect=AssertionError("cache not used"))


class CacheTest(absltest.TestCase):

  def test_cache_roundtrip_and_invalidation(self):
    tmp = self.create_tempdir().full_path
    cache = os.path.join(tmp, "cache")
    archive = imdb_fixtures.write_archive(os.path.join(tmp, "r.tar.gz"))
    first = reader.load_corpus(archive, cache)
    files = os.listdir(cache)
    self.assertLen(files, 1)
    with _no_source_reads():
      _corpora_equal(self, reader.load_corpus(archive, cache), first)
    # A changed source gets a new cache file.
    imdb_fixtures.write_archive(archive, n_per_folder=5)
    changed = reader.load_corpus(archive, cache)
    self.assertLen(changed.train, 10)
    self.assertLen(os.listdir(cache), 2)
    # So does a new tokenizer version: the old file is not read.
    with mock.patch.object(reader, "CACHE_VERSION", reader.CACHE_VERSION + 1):
      reader.load_corpus(archive, cache)
    self.assertLen(os.listdir(cache), 3)

  def test_corrupt_cache_is_rebuilt(self):
    tmp = self.create_tempdir().full_path
    cache = os.path.join(tmp, "cache")
    root = imdb_fixtures.write_tree(tmp)
    first = reader.load_corpus(root, cache)
    (name,) = os.listdir(cache)
    with open(os.path.join(cache, name), "wb") as f:
      f.write(b"broken")
    _corpora_equal(self, reader.load_corpus(root, cache), first)
    with _no_source_reads():  # The rebuilt file is a good cache again.
      _corpora_equal(self, reader.load_corpus(root, cache), first)

  def test_directory_edit_invalidates(self):
    tmp = self.create_tempdir().full_path
    cache = os.path.join(tmp, "cache")
    root = imdb_fixtures.write_tree(tmp)
    reader.load_corpus(root, cache)
    with open(os.path.join(root, "aclImdb", "train", "pos", "0_7.txt"),
              "w") as f:
      f.write("zzzword only here")
    self.assertIn("zzzword", reader.load_corpus(root, cache).words)


class DatasetTest(absltest.TestCase):

  def setUp(self):
    super().setUp()
    self.corpus = reader.load_corpus(imdb_fixtures.write_tree(
        self.create_tempdir().full_path, n_per_folder=10))

  def test_split_is_deterministic_and_complete(self):
    a = reader.make_dataset(self.corpus, 30, 8, validation_split=0.25, seed=1)
    b = reader.make_dataset(self.corpus, 30, 8, validation_split=0.25, seed=1)
    c = reader.make_dataset(self.corpus, 30, 8, validation_split=0.25, seed=2)
    self.assertLen(a.train, 15)
    self.assertLen(a.valid, 5)
    self.assertLen(a.test, 20)
    np.testing.assert_array_equal(a.valid.x, b.valid.x)
    self.assertFalse(np.array_equal(a.train.x, c.train.x))
    everything = reader.make_examples(self.corpus.train, 30, 8)
    rows = lambda x: sorted(map(tuple, x.tolist()))
    self.assertEqual(rows(np.concatenate([a.train.x, a.valid.x])),
                     rows(everything.x))
    self.assertEqual(a.train.y.sum() + a.valid.y.sum(), 10)
    self.assertEqual(a.train.x.shape, (15, 8))
    self.assertTrue((a.train.x < 30).all())

  def test_validation_size(self):
    self.assertEqual(reader.validation_size(25000, 0.2), 5000)
    self.assertEqual(reader.validation_size(25000, 0.00256), 64)
    self.assertEqual(reader.validation_size(10, 0.01), 1)
    self.assertEqual(reader.validation_size(10, 0.0), 0)
    with self.assertRaisesRegex(UserError, "leaves no training"):
      reader.validation_size(3, 0.9)

  def test_epoch_order_and_batches(self):
    np.testing.assert_array_equal(reader.epoch_order(50, 7, 3),
                                  reader.epoch_order(50, 7, 3))
    self.assertFalse(np.array_equal(reader.epoch_order(50, 7, 3),
                                    reader.epoch_order(50, 7, 4)))
    order = reader.epoch_order(10, 0, 0)
    parts = list(reader.batches(10, 4, order))
    self.assertEqual([len(p) for p in parts], [4, 4, 2])
    np.testing.assert_array_equal(np.concatenate(parts), order)
    self.assertEqual(reader.num_batches(10, 4), 3)


def _review_index(split: reader.TokenizedSplit, label: int,
                  review_id: int) -> int:
  (index,) = np.flatnonzero((split.labels == label) &
                            (split.review_ids == review_id))
  return int(index)


class RealDataTest(absltest.TestCase):
  """The shared labeled archive (missing data is a failure, not a skip)."""

  @classmethod
  def setUpClass(cls):
    super().setUpClass()
    cls.cache = tempfile.mkdtemp()
    cls.corpus = reader.load_corpus(testutil.data_dir("imdb"), cls.cache)

  @classmethod
  def tearDownClass(cls):
    shutil.rmtree(cls.cache)
    super().tearDownClass()

  def _tie_bounds(self, rank: int):
    """First and last rank of the words as frequent as the word ``rank``."""
    counts = np.bincount(self.corpus.train.ranks)[1:]  # counts[r - 1].
    c = counts[rank - 1]
    return (int(np.searchsorted(-counts, -c, "left")) + 1,
            int(np.searchsorted(-counts, -c, "right")))

  def _assert_keras_ranks(self, keras_ids, file, num_words=None):
    """Our ids of ``file`` equal Keras's, up to the order of equal counts."""
    split_name, label, review_id = file
    split = getattr(self.corpus, split_name)
    i = _review_index(split, label, review_id)
    ranks = split.ranks[split.offsets[i]:split.offsets[i + 1]]
    self.assertEqual(keras_ids[0], reader.START)
    self.assertLen(ranks, len(keras_ids) - 1)
    for ours, theirs in zip(ranks, keras_ids[1:]):
      lo, hi = self._tie_bounds(ours)
      if theirs == reader.OOV:  # Cut by num_words: rare for both.
        self.assertGreaterEqual(hi + reader.INDEX_FROM, num_words)
      else:
        self.assertBetween(theirs - reader.INDEX_FROM, lo, hi)

  def test_matches_keras_imdb_npz(self):
    corpus = self.corpus
    self.assertEqual(corpus.words[6], "br")  # As in Keras's index.
    # With Python 3's lower() (Unicode capitals too) 2 words fewer.
    self.assertLen(corpus.words, imdb_fixtures.KERAS_INDEX_SIZE)
    train_lengths = corpus.train.lengths() + 1  # With the start id.
    self.assertEqual(int(train_lengths.sum()), imdb_fixtures.KERAS_TRAIN_IDS)
    self.assertEqual(int(train_lengths.max()),
                     imdb_fixtures.KERAS_TRAIN_MAX_LEN)
    # Test words outside the index are dropped (kept as OOV instead, there
    # would be 63,712 more: docs/results/measurements/imdb_test_oov.py; with
    # Python 3's lower(), 3 more ids in all).
    all_ids = int(train_lengths.sum() + corpus.test.lengths().sum()
                  + len(corpus.test))
    self.assertEqual(all_ids, imdb_fixtures.KERAS_ALL_IDS)
    self._assert_keras_ranks(imdb_fixtures.KERAS_X_TRAIN_0,
                             imdb_fixtures.KERAS_X_TRAIN_0_FILE,
                             imdb_fixtures.KERAS_X_TRAIN_0_NUM_WORDS)
    self._assert_keras_ranks(imdb_fixtures.KERAS_X_TEST_0,
                             imdb_fixtures.KERAS_X_TEST_0_FILE)

  def test_real_imdb(self):
    corpus = self.corpus
    self.assertLen(corpus.train, 25000)
    self.assertLen(corpus.test, 25000)
    self.assertEqual(int(corpus.train.labels.sum()), 12500)
    self.assertEqual(int(corpus.test.labels.sum()), 12500)
    self.assertEqual(corpus.words[:4], ("the", "and", "a", "of"))
    self.assertIn("don't", corpus.words[:200])
    dataset = reader.make_dataset(corpus, 10000, 500, validation_split=0.2,
                                  seed=22)
    self.assertEqual(dataset.train.x.shape, (20000, 500))
    self.assertEqual(dataset.valid.x.shape, (5000, 500))
    self.assertEqual(dataset.test.x.shape, (25000, 500))
    self.assertEqual(int(dataset.train.x.max()), 9999)
    # "the" is id 4; id 3 is never used; short reviews start with 1 after pads.
    self.assertGreater((dataset.train.x == 4).sum(), 100000)
    self.assertEqual(int((dataset.train.x == 3).sum()), 0)
    short = dataset.test.x[dataset.test.x[:, 0] == reader.PAD]
    first = (short != 0).argmax(axis=1)
    self.assertTrue((short[np.arange(len(short)), first] == reader.START).all())


class DownloadTest(absltest.TestCase):
  """imdb.download against a local archive (file:// URL; no network)."""

  def _mirror(self):
    tmp = self.create_tempdir().full_path
    archive = imdb_fixtures.write_archive(os.path.join(tmp, "mirror.tar.gz"))
    return archive, data_lib.file_digest(archive)

  def test_downloads_verifies_and_reads(self):
    archive, digest = self._mirror()
    data = self.create_tempdir().full_path
    with mock.patch.object(reader, "URL", "file://" + archive), \
        mock.patch.dict(reader.SHA256, {"aclImdb_v1.tar.gz": digest}):
      download.maybe_download(data)
      kept = os.path.join(data, "aclImdb_v1.tar.gz")
      self.assertEqual(reader.find_source(data), kept)
      self.assertLen(reader.load_corpus(data).train, 16)
      os.remove(archive)  # Data present: no second download.
      download.maybe_download(data)

  def test_bad_checksum_keeps_nothing(self):
    archive, _ = self._mirror()
    data = self.create_tempdir().full_path
    with mock.patch.object(reader, "URL", "file://" + archive), \
        mock.patch.dict(reader.SHA256, {"aclImdb_v1.tar.gz": "0" * 64}):
      with self.assertRaisesRegex(UserError, "checksum mismatch"):
        download.maybe_download(data)
    self.assertEmpty(os.listdir(data))


if __name__ == "__main__":
  absltest.main()
