"""Deployments on Ray Serve for real: a local Ray started here, `modelyard server` running an
engine "ray" deployment of two replicas behind Serve's HTTP proxy, a blue-green switch under
load, and the delete."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from collections.abc import Iterator
from typing import Any

import httpx
import orjson
import pytest

from modelyard.listener import free_port
from modelyard.serving.ray_engine import Mounted
from modelyard.serving.state import ServingState
from tests import aio

from .conftest import ROOT
from .test_rollouts_live import Load, Plant, wait_for
from .test_rollouts_live import plant as plant  # the server with the flaky models

NAME = "flaky"
pytestmark = pytest.mark.filterwarnings(  # Ray's own modules, as they import
    r"ignore::pydantic.warnings.PydanticDeprecatedSince20:ray\..*",
)


@pytest.fixture(scope="module")
def ray_address() -> Iterator[str]:
    """A local Ray (2 CPUs, no dashboard) with Serve's proxy on a free port; shut down after."""
    pytest.importorskip("ray")
    import ray
    from ray import serve

    with pytest.MonkeyPatch.context() as env:
        # Ray's workers inherit this process's environment: they import the test models
        env.setenv("PYTHONPATH", os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]))
        ray.init(
            num_cpus=2,
            include_dashboard=False,
            object_store_memory=100 << 20,
            log_to_driver=False,
        )
        address = ray.get_runtime_context().gcs_address
        try:
            serve.start(http_options={"host": "127.0.0.1", "port": free_port()})
            env.setenv("MODELYARD_RAY_ADDRESS", address)  # read by the server `plant` starts
            yield address
        finally:
            serve.shutdown()  # type: ignore[no-untyped-call]
            ray.shutdown()


@pytest.fixture(scope="module")
def on_ray(ray_address: str, plant: Plant) -> Plant:
    """`plant` (started after Ray, so its supervisor connects to it)."""
    return plant


@pytest.mark.slow
def test_a_ray_deployment_answers_through_the_proxy_from_two_replicas(on_ray: Plant) -> None:
    command = [
        sys.executable, "-m", "modelyard.cli", "deploy", "create", NAME,
        "--model", "models:/flaky@champion", "--engine", "ray", "--replicas", "2",
        "--tracking-uri", on_ray.url,
    ]  # fmt: skip
    created = subprocess.run(command, capture_output=True, text=True, timeout=60)
    assert created.returncode == 0, created.stderr
    assert on_ray.status(NAME)["engine"] == "ray"
    url = on_ray.endpoint(NAME, timeout=90)
    assert url.endswith(f"/{NAME}")
    with httpx.Client(base_url=url) as http:
        got = http.post("/predict", json={"inputs": [[1, 2, 3], [4, 5, 6]]})
        assert got.status_code == 200, got.text
        assert got.json() == {"predictions": [6.0, 15.0]}
        assert got.headers["x-model-version"] == "1"
        assert len(got.headers.get_list("x-request-id")) == 1, got.headers
        mine = http.post("/predict", json={"inputs": [[1, 1, 1]]}, headers={"X-Request-Id": "r-1"})
        assert mine.headers.get_list("x-request-id") == ["r-1"]
        mlflow = http.post("/invocations", json={"dataframe_split": {"data": [[1, 1, 1]]}})
        assert mlflow.json() == {"predictions": [3.0]}
        bad = http.post("/predict", json={"inputs": [[1, 2]]})
        assert bad.status_code == 400
        assert bad.json()["error_code"] == "INVALID_PARAMETER_VALUE"
        assert http.get("/nothing").status_code == 404

    def two_live() -> bool:
        live = [i for i in on_ray.status(NAME)["instances"] if not i["stale"]]
        return len(live) == 2

    wait_for(two_live, 90, "two Ray replicas reporting", lambda: str(on_ray.status(NAME)))
    instances = [i for i in on_ray.status(NAME)["instances"] if not i["stale"]]
    assert {i["url"] for i in instances} == {url}  # both behind the proxy's /flaky
    assert len({i["instance"] for i in instances}) == 2  # one Ray worker process each


