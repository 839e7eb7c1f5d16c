"""A training process killed without warning: its crash journal, replay, heartbeat and sweep."""

from __future__ import annotations

import fcntl
import math
import os
import shutil
import signal
import subprocess
import sys
import textwrap
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import modelyard as my
from modelyard.errors import NotFound
from modelyard.server.app import ServerSettings
from modelyard.server.sweeper import Sweeper
from modelyard.store.stores import open_stores
from modelyard.testing.server import live_server
from modelyard.tracking import heartbeat, journal, wal
from modelyard.tracking.batches import parse_batches
from modelyard.tracking.service import TrackingService

PY = sys.executable
REPORT_EVERY = 2000  # the child reports its count this often (~ a few ms of logging)


@pytest.fixture
def stack(tmp_path: Path) -> Iterator[tuple[str, TrackingService]]:
    """A live server and a service on the same store (to sweep and read)."""
    store = f"sqlite:///{tmp_path / 'server.db'}"
    settings = ServerSettings(store, str(tmp_path / "artifacts"))
    with live_server(settings) as url:
        stores = open_stores(store, str(tmp_path / "artifacts"))
        service = TrackingService(stores.db, stores.artifacts)
        try:
            yield url, service
        finally:
            service.close()


def _kill_while_logging(home: Path, url: str, at_least: int) -> tuple[str, int]:
    """A child logs at full speed; SIGKILL it once it reported ``at_least`` points.

    Returns the run id and the count it reported last before the kill (every point up to it
    was logged before the kill, at most one report interval, a few ms, earlier).
    """
    script = textwrap.dedent(
        f"""
        import sys
        import modelyard as my
        my.set_tracking_uri({url!r})
        run = my.start_run("doomed", capture_code=False)
        print(run.id, flush=True)
        i = 0
        while True:
            run.log_metric("loss", 1.0 / (i + 1), step=i)
            i += 1
            if i % {REPORT_EVERY} == 0:
                print(i, flush=True)
        """
    )
    env = {
        **os.environ,
        "MODELYARD_HOME": str(home),
        "MODELYARD_SYSTEM_METRICS_INTERVAL": "0",
        "MODELYARD_FLUSH_INTERVAL": "0.05",  # part is delivered live, the rest is in the journal
    }
    with subprocess.Popen([PY, "-c", script], env=env, stdout=subprocess.PIPE, text=True) as proc:
        assert proc.stdout is not None
        run_id = proc.stdout.readline().strip()
        reported = 0
        while reported < at_least:
            line = proc.stdout.readline()
            assert line, "the child died on its own"
            reported = int(line)
        proc.send_signal(signal.SIGKILL)
        assert proc.wait(timeout=30) == -signal.SIGKILL
    return run_id, reported


def _sync(home: Path, url: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "MODELYARD_HOME": str(home), "COLUMNS": "200"}
    cmd = [PY, "-m", "modelyard.cli", "sync", "--tracking-uri", url]
    return subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=120)


def _steps(service: TrackingService, run_id: str) -> list[int]:
    """The steps stored so far (none when the kill came before the first delivery)."""
    try:
        series, _total = service.metric_history(run_id, "loss")
    except NotFound:
        return []
    steps: list[int] = series.steps.tolist()
    return steps


@pytest.mark.slow
def test_sigkill_loses_nothing_and_sync_replays_once(
    tmp_path: Path, stack: tuple[str, TrackingService]
) -> None:
    url, service = stack
    home = tmp_path / "home"
    run_id, reported = _kill_while_logging(home, url, at_least=200_000)
    delivered_live = len(_steps(service, run_id))
    [crashed] = list((home / "journal").glob("*.wal"))
    copy = tmp_path / "copy.wal"
    shutil.copy(crashed, copy)

    synced = _sync(home, url)
    assert synced.returncode == 0, synced.stdout + synced.stderr
    steps = _steps(service, run_id)
    assert len(steps) >= reported, f"lost {reported - len(steps)} point(s) logged before the kill"
    assert steps == list(range(len(steps))), "points missing or applied twice"
    assert len(steps) > delivered_live, "the journal held nothing the server lacked"
    assert not list((home / "journal").glob("*.wal")), "a delivered crash journal was kept"

    shutil.copy(copy, crashed)  # the same journal replayed: every batch id is known
    again = _sync(home, url)
    assert again.returncode == 0, again.stdout + again.stderr
    assert _steps(service, run_id) == steps

    run = service.get_run(run_id)
    assert run.status.value == "RUNNING"
    assert service.sweep_vanished_runs(timeout=600) == []  # its heartbeat is recent
    beat = int(run.tags[heartbeat.TAG])
    assert service.sweep_vanished_runs(timeout=600, now=time.time() + 601) == [run_id]
    run = service.get_run(run_id)
    assert run.status.value == "KILLED"
    assert run.end_time == beat  # ended at its last sign of life


