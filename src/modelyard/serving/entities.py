"""Typed objects of deployments: the traffic policy, a rollout in progress, instance reports.

The serving processes (the data plane) and the controller share these names and constants.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Literal

LATENCY_BOUNDS_MS: tuple[float, ...] = (
    1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000, 5000, math.inf,
)  # fmt: skip
"""Upper bounds (ms) of the latency buckets every instance reports, the last one open."""

SERVING_TOKEN_HEADER = "X-Serving-Token"  # a serving process's proof it serves its deployment
SERVING_DEPLOYMENT_HEADER = "X-Serving-Deployment"  # which one (percent-encoded name)
STALE_AFTER_MS = 10_000  # an instance not heard from for this long is stale: shown, not counted
ENGINES = ("process", "external", "ray")
STRATEGIES = ("blue-green", "canary")
DEFAULT_STEPS: tuple[float, ...] = (10, 25, 50, 100)  # canary percentages

Engine = Literal["process", "external", "ray"]
Strategy = Literal["blue-green", "canary"]
LoadState = Literal["ready", "loading", "failed"]


@dataclass(frozen=True, slots=True)
class Split:
    """One version's share of the live traffic, in percent."""

    version: int
    weight: float


@dataclass(frozen=True, slots=True)
class Rollout:
    """How a version change rolls out; blue-green ignores ``steps``."""

    strategy: Strategy = "blue-green"
    steps: tuple[float, ...] = DEFAULT_STEPS
    interval_s: float = 60.0
    max_error_rate_increase: float = 0.02
    max_latency_ratio: float = 1.5
    min_requests: int = 50
    quality_metric: str | None = None  # a monitoring figure the canary must not lose on
    max_quality_drop: float = 0.02  # how much worse than the stable it may be (absolute)

    def to_json(self) -> dict[str, Any]:
        return {
            "strategy": self.strategy,
            "steps": list(self.steps),
            "interval_s": self.interval_s,
            "max_error_rate_increase": self.max_error_rate_increase,
            "max_latency_ratio": self.max_latency_ratio,
            "min_requests": self.min_requests,
            "quality_metric": self.quality_metric,
            "max_quality_drop": self.max_quality_drop,
        }

    @classmethod
    def from_json(cls, doc: dict[str, Any]) -> Rollout:
        return cls(**{**doc, "steps": tuple(doc.get("steps", DEFAULT_STEPS))})


@dataclass(frozen=True, slots=True)
class LogPolicy:
    """What the prediction log keeps of a deployment's inputs: ``exclude`` columns never reach
    disk, ``hash`` columns are written as a keyed hash (HMAC-SHA256 under ``key``, a secret made
    at creation and never shown), and a ``sample`` share of the requests is logged at all."""

    exclude: tuple[str, ...] = ()
    hash: tuple[str, ...] = ()
    sample: float = 1.0
    key: str = ""  # hex; "" until one is made

    def to_json(self) -> dict[str, Any]:
        """As the API shows it (never the key)."""
        return {"exclude": list(self.exclude), "hash": list(self.hash), "sample": self.sample}

    def secret_json(self) -> dict[str, Any]:
        """As stored, and as the serving processes get it: with the key."""
        return {**self.to_json(), "key": self.key}

    @classmethod
    def from_json(cls, doc: dict[str, Any] | None) -> LogPolicy:
        if not doc:
            return cls()
        return cls(
            tuple(doc.get("exclude", ())),
            tuple(doc.get("hash", ())),
            float(doc.get("sample", 1.0)),
            str(doc.get("key", "")),
        )


@dataclass(frozen=True, slots=True)
class Counters:
    """Cumulative counts of one version in one instance (since that process started)."""

    requests: int = 0
    errors: int = 0
    latency_buckets: tuple[int, ...] = (0,) * len(LATENCY_BOUNDS_MS)

    def to_json(self) -> dict[str, Any]:
        return {
            "requests": self.requests,
            "errors": self.errors,
            "latency_buckets": list(self.latency_buckets),
        }

    @classmethod
    def from_json(cls, doc: dict[str, Any]) -> Counters:
        return cls(int(doc["requests"]), int(doc["errors"]), tuple(doc["latency_buckets"]))


Snapshot = dict[str, dict[int, Counters]]  # instance -> version -> counters


def snapshot_json(snap: Snapshot) -> dict[str, Any]:
    return {i: {str(v): c.to_json() for v, c in vs.items()} for i, vs in snap.items()}


def snapshot_from_json(doc: dict[str, Any]) -> Snapshot:
    return {i: {int(v): Counters.from_json(c) for v, c in vs.items()} for i, vs in doc.items()}


