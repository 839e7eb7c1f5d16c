"""Deployments for real: `modelyard server` starts the serving processes, traffic flows while
policies change, gates roll a bad canary back, a killed process comes back."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pytest
from typer.testing import CliRunner

from modelyard.cli.app import app
from modelyard.listener import free_port
from modelyard.registry.client import ModelRegistry
from modelyard.serving import predlog

from .conftest import ROOT
from .toymodels import Broken, Flaky

pytestmark = pytest.mark.slow
EXAMPLE = np.zeros((2, 3))


@dataclass
class Plant:
    url: str
    home: Path
    http: httpx.Client

    def status(self, name: str) -> dict[str, Any]:
        got = self.http.get(f"/api/v1/deployments/{name}")
        assert got.status_code == 200, got.text
        body: dict[str, Any] = got.json()
        return body

    def history(self, name: str) -> list[dict[str, Any]]:
        got: list[dict[str, Any]] = self.http.get(f"/api/v1/deployments/{name}/history").json()
        return got

    def post(self, path: str, body: dict[str, Any]) -> dict[str, Any]:
        got = self.http.post(path, json=body)
        assert got.status_code in (200, 201), got.text
        out: dict[str, Any] = got.json()
        return out

    def settled(self, name: str, url: str, timeout: float = 30) -> None:
        """Wait until the serving process at ``url`` routes by the deployment's policy (it
        learns a change at its next heartbeat, within half a second)."""

        def same() -> bool:
            served = httpx.get(url + "/ready", timeout=5).json()["traffic"]
            return bool(served == self.status(name)["traffic"])

        wait_for(same, timeout, f"{url} to route by the policy of {name}")

    def endpoint(self, name: str, timeout: float = 60) -> str:
        """The URL of the deployment's live, ready serving process."""
        url = ""

        def ready() -> bool:
            nonlocal url
            live = [i for i in self.status(name)["instances"] if not i["stale"]]
            for instance in live:
                try:
                    if httpx.get(instance["url"] + "/ready", timeout=2).status_code == 200:
                        url = instance["url"]
                        return True
                except httpx.HTTPError:
                    pass
            return False

        wait_for(ready, timeout, f"deployment {name} ready")
        return url


def wait_for(
    check: Callable[[], bool], timeout: float, what: str, show: Callable[[], str] = str
) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}: {show()}")
        time.sleep(0.1)


@pytest.fixture(scope="module")
def plant(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Plant]:
    """`modelyard server` (supervising) with flaky v1..v3 (trusted), v4 untrusted, broken v5."""
    home = tmp_path_factory.mktemp("plant")
    port = free_port()
    env = {
        **os.environ,
        "MODELYARD_HOME": str(home),
        "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]),
    }
    env.pop("MODELYARD_TRACKING_URI", None)
    log = (home / "server.log").open("wb")
    server = subprocess.Popen(
        [sys.executable, "-m", "modelyard.cli", "server", "--port", str(port)],
        stdout=log, stderr=subprocess.STDOUT, env=env,
    )  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    try:
        wait_for(lambda: _up(url), 60, "the server")
        with ModelRegistry(url) as registry:
            for offset in (0.0, 1.0, 2.0):
                v = registry.log(Flaky(offset), "flaky", input_example=EXAMPLE)["version"]
                registry.trust("flaky", int(v), "test model")
            registry.log(Flaky(9.0), "flaky", input_example=EXAMPLE)  # v4: nobody trusts it
            registry.log(Broken(), "flaky", input_example=EXAMPLE)  # v5: loads, then fails
            registry.trust("flaky", 5, "test model")
            registry.set_alias("flaky", "champion", 1)
        with httpx.Client(base_url=url, timeout=30) as http:
            yield Plant(url, home, http)
    finally:
        server.send_signal(signal.SIGTERM)
        try:
            server.wait(timeout=30)
        except subprocess.TimeoutExpired:
            server.kill()
        log.close()


def _up(url: str) -> bool:
    try:
        return httpx.get(url + "/health", timeout=2).status_code == 200
    except httpx.HTTPError:
        return False


