"""What the roles mean beyond one route: listings that leak nothing, read tokens, creators,
the authenticated user on runs, grants that follow a rename, and the attacks a caller with a
role on one object can try against another's (on a live server with auth on)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from modelyard.access.entities import Kind, Role
from tests.server.access_world import Secret, World, hide, world

V1, MLF = "/api/v1", "/api/2.0/mlflow"


@pytest.fixture(scope="module")
def w(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    with world(tmp_path_factory.mktemp("rules")) as found:
        yield found


@pytest.fixture(scope="module")
def secret(w: World) -> Secret:
    return hide(w)


@pytest.fixture(scope="module")
def http(w: World) -> Iterator[dict[str, httpx.Client]]:
    clients = {who: w.client(who) for who in ("outsider", "viewer", "editor", "maintainer")}
    clients["admin"] = w.client("admin")
    clients["read"] = w.client("maintainer-read")
    yield clients
    for client in clients.values():
        client.close()


@pytest.fixture(scope="module")
def own(w: World, http: dict[str, httpx.Client]) -> dict[str, Any]:
    """The outsider's own experiment and run (made through the API: they maintain it)."""
    outsider = http["outsider"]
    exp = outsider.post(f"{V1}/experiments", json={"name": "outsider-exp"}).json()
    run = outsider.post(f"{V1}/runs", json={"experiment_id": exp["id"]}).json()
    return {"exp": exp["id"], "run": run["id"]}


def ok(response: httpx.Response) -> Any:
    assert response.status_code < 300, response.text
    return response.json()


def denied(response: httpx.Response) -> None:
    assert response.status_code == 403, response.text
    assert response.json()["error_code"] == "PERMISSION_DENIED"


def pages(fetch: Any, key: str, token_key: str = "next_page_token") -> list[Any]:
    """Every item of a paged listing, one per page; no page is empty."""
    found, token = [], None
    for _ in range(100):
        page = fetch(token)
        assert page[key], "an empty page: something was filtered after paging"
        found += page[key]
        token = page.get(token_key)
        if not token:
            return found
    raise AssertionError("more than 100 pages")


# ---- listings and searches


def test_native_listings_show_only_what_the_caller_may_read(
    w: World, secret: Secret, http: dict[str, httpx.Client]
) -> None:
    viewer, outsider, admin = http["viewer"], http["outsider"], http["admin"]
    assert {e["name"] for e in ok(viewer.get(f"{V1}/experiments"))} == {"perm-exp"}
    assert "secret-exp" in {e["name"] for e in ok(admin.get(f"{V1}/experiments"))}
    assert ok(viewer.get(f"{V1}/experiments", params={"view": "all"})) == ok(
        viewer.get(f"{V1}/experiments")
    )

    def runs(client: httpx.Client, **body: Any) -> dict[str, Any]:
        found: dict[str, Any] = ok(client.post(f"{V1}/runs/search", json=body))
        return found

    assert {r["id"] for r in runs(viewer)["runs"]} == {w.run_id}
    assert runs(viewer, experiment_ids=[secret.exp_id]) == {"runs": [], "next_page_token": None}
    assert {r["id"] for r in runs(viewer, experiment_ids=[secret.exp_id, w.exp_id])["runs"]} == {
        w.run_id
    }
    assert runs(viewer, filter="metrics.loss < 0.2")["runs"] == []  # secret runs have 0.1
    assert len(runs(admin, filter="metrics.loss < 0.2")["runs"]) == 3
    one_by_one = pages(lambda t: runs(viewer, max_results=1, page_token=t), "runs")
    assert [r["id"] for r in one_by_one] == [w.run_id]

    models = ok(viewer.get(f"{V1}/models"))["models"]
    assert "secret-model" not in {m["name"] for m in models}
    assert w.model in {m["name"] for m in models}
    listed = pages(
        lambda t: ok(viewer.get(f"{V1}/models", params={"max_results": 1, "page_token": t})),
        "models",
    )
    assert [m["name"] for m in listed] == [m["name"] for m in models]
    assert {d["name"] for d in ok(viewer.get(f"{V1}/datasets"))} == {w.dataset}
    for path in ("/experiments", "/models", "/datasets"):
        found = ok(outsider.get(V1 + path))
        assert found in ([], {"models": [], "next_page_token": None}), path
    assert runs(outsider) == {"runs": [], "next_page_token": None}


