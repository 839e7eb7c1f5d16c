"""Rollouts under load: `modelyard server` supervises a deployment while 16 clients send it requests.

A blue-green switch to v2, then a canary back to v1 (50%, then 100%), each during its own wrk run
against the deployment's serving process: what failed, how long each switch took, what the
clients got per second meanwhile.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import serving_servers as servers
from serving_load import Load, run_wrk, start_wrk, write_lua
from serving_procs import free_port, get_ok, spawn, stop, wait_until

NAME = servers.MODEL_NAME
POLL_S = 0.025  # how often a switch is polled (the deployment and the process's /ready)
LEAD_S = 1.0  # load before a promote, and after its end, inside the same wrk run
CAP_S = 600  # wrk's duration: each run is interrupted once its rollout is over
STEPS = [50, 100]
ROLLOUT = {"strategy": "canary", "steps": STEPS, "interval_s": 3, "min_requests": 50}
# (the deployment, the process's traffic) -> whether a point of the rollout is reached
Mark = Callable[[dict[str, Any], list[dict[str, Any]]], bool]
UNSET = ("MODELYARD_TRACKING_URI", "MODELYARD_STORE_URI", "MODELYARD_ARTIFACTS_URI")


def weight(served: list[dict[str, Any]], version: int) -> float:
    """The share a traffic list gives ``version``."""
    return sum(float(t["weight"]) for t in served if int(t["version"]) == version)


@dataclass
class Outcome:
    """Seconds from the promote to each mark reached; why the rollout ended short, if it did."""

    marks: dict[str, float]
    ended: str | None = None


class Plant:
    """The running `modelyard server` and its deployment's serving process."""

    def __init__(self, url: str) -> None:
        self.http = httpx.Client(base_url=url, timeout=30)
        self.instance = ""

    def status(self) -> dict[str, Any]:
        got = self.http.get(f"/api/v1/deployments/{NAME}")
        got.raise_for_status()
        body: dict[str, Any] = got.json()
        return body

    def served(self) -> list[dict[str, Any]]:
        """The traffic the serving process routes by (its /ready)."""
        got: list[dict[str, Any]] = httpx.get(self.instance + "/ready", timeout=5).json()["traffic"]
        return got

    def post(self, path: str, body: dict[str, Any]) -> None:
        got = self.http.post(path, json=body)
        if got.status_code not in (200, 201):
            raise RuntimeError(f"POST {path}: {got.status_code} {got.text}")

    def find_instance(self) -> bool:
        """Whether a live instance of the deployment answers /ready with 200 (then remembered)."""
        for instance in self.status()["instances"]:
            if not instance["stale"] and get_ok(instance["url"] + "/ready")():
                self.instance = instance["url"]
                return True
        return False

    def wait(self, version: int, marks: dict[str, Mark], timeout: float = 180) -> Outcome:
        """Seconds until each mark first holds (polled on the deployment and on /ready), or
        until the rollout ends without ``version`` (a gate rolled it back)."""
        begin, found = time.perf_counter(), dict[str, float]()
        while len(found) < len(marks):
            if time.perf_counter() - begin > timeout:
                raise RuntimeError(f"rollout not done in {timeout:.0f} s: {self.status()}")
            status, served = self.status(), self.served()
            for mark, holds in marks.items():
                if mark not in found and holds(status, served):
                    found[mark] = time.perf_counter() - begin
            if status.get("candidate") is None and status["stable"] != version:
                last = self.http.get(f"/api/v1/deployments/{NAME}/history").json()[-1]
                return Outcome(found, f"{last['actor']} {last['action']}: {last['reason']}")
            time.sleep(POLL_S)
        return Outcome(found)

    def close(self) -> None:
        self.http.close()


def _switched(version: int) -> Mark:
    """The deployment's stable is ``version`` and the process routes all traffic to it."""
    return lambda status, served: status["stable"] == version and weight(served, version) == 100


def _register(url: str, model: Any) -> None:
    """The benchmark's model as v1 and a refit with another C as v2."""
    from sklearn.base import clone

    from modelyard.registry.client import ModelRegistry

    frame, y, _ = servers.training_data()
    other = clone(model).set_params(C=0.01).fit(frame, y)
    with ModelRegistry(url) as registry:
        for version, fitted in enumerate((model, other), start=1):
            got = registry.log(fitted, NAME, input_example=frame[:5])
            if int(got["version"]) != version:
                raise RuntimeError(f"registered as v{got['version']}, not v{version}")


