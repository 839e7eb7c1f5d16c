"""Multipart upload sessions and their parts, shared by every server replica."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Connection, delete, select, update

from modelyard.store.metadata.sql import upsert
from modelyard.store.metadata.tables import upload_parts, upload_sessions


@dataclass(frozen=True, slots=True)
class Session:
    id: str
    native_id: str  # the backend's own id of the upload ("" for staged parts)
    created_at: int
    updated_at: int


@dataclass(frozen=True, slots=True)
class PartRow:
    number: int
    size: int
    sha256: str
    etag: str


def create(conn: Connection, upload_id: str, native_id: str, now: int) -> None:
    conn.execute(
        upload_sessions.insert().values(
            id=upload_id, native_id=native_id, created_at=now, updated_at=now
        )
    )


def get(conn: Connection, upload_id: str) -> Session | None:
    row = conn.execute(select(upload_sessions).where(upload_sessions.c.id == upload_id)).first()
    return None if row is None else Session(row.id, row.native_id, row.created_at, row.updated_at)


def put_part(conn: Connection, upload_id: str, part: PartRow, now: int) -> bool:
    """Record a part (replacing one of the same number); False when the session is gone."""
    touched = conn.execute(
        update(upload_sessions).where(upload_sessions.c.id == upload_id).values(updated_at=now)
    )
    if touched.rowcount == 0:
        return False
    row = {
        "upload_id": upload_id,
        "number": part.number,
        "size": part.size,
        "sha256": part.sha256,
        "etag": part.etag,
    }
    upsert(conn, upload_parts, [row], ["upload_id", "number"])
    return True


def parts(conn: Connection, upload_id: str) -> list[PartRow]:
    rows = conn.execute(
        select(upload_parts)
        .where(upload_parts.c.upload_id == upload_id)
        .order_by(upload_parts.c.number)
    )
    return [PartRow(r.number, r.size, r.sha256, r.etag) for r in rows]


def remove(conn: Connection, upload_id: str) -> None:
    conn.execute(delete(upload_parts).where(upload_parts.c.upload_id == upload_id))
    conn.execute(delete(upload_sessions).where(upload_sessions.c.id == upload_id))


def stale(conn: Connection, cutoff_ms: int) -> list[Session]:
    """Sessions untouched since ``cutoff_ms``."""
    rows = conn.execute(select(upload_sessions).where(upload_sessions.c.updated_at < cutoff_ms))
    return [Session(r.id, r.native_id, r.created_at, r.updated_at) for r in rows]


def ids(conn: Connection) -> set[str]:
    return set(conn.scalars(select(upload_sessions.c.id)))
