"""Fetches Mikolov's simple-examples.tgz and keeps the three PTB files.

For users with a network; the checksums below are those of the extracted
files (``../shared/data/README.md``), so a tampered or truncated download is
refused whatever the archive's own bytes are.
"""

import os
import shutil
import tempfile

from absl import logging

from common import data as data_lib
from common.errors import UserError
from ptb import reader

URL = "http://www.fit.vutbr.cz/~imikolov/rnnlm/simple-examples.tgz"
ARCHIVE_DIR = "simple-examples/data/"
SHA256 = {
    "ptb.train.txt":
        "fcea919f6cf83f35d4d00c6cbf08040d13d4155226340912e2fef9c9c4102cbf",
    "ptb.valid.txt":
        "c9fe6985fe0d4ccb578183407d7668fc6066c20700cb4cf87d8ff1cc34df1bf2",
    "ptb.test.txt":
        "dd65dff31e70846b2a6030a87482edcd5d199130cdcfa1f3dccbb033728deee0",
}


def maybe_download(data_path: str, url: str = URL) -> None:
  """Downloads and verifies the PTB files into ``data_path`` if missing.

  Args:
    data_path: where the three files go.
    url: the archive's address (tests pass a ``file://`` URL).

  Raises:
    UserError: no network, a checksum mismatch or an unsafe archive.
  """
  names = list(reader.FILES.values())
  if all(os.path.isfile(os.path.join(data_path, n)) for n in names):
    return
  with tempfile.TemporaryDirectory() as tmp:
    archive = os.path.join(tmp, "simple-examples.tgz")
    logging.info("Downloading %s", url)
    try:
      data_lib.download(url, archive)
    except UserError as e:
      raise UserError("PTB files missing in %s and the download failed (%s); "
                      "put %s there, or set DATA_DIR / --data_path" %
                      (data_path, e, ", ".join(names))) from e
    data_lib.safe_extract(archive, tmp, members_prefix=ARCHIVE_DIR)
    extracted = os.path.join(tmp, ARCHIVE_DIR)
    data_lib.verify_files(extracted, SHA256)
    try:
      os.makedirs(data_path, exist_ok=True)
      for name in names:
        shutil.move(os.path.join(extracted, name),
                    os.path.join(data_path, name))
    except OSError as e:
      raise UserError("cannot write the PTB files to %s: %s" %
                      (data_path, e)) from e
  logging.info("PTB files verified in %s", data_path)
