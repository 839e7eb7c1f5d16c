"""Objects in a local folder; a finished upload is renamed into place (atomic, same filesystem).

No link under the root is ever followed: every folder of a key is opened one level at a time
with ``O_NOFOLLOW`` from the root, and the object itself likewise. A link planted as an object
or as a folder (``blobs/sha256/ab``) reads as a missing object, is never listed, and a write
through a linked folder is refused (PATH_NOT_ALLOWED); a write over a linked object replaces
the link, never the file it points at.

With a keyring (MODELYARD_ARTIFACTS_KEYS), every object is written sealed with AES-256-GCM
(``encrypted.py``); objects written before keys were set still read.
"""

from __future__ import annotations

import contextlib
import errno
import os
import stat
import tempfile
from collections.abc import Iterator
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, BinaryIO

from modelyard.errors import NotFound, PathNotAllowed
from modelyard.store.artifacts.base import ObjectInfo, ObjectStore
from modelyard.store.artifacts.codecs import MARKER, codec_for
from modelyard.store.artifacts.disk import ABSENT, NOFOLLOW, private_folder, regular, writing
from modelyard.store.artifacts.encrypted import HEAD_MAX, Keyring
from modelyard.store.artifacts.paths import clean_relative

if TYPE_CHECKING:
    from modelyard.store.artifacts.multipart import Multipart

STAGING = ".staging"
_FOLDER = os.O_RDONLY | os.O_DIRECTORY | NOFOLLOW
_FILE = os.O_RDONLY | os.O_NONBLOCK | NOFOLLOW


