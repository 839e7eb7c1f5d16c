"""Promotion proposals and their reviews."""

from __future__ import annotations

from typing import Any

import orjson
from sqlalchemy import Connection, Row, select

from modelyard.errors import NotFound
from modelyard.registry.entities import Promotion, Review, Stage
from modelyard.store.metadata.sql import now_ms
from modelyard.store.metadata.tables import promotion_comments, promotions


def _to_promotion(row: Row[Any], reviews: list[Review]) -> Promotion:
    return Promotion(
        id=int(row.id),
        name=row.model_name,
        version=int(row.version),
        stage=Stage(row.stage),
        alias=row.alias,
        rules=orjson.loads(row.rules_doc),
        status=row.status,
        proposed_by=row.proposed_by,
        reason=row.reason,
        created_at=int(row.created_at),
        decided_by=row.decided_by,
        decided_at=None if row.decided_at is None else int(row.decided_at),
        gates=orjson.loads(row.gates_doc),
        reviews=reviews,
    )


def create(conn: Connection, p: Promotion) -> Promotion:
    result = conn.execute(
        promotions.insert().values(
            model_name=p.name,
            version=p.version,
            stage=p.stage.value,
            alias=p.alias,
            rules_doc=orjson.dumps(p.rules).decode(),
            status="open",
            proposed_by=p.proposed_by,
            reason=p.reason,
            created_at=p.created_at,
            gates_doc="[]",
        )
    )
    assert result.inserted_primary_key is not None
    return get(conn, int(result.inserted_primary_key[0]))


def get(conn: Connection, promotion_id: int) -> Promotion:
    row = conn.execute(select(promotions).where(promotions.c.id == promotion_id)).first()
    if row is None:
        raise NotFound(f"promotion {promotion_id} does not exist", promotion_id=promotion_id)
    reviews = [
        Review(r.user, r.verdict, r.text, int(r.at))
        for r in conn.execute(
            select(promotion_comments)
            .where(promotion_comments.c.promotion_id == promotion_id)
            .order_by(promotion_comments.c.id)
        )
    ]
    return _to_promotion(row, reviews)


def of_model(conn: Connection, name: str) -> list[Promotion]:
    ids = conn.execute(
        select(promotions.c.id).where(promotions.c.model_name == name).order_by(promotions.c.id)
    ).scalars()
    return [get(conn, int(i)) for i in ids]


def add_review(conn: Connection, promotion_id: int, user: str, verdict: str, text: str) -> None:
    conn.execute(
        promotion_comments.insert().values(
            promotion_id=promotion_id, user=user, verdict=verdict, text=text, at=now_ms()
        )
    )


def decide(
    conn: Connection, promotion_id: int, status: str, user: str, gates: list[dict[str, Any]]
) -> None:
    conn.execute(
        promotions.update()
        .where(promotions.c.id == promotion_id)
        .values(
            status=status,
            decided_by=user,
            decided_at=now_ms(),
            gates_doc=orjson.dumps(gates).decode(),
        )
    )
