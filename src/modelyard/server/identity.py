"""Who makes a request, decided once per request by the app-wide dependency :func:`identify`.

With auth off (the embedded default on 127.0.0.1) every caller is anonymous and may do
everything. With auth on, a caller proves who they are with one of:

* ``Authorization: Bearer myt_...``: an API token (``MODELYARD_TOKEN``, ``MLFLOW_TRACKING_TOKEN``);
* ``Authorization: Basic``: a user name and password (``MLFLOW_TRACKING_USERNAME`` /
  ``_PASSWORD``), or any name with a token as the password;
* the web UI's session cookie, whose writes must also carry its CSRF token in ``X-CSRF-Token``;
* ``X-Serving-Token`` (with ``X-Serving-Deployment``): a serving process of a deployment, which
  may read that deployment and its model, nothing else (``server/serving_access.py``).

A verified password is remembered for :data:`PASSWORD_CACHE_S` seconds under the SHA-256 of
the credentials (argon2 costs tens of milliseconds, and the mlflow client sends them with every
request); the account behind it, like a verified token, is remembered for a second, and any
change to accounts or tokens in this process forgets both at once (see AccessService). On a
route open to anyone, credentials that fail count as none (a stale cookie must not lock anyone
out of logging in).
Then :func:`modelyard.server.permissions.authorize` checks the route's declared permission.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import threading
import time

from fastapi import Request
from starlette.concurrency import run_in_threadpool

from modelyard.access.entities import ANONYMOUS, Identity
from modelyard.access.secrets import parse_token
from modelyard.access.service import AccessService
from modelyard.errors import CrossSiteRequest, Unauthenticated
from modelyard.serving.entities import SERVING_TOKEN_HEADER

__all__ = ["ANONYMOUS", "SESSION_COOKIE", "Identity", "identify"]

SESSION_COOKIE = "modelyard_session"
CSRF_HEADER = "x-csrf-token"
PASSWORD_CACHE_S = 30.0
_WRITES = frozenset({"POST", "PUT", "PATCH", "DELETE"})


class _PasswordCache:
    """Verified (name, password) pairs, by their SHA-256, for a few seconds."""

    def __init__(self, ttl_s: float = PASSWORD_CACHE_S, size: int = 10_000) -> None:
        self.ttl_s, self.size = ttl_s, size
        self._hits: dict[bytes, tuple[float, int]] = {}
        self._lock = threading.Lock()

    def get(self, key: bytes) -> int | None:
        with self._lock:
            hit = self._hits.get(key)
        if hit is None or hit[0] < time.monotonic():
            return None
        return hit[1]

    def put(self, key: bytes, user_id: int) -> None:
        with self._lock:
            if len(self._hits) >= self.size:
                self._hits.clear()
            self._hits[key] = (time.monotonic() + self.ttl_s, user_id)

    def clear(self) -> None:
        with self._lock:
            self._hits.clear()


PASSWORDS = _PasswordCache()


async def identify(request: Request) -> Identity:
    """The caller's identity; with auth on, also checks the route's permission."""
    found: Identity | None = getattr(request.state, "identity", None)
    if found is not None:
        return found
    settings = request.app.state.settings
    if not getattr(settings, "auth", False):
        request.state.identity = ANONYMOUS
        return ANONYMOUS
    access: AccessService = request.app.state.services["access"]
    return await run_in_threadpool(_identify, access, request)  # one thread hop for both


def _identify(access: AccessService, request: Request) -> Identity:
    from modelyard.server.permissions import authorize, need_of

    try:
        identity = authenticate(access, request)
    except (Unauthenticated, CrossSiteRequest):
        if need_of(request).mode != "open":
            raise
        identity = ANONYMOUS  # stale credentials must not lock anyone out of logging in
    request.state.identity = identity  # also when the check below refuses (the audit log)
    authorize(request, identity)
    return identity


def client_address(request: Request) -> str:
    return request.client.host if request.client is not None else ""


def authenticate(access: AccessService, request: Request) -> Identity:
    """The identity the request's credentials prove (anonymous without any)."""
    header = request.headers.get("authorization")
    if header:
        scheme, _, value = header.partition(" ")
        scheme = scheme.lower()
        if scheme == "bearer":
            return access.authenticate_token(value.strip(), client_address(request))
        if scheme == "basic":
            return _basic(access, value.strip(), client_address(request))
        raise Unauthenticated("Authorization must be Bearer (a token) or Basic")
    serving = request.headers.get(SERVING_TOKEN_HEADER)
    if serving:  # a serving process of a deployment: reads its model (server/serving_access.py)
        from modelyard.server.serving_access import serving_identity

        return serving_identity(request, serving)
    cookie = request.cookies.get(SESSION_COOKIE)
    if cookie:
        identity, csrf = access.session(cookie)
        request.state.csrf = csrf
        if request.method in _WRITES:
            sent = request.headers.get(CSRF_HEADER, "")
            if not sent or not _same(sent, csrf):
                raise CrossSiteRequest("a write from the web UI must carry its CSRF token")
        return identity
    return ANONYMOUS


def _basic(access: AccessService, value: str, address: str) -> Identity:
    try:
        decoded = base64.b64decode(value, validate=True).decode()
    except (binascii.Error, UnicodeDecodeError):
        raise Unauthenticated("Basic credentials are not base64 of name:password") from None
    name, sep, password = decoded.partition(":")
    if not sep:
        raise Unauthenticated("Basic credentials are not base64 of name:password")
    if parse_token(password) is not None:
        return access.authenticate_token(password, address)
    key = hashlib.sha256(f"{name}\0{password}".encode()).digest()
    user_id = PASSWORDS.get(key)
    if user_id is not None:
        return access.identity_of(user_id)
    identity = access.authenticate_password(name, password)
    assert identity.user_id is not None
    PASSWORDS.put(key, identity.user_id)
    return identity


def _same(a: str, b: str) -> bool:
    import hmac

    return hmac.compare_digest(a.encode(), b.encode())
