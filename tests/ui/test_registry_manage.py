"""Registry management in a real browser: registering a run's model, tags, descriptions,
aliases and stages with a reason; MLflow 3 logged models from ``mlflow.sklearn.autolog``; and
dataset pages that name the runs that used a version and show MLflow sources readably."""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
import pytest
from playwright.sync_api import expect

from tests.ui.conftest import Filled, review_shots

pytestmark = [
    pytest.mark.ui,
    # mlflow's own: pandas 3 deprecations inside its dataset digest, its source resolution
    pytest.mark.filterwarnings(
        "ignore::FutureWarning", "ignore::DeprecationWarning", "ignore::UserWarning:mlflow.*"
    ),
]

os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")


@dataclass(frozen=True)
class Autologged:
    experiment_id: int
    run_id: str
    run_name: str
    model_id: str


@pytest.fixture(scope="module")
def autologged(filled: Filled) -> Any:
    """A run of ``mlflow.sklearn.autolog`` against the live server, reading two MLflow datasets
    (one from a file, one from memory)."""
    import mlflow
    import mlflow.data.pandas_dataset as pandas_dataset
    from mlflow.data.http_dataset_source import HTTPDatasetSource
    from sklearn.linear_model import LogisticRegression

    rng = np.random.default_rng(7)
    frame = pd.DataFrame(rng.normal(size=(60, 3)), columns=["a", "b", "c"])
    frame["y"] = (frame["a"] + frame["b"] > 0).astype(int)
    mlflow.set_tracking_uri(filled.url)
    try:
        exp = mlflow.set_experiment("autolog-ui").experiment_id
        mlflow.sklearn.autolog(log_input_examples=False, log_datasets=False, silent=True)
        with mlflow.start_run(run_name="autolog-lr") as run:
            source = HTTPDatasetSource("https://data.example/churn/train.parquet")  # type: ignore[no-untyped-call]
            train = pandas_dataset.from_pandas(
                frame,
                source=source,
                name="churn-train",
            )
            mlflow.log_input(train, context="training")
            mlflow.log_input(
                pandas_dataset.from_pandas(frame.head(10), name="churn-eval"), context="eval"
            )
            LogisticRegression(C=0.5).fit(frame[["a", "b", "c"]], frame["y"])
        mlflow.sklearn.autolog(disable=True)
        models = mlflow.search_logged_models(experiment_ids=[exp], output_format="list")
    finally:
        mlflow.set_tracking_uri(None)  # type: ignore[arg-type]
    assert len(models) == 1
    return Autologged(int(exp), run.info.run_id, "autolog-lr", models[0].model_id)


def test_logged_models_of_an_experiment_and_of_a_run(
    page: Any, filled: Filled, autologged: Autologged
) -> None:
    with filled.api() as api:
        listed = api.get(f"/experiments/{autologged.experiment_id}/logged-models").json()["models"]
    [model] = listed
    assert (model["id"], model["run_name"], model["status"]) == (
        autologged.model_id,
        "autolog-lr",
        "READY",
    )
    assert model["metrics"]
    assert model["params"]["C"] == "0.5"
    key = sorted({m["key"] for m in model["metrics"]})[0]
    page.goto(f"{filled.url}/models?tab=logged&exp={autologged.experiment_id}")
    row = page.get_by_test_id(f"logged-model-{autologged.model_id}")
    expect(row).to_contain_text("ready")
    expect(row.get_by_role("link", name="autolog-lr")).to_be_visible()
    expect(row).to_contain_text(key)
    row.get_by_role("button", name=model["name"], exact=True).click()
    detail = page.get_by_test_id("logged-model-detail")
    expect(detail).to_contain_text("C")
    expect(detail).to_contain_text("0.5")
    review_shots(page, "logged-models")

    page.get_by_test_id("logged-filter").fill("params.C = '2'")
    page.get_by_role("button", name="Filter").click()
    expect(page.get_by_test_id("logged-models")).to_contain_text("No logged model matches")
    page.get_by_test_id("logged-filter").fill("params.C = '0.5'")
    page.get_by_role("button", name="Filter").click()
    expect(page.get_by_test_id(f"logged-model-{autologged.model_id}")).to_be_visible()

    page.goto(f"{filled.url}/runs/{autologged.run_id}")
    section = page.get_by_test_id("run-logged-models")
    expect(section).to_contain_text(autologged.model_id)
    # an autologged model becomes a registered version from its row
    section.get_by_test_id("register-logged-model").click()
    dialog = page.get_by_test_id("register-dialog")
    dialog.get_by_test_id("register-name").fill("autologged-lr")
    dialog.get_by_role("button", name="Register").click()
    page.wait_for_url("**/models/autologged-lr/versions/1")
    with filled.api() as api:
        v = api.get("/models/autologged-lr/versions/1").json()
    assert (v["run_id"], v["source"]) == (autologged.run_id, f"models:/{autologged.model_id}")


