"""See README.md in this folder (command, machine, output)."""
import os, sys
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", ".."))
import collections, string, sys, time
from imdb import reader
FILTER = str.maketrans(reader.KERAS_FILTERS, " " * len(reader.KERAS_FILTERS))
t=time.time()
reviews = reader.read_reviews("../shared/data/imdb/aclImdb_v1_labeled.tar.gz")
print("read", time.time()-t, {k: len(v) for k,v in reviews.items()}, flush=True)
ASCII_LOWER = str.maketrans(string.ascii_uppercase, string.ascii_lowercase)
def tok_ascii(text):
  return [w for w in text.translate(ASCII_LOWER).translate(FILTER).split(" ") if w]
tok_unicode = lambda text: [w for w in text.lower().translate(FILTER).split(" ") if w]
for name, tok in (("unicode", tok_unicode), ("ascii", tok_ascii)):
  train = [tok(r.text) for r in reviews["train"]]
  test = [tok(r.text) for r in reviews["test"]]
  vocab = set(w for ws in train for w in ws)
  ids = sum(len(ws)+1 for ws in train) + sum(sum(1 for w in ws if w in vocab)+1 for ws in test)
  print(name, "index", len(vocab), "train ids", sum(len(ws)+1 for ws in train), "all ids", ids, flush=True)
  if name == "unicode": base_vocab = vocab
  else:
    print("only ascii-lowered:", sorted(vocab - base_vocab)[:40])
    print("only unicode-lowered:", sorted(base_vocab - vocab)[:40])
