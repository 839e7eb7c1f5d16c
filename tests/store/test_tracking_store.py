"""The tracking store contract, run on SQLite and PostgreSQL."""

from __future__ import annotations

import io
import math
import threading
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from modelyard.errors import (
    AlreadyExists,
    BadFilter,
    InvalidInput,
    InvalidState,
    NotFound,
    ParamConflict,
    PathNotAllowed,
)
from modelyard.store.stores import open_stores
from modelyard.tracking.batches import new_run_id, parse_batches
from modelyard.tracking.entities import (
    MetricPoints,
    RunBatch,
    RunCreate,
    RunStatus,
    RunUpdate,
    ViewType,
)
from modelyard.tracking.service import TrackingService


@pytest.fixture
def svc(store_uri: str, tmp_path: Path) -> Iterator[TrackingService]:
    stores = open_stores(store_uri, str(tmp_path / "art"))
    service = TrackingService(stores.db, stores.artifacts)
    yield service
    service.close()


def points(key: str, values: list[float], steps: list[int] | None = None) -> MetricPoints:
    n = len(values)
    return MetricPoints(
        key,
        np.array(steps if steps is not None else range(n), dtype=np.int64),
        np.array(values, dtype=np.float64),
        np.arange(n, dtype=np.int64) + 1000,
    )


def new_run(svc: TrackingService, exp: str = "e", **create: object) -> str:
    rid = new_run_id()
    svc.ingest([RunBatch(run_id=rid, create=RunCreate(experiment_name=exp, **create))], user="t")  # type: ignore[arg-type]
    return rid


def test_experiment_lifecycle(svc: TrackingService) -> None:
    exp = svc.create_experiment("churn", "predict churn", {"team": "growth"})
    assert exp.tags == {"team": "growth"}
    assert exp.description == "predict churn"
    with pytest.raises(AlreadyExists, match="churn"):
        svc.create_experiment("churn")
    renamed = svc.update_experiment(exp.id, name="churn-v2", description="d2")
    assert (renamed.name, renamed.description) == ("churn-v2", "d2")
    assert svc.set_experiment_tag(exp.id, "team", "core").tags == {"team": "core"}
    svc.delete_experiment(exp.id)
    assert exp.id not in [e.id for e in svc.list_experiments()]
    assert exp.id in [e.id for e in svc.list_experiments(ViewType.DELETED)]
    svc.restore_experiment(exp.id)
    assert svc.get_experiment_by_name("churn-v2").id == exp.id
    with pytest.raises(NotFound, match="experiment 999999 does not exist"):
        svc.get_experiment(999_999)


def test_unicode_names_are_nfc_normalised(svc: TrackingService) -> None:
    decomposed = "cafe\u0301"  # e + combining acute
    exp = svc.create_experiment(decomposed)
    assert exp.name == "caf\u00e9"
    with pytest.raises(AlreadyExists, match="experiment 'café' already exists"):
        svc.create_experiment("caf\u00e9")
    rid = new_run(svc, "caf\u00e9")
    svc.ingest(
        parse_batches({"batches": [{"run_id": rid, "params": {decomposed: "\u00e9t\u00e9"}}]}, 0),
        user="t",
    )
    assert svc.get_run(rid).params == {"caf\u00e9": "\u00e9t\u00e9"}


def test_run_create_is_idempotent_and_nests(svc: TrackingService) -> None:
    parent = new_run(svc, name="parent")
    child = new_run(svc, parent_id=parent, name="child")
    again = svc.create_run(RunCreate(experiment_name="e", name="other"), run_id=child, user="t")
    assert again.name == "child"
    assert again.parent_id == parent
    with pytest.raises(NotFound, match="parent"):
        new_run(svc, parent_id=new_run_id())


def test_params_conflicting_reset_is_an_error_identical_is_fine(svc: TrackingService) -> None:
    rid = new_run(svc)
    svc.ingest([RunBatch(run_id=rid, params={"lr": "0.01"})], user="t")
    svc.ingest([RunBatch(run_id=rid, params={"lr": "0.01"})], user="t")
    with pytest.raises(ParamConflict, match="lr"):
        svc.ingest([RunBatch(run_id=rid, params={"lr": "0.02"})], user="t")
    assert svc.get_run(rid).params == {"lr": "0.01"}


