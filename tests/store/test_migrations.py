"""Schema migrations on a store that holds data, on SQLite and PostgreSQL."""

from __future__ import annotations

import math
from pathlib import Path

import orjson
import pytest
from sqlalchemy import create_engine, insert

from modelyard.errors import SchemaOutdated
from modelyard.store.metadata.database import Database, normalize_url, upgrade
from modelyard.store.metadata.tables import experiments, runs
from modelyard.store.stores import open_stores
from modelyard.tracking.service import TrackingService


def test_upgrade_from_0001_rewrites_metric_read_copies(store_uri: str, tmp_path: Path) -> None:
    url = normalize_url(store_uri)
    upgrade(url, "0001")
    engine = create_engine(url)
    old_doc = {"acc": [0.9, 3, 1000, 0.1, "NaN", 4], "loss": ["Infinity", 0, 5, 1.0, 2.0, 1]}
    with engine.begin() as conn:
        conn.execute(
            insert(experiments).values(
                id=7, name="Default", description="", lifecycle="active", created_at=1, updated_at=1
            )
        )
        conn.execute(
            insert(runs).values(
                id="a" * 32,
                experiment_id=7,
                name="old-run",
                status="FINISHED",
                start_time=1,
                end_time=2,
                parent_id=None,
                user="u",
                notes="",
                lifecycle="active",
                deleted_at=None,
                params_doc='{"p": "1"}',
                tags_doc="{}",
                metrics_doc=orjson.dumps(old_doc).decode(),
            )
        )
    engine.dispose()
    with pytest.raises(SchemaOutdated, match="modelyard db upgrade") as info:
        Database(url)
    assert "modelyard db upgrade" in str(info.value)
    upgrade(url)
    stores = open_stores(url, str(tmp_path / "artifacts"))
    svc = TrackingService(stores.db, stores.artifacts)
    try:
        run = svc.get_run("a" * 32)
        # the Default experiment moved to id 0 (where MLflow clients look), with its runs
        assert svc.get_experiment(0).name == "Default"
        assert run.experiment_id == 0
        acc, loss = run.metrics["acc"], run.metrics["loss"]
        assert (acc.last, acc.step, acc.timestamp, acc.min, acc.count) == (0.9, 3, 1000, 0.1, 4)
        assert math.isnan(acc.max)
        assert loss.last == math.inf
        page = svc.search_runs_json([0])
        assert orjson.loads(orjson.dumps(page))["runs"][0] == run.to_json()
    finally:
        svc.close()


def test_migrations_build_the_schema_a_new_store_gets(store_uri: str) -> None:
    """New stores are created from the table definitions; the migration chain must agree."""
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext

    from modelyard.store.metadata.database import HEAD_REVISION, current_revision
    from modelyard.store.metadata.tables import metadata

    url = normalize_url(store_uri)
    upgrade(url)
    engine = create_engine(url)
    try:
        assert current_revision(engine) == HEAD_REVISION
        with engine.connect() as conn:
            diff = compare_metadata(MigrationContext.configure(conn), metadata)
    finally:
        engine.dispose()
    assert diff == []


def test_0015_indexes_the_experiments_overview_activity(store_uri: str) -> None:
    """The activity query (runs and last run time per experiment) reads one covering index."""
    from sqlalchemy import inspect, text

    from modelyard.tracking.activity import ACTIVITY

    url = normalize_url(store_uri)
    upgrade(url, "0014")
    engine = create_engine(url)
    try:
        assert "ix_runs_activity" not in {i["name"] for i in inspect(engine).get_indexes("runs")}
        upgrade(url)
        [index] = [
            i for i in inspect(engine).get_indexes("runs") if i["name"] == "ix_runs_activity"
        ]
        assert index["column_names"] == ["experiment_id", "lifecycle", "start_time", "end_time"]
        if engine.dialect.name == "sqlite":  # PostgreSQL plans by table size; this one is empty
            sql = ACTIVITY.compile(engine, compile_kwargs={"literal_binds": True})
            with engine.connect() as conn:
                plan = " ".join(r[-1] for r in conn.execute(text(f"EXPLAIN QUERY PLAN {sql}")))
            assert "COVERING INDEX ix_runs_activity" in plan
    finally:
        engine.dispose()
