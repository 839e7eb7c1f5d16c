"""Resumable multipart uploads: parts land in a staging folder, ``complete`` makes one blob.

A session is a folder ``upload-<id>`` in the object store's staging area, so a client that lost
its connection asks which parts arrived and sends only the others. Sessions untouched for
MODELYARD_UPLOAD_GRACE_HOURS are removed by `modelyard gc`.
"""

from __future__ import annotations

import hashlib
import os
import re
import secrets
import stat
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from modelyard.errors import InvalidInput, NotFound, PayloadTooLarge
from modelyard.store.artifacts.blobs import CHUNK, Blob, ContentStore
from modelyard.store.artifacts.disk import open_regular, writing

MAX_PARTS = 10_000
MAX_PART_BYTES = 5 << 30
_ID = re.compile(r"^[0-9a-f]{32}$")


@dataclass(frozen=True, slots=True)
class Part:
    number: int
    size: int
    sha256: str


class Uploads:
    def __init__(self, content: ContentStore) -> None:
        self.content = content
        self.staging = content.objects.staging

    def _folder(self, upload_id: str) -> Path:
        if not isinstance(upload_id, str) or not _ID.match(upload_id):
            raise InvalidInput(f"{upload_id!r} is not an upload id", field="upload_id")
        folder = self.staging / f"upload-{upload_id}"
        try:
            is_folder = stat.S_ISDIR(folder.lstat().st_mode)  # a planted link is no session
        except FileNotFoundError:
            is_folder = False
        if not is_folder:
            raise NotFound(f"upload {upload_id} does not exist (finished, aborted or expired)")
        return folder

    @staticmethod
    def _parts(folder: Path) -> list[Path]:
        """The part files of a session, in order; anything but a regular file is not a part."""
        return sorted(p for p in folder.glob("[0-9]" * 5) if stat.S_ISREG(p.lstat().st_mode))

    def create(self) -> str:
        upload_id = secrets.token_hex(16)
        with writing("an upload session"):
            (self.staging / f"upload-{upload_id}").mkdir()
        return upload_id

    def put_part(self, upload_id: str, number: int, stream: BinaryIO) -> Part:
        """Store part ``number`` (1-based); sending a part again replaces it."""
        folder = self._folder(upload_id)
        if not 1 <= number <= MAX_PARTS:
            raise InvalidInput(f"part number must be 1..{MAX_PARTS}", field="number")
        with writing(f"part {number} of upload {upload_id}"):
            fd, tmp = tempfile.mkstemp(dir=folder, prefix=".part-")
        h, size = hashlib.sha256(), 0
        try:
            with writing(f"part {number} of upload {upload_id}"):
                with os.fdopen(fd, "wb") as out:
                    while chunk := stream.read(CHUNK):
                        size += len(chunk)
                        if size > MAX_PART_BYTES:
                            raise PayloadTooLarge(f"a part may hold at most {MAX_PART_BYTES} bytes")
                        h.update(chunk)
                        out.write(chunk)
                os.replace(tmp, folder / f"{number:05d}")
                os.utime(folder)  # a session in use is not stale
        finally:
            Path(tmp).unlink(missing_ok=True)
        return Part(number, size, h.hexdigest())

    def parts(self, upload_id: str) -> list[Part]:
        """The parts received so far (their sha256 lets a client check before it skips one)."""
        folder = self._folder(upload_id)
        out = []
        for path in self._parts(folder):
            h = hashlib.sha256()
            with open_regular(path) as f:
                while chunk := f.read(CHUNK):
                    h.update(chunk)
            out.append(Part(int(path.name), path.stat().st_size, h.hexdigest()))
        return out

    def complete(self, upload_id: str, expected: str | None = None) -> Blob:
        """Join the parts in order into one blob; gaps in the numbering are refused."""
        folder = self._folder(upload_id)
        parts = self._parts(folder)
        numbers = [int(p.name) for p in parts]
        if not numbers or numbers != list(range(1, len(numbers) + 1)):
            raise InvalidInput(
                f"upload {upload_id} has parts {numbers[:20]}; need 1..N with no gap"
            )
        with writing(f"upload {upload_id}"):
            fd, tmp = tempfile.mkstemp(dir=self.staging, prefix="joined-")
        joined = Path(tmp)
        h, size = hashlib.sha256(), 0
        try:
            with writing(f"upload {upload_id}"), os.fdopen(fd, "wb") as out:
                for part in parts:
                    with open_regular(part) as f:
                        while chunk := f.read(CHUNK):
                            h.update(chunk)
                            out.write(chunk)
                            size += len(chunk)
            blob = self.content.adopt(joined, Blob(h.hexdigest(), size), expected)
        finally:
            joined.unlink(missing_ok=True)
        self.abort(upload_id)
        return blob

    def abort(self, upload_id: str) -> None:
        import shutil

        shutil.rmtree(self._folder(upload_id), ignore_errors=True)