def test_rejected_request_writes_nothing(svc: TrackingService) -> None:
    good, other = new_run(svc), new_run(svc)
    svc.ingest([RunBatch(run_id=other, params={"a": "1"})], user="t")
    with pytest.raises(ParamConflict, match="is already '1'; it cannot change to '2'"):
        svc.ingest(
            [
                RunBatch(run_id=good, params={"x": "1"}, metrics=[points("m", [1.0, 2.0])]),
                RunBatch(run_id=other, params={"a": "2"}),
            ],
            user="t",
        )
    run = svc.get_run(good)
    assert run.params == {}
    assert run.metrics == {}
    with pytest.raises(NotFound, match="metric 'm' was not logged"):
        svc.metric_history(good, "m")[0]


def test_nan_and_infinities_round_trip(svc: TrackingService) -> None:
    rid = new_run(svc)
    values = [1.0, math.nan, math.inf, -math.inf, -0.5]
    svc.ingest([RunBatch(run_id=rid, metrics=[points("weird", values)])], user="t")
    got = svc.metric_history(rid, "weird")[0].values
    assert math.isnan(got[1])
    assert got[2] == math.inf
    assert got[3] == -math.inf
    assert got[0] == 1.0
    assert got[4] == -0.5
    summary = svc.get_run(rid).metrics["weird"]
    assert (summary.last, summary.min, summary.max, summary.count) == (-0.5, -math.inf, math.inf, 5)
    svc.ingest([RunBatch(run_id=rid, metrics=[points("allnan", [math.nan])])], user="t")
    assert math.isnan(svc.get_run(rid).metrics["allnan"].last)


def test_backward_steps_are_kept(svc: TrackingService) -> None:
    rid = new_run(svc)
    svc.ingest(
        [RunBatch(run_id=rid, metrics=[points("loss", [5.0, 4.0, 3.0], [0, 1, 2])])], user="t"
    )
    svc.ingest([RunBatch(run_id=rid, metrics=[points("loss", [9.0, 8.0], [1, 0])])], user="t")
    series = svc.metric_history(rid, "loss")[0]
    assert series.steps.tolist() == [0, 0, 1, 1, 2]
    assert series.values.tolist() == [5.0, 8.0, 4.0, 9.0, 3.0]
    assert svc.get_run(rid).metrics["loss"].last == 3.0  # the highest step wins


def test_many_small_batches_compact_without_losing_points(svc: TrackingService) -> None:
    rid = new_run(svc)
    for i in range(70):
        svc.ingest([RunBatch(run_id=rid, metrics=[points("m", [float(i)], [i])])], user="t")
    series = svc.metric_history(rid, "m")[0]
    assert series.values.tolist() == [float(i) for i in range(70)]
    assert svc.get_run(rid).metrics["m"].count == 70


def test_retried_batch_is_applied_once(svc: TrackingService) -> None:
    rid = new_run(svc)
    batch = RunBatch(run_id=rid, batch_id="b-1", metrics=[points("m", [1.0, 2.0])])
    first = svc.ingest([batch], user="t")
    second = svc.ingest([batch], user="t")
    assert (first.applied, first.points, second.applied, second.duplicates) == (1, 2, 0, 1)
    assert len(svc.metric_history(rid, "m")[0]) == 2


def test_deleted_run_refuses_writes_and_gc_purges(svc: TrackingService) -> None:
    rid = new_run(svc)
    svc.log_artifact(rid, "model/weights.bin", io.BytesIO(b"x" * 10))
    svc.delete_run(rid)
    with pytest.raises(InvalidState, match="is deleted; restore it before logging"):
        svc.ingest([RunBatch(run_id=rid, params={"a": "1"})], user="t")
    dry = svc.gc(dry_run=True)
    assert dry.run_ids == [rid]
    assert dry.artifact_files == 1
    assert dry.artifact_bytes == 10
    assert svc.get_run(rid).id == rid
    assert dry.blobs == 0  # still named by the run until the run goes
    report = svc.gc(dry_run=False)  # no grace: the run, then its unreferenced blob
    assert (report.blobs, report.blob_bytes) == (1, 10)
    with pytest.raises(NotFound, match="does not exist"):
        svc.get_run(rid)
    assert svc.list_artifacts(new_run(svc)) == []
    assert list(svc.artifacts.content.scan()) == []


def test_update_status_sets_end_time(svc: TrackingService) -> None:
    rid = new_run(svc)
    run = svc.update_run(rid, RunUpdate(status=RunStatus.FAILED, notes="# oops"), user="t")
    assert run.status == RunStatus.FAILED
    assert run.end_time is not None
    assert run.notes == "# oops"
    run = svc.update_run(rid, RunUpdate(status=RunStatus.RUNNING), user="t")
    assert run.end_time is None


