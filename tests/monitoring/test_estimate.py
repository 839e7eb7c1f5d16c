"""Estimated quality (CBPE) before labels arrive, on data whose truth the test draws."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pyarrow as pa
import pytest
from sklearn.isotonic import IsotonicRegression

from modelyard.monitoring import estimate
from modelyard.monitoring.performance import QualityPoint
from modelyard.monitoring.store import MonitoringStore

from ._traffic import HOUR, T0

N = 6000


@pytest.fixture
def store(tmp_path: Path) -> MonitoringStore:
    return MonitoringStore(tmp_path / "monitoring", None)


def _sigmoid(z: np.ndarray) -> np.ndarray:
    out: np.ndarray = 1.0 / (1.0 + np.exp(-z))
    return out


def _hour(
    store: MonitoringStore, hour: int, x: np.ndarray, reported: np.ndarray, y: np.ndarray
) -> list[tuple[str, int, int]]:
    """Log one hour of a binary model's answers; returns their labels (not sent)."""
    ids = [f"h{hour}-{i}" for i in range(len(x))]
    pred = (reported > 0.5).astype(int)
    store.write_predictions(
        "churn", pa.table({"x": x}), pred, model_version=1, ids=ids,
        proba=np.c_[1 - reported, reported], classes=[0, 1], time_ms=T0 + hour * HOUR,
    )  # fmt: skip
    return [(ids[i], 0, int(y[i])) for i in range(len(x))]


def _traffic(
    store: MonitoringStore, rng: np.random.Generator, slope_reported: float
) -> list[list[tuple[str, int, int]]]:
    """Four hours; the inputs drift towards the boundary so accuracy drops hour by hour."""
    labels = []
    for hour, spread in enumerate((1.5, 1.0, 0.6, 0.3)):
        x = rng.normal(0.0, spread, N)
        truth = _sigmoid(2.0 * x + 0.2)
        y = rng.uniform(size=N) < truth
        labels.append(_hour(store, hour, x, _sigmoid(slope_reported * x + 0.2), y))
    return labels


def _figure(figures: dict[str, float | None], name: str) -> float:
    value = figures[name]
    assert value is not None, name
    return value


def _by_hour(store: MonitoringStore) -> dict[int, QualityPoint]:
    return {(p.start_ms - T0) // HOUR: p for p in store.quality("churn", window_s=3600).points}


def test_estimated_accuracy_tracks_realized_on_calibrated_probabilities(
    store: MonitoringStore,
) -> None:
    labels = _traffic(
        store, np.random.default_rng(7), slope_reported=2.0
    )  # the model is calibrated
    store.add_labels("churn", labels[0])  # the reference hour has its labels; the rest not yet
    early = _by_hour(store)
    assert [early[h].labelled for h in range(4)] == [N, 0, 0, 0]
    assert store.quality("churn", window_s=3600).calibration == {"1": "isotonic"}
    for rest in labels[1:]:
        store.add_labels("churn", rest)  # days later, the labels come
    late = _by_hour(store)
    realized = [_figure(late[h].realized, "accuracy") for h in range(4)]
    estimated = [_figure(early[h].estimated, "accuracy") for h in range(4)]
    assert realized[0] - realized[3] > 0.1  # the drop is real ...
    for h in range(4):  # ... and the estimate, made before any label of hours 1-3, saw it
        assert estimated[h] == pytest.approx(realized[h], abs=0.03), h
        for name in ("precision", "recall", "f1", "roc_auc"):
            assert early[h].estimated[name] == pytest.approx(late[h].realized[name], abs=0.04), (
                h,
                name,
            )


def test_calibration_on_labelled_rows_fixes_an_overconfident_model(store: MonitoringStore) -> None:
    labels = _traffic(store, np.random.default_rng(8), slope_reported=6.0)  # says 0.95 for 0.73
    blind = _by_hour(store)  # no labels at all: the probabilities are taken as they are
    assert store.quality("churn", window_s=3600).calibration == {"1": "none"}
    store.add_labels("churn", labels[0])
    calibrated = _by_hour(store)
    for rest in labels[1:]:
        store.add_labels("churn", rest)
    late = _by_hour(store)
    for h in (1, 2, 3):
        truth = _figure(late[h].realized, "accuracy")
        assert _figure(blind[h].estimated, "accuracy") - truth > 0.05
        assert calibrated[h].estimated["accuracy"] == pytest.approx(truth, abs=0.03)


def test_multiclass_estimated_accuracy(store: MonitoringStore) -> None:
    rng = np.random.default_rng(9)
    for hour, temperature in enumerate((0.5, 1.0, 2.0)):
        logits = rng.normal(0, 1, (N, 3)) / temperature
        proba = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
        y = (rng.uniform(size=(N, 1)) > np.cumsum(proba, axis=1)).sum(axis=1)
        names = np.array(["a", "b", "c"])
        ids = [f"m{hour}-{i}" for i in range(N)]
        store.write_predictions(
            "iris", pa.table({"x": logits[:, 0]}), names[proba.argmax(axis=1)].tolist(),
            model_version=2, ids=ids, proba=proba, classes=["a", "b", "c"], time_ms=T0 + hour * HOUR,
        )  # fmt: skip
        store.add_labels("iris", [(ids[i], 0, str(names[y[i]])) for i in range(N)])
    points = store.quality("iris", window_s=3600).points
    assert len(points) == 3
    for p in points:
        assert set(p.estimated) == {"accuracy"}
        assert p.estimated["accuracy"] == pytest.approx(p.realized["accuracy"], abs=0.03)


def test_no_probabilities_no_estimate(store: MonitoringStore) -> None:
    store.write_predictions(
        "plain", pa.table({"x": [1.0, 2.0]}), [0, 1], model_version=1, time_ms=T0
    )
    (point,) = store.quality("plain", window_s=60).points
    assert point.estimated == {}
    figures = store.figures("plain", window_s=60, now_ms=T0 + 1)
    assert figures["estimated_accuracy"] is None


def test_isotonic_fit_matches_scikit_learn_on_bins() -> None:
    rng = np.random.default_rng(4)
    bins = rng.integers(0, estimate.BINS, 5000)
    counts = rng.integers(1, 20, 5000).astype(float)
    rate = np.clip(bins / estimate.BINS + rng.normal(0, 0.2, 5000), 0, 1)
    hits = np.round(rate * counts)
    fitted = estimate.fit(bins, hits, counts)
    assert fitted.method == "isotonic"
    assert fitted.table is not None
    assert np.all(np.diff(fitted.table) >= -1e-12)
    n = np.bincount(bins, weights=counts, minlength=estimate.BINS)
    h = np.bincount(bins, weights=hits, minlength=estimate.BINS)
    used = n > 0
    ref = IsotonicRegression().fit(np.flatnonzero(used), h[used] / n[used], sample_weight=n[used])
    assert fitted.table[used] == pytest.approx(ref.predict(np.flatnonzero(used)))
    assert estimate.fit(bins[:10], hits[:10], np.ones(10)).method == "none"  # too few rows
