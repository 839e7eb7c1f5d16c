"""Every route declares its permission, and each answers by it, on a live server with auth on.

The matrix sends every route of the app (native, MLflow, the UI's ``/ajax-api`` copies) as
nobody (401), as a user without any role (403, or an empty listing), as the role just below
the one the route needs (403), and as the role it needs (neither 401 nor 403), with sensible
path parameters and minimal bodies built from the route table itself.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from modelyard.access.entities import Kind, Role
from modelyard.server.app import ServerSettings, create_app
from modelyard.server.guard import BINARY_UPLOADS
from modelyard.server.permissions import PERMISSIONS, Need, endpoint_key, routes
from tests.server.access_world import PASSWORD, World, world

BELOW = {Role.EDITOR: "viewer", Role.MAINTAINER: "editor", Role.ADMIN: "maintainer"}
HOLDER = {Role.VIEWER: "viewer", Role.EDITOR: "editor", Role.MAINTAINER: "maintainer"}
HOLDER[Role.ADMIN] = "admin"


# What each route needs, written down from the rules (docs/security.md), not read from the
# table: reads need viewer and writes editor on their object, except these.
SPEC: dict[str, set[str]] = {
    "open": {
        "routes.health:health", "routes.health:ready", "app:_api_not_found.<locals>.no_endpoint",
        "app:_mount_ui.<locals>.no_ui", "metrics:install_metrics.<locals>.scrape",
        "mlflow:mount.<locals>.server_info", "routes.access:session", "routes.access:login",
        "routes.oidc:oidc_login", "routes.oidc:oidc_callback", "routes.deployments:heartbeat",
    },
    "signed_in": {
        "app:_api_docs.<locals>.docs", "app:_api_docs.<locals>.openapi", "routes.blobs:get_blob",
        "routes.experiments:list_experiments", "routes.runs:search_runs",
        "routes.datasets:list_datasets", "routes.registry:list_models",
        "routes.deployments:list_all", "routes.monitoring:overview", "routes.alerts:list_rules",
        "routes.alerts:firings", "mlflow.experiments:search", "mlflow.runs:search",
        "mlflow.traces:search", "mlflow.traces:batch_get_infos",
        "mlflow.logged_models:search", "mlflow.registry:search_models",
        "mlflow.registry:search_versions", "routes.access:logout", "routes.access:me",
        "routes.access:change_password", "routes.access:list_tokens", "routes.access:create_token",
        "routes.access:revoke_token", "routes.access:list_grants", "routes.access:create_grant",
        "routes.access:delete_grant",
    },
    "create": {
        "routes.experiments:create_experiment", "mlflow.experiments:create",
        "mlflow.registry:create_model", "routes.blobs:missing", "routes.blobs:put_blob",
        "routes.blobs:put_pack", "routes.blobs:create_upload", "routes.blobs:upload_status",
        "routes.blobs:put_part", "routes.blobs:complete_upload", "routes.blobs:abort_upload",
    },
    "maintainer": {
        "routes.experiments:update_experiment", "routes.experiments:delete_experiment",
        "routes.experiments:restore_experiment", "mlflow.experiments:update",
        "mlflow.experiments:delete", "mlflow.experiments:restore", "routes.datasets:delete_version",
        "routes.registry:delete_version", "routes.registry:trust", "routes.registry:set_alias",
        "routes.registry:delete_alias", "routes.registry:rollback_alias",
        "routes.promotions:approve", "routes.promotions:reject", "mlflow.registry:rename_model",
        "mlflow.registry:delete_model", "mlflow.registry:set_alias", "mlflow.registry:delete_alias",
        "mlflow.registry:transition_stage", "mlflow.registry:delete_version",
        "routes.deployments:create", "routes.deployments:set_logging", "routes.deployments:delete",
        "routes.deployments:serving_token",
    },
    "admin": {
        "routes.runs:gc", "routes.audit:query", "routes.audit:verify", "routes.audit:export",
        *(
            f"routes.access:{fn}"
            for fn in (
                "list_users", "create_user", "get_user", "update_user", "delete_user",
                "list_teams", "create_team", "delete_team", "add_member", "remove_member",
            )
        ),
    },
    # a read sent as a POST; and routes declared more loosely that check the runs their
    # body names inside (INSIDE)
    "viewer": {
        "mlflow.registry:latest_versions", "routes.runs:metric_histories",
        "mlflow.runs:get_history_bulk_interval",
    },
    "editor": {"routes.runs:ingest"},
}  # fmt: skip
INSIDE = {"routes.runs:ingest", "routes.runs:metric_histories"}
INSIDE.add("mlflow.runs:get_history_bulk_interval")
# Routes whose own checks decide what some callers get (beyond this module's rules)
OWN_CHECKS = {
    "routes.access:create_grant",  # maintainers of the object named in the body
    "routes.access:delete_grant",
    "routes.access:revoke_token",  # one's own tokens
    "routes.access:list_tokens",
    "routes.deployments:heartbeat",  # a serving process's token
    "metrics:install_metrics.<locals>.scrape",  # loopback, or a token
}
LABELS = {"viewer": Role.VIEWER, "editor": Role.EDITOR, "maintainer": Role.MAINTAINER}
LABELS["admin"] = Role.ADMIN
SPEND = re.compile(r"delete|restore|rename|rollback|logout|password|update_user|revoke|gc$")


@pytest.fixture(scope="module")
def w(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    with world(tmp_path_factory.mktemp("permissions")) as found:
        yield found


def short(key: str) -> str:
    return key.removeprefix("modelyard.server.")


def expected(key: str, methods: set[str]) -> str:
    """What the rules say a route needs: open, signed_in, create, or a role's label."""
    for label, keys in SPEC.items():
        if key in keys:
            return label
    return "viewer" if "GET" in methods else "editor"


