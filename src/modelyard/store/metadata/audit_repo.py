"""Rows of the audit chain: the head (one row, locked by appenders) and the records.

An append reads the head ``FOR UPDATE`` (PostgreSQL: replicas on one database queue here; SQLite's
one writer, and ``BEGIN IMMEDIATE`` in other processes, already run appends one at a time),
inserts the record after it and moves the head, all in the caller's transaction.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import Connection, Row, bindparam, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.sql.elements import ColumnElement

from modelyard.store.metadata.tables import audit_head, audit_records

HEAD_ID = 1
GENESIS = "0" * 64  # the prev_hash of the first record

# Built once: an append runs on every write the server answers, and building a statement
# (values coerced, a cache key made) cost more than running it.
_HEAD = select(audit_head.c.seq, audit_head.c.hash).where(audit_head.c.id == HEAD_ID)
_HEAD_LOCKED = _HEAD.with_for_update()
_INSERT = audit_records.insert()
_MOVE = (
    update(audit_head)
    .where(audit_head.c.id == HEAD_ID)
    .values(seq=bindparam("new_seq"), hash=bindparam("new_hash"))
)


def lock_head(conn: Connection) -> tuple[int, str]:
    """``(seq, hash)`` of the chain's head, locked until the transaction ends (made on first
    use: seq 0 and the genesis hash)."""
    query = _HEAD_LOCKED if conn.dialect.name == "postgresql" else _HEAD
    row = conn.execute(query).first()
    if row is None:  # the first append ever (two replicas at once: one inserts, one waits)
        dialect = postgresql if conn.dialect.name == "postgresql" else sqlite
        conn.execute(
            dialect.insert(audit_head)
            .values(id=HEAD_ID, seq=0, hash=GENESIS)
            .on_conflict_do_nothing(index_elements=["id"])
        )
        row = conn.execute(query).one()
    return int(row.seq), str(row.hash)


def head(conn: Connection) -> tuple[int, str] | None:
    """``(seq, hash)`` of the head, or None before the first record."""
    row = conn.execute(_HEAD).first()
    return None if row is None else (int(row.seq), str(row.hash))


def insert(conn: Connection, rows: Sequence[dict[str, Any]]) -> None:
    """Records (each row holds every column), in seq order, and the head moved onto the last."""
    conn.execute(_INSERT, list(rows))
    conn.execute(_MOVE, {"new_seq": rows[-1]["seq"], "new_hash": rows[-1]["hash"]})


def records(
    conn: Connection,
    *,
    actor: str | None = None,
    object_kind: str | None = None,
    object_id: str | None = None,
    action: str | None = None,
    since: int | None = None,
    until: int | None = None,
    after_seq: int | None = None,
    before_seq: int | None = None,
    newest_first: bool = False,
    limit: int = 100,
) -> Sequence[Row[Any]]:
    """Records matching every filter given (``action``: a substring; ``since`` inclusive,
    ``until`` exclusive, in ms), by seq, at most ``limit``."""
    where: list[ColumnElement[bool]] = []
    if actor is not None:
        where.append(audit_records.c.actor == actor)
    if object_kind is not None:
        where.append(audit_records.c.object_kind == object_kind)
    if object_id is not None:
        where.append(audit_records.c.object_id == object_id)
    if action:
        where.append(audit_records.c.action.contains(action, autoescape=True))
    if since is not None:
        where.append(audit_records.c.at >= since)
    if until is not None:
        where.append(audit_records.c.at < until)
    if after_seq is not None:
        where.append(audit_records.c.seq > after_seq)
    if before_seq is not None:
        where.append(audit_records.c.seq < before_seq)
    order = audit_records.c.seq.desc() if newest_first else audit_records.c.seq
    return conn.execute(select(audit_records).where(*where).order_by(order).limit(limit)).all()


def seq_of_hash(conn: Connection, digest: str) -> int | None:
    """The seq of the record whose stored hash is ``digest`` (a scan: used only on a broken
    link)."""
    row = conn.execute(
        select(audit_records.c.seq).where(audit_records.c.hash == digest).limit(1)
    ).first()
    return None if row is None else int(row.seq)
