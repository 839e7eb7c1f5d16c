"""OpenID Connect single sign-on for the web UI: the relying party's side of the code flow.

:meth:`OidcClient.start` makes the provider's authorization URL (code flow, PKCE S256, a fresh
``state`` and ``nonce``) and the *sealed* state cookie that keeps them, with the verifier and
the page to return to, in the browser for 10 minutes (AES-GCM: encrypted and authenticated,
so the browser can neither read nor change it). :meth:`OidcClient.finish` checks the answer the
provider sends back (same ``state``, not used before, in time), swaps the code for tokens and
verifies the id_token against the provider's JWKS (signature with an asymmetric algorithm,
``iss``, ``aud``, ``azp``, ``exp``, ``nonce``, ``at_hash``), then reads who signed in.

The key that seals cookies derives from the client secret, so every replica of a server takes
the others' cookies; a public client (no secret) uses a key per process.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import re
import ssl
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

import httpx
from authlib.common.security import generate_token  # type: ignore[import-untyped]
from authlib.oauth2.rfc7636 import create_s256_code_challenge  # type: ignore[import-untyped]
from authlib.oidc.core import CodeIDToken  # type: ignore[import-untyped]
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from joserfc import jwt
from joserfc.errors import InvalidKeyIdError, JoseError
from joserfc.jwk import KeySet
from joserfc.jws import JWSRegistry

from modelyard import config
from modelyard.errors import InvalidInput, ServerUnreachable, Unauthenticated

__all__ = ["CALLBACK_PATH", "STATE_TTL_S", "OidcClient", "OidcSettings", "SignedIn", "safe_next"]

CALLBACK_PATH = "/api/v1/auth/oidc/callback"
STATE_TTL_S = 600  # a sign-in must come back within 10 minutes
METADATA_TTL_S = 3600.0  # discovery and JWKS are read again after an hour (JWKS: or a new kid)
LEEWAY_S = 60  # clock skew allowed on exp and iat
TIMEOUT_S = 10.0
SCOPES = "openid profile email"
# asymmetric algorithms only: "none" and HS* (keyed with the client secret) are never accepted
ALGORITHMS = ("RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512")
MAX_GROUPS = 1000
_NAME_CHARS = re.compile(r"[^A-Za-z0-9._@+-]+")
_SEAL_AAD = b"modelyard oidc state v1"


@dataclass(frozen=True)
class OidcSettings:
    """The provider: its issuer URL, and this server's client id and secret there."""

    issuer: str
    client_id: str
    client_secret: str = ""
    groups_claim: str = "groups"

    @classmethod
    def from_config(cls) -> OidcSettings | None:
        """From MODELYARD_OIDC_*; None when no issuer is set."""
        issuer = config.OIDC_ISSUER.get().strip()
        if not issuer:
            return None
        client_id = config.OIDC_CLIENT_ID.get().strip()
        if not client_id:
            raise InvalidInput("MODELYARD_OIDC_ISSUER is set: set MODELYARD_OIDC_CLIENT_ID too")
        return cls(
            issuer=issuer.rstrip("/"),
            client_id=client_id,
            client_secret=config.OIDC_CLIENT_SECRET.get(),
            groups_claim=config.OIDC_GROUPS_CLAIM.get() or "groups",
        )


@dataclass(frozen=True)
class SignedIn:
    """Who the provider vouched for, and the page to land on."""

    issuer: str
    subject: str
    name: str  # preferred_username, else email, else sub; made a valid user name
    email: str | None
    groups: list[str]
    next: str


def safe_next(path: str) -> str:
    """``path`` when it is a path on this site (one leading ``/``); raises otherwise.

    Refused: absolute URLs, scheme-relative ``//host``, backslashes (browsers read ``/\\host``
    as ``//host``), and control or space characters (browsers drop tabs and newlines)."""
    if (
        not path.startswith("/")
        or path.startswith("//")
        or "\\" in path
        or len(path) > 2000
        or any(ord(c) <= 0x20 or ord(c) == 0x7F for c in path)
    ):
        raise InvalidInput(
            "next must be a path on this server starting with a single '/'", field="next"
        )
    return path


