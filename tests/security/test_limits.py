"""Request rate per credential and upload size per request (server/limits.py), on live servers."""

from __future__ import annotations

import base64
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from modelyard.server.app import ServerSettings
from modelyard.server.background import serve_in_background
from modelyard.server.limits import Buckets, Limits
from tests import aio
from tests.security._servers import ADMIN_PASSWORD, AuthServer, auth_server


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_bucket_refills_at_the_rate_up_to_the_burst() -> None:
    clock = Clock()
    buckets = Buckets(rate=2.0, burst=20.0, clock=clock)
    assert [buckets.wait("k") for _ in range(20)] == [0.0] * 20
    assert buckets.wait("k") == pytest.approx(0.5)  # one request comes back in half a second
    clock.now = 0.5
    assert buckets.wait("k") == 0.0
    clock.now = 1000.0  # a long pause refills to the burst, never beyond
    assert [buckets.wait("k") for _ in range(20)] == [0.0] * 20
    assert buckets.wait("k") > 0
    assert buckets.wait("other") == 0.0  # keys do not share


async def _deny(scope: Scope, receive: Receive, send: Send) -> None:
    await Response(status_code=401 if scope["path"] == "/deny" else 200)(scope, receive, send)


def status(app: ASGIApp, path: str, client: str, token: str = "") -> int:
    """The status ``app`` answers a GET of ``path`` from ``client`` (with a Bearer token)."""
    headers = [(b"authorization", f"Bearer {token}".encode())] if token else []
    scope = {
        "type": "http", "method": "GET", "path": path, "headers": headers,
        "client": (client, 1), "query_string": b"", "root_path": "",
    }  # fmt: skip
    sent: list[Message] = []

    async def receive() -> Message:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: Message) -> None:
        sent.append(message)

    aio.run(app(scope, receive, send))  # type: ignore[arg-type]
    return int(sent[0]["status"])


def test_a_401_takes_one_more_from_the_credential_and_two_from_the_address() -> None:
    clock = Clock()
    app = Limits(_deny, rate=1.0, max_upload_bytes=0)
    assert app.buckets is not None
    app.buckets.clock = clock
    token = "myt_aaaaaaaaaaaa_" + "b" * 43
    assert [status(app, "/deny", "10.0.0.1", token) for _ in range(5)] == [401] * 5
    assert status(app, "/deny", "10.0.0.1", token) == 429  # 10 taken by 5 failures
    assert status(app, "/ok", "10.0.0.2") == 200  # another address is untouched
    other = "myt_cccccccccccc_" + "d" * 43  # the address's bucket is empty too (5 x 2)
    assert status(app, "/ok", "10.0.0.1", other) == 429
    clock.now = 1.0  # one second refills one request of each
    assert status(app, "/ok", "10.0.0.1", other) == 200


def test_penalties_go_below_zero_and_the_table_stays_bounded() -> None:
    clock = Clock()
    buckets = Buckets(rate=1.0, burst=10.0, size=100, clock=clock)
    buckets.charge("a", 25)  # at most one burst of debt
    assert buckets.empty_for("a") == pytest.approx(11.0)
    for i in range(1000):
        buckets.wait(f"spray-{i}")
    assert len(buckets) == 100
    assert buckets.empty_for("never-seen") == 0.0


@pytest.fixture
def limited(tmp_path: Path) -> Iterator[AuthServer]:
    env = {"MODELYARD_RATE_LIMIT": "0.5", "MODELYARD_TOKEN_MAX_UPLOAD_MB": "1"}
    with auth_server(tmp_path, env) as server:
        yield server


def hammer(client: httpx.Client, n: int, path: str = "/api/v1/experiments") -> list[int]:
    return [client.get(path).status_code for _ in range(n)]


