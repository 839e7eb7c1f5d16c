"""pytest fixtures shipped with modelyard: temporary stores on SQLite and PostgreSQL, live servers.

PostgreSQL tests skip when no server can be started, unless MODELYARD_REQUIRE_POSTGRES=1
(the project's own test command sets it) or MODELYARD_TEST_POSTGRES_URL names one.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from modelyard.server.app import ServerSettings
from modelyard.testing.postgres import create_database, postgres_cluster
from modelyard.testing.s3 import CREDENTIALS, s3_server
from modelyard.testing.server import live_server


@pytest.fixture(scope="session")
def postgres_admin_url() -> Iterator[str]:
    explicit = os.environ.get("MODELYARD_TEST_POSTGRES_URL")
    if explicit:
        yield explicit
        return
    try:
        cluster = postgres_cluster()
        url = cluster.__enter__()
    except Exception as exc:
        if os.environ.get("MODELYARD_REQUIRE_POSTGRES") == "1":
            raise
        pytest.skip(f"PostgreSQL not available: {exc}")
    try:
        yield url
    finally:
        cluster.__exit__(None, None, None)


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def store_uri(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A fresh, empty metadata store on each backend."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'store.db'}"
    admin: str = request.getfixturevalue("postgres_admin_url")
    return create_database(admin, f"t_{uuid.uuid4().hex[:12]}")


@pytest.fixture
def server_settings(tmp_path: Path) -> ServerSettings:
    return ServerSettings(
        store_uri=f"sqlite:///{tmp_path / 'server.db'}",
        artifacts_uri=str(tmp_path / "artifacts"),
        max_body_bytes=16 << 20,
    )


@pytest.fixture
def server_url(server_settings: ServerSettings) -> Iterator[str]:
    """A live modelyard server (SQLite store) on 127.0.0.1."""
    with live_server(server_settings) as url:
        yield url


@pytest.fixture
def modelyard_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An empty MODELYARD_HOME (journal, default store) for the test."""
    home = tmp_path / "home"
    monkeypatch.setenv("MODELYARD_HOME", str(home))
    monkeypatch.setenv("MODELYARD_SYSTEM_METRICS_INTERVAL", "0")
    return home


@pytest.fixture(scope="session")
def s3_endpoint() -> Iterator[str]:
    """A moto S3 server on 127.0.0.1 for the whole session."""
    with s3_server() as url:
        yield url


@pytest.fixture
def s3_artifacts_uri(s3_endpoint: str, monkeypatch: pytest.MonkeyPatch) -> str:
    """A fresh bucket on the local S3 server; boto3 finds it through AWS_ENDPOINT_URL."""
    import boto3

    monkeypatch.setenv("AWS_ENDPOINT_URL", s3_endpoint)
    for key, value in CREDENTIALS.items():
        monkeypatch.setenv(key, value)
    bucket = f"t-{uuid.uuid4().hex[:12]}"
    boto3.client("s3").create_bucket(Bucket=bucket)
    return f"s3://{bucket}/artifacts"


@pytest.fixture(params=["local", "s3"])
def artifacts_uri(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """An empty artifact root on each backend: a local folder and a bucket on a local S3."""
    if request.param == "local":
        return str(tmp_path / "artifacts")
    uri: str = request.getfixturevalue("s3_artifacts_uri")
    return uri
