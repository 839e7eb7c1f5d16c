"""/api/v1: the promotion workflow (propose, comment, check, approve, reject)."""

from __future__ import annotations

from functools import partial

from fastapi import APIRouter, Depends
from starlette.concurrency import run_in_threadpool

from modelyard.registry.entities import Promotion
from modelyard.registry.promotions import PromotionService
from modelyard.server.deps import promotions
from modelyard.server.identity import Identity, identify
from modelyard.server.responses import JSONOut
from modelyard.server.schemas import CommentIn, DecisionIn, PromotionIn
from modelyard.wire import promotion_json

router = APIRouter(tags=["promotions"])


@router.post("/models/{name}/versions/{version}/promotions", status_code=201)
async def propose(
    name: str,
    version: int,
    body: PromotionIn,
    svc: PromotionService = Depends(promotions),
    who: Identity = Depends(identify),
) -> JSONOut:
    """Propose the version for a stage (and an alias), optionally gated by metric rules."""

    def job() -> Promotion:
        return svc.propose(
            name, version, body.stage, rules=body.rules, alias=body.alias, reason=body.reason,
            user=who.name,
        )  # fmt: skip

    return JSONOut(promotion_json(await run_in_threadpool(job)), status_code=201)


@router.get("/models/{name}/promotions")
async def of_model(name: str, svc: PromotionService = Depends(promotions)) -> JSONOut:
    return JSONOut([promotion_json(p) for p in await run_in_threadpool(svc.of_model, name)])


@router.get("/promotions/{promotion_id}")
async def get(promotion_id: int, svc: PromotionService = Depends(promotions)) -> JSONOut:
    return JSONOut(promotion_json(await run_in_threadpool(svc.get, promotion_id)))


@router.get("/promotions/{promotion_id}/check")
async def check(promotion_id: int, svc: PromotionService = Depends(promotions)) -> JSONOut:
    """The rules evaluated now, without deciding."""
    outcomes = await run_in_threadpool(svc.check, promotion_id)
    return JSONOut([o.to_json() for o in outcomes])


@router.post("/promotions/{promotion_id}/comments", status_code=201)
async def comment(
    promotion_id: int,
    body: CommentIn,
    svc: PromotionService = Depends(promotions),
    who: Identity = Depends(identify),
) -> JSONOut:
    found = await run_in_threadpool(svc.comment, promotion_id, body.text, who.name)
    return JSONOut(promotion_json(found), status_code=201)


@router.post("/promotions/{promotion_id}/approve")
async def approve(
    promotion_id: int,
    body: DecisionIn,
    svc: PromotionService = Depends(promotions),
    who: Identity = Depends(identify),
) -> JSONOut:
    """Approve: the rules must hold; then the stage changes and the alias moves."""
    found = await run_in_threadpool(
        partial(svc.decide, promotion_id, True, user=who.name, comment=body.comment)
    )
    return JSONOut(promotion_json(found))


@router.post("/promotions/{promotion_id}/reject")
async def reject(
    promotion_id: int,
    body: DecisionIn,
    svc: PromotionService = Depends(promotions),
    who: Identity = Depends(identify),
) -> JSONOut:
    found = await run_in_threadpool(
        partial(svc.decide, promotion_id, False, user=who.name, comment=body.comment)
    )
    return JSONOut(promotion_json(found))
