"""What a serving process counts: Prometheus metrics for scrapers, and per-version cumulative
counters that its heartbeat reports to the control plane (which judges canaries on them)."""

from __future__ import annotations

import bisect
import threading
import time
from collections import deque
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

from modelyard.serving.entities import LATENCY_BOUNDS_MS

_SECONDS = tuple(b / 1000 for b in LATENCY_BOUNDS_MS[:-1])
_ROWS = (1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024, 4096)
RATE_WINDOW_S = 10.0


class VersionStats:
    """Cumulative requests, errors and latency buckets of one model version in this process."""

    def __init__(self) -> None:
        self.requests = 0
        self.errors = 0
        self.buckets = [0] * len(LATENCY_BOUNDS_MS)
        self._recent: deque[float] = deque()  # request end times within RATE_WINDOW_S

    def record(self, seconds: float, failed: bool, now: float) -> None:
        self.requests += 1
        self.errors += failed
        self.buckets[bisect.bisect_left(LATENCY_BOUNDS_MS, seconds * 1000)] += 1
        self._recent.append(now)

    def rps(self, now: float) -> float:
        recent = self._recent
        while recent and recent[0] < now - RATE_WINDOW_S:
            recent.popleft()
        return len(recent) / RATE_WINDOW_S

    def report(self, now: float) -> dict[str, Any]:
        return {
            "requests": self.requests,
            "errors": self.errors,
            "latency_buckets": list(self.buckets),
            "rps": round(self.rps(now), 3),
        }


class ServingMetrics:
    """The process's Prometheus registry and per-version counters (labels: deployment, version)."""

    def __init__(self, deployment: str) -> None:
        self.deployment = deployment
        self.registry = CollectorRegistry()
        labels = ("deployment", "version")
        self.requests = Counter(
            "modelyard_serving_requests", "Prediction requests answered.",
            [*labels, "status"], registry=self.registry,
        )  # fmt: skip
        self.latency = Histogram(
            "modelyard_serving_latency_seconds", "Time from request to answer.",
            labels, buckets=_SECONDS, registry=self.registry,
        )  # fmt: skip
        self.batch_rows = Histogram(
            "modelyard_serving_batch_rows", "Rows per model call (micro-batching).",
            labels, buckets=_ROWS, registry=self.registry,
        )  # fmt: skip
        self.shadow = Counter(
            "modelyard_serving_shadow_answers", "Shadow answers compared with the live ones.",
            [*labels, "agree"], registry=self.registry,
        )  # fmt: skip
        self.log_dropped = Counter(
            "modelyard_prediction_log_dropped", "Prediction log records dropped (disk full, "
            "queue full); the requests were still answered.", ["deployment"],
            registry=self.registry,
        )  # fmt: skip
        self.log_written = Counter(
            "modelyard_prediction_log_written", "Prediction log records written.",
            ["deployment"], registry=self.registry,
        )  # fmt: skip
        self.ready = Gauge(
            "modelyard_serving_version_ready", "1 when the version is loaded and warmed up.",
            labels, registry=self.registry,
        )  # fmt: skip
        self._versions: dict[str, VersionStats] = {}
        self._children: dict[tuple[str, int], tuple[Any, Any]] = {}
        self._lock = threading.Lock()

    def version(self, version: str) -> VersionStats:
        found = self._versions.get(version)
        if found is None:
            with self._lock:
                found = self._versions.setdefault(version, VersionStats())
        return found

    def observe(self, version: str, status: int, seconds: float) -> None:
        """One answered request (shadow calls are not requests and are not observed here)."""
        self.version(version).record(seconds, status >= 500, time.monotonic())
        key = (version, status)
        children = self._children.get(key)
        if children is None:  # prometheus' labels() lookup costs more than the observation
            children = self._children[key] = (
                self.requests.labels(self.deployment, version, str(status)).inc,
                self.latency.labels(self.deployment, version).observe,
            )
        children[0]()
        children[1](seconds)

    def batch_observer(self, version: str) -> Any:
        return self.batch_rows.labels(self.deployment, version).observe

    def reports(self) -> dict[str, dict[str, Any]]:
        now = time.monotonic()
        with self._lock:
            versions = dict(self._versions)
        return {v: s.report(now) for v, s in versions.items()}
