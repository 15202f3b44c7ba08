"""See README.md in this folder (command, machine, output).

Backs docs/imdb.md's "Had test words outside the vocabulary been kept as OOV
instead of dropped": the all-ids total of the reader (test words outside the
training index dropped, as Keras's imdb.npz has them) and the total with each
such word kept as one OOV id.
"""
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "..", "..", ".."))

from imdb import reader  # pylint: disable=wrong-import-position


def main():
  reviews = reader.read_reviews(reader.find_source(
      os.path.join(os.environ.get("DATA_DIR", "../shared/data"), "imdb")))
  train = [reader.tokenize(r.text) for r in reviews["train"]]
  test = [reader.tokenize(r.text) for r in reviews["test"]]
  index = set(reader.build_vocab(train))
  train_ids = sum(len(words) + 1 for words in train)  # + the start id.
  kept = sum(sum(1 for w in words if w in index) + 1 for words in test)
  outside = sum(sum(1 for w in words if w not in index) for words in test)
  print("index", len(index), "train ids", train_ids)
  print("all ids, outside words dropped:", train_ids + kept)
  print("all ids, outside words kept as OOV:", train_ids + kept + outside,
        "(%d more)" % outside)


if __name__ == "__main__":
  main()
