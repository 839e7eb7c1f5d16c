"""Attacks a web page (or a logged HTML report) could make through the user's browser, and
careless or hostile clients: each is refused before a route runs, and nothing is written."""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator
from urllib.parse import urlsplit

import httpx
import orjson
import pytest

from modelyard.server.guard import BINARY_UPLOADS, MAX_JSON_KEYS, allowed_hosts


@pytest.fixture
def http(server_url: str) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=server_url, timeout=30) as client:
        yield client


def experiment(http: httpx.Client, name: str = "guarded") -> int:
    r = http.post("/api/v1/experiments", json={"name": name})
    assert r.status_code == 201, r.text
    return int(r.json()["id"])


def names(http: httpx.Client) -> set[str]:
    return {e["name"] for e in http.get("/api/v1/experiments").json()}


@pytest.mark.parametrize(
    "path",
    ["/api/2.0/mlflow/experiments/create", "/ajax-api/2.0/mlflow/experiments/create"],
)
def test_text_plain_write_is_refused_on_mlflow_routes(http: httpx.Client, path: str) -> None:
    # what a cross-site <form enctype="text/plain"> or fetch(no-cors) can send
    r = http.post(path, content=b'{"name": "planted"}', headers={"Content-Type": "text/plain"})
    assert r.status_code == 415
    assert r.json()["error_code"] == "UNSUPPORTED_MEDIA_TYPE"
    assert "planted" not in names(http)


@pytest.mark.parametrize(
    "content_type", ["text/plain", "application/x-www-form-urlencoded", "multipart/form-data"]
)
def test_non_json_write_is_refused_on_native_routes(http: httpx.Client, content_type: str) -> None:
    body = b'{"batches": [{"run_id": "0123456789abcdef0123456789abcdef", "batch_id": "b", "create": {"experiment_name": "planted"}}]}'
    r = http.post("/api/v1/ingest", content=body, headers={"Content-Type": content_type})
    assert r.status_code == 415, r.text
    assert "planted" not in names(http)


def test_query_string_arguments_are_not_merged_into_writes(http: httpx.Client) -> None:
    exp = experiment(http)
    r = http.post(
        "/api/2.0/mlflow/experiments/update",
        params={"experiment_id": str(exp), "new_name": "renamed"},
        json={},
    )
    assert r.status_code == 400
    r = http.post(f"/api/2.0/mlflow/experiments/delete?experiment_id={exp}")
    assert r.status_code == 400
    assert names(http) >= {"guarded"}
    assert http.get(f"/api/v1/experiments/{exp}").json()["lifecycle"] == "active"


@pytest.mark.parametrize("origin", ["https://evil.example", "null", "http://127.0.0.1:1"])
def test_cross_origin_writes_are_refused(http: httpx.Client, server_url: str, origin: str) -> None:
    exp = experiment(http)
    http.delete(f"/api/v1/experiments/{exp}")
    # a bodiless POST: no content type to check, only the origin
    r = http.post(f"/api/v1/experiments/{exp}/restore", headers={"Origin": origin})
    assert r.status_code == 403
    assert r.json()["error_code"] == "CROSS_SITE_REQUEST"
    r = http.post(
        "/api/2.0/mlflow/experiments/update",
        json={"experiment_id": str(exp), "new_name": "renamed"},
        headers={"Origin": origin},
    )
    assert r.status_code == 403
    assert http.get(f"/api/v1/experiments/{exp}").json()["lifecycle"] == "deleted"
    assert "renamed" not in names(http)


def test_browser_cross_site_fetch_without_origin_is_refused(http: httpx.Client) -> None:
    r = http.post(
        "/api/v1/experiments", json={"name": "x"}, headers={"Sec-Fetch-Site": "cross-site"}
    )
    assert r.status_code == 403
    assert "x" not in names(http)


def test_same_origin_writes_and_non_browser_clients_pass(
    http: httpx.Client, server_url: str
) -> None:
    r = http.post(
        "/api/v1/experiments",
        json={"name": "from-the-ui"},
        headers={"Origin": server_url, "Sec-Fetch-Site": "same-origin"},
    )
    assert r.status_code == 201, r.text
    assert http.post("/api/v1/experiments", json={"name": "from-the-sdk"}).status_code == 201
    # reads are not checked for origin (a page cannot read the answer without CORS anyway)
    assert http.get("/api/v1/experiments", headers={"Origin": "https://evil.example"}).is_success