def as_need(label: str) -> Need:
    if label in ("open", "signed_in", "create"):
        return Need(label)
    if label == "admin":
        return Need("server", Kind.SERVER, Role.ADMIN)
    return Need("object", Kind.EXPERIMENT, LABELS[label], lambda _request: None)


# ---- (a) the table covers the app


def test_every_route_declares_its_permission(tmp_path: Path) -> None:
    settings = ServerSettings(f"sqlite:///{tmp_path / 'm.db'}", str(tmp_path / "a"), auth=True)
    app = create_app(settings)
    found = [(path, endpoint_key(r.endpoint)) for path, r in routes(app)]  # type: ignore[attr-defined]
    assert len(found) > 161
    missing = sorted({(p, k) for p, k in found if k not in PERMISSIONS})
    assert missing == []
    for path, key in found:
        need = PERMISSIONS[key]
        assert (need.mode == "object") == (need.find is not None), (path, key)


def test_the_table_says_what_the_rules_say(tmp_path: Path) -> None:
    settings = ServerSettings(f"sqlite:///{tmp_path / 'm.db'}", str(tmp_path / "a"), auth=True)
    differ = []
    for _path, route in routes(create_app(settings)):
        full = endpoint_key(route.endpoint)  # type: ignore[attr-defined]
        need, methods = PERMISSIONS[full], set(getattr(route, "methods", None) or {"GET"})
        declared = need.mode if need.mode in ("open", "signed_in", "create") else need.role.label
        want = expected(short(full), methods)
        if declared != want and short(full) not in INSIDE:
            differ.append(f"{short(full)}: declared {declared}, the rules say {want}")
    assert differ == []


def test_the_route_paths_are_the_served_ones(w: World) -> None:
    paths = {path for path, _route in routes(w.app)}
    assert {"/api/v1/experiments", "/api/2.0/mlflow/runs/log-batch", "/health"} <= paths
    assert "/ajax-api/2.0/mlflow/registered-models/search" in paths


# ---- (b) the matrix


@dataclass
class Call:
    key: str
    method: str
    path: str
    need: Need
    json: Any = None
    content: bytes | None = None
    params: dict[str, Any] | None = None

    def send(self, http: httpx.Client) -> httpx.Response:
        return http.request(
            self.method,
            self.path,
            json=self.json,
            content=self.content,
            params=self.params,
            headers={"Content-Type": "application/octet-stream"} if self.content else None,
        )


def names(w: World, path: str, key: str) -> dict[str, str]:
    """The object each ``{name}`` stands for, by where the route lives."""
    for prefix, value in (
        ("/api/v1/experiments/by-name/", w.exp_name),
        ("/api/v1/models/", w.model_for(key.rpartition(":")[2], path)),
        ("/api/v1/datasets/", w.dataset),
        ("/api/v1/deployments/", w.deployment),
        ("/api/v1/monitoring/deployments/", w.deployment),
        ("/api/v1/users/", "spend-user"),
        ("/api/v1/teams/", "perm-team"),
    ):
        if path.startswith(prefix):
            return {"name": value}
    return {}


