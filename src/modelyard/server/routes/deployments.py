"""/api/v1/deployments: deployments, their traffic policy, rollouts, history and heartbeats."""

from __future__ import annotations

from functools import partial
from typing import Any

from fastapi import APIRouter, Depends, Query, Request
from starlette.concurrency import run_in_threadpool

from modelyard.access.entities import Kind
from modelyard.server import permissions
from modelyard.server.deps import service
from modelyard.server.identity import Identity, identify
from modelyard.server.responses import JSONOut
from modelyard.server.schemas import (
    DeploymentCreateIn,
    HeartbeatIn,
    LoggingChangeIn,
    PromoteIn,
    RollbackIn,
    ServingTokenIn,
    TrafficIn,
)
from modelyard.serving.deployments import DeploymentService
from modelyard.serving.entities import SERVING_TOKEN_HEADER, Deployment
from modelyard.serving.logs import MAX_LINES, tail
from modelyard.wire import deployment_event_json, deployment_json, deployment_status_json

router = APIRouter(prefix="/deployments", tags=["deployments"])
deployments = service("deployments", DeploymentService)


@router.post("", status_code=201)
async def create(
    body: DeploymentCreateIn,
    request: Request,
    svc: DeploymentService = Depends(deployments),
    who: Identity = Depends(identify),
) -> JSONOut:
    """A deployment of ``models:/NAME@ALIAS`` (following the alias) or ``models:/NAME/N``;
    its creator becomes its maintainer."""
    make = partial(
        svc.create,
        body.name,
        body.model,
        user=who.name,
        engine=body.engine,
        port=body.port,
        replicas=body.replicas,
        rollout=None if body.rollout is None else body.rollout.model_dump(),
        sticky_header=body.sticky_header,
        logging=None if body.logging is None else body.logging.model_dump(),
        reason=body.reason,
        serving_url=body.serving_url,
    )

    def job() -> Deployment:
        made = make()
        permissions.made(request, Kind.DEPLOYMENT, made.name)
        return made

    return JSONOut(deployment_json(await run_in_threadpool(job)), status_code=201)


@router.get("")
async def list_all(request: Request, svc: DeploymentService = Depends(deployments)) -> JSONOut:
    """The deployments the caller may read."""

    def job() -> list[Deployment]:
        readable = permissions.readable(request, Kind.DEPLOYMENT)
        return [d for d in svc.list_all() if readable is None or d.name in readable]

    found = await run_in_threadpool(job)
    return JSONOut({"deployments": [deployment_json(d) for d in found]})


@router.get("/{name}")
async def get(name: str, svc: DeploymentService = Depends(deployments)) -> JSONOut:
    """The deployment, its instances (stale ones flagged) and live figures per version."""

    def job() -> dict[str, Any]:
        d, instances = svc.status(name)
        return deployment_status_json(d, instances, svc.clock())

    return JSONOut(await run_in_threadpool(job))


@router.post("/{name}/traffic")
async def set_traffic(
    name: str,
    body: TrafficIn,
    svc: DeploymentService = Depends(deployments),
    who: Identity = Depends(identify),
) -> JSONOut:
    """Set the live split (A/B, manual canary), the shadow versions and the sticky header."""
    job = partial(
        svc.set_traffic,
        name,
        [s.model_dump() for s in body.traffic],
        user=who.name,
        shadow=body.shadow,
        sticky_header=body.sticky_header if "sticky_header" in body.model_fields_set else ...,
        reason=body.reason,
        revision=body.revision,
    )
    return JSONOut(deployment_json(await run_in_threadpool(job)))


@router.post("/{name}/logging")
async def set_logging(
    name: str,
    body: LoggingChangeIn,
    svc: DeploymentService = Depends(deployments),
    who: Identity = Depends(identify),
) -> JSONOut:
    """Set what the prediction log keeps: columns excluded, columns hashed, the share logged."""
    job = partial(
        svc.set_logging,
        name,
        body.model_dump(include={"exclude", "hash", "sample"}),
        user=who.name,
        reason=body.reason,
        revision=body.revision,
    )
    return JSONOut(deployment_json(await run_in_threadpool(job)))


