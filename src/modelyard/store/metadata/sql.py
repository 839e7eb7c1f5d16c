"""Small SQL helpers shared by the repositories (dialect-aware upsert, chunked IN)."""

from __future__ import annotations

import time
from collections.abc import Iterable, Iterator, Sequence
from typing import Any

from sqlalchemy import Connection, Table
from sqlalchemy.dialects import postgresql, sqlite

IN_CHUNK = 500


def now_ms() -> int:
    return int(time.time() * 1000)


def upsert(
    conn: Connection, table: Table, rows: Sequence[dict[str, Any]], keys: Sequence[str]
) -> None:
    """INSERT ... ON CONFLICT (keys) DO UPDATE the other columns, on SQLite and PostgreSQL."""
    if not rows:
        return
    module: Any = postgresql if conn.dialect.name == "postgresql" else sqlite
    stmt = module.insert(table)
    updates = {c: stmt.excluded[c] for c in rows[0] if c not in keys}
    conn.execute(stmt.on_conflict_do_update(index_elements=list(keys), set_=updates), list(rows))


def chunked(items: Iterable[str], size: int = IN_CHUNK) -> Iterator[list[str]]:
    """Split ids for IN (...) lists that stay under every driver's parameter limit."""
    batch: list[str] = []
    for item in items:
        batch.append(item)
        if len(batch) == size:
            yield batch
            batch = []
    if batch:
        yield batch
