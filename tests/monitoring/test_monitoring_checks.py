"""What clients send to monitoring is checked before anything is written: column names, the
size of a call, reference windows, webhook hosts; a deployment's logging policy holds for
batch predictions too; one folder per monitored name."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest

from modelyard import config, embedded
from modelyard.errors import InvalidInput
from modelyard.monitoring import checks, notify
from modelyard.monitoring.service import MonitoringService
from modelyard.monitoring.store import MonitoringStore
from modelyard.registry.client import ModelRegistry
from modelyard.serving.predlog import folder_name


@pytest.mark.parametrize(
    ("columns", "why"),
    [(["a\x00"], "control character"), (["a", "A"], "twice"), (["x", "x"], "twice")],
)
def test_column_names_the_query_engine_cannot_keep_apart_are_refused(
    columns: list[str], why: str
) -> None:
    with pytest.raises(InvalidInput, match=why) as err:
        checks.rows_table(columns, [[1.0] * len(columns)])
    assert err.value.details["field"] == "columns"


def test_one_call_holds_at_most_100000_labels() -> None:
    with pytest.raises(InvalidInput):
        checks.labels([("a", 0, 1)] * (checks.MAX_LABELS + 1))


@pytest.mark.parametrize("url", ["http://xn--a.xn--/", "http://[fec0::1]/hook"])
def test_webhook_hosts_idna_cannot_encode_or_site_local_are_refused(url: str) -> None:
    with pytest.raises(InvalidInput) as err:
        notify.check_url(url, allow_private=False)
    assert err.value.details["field"] == "channels"


def test_names_that_sanitise_alike_get_folders_of_their_own() -> None:
    names = ["team/churn", "team:churn", "team churn", "team_churn", "..", ""]
    folders = [folder_name(n) for n in names]
    assert len(set(folders)) == len(names)
    assert folders[3] == "team_churn"  # a plain name stays readable
    assert all("/" not in f and f not in {"", ".", ".."} for f in folders)


def test_batch_predictions_of_a_deployment_follow_its_logging_policy(tmp_path: Path) -> None:
    from sklearn.linear_model import LogisticRegression

    uri = f"sqlite:///{tmp_path / 'store.db'}"
    rng = np.random.default_rng(0)
    frame = pd.DataFrame(rng.normal(size=(50, 2)), columns=["x", "y"])
    frame["email"] = [f"user{i}@example.com" for i in range(50)]
    frame["phone"] = [f"+33 6 00 00 00 {i:02d}" for i in range(50)]
    with ModelRegistry(uri) as registry:
        fitted = LogisticRegression().fit(frame[["x", "y"]], (frame["x"] > 0).astype(int))
        registry.log(fitted, "churn", input_example=frame[["x", "y"]][:3])
    services = embedded.acquire(uri)
    try:
        services.deployments.create("churn-api", "models:/churn/1", user="test")
        services.deployments.set_logging(
            "churn-api", {"exclude": ["email"], "hash": ["phone"]}, user="test"
        )
        store = MonitoringStore(tmp_path / "monitoring", config.prediction_log_dir())
        svc = MonitoringService(store, services.registry, services.datasets, services.deployments)
        rows = frame.values.tolist()
        svc.log_predictions("churn-api", list(frame.columns), rows, [0] * 50, ids=None)
        with pytest.raises(InvalidInput) as err:
            svc.drift(
                "churn-api", reference="window", reference_since_ms=2, reference_until_ms=1,
                since_ms=0, until_ms=2**41,
            )  # fmt: skip
        assert err.value.details["field"] == "reference_since"
    finally:
        embedded.release(services)
    (written,) = (tmp_path / "monitoring" / "tables").rglob("*.parquet")
    raw = written.read_bytes()
    table = pq.read_table(written)
    assert "f.email" not in table.column_names
    assert b"example.com" not in raw
    phones = table.column("f.phone").to_pylist()
    assert all(len(p) == 32 and "+33" not in p for p in phones)
    assert len(set(phones)) == 50


def test_a_classifier_with_thousands_of_classes_is_judged_in_bounded_memory(
    tmp_path: Path,
) -> None:
    """A text answer with 9,000 distinct values split by 30 segments: a dense confusion matrix
    per group would take 22 x 9,000^2 floats (14 GB); the per-class counts take 2 MB."""
    import pyarrow as pa

    store = MonitoringStore(tmp_path / "monitoring", None)
    n = 9_000
    preds = [f"item-{i}" for i in range(n)]
    features = pa.table({"a": [i % 30 for i in range(n)]})
    ids = store.write_predictions("m", features, preds, model_version=1, time_ms=1_700_000_000_000)
    truth = [p if i % 3 else "other" for i, p in enumerate(preds)]
    store.add_labels("m", [(k, 0, t) for k, t in zip(ids, truth, strict=True)])
    found = store.quality(
        "m", window_s=86_400, since_ms=1_699_900_000_000, until_ms=1_700_100_000_000,
        segment="a", task="classification",
    )  # fmt: skip
    labelled = sum(p.labelled for p in found.points)
    correct = sum((p.realized["accuracy"] or 0) * p.labelled for p in found.points)
    assert labelled == n
    assert correct == pytest.approx(n - n // 3)


def test_a_retried_batch_is_refused_not_counted_twice(tmp_path: Path) -> None:
    import pyarrow as pa

    from modelyard.errors import AlreadyExists

    store = MonitoringStore(tmp_path / "monitoring", None)
    features = pa.table({"x": [1.0, 2.0]})
    store.write_predictions("m", features, [0, 1], model_version=1, ids=["a", "b"])
    with pytest.raises(AlreadyExists) as err:
        store.write_predictions("m", features, [0, 1], model_version=1, ids=["b", "c"])
    assert err.value.details["request_ids"] == ["b"]
    assert store.features("m").num_rows == 2
