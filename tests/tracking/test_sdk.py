"""The SDK against a live server and against the embedded store."""

from __future__ import annotations

import math
import subprocess
import sys
import time
from pathlib import Path

import pytest

import modelyard as my
from modelyard.errors import InvalidState, ParamConflict
from modelyard.listener import free_port
from modelyard.server.app import ServerSettings
from modelyard.testing.server import live_server
from modelyard.tracking import journal


@pytest.fixture(params=["server", "embedded"])
def uri(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "server":
        return str(request.getfixturevalue("server_url"))
    return f"sqlite:///{tmp_path / 'embedded.db'}"


def test_run_context_logs_everything(uri: str, tmp_path: Path) -> None:
    my.set_tracking_uri(uri)
    artifact = tmp_path / "notes.txt"
    artifact.write_text("hi")
    with my.start_run("train", experiment="sdk", params={"lr": 0.01}) as run:
        for step in range(1000):
            run.log_metric("loss", 1.0 / (step + 1))
        run.log_metrics({"acc": 0.9, "weird": math.inf})
        run.set_tag("team", "core")
        run.log_artifact(artifact, "docs/notes.txt")
    stored = my.get_run(run.id)
    assert stored.status.value == "FINISHED"
    assert stored.params == {"lr": "0.01"}
    assert stored.metrics["loss"].count == 1000
    assert stored.metrics["loss"].step == 999
    assert stored.metrics["weird"].last == math.inf
    assert stored.tags["team"] == "core"
    assert "my.python" in stored.tags
    client = my.Client(uri)
    assert client.list_artifacts(run.id, "docs")[0]["path"] == "notes.txt"
    assert client.metric_history(run.id, "loss")["total"] == 1000
    # installed packages are captured in the background
    deadline = time.monotonic() + 20
    while not client.list_artifacts(run.id, "environment") and time.monotonic() < deadline:
        time.sleep(0.1)
    reqs = client.download_artifact(run.id, "environment/requirements.txt", tmp_path / "r.txt")
    assert any(line.startswith("numpy==") for line in reqs.read_text().splitlines())
    client.close()


def test_exception_marks_failed_and_nested_runs(uri: str) -> None:
    my.set_tracking_uri(uri)

    def train() -> None:
        with my.start_run("parent") as parent:
            with my.start_run("child", nested=True) as child:
                pass
            with pytest.raises(InvalidState, match="is still active"):
                my.start_run("not nested")
            ids.extend([parent.id, child.id])
            raise RuntimeError("boom")

    ids: list[str] = []
    with pytest.raises(RuntimeError, match="boom"):
        train()
    parent_id, child_id = ids
    assert my.get_run(parent_id).status.value == "FAILED"
    assert my.get_run(child_id).parent_id == parent_id
    assert my.get_run(child_id).status.value == "FINISHED"


def test_param_conflict_raises_at_call_and_resume_keeps_steps(uri: str) -> None:
    my.set_tracking_uri(uri)
    with my.start_run() as run:
        run.log_param("a", 1)
        run.log_param("a", 1)
        with pytest.raises(ParamConflict, match="it cannot change to '2'"):
            run.log_param("a", 2)
        run.log_metric("m", 1.0)
    with my.start_run(run_id=run.id) as again:
        again.log_metric("m", 2.0)
        with pytest.raises(ParamConflict, match="it cannot change to '3'"):
            again.log_param("a", 3)
    client = my.Client(uri)
    history = client.metric_history(run.id, "m")
    client.close()
    assert history["steps"] == [0, 1]


def test_offline_journal_then_sync_is_idempotent(tmp_path: Path, modelyard_home: Path) -> None:
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    my.set_tracking_uri(url)
    from modelyard.tracking import batcher

    saved = batcher.RETRY_DELAYS
    batcher.RETRY_DELAYS = ()  # type: ignore[assignment]
    try:
        with my.start_run("offline", experiment="sync", params={"p": "v"}) as run:
            for i in range(100):
                run.log_metric("m", float(i))
        my.flush()
    finally:
        batcher.RETRY_DELAYS = saved
    # the SDK's own thread may hold a journal file for a moment (a retry reading it): wait for
    # the condition, not for a time
    deadline = time.monotonic() + 30
    while not journal.entries(uri=url):
        assert time.monotonic() < deadline, "nothing was journaled"
        time.sleep(0.05)
    settings = ServerSettings(f"sqlite:///{tmp_path / 's.db'}", str(tmp_path / "a"))
    import uvicorn  # noqa: F401  (the live server needs it)

    with live_server(settings) as real_url:
        for entry in journal.entries(uri=url):
            # the journal was written for the dead port; send it to the live server
            entry.path.write_bytes(entry.path.read_bytes().replace(url.encode(), real_url.encode()))
        journaled = {e.path: e.path.read_bytes() for e in journal.entries(uri=real_url)}
        cmd = [sys.executable, "-m", "modelyard.cli", "sync", "--tracking-uri", real_url]
        out = subprocess.run(cmd, capture_output=True, text=True, timeout=60)
        assert out.returncode == 0, out.stderr
        assert journal.entries(uri=real_url) == []
        client = my.Client(real_url)
        stored = client.get_run(run.id)
        assert stored.params == {"p": "v"}
        assert stored.metrics["m"].count == 100
        assert stored.status.value == "FINISHED"
        # replaying every batch already sent, and one the server already has, adds no point:
        # only the batch ids keep the count (each replayed batch carries metric points)
        for path, data in journaled.items():
            path.write_bytes(data)
        extra = {"run_id": run.id, "batch_id": "x", "metrics": [{"key": "m", "values": [7.0]}]}
        assert client.ingest([extra]) == {"applied": 1, "duplicates": 0, "points": 1}
        journal.write(real_url, [extra])
        out = subprocess.run(cmd, capture_output=True, text=True, timeout=60)
        assert out.returncode == 0, out.stderr
        assert client.get_run(run.id).metrics["m"].count == 101
        client.close()


def test_end_returns_at_once_and_reads_see_own_writes(uri: str) -> None:
    my.set_tracking_uri(uri)
    runs = []
    for i in range(20):
        with my.start_run(f"r{i}", experiment="ryw", log_system_metrics=False) as run:
            run.log_params({"i": i})
            run.log_metric("m", float(i))
        runs.append(run.id)
    # a separate client, no explicit flush: it sees every run, ended, with its data
    client = my.Client(uri)
    stored = [client.get_run(r) for r in runs]
    client.close()
    assert [r.status.value for r in stored] == ["FINISHED"] * 20
    assert [r.params["i"] for r in stored] == [str(i) for i in range(20)]
    assert [r.metrics["m"].last for r in stored] == [float(i) for i in range(20)]


def test_end_does_not_wait_for_an_unreachable_server(modelyard_home: Path) -> None:
    uri = f"http://127.0.0.1:{free_port()}"
    my.set_tracking_uri(uri)
    run = my.start_run("offline", log_system_metrics=False, capture_code=False)
    run.log_metric("m", 1.0)
    start = time.monotonic()
    run.end()  # sending retries for seconds (0.2 + 1 + 3) in the background
    assert time.monotonic() - start < 1.0
    my.flush()
    assert journal.entries(uri=uri), "the ended run was not journaled"


def test_child_runs_live_in_their_parents_experiment(uri: str) -> None:
    my.set_tracking_uri(uri)
    with (
        my.start_run("parent", experiment="family", capture_code=False) as parent,
        my.start_run("child", nested=True, capture_code=False) as child,
    ):
        pass
    with my.Client(uri) as client:
        parent_run, child_run = client.get_run(parent.id), client.get_run(child.id)
    assert child_run.experiment_id == parent_run.experiment_id
    assert child_run.parent_id == parent.id
