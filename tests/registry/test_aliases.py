"""Aliases on both metadata backends: rollback in one transaction, the alias at a past time."""

from __future__ import annotations

import itertools
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import Engine, event, text

from modelyard.errors import InvalidState
from modelyard.registry.entities import RegistryEvent
from modelyard.registry.service import RegistryService
from modelyard.store.metadata.database import Database
from modelyard.store.stores import open_stores
from modelyard.tracking.entities import RunCreate
from modelyard.tracking.service import TrackingService

USER = "tester"


@pytest.fixture
def services(store_uri: str, tmp_path: Path) -> Iterator[tuple[RegistryService, str]]:
    stores = open_stores(store_uri, str(tmp_path / "art"))
    tracking = TrackingService(stores.db, stores.artifacts)
    run = tracking.create_run(RunCreate(experiment_name="e"), user=USER)
    yield RegistryService(stores.db, stores.artifacts), run.id
    tracking.close()


def _model(reg: RegistryService, run_id: str, name: str, versions: int = 3) -> None:
    reg.create_model(name, user=USER)
    for _ in range(versions):
        reg.create_version(name, f"runs:/{run_id}/model", run_id=run_id, user=USER)


def _moves(reg: RegistryService, name: str, alias: str) -> list[tuple[int | None, object]]:
    return [
        (e.version, e.detail.get("previous"))
        for e in reg.history(name)
        if e.action == "alias_set" and e.detail.get("alias") == alias
    ]


def test_rollback_points_back_and_refuses_without_history(
    services: tuple[RegistryService, str],
) -> None:
    reg, run_id = services
    _model(reg, run_id, "m")
    reg.set_alias("m", "champion", 1, USER)
    with pytest.raises(InvalidState, match="no earlier version"):
        reg.rollback_alias("m", "champion", USER)
    reg.set_alias("m", "champion", 2, USER)
    assert reg.rollback_alias("m", "champion", USER).version == 1
    assert reg.history("m")[-1].detail["reason"] == "rollback from version 2"
    assert reg.history("m")[-1].user == USER


class _PauseAtHistoryRead:
    """Holds the first statement that reads the registry history until released (test hook)."""

    def __init__(self) -> None:
        self.reached = threading.Event()
        self.release = threading.Event()
        self._armed = True
        self._lock = threading.Lock()

    def __call__(self, _conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        if "FROM registry_events" not in statement or not statement.lstrip().startswith("SELECT"):
            return
        with self._lock:
            armed, self._armed = self._armed, False
        if armed:
            self.reached.set()
            assert self.release.wait(30), "the test never released the paused statement"


def _blocked(db: Database) -> Callable[[], bool]:
    """True once a second write is waiting for the first: queued behind the one SQLite writer,
    or waiting for a row lock on PostgreSQL."""
    if db._writer is not None:
        writer = db._writer
        return lambda: writer.stats().queue_depth > 0

    def waiting() -> bool:
        with db.engine.connect() as conn:
            query = text(
                "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
                "AND wait_event_type = 'Lock'"
            )
            return int(conn.execute(query).scalar_one()) > 0

    return waiting


@pytest.mark.parametrize("second", ["move", "rollback"])
def test_rollback_is_one_transaction(services: tuple[RegistryService, str], second: str) -> None:
    """A rollback paused between reading the last move and writing holds off any other move of
    the alias: the outcome is the serial one (the old read-then-write let them interleave)."""
    reg, run_id = services
    _model(reg, run_id, "m")
    for version in (1, 2, 3):
        reg.set_alias("m", "champion", version, USER)
    pause = _PauseAtHistoryRead()
    event.listen(Engine, "before_cursor_execute", pause)
    errors: list[BaseException] = []

    def run(job: Callable[[], object]) -> threading.Thread:
        def target() -> None:
            try:
                job()
            except BaseException as exc:
                errors.append(exc)

        thread = threading.Thread(target=target)
        thread.start()
        return thread

    try:
        first = run(lambda: reg.rollback_alias("m", "champion", USER))
        assert pause.reached.wait(30)
        if second == "move":
            other = run(lambda: reg.set_alias("m", "champion", 1, USER))
        else:
            other = run(lambda: reg.rollback_alias("m", "champion", USER))
        blocked = _blocked(reg.db)
        while not blocked():
            other.join(0.005)  # poll; the order comes from the events, not from waiting
            assert other.is_alive(), "the second write went through while the rollback held on"
        pause.release.set()
        first.join(30)
        other.join(30)
    finally:
        pause.release.set()
        event.remove(Engine, "before_cursor_execute", pause)
    assert errors == []
    if second == "move":
        assert _moves(reg, "m", "champion")[3:] == [(2, 3), (1, 2)]
        assert reg.version_by_alias("m", "champion").version == 1
    else:
        assert _moves(reg, "m", "champion")[3:] == [(2, 3), (3, 2)]
        assert reg.version_by_alias("m", "champion").version == 3


def _replayed(history: list[RegistryEvent], alias: str, at: int) -> int | None:
    """The alias at ``at`` by replaying the whole history (how alias_at used to answer)."""
    current: int | None = None
    for e in history:
        if e.at > at:
            break
        if e.action == "alias_set" and e.detail.get("alias") == alias:
            current = e.version
        elif (e.action == "alias_deleted" and e.detail.get("alias") == alias) or (
            e.action == "version_deleted" and alias in list(e.detail.get("aliases") or [])  # type: ignore[call-overload]
        ):
            current = None
    return current


_NAMES = itertools.count()
ALIASES = ["a", "b", "it's", "ünï"]
STEPS = st.lists(
    st.tuples(
        st.sampled_from(["set", "set", "delete", "drop_version", "rollback", "tick"]),
        st.sampled_from(ALIASES),
        st.integers(1, 4),
    ),
    max_size=14,
)


@settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(steps=STEPS)
def test_alias_at_matches_the_replayed_history(
    services: tuple[RegistryService, str], steps: list[tuple[str, str, int]]
) -> None:
    reg, run_id = services
    model = f"m{next(_NAMES)}"
    _model(reg, run_id, model, versions=4)
    alive = {1, 2, 3, 4}
    for action, alias, version in steps:
        if action == "set" and version in alive:
            reg.set_alias(model, alias, version, USER)
        elif action == "delete" and alias in reg.get_model(model).aliases:
            reg.delete_alias(model, alias, USER)
        elif action == "drop_version" and version in alive:
            reg.delete_version(model, version, USER)
            alive.discard(version)
        elif action == "rollback":
            try:
                reg.rollback_alias(model, alias, USER)
            except InvalidState:
                pass
        elif action == "tick":
            reg.update_model(model, description=str(version), user=USER)
    history = reg.history(model)
    times = sorted({e.at for e in history} | {e.at - 1 for e in history} | {history[-1].at + 1})
    for alias in [*ALIASES, "never"]:
        for at in times:
            assert reg.alias_at(model, alias, at) == _replayed(history, alias, at), (alias, at)
