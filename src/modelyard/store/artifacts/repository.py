"""Artifacts as the domains see them: files under logical keys, stored once by content."""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO

from modelyard import config
from modelyard.errors import NotFound
from modelyard.store.artifacts.base import ArtifactInfo, ObjectStore
from modelyard.store.artifacts.blobs import Blob, ContentStore, clean_digest
from modelyard.store.artifacts.uploads import Uploads
from modelyard.store.metadata import artifact_index_repo as index
from modelyard.store.metadata import uploads_repo
from modelyard.store.metadata.artifact_index_repo import FileRow
from modelyard.store.metadata.database import Database
from modelyard.store.metadata.sql import now_ms


@dataclass(slots=True)
class BlobGcReport:
    blobs: list[str] = field(default_factory=list)
    bytes: int = 0
    uploads: int = 0


class ArtifactRepository:
    """One per store: the blob store plus the key -> digest index in the metadata store."""

    def __init__(self, db: Database, objects: ObjectStore) -> None:
        self.db = db
        self.objects = objects
        self.content = ContentStore(objects)

    # -- write
    def put(self, key: str, stream: BinaryIO, expected: str | None = None) -> Blob:
        """Store a stream under ``key`` (replacing what the key named before)."""
        blob = self.content.put(stream, expected)
        self.db.write(lambda c: index.put(c, [FileRow(key, blob.digest, blob.size)], now_ms()))
        return blob

    def link(self, entries: Sequence[tuple[str, str]]) -> list[FileRow]:
        """Point keys at blobs already stored (``(key, digest)`` pairs); NotFound names a missing one."""
        rows = self.stored(entries)
        self.db.write(lambda c: index.put(c, rows, now_ms()))
        return rows

    def stored(self, entries: Sequence[tuple[str, str]]) -> list[FileRow]:
        """``(name, digest)`` pairs as rows with sizes; NotFound names a blob not uploaded."""
        rows = []
        for name, digest in entries:
            d = clean_digest(digest)
            size = self.content.size(d)
            if size is None:
                raise NotFound(f"blob sha256:{d} ({name}) is not uploaded", digest=d)
            rows.append(FileRow(name, d, size))
        return rows

    def copy(self, src: str, dst: str) -> int:
        """A snapshot: every file under ``src`` also appears under ``dst``; no bytes move."""
        return self.db.write(lambda c: index.copy(c, src, dst, now_ms()))

    def delete(self, prefix: str) -> int:
        """Forget a file or folder; its blobs go at the next `modelyard gc` after the grace."""
        return self.db.write(lambda c: index.delete_under(c, prefix, now_ms()))

    # -- read
    def stat(self, key: str) -> FileRow | None:
        with self.db.read() as conn:
            return index.get(conn, key)

    def open(self, key: str) -> BinaryIO:
        row = self.stat(key)
        if row is None:
            raise NotFound(f"artifact {key!r} does not exist", path=key)
        return self.content.open(row.digest)

    def files(self, prefix: str) -> list[FileRow]:
        """Every file under ``prefix``, keys relative to it."""
        with self.db.read() as conn:
            rows = index.under(conn, prefix)
        cut = len(prefix) + 1 if prefix else 0
        return [FileRow(r.key[cut:], r.digest, r.size) for r in rows if r.key != prefix]

    def list(self, folder: str) -> list[ArtifactInfo]:
        """The direct children of ``folder`` (names relative to it), folders first merged in."""
        children: dict[str, ArtifactInfo] = {}
        for row in self.files(folder):
            name, sep, _ = row.key.partition("/")
            if sep:
                children.setdefault(name, ArtifactInfo(name, True, None))
            else:
                children[name] = ArtifactInfo(name, False, row.size)
        return [children[n] for n in sorted(children)]

    def totals(self, prefix: str) -> tuple[int, int]:
        with self.db.read() as conn:
            return index.totals(conn, prefix)

    # -- garbage collection
    def gc(self, grace_seconds: float, *, dry_run: bool) -> BlobGcReport:
        """Delete blobs no key names, unreferenced for longer than the grace (or never linked)."""
        cutoff = time.time() - grace_seconds
        with self.db.read() as conn:
            orphaned = index.orphans(conn)
            stored = {d: info for d, info in self.content.scan()}
            candidates = {
                d
                for d, info in stored.items()
                if info.modified < cutoff and orphaned.get(d, 0) / 1000 < cutoff
            }
            doomed = sorted(candidates - index.referenced(conn, candidates))
        report = BlobGcReport(doomed, sum(stored[d].size for d in doomed))
        stale = time.time() - config.UPLOAD_GRACE_HOURS.get() * 3600
        report.uploads = Uploads(self).expire(stale, dry_run=dry_run)
        with self.db.read() as conn:
            sessions = {f"upload-{i}" for i in uploads_repo.ids(conn)}
        report.uploads += _stale_uploads(self.objects.staging, stale, sessions, dry_run=dry_run)
        if dry_run:
            return report
        for digest in doomed:
            self.content.delete(digest)
        self.db.write(lambda c: index.forget_orphans(c, doomed))
        return report


def _stale_uploads(staging: Path, cutoff: float, sessions: set[str], *, dry_run: bool) -> int:
    """Staged files untouched since ``cutoff``, but the folders of live ``sessions`` (links
    are not followed)."""
    import shutil
    import stat

    count = 0
    for entry in staging.iterdir() if staging.exists() else []:
        if entry.name in sessions:
            continue
        try:
            st = entry.lstat()
        except FileNotFoundError:
            continue  # finished meanwhile
        if st.st_mtime >= cutoff:
            continue
        count += 1
        if dry_run:
            continue
        if stat.S_ISDIR(st.st_mode):
            shutil.rmtree(entry, ignore_errors=True)
        else:
            entry.unlink(missing_ok=True)
    return count


LEGACY_PREFIXES = ("runs/", "models/")


def adopt_legacy(repo: ArtifactRepository) -> int:
    """Move files stored by modelyard < 0.2 under plain keys into blobs and the index, once."""
    moved = 0
    for prefix in LEGACY_PREFIXES:
        for info in list(repo.objects.scan(prefix)):
            with repo.objects.open(info.key) as handle:
                repo.put(info.key, handle)
            repo.objects.delete(info.key)
            moved += 1
    return moved