@pytest.fixture
def populated(svc: TrackingService) -> dict[str, str]:
    names = {}
    rows = [
        ("a", "0.01", "adam", [0.95], "vision"),
        ("b", "0.1", "sgd", [0.80], "vision"),
        ("c", "0.01", "sgd", [0.91], "nlp"),
        ("d", "0.001", "adam", [math.nan], "nlp"),
    ]
    for name, lr, opt, acc, team in rows:
        rid = new_run(svc, "search", name=name)
        svc.ingest(
            [
                RunBatch(
                    run_id=rid,
                    params={"lr": lr, "optimizer": opt},
                    tags={"team": team},
                    metrics=[
                        points("acc", acc),
                        points("loss", [3.0, 1.0 if name != "b" else 2.0]),
                    ],
                )
            ],
            user="t",
        )
        names[name] = rid
    return names


@pytest.mark.parametrize(
    ("filter_", "expected"),
    [
        ("metrics.acc > 0.9 and params.lr = '0.01'", "ac"),
        ("metrics.acc > 0.9 OR tags.team = 'nlp'", "acd"),
        ("NOT params.optimizer = 'adam'", "bc"),
        ("params.optimizer IN ('sgd')", "bc"),
        ("params.optimizer NOT IN ('sgd')", "ad"),
        ("name LIKE 'a%' or run_name = 'd'", "ad"),
        ("params.optimizer ~ '^ad'", "ad"),
        ("params.lr < 0.05", "acd"),
        ("max(metrics.loss) = 3 and min(metrics.loss) >= 2", "b"),
        ("metrics.acc IS NULL", ""),
        ("params.missing IS NULL and tags.team ILIKE 'VISION'", "ab"),
        ("status = 'running'", "abcd"),
        ("(tags.team = 'nlp' and metrics.acc > 0.5) or name = 'b'", "bc"),
    ],
)
def test_search_grammar(
    svc: TrackingService, populated: dict[str, str], filter_: str, expected: str
) -> None:
    found = {r.name for r in svc.search_runs(filter=filter_).runs}
    assert found == set(expected)


def test_search_order_and_pages(svc: TrackingService, populated: dict[str, str]) -> None:
    ordered = svc.search_runs(order_by=["metrics.acc DESC"]).runs
    assert [r.name for r in ordered] == ["a", "c", "b", "d"]  # NaN sorts last
    assert [r.name for r in svc.search_runs(order_by="params.lr ASC, name DESC").runs] == [
        "d",
        "c",
        "a",
        "b",
    ]
    page1 = svc.search_runs(order_by=["name"], max_results=3)
    page2 = svc.search_runs(order_by=["name"], max_results=3, page_token=page1.next_page_token)
    assert [r.name for r in page1.runs + page2.runs] == ["a", "b", "c", "d"]
    assert page2.next_page_token is None
    with pytest.raises(InvalidInput, match="page_token"):
        svc.search_runs(page_token="garbage!")


def test_bad_filter_reports_position(svc: TrackingService) -> None:
    with pytest.raises(BadFilter, match="unknown field 'lr' at position 22") as err:
        svc.search_runs(filter="metrics.acc > 0.9 and lr = 1")
    assert err.value.details["position"] == 22


def test_metric_history_downsampling(svc: TrackingService) -> None:
    rid = new_run(svc)
    n = 10_000
    values = np.sin(np.linspace(0, 20, n))
    values[5000] = 50.0  # a spike the envelope must keep
    svc.ingest([RunBatch(run_id=rid, metrics=[points("s", values.tolist())])], user="t")
    for method in ("minmax", "lttb"):
        small = svc.metric_history(rid, "s", max_points=200, method=method)[0]
        assert 3 <= len(small) <= 200
        assert small.steps[0] == 0
        assert small.steps[-1] == n - 1
        assert np.all(np.diff(small.steps) > 0)
        assert 50.0 in small.values.tolist()
    window = svc.metric_history(rid, "s", x_min=100, x_max=199)[0]
    assert window.steps.tolist() == list(range(100, 200))


