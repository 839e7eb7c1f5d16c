"""The JSON shapes of domain objects: what the REST API answers and the in-process SDK returns.

One definition, so the SDK returns the same dicts whether it talks to a server or calls the
services of an embedded store.
"""

from __future__ import annotations

from dataclasses import asdict
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from modelyard.datasets.entities import DatasetUse
    from modelyard.registry.entities import ModelVersion, Promotion, RegisteredModel
    from modelyard.store.artifacts.area import ArtifactArea
    from modelyard.store.artifacts.base import ArtifactInfo


def version_json(version: ModelVersion) -> dict[str, Any]:
    return {**asdict(version), "stage": version.stage.value}


def model_json(model: RegisteredModel) -> dict[str, Any]:
    out = asdict(model)
    out["latest"] = {stage.value: version_json(v) for stage, v in model.latest.items()}
    return out


def promotion_json(p: Promotion) -> dict[str, Any]:
    return {**asdict(p), "stage": p.stage.value}


def use_json(use: DatasetUse) -> dict[str, Any]:
    return {**asdict(use), "direction": use.direction.value}


def files_json(area: ArtifactArea) -> list[dict[str, Any]]:
    """The files of an area as ``[{path, digest, size}]``."""
    return [{"path": f.key, "digest": f.digest, "size": f.size} for f in area.files()]


def artifact_json(info: ArtifactInfo) -> dict[str, Any]:
    """One entry of a folder listing."""
    return {"path": info.path, "is_dir": info.is_dir, "size": info.size}
