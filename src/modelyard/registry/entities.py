"""Typed objects of the registry: models logged by runs, registered models and their versions."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum

from modelyard.tracking.entities import ModelMetric


class LoggedModelStatus(StrEnum):
    PENDING = "PENDING"  # files are being uploaded
    READY = "READY"
    FAILED = "FAILED"


class Stage(StrEnum):
    NONE = "None"
    STAGING = "Staging"
    PRODUCTION = "Production"
    ARCHIVED = "Archived"
    RETIRED = "Retired"  # out of service for good: kept for lineage and audit, never loaded

    @classmethod
    def parse(cls, value: str) -> Stage:
        """Stages are case-insensitive on input (``production`` is Production)."""
        for stage in cls:
            if stage.value.lower() == str(value).strip().lower():
                return stage
        raise ValueError(value)


@dataclass(slots=True)
class LoggedModel:
    """A model's files as a run logged them, before (or without) registration."""

    id: str  # "m-" + 32 hex
    experiment_id: int
    name: str
    run_id: str | None
    status: LoggedModelStatus
    status_message: str
    model_type: str
    created_at: int
    updated_at: int
    params: dict[str, str] = field(default_factory=dict)
    tags: dict[str, str] = field(default_factory=dict)
    metrics: list[ModelMetric] = field(default_factory=list)  # in the order they were logged

    @property
    def artifact_prefix(self) -> str:
        return f"models/{self.id}"


@dataclass(slots=True)
class ModelVersion:
    name: str
    version: int
    source: str  # as given at registration (runs:/..., models:/m-..., mlflow-artifacts:/...)
    artifact_prefix: str  # where its files are in the artifact store (lineage to run or model)
    run_id: str | None
    logged_model_id: str | None
    description: str
    stage: Stage
    user: str
    created_at: int
    updated_at: int
    tags: dict[str, str] = field(default_factory=dict)
    aliases: list[str] = field(default_factory=list)
    package_digest: str | None = None  # sha256 of its modelyard.json, for packaged versions
    package: dict[str, object] | None = None  # the manifest: flavor, signature, dependencies
    trusted: bool = False  # someone allowed this package digest to load although it runs code


@dataclass(slots=True)
class RegisteredModel:
    name: str
    description: str
    user: str
    created_at: int
    updated_at: int
    tags: dict[str, str] = field(default_factory=dict)
    aliases: dict[str, int] = field(default_factory=dict)  # alias -> version
    card: str = ""  # Markdown model card
    latest: dict[Stage, ModelVersion] = field(default_factory=dict)  # newest version per stage


@dataclass(slots=True)
class RegistryEvent:
    """One change to a registered model, for its history: who did what, when."""

    model: str
    version: int | None
    action: str  # created, version_created, alias_set, alias_deleted, stage_changed, deleted, ...
    detail: dict[str, object]
    user: str
    at: int


@dataclass(slots=True)
class Review:
    user: str
    verdict: str  # comment | approve | reject
    text: str
    at: int


@dataclass(slots=True)
class Promotion:
    """A proposal to move a version to a stage (and an alias), and its review."""

    id: int
    name: str
    version: int
    stage: Stage
    alias: str | None
    rules: list[str]
    status: str  # open | approved | rejected
    proposed_by: str
    reason: str
    created_at: int
    decided_by: str | None = None
    decided_at: int | None = None
    gates: list[dict[str, object]] = field(default_factory=list)
    reviews: list[Review] = field(default_factory=list)