def test_many_runs_histories_are_read_in_bounded_groups(
    svc: TrackingService, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Groups of runs holding at most READ_POINTS points are read at once (a run holding more
    alone): every series comes back whole, by step, once, in the order asked."""
    from modelyard.store.metadata import metrics_repo

    monkeypatch.setattr(metrics_repo, "READ_POINTS", 25)
    runs = [new_run(svc) for _ in range(7)]
    for i, rid in enumerate(runs):
        n = (3, 40, 10, 10, 1, 24, 30)[i]
        svc.ingest([RunBatch(run_id=rid, metrics=[points("m", [float(i)] * n)])], user="t")
        # a second chunk, logged at earlier steps than the first
        late = points("m", [-1.0, -2.0], [-2, -1])
        svc.ingest([RunBatch(run_id=rid, metrics=[late, points("other", [1.0])])], user="t")
    asked = [runs[6], runs[0], new_run_id(), *runs[1:6], runs[0]]
    found = svc.metric_histories(asked, ["m"])
    assert [f.run_id for f in found] == [runs[6], *runs[:6]]  # once each, unknown left out
    for f in found:
        whole = svc.metric_history(f.run_id, "m")[0]
        assert f.points.steps.tolist() == whole.steps.tolist()
        assert f.points.values.tolist() == whole.values.tolist()
        assert f.points.steps[:2].tolist() == [-2, -1]
        assert f.total == f.in_window == len(whole)


def test_concurrent_writers_never_lock(svc: TrackingService) -> None:
    rid = new_run(svc)
    errors: list[BaseException] = []

    def writer(k: int) -> None:
        try:
            for i in range(25):
                svc.ingest(
                    [RunBatch(run_id=rid, metrics=[points(f"m{k}", [float(i)], [i])])], user="t"
                )
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=writer, args=(k,)) for k in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    run = svc.get_run(rid)
    assert all(run.metrics[f"m{k}"].count == 25 for k in range(8))


def test_artifact_paths_cannot_escape(svc: TrackingService) -> None:
    rid = new_run(svc)
    for bad in ["../x", "a/../../x", "/etc/passwd", "a\\b", "%2e%2e/x", "%252e%252e/x", "C:/x", ""]:
        with pytest.raises(PathNotAllowed, match=r"^artifact path"):
            svc.log_artifact(rid, bad, io.BytesIO(b"x"))
    svc.log_artifact(rid, "dir/file.txt", io.BytesIO(b"hello"))
    with svc.open_artifact(rid, "dir/file.txt") as handle:
        assert handle.read() == b"hello"


def test_gc_purges_a_run_that_logged_models_and_read_data(svc: TrackingService) -> None:
    """Everything that names a purged run lets go of it (PostgreSQL enforces the foreign
    keys): model links and metrics, dataset inputs, logged models and registered versions."""
    from modelyard.datasets.service import DatasetsService
    from modelyard.registry.service import RegistryService

    registry = RegistryService(svc.db, svc.artifacts)
    data = DatasetsService(svc.db, svc.artifacts)
    rid = new_run(svc)
    exp = svc.get_run(rid).experiment_id
    model = registry.create_logged_model(exp, "m", run_id=rid)
    svc.ingest(
        parse_batches(
            {"batches": [{"run_id": rid, "model_metrics": [
                {"model_id": model.id, "key": "acc", "value": 0.9, "step": 0, "timestamp": 1}
            ]}]},
            0,
        ),
        user="t",
    )  # fmt: skip
    registry.link_run_models(rid, [(model.id, 0)], "output")
    version = data.register_reference("ds", "abc123", source="s3://b/k", user="t")
    data.log_use(rid, "ds", version.version, "input", "training", {"split": "a"})
    svc.log_artifact(rid, "m/model.pkl", io.BytesIO(b"weights"))
    registry.create_model("churn", user="t")
    registered = registry.create_version("churn", f"runs:/{rid}/m", user="t", run_id=rid)
    svc.delete_run(rid)
    assert svc.gc(dry_run=False).run_ids == [rid]
    with pytest.raises(NotFound):
        svc.get_run(rid)
    kept = registry.get_logged_model(model.id)
    assert kept.run_id is None
    assert [(p.key, p.value, p.run_id) for p in kept.metrics] == [("acc", 0.9, None)]
    assert registry.run_models([rid]) == {}
    assert data.inputs([rid]) == {}
    version_now = registry.get_version("churn", registered.version)
    assert version_now.run_id is None  # the run is gone; the version keeps its own files
    with registry.version_artifacts(version_now).open("model.pkl") as kept_file:
        assert kept_file.read() == b"weights"
