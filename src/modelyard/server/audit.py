"""The audit log's middleware: one record per write the app answers (see modelyard.access.audit).

A write (POST, PUT, PATCH, DELETE) answered below 400, or refused with 403 to a caller who
proved who they are, gets one record before its answer starts: the middleware holds
``http.response.start``, appends in a worker thread, then sends it on. A client therefore never
sees success for a write the log lacks; when the append fails, the answer is a 503 instead
(the change itself stays made). Reads are not recorded, nor are the writes by method that
only read (searches, :data:`UNRECORDED`) or a serving process's heartbeats.

A record names the caller (``request.state.identity``, read when the answer starts, so a route
that signs someone in may set it), the action (``"{METHOD} {route template}"``), the object
(the route's first path parameter: ``/models/{name}/...`` is ``("model", name)``; else
``request.state.audit_object``, set by a route or the permission check; else a ``run_id``,
``experiment_id`` or a registered model's ``name`` in the JSON body) and what changed
(``request.state.audit_changes``, a dict a route may set: before/after of settings and
permissions; the registry's edits add their ``reason`` and ``source`` with :func:`note_changes`).
"""

from __future__ import annotations

import asyncio
import logging
import weakref
from typing import Any

from fastapi import FastAPI, Request
from starlette.concurrency import run_in_threadpool
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from modelyard.access.audit import AuditLog, Entry
from modelyard.access.entities import ANONYMOUS, Identity, Role
from modelyard.errors import StoreUnavailable
from modelyard.server.guard import WRITES, parsed_json
from modelyard.server.metrics import route_template
from modelyard.server.permissions import PERMISSIONS, endpoint_key
from modelyard.server.responses import error_response

log = logging.getLogger("modelyard.server.audit")
_BODY_OBJECTS = (("run_id", "run"), ("run_uuid", "run"), ("experiment_id", "experiment"))
_MODEL_ROUTES = ("/registered-models/", "/model-versions/")  # MLflow's: the body's name
_SERVER = "modelyard.server."
# Writes by method that only read (searches take their filter in a POST body), and a serving
# process's heartbeat (its state every few seconds, not a change anyone made). Besides these,
# a route whose declared permission is the viewer role reads.
UNRECORDED = frozenset(
    _SERVER + name
    for name in (
        "routes.runs:search_runs",
        "routes.runs:metric_histories",
        "routes.blobs:missing",
        "routes.deployments:heartbeat",
        "mlflow.experiments:search",
        "mlflow.runs:search",
        "mlflow.logged_models:search",
        "mlflow.traces:search",
    )
)


def install_audit(app: FastAPI) -> None:
    """Record every write the app answers; the log is ``app.state.audit``."""
    access = app.state.services.get("access")
    if access is None:  # an app without the access domain has no audit log
        return
    app.state.audit = AuditLog(access.db)
    app.add_middleware(AuditMiddleware, audit=app.state.audit)


class Appender:
    """Appends of concurrent requests share one transaction: while a batch is written, the
    next gathers (group commit), so a busy server pays one head lock and one commit a batch."""

    def __init__(self, audit: AuditLog) -> None:
        self.audit = audit
        self._loops: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, _Queue] = (
            weakref.WeakKeyDictionary()
        )

    async def append(self, entry: Entry) -> None:
        loop = asyncio.get_running_loop()
        queue = self._loops.get(loop)
        if queue is None:
            queue = self._loops[loop] = _Queue()
        done: asyncio.Future[None] = loop.create_future()
        queue.pending.append((entry, done))
        if queue.writer is None or queue.writer.done():
            queue.writer = loop.create_task(self._write(queue))
        await done

    async def _write(self, queue: _Queue) -> None:
        while queue.pending:
            batch, queue.pending = queue.pending, []
            try:
                await run_in_threadpool(self.audit.append_many, [e for e, _ in batch])
            except BaseException as exc:
                for _, done in batch:
                    if not done.done():
                        done.set_exception(exc)
                if not isinstance(exc, Exception):
                    raise
            else:
                for _, done in batch:
                    if not done.done():
                        done.set_result(None)


class _Queue:
    def __init__(self) -> None:
        self.pending: list[tuple[Entry, asyncio.Future[None]]] = []
        self.writer: asyncio.Task[None] | None = None


