"""The run page manages its run through the public API: rename, tags, delete and restore,
notes behind a Save with an unsaved-changes guard, readable refusals; and it shows a missing
run, a failed run's error, a parent's children and a very long name properly."""

from __future__ import annotations

from typing import Any

import pytest
from playwright.sync_api import expect

from modelyard.tracking.batches import new_run_id
from tests.ui.conftest import Filled, review_shots

pytestmark = pytest.mark.ui


def make_run(filled: Filled, name: str, **extra: Any) -> str:
    rid = new_run_id()
    batch = {
        "run_id": rid,
        "create": {"experiment_id": filled.experiment_id, "name": name},
        "update": {"status": "FINISHED"},
        **extra,
    }
    with filled.api() as api:
        assert api.post("/ingest", json={"batches": [batch]}).status_code == 200
    return rid


def stored(filled: Filled, rid: str) -> dict[str, Any]:
    with filled.api() as api:
        body: dict[str, Any] = api.get(f"/runs/{rid}").json()
        return body


def test_rename_inline_and_a_refusal_is_readable(page: Any, filled: Filled) -> None:
    rid = make_run(filled, "before-rename", params={"lr": "0.1"})
    page.goto(f"{filled.url}/runs/{rid}")
    expect(page.get_by_test_id("run-name")).to_have_text("before-rename")
    page.get_by_role("button", name="Rename this run").click()
    field = page.get_by_label("Run name")
    field.fill("after rename \u00e9t\u00e9")
    field.press("Enter")
    expect(page.get_by_test_id("run-name")).to_have_text("after rename \u00e9t\u00e9")
    assert stored(filled, rid)["name"] == "after rename \u00e9t\u00e9"
    # Escape leaves the name as it was
    page.get_by_role("button", name="Rename this run").click()
    page.get_by_label("Run name").fill("never saved")
    page.get_by_label("Run name").press("Escape")
    expect(page.get_by_test_id("run-name")).to_have_text("after rename \u00e9t\u00e9")
    # the server refuses a name that reads backwards; the page says why, in words
    page.get_by_role("button", name="Rename this run").click()
    page.get_by_label("Run name").fill("evil\u202ename")
    page.get_by_role("button", name="Save").click()
    error = page.get_by_test_id("run-action-error")
    expect(error).to_contain_text("Rename refused: INVALID_PARAMETER_VALUE")
    expect(error).to_contain_text("run name")
    assert stored(filled, rid)["name"] == "after rename \u00e9t\u00e9"


def test_tags_add_change_rename_and_remove(page: Any, filled: Filled) -> None:
    rid = make_run(filled, "tagged", tags={"stage": "draft"})
    page.goto(f"{filled.url}/runs/{rid}")
    tags = page.get_by_test_id("tags")
    expect(tags.get_by_test_id("tag-stage")).to_contain_text("draft")
    # add
    tags.get_by_label("Tag key").last.fill("owner")
    tags.get_by_label("Tag value").last.fill("ana")
    tags.get_by_role("button", name="Add tag").click()
    expect(tags.get_by_test_id("tag-owner")).to_contain_text("ana")
    assert stored(filled, rid)["tags"]["owner"] == "ana"
    # a key that is taken is refused before any write
    tags.get_by_label("Tag key").last.fill("owner")
    tags.get_by_label("Tag value").last.fill("bob")
    tags.get_by_role("button", name="Add tag").click()
    expect(page.get_by_test_id("tags-error")).to_contain_text("already a tag owner")
    assert stored(filled, rid)["tags"]["owner"] == "ana"
    # change the value and the key in one edit
    tags.get_by_role("button", name="Edit tag stage").click()
    tags.get_by_label("Tag key").first.fill("phase")
    tags.get_by_label("Tag value").first.fill("final")
    tags.get_by_role("button", name="Save").click()
    expect(tags.get_by_test_id("tag-phase")).to_contain_text("final")
    expect(tags.get_by_test_id("tag-stage")).to_have_count(0)
    after = stored(filled, rid)["tags"]
    assert after["phase"] == "final"
    assert "stage" not in after
    # remove, after a confirmation
    tags.get_by_test_id("tag-owner").get_by_role("button", name="Remove").click()
    tags.get_by_role("button", name="Yes, remove").click()
    expect(tags.get_by_test_id("tag-owner")).to_have_count(0)
    assert "owner" not in stored(filled, rid)["tags"]
    # a key the server refuses (a direction override): its reason is shown
    tags.get_by_label("Tag key").last.fill("bad\u202ekey")
    tags.get_by_label("Tag value").last.fill("x")
    tags.get_by_role("button", name="Add tag").click()
    expect(page.get_by_test_id("tags-error")).to_contain_text(
        "Add refused: INVALID_PARAMETER_VALUE"
    )