def test_mlflow_searches_show_only_what_the_caller_may_read(
    w: World, secret: Secret, http: dict[str, httpx.Client]
) -> None:
    viewer, outsider = http["viewer"], http["outsider"]
    found = ok(viewer.post(f"{MLF}/experiments/search", json={"max_results": 1}))
    assert [e["name"] for e in found["experiments"]] == ["perm-exp"]
    assert "next_page_token" not in found
    message = {"experiment_ids": [str(secret.exp_id), str(w.exp_id)]}
    runs = ok(viewer.post(f"{MLF}/runs/search", json=message))["runs"]
    assert [r["info"]["run_id"] for r in runs] == [w.run_id]
    assert ok(viewer.post(f"{MLF}/runs/search", json={"experiment_ids": [str(secret.exp_id)]})) == {
        "runs": []
    }
    models = ok(viewer.get(f"{MLF}/registered-models/search"))["registered_models"]
    assert "secret-model" not in {m["name"] for m in models}
    versions = ok(viewer.get(f"{MLF}/model-versions/search"))["model_versions"]
    assert versions
    assert "secret-model" not in {v["name"] for v in versions}
    query = {"filter": "name = 'secret-model'"}
    assert ok(viewer.get(f"{MLF}/model-versions/search", params=query)) == {"model_versions": []}
    logged = ok(viewer.post(f"{MLF}/logged-models/search", json={}))["models"]
    assert [m["info"]["model_id"] for m in logged] == [w.logged_model]
    for path, key in (
        ("/experiments/search", "experiments"),
        ("/runs/search", "runs"),
        ("/logged-models/search", "models"),
    ):
        assert ok(outsider.post(MLF + path, json={})).get(key, []) == [], path
    assert ok(outsider.get(f"{MLF}/registered-models/search")) == {"registered_models": []}


def test_links_to_unreadable_objects_are_left_out(
    w: World, secret: Secret, http: dict[str, httpx.Client]
) -> None:
    datasets = w.services["datasets"]
    datasets.log_use(secret.run_ids[0], w.dataset, 1)  # a secret run read the shared dataset
    datasets.log_use(w.run_id, secret.dataset, 1)  # the shared run read a secret dataset
    viewer, admin = http["viewer"], http["admin"]
    assert {u["run_id"] for u in ok(viewer.get(f"{V1}/datasets/{w.dataset}/runs"))} == {w.run_id}
    assert len(ok(admin.get(f"{V1}/datasets/{w.dataset}/runs"))) == 2
    assert {u["name"] for u in ok(viewer.get(f"{V1}/runs/{w.run_id}/datasets"))} == {w.dataset}
    inputs = ok(viewer.get(f"{MLF}/runs/get", params={"run_id": w.run_id}))["run"]["inputs"]
    assert [i["dataset"]["name"] for i in inputs["dataset_inputs"]] == [w.dataset]


# ---- tokens, creators, the authenticated user


def test_a_read_token_of_a_maintainer_reads_and_cannot_write(
    w: World, http: dict[str, httpx.Client]
) -> None:
    read = http["read"]
    ok(read.get(f"{V1}/runs/{w.run_id}"))
    ok(read.get(f"{MLF}/registered-models/get", params={"name": w.model}))
    denied(read.post(f"{V1}/runs/{w.run_id}/log", json={"tags": {"t": "x"}}))
    denied(read.post(f"{V1}/experiments", json={"name": "by-a-read-token"}))
    denied(read.post(f"{MLF}/runs/set-tag", json={"run_id": w.run_id, "key": "k", "value": "v"}))
    denied(read.delete(f"{V1}/experiments/{w.exp_id}"))
    denied(read.post(f"{V1}/datasets/brand-new/versions", json={"files": {"a": w.digest}}))
    denied(read.post(f"{V1}/ingest", json={"batches": [{"run_id": w.run_id}]}))
    assert "t" not in w.services["tracking"].get_run(w.run_id).tags