@dataclass
class Load:
    """Requests in a loop on a few threads; every answer kept (status, version, prediction)."""

    url: str
    threads: int = 4
    answers: list[tuple[int, str, Any]] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)
    _stop: threading.Event = field(default_factory=threading.Event)

    def __enter__(self) -> Load:
        self._workers = [threading.Thread(target=self._run, args=(i,)) for i in range(self.threads)]
        for worker in self._workers:
            worker.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        for worker in self._workers:
            worker.join()

    def _run(self, i: int) -> None:
        with httpx.Client(base_url=self.url, timeout=30) as http:
            n = 0
            while not self._stop.is_set():
                n = n % 500 + 1  # never 666 or 777 (Flaky's poison and slow rows)
                try:
                    got = http.post("/predict", json={"inputs": [[i, n, 1]]})
                except httpx.HTTPError as exc:
                    self.failures.append(repr(exc))
                    continue
                body = got.json()
                value = body["predictions"][0] - (i + n + 1) if got.status_code == 200 else None
                self.answers.append(
                    (got.status_code, got.headers.get("x-model-version", ""), value)
                )

    def since(self, start: int) -> list[tuple[int, str, Any]]:
        return self.answers[start:]


def test_blue_green_then_canary_under_load_lose_nothing(plant: Plant) -> None:
    plant.post(
        "/api/v1/deployments",
        {"name": "flaky", "model": "models:/flaky@champion",
         "rollout": {"strategy": "canary", "steps": [25, 100], "interval_s": 1.5, "min_requests": 10}},
    )  # fmt: skip
    url = plant.endpoint("flaky")
    with Load(url) as load:
        wait_for(lambda: len(load.answers) > 50, 30, "traffic")
        plant.post("/api/v1/deployments/flaky/promote", {"version": 2, "strategy": "blue-green"})
        wait_for(lambda: plant.status("flaky")["stable"] == 2, 60, "the blue-green switch")
        mark = len(load.answers)
        wait_for(lambda: len(load.answers) > mark + 50, 30, "traffic after the switch")
        plant.post("/api/v1/deployments/flaky/promote", {"version": 3, "reason": "better"})
        wait_for(
            lambda: plant.status("flaky")["stable"] == 3,
            90,
            "the canary to finish",
            lambda: f"{plant.status('flaky')}\n{plant.history('flaky')}",
        )
        last = len(load.answers)
        wait_for(lambda: len(load.answers) > last + 50, 30, "traffic after the canary")
    assert not load.failures
    assert {status for status, _, _ in load.answers} == {200}
    assert {version for status, version, _ in load.since(last)} == {"3"}
    assert all(value == 2.0 for _, version, value in load.since(last))  # v3's offset
    # every answer came from the version it names (v1: +0, v2: +1, v3: +2)
    assert all(value == float(int(version) - 1) for _, version, value in load.answers)
    actions = [(e["actor"], e["action"]) for e in plant.history("flaky")]
    assert ("controller", "switch") in actions
    assert [a for a in actions if a[1] == "step"]


def test_a_bad_canary_is_rolled_back_by_its_gate(plant: Plant) -> None:
    url = plant.endpoint("flaky")
    stable = plant.status("flaky")["stable"]
    with Load(url):
        plant.post("/api/v1/deployments/flaky/promote", {"version": 5, "reason": "regression"})
        wait_for(
            lambda: any(e["action"] == "rollback" for e in plant.history("flaky")),
            90,
            "the gate's rollback",
        )
    rollback = next(e for e in reversed(plant.history("flaky")) if e["action"] == "rollback")
    assert rollback["actor"] == "gate"
    assert "error rate" in rollback["reason"]
    status = plant.status("flaky")
    assert status["stable"] == stable
    assert status["traffic"] == [{"version": stable, "weight": 100.0}]


def test_a_version_that_fails_to_load_never_gets_traffic(plant: Plant) -> None:
    url = plant.endpoint("flaky")
    plant.settled("flaky", url)
    with Load(url) as load:
        plant.post("/api/v1/deployments/flaky/promote", {"version": 4})
        wait_for(
            lambda: any(e["action"] == "load-failed" for e in plant.history("flaky")),
            60,
            "the load failure",
        )
    event = next(e for e in plant.history("flaky") if e["action"] == "load-failed")
    assert "NOT_TRUSTED" in event["reason"]
    assert "4" not in {version for _, version, _ in load.answers}
    assert {status for status, _, _ in load.answers} == {200}


