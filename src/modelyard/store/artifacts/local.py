"""Objects in a local folder; a finished upload is renamed into place (atomic, same filesystem).

No link under the root is ever followed: every folder of a key is opened one level at a time
with ``O_NOFOLLOW`` from the root, and the object itself likewise. A link planted as an object
or as a folder (``blobs/sha256/ab``) reads as a missing object, is never listed, and a write
through a linked folder is refused (PATH_NOT_ALLOWED); a write over a linked object replaces
the link, never the file it points at.
"""

from __future__ import annotations

import contextlib
import errno
import os
import stat
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO

from modelyard.errors import NotFound, PathNotAllowed
from modelyard.store.artifacts.base import ObjectInfo, ObjectStore
from modelyard.store.artifacts.disk import (
    ABSENT,
    NOFOLLOW,
    fdopen_regular,
    private_folder,
    writing,
)
from modelyard.store.artifacts.paths import clean_relative

STAGING = ".staging"
_FOLDER = os.O_RDONLY | os.O_DIRECTORY | NOFOLLOW


class LocalObjectStore(ObjectStore):
    """``/path`` or ``file:///path``: objects are files under the root folder."""

    def __init__(self, uri: str) -> None:
        self.uri = uri
        raw = uri[len("file://") :] if uri.startswith("file://") else uri
        self.root = Path(raw).expanduser().resolve()  # links up to the root are the admin's
        with writing(f"the artifact root {self.root}"):
            self.root.mkdir(parents=True, exist_ok=True)
        self.staging = private_folder(self.root / STAGING)

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
        *folders, name = clean_relative(key).split("/")
        try:
            fd = self._folder(folders)
            try:
                st = os.stat(name, dir_fd=fd, follow_symlinks=False)
            finally:
                os.close(fd)
        except OSError as exc:
            if exc.errno in ABSENT:
                return None
            raise
        if not stat.S_ISREG(st.st_mode):
            return None  # a planted link or device is no object (a put replaces it)
        return ObjectInfo(key, st.st_size, st.st_mtime)

    def put_file(self, key: str, path: Path) -> None:
        *folders, name = clean_relative(key).split("/")
        try:
            with writing(f"object {key!r}"):
                fd = self._folder(folders, create=True)
                try:
                    os.replace(path, name, dst_dir_fd=fd)  # replaces a link, never follows it
                finally:
                    os.close(fd)
        except OSError as exc:
            if exc.errno not in (errno.ELOOP, errno.ENOTDIR):
                raise
            raise PathNotAllowed(
                f"object {key!r}: a folder on its way is a link or a file; links in the "
                "artifact store are not followed",
                path=key,
            ) from exc

    def flush(self) -> None:
        os.sync()  # one flush for many small files written without their own fsync

    def open(self, key: str) -> BinaryIO:
        *folders, name = clean_relative(key).split("/")
        try:
            fd = self._folder(folders)
            try:
                handle = os.open(name, os.O_RDONLY | os.O_NONBLOCK | NOFOLLOW, dir_fd=fd)
            finally:
                os.close(fd)
            return fdopen_regular(handle)
        except OSError as exc:
            if exc.errno in ABSENT:
                raise NotFound(f"object {key!r} does not exist", path=key) from None
            raise

    def delete(self, key: str) -> None:
        *folders, name = clean_relative(key).split("/")
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
                    if key.startswith(prefix):
                        yield ObjectInfo(key, st.st_size, st.st_mtime)
        finally:
            os.close(top)
