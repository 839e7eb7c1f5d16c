"""The artifact file index: logical keys -> blob digests, and the blobs that lost their last key."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from sqlalchemy import Connection, and_, delete, func, or_, select

from modelyard.store.metadata.sql import chunked, upsert
from modelyard.store.metadata.tables import artifact_files, artifact_orphans


@dataclass(frozen=True, slots=True)
class FileRow:
    key: str
    digest: str
    size: int


def _under(prefix: str):  # type: ignore[no-untyped-def]
    """The key ``prefix`` itself, or any key inside the folder ``prefix``."""
    c = artifact_files.c.key
    if not prefix:
        return c.is_not(None)
    return or_(c == prefix, and_(c >= prefix + "/", c < prefix + "0"))  # "0" follows "/"


def get(conn: Connection, key: str) -> FileRow | None:
    row = conn.execute(
        select(artifact_files.c.key, artifact_files.c.digest, artifact_files.c.size).where(
            artifact_files.c.key == key
        )
    ).first()
    return FileRow(*row) if row else None


def under(conn: Connection, prefix: str) -> list[FileRow]:
    rows = conn.execute(
        select(artifact_files.c.key, artifact_files.c.digest, artifact_files.c.size)
        .where(_under(prefix))
        .order_by(artifact_files.c.key)
    )
    return [FileRow(*r) for r in rows]


def totals(conn: Connection, prefix: str) -> tuple[int, int]:
    """(file count, bytes) under ``prefix``."""
    count, size = conn.execute(
        select(func.count(), func.coalesce(func.sum(artifact_files.c.size), 0)).where(
            _under(prefix)
        )
    ).one()
    return int(count), int(size)


def put(conn: Connection, rows: Sequence[FileRow], now: int) -> None:
    """Point keys at digests; a digest a key stops naming becomes an orphan candidate."""
    if not rows:
        return
    old: set[str] = set()
    keys = [r.key for r in rows]
    for part in chunked(keys):
        old.update(
            conn.execute(
                select(artifact_files.c.digest).where(artifact_files.c.key.in_(part))
            ).scalars()
        )
    upsert(
        conn,
        artifact_files,
        [{"key": r.key, "digest": r.digest, "size": r.size, "created_at": now} for r in rows],
        ["key"],
    )
    new = {r.digest for r in rows}
    for part in chunked(new):
        conn.execute(delete(artifact_orphans).where(artifact_orphans.c.digest.in_(part)))
    _mark_orphans(conn, old - new, now)


def delete_under(conn: Connection, prefix: str, now: int) -> int:
    """Remove the keys under ``prefix``; returns how many went."""
    digests = set(conn.execute(select(artifact_files.c.digest).where(_under(prefix))).scalars())
    count = conn.execute(delete(artifact_files).where(_under(prefix))).rowcount
    _mark_orphans(conn, digests, now)
    return int(count)


def copy(conn: Connection, src: str, dst: str, now: int) -> int:
    """Give every file under ``src`` a second key under ``dst`` (same blobs, no bytes move)."""
    rows = [
        FileRow(dst + r.key[len(src) :], r.digest, r.size) for r in under(conn, src) if r.key != src
    ]
    put(conn, rows, now)
    return len(rows)


def _mark_orphans(conn: Connection, digests: Iterable[str], now: int) -> None:
    candidates = set(digests)
    if not candidates:
        return
    unused = candidates - referenced(conn, candidates)
    upsert(conn, artifact_orphans, [{"digest": d, "since": now} for d in unused], ["digest"])


def referenced(conn: Connection, digests: Iterable[str]) -> set[str]:
    used: set[str] = set()
    for part in chunked(digests):
        used.update(
            conn.execute(
                select(artifact_files.c.digest).where(artifact_files.c.digest.in_(part)).distinct()
            ).scalars()
        )
    return used


def orphans(conn: Connection) -> dict[str, int]:
    """digest -> since (ms) of every blob recorded as unreferenced."""
    rows = conn.execute(select(artifact_orphans.c.digest, artifact_orphans.c.since))
    return {str(d): int(since) for d, since in rows}


def forget_orphans(conn: Connection, digests: Iterable[str]) -> None:
    for part in chunked(digests):
        conn.execute(delete(artifact_orphans).where(artifact_orphans.c.digest.in_(part)))
