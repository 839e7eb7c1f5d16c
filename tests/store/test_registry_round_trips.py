"""How many statements the hot registry calls send (each one is a round trip on PostgreSQL)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, event

from modelyard.errors import NotFound
from modelyard.registry.service import RegistryService
from modelyard.store.stores import open_stores
from modelyard.tracking.entities import RunCreate
from modelyard.tracking.service import TrackingService

USER = "tester"


@pytest.fixture
def reg(store_uri: str, tmp_path: Path) -> Iterator[RegistryService]:
    stores = open_stores(store_uri, str(tmp_path / "art"))
    tracking = TrackingService(stores.db, stores.artifacts)
    run = tracking.create_run(RunCreate(experiment_name="e"), user=USER)
    service = RegistryService(stores.db, stores.artifacts)
    service.create_model("m", user=USER)
    for _ in range(2):
        service.create_version("m", f"runs:/{run.id}/model", run_id=run.id, user=USER)
    yield service
    tracking.close()


@contextmanager
def counted() -> Iterator[list[str]]:
    """The SQL statements (not transaction control) any engine sends meanwhile."""
    sent: list[str] = []

    def note(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        if statement.split(None, 1)[0].upper() in {"SELECT", "INSERT", "UPDATE", "DELETE"}:
            sent.append(statement)

    event.listen(Engine, "before_cursor_execute", note)
    try:
        yield sent
    finally:
        event.remove(Engine, "before_cursor_execute", note)


def test_moving_an_alias_is_four_statements(reg: RegistryService) -> None:
    reg.set_alias("m", "champion", 1, USER)
    with counted() as sent:
        reg.set_alias("m", "champion", 2, USER)
    assert len(sent) == 4, sent
    assert reg.version_by_alias("m", "champion").version == 2
    assert reg.history("m")[-1].detail == {"alias": "champion", "previous": 1, "reason": ""}


def test_reading_a_version_by_alias_is_two_statements(reg: RegistryService) -> None:
    reg.set_alias("m", "champion", 2, USER)
    reg.set_alias("m", "shadow", 2, USER)
    with counted() as sent:
        found = reg.version_by_alias("m", "champion")
    assert len(sent) == 2, sent
    assert (found.version, found.aliases, found.trusted) == (2, ["champion", "shadow"], False)
    assert reg.version_by_alias("m", "latest").version == 2


def test_misses_still_name_what_is_missing(reg: RegistryService) -> None:
    with pytest.raises(NotFound, match="version 9 of model 'm' does not exist"):
        reg.set_alias("m", "champion", 9, USER)
    with pytest.raises(NotFound, match="registered model 'nope' does not exist"):
        reg.set_alias("nope", "champion", 1, USER)
    with pytest.raises(NotFound, match="model 'm' has no alias 'gone'"):
        reg.version_by_alias("m", "gone")
    with pytest.raises(NotFound, match="registered model 'nope' does not exist"):
        reg.version_by_alias("nope", "latest")