@pytest.mark.parametrize("host", ["evil.example", "evil.example:5050", "10.0.0.7", "[fe80::1]"])
def test_foreign_host_header_is_refused(server_url: str, host: str) -> None:
    with httpx.Client(base_url=server_url, headers={"Host": host}) as http:
        r = http.get("/api/v1/experiments")
        assert r.status_code == 400
        assert r.json()["error_code"] == "HOST_NOT_ALLOWED"
        r = http.post("/api/v1/experiments", json={"name": "rebound"})
        assert r.status_code == 400
    with httpx.Client(base_url=server_url) as http:
        assert "rebound" not in names(http)


@pytest.mark.parametrize("host", ["localhost", "127.0.0.1", "[::1]", "app.localhost"])
def test_loopback_host_names_pass(server_url: str, host: str) -> None:
    port = urlsplit(server_url).port
    with httpx.Client(base_url=server_url, headers={"Host": f"{host}:{port}"}) as http:
        assert http.get("/health").json()["status"] == "ok"


def test_allowed_hosts_follow_the_bind_address() -> None:
    assert allowed_hosts("127.0.0.1") == ("localhost", "127.0.0.1", "::1")
    assert allowed_hosts("10.1.2.3") == ("localhost", "127.0.0.1", "::1", "10.1.2.3")
    assert allowed_hosts("0.0.0.0") == ("*",)  # reached by names it cannot know
    assert allowed_hosts("0.0.0.0", ["ml.example.com"]) == (
        "localhost",
        "127.0.0.1",
        "::1",
        "ml.example.com",
    )
    assert allowed_hosts("127.0.0.1", ["*"]) == ("*",)


def test_pages_say_they_may_be_framed_only_by_this_server(http: httpx.Client) -> None:
    for path in ("/", "/api/v1/experiments", "/health"):
        r = http.get(path)
        assert r.headers["x-frame-options"] == "SAMEORIGIN"
        assert "frame-ancestors 'self'" in r.headers.get_list("content-security-policy")


def test_sandboxed_artifacts_keep_their_sandbox(http: httpx.Client) -> None:
    run = http.post("/api/v1/runs", json={"experiment_name": "frames"}).json()["id"]
    r = http.put(
        f"/api/v1/runs/{run}/artifacts/report.html",
        content=b"<script>fetch('/api/v1/experiments',{method:'POST'})</script>",
        headers={"Content-Type": "application/octet-stream"},
    )
    assert r.status_code == 201, r.text
    policies = http.get(f"/api/v1/runs/{run}/artifacts/report.html").headers.get_list(
        "content-security-policy"
    )
    assert any(p.startswith("sandbox") for p in policies)
    assert "frame-ancestors 'self'" in policies


def test_non_json_body_is_refused_on_a_route_that_is_not_an_upload(http: httpx.Client) -> None:
    exp = experiment(http)
    r = http.put(
        f"/api/v1/experiments/{exp}/tags/team",
        content=b'{"value": "x"}',
        headers={"Content-Type": "application/octet-stream"},
    )
    assert r.status_code == 415


def test_body_limit_is_by_route_not_by_path_substring(http: httpx.Client) -> None:
    """The test server's limit is 16 MiB; paths containing /artifacts or /blobs that take JSON
    are capped like any other JSON route (only the streamed uploads are exempt)."""
    run = http.post("/api/v1/runs", json={"experiment_name": "limits"}).json()["id"]
    big = b'{"paths": ["' + b"a" * (17 << 20) + b'"]}'
    for path in (f"/api/v1/runs/{run}/artifacts", "/api/v1/blobs/missing"):
        r = http.post(path, content=big, headers={"Content-Type": "application/json"})
        assert r.status_code == 413, (path, r.text)
        assert r.json()["error_code"] == "PAYLOAD_TOO_LARGE"
    # the same size streamed to the artifact upload route is fine
    r = http.put(
        f"/api/v1/runs/{run}/artifacts/big.bin",
        content=b"\0" * (17 << 20),
        headers={"Content-Type": "application/octet-stream"},
    )
    assert r.status_code == 201


