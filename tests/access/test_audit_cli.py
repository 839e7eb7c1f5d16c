"""`modelyard audit` against a live server (auth off, then on with a token) and an embedded
store: the latest records, filters, verify (exit 0, then 1 once a record is edited), export."""

from __future__ import annotations

import csv
import datetime as dt
import sqlite3
from collections.abc import Iterator
from pathlib import Path

import httpx
import orjson
import pytest
from typer.testing import CliRunner

from modelyard.access.entities import Scope
from modelyard.access.service import AccessService
from modelyard.cli.app import app
from modelyard.cli.audit import parse_time
from modelyard.cli.common import console
from modelyard.server.app import ServerSettings, create_app
from modelyard.server.background import serve_app, serve_in_background


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Path]]:
    """A server with auth off and three writes in its log; the URL and the store's file (the
    test that edits a record runs last)."""
    folder = tmp_path_factory.mktemp("audit-cli")
    store = folder / "server.db"
    settings = ServerSettings(f"sqlite:///{store}", str(folder / "artifacts"))
    with serve_in_background(settings) as url, httpx.Client(base_url=url) as http:
        run = http.post("/api/v1/runs", json={"experiment_name": "cli"}).json()
        assert http.post(f"/api/v1/runs/{run['id']}/log", json={"params": {"a": "1"}}).is_success
        assert http.delete(f"/api/v1/runs/{run['id']}").is_success
        yield url, store


def cli(*args: str, code: int = 0, env: dict[str, str] | None = None) -> str:
    width = console._width  # the console is made at import, perhaps before COLUMNS was set
    console.width = 200
    try:
        result = CliRunner().invoke(app, list(args), env={"COLUMNS": "200", **(env or {})})
    finally:
        console._width = width
    assert result.exit_code == code, (args, result.output, result.exception)
    return result.output


def test_latest_records_filters_and_json(live: tuple[str, Path], modelyard_home: Path) -> None:
    url, _ = live
    shown = cli("audit", "-u", url)
    assert "POST /api/v1/runs" in shown
    assert "DELETE /api/v1/runs/{run_id}" in shown
    assert "anonymous" in shown
    records = orjson.loads(cli("audit", "--json", "-u", url))
    assert [r["action"] for r in records] == [
        "POST /api/v1/runs",
        "POST /api/v1/runs/{run_id}/log",
        "DELETE /api/v1/runs/{run_id}",
    ]
    latest = orjson.loads(cli("audit", "--json", "-n", "2", "-u", url))
    assert [r["seq"] for r in latest] == [2, 3]  # the latest two, oldest of them first
    rid = records[1]["object_id"]
    on_run = orjson.loads(cli("audit", "--json", "--object", f"run:{rid}", "-u", url))
    assert [r["seq"] for r in on_run] == [2, 3]
    deletes = orjson.loads(cli("audit", "--json", "--action", "DELETE", "-u", url))
    assert [r["seq"] for r in deletes] == [3]
    assert orjson.loads(cli("audit", "--json", "--actor", "nobody", "-u", url)) == []
    assert orjson.loads(cli("audit", "--json", "--since", "1h", "-u", url)) == records
    assert orjson.loads(cli("audit", "--json", "--until", "2000-01-01", "-u", url)) == []
    refused = cli("audit", "--since", "yesterday-ish", "-u", url, code=1)
    assert "is not a time" in refused


def test_export_jsonl_and_csv_to_files(
    live: tuple[str, Path], tmp_path: Path, modelyard_home: Path
) -> None:
    url, store = live
    out = tmp_path / "audit.jsonl"
    assert "wrote" in cli("audit", "export", "-o", str(out), "-u", url)
    docs = [orjson.loads(line) for line in out.read_bytes().splitlines()]
    assert [d["seq"] for d in docs] == [1, 2, 3]
    table = tmp_path / "audit.csv"
    cli("audit", "export", "-f", "csv", "-o", str(table), "--action", "/log", "-u", url)
    rows = list(csv.DictReader(table.read_text().splitlines()))
    assert [r["action"] for r in rows] == ["POST /api/v1/runs/{run_id}/log"]
    local = orjson.loads(cli("audit", "--json", "-u", f"sqlite:///{store}"))
    assert local == docs  # the embedded store answers as the server does
    to_stdout = cli("audit", "export", "-u", f"sqlite:///{store}")
    assert [orjson.loads(line) for line in to_stdout.splitlines()] == docs
    cli("audit", "export", "-f", "xml", "-u", url, code=2)


def test_a_server_with_auth_needs_an_admin_token(tmp_path: Path, modelyard_home: Path) -> None:
    settings = ServerSettings(
        f"sqlite:///{tmp_path / 's.db'}",
        str(tmp_path / "a"),
        auth=True,
        admin_password="pw-12345678",
    )
    application = create_app(settings)
    with serve_app(application) as url:
        access: AccessService = application.state.services["access"]
        admin = access.authenticate_password("admin", "pw-12345678")
        _t, secret = access.create_token("cli", scope=Scope.ADMIN, by=admin)
        _t, reader = access.create_token("read", scope=Scope.READ, by=admin)
        assert "UNAUTHENTICATED" in cli("audit", "verify", "-u", url, code=1)
        assert "PERMISSION_DENIED" in cli(
            "audit", "verify", "-u", url, code=1, env={"MODELYARD_TOKEN": reader}
        )
        assert cli("audit", "verify", "-u", url, env={"MODELYARD_TOKEN": secret}).startswith("ok:")


def test_times_parse_as_dates_or_ago() -> None:
    now = dt.datetime(2026, 3, 1, 12, 0, tzinfo=dt.UTC)
    assert parse_time("2h", now) == int(now.timestamp() * 1000) - 7_200_000
    assert parse_time("1.5d", now) == int(now.timestamp() * 1000) - 129_600_000
    assert parse_time("2026-03-01T10:00+00:00") == int(
        dt.datetime(2026, 3, 1, 10, tzinfo=dt.UTC).timestamp() * 1000
    )
    assert parse_time("1700000000000") == 1_700_000_000_000
    assert parse_time(None) is None


def test_verify_exits_1_once_a_record_is_edited(
    live: tuple[str, Path], modelyard_home: Path
) -> None:
    url, store = live
    assert cli("audit", "verify", "-u", url).startswith("ok: 3 records, head 3 ")
    assert cli("audit", "verify", "-u", f"sqlite:///{store}").startswith("ok: 3 records")
    with sqlite3.connect(store) as conn:
        conn.execute("UPDATE audit_records SET actor = 'someone-else' WHERE seq = 2")
    broken = cli("audit", "verify", "-u", url, code=1)
    assert "the audit chain is broken" in broken
    assert "edited" in broken
    assert "record 2 does not match its hash" in broken
    assert "edited" in cli("audit", "verify", "-u", f"sqlite:///{store}", code=1)
