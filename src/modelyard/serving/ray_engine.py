"""Deployments on Ray Serve (engine "ray"): one Serve application per deployment.

Each Ray replica is a serving process of the deployment like `modelyard serve --deployment`:
it builds a ``ServingState`` (``process.build_state``), runs a ``DeploymentAgent`` that
heartbeats to the main server as one instance and follows its policy (blue-green, canary, A/B
and shadow work unchanged; the controller's gates see every replica), and answers HTTP with
``InferenceApp`` through Serve's ASGI ingress. Callers reach it at the Ray HTTP proxy's
address plus ``/NAME``; that is the ``url`` every replica reports.

Ray is an optional extra (``modelyard[ray]``), imported on first use: the supervisor makes a
``RayEngine`` only once a deployment with engine "ray" exists.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import os
import threading
import time
from pathlib import Path
from typing import Any

from modelyard import config
from modelyard.serving.agent import DeploymentAgent
from modelyard.serving.app import InferenceApp, Message, Receive, Scope, Send
from modelyard.serving.entities import Deployment
from modelyard.serving.process import ServeOptions, build_state
from modelyard.serving.state import BatchOptions, ServingState

log = logging.getLogger("modelyard.serving")
STOP_WAIT_S = 30.0  # how long a stopping server waits for the engine's round to end
RETRY_S = 10.0  # pause after a round that failed (no Ray, an unreachable cluster)
READY_TIMEOUT_S = 120.0  # a replica joins Serve's routing once its versions loaded, or after this
MAX_ONGOING = 256  # requests Serve lets into one replica at once (its micro-batcher merges them)


class Mounted:
    """``InferenceApp`` under Serve's route prefix; its startup ends once it can serve.

    Serve hands the app the full path with the prefix in ``root_path``; the inference app
    routes on the path below it. Serve's proxy gives every request an ``X-Request-Id`` (the
    caller's, or its own) and adds it to the answer, so the app's copy is dropped. Serve routes
    to a replica only after its ASGI startup, so the startup waits until the policy's versions
    are loaded (or failed, or ``READY_TIMEOUT_S``): a replica Serve adds or restarts never
    answers NOT_READY to traffic.
    """

    def __init__(self, state: ServingState, ready_timeout_s: float = READY_TIMEOUT_S) -> None:
        self.state = state
        self.app = InferenceApp(state)
        self.ready_timeout_s = ready_timeout_s

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            root, path = scope.get("root_path", ""), scope["path"]
            if root and path.startswith(root):
                scope = {**scope, "path": path[len(root) :] or "/", "root_path": ""}
            if any(name == b"x-request-id" for name, _ in scope["headers"]):
                send = _without_request_id(send)
        elif scope["type"] == "lifespan":
            inner = send

            async def send(message: Message) -> None:
                if message["type"] == "lifespan.startup.complete":
                    await self._settled()
                await inner(message)

        await self.app(scope, receive, send)

    async def _settled(self) -> None:
        deadline = time.monotonic() + self.ready_timeout_s
        state = self.state
        while not state.ready and time.monotonic() < deadline:
            known = list(state.load_state.values())
            if known and all(s == "failed" for s, _ in known):
                return  # nothing will load: answer NOT_READY as a serving process does
            await asyncio.sleep(0.1)


def _without_request_id(send: Send) -> Send:
    async def sending(message: Message) -> None:
        if message["type"] == "http.response.start":
            headers = [(k, v) for k, v in message["headers"] if k != b"x-request-id"]
            message = {**message, "headers": headers}
        await send(message)

    return sending


class RayReplica:
    """One replica: a serving state fed by a deployment agent (built in the Ray worker)."""

    def __init__(
        self, deployment: str, server: str, url: str, options: ServeOptions, token: str = ""
    ) -> None:
        self.state = build_state(deployment, options)
        self.state.sources.append(DeploymentAgent(deployment, server, url, token=token))

    def __serve_build_asgi_app__(self) -> Mounted:
        return Mounted(self.state)


@functools.cache
def replica_deployment() -> Any:
    """``RayReplica`` as a Serve deployment with an ASGI ingress built in each replica."""
    from ray import serve

    return serve.deployment(serve.ingress()(RayReplica))


class RayEngine:
    """Keeps one Serve application per "ray" deployment: run, resized, deleted with it.

    The supervisor hands it the wanted deployments every round (``sync`` never blocks); its
    own thread connects and applies them, so a slow or absent Ray never holds up the serving
    processes of the "process" engine. It connects to the Ray cluster at
    ``MODELYARD_RAY_ADDRESS`` or, when none is given, to one started on this machine (`ray
    start`), else starts a local one for the server's life.
    """

    def __init__(
        self, server_url: str, prediction_log: Path | None, *, interval_s: float = 1.0
    ) -> None:
        self.server_url = server_url
        self.prediction_log = prediction_log
        self.interval_s = interval_s
        self.proxy = ""  # the Ray HTTP proxy's root URL, once connected
        self.running: dict[str, tuple[int, str]] = {}  # deployment -> (replicas, token) run
        self._wanted: list[Deployment] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="modelyard-ray", daemon=True)

    def sync(self, deployments: list[Deployment]) -> None:
        """The "ray" deployments wanted now (applied by the engine's thread)."""
        self._wanted = list(deployments)
        if self._thread.ident is None and not self._stop.is_set():
            self._thread.start()

    def stop(self) -> None:
        """Delete the applications this server runs, and leave Ray."""
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout=STOP_WAIT_S)  # a connect still trying leaves no proxy
        if not self.proxy:
            return
        import ray
        from ray import serve

        for name in list(self.running):
            try:
                serve.delete(name)
            except Exception:  # the cluster may be gone; nothing left to delete then
                log.exception("deployment %s: the Ray Serve application was not deleted", name)
        self.running.clear()
        ray.shutdown()
        self.proxy = ""

    def _loop(self) -> None:
        while not self._stop.is_set():
            pause = self.interval_s
            try:
                self.apply(self._wanted)
            except ImportError as exc:
                log.error(
                    "modelyard: engine 'ray' needs Ray (pip install 'modelyard[ray]'): %s", exc
                )
                pause = RETRY_S
            except Exception:
                log.exception("modelyard: the Ray engine failed a round")
                pause = RETRY_S
            self._stop.wait(pause)

    def connect(self) -> None:
        # a SIGTERM is how the server stops, not a crash for Ray's handler to dump a stack of
        os.environ.setdefault("RAY_DISABLE_FAILURE_SIGNAL_HANDLER", "1")
        import ray
        from ray import serve

        if not ray.is_initialized():
            address = config.RAY_ADDRESS.get()
            try:
                ray.init(address=address or "auto", namespace="modelyard", log_to_driver=False)
            except ConnectionError:
                if address:
                    raise
                log.info("modelyard: no Ray cluster found; starting a local one")
                ray.init(namespace="modelyard", include_dashboard=False, log_to_driver=False)
        http = {"host": config.RAY_HTTP_HOST.get(), "port": config.RAY_HTTP_PORT.get()}
        serve.start(http_options=http)  # a Serve already running keeps its own options
        self.proxy = _proxy_url()

    def apply(self, deployments: list[Deployment]) -> None:
        """Run what is missing or resized, delete what is no longer wanted."""
        if not self.proxy:
            if not deployments:
                return
            self.connect()
        from ray import serve

        wanted = {d.name: d for d in deployments}
        for name in [n for n in self.running if n not in wanted]:
            serve.delete(name, _blocking=False)
            del self.running[name]
            log.info("deployment %s: Ray Serve application deleted", name)
        for name, deployment in wanted.items():
            asked = (max(1, deployment.replicas), deployment.serving_secret)
            if self.running.get(name) != asked:  # resized, or a new serving token
                self._run(name, *asked)
                self.running[name] = asked

    def _run(self, name: str, replicas: int, token: str) -> None:
        from ray import serve

        url = f"{self.proxy}/{name}"
        options = ServeOptions(
            batching=BatchOptions(
                max_rows=config.SERVE_MAX_BATCH_ROWS.get(),
                max_wait_ms=config.SERVE_MAX_WAIT_MS.get(),
            ),
            prediction_log=self.prediction_log,
        )
        app = (
            replica_deployment()
            .options(
                name=name,
                num_replicas=replicas,
                max_ongoing_requests=MAX_ONGOING,
                ray_actor_options={"num_cpus": config.RAY_REPLICA_CPUS.get()},
            )
            .bind(name, self.server_url, url, options, token)
        )
        serve._run(app, name=name, route_prefix=f"/{name}", _blocking=False)  # never waits
        log.info("deployment %s: %d Ray Serve replica(s) at %s", name, replicas, url)


def _proxy_url() -> str:
    """Where the Ray HTTP proxy listens, as Serve's controller has it (a wildcard host: this
    node's address)."""
    import ray
    from ray.serve.context import _get_global_client

    client = _get_global_client()  # Ray's own handle on Serve; it raises when none runs
    assert client is not None
    http = client.http_config
    host = http.host
    if host in (None, "", "0.0.0.0", "::"):
        host = ray.util.get_node_ip_address()  # type: ignore[no-untyped-call]
    return f"http://{'[' + host + ']' if ':' in host else host}:{http.port}{http.root_path}"
