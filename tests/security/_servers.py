"""Auth-enabled live servers for the security tests, with an admin token made the real way."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI

from modelyard.access.entities import ANONYMOUS, Identity, Kind, Role, Scope
from modelyard.access.service import AccessService
from modelyard.listener import free_port
from modelyard.server.app import ServerSettings, create_app
from modelyard.server.background import serve_app

ADMIN_PASSWORD = "admin-password-for-tests"


@dataclass
class AuthServer:
    url: str
    access: AccessService
    admin: Identity
    admin_token: str
    app: FastAPI

    def client(self, token: str | None = None, **kwargs: object) -> httpx.Client:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        return httpx.Client(base_url=self.url, headers=headers, timeout=30, **kwargs)  # type: ignore[arg-type]

    def user(self, name: str, grants: list[tuple[Kind, str, Role]]) -> str:
        """A new user with these grants, and a write token of theirs."""
        self.access.create_user(name, f"{name}-password", by=self.admin)
        for kind, resource, role in grants:
            self.access.grant(f"user:{name}", kind, resource, role, by=self.admin)
        return self.token(f"{name}-token", user=name)

    def token(self, name: str, scope: Scope = Scope.WRITE, user: str | None = None) -> str:
        """A personal token of ``user`` (made by the admin; default: the admin's own)."""
        _token, secret = self.access.create_token(name, scope=scope, by=self.admin, owner=user)
        return secret


@contextmanager
def auth_server(
    folder: Path,
    env: dict[str, str] | None = None,
    *,
    auth: bool = True,
    supervise: bool = False,
    store_uri: str | None = None,
) -> Iterator[AuthServer]:
    """A live server with auth on, on SQLite under ``folder`` (or ``store_uri``); ``env``:
    settings read at start; ``supervise``: it starts the serving processes of "process"
    deployments."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("MODELYARD_HOME", str(folder / "home"))
        for key, value in (env or {}).items():
            patch.setenv(key, value)
        port = free_port()
        settings = ServerSettings(
            store_uri=store_uri or f"sqlite:///{folder / 'server.db'}",
            artifacts_uri=str(folder / "artifacts"),
            auth=auth,
            admin_password=ADMIN_PASSWORD,
            url=f"http://127.0.0.1:{port}" if supervise else None,
        )
        app = create_app(settings)
        with serve_app(app, port) as url:
            if not auth:
                yield AuthServer(url, app.state.services["access"], ANONYMOUS, "", app)
                return
            access: AccessService = app.state.services["access"]
            admin = access.authenticate_password("admin", ADMIN_PASSWORD)
            _token, secret = access.create_token("tests", scope=Scope.ADMIN, by=admin)
            yield AuthServer(url, access, admin, secret, app)
