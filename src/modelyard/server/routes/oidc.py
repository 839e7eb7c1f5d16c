"""Single sign-on for the web UI: ``/api/v1/auth/oidc/login`` sends the browser to the OpenID
provider, ``/api/v1/auth/oidc/callback`` takes it back, signed in (see modelyard.access.oidc).

The redirect URI is this server's base URL (as the request reached it, so the Host the guard
allowed) plus :data:`CALLBACK_PATH`. Failures answer a small HTML page to a browser and the
usual JSON error otherwise, with 400 (the answer does not belong to this browser's sign-in),
401 (the provider refused, or its id_token does not verify, or the account is disabled), 404
(single sign-on is off) or 503 (the provider did not answer), never a 500.
"""

from __future__ import annotations

import html
import threading

from fastapi import APIRouter, Request
from starlette.responses import HTMLResponse, RedirectResponse, Response

from modelyard.access.audit import AuditLog, Entry
from modelyard.access.entities import User
from modelyard.access.oidc import CALLBACK_PATH, STATE_TTL_S, OidcClient
from modelyard.access.service import AccessService
from modelyard.errors import ModelyardError, NotFound, StoreUnavailable, Unauthenticated
from modelyard.server.identity import client_address
from modelyard.server.responses import error_response
from modelyard.server.routes.access import set_session_cookie

router = APIRouter(prefix="/auth/oidc", tags=["auth"])

STATE_COOKIE = "modelyard_oidc"
_MAKING = threading.Lock()  # one relying party per app, so one memory of completed sign-ins
_STATE_PATH = "/api/v1/auth/oidc"

_PAGE = """<!doctype html><html><head><meta charset="utf-8"><title>Sign-in failed</title></head>
<body style="font-family:system-ui;max-width:40rem;margin:3rem auto">
<h1>Single sign-on failed</h1><p>{message}</p><p><code>{code}</code></p>
<p><a href="/">Back to modelyard</a></p></body></html>"""


@router.get("/login", response_class=RedirectResponse, status_code=302)
def oidc_login(request: Request, next: str = "/") -> Response:
    """Start single sign-on: 302 to the provider (``next``: a path here to land on after)."""
    try:
        url, sealed = _client(request).start(_redirect_uri(request), next)
    except ModelyardError as exc:
        return _failure(request, exc, forget=False)
    response = RedirectResponse(url, status_code=302)
    response.set_cookie(
        STATE_COOKIE,
        sealed,
        max_age=STATE_TTL_S,
        path=_STATE_PATH,
        httponly=True,
        samesite="lax",
        secure=_tls(request),
    )
    return response


@router.get("/callback", response_class=RedirectResponse, status_code=302)
def oidc_callback(request: Request) -> Response:
    """The provider's answer: on success a session, its cookie, and 302 to the page asked for."""
    try:
        client = _client(request)
        signed = client.finish(
            request.query_params, request.cookies.get(STATE_COOKIE), _redirect_uri(request)
        )
        access: AccessService = request.app.state.services["access"]
        user = access.sso_user(signed.issuer, signed.subject, signed.name, signed.email)
        if user.disabled:
            raise Unauthenticated(f"the account {user.name!r} is disabled")
        access.sync_sso_teams(user.id, signed.groups)
        _record(request, user, access.user(user.id))
        cookie, _csrf = access.open_session(user.id)
    except ModelyardError as exc:
        return _failure(request, exc)
    response = RedirectResponse(signed.next, status_code=302)
    _forget_state(response, request)
    set_session_cookie(request, response, cookie)
    response.headers["Cache-Control"] = "no-store"
    return response


def _record(request: Request, before: User, after: User) -> None:
    """The sign-in in the audit log (a GET, so the log's middleware does not see it), with
    the team memberships it changed; the session opens only once it is recorded."""
    audit: AuditLog | None = getattr(request.app.state, "audit", None)
    if audit is None:
        return
    changes = {}
    if before.teams != after.teams:
        changes = {"teams": {"before": list(before.teams), "after": list(after.teams)}}
    entry = Entry(
        after.name,
        "user",
        f"GET {CALLBACK_PATH}",
        address=client_address(request),
        object_kind="user",
        object_id=after.name,
        status=302,
        changes=changes,
    )
    try:
        audit.append(entry)
    except Exception as exc:
        raise StoreUnavailable(f"the audit log could not record the sign-in: {exc}") from exc


def _client(request: Request) -> OidcClient:
    """The app's relying party (made on first use); NotFound when single sign-on is off."""
    settings = request.app.state.settings
    oidc = getattr(settings, "oidc", None)
    if oidc is None or not getattr(settings, "auth", False):
        raise NotFound("single sign-on is not configured on this server (MODELYARD_OIDC_ISSUER)")
    state = request.app.state
    with _MAKING:
        client: OidcClient | None = getattr(state, "oidc_client", None)
        if client is None or client.settings != oidc:
            client = state.oidc_client = OidcClient(oidc)
    return client


def _redirect_uri(request: Request) -> str:
    return str(request.base_url).rstrip("/") + CALLBACK_PATH


def _tls(request: Request) -> bool:
    return bool(getattr(request.app.state.settings, "tls", False))


def _forget_state(response: Response, request: Request) -> None:
    response.delete_cookie(
        STATE_COOKIE, path=_STATE_PATH, httponly=True, samesite="lax", secure=_tls(request)
    )


def _failure(request: Request, exc: ModelyardError, *, forget: bool = True) -> Response:
    """The error as a page for a browser, else as JSON; the sign-in's state is dropped (a
    failed answer ends the sign-in it belonged to)."""
    response: Response
    if "text/html" in request.headers.get("accept", ""):
        page = _PAGE.format(message=html.escape(exc.message), code=html.escape(exc.code))
        response = HTMLResponse(page, status_code=exc.status)
    else:
        response = error_response(exc.status, exc.code, exc.message, exc.details)
    if forget:
        _forget_state(response, request)
    return response