def test_sticky_ab_and_shadow(plant: Plant) -> None:
    plant.post(
        "/api/v1/deployments/flaky/traffic",
        {"traffic": [{"version": 1, "weight": 30}, {"version": 2, "weight": 70}],
         "sticky_header": "X-User-Id", "shadow": [3]},
    )  # fmt: skip
    url = plant.endpoint("flaky")
    wait_for(lambda: _versions(url) == {"1", "2"}, 60, "both versions to answer")
    seen: dict[str, set[str]] = {}
    with httpx.Client(base_url=url) as http:
        for round_ in range(3):
            for user in range(300):
                got = http.post(
                    "/predict",
                    json={"inputs": [[user, round_, 0]]},
                    headers={"X-User-Id": f"u{user}"},
                )
                assert got.status_code == 200
                version = got.headers["x-model-version"]
                assert got.json()["predictions"] == [user + round_ + int(version) - 1.0]
                seen.setdefault(f"u{user}", set()).add(version)
        ids = {
            http.post("/predict", json={"inputs": [[1, 1, 1]]}).headers["x-request-id"]
            for _ in range(5)
        }
    assert all(len(versions) == 1 for versions in seen.values())  # each user stays put
    share = Counter(next(iter(v)) for v in seen.values())
    assert 0.2 < share["1"] / 300 < 0.4  # 30 % within tolerance
    time.sleep(2.5)  # the log flushes every second
    table = predlog.read(plant.home / "predictions", "flaky").to_pylist()
    shadows = [r for r in table if r["role"] == "shadow" and r["request_id"] in ids]
    assert {r["model_version"] for r in shadows} == {3}
    assert len(shadows) == len(ids)


def _versions(url: str) -> set[str]:
    with httpx.Client(base_url=url) as http:
        return {
            http.post(
                "/predict", json={"inputs": [[1, 1, 1]]}, headers={"X-User-Id": f"u{u}"}
            ).headers.get("x-model-version", "")
            for u in range(40)
        }


def test_moving_the_alias_rolls_out_by_the_deployments_policy(plant: Plant) -> None:
    url = plant.endpoint("flaky")
    with Load(url) as load:
        with ModelRegistry(plant.url) as registry:
            registry.set_alias("flaky", "champion", 3, reason="retrained")
        wait_for(
            lambda: plant.status("flaky")["stable"] == 3,
            90,
            "the alias's version to roll out",
            lambda: str(plant.history("flaky")[-3:]),
        )
    assert {status for status, _, _ in load.answers} == {200}
    followed = [e for e in plant.history("flaky") if e["actor"] == "alias"]
    assert followed
    assert "champion" in followed[-1]["reason"]
    assert any(e["action"] == "step" for e in plant.history("flaky")[-4:])  # by its canary


def test_a_killed_serving_process_is_restarted(plant: Plant) -> None:
    url = plant.endpoint("flaky")
    first = next(
        i for i in plant.status("flaky")["instances"] if i["url"] == url and not i["stale"]
    )
    pid = int(first["instance"].rsplit(":", 1)[1])
    os.kill(pid, signal.SIGKILL)

    def back() -> bool:
        return any(
            not i["stale"] and i["instance"] != first["instance"]
            for i in plant.status("flaky")["instances"]
        )

    wait_for(back, 60, "a new serving process")
    again = plant.endpoint("flaky")
    assert httpx.post(again + "/predict", json={"inputs": [[1, 2, 3]]}).status_code == 200


def test_its_logs_are_served_and_shown(plant: Plant) -> None:
    lines = plant.http.get("/api/v1/deployments/flaky/logs", params={"lines": 50}).json()["lines"]
    assert any("serving deployment flaky" in line for line in lines)
    assert "restarting" in "\n".join(lines)  # the supervisor noted the killed process
    assert plant.http.get("/api/v1/deployments/nope/logs").status_code == 404
    assert plant.http.get("/api/v1/deployments/flaky/logs?lines=-1").status_code in (400, 422)
    result = CliRunner().invoke(app, ["deploy", "logs", "flaky", "-n", "5", "-u", plant.url])
    assert result.exit_code == 0, result.output
    assert result.output.strip().splitlines() == lines[-5:]


def test_deleting_a_deployment_stops_its_process(plant: Plant) -> None:
    url = plant.endpoint("flaky")
    got = plant.http.request("DELETE", "/api/v1/deployments/flaky", json={"reason": "done"})
    assert got.status_code == 200, got.text

    def gone() -> bool:
        try:
            httpx.get(url + "/health", timeout=1)
        except httpx.HTTPError:
            return True
        return False

    wait_for(gone, 30, "the process to stop")
    log = (plant.home / "deployments" / "flaky.log").read_text()
    assert "serving deployment flaky" in log