@pytest.mark.slow
def test_blue_green_on_ray_under_load_loses_nothing(on_ray: Plant) -> None:
    url = on_ray.endpoint(NAME)
    with Load(url) as load:
        wait_for(lambda: len(load.answers) > 50, 30, "traffic")
        on_ray.post(f"/api/v1/deployments/{NAME}/promote", {"version": 2, "reason": "on Ray"})
        wait_for(lambda: on_ray.status(NAME)["stable"] == 2, 60, "the blue-green switch")
        # each replica switches at its next heartbeat; 40 answers in a row from v2: both have
        wait_for(lambda: {v for _, v, _ in load.answers[-40:]} == {"2"}, 30, "v2 answering")
        mark = len(load.answers)
        wait_for(lambda: len(load.answers) > mark + 50, 30, "traffic after the switch")
    assert not load.failures
    assert {status for status, _, _ in load.answers} == {200}
    assert {version for _, version, _ in load.since(mark)} == {"2"}
    # every answer came from the version it names (v1: +0, v2: +1)
    assert all(value == float(int(version) - 1) for _, version, value in load.answers)
    assert ("controller", "switch") in [(e["actor"], e["action"]) for e in on_ray.history(NAME)]
    reports = [i for i in on_ray.status(NAME)["instances"] if not i["stale"]]
    assert len(reports) == 2
    for instance in reports:  # the gates saw every replica; each served part of the load
        assert instance["versions"]["2"]["requests"] > 0, instance


@pytest.mark.slow
def test_deleting_a_ray_deployment_deletes_its_application(on_ray: Plant) -> None:
    from ray import serve

    url = on_ray.endpoint(NAME)
    got = on_ray.http.request("DELETE", f"/api/v1/deployments/{NAME}", json={"reason": "done"})
    assert got.status_code == 200, got.text
    wait_for(lambda: NAME not in serve.status().applications, 60, "the application to go")
    assert httpx.post(url + "/predict", json={"inputs": [[1, 2, 3]]}).status_code == 404


def test_the_supervisor_leaves_ray_alone() -> None:
    code = (
        "import sys, modelyard.serving.supervisor, modelyard.serving.ray_engine; "
        "print('ray' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_the_replica_app_answers_below_the_route_prefix() -> None:
    async def call(
        method: str, path: str, root: str, headers: list[tuple[bytes, bytes]] | None = None
    ) -> tuple[int, Any, dict[bytes, bytes]]:
        sent: list[dict[str, Any]] = []

        async def receive() -> dict[str, Any]:
            return {"type": "http.request", "body": b""}

        async def send(message: Any) -> None:
            sent.append(dict(message))

        scope = {
            "type": "http",
            "method": method,
            "path": path,
            "root_path": root,
            "headers": headers or [],
        }
        await Mounted(ServingState(NAME))(scope, receive, send)
        return sent[0]["status"], orjson.loads(sent[1]["body"]), dict(sent[0]["headers"])

    status, body, _ = aio.run(call("GET", f"/{NAME}/health", f"/{NAME}"))
    assert (status, body) == (200, {"status": "ok"})
    status, body, _ = aio.run(call("GET", "/health", ""))
    assert (status, body) == (200, {"status": "ok"})
    status, body, _ = aio.run(call("GET", f"/{NAME}/ready", f"/{NAME}"))
    assert (status, body["ready"]) == (503, False)
    # Serve's proxy adds the request's id to the answer: the app's copy is not sent twice
    status, body, headers = aio.run(call("POST", f"/{NAME}/predict", f"/{NAME}"))
    assert (status, body["error_code"]) == (503, "NOT_READY")
    assert b"x-request-id" in headers
    ided = [(b"x-request-id", b"r-1")]
    status, body, headers = aio.run(call("POST", f"/{NAME}/predict", f"/{NAME}", ided))
    assert status == 503
    assert b"x-request-id" not in headers


def test_a_replica_starts_once_its_versions_settle() -> None:
    """Serve routes to a replica once its startup completes: not while a version loads."""
    state = ServingState(NAME)
    state.set_loading(1)

    async def startup() -> list[str]:
        sent: list[str] = []
        messages = iter([{"type": "lifespan.startup"}])

        async def receive() -> dict[str, Any]:
            try:
                return next(messages)
            except StopIteration:
                await asyncio.sleep(3600)  # the shutdown never comes in this test
                raise

        async def send(message: Any) -> None:
            sent.append(message["type"])

        app = Mounted(state, ready_timeout_s=30)
        task = asyncio.ensure_future(app({"type": "lifespan"}, receive, send))
        await asyncio.sleep(0.5)
        assert sent == []
        state.failed(1, "NOT_TRUSTED: nobody vouched for it")  # nothing will load: serve 503s
        await asyncio.wait_for(_until(lambda: bool(sent)), 5)
        task.cancel()
        return sent

    assert aio.run(startup()) == ["lifespan.startup.complete"]


async def _until(check: Any) -> None:
    while not check():
        await asyncio.sleep(0.01)
