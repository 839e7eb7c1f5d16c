"""Where the parts of a multipart upload wait until they are joined: the interface, and the
default that keeps them in the local staging folder (S3 keeps them itself, see ``s3.py``).

The session itself (id, parts, their sha256) lives in the metadata store, so any server
replica takes any part; a backend only holds bytes.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import stat
import tempfile
from abc import ABC, abstractmethod
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, BinaryIO

from modelyard.errors import NotFound
from modelyard.store.artifacts.blobs import CHUNK, Blob
from modelyard.store.artifacts.codecs import Codec, Plain
from modelyard.store.artifacts.disk import NOFOLLOW, regular, writing

if TYPE_CHECKING:
    from modelyard.store.artifacts.base import ObjectStore


class Multipart(ABC):
    """Parts of upload sessions, by number; ``native`` is what ``start`` returned."""

    @abstractmethod
    def start(self, upload_id: str) -> str:
        """Make room for a new session; returns the backend's own id of it ("" when none)."""

    @abstractmethod
    def put(self, upload_id: str, native: str, number: int, path: Path) -> str:
        """Store a spooled part (the file is consumed); returns its tag ("" when none)."""

    @abstractmethod
    def join(self, upload_id: str, native: str, parts: Sequence[tuple[int, int, str]]) -> Blob:
        """Join ``(number, size, tag)`` parts in order into one staged whole; its digest."""

    @abstractmethod
    def keep(self, upload_id: str, key: str) -> None:
        """Store the joined whole under ``key``."""

    @abstractmethod
    def abort(self, upload_id: str, native: str) -> None:
        """Remove everything the session left (no error when it is gone)."""

    def sweep(self, cutoff: float, known: set[str], *, dry_run: bool) -> int:
        """Abort backend sessions older than ``cutoff`` that no session row names; how many."""
        return 0


def hash_stream(stream: BinaryIO) -> Blob:
    """The sha256 and size of a stream read to its end."""
    h, size = hashlib.sha256(), 0
    while chunk := stream.read(CHUNK):
        h.update(chunk)
        size += len(chunk)
    return Blob(h.hexdigest(), size)


def join_streams(readers: Iterable[BinaryIO], out: BinaryIO) -> Blob:
    """Copy each reader to its end into ``out``, in order; the sha256 and size of the whole."""
    h, size = hashlib.sha256(), 0
    for reader in readers:
        with reader:
            while chunk := reader.read(CHUNK):
                h.update(chunk)
                size += len(chunk)
                out.write(chunk)
    return Blob(h.hexdigest(), size)


class StagedParts(Multipart):
    """Parts as files ``upload-<id>/00001...`` in the object store's local staging folder,
    kept by ``codec`` (sealed when the local store seals its objects)."""

    def __init__(self, objects: ObjectStore, codec: Codec | None = None) -> None:
        self.objects = objects
        self.codec = codec or Plain()

    def _open_part(self, folder: Path, number: int) -> BinaryIO:
        path = folder / f"{number:05d}"
        try:
            fd = regular(os.open(path, os.O_RDONLY | os.O_NONBLOCK | NOFOLLOW))
        except FileNotFoundError:
            raise NotFound(f"part {path.name} of {folder.name} is gone; send it again") from None
        return self.codec.reader(f"{folder.name}/{path.name}", fd)

    def _folder(self, upload_id: str) -> Path:
        folder = self.objects.staging / f"upload-{upload_id}"
        try:
            is_folder = stat.S_ISDIR(folder.lstat().st_mode)  # a planted link is no session
        except FileNotFoundError:
            is_folder = False
        if not is_folder:
            raise NotFound(f"upload {upload_id} has lost its staged parts; start again")
        return folder

    def start(self, upload_id: str) -> str:
        with writing("an upload session"):
            (self.objects.staging / f"upload-{upload_id}").mkdir()
        return ""

    def put(self, upload_id: str, native: str, number: int, path: Path) -> str:
        folder = self._folder(upload_id)
        name = f"{number:05d}"
        with writing(f"part {number} of upload {upload_id}"):
            stored = self.codec.prepare(f"{folder.name}/{name}", path, folder, durable=False)
            try:
                os.replace(stored, folder / name)
            except BaseException:
                stored.unlink(missing_ok=True)
                raise
            os.utime(folder)  # a session in use is not stale
        return ""

    def join(self, upload_id: str, native: str, parts: Sequence[tuple[int, int, str]]) -> Blob:
        folder = self._folder(upload_id)
        what = f"upload {upload_id}"
        with writing(what):
            fd, tmp = tempfile.mkstemp(dir=folder, prefix=".joining-")
        try:
            with writing(what), os.fdopen(fd, "wb") as out:
                blob = join_streams((self._open_part(folder, n) for n, _, _ in parts), out)
            os.replace(tmp, folder / "whole")
        finally:
            Path(tmp).unlink(missing_ok=True)
        return blob

    def keep(self, upload_id: str, key: str) -> None:
        self.objects.put_file(key, self._folder(upload_id) / "whole")

    def abort(self, upload_id: str, native: str) -> None:
        shutil.rmtree(self.objects.staging / f"upload-{upload_id}", ignore_errors=True)
