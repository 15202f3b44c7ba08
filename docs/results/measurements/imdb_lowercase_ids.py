"""See README.md in this folder (command, machine, output)."""
import os, sys
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", ".."))
import numpy as np
from unittest import mock
from imdb import reader
reviews = reader.read_reviews("../shared/data/imdb/aclImdb_v1_labeled.tar.gz")
import string
FILTER = str.maketrans(reader.KERAS_FILTERS, " " * len(reader.KERAS_FILTERS))
old_tok = lambda text: [w for w in text.lower().translate(FILTER).split(" ") if w]
new = reader.build_corpus(reviews)
with mock.patch.object(reader, "tokenize", old_tok):
  old = reader.build_corpus(reviews)
print(len(old.words), len(new.words))
for nw in (10000, 5000, 20000):
  same = True
  for split in ("train", "test"):
    a = reader.encode(getattr(old, split), nw); b = reader.encode(getattr(new, split), nw)
    same &= len(a) == len(b) and all(np.array_equal(x, y) for x, y in zip(a, b))
  print(nw, "identical ids:", same)
print("first differing rank:", next(i for i,(a,b) in enumerate(zip(old.words,new.words)) if a!=b))
for split in ("train", "test"):
  a = reader.encode(getattr(old, split), 10000); b = reader.encode(getattr(new, split), 10000)
  diff = [i for i,(x,y) in enumerate(zip(a,b)) if not np.array_equal(x,y)]
  print(split, "reviews differing at num_words=10000:", len(diff), [(len(a[i]), len(b[i])) for i in diff])