@dataclass(frozen=True, slots=True)
class Candidate:
    """A version being rolled out: loading everywhere, then (canary) stepping up."""

    version: int
    strategy: Strategy
    phase: Literal["loading", "stepping"]
    step: int
    step_started_at: int
    started_by: str
    reason: str
    baseline: Snapshot = field(default_factory=dict)  # counters when this step began
    origin: Snapshot = field(default_factory=dict)  # counters when the canary began
    started_at: int = 0  # when the rollout began (the quality gate judges from here)

    def to_json(self) -> dict[str, Any]:
        return {
            "version": self.version,
            "strategy": self.strategy,
            "phase": self.phase,
            "step": self.step,
            "step_started_at": self.step_started_at,
            "started_by": self.started_by,
            "reason": self.reason,
            "baseline": snapshot_json(self.baseline),
            "origin": snapshot_json(self.origin),
            "started_at": self.started_at,
        }

    @classmethod
    def from_json(cls, doc: dict[str, Any]) -> Candidate:
        return cls(
            version=int(doc["version"]),
            strategy=doc["strategy"],
            phase=doc["phase"],
            step=int(doc["step"]),
            step_started_at=int(doc["step_started_at"]),
            started_by=doc["started_by"],
            reason=doc["reason"],
            baseline=snapshot_from_json(doc.get("baseline", {})),
            origin=snapshot_from_json(doc.get("origin", {})),
            started_at=int(doc.get("started_at", doc["step_started_at"])),
        )


@dataclass(frozen=True, slots=True)
class Deployment:
    """A named endpoint over one registered model, with its traffic policy.

    ``revision`` grows with every change; writes compare and set it.
    """

    name: str
    model: str
    follow: str | None  # the alias it follows, or None when pinned
    engine: Engine
    port: int | None
    replicas: int
    created_by: str
    created_at: int
    updated_at: int
    revision: int
    traffic: tuple[Split, ...]
    shadow: tuple[int, ...]
    warm: tuple[int, ...]
    sticky_header: str | None
    rollout: Rollout
    stable: int
    previous: int | None = None  # the stable before the last switch (kept warm for rollback)
    candidate: Candidate | None = None
    followed: int | None = None  # the alias's version the deployment last acted on
    logging: LogPolicy = field(default_factory=LogPolicy)  # what the prediction log keeps
    # the secret its serving processes send with every heartbeat (SERVING_TOKEN_HEADER); never
    # shown but by the route that rotates it, and stored like the logging key
    serving_secret: str = ""
    # where callers reach an "external" or "ray" deployment off this host, set by a maintainer
    # (or the Ray engine): heartbeats may report it when auth is on
    serving_url: str | None = None

    def versions(self) -> set[int]:
        """Every version the data plane must keep loaded."""
        return {s.version for s in self.traffic} | set(self.shadow) | set(self.warm)

    def policy(self) -> dict[str, Any]:
        """The policy as one JSON document (as stored, and as the API shows it)."""
        return {
            **self.routing(),
            "sticky_header": self.sticky_header,
            "rollout": self.rollout.to_json(),
            "stable": self.stable,
            "previous": self.previous,
            "candidate": None if self.candidate is None else self.candidate.to_json(),
            "followed": self.followed,
            "logging": self.logging.to_json(),
            "serving_url": self.serving_url,
        }

    def routing(self) -> dict[str, Any]:
        """What the data plane routes by (an event's before and after)."""
        return {
            "traffic": [{"version": s.version, "weight": s.weight} for s in self.traffic],
            "shadow": list(self.shadow),
            "warm": list(self.warm),
        }


@dataclass(frozen=True, slots=True)
class VersionReport:
    """What one instance says about one version."""

    state: LoadState
    error: str | None
    counters: Counters
    rps: float


@dataclass(frozen=True, slots=True)
class Instance:
    """A serving process of a deployment, as its latest heartbeat described it."""

    deployment: str
    instance: str  # e.g. "host:pid"
    url: str
    last_seen: int
    versions: dict[int, VersionReport]

    def live(self, now_ms: int) -> bool:
        return now_ms - self.last_seen < STALE_AFTER_MS


@dataclass(frozen=True, slots=True)
class DeploymentEvent:
    """One change to a deployment's policy: who or what made it, and why."""

    id: int
    deployment: str
    at: int
    actor: str  # a user, or "gate" | "controller" | "alias"
    action: str  # create, set-traffic, promote, step, switch, rollback, load-failed, delete, follow
    reason: str
    before: dict[str, Any]
    after: dict[str, Any]
