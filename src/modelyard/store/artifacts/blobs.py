"""Content-addressed storage: every file is stored once, under the sha256 of its bytes."""

from __future__ import annotations

import hashlib
import os
import re
import tempfile
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from modelyard.errors import DigestMismatch, InvalidInput
from modelyard.store.artifacts.base import ObjectInfo, ObjectStore
from modelyard.store.artifacts.disk import writing

CHUNK = 1 << 20
BLOBS = "blobs/sha256/"
_DIGEST = re.compile(r"^[0-9a-f]{64}$")


@dataclass(frozen=True, slots=True)
class Blob:
    digest: str  # lowercase hex sha256
    size: int


def clean_digest(digest: str) -> str:
    """``sha256:<hex>`` or ``<hex>`` -> ``<hex>``; anything else is refused."""
    raw = digest.removeprefix("sha256:").lower() if isinstance(digest, str) else ""
    if not _DIGEST.match(raw):
        raise InvalidInput(f"{digest!r} is not a sha256 digest (64 hex digits)", field="digest")
    return raw


def blob_key(digest: str) -> str:
    return f"{BLOBS}{digest[:2]}/{digest}"  # one level of 256 folders (as git does)


def hash_file(path: Path) -> Blob:
    """The digest and size of a local file, read in chunks (constant memory)."""
    h = hashlib.sha256()
    size = 0
    with path.open("rb") as f:
        while chunk := f.read(CHUNK):
            h.update(chunk)
            size += len(chunk)
    return Blob(h.hexdigest(), size)


def receive(
    chunks: Iterable[bytes], target: Path, digest: str | None = None, size: int | None = None
) -> Blob:
    """Write a download from a server to ``target``, hashing as it goes.

    A body longer than the ``size`` the server announced is cut off there (a hostile server
    cannot fill the disk), and bytes that do not hash to ``digest`` are refused; on refusal
    nothing is left at ``target``.
    """
    h, written = hashlib.sha256(), 0
    try:
        with target.open("wb") as out:
            for chunk in chunks:
                written += len(chunk)
                if size is not None and written > size:
                    raise DigestMismatch(
                        f"{target.name} does not match: more than the {size} bytes announced came"
                    )
                h.update(chunk)
                out.write(chunk)
        got = Blob(h.hexdigest(), written)
        if digest is not None and got.digest != digest:
            raise DigestMismatch(f"{target.name} does not match its digest sha256:{digest}")
    except BaseException:
        target.unlink(missing_ok=True)
        raise
    return got


class ContentStore:
    """Blobs over an object store: ``put`` hashes while it spools, then keeps one copy."""

    def __init__(self, objects: ObjectStore) -> None:
        self.objects = objects

    def put(self, stream: BinaryIO, expected: str | None = None, *, durable: bool = True) -> Blob:
        """Store a stream; with ``expected``, a digest mismatch is refused and nothing is kept.

        The digest is of the bytes as sent (an encrypting store seals them after), so the same
        content is stored once whatever the keys. ``durable=False`` skips the per-file fsync:
        call ``objects.flush()`` after a batch. A full or read-only disk raises StorageFull;
        the staged file is removed whatever happens.
        """
        with writing("a new blob"):
            fd, tmp = tempfile.mkstemp(dir=self.objects.staging, prefix="put-")
        path = Path(tmp)
        try:
            h = hashlib.sha256()
            size = 0
            with writing("a new blob"), os.fdopen(fd, "wb") as out:
                while chunk := stream.read(CHUNK):
                    h.update(chunk)
                    out.write(chunk)
                    size += len(chunk)
            return self.adopt(path, Blob(h.hexdigest(), size), expected, durable=durable)
        finally:
            path.unlink(missing_ok=True)

    def adopt(
        self, path: Path, blob: Blob, expected: str | None = None, *, durable: bool = True
    ) -> Blob:
        """Keep a staged local file whose digest is known; it is consumed either way."""
        if expected is not None and clean_digest(expected) != blob.digest:
            path.unlink(missing_ok=True)
            raise DigestMismatch(
                f"content digest is {blob.digest}, the client said {clean_digest(expected)}"
            )
        key = blob_key(blob.digest)
        if self.objects.stat(key) is not None:
            path.unlink(missing_ok=True)  # stored once: the same bytes are already there
        else:
            self.objects.put_file(key, path, durable=durable)
        return blob

    def open(self, digest: str) -> BinaryIO:
        return self.objects.open(blob_key(clean_digest(digest)))

    def size(self, digest: str) -> int | None:
        """The stored size of a blob, or None when it is not stored."""
        info = self.objects.stat(blob_key(clean_digest(digest)))
        return None if info is None else info.size

    def missing(self, digests: Iterable[str]) -> list[str]:
        """The digests among ``digests`` that are not stored yet (looked up in parallel: on S3
        each lookup is a request)."""
        unique = list(dict.fromkeys(clean_digest(x) for x in digests))
        if len(unique) < 64:
            return [d for d in unique if self.size(d) is None]
        from concurrent.futures import ThreadPoolExecutor

        with ThreadPoolExecutor(16) as pool:
            sizes = list(pool.map(self.size, unique, chunksize=256))
        return [d for d, size in zip(unique, sizes, strict=True) if size is None]

    def delete(self, digest: str) -> None:
        self.objects.delete(blob_key(clean_digest(digest)))

    def scan(self) -> Iterator[tuple[str, ObjectInfo]]:
        """(digest, object) of every stored blob."""
        for info in self.objects.scan(BLOBS):
            name = info.key.rsplit("/", 1)[-1]
            if _DIGEST.match(name):
                yield name, info