@pytest.mark.slow
def test_the_next_sdk_start_sends_a_crashed_journal(
    tmp_path: Path, stack: tuple[str, TrackingService], modelyard_home: Path
) -> None:
    url, service = stack
    run_id, reported = _kill_while_logging(modelyard_home, url, at_least=50_000)
    [crashed] = list((modelyard_home / "journal").glob("*.wal"))
    my.set_tracking_uri(url)
    with my.start_run("next", capture_code=False):
        pass
    deadline = time.monotonic() + 30
    while crashed.exists():
        assert time.monotonic() < deadline, "the crash journal was not sent"
        time.sleep(0.05)  # polls the outcome; nothing is ordered by this pause
    my.flush()
    steps = _steps(service, run_id)
    assert len(steps) >= reported
    assert steps == list(range(len(steps)))


def test_only_runs_with_a_stale_heartbeat_are_killed(
    stack: tuple[str, TrackingService], modelyard_home: Path
) -> None:
    url, service = stack
    import mlflow

    mlflow_client = mlflow.MlflowClient(tracking_uri=url)
    foreign = mlflow_client.create_run("0").info.run_id  # no heartbeat: never swept
    my.set_tracking_uri(url)
    sdk = my.start_run("alive", capture_code=False)
    ended = my.start_run("ended", capture_code=False, nested=True)
    ended.end()
    my.flush()
    later = time.time() + 3600
    assert service.sweep_vanished_runs(timeout=60) == []
    assert service.sweep_vanished_runs(timeout=0, now=later) == []  # 0: the sweep is off
    assert service.sweep_vanished_runs(timeout=60, now=later) == [sdk.id]
    assert service.get_run(foreign).status.value == "RUNNING"
    assert service.get_run(ended.id).status.value == "FINISHED"
    assert service.get_run(sdk.id).status.value == "KILLED"
    with httpx.Client(base_url=url) as http:  # the API shows it too
        got = http.get(f"/api/v1/runs/{sdk.id}").json()
    assert got["status"] == "KILLED"


def test_a_beat_after_the_sweep_read_keeps_the_run(stack: tuple[str, TrackingService]) -> None:
    _url, service = stack
    old = int((time.time() - 3600) * 1000)
    rid = "a" * 32
    service.ingest(_beat_batch(rid, old, create=True), user="t")
    from modelyard.store.metadata import runs_repo

    with service.db.read() as conn:
        found = runs_repo.silent_since(conn, heartbeat.TAG, old + 1)
    assert found == [(rid, old)]
    service.ingest(_beat_batch(rid, old + 5000), user="t")  # it beats meanwhile
    assert service.db.write(lambda c: runs_repo.mark_killed(c, heartbeat.TAG, found)) == []
    assert service.get_run(rid).status.value == "RUNNING"


def _beat_batch(rid: str, beat: int, create: bool = False) -> list:  # type: ignore[type-arg]
    raw: dict[str, object] = {"run_id": rid, "tags": {heartbeat.TAG: str(beat)}}
    if create:
        raw["create"] = {"experiment_name": "beats"}
    return parse_batches({"batches": [raw]}, int(time.time() * 1000))


def test_the_server_sweeper_kills_silent_runs(
    stack: tuple[str, TrackingService], monkeypatch: pytest.MonkeyPatch
) -> None:
    _url, service = stack
    rid = "b" * 32
    service.ingest(_beat_batch(rid, int((time.time() - 60) * 1000), create=True), user="t")
    monkeypatch.setenv("MODELYARD_HEARTBEAT_TIMEOUT", "30")
    sweeper = Sweeper(service, interval=0.01).start()
    try:
        deadline = time.monotonic() + 10
        while service.get_run(rid).status.value != "KILLED":
            assert time.monotonic() < deadline, "the sweeper did not kill the silent run"
            time.sleep(0.01)  # polls the outcome
    finally:
        sweeper.stop()
    monkeypatch.setenv("MODELYARD_HEARTBEAT_TIMEOUT", "0")
    assert not Sweeper(service).start().enabled


def test_a_segment_reads_back_what_was_logged(tmp_path: Path) -> None:
    segment = wal.Segment(tmp_path, "http://x")
    segment.record(wal.CREATE, ["r1", {"experiment_name": "e"}])
    segment.record(wal.PARAMS, ["r1", {"p": "1"}])
    segment.point("r1", "m", 0, 0.5, 10)
    segment.point("r1", "m", 1, math.nan, 11)
    cut, until = segment.cut()
    segment.mark_done(until)
    segment.point("r1", "m", 2, math.inf, 12)
    segment.record(wal.UPDATE, ["r1", {"status": "FINISHED"}])
    segment.point("r1", "m", 3, 1.0, 13)
    # a record the kill cut short: its payload is there, its type byte never was
    segment._mm[segment.end + 1 : segment.end + 8] = b"\x1c\0\0\0\x07\0\0"
    assert wal.is_live(segment.path)
    assert not journal.entries(tmp_path, uri="http://x"), "a live journal was read"
    found = wal.read(segment.path)
    assert found is not None
    uri, [group] = found
    assert uri == "http://x"
    [batch] = group.batches
    assert batch["batch_id"] == wal.batch_id(segment.name, cut + 1, "r1")
    assert batch["update"] == {"status": "FINISHED"}
    [series] = batch["metrics"]
    assert series["steps"] == [2, 3]
    assert series["values"] == ["Infinity", 1.0]
    assert "create" not in batch  # delivered before the done offset


