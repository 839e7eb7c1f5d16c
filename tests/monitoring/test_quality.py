"""Realized quality: logged predictions joined to late labels, per window, version and segment."""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from sklearn import metrics

from modelyard.errors import InvalidInput
from modelyard.monitoring import labels, layout
from modelyard.monitoring.performance import QualityPoint, QualityResult
from modelyard.monitoring.store import MonitoringStore

from ._traffic import HOUR, T0, record, write_log

DAY = 24 * HOUR


@pytest.fixture
def store(tmp_path: Path) -> MonitoringStore:
    return MonitoringStore(tmp_path / "monitoring", tmp_path / "log")


def _points(result: QualityResult) -> dict[tuple[int, int | None, str | None], QualityPoint]:
    return {(p.start_ms, p.version, p.segment): p for p in result.points}


def test_late_labels_give_accuracy_per_window_and_version(
    store: MonitoringStore, tmp_path: Path
) -> None:
    # hour 0: v1 right on 8 of 10 requests; hour 1: v1 right on 3 of 10, v2 (canary) on 9 of 10
    recs, truth = [], []
    plan = [(0, 1, 8), (1, 1, 3), (1, 2, 9)]
    for hour, version, right in plan:
        for i in range(10):
            rid = f"h{hour}v{version}-{i}"
            recs.append(
                record(rid, [[i, "A"]], [1], at=T0 + hour * HOUR + i * 1000, version=version)
            )
            truth.append((rid, 0, 1 if i < right else 0))
    # a shadow answers the same requests of hour 1 (its own version, always 0)
    recs += [
        record(f"h1v1-{i}", [[i, "A"]], [0], at=T0 + HOUR + i * 1000 + 1, version=3, role="shadow")
        for i in range(10)
    ]
    write_log(tmp_path / "log", recs)
    store.ingest()
    before = store.quality("churn", window_s=3600)
    assert all(p.labelled == 0 and p.realized["accuracy"] is None for p in before.points)
    # the labels come hours later, in two batches, one resent
    assert store.add_labels("churn", truth[:15]) == 15
    assert store.add_labels("churn", truth[10:]) == 20
    result = store.quality("churn", window_s=3600)
    assert result.task == "classification"
    got = {
        k: (p.predictions, p.labelled, p.realized["accuracy"]) for k, p in _points(result).items()
    }
    assert got == {
        (T0, 1, None): (10, 10, 0.8),
        (T0 + HOUR, 1, None): (10, 10, 0.3),
        (T0 + HOUR, 2, None): (10, 10, 0.9),
        (T0 + HOUR, 3, None): (10, 10, 0.7),  # the shadow, judged on the same labels
    }
    # resending every label changes nothing
    store.add_labels("churn", truth)
    assert store.quality("churn", window_s=3600).to_json() == result.to_json()
    # all versions together: live answers only
    merged = store.quality("churn", window_s=3600, by_version=False)
    assert [
        (p.start_ms, p.version, p.predictions, p.realized["accuracy"]) for p in merged.points
    ] == [
        (T0, None, 10, 0.8),
        (T0 + HOUR, None, 20, 0.6),
    ]
    only = store.quality("churn", window_s=7200, version=2)
    assert [(p.version, p.realized["accuracy"]) for p in only.points] == [(2, 0.9)]
    # a corrected label (the latest wins)
    store.add_labels("churn", [("h0v1-9", 0, 1)])
    fixed = _points(store.quality("churn", window_s=3600))
    assert fixed[(T0, 1, None)].realized["accuracy"] == 0.9


def test_empty_window_and_bad_input(store: MonitoringStore, tmp_path: Path) -> None:
    assert store.quality("nothing", window_s=60).points == []
    write_log(tmp_path / "log", [record("a", [[1, "A"]], [1], at=T0)])
    store.ingest()
    assert store.quality("churn", window_s=60, since_ms=T0 + HOUR).points == []
    assert store.quality("churn", window_s=60, version=7).points == []
    with pytest.raises(InvalidInput) as err:
        store.quality("churn", window_s=60, segment="nope")
    assert err.value.details["field"] == "segment"
    with pytest.raises(InvalidInput):
        store.quality("churn", window_s=0)
    with pytest.raises(InvalidInput):
        store.quality("churn", window_s=60, task="ranking")


def _batch(
    store: MonitoringStore,
    deployment: str,
    preds,
    labels,
    *,
    proba=None,
    classes=None,
    features=None,
) -> None:
    n = len(preds)
    ids = [f"{deployment}-{i}" for i in range(n)]
    table = features if features is not None else pa.table({"x": np.arange(n, dtype=float)})
    store.write_predictions(
        deployment, table, preds, model_version=1, ids=ids, proba=proba, classes=classes, time_ms=T0
    )
    store.add_labels(
        deployment, [(ids[i], 0, labels[i]) for i in range(n) if labels[i] is not None]
    )


