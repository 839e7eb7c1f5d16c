"""Ctrl-C in a training process: the run ends KILLED and every logged point is delivered."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import modelyard as my


def test_sigint_ends_the_run_killed_and_delivers_every_point(tmp_path: Path) -> None:
    store = f"sqlite:///{tmp_path / 'train.db'}"
    script = textwrap.dedent(
        f"""
        import signal
        import modelyard as my
        my.set_tracking_uri({store!r})
        with my.start_run("interrupted", log_system_metrics=False, capture_code=False) as run:
            for i in range(20000):
                run.log_metric("loss", 1.0 / (i + 1), step=i)
            print(run.id, flush=True)
            signal.pause()  # until the test's SIGINT (KeyboardInterrupt here)
        """
    )
    env = {**os.environ, "MODELYARD_HOME": str(tmp_path), "MODELYARD_FLUSH_INTERVAL": "600"}
    with subprocess.Popen(
        [sys.executable, "-c", script],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    ) as proc:
        assert proc.stdout is not None
        run_id = proc.stdout.readline().strip()
        proc.send_signal(signal.SIGINT)
        code = proc.wait(timeout=60)
        assert proc.stderr is not None
        err = proc.stderr.read()
        assert code != 0, err
        assert err.rstrip().endswith("KeyboardInterrupt"), err  # it stopped where it waited
    client = my.Client(store)
    try:
        run = client.get_run(run_id)
        history = client.metric_history(run_id, "loss")
    finally:
        client.close()
    assert run.status.value == "KILLED"
    assert run.metrics["loss"].count == 20000
    assert history["total"] == 20000
