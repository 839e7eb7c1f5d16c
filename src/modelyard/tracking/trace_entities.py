"""Traces (MLflow 3's GenAI traces): what one call of an instrumented app did, span by span."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from modelyard.errors import InvalidInput

SOURCE_RUN = "mlflow.sourceRun"  # request metadata: the run active when the trace was made
TRACE_NAME = "mlflow.traceName"  # tag: the root span's name
ARTIFACT_LOCATION = "mlflow.artifactLocation"  # tag: where the client uploads the spans
SPANS_LOCATION = "mlflow.trace.spansLocation"  # tag: where the spans are (here: ARTIFACT_REPO)
TRACE_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$")


class TraceState(StrEnum):
    OK = "OK"
    ERROR = "ERROR"
    IN_PROGRESS = "IN_PROGRESS"
    UNSPECIFIED = "STATE_UNSPECIFIED"


def trace_id(value: object) -> str:
    """A trace id as it may appear in a path: ``tr-<32 hex>`` from MLflow, letters, digits,
    ``-`` and ``_`` in general (at most 64)."""
    if not isinstance(value, str) or not TRACE_ID.match(value):
        raise InvalidInput(f"{value!r} is not a valid trace id", field="trace_id")
    return value


@dataclass(frozen=True, slots=True)
class TraceInfo:
    id: str
    experiment_id: int
    request_time: int  # ms since the epoch
    execution_duration: int | None  # ms; None while in progress
    state: TraceState
    metadata: dict[str, str] = field(default_factory=dict)
    tags: dict[str, str] = field(default_factory=dict)
    request_preview: str = ""
    response_preview: str = ""
    client_request_id: str | None = None
    run_ids: tuple[str, ...] = ()  # the source run and the runs linked later

    @property
    def name(self) -> str | None:
        return self.tags.get(TRACE_NAME)

    @property
    def run_id(self) -> str | None:
        return self.metadata.get(SOURCE_RUN)

    @property
    def end_time(self) -> int | None:
        if self.execution_duration is None:
            return None
        return self.request_time + self.execution_duration

    @property
    def artifact_prefix(self) -> str:
        return f"traces/{self.id}"

    def to_json(self) -> dict[str, Any]:
        """modelyard's own API shape."""
        return {
            "trace_id": self.id,
            "experiment_id": self.experiment_id,
            "name": self.name,
            "request_time": self.request_time,
            "execution_duration": self.execution_duration,
            "end_time": self.end_time,
            "state": self.state.value,
            "run_id": self.run_id,
            "run_ids": list(self.run_ids),
            "client_request_id": self.client_request_id,
            "request_preview": self.request_preview,
            "response_preview": self.response_preview,
            "metadata": self.metadata,
            "tags": self.tags,
        }


@dataclass(frozen=True, slots=True)
class Span:
    """One span, read from a trace's span data (values already bounded for display)."""

    span_id: str
    parent_id: str | None
    name: str
    span_type: str
    start_ns: int
    end_ns: int | None
    status: str  # OK | ERROR | UNSET
    status_message: str
    inputs: Any
    outputs: Any
    attributes: dict[str, Any]
    events: list[dict[str, Any]]

    def to_json(self) -> dict[str, Any]:
        return {
            "span_id": self.span_id,
            "parent_id": self.parent_id,
            "name": self.name,
            "span_type": self.span_type,
            "start_ns": self.start_ns,
            "end_ns": self.end_ns,
            "status": self.status,
            "status_message": self.status_message,
            "inputs": self.inputs,
            "outputs": self.outputs,
            "attributes": self.attributes,
            "events": self.events,
        }


@dataclass(frozen=True, slots=True)
class TraceData:
    """A trace's spans, or why they cannot be shown (missing, too large, unreadable)."""

    spans: list[Span]
    problem: str | None = None
    size: int = 0  # bytes of span data stored