def test_binary_metrics_match_scikit_learn(store: MonitoringStore) -> None:
    rng = np.random.default_rng(1)
    n = 3000
    y = rng.integers(0, 2, n)
    score = np.clip(np.round(0.3 * y + rng.uniform(0, 0.7, n), 2), 0, 1)  # ties on purpose
    pred = (score > 0.5).astype(int)
    labels = [int(v) if i % 3 else None for i, v in enumerate(y)]  # a third never labelled
    _batch(store, "bin", pred, labels, proba=np.c_[1 - score, score], classes=[0, 1])
    (point,) = store.quality("bin", window_s=3600).points
    keep = np.arange(n) % 3 != 0
    yt, yp, ys = y[keep], pred[keep], score[keep]
    assert (point.predictions, point.labelled) == (n, keep.sum())
    assert point.realized["accuracy"] == pytest.approx(metrics.accuracy_score(yt, yp))
    assert point.realized["precision"] == pytest.approx(metrics.precision_score(yt, yp))
    assert point.realized["recall"] == pytest.approx(metrics.recall_score(yt, yp))
    assert point.realized["f1"] == pytest.approx(metrics.f1_score(yt, yp))
    assert point.realized["roc_auc"] == pytest.approx(metrics.roc_auc_score(yt, ys))
    assert point.realized["log_loss"] == pytest.approx(metrics.log_loss(yt, ys))
    result = store.quality("bin", window_s=3600)
    assert (result.classes, result.positive_class) == (["0", "1"], "1")


def test_multiclass_and_text_classes_match_scikit_learn(store: MonitoringStore) -> None:
    rng = np.random.default_rng(2)
    names = np.array(["setosa", "versicolor", "virginica", "other"])
    y = names[rng.integers(0, 4, 2000)]
    pred = np.where(rng.uniform(size=2000) < 0.7, y, names[rng.integers(0, 3, 2000)])
    _batch(store, "iris", pred.tolist(), y.tolist())
    (point,) = store.quality("iris", window_s=3600).points
    assert point.realized["accuracy"] == pytest.approx(metrics.accuracy_score(y, pred))
    for name, fn in (
        ("precision", metrics.precision_score),
        ("recall", metrics.recall_score),
        ("f1", metrics.f1_score),
    ):
        assert point.realized[name] == pytest.approx(
            fn(y, pred, average="macro", zero_division=0)
        ), name
    assert point.realized["roc_auc"] is None
    assert point.realized["log_loss"] is None


def test_regression_metrics_match_scikit_learn(store: MonitoringStore) -> None:
    rng = np.random.default_rng(3)
    y = rng.normal(100, 20, 1000)
    pred = y + rng.normal(0, 5, 1000)
    _batch(store, "price", pred, y.tolist())
    result = store.quality("price", window_s=3600)
    assert result.task == "regression"
    (point,) = result.points
    assert point.realized["mae"] == pytest.approx(metrics.mean_absolute_error(y, pred))
    assert point.realized["rmse"] == pytest.approx(np.sqrt(metrics.mean_squared_error(y, pred)))
    assert point.realized["r2"] == pytest.approx(metrics.r2_score(y, pred))
    assert point.estimated == {}
    # integer predictions with few values are a classifier unless the caller says otherwise
    _batch(store, "count", [1, 2, 3, 2], [1, 2, 2, 2])
    assert store.quality("count", window_s=3600).task == "classification"
    forced = store.quality("count", window_s=3600, task="regression")
    assert forced.points[0].realized["mae"] == 0.25


def test_segments_top_values_and_other(store: MonitoringStore) -> None:
    n = 30 * 25
    cities = [f"c{i % 25:02d}" if i % 25 < 24 else None for i in range(n)]
    counts: dict[str | None, int] = {}
    # 24 cities and missing; c00 gets the most rows so the top 20 is well defined
    cities = ["c00" if i < 100 else c for i, c in enumerate(cities)]
    for c in cities:
        counts[c] = counts.get(c, 0) + 1
    pred = [1] * n
    labels = [1 if (c or "").endswith(("0", "2", "4", "6", "8")) else 0 for c in cities]
    _batch(store, "seg", pred, labels, features=pa.table({"city": cities}))
    points = store.quality("seg", window_s=3600, segment="city").points
    by = {p.segment: p for p in points}
    top = sorted((c for c in counts if c is not None), key=lambda c: (-counts[c], c))[:20]
    assert set(by) == {*top, "(other)", "(missing)"}
    assert by["c00"].predictions == counts["c00"]
    assert by["(missing)"].predictions == counts[None]
    assert by["(other)"].predictions == sum(
        v for c, v in counts.items() if c is not None and c not in top
    )
    assert by["c02"].realized["accuracy"] == 1.0
    assert by["c03"].realized["accuracy"] == 0.0


