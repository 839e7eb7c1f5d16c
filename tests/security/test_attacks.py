"""The routes this round added (deployments, monitoring, alerts, accounts, the audit log), tried
as an attacker on a live auth-on server: each attack gets a clear 4xx, and nothing is read,
written or run. The older routes' attacks live beside the features they hit (the guard, the
artifact store, search, the UI); this file covers the new ones."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.security._servers import AuthServer, auth_server
from tests.security.test_serving import make_model

EVIL = "https://evil.example"


@pytest.fixture(scope="module")
def folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("attacks")


@pytest.fixture(scope="module")
def server(folder: Path) -> Iterator[AuthServer]:
    with auth_server(folder, {"MODELYARD_RATE_LIMIT": "0"}) as found:
        with found.client(found.admin_token) as admin:
            make_model(admin, "churn")
        yield found


@pytest.fixture(scope="module")
def admin(server: AuthServer) -> Iterator[httpx.Client]:
    with server.client(server.admin_token) as client:
        yield client


def files_under(root: Path) -> set[Path]:
    return {p for p in root.rglob("*") if p.is_file()}


def audit_count(admin: httpx.Client) -> int:
    answer = admin.get("/api/v1/audit", params={"order": "desc", "limit": 1})
    records = answer.json()["records"]
    return int(records[0]["seq"]) if records else 0


# ---- server-side request forgery: the availability probe fetches a deployment's serving_url


@pytest.mark.parametrize(
    "url",
    [
        "http://169.254.169.254:80",  # cloud instance metadata
        "http://[fd00:ec2::254]:80",  # the same over IPv6
        "http://[::ffff:169.254.169.254]:80",
        "http://[fe80::1]:8080",
        "http://0.0.0.0:8080",
        "http://224.0.0.1:8080",
        "http://user:pw@10.0.0.5:8080",
        "http://10.0.0.5:8080/?next=http://169.254.169.254",
        "file:///etc/passwd",
        "gopher://10.0.0.5:70/_",
    ],
)
def test_a_serving_url_cannot_send_the_probe_elsewhere(admin: httpx.Client, url: str) -> None:
    body = {"name": "ext-ssrf", "model": "models:/churn/1", "engine": "external"}
    refused = admin.post("/api/v1/deployments", json={**body, "serving_url": url})
    assert refused.status_code == 400, refused.text
    assert refused.json()["error_code"] == "INVALID_PARAMETER_VALUE"
    assert refused.json()["details"]["field"] == "serving_url"
    assert admin.get("/api/v1/deployments/ext-ssrf").status_code == 404  # nothing made


def test_a_private_serving_url_stays_allowed(admin: httpx.Client) -> None:
    body = {"name": "ext-ok", "model": "models:/churn/1", "engine": "external"}
    made = admin.post("/api/v1/deployments", json={**body, "serving_url": "http://10.0.0.5:8080"})
    assert made.status_code == 201, made.text
    rotate = admin.post(
        "/api/v1/deployments/ext-ok/serving-token",
        json={"serving_url": "http://169.254.169.254:80"},
    )
    assert rotate.status_code == 400, rotate.text
    assert admin.get("/api/v1/deployments/ext-ok").json()["serving_url"] == "http://10.0.0.5:8080"


@pytest.mark.parametrize(
    "url",
    ["http://127.0.0.1:9/hook", "http://169.254.169.254/latest", "http://10.1.2.3/h", "ftp://x/"],
)
def test_alert_webhooks_cannot_reach_inside(admin: httpx.Client, url: str) -> None:
    rule = {
        "name": "r", "deployment": "churn", "metric": "accuracy", "window": "1h", "op": "<",
        "threshold": 0.5, "channels": [{"type": "webhook", "url": url}],
    }  # fmt: skip
    refused = admin.post("/api/v1/monitoring/alerts/rules", json=rule)
    assert refused.status_code == 400, refused.text
    assert refused.json()["details"]["field"] == "channels"
    rules = admin.get("/api/v1/monitoring/alerts/rules").json()["rules"]
    assert not [r for r in rules if r["name"] == "r"]


# ---- path traversal through the names monitoring keeps files under


@pytest.mark.parametrize(
    "name",
    ["..", "../escape", "..%2Fescape", "%2e%2e%2fescape", "..\\escape", "a/../../escape", "x%00y"],
)
def test_monitoring_names_never_leave_the_monitoring_folder(
    admin: httpx.Client, folder: Path, name: str
) -> None:
    before = files_under(folder)
    rows = {"columns": ["x"], "data": [[1.0]], "predictions": [1]}
    answer = admin.post(f"/api/v1/monitoring/deployments/{name}/predictions", json=rows)
    assert 400 <= answer.status_code < 500, answer.text
    assert "error_code" in answer.json()
    assert files_under(folder) - before <= {p for p in files_under(folder) if "audit" in p.name}
    assert not any("escape" in p.name for p in folder.rglob("*"))


# ---- script injection: text a user wrote, shown back as HTML


def test_the_monitoring_report_escapes_column_names_and_values(admin: httpx.Client) -> None:
    script = "<script>alert(1)</script>"
    image = '"><img src=x onerror=alert(2)>'
    reference = {"columns": [script, image], "data": [[1.0, script]] * 30, "predictions": [1] * 30}
    logged = admin.post("/api/v1/monitoring/deployments/churn/predictions", json=reference)
    assert logged.status_code == 201, logged.text
    now = int(time.time() * 1000) + 1000
    window: dict[str, str | int] = {"reference": "window", "reference_since": 0}
    params = {**window, "reference_until": now, "since": 0, "until": now}
    report = admin.get("/api/v1/monitoring/deployments/churn/report", params=params)
    assert report.status_code == 200, report.text
    assert "text/html" in report.headers["content-type"]
    assert "&lt;script&gt;alert(1)" in report.text  # shown, as text
    assert "<script>alert(1)" not in report.text
    assert "<img src=x" not in report.text
    assert "default-src 'none'" in report.headers["content-security-policy"]


# ---- SQL built from user text: filters are bound parameters, LIKE wildcards escaped


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("actor", "' OR '1'='1"),
        ("actor", "admin' --"),
        ("object_id", "1; DROP TABLE audit_records; --"),
        ("action", "%"),
        ("action", "_"),
        ("object_kind", '" OR 1=1 --'),
    ],
)
def test_audit_filters_match_text_literally(admin: httpx.Client, field: str, value: str) -> None:
    assert audit_count(admin) > 0
    found = admin.get("/api/v1/audit", params={field: value})
    assert found.status_code in (200, 400), found.text
    if found.status_code == 200:
        assert found.json()["records"] == []
    assert admin.get("/api/v1/audit/verify").json()["ok"] is True


# ---- oversized and deeply nested bodies, on the accounts routes


def test_deep_and_huge_bodies_on_the_accounts_routes(admin: httpx.Client) -> None:
    before = audit_count(admin)
    deep = '{"name": ' + "[" * 5000 + "]" * 5000 + "}"
    nested = admin.post("/api/v1/teams", content=deep, headers={"Content-Type": "application/json"})
    assert nested.status_code == 400, nested.text
    wide = admin.post(
        "/api/v1/users",
        json={"name": "u", "password": "p" * 10, "x": {str(i): i for i in range(20_000)}},
    )
    assert 400 <= wide.status_code < 500, wide.text
    huge = admin.post(
        "/api/v1/users",
        content=b'{"name": "' + b"a" * (65 << 20) + b'"}',
        headers={"Content-Type": "application/json"},
    )
    assert huge.status_code == 413, huge.text
    assert audit_count(admin) == before  # refused requests wrote nothing


def test_a_huge_password_is_refused_before_it_is_hashed(server: AuthServer) -> None:
    with httpx.Client(base_url=server.url, timeout=30) as anonymous:
        started = time.perf_counter()
        answer = anonymous.post(
            "/api/v1/auth/login", json={"name": "admin", "password": "x" * 1_000_000}
        )
        took = time.perf_counter() - started
    assert answer.status_code in (400, 413, 422), answer.text
    assert "set-cookie" not in answer.headers
    assert took < 5  # argon2 never ran on a megabyte


# ---- cross-origin writes


def test_login_from_another_site_is_refused(server: AuthServer) -> None:
    with httpx.Client(base_url=server.url, timeout=30) as browser:
        login = {"name": "admin", "password": "admin-password-for-tests"}
        forged = browser.post("/api/v1/auth/login", json=login, headers={"Origin": EVIL})
        assert forged.status_code == 403, forged.text
        assert "set-cookie" not in forged.headers
        as_form = browser.post(
            "/api/v1/auth/login",
            content="name=admin&password=admin-password-for-tests",
            headers={"Content-Type": "application/x-www-form-urlencoded"},
        )
        assert 400 <= as_form.status_code < 500
        assert "set-cookie" not in as_form.headers


def test_a_session_write_from_another_site_is_refused_even_with_its_csrf_token(
    server: AuthServer, admin: httpx.Client
) -> None:
    with httpx.Client(base_url=server.url, timeout=30) as browser:
        login = {"name": "admin", "password": "admin-password-for-tests"}
        session = browser.post("/api/v1/auth/login", json=login)
        assert session.status_code == 200, session.text
        csrf = session.json()["csrf"]
        body = json.dumps({"name": "made-cross-site"})
        headers = {"Content-Type": "application/json", "X-CSRF-Token": csrf}
        forged = browser.post("/api/v1/teams", content=body, headers={**headers, "Origin": EVIL})
        assert forged.status_code == 403, forged.text
        site = browser.post(
            "/api/v1/teams", content=body, headers={**headers, "Sec-Fetch-Site": "cross-site"}
        )
        assert site.status_code == 403, site.text
        teams = admin.get("/api/v1/teams").json()
        assert "made-cross-site" not in json.dumps(teams)
        same = browser.post("/api/v1/teams", content=body, headers=headers)
        assert same.status_code == 201, same.text  # the same request from the page itself


# ---- a run id reused after its run was deleted for good


def test_a_reused_run_id_is_checked_against_its_new_experiment(
    server: AuthServer, admin: httpx.Client
) -> None:
    """The server remembers which experiment a run is in (it never moves); a run deleted for
    good and made again, by id, elsewhere must not keep the old experiment's permissions."""
    from modelyard.access.entities import Kind, Role

    exp_a = admin.post("/api/v1/experiments", json={"name": "reuse-a"}).json()["id"]
    admin.post("/api/v1/experiments", json={"name": "reuse-b"})
    run_id = "ef" * 16
    batch = {"run_id": run_id, "create": {"experiment_name": "reuse-a"}}
    assert admin.post("/api/v1/ingest", json={"batches": [batch]}).is_success
    token = server.user("reuser", [(Kind.EXPERIMENT, str(exp_a), Role.EDITOR)])
    with server.client(token) as editor:
        log = {"metrics": [{"key": "m", "steps": [0], "values": [1.0]}]}
        assert editor.post(f"/api/v1/runs/{run_id}/log", json=log).is_success  # remembered
        assert admin.delete(f"/api/v1/runs/{run_id}").is_success
        gc = admin.post("/api/v1/gc", json={"older_than_seconds": 0, "dry_run": False})
        assert gc.status_code == 200, gc.text
        assert run_id in gc.json()["run_ids"]
        again = {"run_id": run_id, "create": {"experiment_name": "reuse-b"}}
        assert admin.post("/api/v1/ingest", json={"batches": [again]}).is_success
        refused = editor.post(f"/api/v1/runs/{run_id}/log", json=log)
        assert refused.status_code == 403, refused.text
