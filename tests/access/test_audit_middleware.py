"""The audit middleware with auth off (the caller is anonymous), when the log cannot record a
write (the client gets a 503, never the success), and two replicas on one PostgreSQL
extending one chain under concurrent writes."""

from __future__ import annotations

import sqlite3
import threading
import uuid
from pathlib import Path

import httpx
import pytest

from modelyard.server.app import ServerSettings
from modelyard.server.background import serve_in_background
from modelyard.testing.postgres import create_database


def test_a_write_the_log_cannot_record_is_answered_503(tmp_path: Path) -> None:
    store = tmp_path / "server.db"
    settings = ServerSettings(f"sqlite:///{store}", str(tmp_path / "artifacts"))
    with serve_in_background(settings) as url, httpx.Client(base_url=url, timeout=30) as http:
        assert http.post("/api/v1/experiments", json={"name": "before"}).status_code == 201
        with sqlite3.connect(store) as conn:
            conn.execute(
                "CREATE TRIGGER audit_full BEFORE INSERT ON audit_records "
                "BEGIN SELECT RAISE(ABORT, 'the audit disk is full'); END"
            )
        failed = http.post("/api/v1/experiments", json={"name": "unrecorded"})
        assert failed.status_code == 503
        assert failed.json()["error_code"] == "STORE_UNAVAILABLE"
        assert failed.json()["message"].startswith(
            "the change was made but the audit log could not record it"
        )
        assert "unrecorded" in http.get("/api/v1/experiments").text  # made, as the answer said
        with sqlite3.connect(store) as conn:
            conn.execute("DROP TRIGGER audit_full")
        assert http.post("/api/v1/experiments", json={"name": "after"}).status_code == 201
        verified = http.get("/api/v1/audit/verify").json()
        assert verified["ok"], verified
        records = http.get("/api/v1/audit").json()["records"]
    assert [(r["actor"], r["actor_kind"], r["status"]) for r in records] == [
        ("anonymous", "anonymous", 201),
        ("anonymous", "anonymous", 201),
    ]


def test_concurrent_writes_to_one_server_are_each_recorded_once(tmp_path: Path) -> None:
    """Appends of concurrent requests share transactions; each still gets its own record."""
    settings = ServerSettings(f"sqlite:///{tmp_path / 's.db'}", str(tmp_path / "artifacts"))
    with serve_in_background(settings) as url:
        with httpx.Client(base_url=url) as http:
            rid = http.post("/api/v1/runs", json={"experiment_name": "busy"}).json()["id"]
        statuses: list[int] = []

        def write(k: int) -> None:
            with httpx.Client(base_url=url, timeout=60) as http:
                for i in range(20):
                    body = {"metrics": [{"key": f"m{k}", "values": [float(i)], "steps": [i]}]}
                    statuses.append(http.post(f"/api/v1/runs/{rid}/log", json=body).status_code)

        threads = [threading.Thread(target=write, args=(k,)) for k in range(8)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        with httpx.Client(base_url=url) as http:
            verified = http.get("/api/v1/audit/verify").json()
            records = http.get("/api/v1/audit", params={"limit": 1000}).json()["records"]
    assert statuses == [200] * 160
    assert verified["ok"], verified["problems"]
    assert [r["seq"] for r in records] == list(range(1, 162))
    assert [r["action"] for r in records[1:]] == ["POST /api/v1/runs/{run_id}/log"] * 160


@pytest.mark.postgres
def test_two_replicas_on_one_postgresql_extend_one_chain(
    postgres_admin_url: str, tmp_path: Path
) -> None:
    store = create_database(postgres_admin_url, f"t_{uuid.uuid4().hex[:12]}")
    settings = ServerSettings(store_uri=store, artifacts_uri=str(tmp_path / "artifacts"))
    with serve_in_background(settings) as one, serve_in_background(settings) as two:
        with httpx.Client(base_url=one) as http:
            rid = http.post("/api/v1/runs", json={"experiment_name": "replicas"}).json()["id"]
        failures: list[str] = []

        def write(k: int) -> None:
            with httpx.Client(base_url=(one, two)[k % 2], timeout=60) as http:
                for i in range(15):
                    body = {"params": {f"p{k}_{i}": str(i)}}
                    answer = http.post(f"/api/v1/runs/{rid}/log", json=body)
                    if answer.status_code != 200:
                        failures.append(answer.text)

        threads = [threading.Thread(target=write, args=(k,)) for k in range(6)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert failures == []
        with httpx.Client(base_url=two) as http:
            verified = http.get("/api/v1/audit/verify").json()
            records = http.get("/api/v1/audit", params={"limit": 1000}).json()["records"]
    assert verified["ok"], verified["problems"]
    assert verified["records"] == verified["head_seq"] == 91
    assert [r["seq"] for r in records] == list(range(1, 92))
    assert sum(r["object_id"] == rid for r in records) == 90
