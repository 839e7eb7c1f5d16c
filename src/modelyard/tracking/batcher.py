"""The SDK's background batcher: log calls append to memory, a thread sends batches.

Log calls never wait for the network. When the buffer holds ``max_points`` points, log calls
wait for the flusher (back-pressure). A batch the server cannot take is retried, then written to
the journal; nothing buffered is dropped.
"""

from __future__ import annotations

import logging
import threading
import time
import uuid
from dataclasses import dataclass, field
from typing import Any

from modelyard.errors import ModelyardError, ServerUnreachable
from modelyard.tracking import journal
from modelyard.tracking.client import Client, register_buffer

log = logging.getLogger("modelyard.sdk")
RETRY_DELAYS = (0.2, 1.0, 3.0)


@dataclass
class _Pending:
    create: dict[str, Any] | None = None
    params: dict[str, str] = field(default_factory=dict)
    tags: dict[str, str] = field(default_factory=dict)
    metrics: dict[str, tuple[list[int], list[float], list[int]]] = field(default_factory=dict)
    update: dict[str, Any] | None = None


def _wire_values(values: list[float]) -> Any:
    import numpy as np

    arr = np.asarray(values, dtype=np.float64)
    if np.isfinite(arr).all():
        return arr
    from modelyard.tracking.entities import json_float

    return [json_float(v) for v in values]


class Batcher:
    """One per tracking URI per process; thread-safe."""

    def __init__(self, client: Client, flush_interval: float, max_points: int) -> None:
        self.client = client
        self.uri = client.uri
        self.flush_interval = flush_interval
        self.max_points = max_points
        self._lock = threading.Lock()
        self._space = threading.Condition(self._lock)
        self._wake = threading.Event()
        self._send_lock = threading.Lock()
        self._pending: dict[str, _Pending] = {}
        self._inflight: list[dict[str, Any]] = []
        self._points = 0
        self._closed = False
        self._offline_since: float | None = None
        self._thread = threading.Thread(target=self._loop, name="modelyard-batcher", daemon=True)
        self._thread.start()
        register_buffer(self)

    # -- producers (the training loop)
    def _run(self, run_id: str) -> _Pending:
        pending = self._pending.get(run_id)
        if pending is None:
            pending = self._pending[run_id] = _Pending()
        return pending

    def create(self, run_id: str, spec: dict[str, Any]) -> None:
        with self._lock:
            self._run(run_id).create = spec

    def params(self, run_id: str, params: dict[str, str]) -> None:
        with self._lock:
            self._run(run_id).params.update(params)

    def tags(self, run_id: str, tags: dict[str, str]) -> None:
        with self._lock:
            self._run(run_id).tags.update(tags)

    def update(self, run_id: str, fields: dict[str, Any]) -> None:
        with self._lock:
            pending = self._run(run_id)
            pending.update = {**(pending.update or {}), **fields}

    def metric(self, run_id: str, key: str, value: float, step: int, timestamp: int) -> None:
        with self._lock:
            pending = self._pending.get(run_id) or self._run(run_id)
            series = pending.metrics.get(key)
            if series is None:
                series = pending.metrics[key] = ([], [], [])
            series[0].append(step)
            series[1].append(value)
            series[2].append(timestamp)
            self._points += 1
            if self._points >= self.max_points:
                self._wake.set()
                while self._points >= self.max_points and not self._closed:
                    self._space.wait(timeout=1.0)
            elif self._points >= self.max_points // 4:
                self._wake.set()

    def wake(self) -> None:
        """Ask the background thread to send now (does not wait)."""
        self._wake.set()

    # -- the sender
    def _take(self) -> list[dict[str, Any]]:
        with self._lock:
            pending, self._pending = self._pending, {}
            self._points = 0
            self._space.notify_all()
        batches = []
        for run_id, p in pending.items():
            batch: dict[str, Any] = {"run_id": run_id, "batch_id": uuid.uuid4().hex}
            if p.create is not None:
                batch["create"] = p.create
            if p.params:
                batch["params"] = p.params
            if p.tags:
                batch["tags"] = p.tags
            if p.metrics:
                batch["metrics"] = [
                    {"key": k, "steps": s, "values": _wire_values(v), "timestamps": t}
                    for k, (s, v, t) in p.metrics.items()
                ]
            if p.update is not None:
                batch["update"] = p.update
            batches.append(batch)
        return batches

    def flush(self) -> None:
        """Send everything buffered now; returns when it is stored or journaled."""
        with self._send_lock:
            batches = self._take()
            if batches:
                self._inflight = batches
                try:
                    self._deliver(batches)
                finally:
                    self._inflight = []

    def _deliver(self, batches: list[dict[str, Any]]) -> None:
        if self._offline_since is not None and time.monotonic() - self._offline_since < 5.0:
            self._journal(batches, "server still unreachable")
            return
        for attempt, delay in enumerate((0.0, *RETRY_DELAYS)):
            if delay:
                time.sleep(delay)
            try:
                self.client.ingest(batches)
            except ServerUnreachable as exc:
                if attempt == len(RETRY_DELAYS):
                    self._offline_since = time.monotonic()
                    self._journal(batches, str(exc))
                    return
                continue
            except ModelyardError as exc:
                self._reject(batches, exc)
                return
            if self._offline_since is not None:
                self._offline_since = None
                self._replay_journal()
            return

    def _reject(self, batches: list[dict[str, Any]], exc: ModelyardError) -> None:
        """The server refused the request: find the bad batch, keep the good ones."""
        if len(batches) > 1:
            for batch in batches:
                self._deliver([batch])
            return
        journal.write(self.client.uri, batches, journal_rejected_dir())

    def _journal(self, batches: list[dict[str, Any]], why: str) -> None:
        path = journal.write(self.client.uri, batches)
        log.warning("modelyard: %s; %d batch(es) journaled in %s", why, len(batches), path)

    def _replay_journal(self) -> None:
        for entry in journal.entries(uri=self.client.uri):
            try:
                journal.replay(self.client.ingest, entry)
            except ModelyardError:
                return

    def _loop(self) -> None:
        while not self._closed:
            self._wake.wait(self.flush_interval)
            self._wake.clear()
            try:
                self.flush()
            except Exception:  # the thread must survive anything; the journal keeps the data
                log.exception("modelyard: background flush failed")

    def close(self, timeout: float | None = None) -> None:
        """Flush and stop. After ``timeout`` seconds, journal what is still unsent instead.

        Batches being sent are journaled too: their batch ids make a later replay harmless.
        """
        flusher = threading.Thread(target=self.flush, name="modelyard-exit-flush", daemon=True)
        flusher.start()
        flusher.join(timeout)
        if flusher.is_alive():
            left = self._inflight + self._take()
            if left:
                self._journal(left, f"exit flush did not finish in {timeout:g} s")
        self._closed = True
        self._wake.set()
        with self._lock:
            self._space.notify_all()


def journal_rejected_dir() -> Any:
    from modelyard import config

    path = config.journal_dir() / "rejected"
    path.mkdir(parents=True, exist_ok=True)
    return path