def fill(w: World, path: str, key: str) -> str:
    mlflow_artifacts = f"{w.exp_id}/{w.run_id}/artifacts/a.txt"
    values = {
        "experiment_id": str(w.exp_id),
        "run_id": w.run_id,
        "key": "k",
        "path": mlflow_artifacts if "mlflow-artifacts" in path else "a.txt",
        "version": "1",
        "alias": "champion",
        "promotion_id": str(w.promotion),
        "rule_id": str(w.rule),
        "firing_id": str(w.firing),
        "digest": w.digest,
        "upload_id": w.upload,
        "number": "1",
        "model_id": w.logged_model,
        "trace_id": w.trace,
        "token_id": "no-such-token",
        "grant_id": "999999",
        "view_id": "999999",
        "user": "spend-user",
        "rest": "no/such/route",
        **names(w, path, key),
    }
    return re.sub(r"\{(\w+)(?::\w+)?\}", lambda m: values[m.group(1)], path)


def native_bodies(w: World) -> dict[str, Any]:
    rule = {"name": "r2", "deployment": w.deployment, "metric": "error_rate"}
    return {
        "routes.experiments:create_experiment": {"name": "perm-new-exp"},
        "routes.experiments:update_experiment": {"description": "d"},
        "routes.experiments:set_experiment_tag": {"value": "v"},
        "routes.runs:create_run": {"experiment_id": w.exp_id},
        "routes.runs:ingest": {"batches": [{"run_id": w.run_id, "tags": {"t": "1"}}]},
        "routes.runs:log_batch": {"tags": {"t": "2"}},
        "routes.runs:update_run": {"name": "renamed"},
        "routes.runs:metric_histories": {"run_ids": [w.run_id], "keys": ["loss"]},
        "routes.runs:gc": {"dry_run": True},
        "routes.views:create_view": {"name": "perm-view", "query": "filter=x"},
        "routes.views:update_view": {"name": "perm-view-2"},
        "routes.artifacts:link_artifacts": {"files": {"b.txt": w.digest}},
        "routes.blobs:missing": {"digests": [w.digest]},
        "routes.datasets:register": {"files": {"d.csv": w.digest}},
        "routes.datasets:log_use": {"name": w.dataset, "version": 1},
        "routes.registry:update_version": {"description": "d"},
        "routes.registry:trust": {"reason": "read it"},
        "routes.registry:set_alias": {"version": 1},
        "routes.registry:set_card": {"card": "# card"},
        "routes.registry:update_model": {"description": "d", "reason": "r"},
        "routes.registry:set_model_tag": {"value": "v"},
        "routes.registry:set_version_tag": {"value": "v"},
        "routes.registry:register_from_run": {"run_id": w.run_id, "path": "a.txt"},
        "routes.registry:register_logged_model": {"model_id": w.logged_model},
        "routes.promotions:propose": {"stage": "Production"},
        "routes.promotions:comment": {"text": "looks fine"},
        "routes.deployments:create": {
            "name": "perm-deploy-2", "model": f"models:/{w.model}/1", "engine": "external",
        },
        "routes.deployments:set_traffic": {"traffic": [{"version": 1, "weight": 100}]},
        "routes.deployments:promote": {"version": 1},
        "routes.alerts:create_rule": {**rule, "window": "5m", "op": ">", "threshold": 0.5},
        "routes.alerts:update_rule": {"enabled": True},
        "routes.alerts:silence": {"minutes": 5},
        "routes.access:login": {"name": "viewer", "password": PASSWORD},
        "routes.access:create_user": {"name": "made-user", "password": "password-1234"},
        "routes.access:create_team": {"name": "made-team"},
    }  # fmt: skip


def mlflow_message(w: World, fn: str, path: str) -> dict[str, Any]:
    m: dict[str, Any] = {
        "experiment_id": str(w.exp_id),
        "experiment_ids": [str(w.exp_id)],
        "experiment_name": w.exp_name,
        "run_id": w.run_id,
        "run_ids": [w.run_id],
        "metric_key": "loss",
        "name": w.model_for(fn.rpartition(":")[2], path),
        "version": "1",
        "alias": "champion",
        "stage": "Staging",
        "key": "k",
        "value": "v",
        "timestamp": 1,
        "source": f"runs:/{w.run_id}/a.txt",
        "path": f"{w.exp_id}/{w.run_id}/artifacts",
    }
    special: dict[str, dict[str, Any]] = {
        "experiments:create": {"name": "perm-mlflow-exp"},
        "registry:create_model": {"name": "perm-mlflow-model"},
        "registry:rename_model": {"new_name": f"{m['name']}-2"},
        "logged_models:finalize": {"status": "LOGGED_MODEL_READY"},
        "runs:update": {"status": "FINISHED"},
        "traces:start_trace": {
            "trace": {
                "trace_info": {
                    "trace_id": w.trace,
                    "request_time": "2026-01-01T00:00:00Z",
                    "state": "OK",
                    "trace_location": {"mlflow_experiment": {"experiment_id": str(w.exp_id)}},
                }
            }
        },
        "traces:delete_traces": {"experiment_id": str(w.exp_id), "trace_ids": ["tr-none"]},
        "traces:link_to_run": {"run_id": w.run_id, "trace_ids": [w.trace]},
        "datasets:log_inputs": {
            "datasets": [{"dataset": {"name": w.dataset, "digest": "abc123", "source": "s"}}]
        },
    }
    m.update(special.get(fn, {}))
    return m