def test_creators_maintain_what_they_make(w: World, http: dict[str, httpx.Client]) -> None:
    outsider = http["outsider"]
    exp = ok(outsider.post(f"{MLF}/experiments/create", json={"name": "made-by-outsider"}))
    ok(outsider.post(f"{MLF}/experiments/update", json={"experiment_id": exp["experiment_id"]}))
    model = {"name": "outsider-model"}
    ok(outsider.post(f"{MLF}/registered-models/create", json=model))
    ok(outsider.post(f"{MLF}/registered-models/set-tag", json={**model, "key": "k", "value": "v"}))
    ok(outsider.post(f"{V1}/datasets/outsider-data/versions", json={"files": {"x": w.digest}}))
    ok(outsider.delete(f"{V1}/datasets/outsider-data/versions/1"))  # maintainer
    run = ok(outsider.post(f"{V1}/runs", json={"experiment_name": "named-by-a-new-run"}))
    ok(outsider.delete(f"{V1}/experiments/{run['experiment_id']}"))  # maintainer
    denied(http["viewer"].get(f"{V1}/experiments/{run['experiment_id']}"))
    held = {(g.resource_kind, g.resource) for g in w.access.grants(principal="user:outsider")}
    assert {(Kind.MODEL, "outsider-model"), (Kind.DATASET, "outsider-data")} <= held


def test_the_caller_is_the_user_of_what_they_write(w: World, http: dict[str, httpx.Client]) -> None:
    editor = http["editor"]
    tags = {"mlflow.user": "mallory"}
    run = ok(editor.post(f"{V1}/runs", json={"experiment_id": w.exp_id, "tags": tags}))
    assert (run["user"], run["tags"]["mlflow.user"]) == ("editor", "editor")
    batch = {"run_id": "ab" * 16, "create": {"experiment_id": w.exp_id, "user": "mallory"}}
    ok(editor.post(f"{V1}/ingest", json={"batches": [batch]}))
    assert w.services["tracking"].get_run("ab" * 16).user == "editor"
    message = {"experiment_id": str(w.exp_id), "user_id": "mallory", "tags": [
        {"key": "mlflow.user", "value": "mallory"}]}  # fmt: skip
    info = ok(editor.post(f"{MLF}/runs/create", json=message))["run"]
    tags_of = {t["key"]: t["value"] for t in info["data"]["tags"]}
    assert (info["info"]["user_id"], tags_of["mlflow.user"]) == ("editor", "editor")
    user_tag = {"run_id": w.run_id, "key": "mlflow.user", "value": "x"}
    ok(editor.post(f"{MLF}/runs/set-tag", json=user_tag))
    assert w.services["tracking"].get_run(w.run_id).tags["mlflow.user"] == "editor"
    ok(editor.put(f"{V1}/models/{w.model}/card", json={"card": "# by the editor"}))
    assert w.services["registry"].history(w.model)[-1].user == "editor"