def _plain(batches: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Batches as JSON would carry them (arrays as lists, non-finite values as strings)."""
    return [orjson.loads(orjson.dumps(b, option=orjson.OPT_SERIALIZE_NUMPY)) for b in batches]


_values = st.lists(
    st.one_of(
        st.floats(allow_nan=False, allow_infinity=False), st.sampled_from(["NaN", "Infinity"])
    ),
    min_size=1,
    max_size=4,
)
_batches = st.lists(
    st.fixed_dictionaries(
        {
            "run_id": st.sampled_from(["a" * 32, "b" * 32]),
            "batch_id": st.text("0123456789abcdef", min_size=1, max_size=32),
            "params": st.dictionaries(st.text(min_size=1, max_size=3), st.text(max_size=3)),
            "metrics": st.dictionaries(st.text(min_size=1, max_size=3), _values, max_size=2),
        },
        optional={
            "create": st.just({"experiment_name": "e"}),
            "update": st.just({"status": "FINISHED"}),
        },
    ),
    min_size=1,
    max_size=6,
)


@settings(
    max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(raw=_batches)
def test_an_offline_journal_file_reads_back_every_batch_with_its_id(
    tmp_path: Path, raw: list[dict[str, Any]]
) -> None:
    batches = []
    for b in raw:
        batch = {k: v for k, v in b.items() if v or k == "metrics"}
        batch["metrics"] = [
            {"key": k, "steps": list(range(len(v))), "values": v, "timestamps": [7] * len(v)}
            for k, v in b["metrics"].items()
        ]
        if not batch["metrics"]:
            del batch["metrics"]
        batches.append(batch)
    folder = tmp_path / f"j{uuid.uuid4().hex}"
    path = journal.write("http://x", batches, folder)
    assert path.suffix == ".wal"
    assert [p.name for p in folder.iterdir()] == [path.name]  # no temporary file left
    read = journal.entries(folder, uri="http://x")
    assert _plain([b for e in read for b in e.batches]) == _plain(batches)
    assert sum(e.points for e in read) == journal.points(batches)


def test_an_offline_journal_file_sorts_before_the_rest_of_its_crash_journal(
    tmp_path: Path,
) -> None:
    """A take journaled while the process ran is sent before what it logged after."""
    segment = wal.Segment(tmp_path, "http://x")
    segment.record(wal.CREATE, ["r1", {"experiment_name": "e"}])
    segment.point("r1", "m", 0, 0.5, 10)
    cut, until = segment.cut()
    taken = wal.to_batches(segment.name, cut, {"r1": _pending(create=True, step=0)})
    journal.write("http://x", taken, tmp_path, after=f"{segment.name}-{cut:010d}")
    segment.mark_done(until)  # the take is in the offline journal
    segment.point("r1", "m", 1, 1.5, 11)
    os.close(os.open(tmp_path / "zzz.part", os.O_CREAT | os.O_WRONLY))  # half-written: not read
    alive = journal.entries(tmp_path, uri="http://x")
    assert [e.path.suffix for e in alive] == [".wal"]  # the live crash journal is not read yet
    fcntl.flock(segment._fd, fcntl.LOCK_UN)  # as the kernel does when the writer dies
    entries = journal.entries(tmp_path, uri="http://x")
    assert [e.batches[0]["metrics"][0]["steps"] for e in entries] == [[0], [1]]
    assert "create" in entries[0].batches[0]
    assert entries[0].batches[0]["batch_id"] == wal.batch_id(segment.name, cut, "r1")


def _pending(create: bool, step: int) -> wal.Pending:
    p = wal.Pending(create={"experiment_name": "e"} if create else None)
    p.point("m", step, 0.5, 10)
    return p


def test_a_batch_set_aside_twice_is_stored_once(tmp_path: Path) -> None:
    from modelyard.tracking.client import Refusal

    batch = {"run_id": "r" * 32, "batch_id": "b1", "params": {"p": "1"}}
    first = journal.set_aside("http://x", [batch], Refusal(400, "A", "first"), tmp_path)
    again = journal.set_aside("http://x", [batch], Refusal(409, "B", "again"), tmp_path)
    other = journal.set_aside("http://y", [batch], Refusal(400, "A", "first"), tmp_path)
    assert again == first != other
    [kept] = journal.entries(tmp_path, uri="http://x")
    assert kept.reason is not None
    assert (kept.reason.status, kept.reason.message) == (409, "again")
    no_id = {"run_id": "r" * 32, "params": {"p": "1"}}  # without ids nothing says they match
    journal.set_aside("http://x", [no_id], Refusal(400, "A", "x"), tmp_path)
    journal.set_aside("http://x", [no_id], Refusal(400, "A", "x"), tmp_path)
    assert len(journal.entries(tmp_path, uri="http://x")) == 3
