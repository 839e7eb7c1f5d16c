"""Typed objects of the tracking domain; the store returns them and the API serialises them."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

DEFAULT_EXPERIMENT = "Default"  # id 0, created with the store (MLflow clients assume it)


class RunStatus(StrEnum):
    RUNNING = "RUNNING"
    FINISHED = "FINISHED"
    FAILED = "FAILED"
    KILLED = "KILLED"


class Lifecycle(StrEnum):
    ACTIVE = "active"
    DELETED = "deleted"


class ViewType(StrEnum):
    ACTIVE = "active"
    DELETED = "deleted"
    ALL = "all"


@dataclass(slots=True)
class Experiment:
    id: int
    name: str
    description: str
    lifecycle: Lifecycle
    created_at: int
    updated_at: int
    tags: dict[str, str] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "name": self.name,
            "description": self.description,
            "lifecycle": self.lifecycle.value,
            "created_at": self.created_at,
            "updated_at": self.updated_at,
            "tags": self.tags,
        }


@dataclass(slots=True)
class MetricSummary:
    """Last value (by step, then time), extremes and point count of one metric of one run."""

    key: str
    last: float
    step: int
    timestamp: int
    min: float
    max: float
    count: int

    def to_json(self) -> dict[str, Any]:
        return {
            "last": json_float(self.last),
            "step": self.step,
            "timestamp": self.timestamp,
            "min": json_float(self.min),
            "max": json_float(self.max),
            "count": self.count,
        }

    @classmethod
    def from_json(cls, key: str, d: dict[str, Any]) -> MetricSummary:
        """The inverse of ``to_json`` ("NaN"/"Infinity" strings become floats again)."""
        return cls(
            key,
            float(d["last"]),
            d["step"],
            d["timestamp"],
            float(d["min"]),
            float(d["max"]),
            d["count"],
        )


@dataclass(slots=True)
class Run:
    id: str
    experiment_id: int
    name: str
    status: RunStatus
    start_time: int
    end_time: int | None
    parent_id: str | None
    user: str
    notes: str
    lifecycle: Lifecycle
    params: dict[str, str] = field(default_factory=dict)
    tags: dict[str, str] = field(default_factory=dict)
    metrics: dict[str, MetricSummary] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "experiment_id": self.experiment_id,
            "name": self.name,
            "status": self.status.value,
            "start_time": self.start_time,
            "end_time": self.end_time,
            "parent_id": self.parent_id,
            "user": self.user,
            "notes": self.notes,
            "lifecycle": self.lifecycle.value,
            "params": self.params,
            "tags": self.tags,
            "metrics": {k: m.to_json() for k, m in self.metrics.items()},
        }


@dataclass(slots=True)
class RunCreate:
    """Create a run if its id is new (idempotent: the same id again is a no-op)."""

    experiment_id: int | None = None
    experiment_name: str | None = None
    name: str | None = None
    parent_id: str | None = None
    start_time: int | None = None
    user: str | None = None


@dataclass(slots=True)
class RunUpdate:
    status: RunStatus | None = None
    end_time: int | None = None
    name: str | None = None
    notes: str | None = None


@dataclass(slots=True)
class MetricPoints:
    """Points of one metric in columns; values may hold NaN and +/-inf."""

    key: str
    steps: Any  # numpy int64 array
    values: Any  # numpy float64 array
    timestamps: Any  # numpy int64 array

    def __len__(self) -> int:
        return len(self.values)


@dataclass(frozen=True, slots=True)
class ModelMetric:
    """One metric point measured for a logged model (MLflow 3), maybe on a named dataset.

    The run that logs it keeps the same point in its own series too.
    """

    model_id: str
    key: str
    value: float  # may be NaN or +/-inf
    step: int
    timestamp: int
    run_id: str | None = None
    dataset_name: str | None = None
    dataset_digest: str | None = None

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "model_id": self.model_id,
            "key": self.key,
            "value": json_float(self.value),
            "step": self.step,
            "timestamp": self.timestamp,
        }
        for name in ("run_id", "dataset_name", "dataset_digest"):
            if getattr(self, name) is not None:
                out[name] = getattr(self, name)
        return out


@dataclass(slots=True)
class RunBatch:
    """Everything one request writes to one run, applied atomically and at most once."""

    run_id: str
    batch_id: str | None = None
    create: RunCreate | None = None
    params: dict[str, str] = field(default_factory=dict)
    tags: dict[str, str] = field(default_factory=dict)
    metrics: list[MetricPoints] = field(default_factory=list)
    update: RunUpdate | None = None
    model_metrics: list[ModelMetric] = field(default_factory=list)  # also in ``metrics``

    @property
    def point_count(self) -> int:
        return sum(len(m) for m in self.metrics)


@dataclass(slots=True)
class RunPage:
    runs: list[Run]
    next_page_token: str | None


def json_float(value: float) -> float | str:
    """A float JSON can carry: NaN and +/-inf become the strings 'NaN', 'Infinity', '-Infinity'."""
    if value != value:
        return "NaN"
    if value == float("inf"):
        return "Infinity"
    if value == float("-inf"):
        return "-Infinity"
    return value