def test_delete_shows_a_banner_and_restore_brings_it_back(page: Any, filled: Filled) -> None:
    rid = make_run(filled, "to-delete")
    page.goto(f"{filled.url}/runs/{rid}")
    page.get_by_role("button", name="Delete", exact=True).click()
    page.get_by_role("button", name="Yes, delete").click()
    banner = page.get_by_test_id("deleted-banner")
    expect(banner).to_contain_text("This run is deleted")
    assert stored(filled, rid)["lifecycle"] == "deleted"
    review_shots(page, "run-deleted")
    banner.get_by_role("button", name="Restore").click()
    expect(banner).to_have_count(0)
    assert stored(filled, rid)["lifecycle"] == "active"
    expect(page.get_by_role("button", name="Delete", exact=True)).to_be_visible()


def test_notes_need_save_and_unsaved_changes_are_guarded(page: Any, filled: Filled) -> None:
    rid = make_run(filled, "notes-guard")
    page.goto(f"{filled.url}/runs/{rid}")
    page.get_by_role("tab", name="charts").click()  # an in-app history entry to go back to
    page.get_by_role("tab", name="overview").click()
    notes = page.get_by_test_id("notes")
    notes.get_by_role("button", name="Edit").click()
    notes.get_by_label("Markdown text").fill("draft findings")
    expect(page.get_by_test_id("notes-unsaved")).to_be_visible()
    unload = "() => { const e = new Event('beforeunload', {cancelable: true}); window.dispatchEvent(e); return e.defaultPrevented; }"
    assert page.evaluate(unload) is True  # closing or reloading the tab asks first
    dialogs: list[str] = []

    def dismiss(dialog: Any) -> None:
        dialogs.append(dialog.message)
        dialog.dismiss()

    page.on("dialog", dismiss)
    page.get_by_role("link", name=f"experiment {filled.experiment_id}").click()
    assert dialogs
    assert "unsaved changes" in dialogs[0]
    assert page.url.endswith(f"/runs/{rid}")  # stayed: the draft is still there
    expect(notes.get_by_label("Markdown text")).to_have_value("draft findings")
    page.evaluate("() => history.back()")  # the Back button asks too
    for _ in range(50):
        if len(dialogs) == 2:
            break
        page.wait_for_timeout(100)
    assert len(dialogs) == 2
    expect(notes.get_by_label("Markdown text")).to_have_value("draft findings")
    assert "tab=charts" not in page.url
    assert stored(filled, rid)["notes"] == ""  # nothing written before Save
    page.remove_listener("dialog", dismiss)
    notes.get_by_role("button", name="Save").click()
    expect(notes).to_contain_text("draft findings")
    assert stored(filled, rid)["notes"] == "draft findings"
    assert page.evaluate(unload) is False  # saved: leaving is free
    page.get_by_role("link", name=f"experiment {filled.experiment_id}").click()
    page.wait_for_url(f"**/experiments/{filled.experiment_id}")


def test_missing_run_is_a_not_found_page_with_a_way_back(page: Any, filled: Filled) -> None:
    page.goto(f"{filled.url}/runs/{'0' * 32}")
    missing = page.get_by_test_id("run-not-found")
    expect(missing.get_by_role("heading")).to_have_text("Run not found")
    expect(missing).to_contain_text("0" * 32)
    page.goto(f"{filled.url}/runs/not-a-run-id")
    expect(page.get_by_test_id("run-not-found")).to_contain_text("not-a-run-id")
    page.get_by_role("link", name="Go to the experiments").click()
    page.wait_for_url("**/experiments")


