"""The registry's edit routes the web UI uses (tags, descriptions, registering a run's model),
the experiments overview's figures and the logged-model reads, over real HTTP."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from modelyard.access.entities import Kind, Role
from modelyard.tracking.batches import new_run_id
from tests.security._servers import auth_server


@pytest.fixture
def http(server_url: str) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=f"{server_url}/api/v1", timeout=30) as client:
        yield client


def ok(response: httpx.Response, status: int = 200) -> Any:
    assert response.status_code == status, response.text
    return response.json()


def make_run(http: httpx.Client, experiment: str, start: int, end: int | None = None) -> str:
    rid = new_run_id()
    batch: dict[str, Any] = {
        "run_id": rid,
        "create": {"experiment_name": experiment, "name": f"r-{start}", "start_time": start},
    }
    if end is not None:
        batch["update"] = {"status": "FINISHED", "end_time": end}
    ok(http.post("/ingest", json={"batches": [batch]}))
    return rid


def model_folder(http: httpx.Client, run_id: str, folder: str = "model") -> None:
    mlmodel = b"flavors:\n  python_function:\n    loader_module: mlflow.sklearn\n"
    ok(http.put(f"/runs/{run_id}/artifacts/{folder}/MLmodel", content=mlmodel), 201)
    ok(http.put(f"/runs/{run_id}/artifacts/{folder}/model.pkl", content=b"not loaded"), 201)


def test_experiments_list_counts_runs_and_last_activity(http: httpx.Client) -> None:
    make_run(http, "busy", 1_000, 5_000)
    make_run(http, "busy", 2_000)
    gone = make_run(http, "busy", 9_000, 9_999)
    assert http.delete(f"/runs/{gone}").status_code == 204
    ok(http.post("/experiments", json={"name": "empty"}), 201)
    found = {e["name"]: e for e in ok(http.get("/experiments"))}
    assert (found["busy"]["runs"], found["busy"]["last_run_at"]) == (2, 5_000)
    assert (found["empty"]["runs"], found["empty"]["last_run_at"]) == (0, None)


def test_model_and_version_edits_are_recorded_with_their_reason(http: httpx.Client) -> None:
    rid = make_run(http, "edits", 1)
    model_folder(http, rid)
    v = ok(http.post("/models/clf/versions/from-run", json={"run_id": rid, "path": "model"}), 201)
    assert (v["version"], v["run_id"], v["source"]) == (1, rid, f"runs:/{rid}/model")
    files = ok(http.get("/models/clf/versions/1/files"))
    assert sorted(f["path"] for f in files) == ["MLmodel", "model.pkl"]

    ok(http.patch("/models/clf", json={"description": "churn model", "reason": "docs"}))
    ok(http.put("/models/clf/tags/team", json={"value": "core", "reason": "owner"}))
    ok(http.put("/models/clf/versions/1/tags/data/split", json={"value": "v2", "reason": "new"}))
    ok(http.patch("/models/clf/versions/1", json={"description": "first", "reason": "what"}))
    after = ok(http.delete("/models/clf/versions/1/tags/data/split", params={"reason": "wrong"}))
    assert after["tags"] == {}
    model = ok(http.get("/models/clf"))
    assert (model["description"], model["tags"]) == ("churn model", {"team": "core"})
    assert ok(http.get("/models/clf/versions/1"))["description"] == "first"
    history = ok(http.get("/models/clf/history"))
    assert [(e["action"], e["version"], e["detail"].get("reason")) for e in history[2:]] == [
        ("description_changed", None, "docs"),
        ("tag_set", None, "owner"),
        ("tag_set", 1, "new"),
        ("description_changed", 1, "what"),
        ("tag_deleted", 1, "wrong"),
    ]
    missing = http.delete("/models/clf/tags/nope")
    assert (missing.status_code, missing.json()["error_code"]) == (404, "RESOURCE_DOES_NOT_EXIST")


def test_registering_from_a_run_needs_a_model_folder(http: httpx.Client) -> None:
    rid = make_run(http, "from-run", 1)
    ok(http.put(f"/runs/{rid}/artifacts/notes/a.txt", content=b"x"), 201)
    model_folder(http, rid)
    plain = http.post("/models/m/versions/from-run", json={"run_id": rid, "path": "notes"})
    assert (plain.status_code, plain.json()["error_code"]) == (400, "INVALID_PARAMETER_VALUE")
    assert http.get("/models/m").status_code == 404  # nothing written
    escape = http.post("/models/m/versions/from-run", json={"run_id": rid, "path": "../x"})
    assert escape.status_code == 400
    unknown = http.post("/models/m/versions/from-run", json={"run_id": "0" * 32, "path": "model"})
    assert unknown.status_code == 404
    ok(http.post("/models/m/versions/from-run", json={"run_id": rid, "path": "model"}), 201)
    second = ok(
        http.post("/models/m/versions/from-run", json={"run_id": rid, "path": "model"}), 201
    )
    assert second["version"] == 2


def test_registering_a_logged_model(http: httpx.Client, server_url: str) -> None:
    rid = make_run(http, "logged", 1)
    exp = ok(http.get("/experiments/by-name/logged"))["id"]
    body = {"experiment_id": str(exp), "name": "clf", "source_run_id": rid}
    made = ok(http.post(f"{server_url}/api/2.0/mlflow/logged-models", json=body))
    model_id = made["model"]["info"]["model_id"]
    [listed] = ok(http.get(f"/experiments/{exp}/logged-models"))["models"]
    assert (listed["id"], listed["run_id"], listed["run_name"]) == (model_id, rid, "r-1")
    assert ok(http.get(f"/logged-models/{model_id}"))["name"] == "clf"
    assert [m["id"] for m in ok(http.get(f"/runs/{rid}/logged-models"))["outputs"]] == [model_id]
    missing = http.post("/models/lm/versions/from-logged-model", json={"model_id": "m-" + "0" * 32})
    assert missing.status_code == 404
    assert (
        http.post("/models/lm/versions/from-logged-model", json={"model_id": "../x"}).status_code
        == 404
    )
    assert http.get("/models/lm").status_code == 404
    v = ok(http.post("/models/lm/versions/from-logged-model", json={"model_id": model_id}), 201)
    assert (v["version"], v["run_id"], v["source"]) == (1, rid, f"models:/{model_id}")


def test_edit_routes_follow_roles(tmp_path: Path) -> None:
    with auth_server(tmp_path) as srv, srv.client(srv.admin_token) as admin:
        api = "/api/v1"
        exp = ok(admin.post(f"{api}/experiments", json={"name": "secret"}), 201)["id"]
        other = ok(admin.post(f"{api}/experiments", json={"name": "open"}), 201)["id"]
        runs = {}
        for eid in (exp, other):
            rid = new_run_id()
            ok(admin.post(f"{api}/runs", json={"run_id": rid, "experiment_id": eid}), 201)
            ok(
                admin.put(f"{api}/runs/{rid}/artifacts/model/MLmodel", content=b"flavors: {}\n"),
                201,
            )
            runs[eid] = rid
        ok(
            admin.post(
                f"{api}/models/clf/versions/from-run", json={"run_id": runs[other], "path": "model"}
            ),
            201,
        )
        editor = srv.user(
            "ed", [(Kind.MODEL, "clf", Role.EDITOR), (Kind.EXPERIMENT, str(other), Role.VIEWER)]
        )
        viewer = srv.user("vi", [(Kind.MODEL, "clf", Role.VIEWER)])
        with srv.client(editor) as ed, srv.client(viewer) as vi:
            denied = vi.put(f"{api}/models/clf/tags/t", json={"value": "x", "reason": "r"})
            assert (denied.status_code, denied.json()["error_code"]) == (403, "PERMISSION_DENIED")
            assert vi.patch(f"{api}/models/clf", json={"description": "x"}).status_code == 403
            ok(ed.put(f"{api}/models/clf/versions/1/tags/t", json={"value": "x", "reason": "r"}))
            stage = ed.patch(
                f"{api}/models/clf/versions/1", json={"stage": "Production", "reason": "go"}
            )
            assert stage.status_code == 403
            assert "maintainer" in stage.json()["message"]
            # a run of an experiment the editor cannot read is not registered through this route
            hidden = ed.post(
                f"{api}/models/clf/versions/from-run", json={"run_id": runs[exp], "path": "model"}
            )
            assert hidden.status_code == 403
            ok(
                ed.post(
                    f"{api}/models/clf/versions/from-run",
                    json={"run_id": runs[other], "path": "model"},
                ),
                201,
            )
            new = ed.post(
                f"{api}/models/mine/versions/from-run",
                json={"run_id": runs[other], "path": "model"},
            )
            assert new.status_code == 201  # a new model: its creator maintains it
            ok(ed.put(f"{api}/models/mine/aliases/champion", json={"version": 1, "reason": "r"}))
            assert vi.get(f"{api}/experiments/{exp}/logged-models").status_code == 403
        versions = ok(admin.get(f"{api}/models/clf/versions"))["versions"]
        assert [v["version"] for v in versions] == [2, 1]  # the refused requests wrote nothing
