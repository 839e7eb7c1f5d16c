"""/api/v1/audit: the audit log, for server admins: query, verify the chain, export."""

from __future__ import annotations

from collections.abc import Iterator

from fastapi import APIRouter, Depends, Request
from starlette.concurrency import run_in_threadpool
from starlette.responses import StreamingResponse

from modelyard.access.audit import AuditLog, Filter, csv_lines, jsonl
from modelyard.errors import InvalidInput
from modelyard.server.responses import JSONOut

router = APIRouter(prefix="/audit", tags=["audit"])
_FORMATS = {"jsonl": "application/x-ndjson", "csv": "text/csv; charset=utf-8"}


def audit_log(request: Request) -> AuditLog:
    found: AuditLog = request.app.state.audit
    return found


def where(
    actor: str | None = None,
    object_kind: str | None = None,
    object_id: str | None = None,
    action: str | None = None,
    since: int | None = None,
    until: int | None = None,
) -> Filter:
    """The records asked for: by actor, object, a piece of the action, time (ms; ``since``
    inclusive, ``until`` exclusive)."""
    return Filter(actor, object_kind, object_id, action, since, until)


@router.get("")
async def query(
    limit: int = 100,
    after_seq: int | None = None,
    before_seq: int | None = None,
    order: str = "asc",
    chosen: Filter = Depends(where),
    log: AuditLog = Depends(audit_log),
) -> JSONOut:
    """One page of records, oldest first (next page: ``after_seq=next_after_seq``), or newest
    first with ``order=desc`` (next page: ``before_seq=next_before_seq``)."""
    if order not in ("asc", "desc"):
        raise InvalidInput("order must be asc or desc", field="order")
    page = await run_in_threadpool(
        log.query,
        chosen,
        limit=limit,
        after_seq=after_seq,
        before_seq=before_seq,
        newest_first=order == "desc",
    )
    return JSONOut(page.to_json())


@router.get("/verify")
async def verify(log: AuditLog = Depends(audit_log)) -> JSONOut:
    """Walk the whole chain: ``ok`` false with the problems found (edited, missing, reordered
    records, a head off the chain); ``head_hash`` is worth keeping elsewhere."""
    return JSONOut((await run_in_threadpool(log.verify)).to_json())


@router.get("/export")
def export(
    format: str = "jsonl",
    limit: int | None = None,
    chosen: Filter = Depends(where),
    log: AuditLog = Depends(audit_log),
) -> StreamingResponse:
    """Every matching record, oldest first, streamed as JSON Lines or CSV."""
    if format not in _FORMATS:
        raise InvalidInput("format must be jsonl or csv", field="format")
    if limit is not None and limit < 1:
        raise InvalidInput("limit must be at least 1", field="limit")
    records = log.records(chosen, limit=limit)
    body: Iterator[bytes | str] = jsonl(records) if format == "jsonl" else csv_lines(records)
    return StreamingResponse(
        body,
        media_type=_FORMATS[format],
        headers={"Content-Disposition": f'attachment; filename="audit.{format}"'},
    )
