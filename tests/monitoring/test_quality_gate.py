"""A canary gated on a monitoring quality figure: the controller's decision on given figures,
and the figures themselves read from the monitoring store (realized from labels)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pyarrow as pa
import pytest

from modelyard import embedded
from modelyard.errors import InvalidInput
from modelyard.monitoring.service import MonitoringService
from modelyard.monitoring.store import MonitoringStore
from modelyard.serving import checks
from modelyard.serving.entities import Deployment, Rollout
from modelyard.serving.rollouts import advance
from tests.serving.test_deployments_rollouts import NOW, deployment, instance, promoted, ready

GATED = Rollout(
    strategy="canary", steps=(10, 100), interval_s=60, min_requests=100,
    quality_metric="accuracy", max_quality_drop=0.02,
)  # fmt: skip


def stepping(rollout: Rollout = GATED) -> Deployment:
    first = advance(promoted(deployment(rollout=rollout)), [instance(v3=ready(), v4=ready())], NOW)
    assert first is not None
    assert first.action == "step"
    return first.after


def test_a_canary_that_loses_accuracy_is_rolled_back() -> None:
    d = stepping()
    assert d.candidate is not None
    assert d.candidate.started_at == NOW - 1000
    figures = {3: (0.91, 400), 4: (0.85, 150)}
    later = NOW + 1000
    decision = advance(
        d, [instance(seen=later, v3=ready(500), v4=ready(150))], later,
        quality=lambda v: figures[v],
    )  # fmt: skip
    assert decision is not None
    assert (decision.action, decision.actor) == ("rollback", "gate")
    assert decision.reason == (
        "v4 accuracy 0.85 over 150 predictions vs v3 0.91 over 400 (0.02 worse allowed)"
    )
    assert decision.after.candidate is None


@pytest.mark.parametrize(
    ("figures", "why"),
    [
        ({3: (0.91, 400), 4: (0.90, 150)}, "within the allowed drop"),
        ({3: (0.91, 400), 4: (0.50, 99)}, "too few labelled on the canary"),
        ({3: (None, 0), 4: (0.50, 150)}, "no figure for the stable"),
    ],
)
def test_the_quality_gate_holds_until_it_can_judge(
    figures: dict[int, tuple[float | None, int]], why: str
) -> None:
    later = NOW + 1000  # the step's interval is not over: no step, and no rollback either
    got = advance(
        stepping(), [instance(seen=later, v3=ready(500), v4=ready(150))], later,
        quality=lambda v: figures[v],
    )  # fmt: skip
    assert got is None, why


def test_lower_is_better_figures_compare_the_other_way() -> None:
    rollout = Rollout(
        strategy="canary", steps=(10, 100), interval_s=60, min_requests=100,
        quality_metric="rmse", max_quality_drop=0.1,
    )  # fmt: skip
    later = NOW + 1000
    reports = [instance(seen=later, v3=ready(500), v4=ready(150))]
    better = {3: (1.0, 200), 4: (0.5, 200)}
    assert advance(stepping(rollout), reports, later, quality=lambda v: better[v]) is None
    figures = {3: (1.0, 200), 4: (1.2, 200)}
    worse = advance(stepping(rollout), reports, later, quality=lambda v: figures[v])
    assert worse is not None
    assert worse.action == "rollback"


def test_rollout_settings_check_the_figure_name() -> None:
    assert checks.rollout({"quality_metric": "estimated_accuracy"}).quality_metric == (
        "estimated_accuracy"
    )
    with pytest.raises(InvalidInput) as err:
        checks.rollout({"quality_metric": "vibes"})
    assert err.value.details["field"] == "quality_metric"


def test_a_versions_realized_accuracy_since_the_rollout_began(tmp_path: Path) -> None:
    """The figure the gate reads: one window over [since, until) per version, from labels."""
    store = MonitoringStore(tmp_path / "monitoring", None)
    rng = np.random.default_rng(3)
    truth = rng.integers(0, 2, size=300)
    features = pa.table({"x": rng.normal(size=300)})
    start = 1_700_000_000_000
    for version, right in ((3, 270), (4, 240)):
        preds = truth.copy()
        preds[right:] = 1 - preds[right:]
        ids = store.write_predictions(
            "api", features, preds, model_version=version, time_ms=start + 5_000,
            ids=[f"v{version}-{i}" for i in range(300)],
        )  # fmt: skip
        store.add_labels("api", [(i, 0, int(t)) for i, t in zip(ids, truth, strict=True)])
    services = embedded.acquire(f"sqlite:///{tmp_path / 'store.db'}")
    try:
        svc = MonitoringService(store, services.registry, services.datasets, services.deployments)
        until = start + 3_600_000
        for version, expected in ((3, 0.9), (4, 0.8)):
            value, labelled = svc.version_quality("api", version, "accuracy", start, until)
            assert value == pytest.approx(expected)
            assert labelled == 300
        assert svc.version_quality("api", 4, "accuracy", until, until + 1000) == (None, 0)
    finally:
        embedded.release(services)
