"""What a serving process holds: the loaded versions, the routes over them, one batcher per
version, the metrics and the prediction log; and where its policy comes from (one model
given at start, or a deployment's policy read from the main server)."""

from __future__ import annotations

import asyncio
import gc
import logging
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import orjson

from modelyard.errors import ModelyardError
from modelyard.listener import open_connections
from modelyard.serving.batching import Batcher
from modelyard.serving.inputs import Part
from modelyard.serving.predictor import Predictor
from modelyard.serving.predlog import NoLog
from modelyard.serving.router import Routes
from modelyard.serving.stats import ServingMetrics, VersionStats

log = logging.getLogger("modelyard.serving")
MAX_BODY = 64 << 20


@dataclass(frozen=True, slots=True)
class BatchOptions:
    max_rows: int = 256  # rows per model call
    max_wait_ms: float = 2.0  # added wait, only for requests already arriving


class ServingState:
    """Shared by the ASGI app (event loop) and the policy source (its own thread)."""

    def __init__(
        self,
        deployment: str,
        *,
        batching: BatchOptions = BatchOptions(),
        prediction_log: NoLog | None = None,
        max_body: int = MAX_BODY,
    ) -> None:
        self.deployment = deployment
        self.batching = batching
        self.metrics = ServingMetrics(deployment)
        self.predlog = prediction_log or NoLog()
        self.max_body = max_body
        self.routes = Routes()
        self.loaded: dict[int, Predictor] = {}
        self.load_state: dict[int, tuple[str, str | None]] = {}  # version -> (state, error)
        self.policy: tuple[list[tuple[int, float]], list[int], str | None] = ([], [], None)
        self._batchers: dict[int, Batcher] = {}
        self._classes: dict[int, str] = {}  # per scored predictor: its classes as JSON
        self._lock = threading.Lock()
        self._loop: asyncio.AbstractEventLoop | None = None
        self.sources: list[Source] = []

    # -- lifecycle ---------------------------------------------------------------------------

    def start(self, loop: asyncio.AbstractEventLoop) -> None:
        self._loop = loop
        for source in self.sources:
            source.start(self)

    def stop(self) -> None:
        for source in self.sources:
            source.stop()
        for batcher in list(self._batchers.values()):
            batcher.close()
        self.predlog.close()

    @property
    def ready(self) -> bool:
        return bool(self.routes.live)

    # -- the loaded versions and the routes (called from the source's thread) ---------------

    def set_loading(self, version: int) -> None:
        self.load_state[version] = ("loading", None)

    def add(self, version: int, predictor: Predictor) -> None:
        """A loaded and warmed-up version; it gets traffic if the policy gives it some."""
        gc.freeze()  # the model and modules are here for good: no collection walks them again
        with self._lock:
            self.loaded[version] = predictor
            self.load_state[version] = ("ready", None)
            self.metrics.ready.labels(self.deployment, str(version)).set(1)
            self._reroute()

    def failed(self, version: int, error: str) -> None:
        self.load_state[version] = ("failed", error)

    def set_policy(
        self, traffic: Sequence[tuple[int, float]], shadow: Sequence[int], sticky: str | None
    ) -> None:
        with self._lock:
            self.policy = (list(traffic), list(shadow), sticky)
            self._reroute()

    def drop(self, keep: set[int]) -> None:
        """Unload the versions the policy no longer names."""
        with self._lock:
            for version in [v for v in self.loaded if v not in keep]:
                del self.loaded[version]
                self.metrics.ready.labels(self.deployment, str(version)).set(0)
            for version in [v for v in self.load_state if v not in keep]:
                del self.load_state[version]
            self._reroute()

    def _reroute(self) -> None:
        traffic, shadow, sticky = self.policy
        self.routes = Routes.build(self.loaded, traffic, shadow, sticky)  # one atomic swap

    # -- the request path (event loop) ------------------------------------------------------

    def batcher(self, predictor: Predictor) -> Batcher:
        key = id(predictor)
        found = self._batchers.get(key)
        if found is None:
            scored = predictor.classes is not None and self.predlog.keeps_scores
            if scored:  # the classes once, as JSON text: each logged record repeats them
                self._classes[key] = orjson.dumps(predictor.classes).decode()
            found = Batcher(
                predictor.predict_scored if scored else predictor.predict,
                max_rows=self.batching.max_rows,
                max_wait_s=self.batching.max_wait_ms / 1000,
                batchable=predictor.batchable,
                clients=open_connections,
                scored=scored,
            )
            found.sizes = self.metrics.batch_observer(str(predictor.version or 0))
            self._batchers[key] = found
        return found

    def observe(
        self,
        predictor: Predictor,
        rid: str,
        part: Part | None,
        result: list[Any] | ModelyardError,
        started: float,
        proba: Any = None,
    ) -> None:
        seconds = time.perf_counter() - started
        status = result.status if isinstance(result, ModelyardError) else 200
        version = predictor.version or 0
        self.metrics.observe(str(version), status, seconds)
        self.predlog.entry(
            rid, self.deployment, version, "live", seconds * 1000, status,
            lambda: _inputs(predictor, part), _outputs(result), self._scores(predictor, proba),
        )  # fmt: skip

    def observe_shadow(
        self,
        predictor: Predictor,
        rid: str,
        part: Part,
        result: list[Any] | ModelyardError,
        live: list[Any],
        started: float,
        proba: Any = None,
    ) -> None:
        seconds = time.perf_counter() - started
        status = result.status if isinstance(result, ModelyardError) else 200
        version = predictor.version or 0
        agree = "yes" if result == live else "no"
        self.metrics.shadow.labels(self.deployment, str(version), agree).inc()
        self.predlog.entry(
            rid, self.deployment, version, "shadow", seconds * 1000, status,
            lambda: _inputs(predictor, part), _outputs(result), self._scores(predictor, proba),
        )  # fmt: skip

    def _scores(self, predictor: Predictor, proba: Any) -> tuple[str, Any] | None:
        """(the classes as JSON, the rows' probabilities) for the log; None without them."""
        if proba is None:
            return None
        classes = self._classes.get(id(predictor))
        return None if classes is None else (classes, proba)

    # -- what the process says about itself -------------------------------------------------

    def describe(self) -> dict[str, Any]:
        return {
            "ready": self.ready,
            "deployment": self.deployment,
            "versions": {
                str(v): {"state": s, **({"error": e} if e else {})}
                for v, (s, e) in sorted(self.load_state.items())
            },
            "traffic": [{"version": v, "weight": w} for v, w in self.policy[0]],
        }

    def report(self) -> dict[str, dict[str, Any]]:
        """Per version: load state and cumulative counters (the heartbeat's body)."""
        counters = self.metrics.reports()
        empty = VersionStats().report(time.monotonic())
        return {
            str(version): {"state": state, "error": error, **counters.get(str(version), empty)}
            for version, (state, error) in list(self.load_state.items())
        }

    def openapi(self) -> dict[str, Any]:
        live = self.routes.live[0] if self.routes.live else None
        schema = live.schema.describe() if live is not None else {"type": "object"}
        answer = {
            "content": {
                "application/json": {
                    "schema": {
                        "type": "object",
                        "properties": {"predictions": {"type": "array"}},
                    }
                }
            },
            "description": "one prediction per input row",
        }
        body = {
            "required": True,
            "content": {
                "application/json": {"schema": schema},
                "text/csv": {"schema": {"type": "string"}},
                "application/vnd.apache.arrow.stream": {
                    "schema": {"type": "string", "format": "binary"}
                },
            },
        }
        operation = {"requestBody": body, "responses": {"200": answer}}
        return {
            "openapi": "3.1.0",
            "info": {"title": f"modelyard: {self.deployment}", "version": "1"},
            "paths": {
                "/predict": {"post": {**operation, "operationId": "predict"}},
                "/invocations": {"post": {**operation, "operationId": "invocations"}},
            },
        }