def test_failed_run_shows_its_error(page: Any, filled: Filled) -> None:
    rid = make_run(
        filled,
        "crashed",
        tags={"my.error": "ValueError: expected 3 columns, got 4"},
        metrics=[{"key": "loss", "values": [0.9, 0.7]}],
    )
    with filled.api() as api:
        api.patch(f"/runs/{rid}", json={"status": "FAILED"}).raise_for_status()
    quiet = make_run(filled, "failed-quietly")
    with filled.api() as api:
        api.patch(f"/runs/{quiet}", json={"status": "FAILED"}).raise_for_status()
    page.goto(f"{filled.url}/runs/{rid}")
    box = page.get_by_test_id("run-error")
    expect(box).to_contain_text("This run failed")
    expect(box).to_contain_text("ValueError: expected 3 columns, got 4")
    expect(page.get_by_test_id("overview")).not_to_contain_text("my.error")  # shown once
    review_shots(page, "run-failed")
    page.goto(f"{filled.url}/runs/{quiet}")
    expect(page.get_by_test_id("run-error")).to_contain_text("No error message was recorded")
    page.goto(f"{filled.url}/runs/{filled.runs[5]['id']}")
    expect(page.get_by_test_id("overview")).to_be_visible()
    expect(page.get_by_test_id("run-error")).to_have_count(0)
    review_shots(page, "run-finished")


def test_parent_lists_its_children_and_a_child_links_its_parent(page: Any, filled: Filled) -> None:
    parent = make_run(filled, "sweep-parent")
    kids = []
    for i in range(3):
        rid = new_run_id()
        kids.append(rid)
        batch = {
            "run_id": rid,
            "create": {
                "experiment_id": filled.experiment_id,
                "name": f"child-{i}",
                "parent_id": parent,
            },
            "metrics": [{"key": "val_acc", "values": [0.5, 0.61 + i / 10]}],
            "update": {"status": "FAILED" if i == 2 else "FINISHED"},
        }
        with filled.api() as api:
            assert api.post("/ingest", json={"batches": [batch]}).status_code == 200
    page.goto(f"{filled.url}/runs/{parent}")
    table = page.get_by_test_id("child-runs")
    expect(table).to_contain_text("Child runs (3)")
    rows = table.locator("tbody tr")
    expect(rows).to_have_count(3)
    expect(rows.nth(0)).to_contain_text("child-0")
    expect(rows.nth(0)).to_contain_text("0.61")
    expect(rows.nth(2)).to_contain_text("failed")
    expect(table.get_by_role("columnheader", name="val_acc")).to_be_visible()
    review_shots(page, "run-parent")
    table.get_by_role("link", name="child-1").click()
    page.wait_for_url(f"**/runs/{kids[1]}")
    parent_link = page.get_by_test_id("parent-link").get_by_role("link", name="sweep-parent")
    parent_link.click()
    page.wait_for_url(f"**/runs/{parent}")
    # a run without children shows no section
    page.goto(f"{filled.url}/runs/{kids[0]}")
    expect(page.get_by_test_id("overview")).to_be_visible()
    expect(page.get_by_test_id("child-runs")).to_have_count(0)


@pytest.mark.parametrize("width", [1440, 1024], ids=["w1440", "w1024"])
def test_a_300_character_name_and_60_params_fit_the_window(
    page: Any, filled: Filled, width: int
) -> None:
    name = "x" * 300
    params = {f"param_{i:02d}_{'k' * 40}": "v" * 120 for i in range(60)}
    rid = make_run(filled, name, params=params, tags={"note": "n" * 400})
    page.set_viewport_size({"width": width, "height": 900})
    page.goto(f"{filled.url}/runs/{rid}")
    title = page.get_by_test_id("run-name")
    expect(title).to_have_attribute("title", name)
    expect(page.get_by_test_id("params").locator("tr")).to_have_count(60)
    sizes = page.evaluate("() => [document.scrollingElement.scrollWidth, window.innerWidth]")
    assert sizes[0] <= sizes[1], sizes
    box = title.bounding_box()
    assert box is not None
    assert box["width"] <= width
    assert box["height"] < 120