def test_a_renamed_models_grants_follow_it_and_a_deleted_ones_go(
    w: World, http: dict[str, httpx.Client]
) -> None:
    maintainer, viewer, admin = http["maintainer"], http["viewer"], http["admin"]
    ok(maintainer.post(f"{MLF}/registered-models/create", json={"name": "to-rename"}))
    w.access.grant(
        "user:viewer",
        Kind.MODEL,
        "to-rename",
        Role.VIEWER,
        by=w.access.identity_of(w.access.user_named("admin").id),
    )
    rename = {"name": "to-rename", "new_name": "renamed"}
    ok(maintainer.post(f"{MLF}/registered-models/rename", json=rename))
    ok(viewer.get(f"{MLF}/registered-models/get", params={"name": "renamed"}))
    assert w.access.grants(Kind.MODEL, "to-rename") == []
    ok(maintainer.request("DELETE", f"{MLF}/registered-models/delete", json={"name": "renamed"}))
    assert w.access.grants(Kind.MODEL, "renamed") == []
    ok(admin.post(f"{MLF}/registered-models/create", json={"name": "renamed"}))  # a namesake
    denied(maintainer.get(f"{MLF}/registered-models/get", params={"name": "renamed"}))
    denied(viewer.get(f"{MLF}/registered-models/get", params={"name": "renamed"}))


# ---- attacks: a caller with roles on their own objects against the shared ones


def test_the_object_checked_is_the_object_written(
    w: World, own: dict[str, Any], http: dict[str, httpx.Client]
) -> None:
    outsider, runs = http["outsider"], w.services["tracking"]
    set_tag = {"run_id": w.run_id, "key": "pwned", "value": "1"}
    # the query names the outsider's run, the body (which the route reads) the victim's
    denied(outsider.post(f"{MLF}/runs/set-tag", params={"run_id": own["run"]}, json=set_tag))
    # an empty run_id beside run_uuid: the route takes run_uuid
    denied(
        outsider.post(f"{MLF}/runs/set-tag", json={**set_tag, "run_id": "", "run_uuid": w.run_id})
    )
    denied(
        outsider.post(f"{MLF}/runs/set-tag", json={**set_tag, "run_id": 0, "run_uuid": w.run_id})
    )
    # creating "a run" whose id is the victim's run, in the outsider's own experiment
    body = {"run_id": w.run_id, "experiment_id": own["exp"], "tags": {"pwned": "1"}}
    denied(outsider.post(f"{V1}/runs", json=body))
    batch = {"run_id": w.run_id, "create": {"experiment_id": own["exp"]}, "tags": {"pwned": "1"}}
    denied(outsider.post(f"{V1}/ingest", json={"batches": [batch]}))
    # a run's batch that creates the run in the victim's experiment
    fresh = "cd" * 16
    denied(outsider.post(f"{V1}/runs/{fresh}/log", json={"create": {"experiment_id": w.exp_id}}))
    denied(outsider.post(f"{V1}/runs", json={"run_id": fresh, "experiment_name": "perm-exp"}))
    # a child of the victim's run, in the outsider's experiment
    child = {"experiment_id": own["exp"], "parent_id": w.run_id}
    denied(outsider.post(f"{V1}/runs", json=child))
    # many runs in one request: one of them the victim's
    mixed = [
        {"run_id": own["run"], "tags": {"a": "1"}},
        {"run_id": w.run_id, "tags": {"pwned": "1"}},
    ]
    denied(outsider.post(f"{V1}/ingest", json={"batches": mixed}))
    assert "pwned" not in runs.get_run(w.run_id).tags
    assert "a" not in runs.get_run(own["run"]).tags
    with pytest.raises(Exception, match="does not exist"):
        runs.get_run(fresh)


