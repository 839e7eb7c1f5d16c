"""A serving process of a deployment: it reports to the main server and follows its policy.

Every ``interval_s`` it posts a heartbeat (each version's load state and cumulative counters)
and gets the deployment's policy back; it loads and warms up the versions the policy names
(each on its own thread, so a slow load never stops the heartbeat), routes by the policy once
they are ready, and unloads the versions it no longer names. A version that fails to load is
reported failed and never gets traffic. When the server is away the last policy stays.

Every request it makes carries the deployment's serving token (``X-Serving-Token``, from
MODELYARD_SERVING_TOKEN or the Ray engine) and the deployment's name: the heartbeat needs it
always, and with auth on it is the credential that lets the process read its model.
"""

from __future__ import annotations

import logging
import os
import re
import socket
import threading
from typing import Any
from urllib.parse import quote

import httpx

from modelyard import config
from modelyard.errors import ModelyardError
from modelyard.serving.entities import SERVING_DEPLOYMENT_HEADER, SERVING_TOKEN_HEADER
from modelyard.serving.predictor import Predictor
from modelyard.serving.predlog import KEEP_ALL, Redaction
from modelyard.serving.state import ServingState, Source

log = logging.getLogger("modelyard.serving")
MAX_VERSIONS = 16  # versions one policy may make a process load
_HEADER = re.compile(r"[A-Za-z0-9-]{1,100}")
_KEY = re.compile(r"[0-9a-f]{0,256}")
MAX_LOGGING_COLUMNS = 1000


class DeploymentAgent(Source):
    def __init__(
        self,
        name: str,
        server: str,
        url: str,
        *,
        token: str | None = None,
        interval_s: float = 0.5,
        headers: dict[str, str] | None = None,
    ) -> None:
        self.name = name
        self.server = server.rstrip("/")
        self.url = url  # where callers reach this process (reported to the server)
        self.interval_s = interval_s
        self.instance = f"{socket.gethostname()}:{os.getpid()}"
        self.credentials = serving_headers(
            name, config.SERVING_TOKEN.get() if token is None else token
        )
        self._client = httpx.Client(
            base_url=self.server, timeout=10.0, headers={**self.credentials, **(headers or {})}
        )
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._loading: set[int] = set()
        self.model: str | None = None

    def start(self, state: ServingState) -> None:
        self._thread = threading.Thread(
            target=self._run, args=(state,), name="modelyard-agent", daemon=True
        )
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
        self._client.close()

    def _run(self, state: ServingState) -> None:
        while not self._stop.is_set():
            try:
                self.apply(state, self.beat(state))
            except (httpx.HTTPError, ModelyardError) as exc:
                log.warning("deployment %s: no policy from %s (%s)", self.name, self.server, exc)
            except Exception as exc:  # an answer not shaped like a policy: keep the last one
                log.error(
                    "deployment %s: refused the policy from %s: %r", self.name, self.server, exc
                )
            self._stop.wait(self.interval_s)

    def beat(self, state: ServingState) -> dict[str, Any]:
        """Report this process and get the deployment's policy back."""
        body = {"instance": self.instance, "url": self.url, "versions": state.report()}
        response = self._client.post(f"/api/v1/deployments/{self.name}/heartbeat", json=body)
        if response.status_code != 200:
            from modelyard.errors import error_from_json

            raise error_from_json(response.status_code, response.json())
        policy: dict[str, Any] = response.json()
        return policy

    def apply(self, state: ServingState, policy: dict[str, Any]) -> None:
        """Load what the policy names and is not loaded; route; unload what it dropped.

        The answer is checked like any input (the server is not trusted to be well-formed):
        at most MAX_VERSIONS versions, whole numbers, finite weights, a header name.
        """
        model = policy["model"]
        traffic = [(int(s["version"]), float(s["weight"])) for s in policy.get("traffic", [])]
        shadow = [int(v) for v in policy.get("shadow", [])]
        wanted = {v for v, _ in traffic} | set(shadow) | {int(v) for v in policy.get("warm", [])}
        sticky = policy.get("sticky_header")
        if (
            not isinstance(model, str)
            or len(wanted) > MAX_VERSIONS
            or any(v < 1 for v in wanted)
            or any(not 0 <= w <= 100 for _, w in traffic)
            or (sticky is not None and not _HEADER.fullmatch(str(sticky)))
        ):
            raise ValueError(f"not a policy: {str(policy)[:200]}")
        redaction, sample = logging_policy(policy.get("logging"))
        self.model = model
        state.predlog.configure(redaction, sample)
        for version in sorted(wanted):
            known = state.load_state.get(version)
            if known is None and version not in self._loading:
                self._load(state, version)
        state.set_policy(traffic, shadow, sticky)
        state.drop(wanted)

    def _load(self, state: ServingState, version: int) -> None:
        self._loading.add(version)
        state.set_loading(version)
        model = self.model

        def run() -> None:
            try:
                predictor = self.fetch(str(model), version)
                predictor.warm_up()
            except ModelyardError as exc:
                log.error("deployment %s: v%s did not load: %s", self.name, version, exc.message)
                state.failed(version, f"{exc.code}: {exc.message}")
            except Exception as exc:
                log.exception("deployment %s: v%s did not load", self.name, version)
                state.failed(version, f"{type(exc).__name__}: {exc}")
            else:
                state.add(version, predictor)
                log.info("deployment %s: v%s loaded and warmed up", self.name, version)
            finally:
                self._loading.discard(version)

        threading.Thread(target=run, name=f"modelyard-load-v{version}", daemon=True).start()

    def fetch(self, model: str, version: int) -> Predictor:
        """A registered version through the server, checked and trusted as ``models load``."""
        from modelyard.registry.client import ModelRegistry

        with ModelRegistry(self.server) as registry:
            # this process's one pool to the server: its requests carry the serving token
            registry.backend.http.headers.update(self.credentials)
            folder, found = registry.fetch(f"models:/{model}/{version}")
        digest = found["package_digest"] if found.get("trusted") is True else None
        return Predictor.from_folder(folder, trusted_digest=digest, version=version)


def serving_headers(deployment: str, token: str) -> dict[str, str]:
    """What a serving process sends with every request to the main server ({} without a token)."""
    if not token:
        return {}
    return {SERVING_TOKEN_HEADER: token, SERVING_DEPLOYMENT_HEADER: quote(deployment, safe="")}


def logging_policy(doc: Any) -> tuple[Redaction, float]:
    """The policy's ``logging`` ({exclude, hash, sample, key}) as a redaction and a sample
    share; absent (an older server): everything, every request. Checked like the rest."""
    if doc is None:
        return KEEP_ALL, 1.0
    exclude, hashed, sample, key = doc["exclude"], doc["hash"], doc["sample"], doc["key"]
    if (
        not isinstance(exclude, list)
        or not isinstance(hashed, list)
        or len(exclude) + len(hashed) > 2 * MAX_LOGGING_COLUMNS
        or not all(isinstance(c, str) and 0 < len(c) <= 256 for c in [*exclude, *hashed])
        or isinstance(sample, bool)
        or not isinstance(sample, int | float)
        or not 0 < sample <= 1
        or not isinstance(key, str)
        or not _KEY.fullmatch(key)
        or (hashed and not key)
    ):
        raise ValueError(f"not a logging policy: {str(doc)[:200]}")
    return Redaction(exclude, hashed, bytes.fromhex(key)), float(sample)