class LocalObjectStore(ObjectStore):
    """``/path`` or ``file:///path``: objects are files under the root folder, sealed when
    ``keys`` are given."""

    def __init__(self, uri: str, keys: Keyring | None = None) -> None:
        self.uri = uri
        raw = uri[len("file://") :] if uri.startswith("file://") else uri
        self.root = Path(raw).expanduser().resolve()  # links up to the root are the admin's
        with writing(f"the artifact root {self.root}"):
            self.root.mkdir(parents=True, exist_ok=True)
        self.staging = private_folder(self.root / STAGING)
        with writing(f"the artifact root {self.root}"):
            self.codec = codec_for(self.root, keys)

    def _folder(self, names: list[str], *, create: bool = False) -> int:
        """A descriptor of the folder ``root/names...``, no link followed; the caller closes it.

        Missing, linked or non-folder parts raise OSError (ENOENT, ELOOP, ENOTDIR); with
        ``create``, missing folders are made.
        """
        fd = os.open(self.root, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
        try:
            for name in names:
                try:
                    inner = os.open(name, _FOLDER, dir_fd=fd)
                except FileNotFoundError:
                    if not create:
                        raise
                    with contextlib.suppress(FileExistsError):
                        os.mkdir(name, dir_fd=fd)
                    inner = os.open(name, _FOLDER, dir_fd=fd)
                os.close(fd)
                fd = inner
        except BaseException:
            os.close(fd)
            raise
        return fd

    def stat(self, key: str) -> ObjectInfo | None:
        key = clean_relative(key)  # as the codec binds it: one spelling per object
        *folders, name = key.split("/")
        try:
            fd = self._folder(folders)
            try:
                st = os.stat(name, dir_fd=fd, follow_symlinks=False)
                if not stat.S_ISREG(st.st_mode):
                    return None  # a planted link or device is no object (a put replaces it)
                size = self.codec.size(key, st.st_size, partial(_head, fd, name))
            finally:
                os.close(fd)
        except OSError as exc:
            if exc.errno in ABSENT:
                return None
            raise
        if size is None:
            return None  # a sealed file cut short: no object (a put of its bytes replaces it)
        return ObjectInfo(key, size, st.st_mtime)

    def put_file(self, key: str, path: Path, *, durable: bool = True) -> None:
        key = clean_relative(key)
        *folders, name = key.split("/")
        try:
            with writing(f"object {key!r}"):
                stored = self.codec.prepare(key, path, self.staging, durable=durable)
                try:
                    fd = self._folder(folders, create=True)
                    try:
                        os.replace(stored, name, dst_dir_fd=fd)  # replaces a link, never follows
                    finally:
                        os.close(fd)
                except BaseException:
                    stored.unlink(missing_ok=True)
                    raise
        except OSError as exc:
            if exc.errno not in (errno.ELOOP, errno.ENOTDIR):
                raise
            raise PathNotAllowed(
                f"object {key!r}: a folder on its way is a link or a file; links in the "
                "artifact store are not followed",
                path=key,
            ) from exc

    def multipart(self) -> Multipart:
        from modelyard.store.artifacts.multipart import StagedParts

        return StagedParts(self, self.codec.staged)

    def flush(self) -> None:
        os.sync()  # one flush for many small files written without their own fsync

    def open(self, key: str) -> BinaryIO:
        key = clean_relative(key)
        *folders, name = key.split("/")
        try:
            fd = self._folder(folders)
            try:
                handle = regular(os.open(name, _FILE, dir_fd=fd))
            finally:
                os.close(fd)
        except OSError as exc:
            raise _missing(exc, key) from None
        return self.codec.reader(key, handle)

    @contextlib.contextmanager
    def _file(self, key: str) -> Iterator[tuple[int, int, str]]:
        """(folder, file, name): descriptors of the clean ``key``'s folder and file, closed after."""
        *folders, name = key.split("/")
        try:
            folder = self._folder(folders)
        except OSError as exc:
            raise _missing(exc, key) from None
        try:
            try:
                fd = regular(os.open(name, _FILE, dir_fd=folder))
            except OSError as exc:
                raise _missing(exc, key) from None
            try:
                yield folder, fd, name
            finally:
                os.close(fd)
        finally:
            os.close(folder)

    def is_current(self, key: str) -> bool:
        """Whether ``key`` is stored as this store writes (sealed under the first key)."""
        key = clean_relative(key)
        with self._file(key) as (_, fd, _):
            return self.codec.current(key, os.pread(fd, HEAD_MAX, 0))

    def rekey(self, key: str) -> bool:
        """Write ``key`` again as this store writes (sealed under the first key) unless it is
        already; True when it was rewritten.

        The new file is renamed over the old one (atomic) and keeps its time, from which gc
        counts its grace; a damaged or unknown-key object raises ArtifactUnreadable and stays.
        """
        key = clean_relative(key)
        with self._file(key) as (folder, fd, name):
            st = os.fstat(fd)
            if self.codec.current(key, os.pread(fd, HEAD_MAX, 0)):
                return False
            with self.codec.reader(key, os.dup(fd)) as src, writing(f"object {key!r}"):
                out, tmp = tempfile.mkstemp(dir=self.staging, prefix="rekey-")
                try:
                    with os.fdopen(out, "wb") as sealed:
                        self.codec.write(key, src, sealed)
                        sealed.flush()
                        os.fsync(sealed.fileno())
                    os.utime(tmp, ns=(st.st_atime_ns, st.st_mtime_ns))
                    os.replace(tmp, name, dst_dir_fd=folder)
                finally:
                    Path(tmp).unlink(missing_ok=True)
        return True

    def delete(self, key: str) -> None:
        key = clean_relative(key)
        *folders, name = key.split("/")
        try:
            with writing(f"object {key!r}"):
                fd = self._folder(folders)
                try:
                    os.unlink(name, dir_fd=fd)  # a link itself goes, never what it points at
                finally:
                    os.close(fd)
        except OSError as exc:
            if exc.errno not in ABSENT:
                raise

    def scan(self, prefix: str) -> Iterator[ObjectInfo]:
        folder, _, stem = prefix.rpartition("/")
        names = clean_relative(folder).split("/") if folder else []
        try:
            top = self._folder(names)
        except OSError as exc:
            if exc.errno in ABSENT:
                return
            raise
        try:
            for dirpath, dirs, files, fd in os.fwalk(".", dir_fd=top):  # links: not followed
                dirs[:] = [d for d in dirs if d != STAGING]
                if stem and dirpath == ".":
                    dirs[:] = [d for d in dirs if d.startswith(stem)]
                for name in files:
                    try:
                        st = os.stat(name, dir_fd=fd, follow_symlinks=False)
                    except FileNotFoundError:
                        continue  # deleted meanwhile
                    if not stat.S_ISREG(st.st_mode):
                        continue
                    rel = os.path.normpath(os.path.join(dirpath, name))
                    key = f"{folder}/{rel}" if folder else rel
                    if not key.startswith(prefix) or key == MARKER:
                        continue
                    try:
                        size = self.codec.size(key, st.st_size, partial(_head, fd, name))
                    except FileNotFoundError:
                        continue
                    # a damaged file is still listed (gc removes it, rekey names it)
                    yield ObjectInfo(key, st.st_size if size is None else size, st.st_mtime)
        finally:
            os.close(top)


def _missing(exc: OSError, key: str) -> Exception:
    """NotFound for a missing (or linked) object; any other OS error as it is."""
    return NotFound(f"object {key!r} does not exist", path=key) if exc.errno in ABSENT else exc


def _head(folder: int, name: str) -> bytes:
    """The first bytes of the file ``name`` in ``folder`` (no link followed)."""
    fd = os.open(name, _FILE, dir_fd=folder)
    try:
        return os.pread(fd, HEAD_MAX, 0)
    finally:
        os.close(fd)
