"""Fetches the public aclImdb_v1.tar.gz (for users with a network).

The archive is checked against its published sha256
(:data:`imdb.reader.SHA256`) before it is kept, so a tampered or truncated
download is refused; :func:`imdb.reader.read_reviews` checks it again when it
reads it. Nothing is extracted: the reader streams the archive.
"""

import os

from absl import logging

from common import data as data_lib
from common.errors import UserError
from imdb import reader


def maybe_download(data_path: str) -> None:
  """Downloads and verifies :data:`imdb.reader.URL` into ``data_path``.

  Does nothing if ``data_path`` already holds IMDB data in any form
  :func:`imdb.reader.find_source` accepts.

  Raises:
    UserError: the download failed or the checksum differs.
  """
  try:
    reader.find_source(data_path)
    return
  except UserError:
    pass
  name = next(iter(reader.SHA256))
  logging.info("Downloading %s into %s", reader.URL, data_path)
  data_lib.download(reader.URL, os.path.join(data_path, name),
                    reader.SHA256[name])
