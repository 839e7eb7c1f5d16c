"""Alert rules with their evaluation state, their firings and events.

An evaluation writes a rule's state only if the state it read is still stored (``advance``:
compare-and-set on state, last_evaluated and updated_at in the UPDATE itself), so two server
replicas evaluating at once never both fire a rule.
"""

from __future__ import annotations

from typing import Any

import orjson
from sqlalchemy import Connection, Row, delete, func, select
from sqlalchemy.exc import IntegrityError

from modelyard.errors import AlreadyExists, NotFound
from modelyard.monitoring.rules import AlertEvent, AlertRule, Firing
from modelyard.store.metadata.tables import (
    alert_events,
    alert_firings,
    alert_rules,
    deployments,
    registered_models,
)

MAX_EVENTS = 1000


def _to_rule(row: Row[Any]) -> AlertRule:
    return AlertRule(
        id=int(row.id),
        name=row.name,
        deployment=row.deployment,
        metric=row.metric,
        window_s=int(row.window_s),
        op=row.op,
        threshold=float(row.threshold),
        for_s=int(row.for_s),
        channels=tuple(orjson.loads(row.channels_doc)),
        action=row.action,
        enabled=bool(row.enabled),
        created_by=row.created_by,
        created_at=int(row.created_at),
        updated_at=int(row.updated_at),
        state=row.state,
        pending_since=row.pending_since,
        silenced_until=row.silenced_until,
        last_value=row.last_value,
        last_evaluated=row.last_evaluated,
    )


def _to_firing(row: Row[Any]) -> Firing:
    return Firing(
        id=int(row.id),
        rule_id=int(row.rule_id),
        rule_name=row.rule_name,
        deployment=row.deployment,
        started_at=int(row.started_at),
        ended_at=row.ended_at,
        value=row.value,
        status=row.status,
        acknowledged_by=row.acknowledged_by,
        acknowledged_at=row.acknowledged_at,
        resolved_by=row.resolved_by,
        notified_at=row.notified_at,
    )


def _fields(rule: AlertRule) -> dict[str, Any]:
    return {
        "name": rule.name,
        "deployment": rule.deployment,
        "metric": rule.metric,
        "window_s": rule.window_s,
        "op": rule.op,
        "threshold": rule.threshold,
        "for_s": rule.for_s,
        "channels_doc": orjson.dumps(list(rule.channels)).decode(),
        "action": rule.action,
        "enabled": int(rule.enabled),
        "updated_at": rule.updated_at,
    }


def target_exists(conn: Connection, name: str) -> bool:
    """Is ``name`` a deployment or a registered model (whose SDK-logged predictions count)?"""
    if conn.execute(select(deployments.c.name).where(deployments.c.name == name)).first():
        return True
    found = select(registered_models.c.id).where(registered_models.c.name == name)
    return conn.execute(found).first() is not None


def _name_taken(conn: Connection, name: str, other_than: int | None = None) -> bool:
    query = select(alert_rules.c.id).where(alert_rules.c.name == name)
    if other_than is not None:
        query = query.where(alert_rules.c.id != other_than)
    return conn.execute(query).first() is not None


def insert(conn: Connection, rule: AlertRule) -> AlertRule:
    if _name_taken(conn, rule.name):
        raise AlreadyExists(f"alert rule {rule.name!r} already exists", name=rule.name)
    values = {
        **_fields(rule),
        "created_by": rule.created_by,
        "created_at": rule.created_at,
        "state": "ok",
    }
    try:
        result = conn.execute(alert_rules.insert().values(**values))
    except IntegrityError as exc:
        raise AlreadyExists(f"alert rule {rule.name!r} already exists", name=rule.name) from exc
    assert result.inserted_primary_key is not None
    return get(conn, int(result.inserted_primary_key[0]))


def update(conn: Connection, rule: AlertRule) -> AlertRule:
    """Store the rule's definition (not its evaluation state)."""
    if _name_taken(conn, rule.name, other_than=rule.id):
        raise AlreadyExists(f"alert rule {rule.name!r} already exists", name=rule.name)
    try:
        conn.execute(
            alert_rules.update().where(alert_rules.c.id == rule.id).values(**_fields(rule))
        )
    except IntegrityError as exc:
        raise AlreadyExists(f"alert rule {rule.name!r} already exists", name=rule.name) from exc
    return get(conn, rule.id)


def get(conn: Connection, rule_id: int) -> AlertRule:
    row = conn.execute(select(alert_rules).where(alert_rules.c.id == rule_id)).first()
    if row is None:
        raise NotFound(f"alert rule {rule_id} does not exist", rule_id=rule_id)
    return _to_rule(row)


def list_rules(conn: Connection, deployment: str | None = None) -> list[AlertRule]:
    query = select(alert_rules).order_by(alert_rules.c.deployment, alert_rules.c.name)
    if deployment is not None:
        query = query.where(alert_rules.c.deployment == deployment)
    return [_to_rule(r) for r in conn.execute(query)]


def remove(conn: Connection, rule_id: int) -> None:
    conn.execute(delete(alert_rules).where(alert_rules.c.id == rule_id))


