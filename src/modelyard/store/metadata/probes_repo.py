"""The availability probe's counts: per deployment and minute, probes answered and made.

A minute's row is added to (``ok``, ``total`` and the answered probes' latency sum grow), so
rounds of one minute, and probers of several servers, add up rather than overwrite.
"""

from __future__ import annotations

from sqlalchemy import Connection, func, select
from sqlalchemy.dialects import postgresql, sqlite

from modelyard.store.metadata.tables import monitor_probes

MINUTE_MS = 60_000


def minute_of(at_ms: int) -> int:
    """The start of the minute holding ``at_ms`` (ms since the epoch)."""
    return at_ms - at_ms % MINUTE_MS


def record(
    conn: Connection, deployment: str, at_ms: int, ok: int, total: int, latency_ms_sum: float
) -> None:
    """Add one round's probes of ``deployment`` to the minute holding ``at_ms``."""
    module = postgresql if conn.dialect.name == "postgresql" else sqlite
    stmt = module.insert(monitor_probes).values(
        deployment=deployment,
        minute=minute_of(at_ms),
        ok=ok,
        total=total,
        latency_ms_sum=latency_ms_sum,
    )
    conn.execute(
        stmt.on_conflict_do_update(
            index_elements=["deployment", "minute"],
            set_={
                "ok": monitor_probes.c.ok + stmt.excluded.ok,
                "total": monitor_probes.c.total + stmt.excluded.total,
                "latency_ms_sum": monitor_probes.c.latency_ms_sum + stmt.excluded.latency_ms_sum,
            },
        )
    )


def series(
    conn: Connection, deployment: str, window_s: int, since_ms: int, until_ms: int
) -> list[tuple[int, int, int]]:
    """``(window start, ok, total)`` per window of ``window_s`` seconds (aligned on the epoch)
    that holds probe minutes in [since, until); windows without probes are left out."""
    step = window_s * 1000
    rows = conn.execute(
        select(monitor_probes.c.minute, monitor_probes.c.ok, monitor_probes.c.total)
        .where(
            monitor_probes.c.deployment == deployment,
            monitor_probes.c.minute >= minute_of(since_ms),
            monitor_probes.c.minute < until_ms,
        )
        .order_by(monitor_probes.c.minute)
    )
    out: dict[int, list[int]] = {}
    for minute, ok, total in rows:
        counts = out.setdefault(int(minute) - int(minute) % step, [0, 0])
        counts[0] += int(ok)
        counts[1] += int(total)
    return [(start, ok, total) for start, (ok, total) in out.items()]


def uptime(conn: Connection, deployment: str, since_ms: int, until_ms: int) -> tuple[int, int]:
    """``(ok, total)`` probes of ``deployment`` in the minutes of [since, until)."""
    row = conn.execute(
        select(
            func.coalesce(func.sum(monitor_probes.c.ok), 0),
            func.coalesce(func.sum(monitor_probes.c.total), 0),
        ).where(
            monitor_probes.c.deployment == deployment,
            monitor_probes.c.minute >= minute_of(since_ms),
            monitor_probes.c.minute < until_ms,
        )
    ).one()
    return int(row[0]), int(row[1])


def latency(conn: Connection, deployment: str, since_ms: int, until_ms: int) -> float | None:
    """The mean latency (ms) of the answered probes in [since, until); None without any."""
    row = conn.execute(
        select(
            func.coalesce(func.sum(monitor_probes.c.ok), 0),
            func.coalesce(func.sum(monitor_probes.c.latency_ms_sum), 0.0),
        ).where(
            monitor_probes.c.deployment == deployment,
            monitor_probes.c.minute >= minute_of(since_ms),
            monitor_probes.c.minute < until_ms,
        )
    ).one()
    return float(row[1]) / int(row[0]) if int(row[0]) else None


def forget(conn: Connection, before_ms: int) -> int:
    """Drop the minutes before ``before_ms`` (past the retention); how many rows went."""
    result = conn.execute(monitor_probes.delete().where(monitor_probes.c.minute < before_ms))
    return int(result.rowcount or 0)