def calls(w: World) -> list[Call]:
    bodies = native_bodies(w)
    binary = {(m, p) for m, p in BINARY_UPLOADS}
    out = []
    for template, route in routes(w.app):
        full = endpoint_key(route.endpoint)  # type: ignore[attr-defined]
        key = short(full)
        methods = sorted(set(getattr(route, "methods", None) or ["GET"]) - {"HEAD", "OPTIONS"})
        method = "GET" if "GET" in methods else methods[0]
        call = Call(key, method, fill(w, template, key), as_need(expected(key, set(methods))))
        if (method, template) in binary:
            call.content = b"bytes"
        elif key.startswith("mlflow.") and key != "mlflow:mount.<locals>.server_info":
            fn = key.removeprefix("mlflow.")
            if fn.startswith("artifacts:"):
                listing = mlflow_message(w, fn, template)["path"]
                call.params = {"path": listing} if method == "GET" else None
            elif method == "GET":
                call.params = mlflow_message(w, fn, template)
            else:
                call.json = mlflow_message(w, fn, template)
        elif method in ("POST", "PUT", "PATCH"):
            call.json = bodies.get(key, {})
        out.append(call)
    return out


def refused(response: httpx.Response, status: int, code: str) -> bool:
    if response.status_code != status:
        return False
    return bool(response.json().get("error_code") == code)


def passed(response: httpx.Response) -> bool:
    if response.status_code == 401:
        return False
    if response.status_code == 403:
        return bool(response.json().get("error_code") != "PERMISSION_DENIED")
    return True


def check(call: Call, who: str | None, response: httpx.Response, want: str) -> str | None:
    ok = {
        "401": lambda r: refused(r, 401, "UNAUTHENTICATED"),
        "403": lambda r: refused(r, 403, "PERMISSION_DENIED"),
        "pass": passed,
    }[want](response)
    if ok:
        return None
    return f"{call.method} {call.path} ({call.key}) as {who}: want {want}, got {response.status_code} {response.text[:200]}"


def expectations(call: Call) -> list[tuple[str | None, str]]:
    """(who, what they get) for one route."""
    need, key = call.need, call.key
    out: list[tuple[str | None, str]] = []
    if key not in OWN_CHECKS:
        out.append((None, "pass" if need.mode == "open" else "401"))
    if need.mode == "signed_in" and key not in OWN_CHECKS:
        out.append(("outsider", "pass"))
    elif need.mode == "create":
        out += [("maintainer-read", "403"), ("outsider", "pass")]
    elif need.mode == "server":
        out += [("outsider", "403"), (BELOW[need.role], "403"), (HOLDER[need.role], "pass")]
    elif need.mode == "object":
        out.append(("outsider", "403"))
        if need.role in BELOW:
            out.append((BELOW[need.role], "403"))
        out.append((HOLDER[need.role], "pass"))
    return out


DROP_GRANTS = {"routes.deployments:delete", "mlflow.registry:delete_model"}


def test_every_route_answers_each_role_by_its_permission(w: World) -> None:
    everyone: list[str | None] = [None, "outsider", "viewer", "editor", "maintainer", "admin"]
    clients = {who: w.client(who) for who in [*everyone, "maintainer-read"]}
    failures: list[str] = []
    found = calls(w)
    assert len(found) > 200
    later = [c for c in found if SPEND.search(c.key.rpartition(":")[2]) or c.method == "DELETE"]
    later.sort(key=lambda c: c.key in DROP_GRANTS)  # the objects' own grants go with them
    # refusals first (they change nothing), then the allowed calls, those that spend last
    for refusals, batch in ((True, found), (False, [c for c in found if c not in later] + later)):
        for call in batch:
            for who, want in expectations(call):
                if (want != "pass") == refusals:
                    failure = check(call, who, call.send(clients[who]), want)
                    if failure is not None:
                        failures.append(failure)
    for http in clients.values():
        http.close()
    assert failures == [], "\n".join(failures)