def test_a_token_past_its_rate_gets_429_with_retry_after_and_others_do_not(
    limited: AuthServer,
) -> None:
    other = limited.token("other")
    with limited.client(limited.admin_token) as admin, limited.client(other) as second:
        codes = hammer(admin, 8)
        assert codes[:4] == [200] * 4  # a burst of ten seconds' worth (five) passes
        assert 429 in codes
        refused = admin.get("/api/v1/experiments")
        assert refused.status_code == 429
        assert refused.json()["error_code"] == "RATE_LIMITED"
        wait = refused.headers["Retry-After"]
        assert wait.isdigit()
        assert int(wait) >= 1
        assert refused.json()["details"]["retry_after"] == int(wait)
        assert second.get("/api/v1/experiments").status_code != 429  # its own bucket
        # the probes are never limited
        assert {admin.get(p).status_code for p in ["/health", "/ready"] * 10} == {200}
        # a forged token naming the admin's token id has a bucket of its own (no lockout)
        forged = limited.admin_token[:-4] + "AAAA"
        with limited.client(forged) as forger:
            assert forger.get("/api/v1/experiments").status_code == 401


def test_failed_logins_count_double_per_user_name(limited: AuthServer) -> None:
    def basic(name: str, password: str) -> dict[str, str]:
        text = base64.b64encode(f"{name}:{password}".encode()).decode()
        return {"Authorization": f"Basic {text}"}

    with httpx.Client(base_url=limited.url, timeout=30) as http:
        codes = [
            http.get("/api/v1/experiments", headers=basic("admin", f"guess-{i}")).status_code
            for i in range(12)
        ]
        # five requests' worth, each failure costing two: refused after about three (argon2
        # takes up to a second here, and the bucket refills meanwhile; at one each: after 7+)
        first = codes.index(429)
        assert 2 <= first <= 5, codes
        assert set(codes[:first]) == {401}
        # the right password is refused too while that name's bucket is empty
        right = http.get("/api/v1/experiments", headers=basic("admin", ADMIN_PASSWORD))
        assert right.status_code == 429


def test_spraying_made_up_tokens_empties_the_address(limited: AuthServer) -> None:
    with httpx.Client(base_url=limited.url, timeout=30) as http:
        codes = []
        for i in range(8):
            fake = f"myt_{i:012d}_{'x' * 43}"
            codes.append(
                http.get(
                    "/api/v1/experiments", headers={"Authorization": f"Bearer {fake}"}
                ).status_code
            )
        assert codes[:2] == [401] * 2
        assert codes[-1] == 429  # each failure took two from 127.0.0.1's bucket
    with limited.client(limited.admin_token) as admin:  # even a good token, from there
        assert admin.get("/api/v1/experiments").status_code == 429


def test_uploads_past_the_limit_are_refused_and_nothing_is_kept(limited: AuthServer) -> None:
    with limited.client(limited.admin_token) as admin:
        run = admin.post("/api/v1/runs", json={"experiment_name": "uploads"})
        assert run.status_code == 201, run.text
        run_id = run.json()["id"]
        path = f"/api/v1/runs/{run_id}/artifacts"
        small = admin.put(f"{path}/ok.bin", content=b"x" * 1000)
        assert small.status_code == 201, small.text
        big = b"y" * ((1 << 20) + 1)
        declared = admin.put(f"{path}/big.bin", content=big)
        assert declared.status_code == 413
        assert declared.json()["error_code"] == "PAYLOAD_TOO_LARGE"

        def chunks() -> Iterator[bytes]:  # no Content-Length: caught while streaming
            for _ in range(17):
                yield b"z" * 65536

        streamed = admin.put(f"{path}/streamed.bin", content=chunks())
        assert streamed.status_code == 413, streamed.text
        assert streamed.json()["error_code"] == "PAYLOAD_TOO_LARGE"
        listed = {a["path"] for a in admin.get(path).json()}
        assert listed == {"ok.bin"}


def test_no_limits_with_auth_off(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MODELYARD_RATE_LIMIT", "1")
    settings = ServerSettings(
        store_uri=f"sqlite:///{tmp_path / 's.db'}", artifacts_uri=str(tmp_path / "a")
    )
    with serve_in_background(settings) as url, httpx.Client(base_url=url) as http:
        assert set(hammer(http, 30)) == {200}
