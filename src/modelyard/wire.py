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
    from modelyard.serving.entities import Deployment, DeploymentEvent, Instance
    from modelyard.store.artifacts.area import ArtifactArea
    from modelyard.store.artifacts.base import ArtifactInfo


def version_json(version: ModelVersion) -> dict[str, Any]:
    return {
        **asdict(version),
        "stage": version.stage.value,
        "needs_trust": needs_trust(version.package),
    }


def needs_trust(package: dict[str, Any] | None) -> bool | None:
    """Whether loading the version needs a person's trust, from the flavor table and the model
    file's format (the manifest's own ``safe`` can only add caution); None without a package.
    A skops file holding types outside skops' trusted list is found only when it is loaded."""
    if not package:
        return None
    from modelyard.errors import InvalidInput
    from modelyard.packaging import manifest as mf

    try:
        manifest = mf.Manifest.from_json(package)
        return mf.check(manifest) or not manifest.safe
    except InvalidInput:  # e.g. an old version claiming safe over a format that runs code
        return True


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


def deployment_json(d: Deployment) -> dict[str, Any]:
    """A deployment with its policy (what the serving processes route by)."""
    return {
        "name": d.name,
        "model": d.model,
        "follow": d.follow,
        "engine": d.engine,
        "port": d.port,
        "replicas": d.replicas,
        "created_by": d.created_by,
        "created_at": d.created_at,
        "updated_at": d.updated_at,
        "revision": d.revision,
        **d.policy(),
    }


def instance_json(instance: Instance, now_ms: int) -> dict[str, Any]:
    """An instance's latest heartbeat; ``stale`` when it has not reported for a while."""
    return {
        "instance": instance.instance,
        "url": instance.url,
        "last_seen": instance.last_seen,
        "stale": not instance.live(now_ms),
        "versions": {
            str(v): {"state": r.state, "error": r.error, "rps": r.rps, **r.counters.to_json()}
            for v, r in instance.versions.items()
        },
    }


def deployment_status_json(d: Deployment, instances: list[Instance], now_ms: int) -> dict[str, Any]:
    """A deployment with its instances (stale ones flagged) and live figures per version."""
    from modelyard.serving.rollouts import version_stats

    stats = version_stats(instances, now_ms)
    return {
        **deployment_json(d),
        "instances": [instance_json(i, now_ms) for i in instances],
        "stats": {str(v): s.to_json() for v, s in sorted(stats.items())},
    }


def deployment_event_json(e: DeploymentEvent) -> dict[str, Any]:
    return asdict(e)