def test_dataset_page_names_runs_and_reads_mlflow_sources(
    page: Any, filled: Filled, autologged: Autologged
) -> None:
    page.goto(f"{filled.url}/datasets/churn-train")
    expect(page.get_by_test_id("dataset-source")).to_contain_text(
        "url https://data.example/churn/train.parquet"
    )
    runs = page.get_by_test_id("dataset-runs")
    expect(runs.get_by_role("link", name="autolog-lr")).to_be_visible()
    expect(runs).to_contain_text("autolog-ui")
    expect(runs).to_contain_text("read it (training)")
    # MLflow's schema and profile, read as columns and a row count
    expect(page.get_by_test_id("profile").locator(".profile-card")).to_have_count(4)
    expect(page.get_by_test_id("profile-y")).to_contain_text("long")
    expect(page.locator(".facts")).to_contain_text("60")
    review_shots(page, "dataset-page")
    page.goto(f"{filled.url}/datasets/churn-eval")
    expect(page.get_by_test_id("dataset-source")).to_contain_text("in-memory data")
    page.goto(f"{filled.url}/datasets/demo-train")
    used = page.get_by_test_id("dataset-runs")
    with filled.api() as api:
        uses = api.get("/datasets/demo-train/runs").json()
        first = api.get(f"/runs/{uses[0]['run_id']}").json()
    expect(used.get_by_role("link", name=first["name"])).to_be_visible()


def test_register_a_runs_model_folder(page: Any, filled: Filled) -> None:
    rid = filled.runs[5]["id"]
    with filled.api() as api:
        mlmodel = b"flavors:\n  python_function:\n    loader_module: mlflow.sklearn\n"
        assert api.put(f"/runs/{rid}/artifacts/clf/MLmodel", content=mlmodel).status_code == 201
        assert api.put(f"/runs/{rid}/artifacts/clf/model.pkl", content=b"x").status_code == 201
    page.goto(f"{filled.url}/runs/{rid}?tab=artifacts")
    expect(page.get_by_test_id("artifacts")).to_contain_text("clf/")
    expect(page.get_by_test_id("model-folder")).to_have_count(0)  # the root holds no model
    page.get_by_test_id("artifact-clf").click()
    page.get_by_test_id("register-model").click()
    dialog = page.get_by_test_id("register-dialog")
    dialog.get_by_test_id("register-name").fill("ui-registered")
    expect(dialog).to_contain_text("A new model ui-registered, version 1.")
    dialog.get_by_test_id("register-description").fill("from the run page")
    dialog.get_by_role("button", name="Register").click()
    page.wait_for_url("**/models/ui-registered/versions/1")
    expect(page.get_by_test_id("version-description")).to_have_text("from the run page")
    with filled.api() as api:
        v = api.get("/models/ui-registered/versions/1").json()
    assert (v["run_id"], v["source"]) == (rid, f"runs:/{rid}/clf")
    # a second registration completes the existing name and adds version 2
    page.goto(f"{filled.url}/runs/{rid}?tab=artifacts&dir=clf")
    page.get_by_test_id("register-model").click()
    dialog = page.get_by_test_id("register-dialog")
    dialog.get_by_test_id("register-name").fill("ui-registered")
    expect(dialog).to_contain_text("A new version of ui-registered.")
    assert page.locator("datalist option[value='ui-registered']").count() == 1
    dialog.get_by_role("button", name="Register").click()
    page.wait_for_url("**/models/ui-registered/versions/2")


def history(filled: Filled, name: str) -> list[dict[str, Any]]:
    with filled.api() as api:
        found: list[dict[str, Any]] = api.get(f"/models/{name}/history").json()
    return found