def test_nothing_is_read_through_another_object(
    w: World, secret: Secret, own: dict[str, Any], http: dict[str, httpx.Client]
) -> None:
    outsider, maintainer = http["outsider"], http["maintainer"]
    bulk = {"run_ids": [own["run"], secret.run_ids[0]], "metric_key": "loss"}
    denied(outsider.get(f"{MLF}/metrics/get-history-bulk-interval", params=bulk))
    histories = {"run_ids": [own["run"], secret.run_ids[0]], "keys": ["loss"]}
    denied(outsider.post(f"{V1}/metrics/history", json=histories))
    denied(outsider.get(f"{MLF}/logged-models/{secret.logged_model}"))
    # registering a version (into one's own model) from a run one may not read
    ok(outsider.post(f"{MLF}/registered-models/create", json={"name": "thief"}))
    source = {"name": "thief", "source": f"runs:/{secret.run_ids[0]}/a.txt"}
    denied(outsider.post(f"{MLF}/model-versions/create", json=source))
    source = {"name": "thief", "source": f"models:/{secret.logged_model}"}
    denied(outsider.post(f"{MLF}/model-versions/create", json=source))
    package = {"files": {"modelyard.json": w.digest}, "run_id": secret.run_ids[0]}
    denied(outsider.post(f"{V1}/models/thief/versions", json=package))
    # the files of a version, by the model's id
    with w.services["registry"].db.read() as conn:
        from modelyard.store.metadata import registry_repo

        secret_id = registry_repo.model_id(conn, secret.model)
    path = f"/api/2.0/mlflow-artifacts/artifacts/versions/{secret_id}/1/artifacts/a.txt"
    denied(maintainer.get(path))
    assert http["admin"].get(path).content == b"secret"
    w.services["registry"].delete_model(secret.model, "admin")  # its files stay a while
    denied(maintainer.get(path))
    # datasets: another's dataset named by a write, or read into one's own run
    denied(
        outsider.post(f"{V1}/datasets/{secret.dataset}/versions", json={"files": {"f": w.digest}})
    )
    use = {"name": secret.dataset, "version": 1}
    denied(outsider.post(f"{V1}/runs/{own['run']}/datasets", json=use))
    inputs = {
        "run_id": own["run"],
        "datasets": [{"dataset": {"name": secret.dataset, "digest": "e"}}],
    }
    denied(outsider.post(f"{MLF}/runs/log-inputs", json=inputs))
    assert len(w.services["datasets"].versions(secret.dataset)) == 1


def test_traces_of_unreadable_experiments_stay_hidden(
    w: World, secret: Secret, http: dict[str, httpx.Client]
) -> None:
    from modelyard.tracking.trace_entities import TraceInfo, TraceState
    from modelyard.tracking.traces import Traces

    tracking = w.services["tracking"]
    hidden = Traces(tracking.db, tracking.artifacts).start(
        TraceInfo("tr-" + "5" * 32, secret.exp_id, 2, 1, TraceState.OK)
    )
    viewer, editor = http["viewer"], http["editor"]
    both = {"locations": [{"mlflow_experiment": {"experiment_id": str(e)}}
                          for e in (secret.exp_id, w.exp_id)]}  # fmt: skip
    found = ok(viewer.post(f"{MLF}/traces/search", json=both))["traces"]
    assert [t["trace_id"] for t in found] == [w.trace]
    infos = ok(viewer.post(f"{MLF}/traces/batchGetInfos", json={"trace_ids": [hidden.id, w.trace]}))
    assert [t["trace_id"] for t in infos["trace_infos"]] == [w.trace]
    denied(viewer.get(f"/api/3.0/mlflow/traces/{hidden.id}"))
    denied(viewer.get(f"{V1}/traces/{hidden.id}"))
    denied(viewer.get(f"{V1}/experiments/{secret.exp_id}/traces"))
    denied(editor.patch(f"{MLF}/traces/{hidden.id}/tags", json={"key": "k", "value": "v"}))
    path = f"/api/2.0/mlflow-artifacts/artifacts/{secret.exp_id}/traces/{hidden.id}/artifacts/x"
    denied(editor.put(path, content=b"x"))
    # the editor's own run may not take in a trace it cannot read
    link = {"run_id": w.run_id, "trace_ids": [hidden.id]}
    denied(editor.post(f"{MLF}/traces/link-to-run", json=link))
    assert Traces(tracking.db, tracking.artifacts).get(hidden.id).run_ids == ()
    # a viewer reads, an editor writes, on the experiment they hold
    ok(viewer.get(f"{V1}/traces/{w.trace}"))
    denied(viewer.patch(f"{MLF}/traces/{w.trace}/tags", json={"key": "k", "value": "v"}))
    ok(editor.patch(f"{MLF}/traces/{w.trace}/tags", json={"key": "k", "value": "v"}))
