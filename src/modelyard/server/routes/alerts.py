"""/api/v1/monitoring/alerts: alert rules, their firings and history."""

from __future__ import annotations

from functools import partial

from fastapi import APIRouter, Body, Depends, Query, Request
from starlette.concurrency import run_in_threadpool

from modelyard.monitoring.alerting import AlertService
from modelyard.monitoring.rules import AlertRule, Firing
from modelyard.server import permissions
from modelyard.server.alert_schemas import AlertRuleIn, AlertRuleUpdateIn, SilenceIn
from modelyard.server.deps import service
from modelyard.server.identity import Identity, identify
from modelyard.server.responses import JSONOut

router = APIRouter(prefix="/monitoring/alerts", tags=["alerts"])
alerts = service("alerts", AlertService)


@router.get("/rules")
async def list_rules(
    request: Request, deployment: str | None = None, svc: AlertService = Depends(alerts)
) -> JSONOut:
    """The rules (of one deployment) the caller may read, with their evaluation state."""

    def job() -> list[AlertRule]:
        visible = permissions.monitored_readable(request)
        return [r for r in svc.rules(deployment) if visible(r.deployment)]

    found = await run_in_threadpool(job)
    now = svc.clock()
    return JSONOut({"rules": [r.to_json(now) for r in found]})


@router.post("/rules", status_code=201)
async def create_rule(
    body: AlertRuleIn, svc: AlertService = Depends(alerts), who: Identity = Depends(identify)
) -> JSONOut:
    """A rule on one figure of a deployment: metric, window, op, threshold, for, channels."""
    job = partial(
        svc.create_rule,
        body.name,
        body.deployment,
        body.metric,
        window=body.window,
        op=body.op,
        threshold=body.threshold,
        for_s=body.for_,
        channels=body.channels,
        action=body.action,
        enabled=body.enabled,
        user=who.name,
    )
    return JSONOut((await run_in_threadpool(job)).to_json(svc.clock()), status_code=201)


@router.get("/rules/{rule_id}")
async def get_rule(rule_id: int, svc: AlertService = Depends(alerts)) -> JSONOut:
    return JSONOut((await run_in_threadpool(svc.get_rule, rule_id)).to_json(svc.clock()))


@router.patch("/rules/{rule_id}")
async def update_rule(
    rule_id: int,
    body: AlertRuleUpdateIn,
    svc: AlertService = Depends(alerts),
    who: Identity = Depends(identify),
) -> JSONOut:
    """Change the fields sent; disabling a firing rule resolves its firing."""
    job = partial(svc.update_rule, rule_id, body.changes(), user=who.name)
    return JSONOut((await run_in_threadpool(job)).to_json(svc.clock()))


@router.delete("/rules/{rule_id}")
async def delete_rule(
    rule_id: int, svc: AlertService = Depends(alerts), who: Identity = Depends(identify)
) -> JSONOut:
    """Remove the rule; its firings and events stay."""
    await run_in_threadpool(partial(svc.delete_rule, rule_id, user=who.name))
    return JSONOut({})


@router.post("/rules/{rule_id}/silence")
async def silence(
    rule_id: int,
    body: SilenceIn,
    svc: AlertService = Depends(alerts),
    who: Identity = Depends(identify),
) -> JSONOut:
    """No notification for ``minutes``; the rule still evaluates and records firings."""
    job = partial(svc.silence, rule_id, body.minutes, user=who.name)
    return JSONOut((await run_in_threadpool(job)).to_json(svc.clock()))


@router.post("/rules/{rule_id}/unsilence")
async def unsilence(
    rule_id: int,
    _body: dict[str, object] | None = Body(None),
    svc: AlertService = Depends(alerts),
    who: Identity = Depends(identify),
) -> JSONOut:
    job = partial(svc.unsilence, rule_id, user=who.name)
    return JSONOut((await run_in_threadpool(job)).to_json(svc.clock()))


@router.get("/rules/{rule_id}/events")
async def events(
    rule_id: int, firing_id: int | None = None, svc: AlertService = Depends(alerts)
) -> JSONOut:
    """The rule's history, oldest first: transitions, notifications sent or failed, actions."""
    found = await run_in_threadpool(partial(svc.events, rule_id, firing_id=firing_id))
    return JSONOut({"events": [e.to_json() for e in found]})


@router.get("/firings")
async def firings(
    request: Request,
    deployment: str | None = None,
    status: str | None = None,
    rule_id: int | None = None,
    limit: int = Query(1000, ge=1, le=10_000),
    svc: AlertService = Depends(alerts),
) -> JSONOut:
    """Firings the caller may read, newest first; ``status``: firing, acknowledged, resolved
    or active."""

    def job() -> list[Firing]:
        visible = permissions.monitored_readable(request)
        found = svc.firings(deployment=deployment, status=status, rule_id=rule_id, limit=limit)
        return [f for f in found if visible(f.deployment)]

    return JSONOut({"firings": [f.to_json() for f in await run_in_threadpool(job)]})


@router.post("/firings/{firing_id}/acknowledge")
async def acknowledge(
    firing_id: int,
    _body: dict[str, object] | None = Body(None),
    svc: AlertService = Depends(alerts),
    who: Identity = Depends(identify),
) -> JSONOut:
    """Someone is on it: no repeated notifications of this firing."""
    job = partial(svc.acknowledge, firing_id, user=who.name)
    return JSONOut((await run_in_threadpool(job)).to_json())


@router.post("/firings/{firing_id}/resolve")
async def resolve(
    firing_id: int,
    _body: dict[str, object] | None = Body(None),
    svc: AlertService = Depends(alerts),
    who: Identity = Depends(identify),
) -> JSONOut:
    """End the firing; the rule fires again once its condition was false and true again."""
    job = partial(svc.resolve, firing_id, user=who.name)
    return JSONOut((await run_in_threadpool(job)).to_json())
