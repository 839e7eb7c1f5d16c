"""A live auth-on server for the accounts tests, and the small helpers they share."""

from __future__ import annotations

import base64
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx

from modelyard.server.app import ServerSettings
from modelyard.server.background import serve_in_background

ADMIN_PASSWORD = "admin-password-1"


@contextmanager
def auth_on(root: Path, admin_password: str = ADMIN_PASSWORD) -> Iterator[str]:
    """A server with auth on, on SQLite under ``root`` (its admin: ``admin_password``); its URL."""
    settings = ServerSettings(
        store_uri=f"sqlite:///{root / 'store.db'}",
        artifacts_uri=str(root / "artifacts"),
        auth=True,
        admin_password=admin_password,
    )
    with serve_in_background(settings) as url:
        yield url


def basic(name: str, password: str) -> dict[str, str]:
    return {"authorization": "Basic " + base64.b64encode(f"{name}:{password}".encode()).decode()}


def bearer(token: str) -> dict[str, str]:
    return {"authorization": f"Bearer {token}"}


def api(url: str, headers: dict[str, str] | None = None) -> httpx.Client:
    return httpx.Client(base_url=f"{url}/api/v1", headers=headers, timeout=30)


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"
