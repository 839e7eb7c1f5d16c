"""MODELYARD_SQLITE_SYNCHRONOUS reaches every SQLite connection (readers and the writer)."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import Connection

from modelyard.errors import InvalidInput
from modelyard.store.metadata.database import Database

LEVELS = {"normal": 1, "full": 2}


def _pragma(conn: Connection) -> int:
    value = conn.exec_driver_sql("PRAGMA synchronous").scalar()
    assert isinstance(value, int)
    return value


@pytest.mark.parametrize(("setting", "level"), [("", 1), ("normal", 1), ("FULL", 2)])
def test_the_setting_reaches_the_connections(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, setting: str, level: int
) -> None:
    monkeypatch.setenv("MODELYARD_SQLITE_SYNCHRONOUS", setting)
    db = Database(f"sqlite:///{tmp_path / 'm.db'}")
    try:
        with db.read() as conn:
            assert _pragma(conn) == level
        assert db.write(_pragma) == level
    finally:
        db.close()


def test_an_unknown_level_is_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MODELYARD_SQLITE_SYNCHRONOUS", "off")
    with pytest.raises(InvalidInput, match="must be normal or full, not 'off'"):
        Database(f"sqlite:///{tmp_path / 'm.db'}")
