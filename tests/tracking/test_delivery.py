"""What the SDK does when the server does not take a batch: journal, split, or set aside.

The server is the real modelyard app (uvicorn in a thread). A "gate" in front of it answers
like a store that is unavailable (or a proxy that is busy, or a login that expired) while it
is down, as a real overloaded deployment does.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from starlette.types import ASGIApp, Receive, Scope, Send
from typer.testing import CliRunner

import modelyard as my
from modelyard.cli.app import app as cli
from modelyard.listener import free_port
from modelyard.server.app import ServerSettings, create_app
from modelyard.testing.server import live_server
from modelyard.tracking import journal
from modelyard.tracking.batcher import halve

PY = sys.executable


@dataclass
class Gate:
    """ASGI middleware: while ``down``, every API request gets ``status`` (and Retry-After)."""

    app: ASGIApp
    down: bool = True
    status: int = 503
    body: bytes = orjson.dumps(
        {"error_code": "STORE_UNAVAILABLE", "message": "metadata store error: disk I/O error"}
    )
    retry_after: str | None = "1"
    seen: list[float] = field(default_factory=list)  # times of the requests it refused

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and self.down and scope["path"].startswith("/api/"):
            self.seen.append(time.monotonic())
            while (await receive()).get("more_body"):
                pass
            headers = [(b"content-type", b"application/json")]
            if self.retry_after is not None:
                headers.append((b"retry-after", self.retry_after.encode()))
            await send({"type": "http.response.start", "status": self.status, "headers": headers})
            await send({"type": "http.response.body", "body": self.body})
            return
        await self.app(scope, receive, send)


@pytest.fixture
def gate(tmp_path: Path) -> Iterator[tuple[Gate, str]]:
    """The real modelyard server behind a Gate (down at first), on 127.0.0.1."""
    import uvicorn

    settings = ServerSettings(f"sqlite:///{tmp_path / 'server.db'}", str(tmp_path / "artifacts"))
    guarded = Gate(create_app(settings))
    port = free_port()
    server = uvicorn.Server(
        uvicorn.Config(guarded, host="127.0.0.1", port=port, log_level="warning", lifespan="on")
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 15
    while not server.started:
        assert thread.is_alive(), "server did not start"
        assert time.monotonic() < deadline, "server did not start"
        time.sleep(0.01)
    try:
        yield guarded, f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=15)


def _train(home: Path, url: str, body: str, **env: str) -> subprocess.CompletedProcess[str]:
    """A training process logging to ``url``; returns when it has exited."""
    script = f"import modelyard as my\nmy.set_tracking_uri({url!r})\n" + textwrap.dedent(body)
    environ = {
        **os.environ,
        "MODELYARD_HOME": str(home),
        "MODELYARD_SYSTEM_METRICS_INTERVAL": "0",
        **env,
    }
    return subprocess.run(
        [PY, "-c", script], env=environ, capture_output=True, text=True, timeout=120
    )


def _sync(home: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "MODELYARD_HOME": str(home), "COLUMNS": "200"}
    cmd = [PY, "-m", "modelyard.cli", "sync", *args]
    return subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=120)


def _stored_points(url: str, run_id: str, key: str = "loss") -> int:
    with my.Client(url) as client:
        total: int = client.metric_history(run_id, key, max_points=10)["total"]
    return total


@pytest.mark.slow
def test_503_journals_everything_and_sync_delivers_it(
    gate: tuple[Gate, str], modelyard_home: Path
) -> None:
    guard, url = gate
    guard.retry_after = "30"  # the SDK journals at once and sends nothing for 30 s
    done = _train(
        modelyard_home,
        url,
        """
        run = my.start_run("outage", experiment="e", capture_code=False)
        for i in range(100_000):
            run.log_metric("loss", 1.0 / (i + 1))
        run.end()
        print(run.id)
        """,
    )
    assert done.returncode == 0, done.stderr
    run_id = done.stdout.strip()
    assert guard.seen, "the SDK never tried the server"
    # nothing was set aside: a 503 is not the batch's fault
    assert not journal.entries(journal.rejected_dir())
    pending = journal.entries(uri=url)
    assert sum(e.points for e in pending) == 100_000
    # one clear line says what was kept and how to send it
    report = [line for line in done.stderr.splitlines() if "could not be sent" in line]
    assert len(report) == 1, done.stderr
    assert "100000 metric point(s)" in report[0]
    assert "run `modelyard sync`" in report[0]
    assert "STORE_UNAVAILABLE" in report[0]

    failed = _sync(modelyard_home, "--tracking-uri", url)  # still down: kept, exit 1
    assert failed.returncode == 1
    assert "not sent" in failed.stderr
    assert sum(e.points for e in journal.entries(uri=url)) == 100_000

    guard.down = False
    synced = _sync(modelyard_home, "--tracking-uri", url)
    assert synced.returncode == 0, synced.stdout + synced.stderr
    assert "100000 metric points" in synced.stdout
    assert not journal.entries(uri=url)
    assert _stored_points(url, run_id) == 100_000
    with my.Client(url) as client:
        assert client.get_run(run_id).status.value == "FINISHED"
    again = _sync(modelyard_home, "--tracking-uri", url)
    assert again.returncode == 0
    assert _stored_points(url, run_id) == 100_000


def test_the_sdk_sends_its_journal_when_the_server_is_back(
    gate: tuple[Gate, str], modelyard_home: Path
) -> None:
    guard, url = gate
    my.set_tracking_uri(url)
    run = my.start_run("flaky", capture_code=False)
    start = time.monotonic()
    for i in range(20_000):
        run.log_metric("loss", float(i))
    run.end()
    assert time.monotonic() - start < 5.0, "logging waited for the failing server"
    my.flush()  # retries, then journals
    assert sum(e.points for e in journal.entries(uri=url)) == 20_000
    guard.down = False
    deadline = time.monotonic() + 30
    while journal.entries(uri=url):  # the background thread tries again after its pause
        assert time.monotonic() < deadline, "the journal was not sent"
        time.sleep(0.2)
    assert _stored_points(url, run.id) == 20_000
    assert not journal.entries(journal.rejected_dir())


def test_retry_after_is_respected_and_logging_never_waits(
    gate: tuple[Gate, str], modelyard_home: Path
) -> None:
    guard, url = gate
    guard.retry_after = "30"  # longer than any in-line retry: journal at once, then wait
    my.set_tracking_uri(url)
    run = my.start_run("busy", capture_code=False)
    for _round in range(3):
        for i in range(1000):
            run.log_metric("loss", float(i))
        started = time.monotonic()
        my.flush()
        assert time.monotonic() - started < 2.0
    assert len(guard.seen) == 1, "the SDK did not wait as the server asked"
    assert sum(e.points for e in journal.entries(uri=url)) == 3000


@pytest.mark.parametrize(
    ("status", "body"),
    [
        (401, b'{"error_code": "UNAUTHENTICATED", "message": "token expired"}'),
        (403, b'{"error_code": "PERMISSION_DENIED", "message": "no write access"}'),
        (429, b"<html>Too Many Requests</html>"),
        (500, b'{"error_code": "INTERNAL_ERROR", "message": "internal server error"}'),
        (502, b"<html>Bad Gateway</html>"),
        (503, b'{"error_code": "STORE_UNAVAILABLE", "message": "store down"}'),
        (507, b'{"error_code": "STORAGE_FULL", "message": "no space left on device"}'),
        (400, b"<html>400 Bad Request (from a proxy)</html>"),
    ],
)
def test_failures_that_may_pass_are_journaled_not_set_aside(
    gate: tuple[Gate, str], modelyard_home: Path, status: int, body: bytes
) -> None:
    guard, url = gate
    guard.status, guard.body, guard.retry_after = status, body, "30"
    my.set_tracking_uri(url)
    with my.start_run("r", capture_code=False) as run:
        for i in range(500):
            run.log_metric("loss", float(i))
    my.flush()
    assert sum(e.points for e in journal.entries(uri=url)) == 500
    assert not journal.entries(journal.rejected_dir())
    guard.down = False
    result = CliRunner().invoke(cli, ["sync", "--tracking-uri", url])
    assert result.exit_code == 0, result.output
    assert _stored_points(url, run.id) == 500


@pytest.mark.parametrize(
    ("status", "details", "refused"),
    [
        (400, {"message": "clashes with the message argument"}, True),
        (400, ["not", "an", "object"], True),
        (503, {"message": "clashes"}, False),
        (503, "text", False),
    ],
)
def test_an_odd_error_body_loses_nothing(
    gate: tuple[Gate, str],
    modelyard_home: Path,
    status: int,
    details: object,
    refused: bool,
) -> None:
    guard, url = gate
    guard.status, guard.retry_after = status, "30"
    guard.body = orjson.dumps(
        {"error_code": "INVALID_PARAMETER_VALUE", "message": "no", "details": details}
    )
    my.set_tracking_uri(url)
    with my.start_run("r", capture_code=False) as run:
        for i in range(100):
            run.log_metric("loss", float(i))
    my.flush()
    kept = journal.entries(journal.rejected_dir()) if refused else journal.entries(uri=url)
    assert sum(e.points for e in kept) == 100
    if refused:
        assert kept[0].reason is not None
        assert kept[0].reason.error_code == "INVALID_PARAMETER_VALUE"


@pytest.mark.slow
def test_a_refused_batch_is_set_aside_with_its_reason(
    tmp_path: Path, modelyard_home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MODELYARD_MAX_PARAM_BYTES", "1024")  # the server's limit, not the SDK's
    settings = ServerSettings(f"sqlite:///{tmp_path / 's.db'}", str(tmp_path / "a"))
    with live_server(settings) as url:
        done = _train(
            modelyard_home,
            url,
            """
            good = my.start_run("good", experiment="e", capture_code=False)
            for i in range(1000):
                good.log_metric("loss", float(i))
            good.end()
            bad = my.start_run("bad", experiment="e", capture_code=False)
            bad.log_param("notes", "x" * 5000)
            for i in range(1000):
                bad.log_metric("loss", float(i))
            bad.end()
            print(good.id, bad.id)
            """,
            MODELYARD_MAX_PARAM_BYTES="65536",
            MODELYARD_FLUSH_INTERVAL="600",  # both runs go in one request, sent at exit
        )
        assert done.returncode == 0, done.stderr
        good_id, bad_id = done.stdout.split()
        assert _stored_points(url, good_id) == 1000  # the good batch went through
        assert not journal.entries(uri=url)
        refused = journal.entries(journal.rejected_dir())
        assert len(refused) == 1
        assert refused[0].batches[0]["run_id"] == bad_id
        assert refused[0].points == 1000
        reason = refused[0].reason
        assert reason is not None
        assert (reason.status, reason.error_code) == (400, "INVALID_PARAMETER_VALUE")
        assert "limit is 1024" in reason.message
        assert "modelyard sync --rejected" in done.stderr
        assert "INVALID_PARAMETER_VALUE" in done.stderr

        plain = _sync(modelyard_home, "--tracking-uri", url)  # says they exist
        assert plain.returncode == 0
        assert "sync --rejected" in plain.stderr

        shown = _sync(modelyard_home, "--tracking-uri", url, "--rejected", "--dry-run")
        assert shown.returncode == 0, shown.stderr
        assert refused[0].path.name in shown.stdout
        assert "INVALID_PARAMETER_VALUE" in shown.stdout
        assert bad_id in shown.stdout
        assert journal.entries(journal.rejected_dir())  # a dry run sends nothing

        again = _sync(modelyard_home, "--tracking-uri", url, "--rejected")  # not fixed yet
        assert again.returncode == 1
        [kept] = journal.entries(journal.rejected_dir())
        assert kept.reason is not None
        assert kept.reason.status == 400
        assert kept.points == 1000

        monkeypatch.setenv("MODELYARD_MAX_PARAM_BYTES", "65536")  # the server is fixed
        resent = _sync(modelyard_home, "--tracking-uri", url, "--rejected")
        assert resent.returncode == 0, resent.stdout + resent.stderr
        assert not journal.entries(journal.rejected_dir())
        assert _stored_points(url, bad_id) == 1000
        with my.Client(url) as client:
            stored = client.get_run(bad_id)
        assert stored.params["notes"] == "x" * 5000
        assert stored.status.value == "FINISHED"


def test_a_request_too_large_is_split_until_it_fits(
    tmp_path: Path, modelyard_home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MODELYARD_FLUSH_INTERVAL", "600")
    monkeypatch.setenv("MODELYARD_MAX_PARAM_BYTES", str(1 << 20))
    settings = ServerSettings(
        f"sqlite:///{tmp_path / 's.db'}", str(tmp_path / "a"), max_body_bytes=256 << 10
    )
    with live_server(settings) as url:
        my.set_tracking_uri(url)
        with my.start_run("big", params={"huge": "y" * (300 << 10)}, capture_code=False) as run:
            for i in range(100_000):
                run.log_metric("loss", float(i))
        my.flush()
        assert _stored_points(url, run.id) == 100_000
        with my.Client(url) as client:
            stored = client.get_run(run.id)
        assert stored.status.value == "FINISHED"
        assert "huge" not in stored.params
        assert not journal.entries(uri=url)
        # the one item that can never fit is set aside with the reason
        [refused] = journal.entries(journal.rejected_dir())
        assert refused.batches[0]["params"] == {"huge": "y" * (300 << 10)}
        assert refused.reason is not None
        assert (refused.reason.status, refused.reason.error_code) == (413, "PAYLOAD_TOO_LARGE")


@settings(max_examples=40, deadline=None)
@given(
    st.booleans(),
    st.dictionaries(st.text(min_size=1, max_size=3), st.text(max_size=3), max_size=5),
    st.lists(st.integers(0, 12), max_size=3),
    st.booleans(),
)
def test_halving_keeps_every_item_once_and_in_order(
    create: bool, params: dict[str, str], sizes: list[int], update: bool
) -> None:
    batch: dict[str, Any] = {"run_id": "r" * 32, "batch_id": "b1"}
    if create:
        batch["create"] = {"experiment_name": "e"}
    if params:
        batch["params"] = params
    if sizes:
        batch["metrics"] = [
            {"key": f"k{i}", "steps": list(range(n)), "values": [float(x) for x in range(n)]}
            for i, n in enumerate(sizes)
        ]
    if update:
        batch["update"] = {"status": "FINISHED"}

    def leaves(b: dict[str, Any]) -> list[dict[str, Any]]:
        parts = halve(b)
        return [b] if parts is None else leaves(parts[0]) + leaves(parts[1])

    parts = leaves(batch)
    items = [
        int("create" in p) + len(p.get("params") or {}) + journal.points([p]) + int("update" in p)
        for p in parts
    ]
    assert sum(items) == int(create) + len(params) + sum(sizes) + int(update)
    if len(parts) > 1:
        assert all(n == 1 for n in items)  # halved down to one item each
        assert create == ("create" in parts[0])
        assert update == ("update" in parts[-1])
        assert len({p["batch_id"] for p in parts}) == len(parts)
    merged_params: dict[str, str] = {}
    merged: dict[str, list[int]] = {}
    for p in parts:
        merged_params.update(p.get("params") or {})
        for m in p.get("metrics") or []:
            merged.setdefault(m["key"], []).extend(m["steps"])
    assert merged_params == params
    assert {k: v for k, v in merged.items() if v} == {
        f"k{i}": list(range(n)) for i, n in enumerate(sizes) if n
    }


def test_an_outage_journals_in_the_one_format_and_sync_delivers_it(
    gate: tuple[Gate, str], modelyard_home: Path
) -> None:
    guard, url = gate
    guard.retry_after = "30"  # journal at once
    done = _train(
        modelyard_home,
        url,
        """
        first = my.start_run("r0", experiment="e", capture_code=False)
        runs = [first, my.start_run("r1", capture_code=False, nested=True)]
        for i in range(500):
            for run in runs:
                run.log_metric("loss", float(i), step=i)
            if i == 250:
                my.flush()  # two takes: two journal files
        for run in runs:
            run.end()
        print(*[run.id for run in runs])
        """,
    )
    assert done.returncode == 0, done.stderr
    run_ids = done.stdout.split()
    files = sorted(p.name for p in (modelyard_home / "journal").iterdir() if p.is_file())
    assert files, "nothing was journaled"
    assert all(name.endswith(".wal") for name in files), files  # one format, no .json
    pending = journal.entries(uri=url)
    assert sum(e.points for e in pending) == 1000
    ids = [b["batch_id"] for e in pending for b in e.batches]
    assert len(ids) == len(set(ids)) >= 4  # each take's batches keep their own ids

    guard.down = False
    result = CliRunner().invoke(cli, ["sync", "--tracking-uri", url])
    assert result.exit_code == 0, result.output
    assert "1000 metric points" in result.output
    assert not list((modelyard_home / "journal").glob("*.wal"))
    again = CliRunner().invoke(cli, ["sync", "--tracking-uri", url])
    assert again.exit_code == 0, again.output
    assert "nothing to sync" in again.output
    with my.Client(url) as client:
        for run_id in run_ids:
            assert client.metric_history(run_id, "loss")["steps"] == list(range(500))
            assert client.get_run(run_id).status.value == "FINISHED"


def test_an_old_json_journal_file_is_drained_once(tmp_path: Path, modelyard_home: Path) -> None:
    settings = ServerSettings(f"sqlite:///{tmp_path / 's.db'}", str(tmp_path / "a"))
    with live_server(settings) as url:
        rid = "c" * 32
        batch = {
            "run_id": rid,
            "batch_id": "old-1",
            "create": {"experiment_name": "upgraded"},
            "metrics": [{"key": "loss", "steps": [0, 1, 2], "values": [1.0, "NaN", 0.5]}],
            "update": {"status": "FINISHED"},
        }
        folder = modelyard_home / "journal"
        folder.mkdir(parents=True)
        old = folder / "00000001700000000000-0123abcd.json"  # as versions before .wal wrote
        old.write_bytes(orjson.dumps({"uri": url, "batches": [batch]}))
        [entry] = journal.entries(uri=url)
        assert entry.points == 3

        result = CliRunner().invoke(cli, ["sync", "--tracking-uri", url])
        assert result.exit_code == 0, result.output
        assert "3 metric points" in result.output
        assert not old.exists()
        again = CliRunner().invoke(cli, ["sync", "--tracking-uri", url])
        assert "nothing to sync" in again.output
        assert _stored_points(url, rid) == 3
        with my.Client(url) as client:
            assert client.get_run(rid).status.value == "FINISHED"


def test_a_refused_batch_in_an_entry_sent_twice_is_set_aside_once(
    tmp_path: Path, modelyard_home: Path
) -> None:
    settings = ServerSettings(f"sqlite:///{tmp_path / 's.db'}", str(tmp_path / "a"))
    with live_server(settings) as url:
        good = {
            "run_id": "d" * 32,
            "batch_id": "good-1",
            "create": {"experiment_name": "e"},
            "metrics": [{"key": "loss", "values": [1.0, 2.0]}],
        }
        orphan = {  # its run was never created: the server refuses it (404)
            "run_id": "e" * 32,
            "batch_id": "orphan-1",
            "metrics": [{"key": "loss", "values": [3.0]}],
        }
        path = journal.write(url, [good, orphan])
        copy = path.read_bytes()
        for _attempt in range(2):  # the second time as if the first send was cut short
            path.write_bytes(copy)
            result = CliRunner().invoke(cli, ["sync", "--tracking-uri", url])
            assert result.exit_code == 1, result.output
            assert "refused" in result.output
            assert not journal.entries(uri=url)
        [refused] = journal.entries(journal.rejected_dir())
        assert [b["batch_id"] for b in refused.batches] == ["orphan-1"]
        assert refused.reason is not None
        assert refused.reason.status == 404
        assert _stored_points(url, "d" * 32) == 2
