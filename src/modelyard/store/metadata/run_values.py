"""Distinct values that an experiment's runs hold in one column (for filter completion)."""

from __future__ import annotations

from sqlalchemy import ColumnElement, Connection, select

from modelyard.store.metadata.tables import run_params, run_tags, runs


def distinct_values(
    conn: Connection, experiment_id: int, kind: str, key: str, prefix: str, limit: int
) -> list[str]:
    """Up to ``limit`` distinct values starting with ``prefix``, sorted, from active runs.

    ``kind`` is ``params`` or ``tags`` (``key`` names the key; read through the key index), or
    ``attributes`` (``key`` is ``status``, ``user`` or ``name``)."""
    column: ColumnElement[str]
    if kind == "attributes":
        column = runs.c[key]
        query = select(column).where(runs.c.experiment_id == experiment_id)
    else:
        table = run_params if kind == "params" else run_tags
        column = table.c.value
        query = (
            select(column)
            .join(runs, runs.c.id == table.c.run_id)
            .where(table.c.key == key, runs.c.experiment_id == experiment_id)
        )
    query = query.where(runs.c.lifecycle == "active")
    if prefix:
        query = query.where(column.startswith(prefix, autoescape=True))
    query = query.distinct().order_by(column).limit(limit)
    return [str(v) for (v,) in conn.execute(query)]