@router.post("/{name}/promote")
async def promote(
    name: str,
    body: PromoteIn,
    svc: DeploymentService = Depends(deployments),
    who: Identity = Depends(identify),
) -> JSONOut:
    """Roll a version out by the deployment's strategy (blue-green or canary with gates)."""
    job = partial(
        svc.promote,
        name,
        body.version,
        user=who.name,
        reason=body.reason,
        strategy=body.strategy,
        revision=body.revision,
    )
    return JSONOut(deployment_json(await run_in_threadpool(job)))


@router.post("/{name}/rollback")
async def rollback(
    name: str,
    body: RollbackIn,
    svc: DeploymentService = Depends(deployments),
    who: Identity = Depends(identify),
) -> JSONOut:
    """Call off the rollout in progress, or go back to the previous stable version."""
    job = partial(svc.rollback, name, user=who.name, reason=body.reason, revision=body.revision)
    return JSONOut(deployment_json(await run_in_threadpool(job)))


@router.delete("/{name}")
async def delete(
    name: str,
    request: Request,
    reason: str = "",
    svc: DeploymentService = Depends(deployments),
    who: Identity = Depends(identify),
) -> JSONOut:
    """Remove the deployment (its serving processes stop); its history stays, its grants go
    (a namesake made later does not inherit them)."""

    def job() -> None:
        svc.delete(name, user=who.name, reason=reason)
        permissions.forget(request, Kind.DEPLOYMENT, name)

    await run_in_threadpool(job)
    return JSONOut({})


@router.get("/{name}/history")
async def history(name: str, svc: DeploymentService = Depends(deployments)) -> JSONOut:
    """Every policy change, oldest first: who or what, why, traffic before and after."""
    found = await run_in_threadpool(svc.history, name)
    return JSONOut([deployment_event_json(e) for e in found])


@router.get("/{name}/logs")
async def logs(
    name: str,
    lines: int = Query(200, ge=0, le=MAX_LINES),
    svc: DeploymentService = Depends(deployments),
) -> JSONOut:
    """The last lines its serving processes wrote (started by this server)."""
    await run_in_threadpool(svc.get, name)  # RESOURCE_DOES_NOT_EXIST for an unknown name
    return JSONOut({"deployment": name, "lines": await run_in_threadpool(tail, name, lines)})


@router.post("/{name}/heartbeat")
async def heartbeat(
    name: str,
    body: HeartbeatIn,
    request: Request,
    svc: DeploymentService = Depends(deployments),
) -> JSONOut:
    """A serving process reports its versions; the answer is the policy it must serve, with
    the logging key (the one answer that holds it: the process hashes logged columns with it).
    It must send the deployment's serving token in ``X-Serving-Token`` (401 otherwise, auth
    on or off); with auth on, the URL it reports must be on loopback or its own address (or the
    ``serving_url`` a maintainer set for an external or Ray deployment)."""
    versions = {k: r.model_dump() for k, r in body.versions.items()}
    auth = getattr(request.app.state.settings, "auth", False)
    address = (request.client.host if request.client is not None else "") if auth else None
    job = partial(
        svc.heartbeat,
        name,
        body.instance,
        body.url,
        versions,
        token=request.headers.get(SERVING_TOKEN_HEADER),
        address=address,
    )
    found = await run_in_threadpool(job)
    return JSONOut({**deployment_json(found), "logging": found.logging.secret_json()})


@router.post("/{name}/serving-token")
async def serving_token(
    name: str,
    body: ServingTokenIn | None = None,
    svc: DeploymentService = Depends(deployments),
    who: Identity = Depends(identify),
) -> JSONOut:
    """A new serving token for the deployment, shown this once (the old one stops working;
    processes this server started are restarted with the new one). For an external
    deployment, give it to its processes as MODELYARD_SERVING_TOKEN; ``serving_url`` says where
    its callers reach it when that is not on this host."""
    given = body or ServingTokenIn()
    keep = "serving_url" not in given.model_fields_set
    job = partial(
        svc.serving_token,
        name,
        user=who.name,
        serving_url=... if keep else given.serving_url,
        reason=given.reason,
    )
    found, token = await run_in_threadpool(job)
    answer = {"deployment": found.name, "token": token, "serving_url": found.serving_url}
    return JSONOut(answer, headers={"Cache-Control": "no-store"})