class AuditMiddleware:
    def __init__(self, app: ASGIApp, audit: AuditLog) -> None:
        self.app = app
        self.appender = Appender(audit)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] not in WRITES:
            await self.app(scope, receive, send)
            return
        state: dict[str, Any] = scope.setdefault("state", {})
        failed = False

        async def sending(message: Message) -> None:
            nonlocal failed
            if failed:
                return  # the route's body after an answer replaced for a failed append
            if message["type"] == "http.response.start":
                entry = entry_of(scope, state, int(message["status"]))
                if entry is not None:
                    try:
                        await self.appender.append(entry)
                    except Exception as exc:
                        failed = True
                        log.exception("audit: could not record %s", entry.action)
                        error = StoreUnavailable(
                            f"the change was made but the audit log could not record it: {exc}"
                        )
                        answer = error_response(error.status, error.code, error.message)
                        await answer(scope, receive, send)
                        return
            await send(message)

        await self.app(scope, receive, sending)


def note_changes(request: Request, **changes: Any) -> None:
    """Add ``changes`` (a ``reason``, what was changed; None is left out) to the audit record of
    this write, with its ``source``: ``ui`` for a write of this server's web app, else ``api``."""
    noted = getattr(request.state, "audit_changes", None)
    given = {k: v for k, v in changes.items() if v is not None}
    merged = {**(noted if isinstance(noted, dict) else {}), **given}
    merged.setdefault("source", source_of(request))
    request.state.audit_changes = merged


def source_of(request: Request) -> str:
    """``ui`` when a browser sent the write from a page of this server (its ``Origin``, or
    ``Sec-Fetch-Site: same-origin``: the guard refuses writes from any other origin), else
    ``api``. A label for the log, not a credential: a script may send these headers too."""
    headers = request.headers
    if headers.get("origin") or headers.get("sec-fetch-site") == "same-origin":
        return "ui"
    return "api"


def entry_of(scope: Scope, state: dict[str, Any], status: int) -> Entry | None:
    """The record a write's answer makes, or None when it makes none."""
    who: Identity = state.get("identity") or ANONYMOUS
    if status >= 400 and not (status == 403 and who.authenticated):
        return None
    if reads(scope):
        return None
    template = route_template(scope)
    kind, object_id = object_of(scope, state, template)
    changes = state.get("audit_changes")
    client = scope.get("client")
    return Entry.of(
        who,
        f"{scope['method']} {template}",
        address=client[0] if client else "",
        object_kind=kind,
        object_id=object_id,
        status=status,
        changes=changes if isinstance(changes, dict) else {},
    )


def reads(scope: Scope) -> bool:
    """Whether the route that took the request only reads (see :data:`UNRECORDED`)."""
    endpoint = getattr(scope.get("route"), "endpoint", None)
    if endpoint is None:
        return False
    key = endpoint_key(endpoint)
    if key in UNRECORDED:
        return True
    need = PERMISSIONS.get(key)
    return need is not None and need.mode in ("object", "server") and need.role is Role.VIEWER


def object_of(scope: Scope, state: dict[str, Any], template: str) -> tuple[str, str]:
    """``(kind, id)`` of the object a write acted on ("" when it names none): the one its path
    names (a run, not the experiment the permission check looked at), else the one a route or
    the permission check set, else an id in the JSON body (MLflow's routes)."""
    params: dict[str, Any] = scope.get("path_params") or {}
    for name, value in params.items():
        if value not in (None, ""):
            return _kind_of(template, name), str(value)
    named = state.get("audit_object")
    kind = ""
    if isinstance(named, tuple) and len(named) == 2:
        kind = str(named[0])
        if named[1]:
            return kind, str(named[1])
    body = parsed_json(scope)
    if isinstance(body, dict):
        keys: tuple[tuple[str, str], ...] = _BODY_OBJECTS
        if any(part in template for part in _MODEL_ROUTES):
            keys = (*keys, ("name", "model"))
        for key, body_kind in keys:
            value = body.get(key)
            if isinstance(value, str | int) and not isinstance(value, bool) and value != "":
                return body_kind, str(value)
    return kind, ""


def _kind_of(template: str, param: str) -> str:
    """The kind a path parameter names: the segment before it, singular (``/models/{name}``:
    model), else the parameter's own name without ``_id``."""
    parts = template.split("/")
    for i, part in enumerate(parts):
        if part.startswith("{") and part[1:].split(":", 1)[0].rstrip("}") == param:
            before = parts[i - 1] if i > 0 else ""
            if before and not before.startswith("{"):
                return _singular(before)
    return param.removesuffix("_id").removesuffix("_uuid")


def _singular(word: str) -> str:
    if word.endswith("ies"):
        return word[:-3] + "y"
    return word[:-1] if word.endswith("s") and not word.endswith("ss") else word
