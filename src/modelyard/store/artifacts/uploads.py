"""Resumable multipart uploads: parts arrive in any order, on any replica; ``complete`` makes
one content-addressed blob.

The session (id, parts with their size and sha256, times) is a row of the metadata store, so
a client that lost its connection asks any server which parts arrived and sends only the
others. The bytes wait in the object store's ``multipart()``: files in the local staging folder,
or S3's own multipart upload. Sessions untouched for MODELYARD_UPLOAD_GRACE_HOURS are removed
(and S3 uploads aborted) by `modelyard gc`.
"""

from __future__ import annotations

import hashlib
import os
import re
import secrets
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, BinaryIO

from modelyard.errors import DigestMismatch, InvalidInput, NotFound, PayloadTooLarge
from modelyard.store.artifacts.blobs import CHUNK, Blob, blob_key, clean_digest
from modelyard.store.artifacts.disk import writing
from modelyard.store.metadata import uploads_repo as repo
from modelyard.store.metadata.sql import now_ms

if TYPE_CHECKING:
    from modelyard.store.artifacts.repository import ArtifactRepository

MAX_PARTS = 10_000
MAX_PART_BYTES = 5 << 30
_ID = re.compile(r"^[0-9a-f]{32}$")


@dataclass(frozen=True, slots=True)
class Part:
    number: int
    size: int
    sha256: str


class Uploads:
    def __init__(self, artifacts: ArtifactRepository) -> None:
        self.db = artifacts.db
        self.content = artifacts.content
        self.objects = artifacts.objects
        self.multipart = artifacts.objects.multipart()

    def _session(self, upload_id: str) -> repo.Session:
        if not isinstance(upload_id, str) or not _ID.match(upload_id):
            raise InvalidInput(f"{upload_id!r} is not an upload id", field="upload_id")
        with self.db.read() as conn:
            session = repo.get(conn, upload_id)
        if session is None:
            raise NotFound(f"upload {upload_id} does not exist (finished, aborted or expired)")
        return session

    def create(self) -> str:
        upload_id = secrets.token_hex(16)
        native = self.multipart.start(upload_id)
        try:
            self.db.write(lambda c: repo.create(c, upload_id, native, now_ms()))
        except BaseException:
            self.multipart.abort(upload_id, native)
            raise
        return upload_id

    def put_part(self, upload_id: str, number: int, stream: BinaryIO) -> Part:
        """Store part ``number`` (1-based); sending a part again replaces it."""
        session = self._session(upload_id)
        if not 1 <= number <= MAX_PARTS:
            raise InvalidInput(f"part number must be 1..{MAX_PARTS}", field="number")
        what = f"part {number} of upload {upload_id}"
        with writing(what):
            fd, tmp = tempfile.mkstemp(dir=self.objects.staging, prefix="part-")
        h, size = hashlib.sha256(), 0
        try:
            with writing(what), os.fdopen(fd, "wb") as out:
                while chunk := stream.read(CHUNK):
                    size += len(chunk)
                    if size > MAX_PART_BYTES:
                        raise PayloadTooLarge(f"a part may hold at most {MAX_PART_BYTES} bytes")
                    h.update(chunk)
                    out.write(chunk)
            tag = self.multipart.put(upload_id, session.native_id, number, Path(tmp))
        finally:
            Path(tmp).unlink(missing_ok=True)
        row = repo.PartRow(number, size, h.hexdigest(), tag)
        if not self.db.write(lambda c: repo.put_part(c, upload_id, row, now_ms())):
            raise NotFound(f"upload {upload_id} ended while part {number} arrived")
        return Part(number, size, row.sha256)

    def parts(self, upload_id: str) -> list[Part]:
        """The parts received so far (their sha256 lets a client check before it skips one)."""
        self._session(upload_id)
        with self.db.read() as conn:
            rows = repo.parts(conn, upload_id)
        return [Part(r.number, r.size, r.sha256) for r in rows]

    def complete(self, upload_id: str, expected: str | None = None) -> Blob:
        """Join the parts in order into one blob; gaps in the numbering are refused.

        A digest mismatch keeps the session, so a corrected ``complete`` can follow.
        """
        session = self._session(upload_id)
        with self.db.read() as conn:
            rows = repo.parts(conn, upload_id)
        numbers = [r.number for r in rows]
        if not numbers or numbers != list(range(1, len(numbers) + 1)):
            raise InvalidInput(
                f"upload {upload_id} has parts {numbers[:20]}; need 1..N with no gap"
            )
        whole = self.multipart.join(
            upload_id, session.native_id, [(r.number, r.size, r.etag) for r in rows]
        )
        if expected is not None and clean_digest(expected) != whole.digest:
            raise DigestMismatch(
                f"content digest is {whole.digest}, the client said {clean_digest(expected)}"
            )
        if self.content.size(whole.digest) is None:  # stored once: the same bytes may be there
            self.multipart.keep(upload_id, blob_key(whole.digest))
        self._end(session)
        return whole

    def abort(self, upload_id: str) -> None:
        self._end(self._session(upload_id))

    def _end(self, session: repo.Session) -> None:
        self.db.write(lambda c: repo.remove(c, session.id))
        self.multipart.abort(session.id, session.native_id)

    def expire(self, cutoff: float, *, dry_run: bool) -> int:
        """End sessions untouched since ``cutoff`` (seconds since the epoch); how many."""
        with self.db.read() as conn:
            stale = repo.stale(conn, int(cutoff * 1000))
            known = repo.ids(conn)
        if not dry_run:
            for session in stale:
                self._end(session)
        return len(stale) + self.multipart.sweep(cutoff, known, dry_run=dry_run)