def user_name(claims: Mapping[str, Any]) -> str:
    """A valid user name from preferred_username, else email, else sub."""
    for key in ("preferred_username", "email", "sub"):
        value = claims.get(key)
        if isinstance(value, str) and value.strip():
            name = _NAME_CHARS.sub("-", value.strip()).strip("-")[:200]
            if name:
                return name
    return "sso-" + hashlib.sha256(str(claims.get("sub")).encode()).hexdigest()[:16]


def groups_of(value: Any) -> list[str]:
    """The group names in a claim (a list of strings, or one string); anything else: none."""
    if isinstance(value, str):
        return [value]
    if isinstance(value, list):
        return [g for g in value[:MAX_GROUPS] if isinstance(g, str)]
    return []


class _Sealer:
    """AES-GCM over JSON: what the browser keeps for us and may not read or change."""

    def __init__(self, secret: str) -> None:
        if secret:
            key = hashlib.sha256(b"modelyard oidc state key\0" + secret.encode()).digest()
        else:
            key = os.urandom(32)
        self._aead = AESGCM(key)

    def seal(self, data: Mapping[str, Any]) -> str:
        nonce = os.urandom(12)
        box = self._aead.encrypt(nonce, json.dumps(data).encode(), _SEAL_AAD)
        return base64.urlsafe_b64encode(nonce + box).decode().rstrip("=")

    def open(self, text: str) -> dict[str, Any]:
        try:
            raw = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
            data = json.loads(self._aead.decrypt(raw[:12], raw[12:], _SEAL_AAD))
        except (ValueError, InvalidTag):
            raise InvalidInput("the sign-in state cookie is not valid; start again") from None
        if not isinstance(data, dict):
            raise InvalidInput("the sign-in state cookie is not valid; start again")
        return data