def test_label_rows_carry_the_predictions_they_judge(
    store: MonitoringStore, tmp_path: Path
) -> None:
    write_log(
        tmp_path / "log",
        [
            record("a", [[1.5, "Paris"], [2, "Lyon"]], [1, 0], at=T0 + 5),
            record("a", [[1.5, "Paris"], [2, "Lyon"]], [0, 0], at=T0 + 6, version=2, role="shadow"),
            record("b", [[3, "Nice"]], [1], at=T0 + 7),
        ],
    )
    # the same key twice in a batch: the last one wins, counted once
    assert store.add_labels("churn", [("a", 0, 1), ("b", 0, 1), ("b", 0, 0)]) == 3
    (path,) = layout.label_files(store.root, "churn")
    rows = sorted(
        pq.read_table(path).to_pylist(), key=lambda r: (r["request_id"], r["model_version"])
    )
    assert [
        (r["request_id"], r["row"], r["label_class"], r["model_version"], r["role"],
         r["prediction_class"], r["time_ms"], r["f.x"], r["f.city"])
        for r in rows
    ] == [
        ("a", 0, "1", 1, "live", "1", T0 + 5, 1.5, "Paris"),
        ("a", 0, "1", 2, "shadow", "0", T0 + 6, 1.5, "Paris"),
        ("b", 0, "0", 1, "live", "1", T0 + 7, 3.0, "Nice"),
    ]  # fmt: skip
    got = {
        (p.version, p.segment): (p.predictions, p.labelled, p.realized["accuracy"])
        for p in store.quality("churn", window_s=3600, segment="city").points
    }
    assert got == {
        (1, "Paris"): (1, 1, 1.0),
        (1, "Lyon"): (1, 0, None),
        (1, "Nice"): (1, 1, 0.0),
        (2, "Paris"): (1, 1, 0.0),
        (2, "Lyon"): (1, 0, None),
    }


def test_label_files_without_predictions_are_joined(store: MonitoringStore) -> None:
    """Label files written before labels carried their predictions still count; the latest
    label of a key wins across both kinds of file."""
    n = 8
    ids = [f"r{i}" for i in range(n)]
    store.write_predictions(
        "old", pa.table({"x": np.arange(n, dtype=float)}), [1] * n, model_version=1, ids=ids,
        time_ms=T0,
    )  # fmt: skip
    now = int(time.time() * 1000)

    def old_file(name: str, labels: list[tuple[str, int]], received: int) -> None:
        folder = layout.day_path(layout.labels_dir(store.root, "old"), received)
        layout.write_table(
            folder / name,
            pa.table(
                {
                    "request_id": pa.array([r for r, _ in labels], pa.string()),
                    "row": pa.array([0] * len(labels), pa.int32()),
                    "label_value": pa.array([float(v) for _, v in labels]),
                    "label_class": pa.array([str(v) for _, v in labels]),
                    "received_ms": pa.array([received] * len(labels), pa.int64()),
                },
                schema=layout.label_schema(),
            ),
        )

    # r0..r3 right in an old file; r2, r3 corrected (wrong) later by new labels; r4 wrong in a
    # new label, corrected (right) by a later old file; r5 only in a new label (right)
    old_file("a.parquet", [("r0", 1), ("r1", 1), ("r2", 1), ("r3", 1)], now - 86_400_000)
    store.add_labels("old", [("r2", 0, 0), ("r3", 0, 0), ("r4", 0, 0), ("r5", 0, 1)])
    old_file("b.parquet", [("r4", 1)], now + 86_400_000)
    (point,) = store.quality("old", window_s=3600).points
    assert (point.predictions, point.labelled) == (n, 6)
    assert point.realized["accuracy"] == pytest.approx(4 / 6)  # r0 r1 r4 r5 right, r2 r3 wrong


