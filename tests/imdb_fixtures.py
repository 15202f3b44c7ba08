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
