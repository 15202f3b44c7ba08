"""Exact values of the PTB reader (pure numpy), and the real data's counts."""

import os

from absl.testing import absltest
import numpy as np

from common.errors import UserError
from ptb import reader
from tests import testutil

# The TF tutorial's own reader test.
RAW = [4, 3, 2, 1, 0, 5, 6, 1, 1, 1, 1, 0, 3, 4, 1]


def _write(directory, name, content: bytes) -> str:
  path = os.path.join(directory, name)
  with open(path, "wb") as f:
    f.write(content)
  return path


class IteratorTest(absltest.TestCase):

  def test_tutorial_example(self):
    chunks = list(reader.ptb_iterator(RAW, batch_size=3, num_steps=2))
    self.assertLen(chunks, 2)
    (x0, y0), (x1, y1) = chunks
    np.testing.assert_array_equal(x0, [[4, 3], [5, 6], [1, 0]])
    np.testing.assert_array_equal(y0, [[3, 2], [6, 1], [0, 3]])
    np.testing.assert_array_equal(x1, [[2, 1], [1, 1], [3, 4]])
    np.testing.assert_array_equal(y1, [[1, 0], [1, 1], [4, 1]])
    self.assertEqual(x0.dtype, np.int32)

  def test_epoch_size(self):
    self.assertEqual(reader.epoch_size(len(RAW), 3, 2), 2)
    # The real small config: (929589 // 20 - 1) // 20.
    self.assertEqual(reader.epoch_size(929589, 20, 20), 2323)

  def test_too_short_is_a_clear_error(self):
    with self.assertRaisesRegex(UserError, "decrease batch_size or num_steps"):
      list(reader.ptb_iterator(RAW, batch_size=20, num_steps=2))


class WordsAndVocabTest(absltest.TestCase):

  def setUp(self):
    super().setUp()
    self.dir = self.create_tempdir().full_path

  def test_newlines_become_eos_as_in_the_tutorial(self):
    # The tutorial's reader_test string; its replace("\n", "<eos>") glues
    # <eos> to a line's last word unless the line ends in a space.
    path = _write(self.dir, "a.txt", "\n".join(
        [" hello there i am", " rain as day",
         " want some cheesy puffs ?"]).encode())
    self.assertEqual(reader.read_words(path),
                     ["hello", "there", "i", "am<eos>", "rain", "as",
                      "day<eos>", "want", "some", "cheesy", "puffs", "?"])
    self.assertEqual(reader.read_words(path, spaced_eos=True),
                     ["hello", "there", "i", "am", "<eos>", "rain", "as",
                      "day", "<eos>", "want", "some", "cheesy", "puffs",
                      "?"])
    path = _write(self.dir, "b.txt", b" the cat \n sat \n")
    self.assertEqual(reader.read_words(path),
                     ["the", "cat", "<eos>", "sat", "<eos>"])

  def test_tutorial_raw_data_returns_four_things(self):
    for split in ("train", "valid", "test"):
      _write(self.dir, "ptb.%s.txt" % split, b" hello there i am\n rain\n")
    train, valid, test, vocab = reader.ptb_raw_data(self.dir)
    self.assertEqual(vocab, 5)  # hello there i am<eos> rain
    self.assertEqual(train, valid)
    self.assertEqual(train, test)
    self.assertLen(train, 5)

  def test_byte_order_mark_is_stripped(self):
    path = _write(self.dir, "a.txt", b"\xef\xbb\xbfthe cat \n")
    with self.assertLogs(level="WARNING") as logs:
      self.assertEqual(reader.read_words(path), ["the", "cat", "<eos>"])
    self.assertIn("byte-order mark", logs.output[0])

  def test_fifo_is_not_a_regular_file(self):
    path = os.path.join(self.dir, "ptb.valid.txt")
    os.mkfifo(path)  # Opening it would block: it must not be opened.
    with self.assertRaisesRegex(UserError, "not a regular file"):
      reader.read_words(path)

  def test_vocab_fingerprint(self):
    a = reader.vocab_fingerprint({"the": 0, "cat": 1})
    self.assertEqual(a, reader.vocab_fingerprint({"cat": 1, "the": 0}))
    self.assertNotEqual(a, reader.vocab_fingerprint({"the": 1, "cat": 0}))
    self.assertLen(a, 16)

  def test_vocab_by_count_then_word(self):
    path = _write(self.dir, "a.txt", b"b a c b \n c b \n")
    # counts: b 3, <eos> 2, c 2, a 1; ties broken by the word itself.
    self.assertEqual(reader.build_vocab(path),
                     {"b": 0, "<eos>": 1, "c": 2, "a": 3})

  def test_word_ids_drop_unknown_words_and_say_how_many(self):
    path = _write(self.dir, "a.txt", b"a b zz \n yy zz \n")
    with self.assertLogs(level="WARNING") as logs:
      ids = reader.file_to_word_ids(path, {"a": 0, "b": 1, "<eos>": 2})
    self.assertEqual(ids, [0, 1, 2, 2])
    self.assertRegex(logs.output[0], r"a\.txt: 3 of 7 words are not in the "
                     r"training vocabulary and are dropped, .*\(most common: "
                     r"zz, yy\)")

  def test_non_utf8_is_a_clear_error(self):
    path = _write(self.dir, "a.txt", b"ok \xff\xfe bad\n")
    with self.assertRaisesRegex(UserError, "not UTF-8"):
      reader.read_words(path)

  def test_empty_file_is_a_clear_error(self):
    path = _write(self.dir, "a.txt", b"  \n\t")
    # A whitespace-only line still yields one <eos>; a truly empty file none.
    self.assertEqual(reader.read_words(path), ["<eos>"])
    with self.assertRaisesRegex(UserError, "holds no words"):
      reader.read_words(_write(self.dir, "b.txt", b""))

  def test_missing_directory_and_files(self):
    with self.assertRaisesRegex(UserError, "not found"):
      reader.ptb_raw_data(os.path.join(self.dir, "nope"))
    _write(self.dir, "ptb.train.txt", b"a b\n")
    with self.assertRaisesRegex(UserError, "ptb.valid.txt"):
      reader.ptb_raw_data(self.dir)


class RealDataTest(absltest.TestCase):

  def test_counts(self):
    train, valid, test, vocab = reader.ptb_raw_data(testutil.data_dir("ptb"))
    self.assertEqual(vocab, 10000)
    self.assertEqual((len(train), len(valid), len(test)),
                     (929589, 73760, 82430))
    self.assertEqual(max(train), 9999)
    # The most frequent word gets id 0; in PTB that is "the".
    word_to_id = reader.build_vocab(
        os.path.join(testutil.data_dir("ptb"), "ptb.train.txt"))
    self.assertEqual(word_to_id["the"], 0)
    self.assertEqual(word_to_id["<unk>"], 1)
    with self.assertNoLogs(level="WARNING"):  # PTB drops no word.
      reader.load(testutil.data_dir("ptb"))

  def test_both_eos_forms_give_the_same_tokens_on_ptb(self):
    # Every PTB line ends in a space, so the tutorial's form is safe there.
    for name in reader.FILES.values():
      path = os.path.join(testutil.data_dir("ptb"), name)
      self.assertEqual(reader.read_words(path),
                       reader.read_words(path, spaced_eos=True), msg=name)
    data = reader.load(testutil.data_dir("ptb"))
    # Pinned: a change here means another vocabulary (order or words).
    self.assertEqual(reader.vocab_fingerprint(data.word_to_id),
                     "135c1cdfba9ba262")


if __name__ == "__main__":
  absltest.main()
