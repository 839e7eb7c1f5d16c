"""Saved views of an experiment's runs page: the routes over real HTTP, their checks and
permissions, and the store on SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from modelyard.errors import AlreadyExists, InvalidInput, NotFound, PayloadTooLarge
from modelyard.store.stores import open_stores
from modelyard.tracking.service import TrackingService
from modelyard.tracking.views import MAX_QUERY_BYTES, SavedViews, clean_query
from tests.server.access_world import World, hide, world


@pytest.fixture
def http(server_url: str) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=f"{server_url}/api/v1", timeout=30) as client:
        yield client


def experiment(http: httpx.Client, name: str) -> int:
    r = http.post("/experiments", json={"name": name})
    assert r.status_code == 201, r.text
    return int(r.json()["id"])


def test_views_round_trip(http: httpx.Client) -> None:
    eid = experiment(http, "views")
    query = "filter=metrics.acc+%3E+0.9&cols=params.lr%2Cmetrics.acc&sort=-metrics.acc"
    r = http.post(f"/experiments/{eid}/views", json={"name": "best runs", "query": "?" + query})
    assert r.status_code == 201, r.text
    view = r.json()
    assert (view["name"], view["query"], view["owner"], view["experiment_id"]) == (
        "best runs", query, "anonymous", eid,
    )  # fmt: skip
    vid = view["id"]
    second = http.post(f"/experiments/{eid}/views", json={"name": "Ä grouped", "query": "g=lr"})
    assert second.status_code == 201
    listed = http.get(f"/experiments/{eid}/views").json()
    assert [v["name"] for v in listed] == ["best runs", "Ä grouped"]
    assert http.get(f"/experiments/{eid}/views/{vid}").json()["query"] == query

    renamed = http.patch(f"/experiments/{eid}/views/{vid}", json={"name": "top \u2728"})
    assert renamed.status_code == 200
    assert (renamed.json()["name"], renamed.json()["query"]) == ("top \u2728", query)
    moved = http.patch(f"/experiments/{eid}/views/{vid}", json={"query": "sort=name"})
    assert moved.json()["query"] == "sort=name"
    assert moved.json()["updated_at"] >= view["updated_at"]

    assert http.delete(f"/experiments/{eid}/views/{vid}").status_code == 204
    gone = http.get(f"/experiments/{eid}/views/{vid}")
    assert (gone.status_code, gone.json()["error_code"]) == (404, "RESOURCE_DOES_NOT_EXIST")
    assert [v["name"] for v in http.get(f"/experiments/{eid}/views").json()] == ["Ä grouped"]


def test_names_are_unique_per_experiment(http: httpx.Client) -> None:
    a, b = experiment(http, "a"), experiment(http, "b")
    assert http.post(f"/experiments/{a}/views", json={"name": "v", "query": ""}).status_code == 201
    again = http.post(f"/experiments/{a}/views", json={"name": "v", "query": "x=1"})
    assert (again.status_code, again.json()["error_code"]) == (409, "RESOURCE_ALREADY_EXISTS")
    assert http.post(f"/experiments/{b}/views", json={"name": "v"}).status_code == 201
    other = http.post(f"/experiments/{a}/views", json={"name": "w"}).json()["id"]
    clash = http.patch(f"/experiments/{a}/views/{other}", json={"name": "v"})
    assert clash.status_code == 409


def test_a_view_is_only_reachable_through_its_own_experiment(http: httpx.Client) -> None:
    a, b = experiment(http, "mine"), experiment(http, "theirs")
    vid = http.post(f"/experiments/{a}/views", json={"name": "v", "query": "x=1"}).json()["id"]
    for method in ("GET", "DELETE"):
        r = http.request(method, f"/experiments/{b}/views/{vid}")
        assert (r.status_code, r.json()["error_code"]) == (404, "RESOURCE_DOES_NOT_EXIST")
    r = http.patch(f"/experiments/{b}/views/{vid}", json={"name": "stolen"})
    assert r.status_code == 404
    assert http.get(f"/experiments/{a}/views/{vid}").json()["name"] == "v"
    missing = http.get("/experiments/987654/views")
    assert missing.status_code == 404
    assert http.post("/experiments/987654/views", json={"name": "v"}).status_code == 404


@pytest.mark.parametrize(
    ("body", "status", "field"),
    [
        ({"name": "", "query": ""}, 400, "view name"),
        ({"name": "   ", "query": ""}, 400, "view name"),
        ({"name": "x" * 201, "query": ""}, 400, "view name"),
        ({"name": "a\u202eb", "query": ""}, 400, "view name"),
        ({"name": 5, "query": ""}, 400, "view name"),
        ({"name": "v", "query": "a=1 b"}, 400, "query"),
        ({"name": "v", "query": "a=<script>"}, 400, "query"),
        ({"name": "v", "query": "a=1#frag"}, 400, "query"),
        ({"name": "v", "query": "a=%zz"}, 400, "query"),
        ({"name": "v", "query": "a=%ff"}, 400, "query"),
        ({"name": "v", "query": ["a=1"]}, 400, "query"),
        ({"name": "v", "query": "a=1&" * 201}, 400, "query"),
        ({"name": "v", "query": "a=" + "x" * MAX_QUERY_BYTES}, 413, None),
    ],
    ids=[
        "empty-name", "blank-name", "long-name", "bidi-name", "number-name", "space",
        "angle", "fragment", "bad-escape", "not-utf8", "not-text", "many-fields", "huge",
    ],
)  # fmt: skip
def test_bad_views_are_refused_with_a_stable_code(
    http: httpx.Client, body: dict[str, object], status: int, field: str | None
) -> None:
    eid = experiment(http, "bad")
    r = http.post(f"/experiments/{eid}/views", json=body)
    assert r.status_code == status, r.text
    if field is not None:
        assert r.json()["error_code"] == "INVALID_PARAMETER_VALUE"
        assert r.json()["details"]["field"] == field
    else:
        assert r.json()["error_code"] == "PAYLOAD_TOO_LARGE"
    assert http.get(f"/experiments/{eid}/views").json() == []  # nothing half-written
    unknown = http.post(f"/experiments/{eid}/views", json={"name": "v", "extra": 1})
    assert unknown.status_code in (400, 422)


def test_a_view_of_a_view_is_dropped_and_a_leading_question_mark_too() -> None:
    assert clean_query("?view=3&filter=a%3D1&view=4&cols=x") == "filter=a%3D1&cols=x"
    assert clean_query("") == ""
    with pytest.raises(PayloadTooLarge, match="8,192"):
        clean_query("?" + "a" * (MAX_QUERY_BYTES + 1))


@given(st.text(max_size=300))
@settings(max_examples=200, suppress_health_check=[HealthCheck.too_slow])
def test_any_text_is_a_clean_query_or_a_400(text: str) -> None:
    try:
        clean = clean_query(text)
    except (InvalidInput, PayloadTooLarge):
        return
    assert clean.isascii()
    assert " " not in clean
    assert "#" not in clean


# ---- permissions, with auth on


@pytest.fixture(scope="module")
def w(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    with world(tmp_path_factory.mktemp("views")) as found:
        yield found


def test_editors_write_viewers_read_outsiders_get_nothing(w: World) -> None:
    base = f"/api/v1/experiments/{w.exp_id}/views"
    with w.client("editor") as editor, w.client("viewer") as viewer:
        made = editor.post(base, json={"name": "shared", "query": "filter=x"})
        assert made.status_code == 201, made.text
        assert made.json()["owner"] == "editor"
        vid = made.json()["id"]
        assert [v["name"] for v in viewer.get(base).json()] == ["shared"]
        assert viewer.get(f"{base}/{vid}").status_code == 200
        for method, path, body in (
            ("POST", base, {"name": "mine"}),
            ("PATCH", f"{base}/{vid}", {"name": "hijacked"}),
            ("DELETE", f"{base}/{vid}", None),
        ):
            r = viewer.request(method, path, json=body)
            assert (r.status_code, r.json()["error_code"]) == (403, "PERMISSION_DENIED")
        with w.client("outsider") as outsider:
            for r in (outsider.get(base), outsider.get(f"{base}/{vid}")):
                assert (r.status_code, r.json()["error_code"]) == (403, "PERMISSION_DENIED")
            r = outsider.post(base, json={"name": "in"})
            assert r.status_code == 403
        with w.client(None) as nobody:
            assert nobody.get(base).status_code == 401
        assert [v["name"] for v in viewer.get(base).json()] == ["shared"]
        assert editor.delete(f"{base}/{vid}").status_code == 204


def test_a_view_id_from_another_experiment_is_not_found_there(w: World) -> None:
    secret = hide(w)
    with w.client("admin") as admin:
        hidden = admin.post(
            f"/api/v1/experiments/{secret.exp_id}/views", json={"name": "hidden", "query": "a=1"}
        )
        assert hidden.status_code == 201
        vid = hidden.json()["id"]
    with w.client("editor") as editor:
        # the editor's own experiment, the secret experiment's view id: not found, not shown
        r = editor.get(f"/api/v1/experiments/{w.exp_id}/views/{vid}")
        assert r.status_code == 404
        assert "hidden" not in r.text
        r = editor.delete(f"/api/v1/experiments/{w.exp_id}/views/{vid}")
        assert r.status_code == 404
        r = editor.get(f"/api/v1/experiments/{secret.exp_id}/views")
        assert r.status_code == 403
    with w.client("admin") as admin:
        r = admin.get(f"/api/v1/experiments/{secret.exp_id}/views/{vid}")
        assert r.json()["name"] == "hidden"


def test_writes_are_audited(w: World) -> None:
    base = f"/api/v1/experiments/{w.exp_id}/views"
    with w.client("editor") as editor, w.client("admin") as admin:
        vid = editor.post(base, json={"name": "audited"}).json()["id"]
        editor.delete(f"{base}/{vid}")
        records = admin.get("/api/v1/audit", params={"limit": 50}).json()
    found = records["records"] if isinstance(records, dict) else records
    actions = [(r["actor"], r["action"]) for r in found if "views" in r["action"]]
    assert ("editor", "POST /api/v1/experiments/{experiment_id}/views") in actions
    assert ("editor", "DELETE /api/v1/experiments/{experiment_id}/views/{view_id}") in actions


# ---- the store, on both backends


def test_store_round_trip(store_uri: str, tmp_path: Path) -> None:
    stores = open_stores(store_uri, str(tmp_path / "art"))
    tracking = TrackingService(stores.db, stores.artifacts)
    try:
        views = SavedViews(stores.db)
        eid = tracking.create_experiment("store-views").id
        other = tracking.create_experiment("other").id
        made = views.create(eid, "Gr\u00fcn \u2014 view", "?a=1&view=2", owner="u")
        assert made.query == "a=1"
        assert views.get(eid, made.id) == made
        with pytest.raises(AlreadyExists):
            views.create(eid, "Gr\u00fcn \u2014 view", "", owner="u")
        with pytest.raises(NotFound):
            views.get(other, made.id)
        renamed = views.update(eid, made.id, name="renamed")
        assert (renamed.name, renamed.query) == ("renamed", "a=1")
        views.create(other, "renamed", "", owner="u")  # the same name in another experiment
        assert [v.name for v in views.list(eid)] == ["renamed"]
        views.delete(eid, made.id)
        assert views.list(eid) == []
        with pytest.raises(NotFound):
            views.delete(eid, made.id)
    finally:
        tracking.close()