def test_objects_with_too_many_keys_and_deep_nesting_are_refused(http: httpx.Client) -> None:
    keys = {f"k{i}": "v" for i in range(MAX_JSON_KEYS + 1)}
    started = time.perf_counter()
    r = http.post(
        "/api/v1/runs",
        content=orjson.dumps({"experiment_name": "keys", "tags": keys}),
        headers={"Content-Type": "application/json"},
    )
    assert r.status_code == 400
    assert r.json()["error_code"] == "MALFORMED_REQUEST"
    deep = b'{"a":' * 200 + b"1" + b"}" * 200
    for path in ("/api/v1/runs", "/api/2.0/mlflow/runs/create", "/api/v1/ingest"):
        r = http.post(path, content=deep, headers={"Content-Type": "application/json"})
        assert r.status_code == 400, (path, r.text)
    assert time.perf_counter() - started < 10
    assert "keys" not in names(http)


def test_binary_upload_list_matches_the_routes_that_declare_a_binary_body(
    http: httpx.Client,
) -> None:
    spec = http.get("/openapi.json").json()
    declared = {
        (method.upper(), path)
        for path, item in spec["paths"].items()
        for method, op in item.items()
        if op.get("x-binary-upload")
    }
    listed = {(m, p.replace(":path}", "}")) for m, p in BINARY_UPLOADS}
    assert declared == listed


def _raw(url: str) -> socket.socket:
    parts = urlsplit(url)
    sock = socket.create_connection((parts.hostname, parts.port), timeout=10)
    return sock


def _closed_within(sock: socket.socket, seconds: float) -> bool:
    sock.settimeout(seconds)
    try:
        while sock.recv(4096):
            pass  # an answer (e.g. a 408) may come before the close
    except TimeoutError:
        return False
    except OSError:
        return True
    return True


@pytest.fixture
def impatient_server(server_settings: object, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    from modelyard.server.app import ServerSettings
    from modelyard.testing.server import live_server

    monkeypatch.setenv("MODELYARD_HEADER_TIMEOUT", "1")
    monkeypatch.setenv("MODELYARD_KEEP_ALIVE_TIMEOUT", "1")
    monkeypatch.setenv("MODELYARD_MAX_CONNECTIONS", "20")
    assert isinstance(server_settings, ServerSettings)
    with live_server(server_settings) as url:
        yield url


def test_silent_and_slow_connections_are_closed(impatient_server: str) -> None:
    silent = _raw(impatient_server)
    slow = _raw(impatient_server)
    slow.sendall(b"GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\n")  # never ends its headers
    idle = _raw(impatient_server)
    idle.sendall(b"GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
    assert b"200 OK" in idle.recv(4096)
    for sock in (silent, slow, idle):
        assert _closed_within(sock, 5)
        sock.close()


def test_drip_fed_headers_are_cut_at_the_deadline(impatient_server: str) -> None:
    sock = _raw(impatient_server)
    started = time.monotonic()
    sock.sendall(b"GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\n")
    # a header each time 250 ms pass without the server hanging up: each byte in time, the
    # whole head never; the loop ends when the server closes the connection, not after a count
    while not _closed_within(sock, 0.25):
        assert time.monotonic() - started < 8, "the drip-fed connection was never cut"
        try:
            sock.sendall(b"X-Drip: 1\r\n")
        except OSError:
            break  # closed between the wait and the write
    assert time.monotonic() - started < 8
    sock.close()


def test_connections_past_the_cap_get_503_and_the_server_recovers(
    impatient_server: str,
) -> None:
    held = [_raw(impatient_server) for _ in range(25)]
    try:
        answer = httpx.get(f"{impatient_server}/health", timeout=5)
        assert answer.status_code == 503
    finally:
        for sock in held:
            sock.close()
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        if httpx.get(f"{impatient_server}/health", timeout=5).status_code == 200:
            break
        time.sleep(0.1)
    else:
        pytest.fail("the server did not recover after the idle connections closed")
