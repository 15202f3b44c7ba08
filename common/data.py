"""Data directories, checksums, downloads and safe archive extraction.

Resolution order for a workload's data directory (e.g. ``ptb``):

1. the ``--data_path`` flag, if given;
2. ``$DATA_DIR/<name>`` if ``DATA_DIR`` is set;
3. ``./data/<name>``.
"""

import hashlib
import http.client
import os
import shutil
import tarfile
import tempfile
import urllib.request
from typing import Mapping, Optional

from common.errors import UserError

DATA_DIR_ENV = "DATA_DIR"


def resolve_data_dir(flag_value: Optional[str], name: str) -> str:
  """Returns the data directory for workload ``name`` (see module doc)."""
  if flag_value:
    return os.path.expanduser(flag_value)
  root = os.environ.get(DATA_DIR_ENV)
  if root:
    return os.path.join(os.path.expanduser(root), name)
  return os.path.join("data", name)


def file_digest(path: str, algorithm: str = "sha256") -> str:
  """Hex digest of a file, read in 1 MiB chunks."""
  h = hashlib.new(algorithm)
  with open(path, "rb") as f:
    for chunk in iter(lambda: f.read(1 << 20), b""):
      h.update(chunk)
  return h.hexdigest()


def bytes_digest(data: bytes, algorithm: str = "sha256") -> str:
  return hashlib.new(algorithm, data).hexdigest()


def check_digest(name: str, actual: str, expected: str) -> None:
  """Raises UserError naming ``name`` if the digests differ."""
  if actual != expected:
    raise UserError("checksum mismatch for %s: got %s, expected %s" %
                    (name, actual, expected))


def verify_files(directory: str, sha256: Mapping[str, str]) -> None:
  """Checks each ``directory/name`` against its sha256 (UserError if not)."""
  for name, expected in sha256.items():
    path = os.path.join(directory, name)
    if not os.path.isfile(path):
      raise UserError("missing data file %s" % path)
    check_digest(path, file_digest(path), expected)


def download(url: str, dest: str, sha256: Optional[str] = None,
             timeout: float = 60.0) -> str:
  """Downloads ``url`` to ``dest`` (via a temp file), verifying ``sha256``.

  Raises:
    UserError: network failure, timeout or checksum mismatch (nothing is
      left at ``dest``).
  """
  directory = os.path.dirname(os.path.abspath(dest))
  try:
    os.makedirs(directory, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=directory, suffix=".part")
  except OSError as e:
    raise UserError("cannot write to %s: %s" % (directory, e)) from e
  try:
    with os.fdopen(fd, "wb") as out, urllib.request.urlopen(
        url, timeout=timeout) as resp:
      shutil.copyfileobj(resp, out)
    if sha256 is not None:
      check_digest(url, file_digest(tmp), sha256)
    os.replace(tmp, dest)
  except (OSError, http.client.HTTPException) as e:  # URLError is an OSError.
    raise UserError("cannot download %s: %s" % (url, e)) from e
  finally:
    if os.path.exists(tmp):
      os.remove(tmp)
  return dest


def check_member_safe(member: tarfile.TarInfo, archive: str) -> None:
  """Refuses absolute paths, '..' escapes, links and device files."""
  name = member.name
  parts = name.replace("\\", "/").split("/")
  if name.startswith(("/", "\\")) or ".." in parts or os.path.isabs(name):
    raise UserError("unsafe path %r in archive %s" % (name, archive))
  if not (member.isfile() or member.isdir()):
    raise UserError("unsupported member %r (link or device) in archive %s" %
                    (name, archive))


def _strip_dot_slash(name: str) -> str:
  return name[2:] if name.startswith("./") else name


def safe_extract(archive: str, dest: str, members_prefix: str = "") -> None:
  """Extracts a tar archive after checking every member is safe.

  Args:
    archive: path of a (possibly compressed) tar file.
    dest: target directory.
    members_prefix: only extract members whose name (without a leading
      ``./``) starts with this.

  Raises:
    UserError: unreadable archive or an unsafe member (nothing extracted).
  """
  try:
    with tarfile.open(archive) as tar:
      members = [m for m in tar.getmembers()
                 if _strip_dot_slash(m.name).startswith(members_prefix)]
      for m in members:
        check_member_safe(m, archive)
      # Every member was checked above; tarfile's own "data" filter, where
      # this Python has it (3.10.12+, 3.11.4+), checks again.
      extra = {"filter": "data"} if hasattr(tarfile, "data_filter") else {}
      tar.extractall(dest, members=members, **extra)
  except (tarfile.TarError, OSError, EOFError) as e:
    raise UserError("cannot extract %s: %s" % (archive, e)) from e
