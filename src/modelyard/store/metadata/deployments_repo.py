"""Deployments, their instances' latest heartbeats, and their history.

A deployment's policy is one JSON document; ``update`` writes it only if the stored revision is
still the one the caller read (compare-and-set in the UPDATE itself).
"""

from __future__ import annotations

from typing import Any

import orjson
from sqlalchemy import Connection, Row, delete, select
from sqlalchemy.exc import IntegrityError

from modelyard.errors import AlreadyExists, NotFound
from modelyard.serving.entities import (
    Candidate,
    Counters,
    Deployment,
    DeploymentEvent,
    Instance,
    LogPolicy,
    Rollout,
    Split,
    VersionReport,
)
from modelyard.store.metadata.sql import upsert
from modelyard.store.metadata.tables import (
    deployment_events,
    deployment_instances,
    deployments,
    registry_events,
)


def _policy(d: Deployment) -> str:
    secrets = {"logging": d.logging.secret_json(), "serving_secret": d.serving_secret}
    return orjson.dumps({**d.policy(), **secrets}).decode()


def _to_deployment(row: Row[Any]) -> Deployment:
    p = orjson.loads(row.policy_doc)
    return Deployment(
        name=row.name,
        model=row.model_name,
        follow=row.follow,
        engine=row.engine,
        port=row.port,
        replicas=int(row.replicas),
        created_by=row.created_by,
        created_at=int(row.created_at),
        updated_at=int(row.updated_at),
        revision=int(row.revision),
        traffic=tuple(Split(int(s["version"]), float(s["weight"])) for s in p["traffic"]),
        shadow=tuple(int(v) for v in p["shadow"]),
        warm=tuple(int(v) for v in p["warm"]),
        sticky_header=p["sticky_header"],
        rollout=Rollout.from_json(p["rollout"]),
        stable=int(p["stable"]),
        previous=p["previous"],
        candidate=None if p["candidate"] is None else Candidate.from_json(p["candidate"]),
        followed=p["followed"],
        logging=LogPolicy.from_json(p.get("logging")),
        serving_secret=str(p.get("serving_secret", "")),
        serving_url=p.get("serving_url"),
    )


def insert(conn: Connection, d: Deployment) -> Deployment:
    if conn.execute(select(deployments.c.name).where(deployments.c.name == d.name)).first():
        raise AlreadyExists(f"deployment {d.name!r} already exists", name=d.name)
    try:
        conn.execute(
            deployments.insert().values(
                name=d.name,
                model_name=d.model,
                follow=d.follow,
                engine=d.engine,
                port=d.port,
                replicas=d.replicas,
                created_by=d.created_by,
                created_at=d.created_at,
                updated_at=d.updated_at,
                revision=d.revision,
                policy_doc=_policy(d),
            )
        )
    except IntegrityError as exc:
        raise AlreadyExists(f"deployment {d.name!r} already exists", name=d.name) from exc
    return d


def get(conn: Connection, name: str) -> Deployment:
    row = conn.execute(select(deployments).where(deployments.c.name == name)).first()
    if row is None:
        raise NotFound(f"deployment {name!r} does not exist", name=name)
    return _to_deployment(row)


def list_all(conn: Connection) -> list[Deployment]:
    rows = conn.execute(select(deployments).order_by(deployments.c.name))
    return [_to_deployment(r) for r in rows]


def update(conn: Connection, d: Deployment, expected: int) -> bool:
    """Store ``d`` (its ``revision`` already the next one) if the stored revision is still
    ``expected``; False when another writer changed it first."""
    result = conn.execute(
        deployments.update()
        .where(deployments.c.name == d.name, deployments.c.revision == expected)
        .values(
            follow=d.follow,
            port=d.port,
            replicas=d.replicas,
            updated_at=d.updated_at,
            revision=d.revision,
            policy_doc=_policy(d),
        )
    )
    return result.rowcount == 1


def remove(conn: Connection, name: str) -> None:
    conn.execute(delete(deployment_instances).where(deployment_instances.c.deployment == name))
    conn.execute(delete(deployments).where(deployments.c.name == name))


def _report_json(versions: dict[int, VersionReport]) -> str:
    return orjson.dumps(
        {
            str(v): {"state": r.state, "error": r.error, "rps": r.rps, **r.counters.to_json()}
            for v, r in versions.items()
        }
    ).decode()


def _to_instance(row: Row[Any]) -> Instance:
    versions = {
        int(v): VersionReport(r["state"], r["error"], Counters.from_json(r), float(r["rps"]))
        for v, r in orjson.loads(row.report_doc).items()
    }
    return Instance(row.deployment, row.instance, row.url, int(row.last_seen), versions)


def put_instance(conn: Connection, instance: Instance, forget_before: int) -> None:
    """Keep this heartbeat as the instance's latest; drop instances silent since
    ``forget_before`` (processes that ended)."""
    row = {
        "deployment": instance.deployment,
        "instance": instance.instance,
        "url": instance.url,
        "last_seen": instance.last_seen,
        "report_doc": _report_json(instance.versions),
    }
    try:
        upsert(conn, deployment_instances, [row], ["deployment", "instance"])
    except IntegrityError as exc:  # deleted meanwhile (PostgreSQL: the foreign key)
        raise NotFound(
            f"deployment {instance.deployment!r} does not exist", name=instance.deployment
        ) from exc
    conn.execute(
        delete(deployment_instances).where(
            deployment_instances.c.deployment == instance.deployment,
            deployment_instances.c.last_seen < forget_before,
        )
    )


def instances(conn: Connection, name: str | None = None) -> list[Instance]:
    """The instances of one deployment (of all without ``name``), by name."""
    query = select(deployment_instances).order_by(
        deployment_instances.c.deployment, deployment_instances.c.instance
    )
    if name is not None:
        query = query.where(deployment_instances.c.deployment == name)
    return [_to_instance(r) for r in conn.execute(query)]


def add_event(
    conn: Connection,
    name: str,
    at: int,
    actor: str,
    action: str,
    reason: str,
    before: dict[str, Any],
    after: dict[str, Any],
) -> None:
    conn.execute(
        deployment_events.insert().values(
            deployment=name,
            at=at,
            actor=actor,
            action=action,
            reason=reason,
            before_doc=orjson.dumps(before).decode(),
            after_doc=orjson.dumps(after).decode(),
        )
    )


def events(conn: Connection, name: str) -> list[DeploymentEvent]:
    """The deployment's history, oldest first (kept after it is deleted)."""
    rows = conn.execute(
        select(deployment_events)
        .where(deployment_events.c.deployment == name)
        .order_by(deployment_events.c.at, deployment_events.c.id)
    )
    return [
        DeploymentEvent(
            id=int(r.id),
            deployment=r.deployment,
            at=int(r.at),
            actor=r.actor,
            action=r.action,
            reason=r.reason,
            before=orjson.loads(r.before_doc),
            after=orjson.loads(r.after_doc),
        )
        for r in rows
    ]


def alias_move(conn: Connection, model: str, alias: str) -> tuple[str, str] | None:
    """Who made the newest move of ``alias`` and why, from the registry's history."""
    rows = conn.execute(
        select(registry_events.c.user, registry_events.c.detail)
        .where(registry_events.c.model_name == model, registry_events.c.action == "alias_set")
        .order_by(registry_events.c.at.desc(), registry_events.c.id.desc())
        .limit(200)
    )
    for user, detail in rows:
        doc = orjson.loads(detail)
        if doc.get("alias") == alias:
            return str(user), str(doc.get("reason") or "")
    return None