class Source:
    """Where the policy comes from; runs on its own thread."""

    def start(self, state: ServingState) -> None:
        raise NotImplementedError

    def stop(self) -> None:
        pass


class OneModel(Source):
    """Serve one model (a URI or a bundle folder): load, warm up, route all traffic to it."""

    def __init__(self, load: Callable[[], Predictor]) -> None:
        self.load = load
        self._thread: threading.Thread | None = None

    def start(self, state: ServingState) -> None:
        def run() -> None:
            state.set_loading(0)
            try:
                predictor = self.load()
                predictor.warm_up()
            except ModelyardError as exc:
                log.error("the model did not load: %s: %s", exc.code, exc.message)
                state.failed(0, f"{exc.code}: {exc.message}")
                return
            except Exception as exc:
                log.exception("the model did not load")
                state.failed(0, f"{type(exc).__name__}: {exc}")
                return
            version = predictor.version or 0
            state.drop({version})
            state.set_policy([(version, 100.0)], [], None)
            state.add(version, predictor)

        self._thread = threading.Thread(target=run, name="modelyard-load", daemon=True)
        self._thread.start()


def _inputs(predictor: Predictor, part: Part | None) -> Any:
    if part is None:
        return None
    if part.frame is not None:
        frame = part.frame
        if hasattr(frame, "columns"):
            return {"columns": [str(c) for c in frame.columns], "data": frame.values.tolist()}
        return {"data": frame.tolist()}
    names = predictor.schema.names
    return {"columns": names, "data": part.rows} if names else {"data": part.rows}


def _outputs(result: list[Any] | ModelyardError) -> Any:
    return result.to_json() if isinstance(result, ModelyardError) else result