def test_predictions_swept_by_retention_are_not_judged(
    store: MonitoringStore, tmp_path: Path
) -> None:
    now = T0 + 100 * DAY
    write_log(
        tmp_path / "log",
        [record(f"r{d}", [[1, "A"]], [1], at=now - d * DAY) for d in (0, 95)],
    )
    store.ingest()
    labels.add(store.root, "churn", [("r0", 0, 1), ("r95", 0, 1)], now_ms=now)
    assert sum(p.labelled for p in store.quality("churn", window_s=DAY // 1000).points) == 2
    store.sweep(90, now)  # the hour of r95 goes; its label (received today) stays
    assert len(layout.label_files(store.root, "churn")) == 1
    points = store.quality("churn", window_s=DAY // 1000).points
    assert [(p.predictions, p.labelled) for p in points] == [(1, 1)]


def test_scores_per_window_and_version_match_scikit_learn(store: MonitoringStore) -> None:
    """ROC AUC and log loss computed for several groups at once (sorted together)."""
    rng = np.random.default_rng(5)
    expected = {}
    for hour in range(3):
        for version in (1, 2):
            n = 500
            y = rng.integers(0, 2, n)
            score = np.clip(np.round(0.2 * (hour + 1) * y + rng.uniform(0, 0.6, n), 2), 0, 1)
            ids = [f"h{hour}v{version}-{i}" for i in range(n)]
            store.write_predictions(
                "multi", pa.table({"x": np.arange(n, dtype=float)}), (score > 0.5).astype(int),
                model_version=version, ids=ids, proba=np.c_[1 - score, score], classes=[0, 1],
                time_ms=T0 + hour * HOUR + version,
            )  # fmt: skip
            store.add_labels("multi", [(ids[i], 0, int(y[i])) for i in range(n)])
            expected[(T0 + hour * HOUR, version)] = (
                metrics.roc_auc_score(y, score),
                metrics.log_loss(y, score),
            )
    got = {
        (p.start_ms, p.version): (p.realized["roc_auc"], p.realized["log_loss"])
        for p in store.quality("multi", window_s=3600).points
    }
    assert got.keys() == expected.keys()
    for key, (auc, loss) in expected.items():
        assert got[key][0] == pytest.approx(auc), key
        assert got[key][1] == pytest.approx(loss), key


def test_repeated_queries_see_new_files_and_cut_hours(store: MonitoringStore) -> None:
    """Each file's aggregate is kept between queries (files never change): new files, ranges
    that cut an hour, and rows outside their file's hour still count exactly."""

    def log(ids: list[str], at: int, preds: list[int]) -> None:
        store.write_predictions(
            "cache", pa.table({"x": [1.0] * len(ids)}), preds, model_version=1, ids=ids,
            proba=np.array([[0.3, 0.7]] * len(ids)), classes=[0, 1], time_ms=at,
        )  # fmt: skip

    def counts(since_ms: int | None = None, until_ms: int | None = None) -> list[tuple[int, int]]:
        points = store.quality("cache", window_s=3600, since_ms=since_ms, until_ms=until_ms).points
        return [((p.start_ms - T0) // HOUR, p.predictions) for p in points]

    log(["a1", "a2"], T0 + 10, [1, 1])
    log(["b1"], T0 + HOUR + 10, [0])
    assert counts() == [(0, 2), (1, 1)]
    log(["a3"], T0 + 20, [1])  # a new file in an hour already aggregated
    assert counts() == [(0, 3), (1, 1)]
    assert counts(since_ms=T0 + 15) == [(0, 1), (1, 1)]  # the range cuts hour 0
    assert counts(until_ms=T0 + HOUR) == [(0, 3)]
    # a file of hour 1 holding a row of hour 0 (written late): out of a range starting at hour 1
    folder = layout.hour_path(layout.tables_dir(store.root, "cache"), T0 + HOUR)
    layout.write_table(
        folder / "s-late.parquet",
        pq.read_table(layout.prediction_files(store.root, "cache")[-1]).set_column(
            5, "time_ms", pa.array([T0 + HOUR - 5], pa.int64())
        ),
    )
    assert counts() == [(0, 4), (1, 1)]
    assert counts(since_ms=T0 + HOUR) == [(1, 1)]
    assert counts() == [(0, 4), (1, 1)]
    store.add_labels("cache", [("a1", 0, 1), ("b1", 0, 1)])
    got = {(p.start_ms - T0) // HOUR: p for p in store.quality("cache", window_s=3600).points}
    # hour 0: a1 (right) and the late copy of b1 (predicted 0, wrong)
    assert (got[0].labelled, got[0].realized["accuracy"]) == (2, 0.5)
    assert (got[1].labelled, got[1].realized["accuracy"]) == (1, 0.0)
    assert got[0].estimated["accuracy"] == pytest.approx((3 * 0.7 + 0.3) / 4)  # uncalibrated
