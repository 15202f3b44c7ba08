"""Fetches the four gzipped MNIST IDX files from the public mirror.

For users with a network. The ``.gz`` bytes differ between mirrors (they are
re-compressed now and then), so what is checked is the *decompressed*
content, against the widely published md5 and sha256 in :mod:`reader`: a
tampered or truncated download is deleted and refused.
"""

import os
from typing import List

from absl import logging

from common import data as data_lib
from common.errors import UserError
from mnist_rnn import reader

# The mirror TF1's input_data downloaded from (yann.lecun.com's own copy is
# often unreachable).
SOURCE_URL = "https://storage.googleapis.com/cvdf-datasets/mnist/"


def maybe_download(data_dir: str, source_url: str = SOURCE_URL) -> List[str]:
  """Downloads the files that ``data_dir`` lacks and verifies each one.

  Args:
    data_dir: where the files go (``data_lib.download`` creates it).
    source_url: base URL; ``<name>.gz`` is appended.

  Returns:
    The paths downloaded (empty when every file was already there).

  Raises:
    UserError: network failure or checksum mismatch (nothing bad is kept).
  """
  fetched = []
  for spec in reader.FILES:
    if reader.existing_file(data_dir, spec) is not None:
      continue
    path = os.path.join(data_dir, spec.name + ".gz")
    url = source_url + spec.name + ".gz"
    logging.info("Downloading %s", url)
    data_lib.download(url, path)
    try:
      reader.verify_content(path, reader.read_content(path), spec)
    except UserError:
      os.remove(path)
      raise
    fetched.append(path)
  if fetched:
    logging.info("MNIST files verified in %s", data_dir)
  return fetched