class OidcClient:
    """One provider's relying party; thread-safe, one per server. Each call to the provider
    opens its own connection (sign-ins are rare; nothing to close)."""

    def __init__(
        self,
        settings: OidcSettings,
        *,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.settings = settings
        self.clock = clock
        # made once: a TLS context per request costs more than the rest of a sign-in
        self._tls = ssl.create_default_context()  # the system's CAs (or SSL_CERT_FILE's)
        self._sealer = _Sealer(settings.client_secret)
        self._lock = threading.Lock()
        self._metadata: tuple[float, dict[str, Any]] | None = None
        self._jwks: tuple[float, KeySet] | None = None
        self._used: dict[str, float] = {}  # states already completed, until they expire

    # ---- the two steps

    def start(self, redirect_uri: str, next_path: str = "/") -> tuple[str, str]:
        """``(the provider's authorization URL, the sealed state cookie)``."""
        next_path = safe_next(next_path)
        state, nonce, verifier = generate_token(32), generate_token(32), generate_token(64)
        endpoint = self.metadata()["authorization_endpoint"]
        query = httpx.QueryParams(
            response_type="code",
            client_id=self.settings.client_id,
            redirect_uri=redirect_uri,
            scope=SCOPES,
            state=state,
            nonce=nonce,
            code_challenge=create_s256_code_challenge(verifier),
            code_challenge_method="S256",
        )
        url = str(httpx.URL(endpoint).copy_merge_params(query))
        sealed = self._sealer.seal(
            {"s": state, "n": nonce, "v": verifier, "r": next_path, "t": self.clock()}
        )
        return url, sealed

    def finish(self, params: Mapping[str, str], sealed: str | None, redirect_uri: str) -> SignedIn:
        """Check the provider's answer to :meth:`start` and verify who signed in."""
        if not sealed:
            raise InvalidInput(
                "no sign-in is in progress in this browser (its state cookie is missing or "
                "expired); start again"
            )
        kept = self._sealer.open(sealed)
        state = params.get("state", "")
        if not isinstance(kept.get("s"), str) or not hmac.compare_digest(
            state.encode(), str(kept["s"]).encode()
        ):
            raise InvalidInput("the state sent back does not match this browser's sign-in")
        started = kept.get("t")
        now = self.clock()
        if not isinstance(started, int | float) or not (0 <= now - started <= STATE_TTL_S):
            raise InvalidInput("the sign-in took longer than 10 minutes; start again")
        issuer = self.settings.issuer
        if "iss" in params and params["iss"] != self.metadata()["issuer"]:
            raise Unauthenticated("the answer names another provider (iss); sign-in refused")
        if "error" in params:
            reason = params["error"][:100]
            described = params.get("error_description", "")[:300]
            raise Unauthenticated(
                f"the provider refused the sign-in: {reason}"
                + (f" ({described})" if described else ""),
                provider_error=reason,
            )
        code = params.get("code")
        if not code:
            raise InvalidInput("the provider's answer has no code")
        self._use(state, now)
        tokens = self._exchange(code, str(kept["v"]), redirect_uri)
        claims = self._verify(tokens, str(kept["n"]))
        groups_claim = self.settings.groups_claim
        if groups_claim not in claims:
            claims = {**self._userinfo(tokens, claims), **claims}
        email = claims.get("email")
        return SignedIn(
            issuer=issuer,
            subject=str(claims["sub"]),
            name=user_name(claims),
            email=email if isinstance(email, str) and email else None,
            groups=groups_of(claims.get(groups_claim)),
            next=safe_next(str(kept.get("r") or "/")),
        )

    # ---- the provider

    def metadata(self) -> dict[str, Any]:
        """The provider's discovery document (kept for an hour)."""
        with self._lock:
            hit = self._metadata
        if hit is not None and hit[0] > time.monotonic():
            return hit[1]
        issuer = self.settings.issuer
        found = self._get_json(f"{issuer}/.well-known/openid-configuration")
        if found.get("issuer", "").rstrip("/") != issuer:
            raise Unauthenticated(
                f"the provider's discovery document names issuer {str(found.get('issuer'))[:200]!r}"
                f", not the configured {issuer!r}"
            )
        for key in ("authorization_endpoint", "token_endpoint", "jwks_uri"):
            if not isinstance(found.get(key), str):
                raise Unauthenticated(f"the provider's discovery document has no {key}")
        with self._lock:
            self._metadata = (time.monotonic() + METADATA_TTL_S, found)
        return found

    def _keys(self, fresh: bool = False) -> KeySet:
        with self._lock:
            hit = self._jwks
        if hit is not None and hit[0] > time.monotonic() and not fresh:
            return hit[1]
        try:
            keys = KeySet.import_key_set(self._get_json(self.metadata()["jwks_uri"]))  # type: ignore[arg-type]
        except (JoseError, ValueError, TypeError) as exc:
            raise Unauthenticated(f"the provider's JWKS is not valid: {exc}") from exc
        with self._lock:
            self._jwks = (time.monotonic() + METADATA_TTL_S, keys)
        return keys

    def _exchange(self, code: str, verifier: str, redirect_uri: str) -> dict[str, Any]:
        meta = self.metadata()
        form = {
            "grant_type": "authorization_code",
            "code": code,
            "redirect_uri": redirect_uri,
            "code_verifier": verifier,
            "client_id": self.settings.client_id,
        }
        headers = {"Accept": "application/json"}
        secret = self.settings.client_secret
        if secret:
            methods = meta.get("token_endpoint_auth_methods_supported") or ["client_secret_basic"]
            if "client_secret_basic" in methods:  # RFC 6749 2.3.1: form-encoded, then base64
                pair = f"{quote(self.settings.client_id, safe='')}:{quote(secret, safe='')}"
                headers["Authorization"] = "Basic " + base64.b64encode(pair.encode()).decode()
            else:
                form["client_secret"] = secret
        try:
            answer = httpx.post(
                meta["token_endpoint"], data=form, headers=headers, **self._options()
            )
        except httpx.HTTPError as exc:
            raise ServerUnreachable(f"the OpenID provider did not answer: {exc}") from exc
        body = _json_object(answer)
        if answer.status_code != 200:
            error = str(body.get("error", f"HTTP {answer.status_code}"))[:100]
            raise Unauthenticated(f"the provider refused the code: {error}", provider_error=error)
        if not isinstance(body.get("id_token"), str):
            raise Unauthenticated("the provider's token answer has no id_token")
        return body

    def _verify(self, tokens: Mapping[str, Any], nonce: str) -> dict[str, Any]:
        meta = self.metadata()
        offered = meta.get("id_token_signing_alg_values_supported") or ["RS256"]
        algorithms = [a for a in offered if a in ALGORITHMS]
        if not algorithms:  # (an empty list would let joserfc take its defaults, HS256 too)
            raise Unauthenticated(
                f"the provider signs id_tokens with none of {', '.join(ALGORITHMS)}"
            )
        registry = JWSRegistry(algorithms=algorithms, strict_check_header=False)
        text = tokens["id_token"]
        try:
            try:
                token = jwt.decode(text, self._keys(), registry=registry)
            except InvalidKeyIdError:  # the provider rotated its keys
                token = jwt.decode(text, self._keys(fresh=True), registry=registry)
        except (JoseError, ValueError) as exc:
            raise Unauthenticated(f"the id_token does not verify: {exc}") from exc
        options = {
            "iss": {"essential": True, "value": meta["issuer"]},
            "aud": {"essential": True, "value": self.settings.client_id},
            "exp": {"essential": True},
            "sub": {"essential": True},
        }
        params = {"nonce": nonce, "client_id": self.settings.client_id}
        if isinstance(tokens.get("access_token"), str):
            params["access_token"] = tokens["access_token"]
        claims = CodeIDToken(token.claims, token.header, options, params)
        try:
            claims.validate(now=int(self.clock()), leeway=LEEWAY_S)
        except (JoseError, ValueError) as exc:
            raise Unauthenticated(f"the id_token is not valid: {exc}") from exc
        if not isinstance(claims.get("sub"), str) or not claims["sub"]:
            raise Unauthenticated("the id_token has no subject")
        return dict(claims)

    def _userinfo(self, tokens: Mapping[str, Any], claims: Mapping[str, Any]) -> dict[str, Any]:
        """The userinfo claims (for a groups claim the id_token lacks); none when unavailable
        or about someone else."""
        endpoint = self.metadata().get("userinfo_endpoint")
        access_token = tokens.get("access_token")
        if not isinstance(endpoint, str) or not isinstance(access_token, str):
            return {}
        try:
            answer = httpx.get(
                endpoint, headers={"Authorization": f"Bearer {access_token}"}, **self._options()
            )
        except httpx.HTTPError as exc:
            raise ServerUnreachable(f"the OpenID provider did not answer: {exc}") from exc
        info = _json_object(answer) if answer.status_code == 200 else {}
        return info if info.get("sub") == claims["sub"] else {}

    def _get_json(self, url: str) -> dict[str, Any]:
        try:
            answer = httpx.get(url, headers={"Accept": "application/json"}, **self._options())
        except httpx.HTTPError as exc:
            raise ServerUnreachable(f"the OpenID provider did not answer at {url}: {exc}") from exc
        if answer.status_code != 200:
            raise ServerUnreachable(f"the OpenID provider answered {answer.status_code} at {url}")
        return _json_object(answer)

    def _options(self) -> dict[str, Any]:
        return {"timeout": TIMEOUT_S, "verify": self._tls, "follow_redirects": False}

    def _use(self, state: str, now: float) -> None:
        """Mark a sign-in's state completed; a second answer with it is a replay."""
        with self._lock:
            for old in [s for s, until in self._used.items() if until < now]:
                del self._used[old]
            if state in self._used:
                raise InvalidInput("this sign-in was completed already; start again")
            self._used[state] = now + STATE_TTL_S


def _json_object(answer: httpx.Response) -> dict[str, Any]:
    try:
        body = answer.json()
    except ValueError:
        return {}
    return body if isinstance(body, dict) else {}
