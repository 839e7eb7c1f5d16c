"""The main server's keeper of serving processes: one `modelyard serve --deployment NAME` per
replica of each deployment whose engine is "process", started when it appears, restarted
when it dies (with a growing pause if it keeps dying), stopped when the deployment goes.
Deployments whose engine is "ray" are handed to ``ray_engine.RayEngine`` (Ray Serve keeps
their replicas).

Each process logs to ``{logs}/{deployment}.log`` (what `modelyard deploy logs` shows) and
keeps its port across restarts, so callers find it where it was. It gets the deployment's
serving token in its environment (MODELYARD_SERVING_TOKEN, and not the server's own
MODELYARD_TOKEN); when the token is rotated its processes are restarted with the new one.
"""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING

from modelyard import config
from modelyard.serving.deployments import DeploymentService
from modelyard.serving.entities import Deployment
from modelyard.serving.logs import log_file

if TYPE_CHECKING:
    from modelyard.serving.ray_engine import RayEngine

log = logging.getLogger("modelyard.serving")
MAX_PAUSE_S = 30.0


@dataclass
class Replica:
    deployment: str
    index: int
    port: int
    process: subprocess.Popen[bytes] | None = None
    starts: int = 0
    next_start: float = 0.0  # monotonic time before which it is not restarted
    started_at: float = field(default=0.0)
    token: str = ""  # the serving token it was started with


class Supervisor:
    def __init__(
        self,
        service: DeploymentService,
        server_url: str,
        logs: Path,
        *,
        prediction_log: Path | None = None,
        interval_s: float = 1.0,
        python: str = sys.executable,
    ) -> None:
        self.service = service
        self.server_url = server_url
        self.logs = logs
        self.prediction_log = prediction_log
        self.interval_s = interval_s
        self.python = python
        self.replicas: dict[tuple[str, int], Replica] = {}
        self._ray: RayEngine | None = None  # engine "ray": made (and Ray imported) when needed
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="modelyard-supervisor", daemon=True)

    def start(self) -> Supervisor:
        self.logs.mkdir(parents=True, exist_ok=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join()
        for replica in list(self.replicas.values()):
            self._terminate(replica)
        self.replicas.clear()
        if self._ray is not None:
            self._ray.stop()

    def _ray_engine(self) -> RayEngine:
        if self._ray is None:
            from modelyard.serving.ray_engine import RayEngine

            self._ray = RayEngine(self.server_url, self.prediction_log)
        return self._ray

    def _loop(self) -> None:
        while not self._stop.is_set():
            try:
                self.tick()
            except Exception:  # the store may be down for a moment; the processes stay
                log.exception("modelyard: the serving supervisor failed a round")
            self._stop.wait(self.interval_s)

    def tick(self) -> None:
        """Start what is missing or dead, stop what is no longer wanted."""
        deployments = [
            d if d.serving_secret or d.engine == "external" else self._with_token(d)
            for d in self.service.list_all()
        ]
        on_ray = [d for d in deployments if d.engine == "ray"]
        if on_ray or self._ray is not None:
            engine = self._ray_engine()
            engine.sync(on_ray)  # never blocks: the engine has its own thread
            for d in on_ray:  # its replicas report the proxy's address: a maintainer's own
                url = f"{engine.proxy}/{d.name}"
                if engine.proxy and d.serving_url != url:
                    self.service.set_serving_url(d.name, url, user="ray-engine")
        wanted = {
            (d.name, i): d
            for d in deployments
            if d.engine == "process"
            for i in range(max(1, d.replicas))
        }
        for key in [k for k in self.replicas if k not in wanted]:
            self._terminate(self.replicas.pop(key))
        now = time.monotonic()
        for key, deployment in wanted.items():
            replica = self.replicas.get(key)
            if replica is None:
                replica = self.replicas[key] = Replica(key[0], key[1], _port(deployment, key[1]))
            alive = replica.process is not None and replica.process.poll() is None
            if alive and replica.token != deployment.serving_secret:  # rotated: restart
                self._note(replica, "new serving token; restarting")
                self._terminate(replica)
                replica.process, alive = None, False
            replica.token = deployment.serving_secret
            if alive:
                if now - replica.started_at > 60:
                    replica.starts = 0  # it has stayed up: the next death restarts at once
                continue
            if replica.process is not None:
                code = replica.process.returncode
                log.warning("deployment %s: serving process exited (%s)", key[0], code)
                self._note(replica, f"exited with code {code}; restarting")
                replica.process = None
                replica.next_start = now + min(MAX_PAUSE_S, 0.5 * 2**replica.starts)
            if now >= replica.next_start:
                self._spawn(replica)

    def _with_token(self, d: Deployment) -> Deployment:
        """``d`` with a serving token (one is made for a deployment from before them)."""
        return replace(d, serving_secret=self.service.serving_secret(d.name))

    def _spawn(self, replica: Replica) -> None:
        command = [
            self.python, "-m", "modelyard.cli", "serve",
            "--deployment", replica.deployment,
            "--server", self.server_url,
            "--host", "127.0.0.1",
            "--port", str(replica.port),
        ]  # fmt: skip
        if self.prediction_log is None:
            command.append("--no-prediction-log")
        else:
            command += ["--prediction-log", str(self.prediction_log)]
        out = self.log_file(replica.deployment).open("ab")
        try:
            replica.process = subprocess.Popen(
                command,
                stdout=out,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                env=_environment(replica.token),
                start_new_session=True,  # a Ctrl-C on the server's terminal is the server's
            )
        finally:
            out.close()
        replica.starts += 1
        replica.started_at = time.monotonic()

    def log_file(self, deployment: str) -> Path:
        return log_file(deployment, self.logs)

    def _note(self, replica: Replica, text: str) -> None:
        with self.log_file(replica.deployment).open("a") as out:
            out.write(f"[modelyard supervisor] replica {replica.index}: {text}\n")

    def _terminate(self, replica: Replica) -> None:
        process = replica.process
        if process is None or process.poll() is not None:
            return
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def _environment(token: str) -> dict[str, str]:
    """The server's environment with the serving token, and without the server's own token."""
    env = {k: v for k, v in os.environ.items() if k != config.TOKEN.env}
    return {**env, "COLUMNS": "200", config.SERVING_TOKEN.env: token}


def _port(deployment: Deployment, index: int) -> int:
    """The deployment's port (the next ones for further replicas), or a free one."""
    if deployment.port:
        return deployment.port + index
    from modelyard.listener import free_port

    return free_port()
