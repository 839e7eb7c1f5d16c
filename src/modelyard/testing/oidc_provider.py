"""A small, strict OpenID Connect provider on 127.0.0.1, for testing single sign-on for real.

It serves discovery, a JWKS (an RSA key made at start), ``/authorize`` (the code flow only,
PKCE S256 required, redirect URIs registered exactly), ``/token`` (client secret, one use per
code, the PKCE verifier, the same redirect URI) and ``/userinfo``. The signed-in user is
:attr:`OidcProvider.user`; ``consent=True`` shows a page with "Continue" and "Deny" buttons
instead of approving at once. Tests make it misbehave on purpose with :attr:`overrides`
(claims to replace in the next id_tokens, e.g. another ``aud``) and :attr:`sign_with` (a key
the JWKS does not publish)::

    with oidc_provider(client_id="modelyard", client_secret="s3cret") as provider:
        provider.redirect_uris.append(f"{server}/api/v1/auth/oidc/callback")
        provider.user = {"sub": "u1", "preferred_username": "alice", "groups": ["ml"]}
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import html
import json
import secrets
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl, unquote_plus, urlencode

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from joserfc import jwt
from joserfc.jwk import KeySet, OctKey, RSAKey
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from starlette.routing import Route

from modelyard.listener import free_port
from modelyard.server.background import serve_app

__all__ = ["OidcProvider", "new_rsa_key", "oidc_provider"]

CODE_TTL_S = 60


def new_rsa_key(kid: str) -> RSAKey:
    """A fresh 2048-bit RSA signing key (made with ``cryptography``)."""
    private = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = private.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    return RSAKey.import_key(pem, {"kid": kid, "use": "sig", "alg": "RS256"})


@dataclass
class _Grant:
    """An issued authorization code and what it was issued for."""

    client_id: str
    redirect_uri: str
    challenge: str
    nonce: str | None
    user: dict[str, Any]
    expires: float


@dataclass
class OidcProvider:
    """The provider's state; tests change it between requests."""

    client_id: str
    client_secret: str
    issuer: str = ""
    user: dict[str, Any] = field(default_factory=lambda: {"sub": "user-1"})
    consent: bool = False  # show a page with Continue / Deny instead of approving at once
    redirect_uris: list[str] = field(default_factory=list)
    overrides: dict[str, Any] = field(default_factory=dict)  # claims replaced in id_tokens
    sign_with: RSAKey | None = None  # sign id_tokens with this key instead of the published one
    forge: str = ""  # "none": unsigned id_tokens; "HS256": keyed with the client secret
    algorithms: tuple[str, ...] = ("RS256",)  # what discovery says id_tokens are signed with
    userinfo_only: tuple[str, ...] = ()  # claims left out of id_tokens (served by /userinfo)
    key: RSAKey = field(default_factory=lambda: new_rsa_key("key-1"))
    token_requests: int = 0
    _codes: dict[str, _Grant] = field(default_factory=dict)
    _access: dict[str, dict[str, Any]] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    # ---- the app

    def app(self) -> Starlette:
        return Starlette(
            routes=[
                Route("/.well-known/openid-configuration", self._discovery),
                Route("/jwks", self._jwks),
                Route("/authorize", self._authorize, methods=["GET", "POST"]),
                Route("/token", self._token, methods=["POST"]),
                Route("/userinfo", self._userinfo),
            ]
        )

    async def _discovery(self, _request: Request) -> Response:
        return JSONResponse(
            {
                "issuer": self.issuer,
                "authorization_endpoint": f"{self.issuer}/authorize",
                "token_endpoint": f"{self.issuer}/token",
                "jwks_uri": f"{self.issuer}/jwks",
                "userinfo_endpoint": f"{self.issuer}/userinfo",
                "response_types_supported": ["code"],
                "subject_types_supported": ["public"],
                "id_token_signing_alg_values_supported": list(self.algorithms),
                "code_challenge_methods_supported": ["S256"],
                "token_endpoint_auth_methods_supported": [
                    "client_secret_basic",
                    "client_secret_post",
                ],
                "scopes_supported": ["openid", "profile", "email"],
            }
        )

    async def _jwks(self, _request: Request) -> Response:
        return JSONResponse(KeySet([self.key]).as_dict(private=False))

    async def _authorize(self, request: Request) -> Response:
        params = dict(request.query_params)
        if request.method == "POST":
            params = await _form(request)
        problem = self._check_authorize(params)
        if problem is not None:
            return HTMLResponse(f"<p>bad request: {html.escape(problem)}</p>", status_code=400)
        answer: dict[str, str] = {}
        if "state" in params:
            answer["state"] = params["state"]
        decision = params.get("decision")
        if self.consent and decision is None:
            return HTMLResponse(self._consent_page(params))
        if decision == "deny":
            answer.update(error="access_denied", error_description="the user said no")
        else:
            code = secrets.token_urlsafe(24)
            with self._lock:
                self._codes[code] = _Grant(
                    client_id=params["client_id"],
                    redirect_uri=params["redirect_uri"],
                    challenge=params["code_challenge"],
                    nonce=params.get("nonce"),
                    user=dict(self.user),
                    expires=time.time() + CODE_TTL_S,
                )
            answer["code"] = code
        return RedirectResponse(f"{params['redirect_uri']}?{urlencode(answer)}", 302)

    def _check_authorize(self, params: dict[str, str]) -> str | None:
        if params.get("client_id") != self.client_id:
            return "unknown client_id"
        if params.get("redirect_uri") not in self.redirect_uris:
            return "redirect_uri is not registered"
        if params.get("response_type") != "code":
            return "only response_type=code"
        if "openid" not in params.get("scope", "").split():
            return "scope must include openid"
        if params.get("code_challenge_method") != "S256" or not params.get("code_challenge"):
            return "PKCE with S256 is required"
        return None

    def _consent_page(self, params: dict[str, str]) -> str:
        hidden = "".join(
            f'<input type="hidden" name="{html.escape(k)}" value="{html.escape(v)}">'
            for k, v in params.items()
        )
        who = html.escape(str(self.user.get("preferred_username", self.user["sub"])))
        return (
            "<!doctype html><html><head><title>Test provider</title></head><body>"
            f"<p>Sign in to {html.escape(self.client_id)} as {who}?</p>"
            f'<form method="post" action="/authorize">{hidden}'
            '<button name="decision" value="allow" id="allow">Continue</button> '
            '<button name="decision" value="deny" id="deny">Deny</button></form></body></html>'
        )

    async def _token(self, request: Request) -> Response:
        with self._lock:
            self.token_requests += 1
        form = await _form(request)
        client_id, secret = _client_credentials(request, form)
        if client_id != self.client_id or not hmac.compare_digest(
            secret.encode(), self.client_secret.encode()
        ):
            return _error("invalid_client", 401)
        if form.get("grant_type") != "authorization_code":
            return _error("unsupported_grant_type")
        with self._lock:
            grant = self._codes.pop(form.get("code", ""), None)  # one use, even when refused
        if grant is None or grant.expires < time.time() or grant.client_id != client_id:
            return _error("invalid_grant")
        if form.get("redirect_uri") != grant.redirect_uri:
            return _error("invalid_grant")
        verifier = form.get("code_verifier", "")
        digest = hashlib.sha256(verifier.encode()).digest()
        challenge = _b64(digest)
        if not (43 <= len(verifier) <= 128) or not hmac.compare_digest(challenge, grant.challenge):
            return _error("invalid_grant")
        access_token = secrets.token_urlsafe(24)
        with self._lock:
            self._access[access_token] = grant.user
        return JSONResponse(
            {
                "access_token": access_token,
                "token_type": "Bearer",
                "expires_in": 300,
                "scope": "openid profile email",
                "id_token": self.id_token(grant.user, grant.nonce, access_token),
            },
            headers={"Cache-Control": "no-store"},
        )

    async def _userinfo(self, request: Request) -> Response:
        scheme, _, token = request.headers.get("authorization", "").partition(" ")
        with self._lock:
            user = self._access.get(token) if scheme.lower() == "bearer" else None
        if user is None:
            return _error("invalid_token", 401)
        return JSONResponse(user)

    # ---- tokens

    def id_token(self, user: dict[str, Any], nonce: str | None, access_token: str) -> str:
        """An id_token for ``user``, signed and shaped as the test asked."""
        now = int(time.time())
        digest = hashlib.sha256(access_token.encode()).digest()
        claims: dict[str, Any] = {
            "iss": self.issuer,
            "aud": self.client_id,
            "iat": now,
            "exp": now + 300,
            "auth_time": now,
            "at_hash": _b64(digest[:16]),
            **{k: v for k, v in user.items() if k not in self.userinfo_only},
        }
        if nonce is not None:
            claims["nonce"] = nonce
        claims.update(self.overrides)
        if self.forge == "none":
            parts = [{"alg": "none", "typ": "JWT"}, claims]
            return ".".join(_b64(json.dumps(p).encode()) for p in parts) + "."
        if self.forge == "HS256":
            secret = OctKey.import_key(self.client_secret.encode())
            return jwt.encode({"alg": "HS256", "kid": self.key.kid}, claims, secret)
        key = self.sign_with or self.key
        return jwt.encode({"alg": "RS256", "kid": key.kid or "key-1"}, claims, key)

    def issued_codes(self) -> int:
        with self._lock:
            return len(self._codes)


async def _form(request: Request) -> dict[str, str]:
    """An urlencoded form body (the last value of a repeated field)."""
    return dict(parse_qsl((await request.body()).decode("utf-8", "replace")))


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def _client_credentials(request: Request, form: dict[str, str]) -> tuple[str, str]:
    """client_secret_basic, else client_secret_post."""
    scheme, _, value = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() == "basic":
        try:
            decoded = base64.b64decode(value, validate=True).decode()
        except ValueError:
            return "", ""
        client_id, _, secret = decoded.partition(":")
        return unquote_plus(client_id), unquote_plus(secret)
    return form.get("client_id", ""), form.get("client_secret", "")


def _error(code: str, status: int = 400) -> Response:
    return JSONResponse({"error": code}, status_code=status, headers={"Cache-Control": "no-store"})


@contextmanager
def oidc_provider(
    client_id: str = "modelyard", client_secret: str = "provider-secret", **options: Any
) -> Iterator[OidcProvider]:
    """A provider served on a free loopback port until the block ends."""
    provider = OidcProvider(client_id=client_id, client_secret=client_secret, **options)
    port = free_port()
    provider.issuer = f"http://127.0.0.1:{port}"
    with serve_app(provider.app(), port):
        yield provider
