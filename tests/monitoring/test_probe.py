"""The availability probe: per-minute counts on SQLite and PostgreSQL, and a real serving
process probed while it runs and after it is killed."""

from __future__ import annotations

import time
from dataclasses import dataclass
from functools import partial
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sqlalchemy import Connection

from modelyard.monitoring.probe import Prober, availability, probe_series, probing, targets
from modelyard.registry.client import ModelRegistry
from modelyard.serving.deployments import DeploymentService
from modelyard.store.metadata import probes_repo
from modelyard.store.metadata.database import Database
from tests.serving.conftest import serving

T0 = 1_700_000_040_000  # a minute's start
MIN = 60_000


def _record(conn: Connection, *, at: int, ok: int, total: int) -> None:
    probes_repo.record(conn, "d", at, ok, total, 5.0 * ok)


def test_minutes_add_up_and_windows_sum_them(store_uri: str) -> None:
    db = Database(store_uri)
    try:
        for at, ok, total in [
            (T0, 1, 1), (T0 + 10_000, 0, 1), (T0 + 59_999, 2, 2),  # one minute, added up
            (T0 + MIN, 1, 1), (T0 + 5 * MIN, 0, 3),
        ]:  # fmt: skip
            db.write(partial(_record, at=at, ok=ok, total=total))
        db.write(lambda c: probes_repo.record(c, "other", T0, 0, 9, 0.0))
        with db.read() as conn:
            assert probes_repo.uptime(conn, "d", T0, T0 + 6 * MIN) == (4, 8)
            assert probes_repo.uptime(conn, "d", T0 + MIN, T0 + 2 * MIN) == (1, 1)
            assert probes_repo.uptime(conn, "d", T0 + 6 * MIN, T0 + 9 * MIN) == (0, 0)
            assert probes_repo.latency(conn, "d", T0, T0 + MIN) == 5.0
        assert availability(db, "d", T0, T0 + 6 * MIN) == (4, 8)
        start = T0 - T0 % 300_000
        assert probe_series(db, "d", 60, T0, T0 + 6 * MIN) == [
            (T0, 3, 4), (T0 + MIN, 1, 1), (T0 + 5 * MIN, 0, 3),
        ]  # fmt: skip
        five = probe_series(db, "d", 300, T0, T0 + 6 * MIN)
        assert sum(t for _, _, t in five) == 8
        assert all(s % 300_000 == 0 for s, _, _ in five)
        assert five[0][0] == start
        assert db.write(lambda c: probes_repo.forget(c, T0 + MIN)) == 2  # "d" and "other"
        assert availability(db, "d", T0, T0 + 6 * MIN) == (1, 4)
    finally:
        db.close()


@dataclass
class Settings:
    probe_interval: float


@pytest.mark.slow
def test_uptime_drops_while_the_serving_process_is_killed(tmp_path: Path) -> None:
    from sklearn.linear_model import LogisticRegression

    uri = f"sqlite:///{tmp_path / 'store.db'}"
    rng = np.random.default_rng(0)
    frame = pd.DataFrame(rng.normal(size=(50, 3)), columns=["a", "b", "c"])
    with ModelRegistry(uri) as registry:
        registry.log(LogisticRegression().fit(frame, frame["a"] > 0), "m", input_example=frame[:2])
    db = Database(uri)
    svc = DeploymentService(db)
    svc.create("api", "models:/m/1", user="t")
    svc.create("empty", "models:/m/1", user="t")  # no process ever reports: always down
    svc.create("far", "models:/m/1", user="t", engine="external")
    prober = Prober(db, interval_s=3600)
    try:
        with serving(["models:/m/1"], tmp_path, env={"MODELYARD_TRACKING_URI": uri}) as served:
            svc.heartbeat("api", "host:1", served.url, {}, token=svc.serving_secret("api"))
            # an external one registered long ago (stale) is still probed at its address
            _far, token = svc.serving_token("far", user="t")
            DeploymentService(db, clock=lambda: int(time.time() * 1000) - 30_000).heartbeat(
                "far", "by-hand", served.url, {}, token=token
            )
            since = int(time.time() * 1000)
            for _ in range(6):
                assert prober.round() == {"api": (1, 1), "empty": (0, 1), "far": (1, 1)}
            served.process.kill()
            served.process.wait()
            for _ in range(6):  # still live by its last heartbeat, but nothing answers
                assert prober.round() == {"api": (0, 1), "empty": (0, 1), "far": (0, 1)}
        until = int(time.time() * 1000) + 1
        assert availability(db, "api", since, until) == (6, 12)
        assert availability(db, "empty", since, until) == (0, 12)
        series = probe_series(db, "api", 3600, since, until)
        assert sum(ok for _, ok, _ in series) == 6
        assert sum(t for _, _, t in series) == 12
        with db.read() as conn:
            mean = probes_repo.latency(conn, "api", since, until)
        assert mean is not None
        assert 0 < mean < 2000
        _, instances = svc.status("api")
        assert targets(svc.get("api"), instances, int(time.time() * 1000) + 20_000) == []

        # the probe's own thread, entered as the server does
        before = availability(db, "empty", since, until + 60_000)[1]
        with probing(db, Settings(probe_interval=0.05)):
            deadline = time.monotonic() + 20
            while availability(db, "empty", since, until + 60_000)[1] < before + 3:
                assert time.monotonic() < deadline, "the prober made no rounds"
                time.sleep(0.05)
    finally:
        prober.stop()
        db.close()
