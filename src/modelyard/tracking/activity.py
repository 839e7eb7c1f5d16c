"""How busy each experiment is: its active runs and their last activity, in one grouped query."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import func, select

from modelyard.store.metadata.database import Database
from modelyard.store.metadata.tables import runs


@dataclass(frozen=True, slots=True)
class Activity:
    """An experiment's active runs and the latest start or end time among them (ms)."""

    runs: int
    last_run_at: int | None


# Per experiment with active runs: their count, latest end (or start) and latest start; read
# from the covering index ix_runs_activity alone (migration 0015).
ACTIVITY = (
    select(
        runs.c.experiment_id,
        func.count(),
        func.max(func.coalesce(runs.c.end_time, runs.c.start_time)),
        func.max(runs.c.start_time),
    )
    .where(runs.c.lifecycle == "active")
    .group_by(runs.c.experiment_id)
)


def experiment_activity(db: Database) -> dict[int, Activity]:
    """Activity per experiment (one query grouped by experiment; those without active runs
    are left out)."""
    with db.read() as conn:
        rows = list(conn.execute(ACTIVITY))
    out: dict[int, Activity] = {}
    for exp_id, count, ended, started in rows:
        latest = max(int(ended or 0), int(started or 0)) or None
        out[int(exp_id)] = Activity(int(count), latest)
    return out
