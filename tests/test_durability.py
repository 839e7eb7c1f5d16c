"""Crashes: SIGKILL the server mid-stream, SIGTERM a training process."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import httpx
import pytest

from modelyard.listener import free_port
from modelyard.tracking.batches import new_run_id

pytestmark = pytest.mark.slow


def start_server(home: Path, port: int) -> subprocess.Popen[bytes]:
    env = {**os.environ, "MODELYARD_HOME": str(home)}
    proc = subprocess.Popen(
        [sys.executable, "-m", "modelyard.cli", "server", "--port", str(port)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/ready", timeout=1).status_code == 200:
                return proc
        except httpx.TransportError:
            time.sleep(0.05)
    proc.kill()
    raise RuntimeError("server did not start")


def test_sigkill_keeps_every_acknowledged_batch_whole(tmp_path: Path) -> None:
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    server = start_server(tmp_path, port)
    rid = new_run_id()
    acked: list[int] = []
    per_batch = 500
    with httpx.Client(base_url=url, timeout=5) as http:
        http.post("/api/v1/runs", json={"run_id": rid, "experiment_name": "crash"})
        killed_at = 40
        for i in range(1000):
            if i == killed_at:
                server.send_signal(signal.SIGKILL)
            steps = list(range(i * per_batch, (i + 1) * per_batch))
            body = {
                "batches": [
                    {
                        "run_id": rid,
                        "batch_id": f"b{i}",
                        "metrics": [{"key": "m", "steps": steps, "values": [float(i)] * per_batch}],
                    }
                ]
            }
            try:
                r = http.post("/api/v1/ingest", json=body)
            except httpx.TransportError:
                break
            assert r.status_code == 200
            acked.append(i)
    server.wait(timeout=10)
    assert len(acked) >= killed_at
    server = start_server(tmp_path, port)
    try:
        with httpx.Client(base_url=url, timeout=10) as http:
            hist = http.get(f"/api/v1/runs/{rid}/metrics/history", params={"key": "m"}).json()
    finally:
        server.terminate()
        server.wait(timeout=10)
    by_batch: dict[int, int] = {}
    for step in hist["steps"]:
        by_batch[step // per_batch] = by_batch.get(step // per_batch, 0) + 1
    assert all(by_batch.get(i) == per_batch for i in acked), "an acknowledged batch was lost"
    assert all(n == per_batch for n in by_batch.values()), "a batch was half-written"


def test_sigterm_flushes_the_training_process(tmp_path: Path) -> None:
    store = f"sqlite:///{tmp_path / 'train.db'}"
    script = textwrap.dedent(
        f"""
        import signal
        import modelyard as my
        my.set_tracking_uri({store!r})
        run = my.start_run("sigterm", log_system_metrics=False)
        for i in range(20000):
            run.log_metric("loss", 1.0 / (i + 1))
        print(run.id, flush=True)
        signal.pause()  # until the test's SIGTERM
        """
    )
    env = {**os.environ, "MODELYARD_HOME": str(tmp_path), "MODELYARD_FLUSH_INTERVAL": "600"}
    with subprocess.Popen(
        [sys.executable, "-c", script], env=env, stdout=subprocess.PIPE, text=True
    ) as proc:
        assert proc.stdout is not None
        run_id = proc.stdout.readline().strip()
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=60) == -signal.SIGTERM
    import modelyard as my

    client = my.Client(store)
    try:
        run = client.get_run(run_id)
    finally:
        client.close()
    assert run.metrics["loss"].count == 20000
    assert run.status.value == "KILLED"


def test_exit_journals_what_a_hung_server_did_not_take(tmp_path: Path) -> None:
    """A server that accepts connections but never answers must not hold the exit hostage."""
    import socket

    from modelyard.tracking import journal

    with socket.socket() as hung:
        hung.bind(("127.0.0.1", 0))
        hung.listen(16)
        url = f"http://127.0.0.1:{hung.getsockname()[1]}"
        script = textwrap.dedent(
            f"""
            import modelyard as my
            my.set_tracking_uri({url!r})
            run = my.start_run("hung", log_system_metrics=False, capture_code=False)
            for i in range(1000):
                run.log_metric("loss", float(i))
            """
        )
        env = {
            **os.environ,
            "MODELYARD_HOME": str(tmp_path),
            "MODELYARD_EXIT_FLUSH_TIMEOUT": "2",
            "MODELYARD_HTTP_TIMEOUT": "60",
        }
        start = time.monotonic()
        out = subprocess.run(
            [sys.executable, "-c", script], env=env, capture_output=True, text=True, timeout=60
        )
        elapsed = time.monotonic() - start
    assert out.returncode == 0, out.stderr
    assert elapsed < 20, f"exit took {elapsed:.1f} s"
    entries = journal.entries(tmp_path / "journal", uri=url)
    points = [len(m["steps"]) for e in entries for b in e.batches for m in b.get("metrics", [])]
    assert sum(points) == 1000
    # left in the crash journal itself: one .wal file, nothing written in another format
    assert [p.suffix for p in (tmp_path / "journal").iterdir() if p.is_file()] == [".wal"]
    # one line tells the user what was kept and how to send it
    [line] = [x for x in out.stderr.splitlines() if "could not be sent" in x]
    assert "1000 metric point(s)" in line
    assert "run `modelyard sync`" in line