def _during(
    plant: Plant, script: Path, promote: dict[str, Any], marks: dict[str, Mark]
) -> tuple[Load, Outcome]:
    """wrk on the serving process from LEAD_S before the promote until LEAD_S after its end."""
    run = start_wrk(plant.instance + "/invocations", script, 2, 16, CAP_S)
    try:
        time.sleep(LEAD_S)
        plant.post(f"/api/v1/deployments/{NAME}/promote", promote)
        outcome = plant.wait(int(promote["version"]), marks)
        time.sleep(LEAD_S)
    finally:
        load = run.finish(interrupt=True)
    return load, outcome


def _phase(name: str, load: Load, outcome: Outcome) -> dict[str, Any]:
    """The phase's figures; a rollout that ended short says why (and has no time for the rest)."""
    got: dict[str, Any] = {
        f"rollout_{name}_errors": load.errors,
        f"rollout_{name}_rate": load.rate,
        f"rollout_{name}_p99_ms": load.p99_ms,
        f"rollout_{name}_seconds": load.seconds,
        **{f"rollout_{name}_{mark}_s": s for mark, s in outcome.marks.items()},
    }
    if outcome.ended:
        got[f"rollout_{name}_ended"] = outcome.ended
    times = ", ".join(f"{mark} {s:.2f} s" for mark, s in outcome.marks.items())
    print(f"  {name}: {times or 'no mark reached'}, {load.errors} failed", flush=True)
    if outcome.ended:
        print(f"  {name} ended short: {outcome.ended}", flush=True)
    return got


def measure_rollouts(model: Any, one_row: bytes, args: Any) -> dict[str, Any]:
    """Start a supervising `modelyard server`, deploy v1, then switch to v2 and back under load."""
    folder = Path(args.scratch) / "rollouts"
    folder.mkdir()
    body = folder / "one.json"
    body.write_bytes(one_row)
    script = write_lua(body)
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    cmd = [sys.executable, "-m", "modelyard.cli", "server", "--port", str(port)]
    env = {"MODELYARD_HOME": str(folder / "home"), "MODELYARD_SYSTEM_METRICS_INTERVAL": "0"}
    out: dict[str, Any] = {"rollout_cmd": " ".join(cmd)}
    log_path = folder / "server.log"
    with log_path.open("wb") as log:
        proc = spawn(cmd, env, log, unset=UNSET)
        plant = Plant(url)
        try:
            wait_until(get_ok(url + "/health"), proc, "the server's /health")
            _register(url, model)
            begin = time.perf_counter()
            rollout: dict[str, Any] = dict(ROLLOUT)
            if args.canary_max_latency_ratio is not None:  # else the deployment's default gate
                rollout["max_latency_ratio"] = args.canary_max_latency_ratio
            out["rollout_policy"] = rollout
            deployment = {"name": NAME, "model": f"models:/{NAME}/1", "rollout": rollout}
            plant.post("/api/v1/deployments", deployment)
            wait_until(plant.find_instance, proc, "a ready serving process")
            out["rollout_deploy_s"] = time.perf_counter() - begin
            wait_until(lambda: weight(plant.served(), 1) == 100, proc, "v1 at 100%")
            run_wrk(plant.instance + "/invocations", script, 2, 16, args.warmup)  # not counted
            steady = run_wrk(plant.instance + "/invocations", script, 2, 16, args.seconds)
            out["rollout_steady_rate"] = steady.rate
            out["rollout_steady_errors"] = steady.errors
            print(f"  deployed: {steady.rate:,.0f} req/s", flush=True)
            blue_green = {"version": 2, "strategy": "blue-green"}
            load, outcome = _during(plant, script, blue_green, {"switch": _switched(2)})
            out.update(_phase("bluegreen", load, outcome))

            def first_step(status: dict[str, Any], served: list[dict[str, Any]]) -> bool:
                return weight(served, 1) >= STEPS[0]

            if not outcome.ended:  # v1 back by a canary, from v2 as the stable
                canary = {"version": 1, "strategy": "canary"}
                marks = {
                    "step": first_step,
                    "full": lambda _, served: weight(served, 1) == 100,  # the last step
                    "finish": _switched(1),
                }
                load, outcome = _during(plant, script, canary, marks)
                out.update(_phase("canary", load, outcome))
            out["rollout_events"] = [
                f"{e['actor']} {e['action']}: {e.get('reason') or ''}".strip()
                for e in plant.http.get(f"/api/v1/deployments/{NAME}/history").json()
            ]
        except Exception:
            log.flush()
            print(log_path.read_text(errors="replace")[-3000:])
            raise
        finally:
            plant.close()
            stop(proc)
    return out
