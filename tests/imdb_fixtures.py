"""Tiny hand-made aclImdb trees and archives for the imdb tests."""

import io
import os
import tarfile
from typing import Dict, Optional

# Reviews per (split, folder): positive ones praise, negative ones complain,
# so a tiny model can learn them. Ratings follow the dataset: pos 7-10, neg 1-4.
_POS = ["A great film, truly wonderful!<br /><br />I loved it.",
        "Wonderful acting and a great story; loved every minute.",
        "Great, great, great. The best film of the year.",
        "I loved this wonderful movie. Great cast."]
_NEG = ["An awful film. Boring and bad.<br />I hated it.",
        "Boring story, awful acting; the worst movie of the year.",
        "Bad, bad, bad. I hated every boring minute.",
        "Awful. The plot was boring and the cast was bad."]


def reviews(n_per_folder: int = 8) -> Dict[str, Dict[str, bytes]]:
  """``{"train/pos/0_9.txt": b"...", ...}`` grouped by ``split/folder``."""
  out = {}
  for split in ("train", "test"):
    for folder, texts, ratings in (("pos", _POS, (7, 8, 9, 10)),
                                   ("neg", _NEG, (1, 2, 3, 4))):
      files = {}
      for i in range(n_per_folder):
        text = texts[i % len(texts)] + (" Extra %s words." % split) * (i % 3)
        files["%d_%d.txt" % (i, ratings[i % 4])] = text.encode("utf-8")
      out["%s/%s" % (split, folder)] = files
  return out


def write_tree(root: str, n_per_folder: int = 8,
               replace: Optional[Dict[str, Optional[bytes]]] = None) -> str:
  """Writes ``root/aclImdb/...``; ``replace`` maps "split/folder/name" to new
  bytes (None deletes it; a folder key with None drops the folder)."""
  replace = replace or {}
  base = os.path.join(root, "aclImdb")
  for folder, files in reviews(n_per_folder).items():
    if folder in replace and replace[folder] is None:
      continue
    os.makedirs(os.path.join(base, folder), exist_ok=True)
    for name, data in files.items():
      key = "%s/%s" % (folder, name)
      data = replace.get(key, data)
      if data is not None:
        with open(os.path.join(base, folder, name), "wb") as f:
          f.write(data)
  for key, data in replace.items():
    if data is not None and not os.path.exists(os.path.join(base, key)):
      os.makedirs(os.path.dirname(os.path.join(base, key)), exist_ok=True)
      with open(os.path.join(base, key), "wb") as f:
        f.write(data)
  return root


def _add_bytes(tar: tarfile.TarFile, name: str, data: bytes) -> None:
  info = tarfile.TarInfo(name)
  info.size = len(data)
  tar.addfile(info, io.BytesIO(data))


def write_archive(path: str, n_per_folder: int = 8,
                  extra: Optional[Dict[str, bytes]] = None,
                  symlink: Optional[str] = None) -> str:
  """Writes a .tar.gz of ``aclImdb/`` (members in a scrambled order), plus
  ``extra`` members (any name, e.g. ``../evil.txt``) and a symlink member."""
  with tarfile.open(path, "w:gz") as tar:
    items = sorted(((f, n, d) for f, files in reviews(n_per_folder).items()
                    for n, d in files.items()), key=lambda t: t[1])
    for folder, name, data in reversed(items):
      _add_bytes(tar, "aclImdb/%s/%s" % (folder, name), data)
    _add_bytes(tar, "aclImdb/train/unsup/0_0.txt", b"unlabeled, ignored")
    for name, data in (extra or {}).items():
      _add_bytes(tar, name, data)
    if symlink:
      info = tarfile.TarInfo(symlink)
      info.type = tarfile.SYMTYPE
      info.linkname = "/etc/passwd"
      tar.addfile(info)
  return path


# ------------------------------------------------- Keras's imdb.npz, published
# Facts about ``keras.datasets.imdb`` (``imdb.npz`` and its word index) as its
# users print them: the example in ``load_data``'s documentation, the output
# of the TensorFlow text-classification tutorial and of many notebooks. The
# real-data test checks the reader against them.

# ``load_data(num_words=10000)[0][0][0]`` (x_train[0]): train/pos/576_10.txt.
KERAS_X_TRAIN_0 = (
    1, 14, 22, 16, 43, 530, 973, 1622, 1385, 65, 458, 4468, 66, 3941, 4,
    173, 36, 256, 5, 25, 100, 43, 838, 112, 50, 670, 2, 9, 35, 480, 284, 5,
    150, 4, 172, 112, 167, 2, 336, 385, 39, 4, 172, 4536, 1111, 17, 546, 38,
    13, 447, 4, 192, 50, 16, 6, 147, 2025, 19, 14, 22, 4, 1920, 4613, 469,
    4, 22, 71, 87, 12, 16, 43, 530, 38, 76, 15, 13, 1247, 4, 22, 17, 515,
    17, 12, 16, 626, 18, 2, 5, 62, 386, 12, 8, 316, 8, 106, 5, 4, 2223,
    5244, 16, 480, 66, 3785, 33, 4, 130, 12, 16, 38, 619, 5, 25, 124, 51,
    36, 135, 48, 25, 1415, 33, 6, 22, 12, 215, 28, 77, 52, 5, 14, 407, 16,
    82, 2, 8, 4, 107, 117, 5952, 15, 256, 4, 2, 7, 3766, 5, 723, 36, 71, 43,
    530, 476, 26, 400, 317, 46, 7, 4, 2, 1029, 13, 104, 88, 4, 381, 15, 297,
    98, 32, 2071, 56, 26, 141, 6, 194, 7486, 18, 4, 226, 22, 21, 134, 476,
    26, 480, 5, 144, 30, 5535, 18, 51, 36, 28, 224, 92, 25, 104, 4, 226, 65,
    16, 38, 1334, 88, 12, 16, 283, 5, 16, 4472, 113, 103, 32, 15, 16, 5345,
    19, 178, 32)
KERAS_X_TRAIN_0_FILE = ("train", 1, 576)  # (split, label, review id).
KERAS_X_TRAIN_0_NUM_WORDS = 10000

# ``load_data()[1][0][0]`` (x_test[0], all words): test/neg/7975_1.txt.
KERAS_X_TEST_0 = (
    1, 591, 202, 14, 31, 6, 717, 10, 10, 18142, 10698, 5, 4, 360, 7, 4, 177,
    5760, 394, 354, 4, 123, 9, 1035, 1035, 1035, 10, 10, 13, 92, 124, 89,
    488, 7944, 100, 28, 1668, 14, 31, 23, 27, 7479, 29, 220, 468, 8, 124,
    14, 286, 170, 8, 157, 46, 5, 27, 239, 16, 179, 15387, 38, 32, 25, 7944,
    451, 202, 14, 6, 717)
KERAS_X_TEST_0_FILE = ("test", 0, 7975)

# ``len(imdb.get_word_index())``.
KERAS_INDEX_SIZE = 88584
# ``sum(map(len, x_train))`` with the start ids (mean length 238.71364 over
# 25,000 reviews) and ``max(map(len, x_train))``.
KERAS_TRAIN_IDS = 5967841
KERAS_TRAIN_MAX_LEN = 2494
# ``np.hstack(x_train + x_test).shape`` (Mean 234.76 words over 50,000).
KERAS_ALL_IDS = 11737946
