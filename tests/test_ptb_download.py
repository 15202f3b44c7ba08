"""ptb.download against local archives (file:// URLs; CI has no network)."""

import io
import os
import tarfile

from absl.testing import absltest

from common.errors import UserError
from ptb import download
from ptb import reader
from tests import testutil


class DownloadTest(absltest.TestCase):

  def _archive(self, tamper=False, extra_member=None):
    path = os.path.join(self.create_tempdir().full_path, "simple-examples.tgz")
    real = testutil.data_dir("ptb")
    with tarfile.open(path, "w:gz") as tar:
      for name in reader.FILES.values():
        tar.add(os.path.join(real, name),
                arcname="./simple-examples/data/" + name)
      if tamper:
        info = tarfile.TarInfo("./simple-examples/data/ptb.test.txt")
        info.size = 3
        tar.addfile(info, io.BytesIO(b"bad"))
      if extra_member:
        info = tarfile.TarInfo(extra_member)
        info.size = 1
        tar.addfile(info, io.BytesIO(b"x"))
    return "file://" + path

  def test_good_archive_gives_verified_files(self):
    dest = os.path.join(self.create_tempdir().full_path, "ptb")
    download.maybe_download(dest, url=self._archive())
    self.assertEqual(sorted(os.listdir(dest)), sorted(reader.FILES.values()))

  def test_checksum_mismatch_is_refused(self):
    dest = os.path.join(self.create_tempdir().full_path, "ptb")
    with self.assertRaisesRegex(UserError, "checksum mismatch .*ptb.test.txt"):
      download.maybe_download(dest, url=self._archive(tamper=True))
    self.assertFalse(os.path.exists(dest))

  def test_unsafe_member_is_refused(self):
    dest = os.path.join(self.create_tempdir().full_path, "ptb")
    url = self._archive(extra_member="simple-examples/data/../../../evil")
    with self.assertRaisesRegex(UserError, "unsafe path"):
      download.maybe_download(dest, url=url)

  def test_no_network_says_where_to_put_files(self):
    dest = os.path.join(self.create_tempdir().full_path, "ptb")
    with self.assertRaisesRegex(UserError, "put ptb.train.txt, ptb.valid.txt"):
      download.maybe_download(dest, url="file:///nonexistent/archive.tgz")


if __name__ == "__main__":
  absltest.main()