def test_version_page_tags_stage_and_description_with_reasons(page: Any, filled: Filled) -> None:
    name = "demo-classifier"
    with filled.api() as api:
        versions = api.get(f"/models/{name}/versions").json()["versions"]
    n = versions[-1]["version"]
    page.goto(f"{filled.url}/models/{name}/versions/{n}")
    manage = page.get_by_test_id("version-manage")

    manage.get_by_role("button", name="Add tag").click()
    dialog = page.get_by_test_id("reason-dialog")
    dialog.get_by_test_id("tag-key").fill("reviewed")
    dialog.get_by_test_id("tag-value").fill("yes")
    dialog.get_by_test_id("reason").fill("checked the confusion matrix")
    review_shots(page, "version-dialog")
    dialog.get_by_role("button", name="Set tag").click()
    expect(page.get_by_test_id("reason-dialog")).to_have_count(0)
    expect(manage.get_by_test_id("tags")).to_contain_text("reviewed=yes")

    manage.get_by_role("button", name="Change stage").click()
    dialog = page.get_by_test_id("reason-dialog")
    dialog.get_by_test_id("stage").select_option("Staging")
    dialog.get_by_test_id("reason").fill("ready for shadow traffic")
    dialog.get_by_role("button", name="Change stage").click()
    expect(page.get_by_test_id("stage-badge")).to_have_text("Staging")

    manage.get_by_role("button", name="Edit description").click()
    dialog = page.get_by_test_id("reason-dialog")
    dialog.get_by_test_id("description").fill("the oldest sweep point")
    dialog.get_by_test_id("reason").fill("context for reviewers")
    dialog.get_by_role("button", name="Save").click()
    expect(page.get_by_test_id("version-description")).to_have_text("the oldest sweep point")

    manage.get_by_role("button", name="remove tag reviewed").click()
    dialog = page.get_by_test_id("reason-dialog")
    dialog.get_by_test_id("reason").fill("premature")
    dialog.get_by_role("button", name="Remove").click()
    expect(manage.get_by_test_id("tags")).to_have_count(0)
    review_shots(page, "version-page")

    with filled.api() as api:
        v = api.get(f"/models/{name}/versions/{n}").json()
    assert (v["stage"], v["description"], v["tags"]) == ("Staging", "the oldest sweep point", {})
    mine = [
        (e["action"], e["detail"].get("reason")) for e in history(filled, name) if e["version"] == n
    ]
    assert mine[-4:] == [
        ("tag_set", "checked the confusion matrix"),
        ("stage_changed", "ready for shadow traffic"),
        ("description_changed", "context for reviewers"),
        ("tag_deleted", "premature"),
    ]


def test_model_page_aliases_tags_and_description(page: Any, filled: Filled) -> None:
    name = "demo-classifier"
    with filled.api() as api:
        model = api.get(f"/models/{name}").json()
    champion = model["aliases"]["champion"]
    page.goto(f"{filled.url}/models/{name}")
    manage = page.get_by_test_id("model-manage")

    manage.get_by_role("button", name="move alias champion", exact=True).click()
    dialog = page.get_by_test_id("reason-dialog")
    other = "1" if champion != 1 else "2"
    dialog.get_by_test_id("alias-version").select_option(other)
    dialog.get_by_test_id("reason").fill("rollback after drift")
    dialog.get_by_role("button", name="Move").click()
    expect(manage).to_contain_text(f"champion → v{other}")

    manage.get_by_role("button", name="Set alias").click()
    dialog = page.get_by_test_id("reason-dialog")
    dialog.get_by_test_id("alias-name").fill("latest")  # reserved: the server refuses it
    dialog.get_by_test_id("reason").fill("try")
    dialog.get_by_role("button", name="Set alias").click()
    expect(dialog.get_by_test_id("dialog-error")).to_contain_text("reserved")
    page.keyboard.press("Escape")
    expect(page.get_by_test_id("reason-dialog")).to_have_count(0)

    manage.get_by_role("button", name="Edit description").click()
    dialog = page.get_by_test_id("reason-dialog")
    dialog.get_by_test_id("description").fill("Wine-like classifier, owned by the demo team.")
    dialog.get_by_test_id("reason").fill("ownership")
    dialog.get_by_role("button", name="Save").click()
    expect(page.get_by_test_id("model-description")).to_have_text(
        "Wine-like classifier, owned by the demo team."
    )

    manage.get_by_role("button", name="Add tag").click()
    dialog = page.get_by_test_id("reason-dialog")
    dialog.get_by_test_id("tag-key").fill("team")
    dialog.get_by_test_id("tag-value").fill("demo")
    dialog.get_by_role("button", name="Set tag").click()
    expect(manage.get_by_test_id("tags")).to_contain_text("team=demo")
    review_shots(page, "model-page")

    page.get_by_role("tab", name="timeline").click()
    timeline = page.get_by_test_id("timeline")
    expect(timeline).to_contain_text(f"alias champion → v{other}")
    expect(timeline).to_contain_text("rollback after drift")
    expect(timeline).to_contain_text("ownership")
    with filled.api() as api:
        after = api.get(f"/models/{name}").json()
    assert after["aliases"]["champion"] == int(other)
    assert after["tags"]["team"] == "demo"
    assert "latest" not in after["aliases"]