def advance(conn: Connection, before: AlertRule, **state: Any) -> bool:
    """Write ``state`` (columns of the rule's evaluation state) if the rule is still as read in
    ``before``; False when another evaluation or an edit came first."""
    last = alert_rules.c.last_evaluated
    same_eval = last.is_(None) if before.last_evaluated is None else last == before.last_evaluated
    result = conn.execute(
        alert_rules.update()
        .where(
            alert_rules.c.id == before.id,
            alert_rules.c.state == before.state,
            alert_rules.c.updated_at == before.updated_at,
            same_eval,
        )
        .values(**state)
    )
    return result.rowcount == 1


def set_state(conn: Connection, rule_id: int, **state: Any) -> None:
    """Write evaluation-state columns unconditionally (a silence, a manual resolve)."""
    conn.execute(alert_rules.update().where(alert_rules.c.id == rule_id).values(**state))


# ---- firings -------------------------------------------------------------------------------


def open_firing(conn: Connection, rule: AlertRule, at: int, value: float | None) -> Firing:
    result = conn.execute(
        alert_firings.insert().values(
            rule_id=rule.id,
            rule_name=rule.name,
            deployment=rule.deployment,
            started_at=at,
            value=value,
            status="firing",
        )
    )
    assert result.inserted_primary_key is not None
    return get_firing(conn, int(result.inserted_primary_key[0]))


def get_firing(conn: Connection, firing_id: int) -> Firing:
    row = conn.execute(select(alert_firings).where(alert_firings.c.id == firing_id)).first()
    if row is None:
        raise NotFound(f"alert firing {firing_id} does not exist", firing_id=firing_id)
    return _to_firing(row)


def active_firing(conn: Connection, rule_id: int) -> Firing | None:
    """The rule's firing not resolved yet (at most one)."""
    row = conn.execute(
        select(alert_firings)
        .where(alert_firings.c.rule_id == rule_id, alert_firings.c.status != "resolved")
        .order_by(alert_firings.c.started_at.desc(), alert_firings.c.id.desc())
    ).first()
    return None if row is None else _to_firing(row)


def change_firing(
    conn: Connection, firing_id: int, *, only_active: bool = False, **values: Any
) -> bool:
    query = alert_firings.update().where(alert_firings.c.id == firing_id)
    if only_active:
        query = query.where(alert_firings.c.status != "resolved")
    return conn.execute(query.values(**values)).rowcount == 1


def claim_notice(conn: Connection, firing_id: int, at: int) -> bool:
    """Mark the firing notified at ``at`` if it is still ``firing`` (not acknowledged or
    resolved meanwhile); False: nothing to send."""
    result = conn.execute(
        alert_firings.update()
        .where(alert_firings.c.id == firing_id, alert_firings.c.status == "firing")
        .values(notified_at=at)
    )
    return result.rowcount == 1


def firings(
    conn: Connection,
    *,
    deployment: str | None = None,
    status: str | None = None,
    rule_id: int | None = None,
    limit: int = 1000,
) -> list[Firing]:
    """Firings, newest first; ``status="active"`` means firing or acknowledged."""
    query = select(alert_firings)
    if deployment is not None:
        query = query.where(alert_firings.c.deployment == deployment)
    if rule_id is not None:
        query = query.where(alert_firings.c.rule_id == rule_id)
    if status == "active":
        query = query.where(alert_firings.c.status != "resolved")
    elif status is not None:
        query = query.where(alert_firings.c.status == status)
    query = query.order_by(alert_firings.c.started_at.desc(), alert_firings.c.id.desc())
    return [_to_firing(r) for r in conn.execute(query.limit(limit))]


def count_active(conn: Connection, deployment: str) -> int:
    """Firings of the deployment not resolved yet."""
    query = select(func.count()).where(
        alert_firings.c.deployment == deployment, alert_firings.c.status != "resolved"
    )
    return int(conn.execute(query).scalar_one())


# ---- events --------------------------------------------------------------------------------


def add_event(
    conn: Connection,
    rule_id: int,
    firing_id: int | None,
    at: int,
    kind: str,
    actor: str,
    **detail: Any,
) -> None:
    conn.execute(
        alert_events.insert().values(
            rule_id=rule_id,
            firing_id=firing_id,
            at=at,
            kind=kind,
            actor=actor,
            detail_doc=orjson.dumps(detail).decode(),
        )
    )


def events(
    conn: Connection, rule_id: int, *, firing_id: int | None = None, limit: int = MAX_EVENTS
) -> list[AlertEvent]:
    """The rule's events, oldest first (the newest ``limit``); kept after it is deleted."""
    query = select(alert_events).where(alert_events.c.rule_id == rule_id)
    if firing_id is not None:
        query = query.where(alert_events.c.firing_id == firing_id)
    newest = query.order_by(alert_events.c.at.desc(), alert_events.c.id.desc()).limit(limit)
    rows = list(conn.execute(newest))
    rows.reverse()
    return [
        AlertEvent(
            int(r.id), int(r.rule_id), r.firing_id, int(r.at), r.kind, r.actor,
            orjson.loads(r.detail_doc),
        )
        for r in rows
    ]  # fmt: skip


def any_event(conn: Connection, rule_id: int) -> bool:
    query = select(alert_events.c.id).where(alert_events.c.rule_id == rule_id).limit(1)
    return conn.execute(query).first() is not None
