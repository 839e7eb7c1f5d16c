"""``my.monitoring``: is a model in production still working? Log batch predictions and late
labels, read realized and estimated quality, service health and drift, write a drift report.

my.monitoring.log_predictions("churn-api", frame, preds, ids=ids, proba=proba)
my.monitoring.log_labels("churn-api", {"req-1": 1, "req-2": 0})
my.monitoring.quality("churn-api", window="1d")
my.monitoring.drift("churn-api")               # against the training data (lineage)
my.monitoring.report("churn-api", "drift.html")

The domain's modules (drift statistics, the prediction store, alert rules) are siblings in
this package; nothing heavy loads until a function runs.
"""

from __future__ import annotations

import builtins
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from modelyard.monitoring.alerts_client import Alerts
    from modelyard.monitoring.client import MonitoringApi


def __getattr__(name: str) -> Any:
    if name == "Alerts":  # the alert rules' client: rules, silences, firings, events
        from modelyard.monitoring.alerts_client import Alerts

        return Alerts
    raise AttributeError(f"module 'modelyard.monitoring' has no attribute {name!r}")


__all__ = [
    "Alerts",
    "alert_firings",
    "alert_rules",
    "create_alert",
    "drift",
    "health",
    "log_labels",
    "log_predictions",
    "overview",
    "quality",
    "report",
]


@contextmanager
def _api() -> Iterator[MonitoringApi]:
    from modelyard.monitoring.client import monitoring_api
    from modelyard.tracking import fluent

    api = monitoring_api(fluent.get_tracking_uri())
    try:
        yield api
    finally:
        api.close()


def _rows(features: Any) -> tuple[builtins.list[str], builtins.list[builtins.list[Any]]]:
    """Column names and row lists from pandas, polars, Arrow, a dict of columns or a file."""
    from modelyard.datasets.profile import to_table

    if isinstance(features, Mapping):
        import pyarrow as pa

        features = pa.table({str(k): builtins.list(v) for k, v in features.items()})
    table = to_table(features)
    columns = [table.column(i).to_pylist() for i in range(table.num_columns)]
    return [str(n) for n in table.column_names], [
        builtins.list(r) for r in zip(*columns, strict=True)
    ]


def _plain(values: Any) -> builtins.list[Any]:
    """numpy, pandas or a list as a list of Python scalars."""
    if hasattr(values, "tolist"):
        out: builtins.list[Any] = values.tolist()
        return out
    if hasattr(values, "to_list"):
        return builtins.list(values.to_list())
    return builtins.list(values)


def log_predictions(
    target: str,
    features: Any,
    predictions: Any,
    *,
    ids: Sequence[str] | None = None,
    proba: Any = None,
    classes: Sequence[Any] | None = None,
    model_version: int | None = None,
) -> builtins.list[str]:
    """Log predictions made outside a serving process (a batch job, a notebook) for the
    deployment or registered model ``target``; returns the ids labels are later sent by
    (generated when ``ids`` is None). ``proba``: class probabilities (for estimated quality)."""
    columns, data = _rows(features)
    preds = _plain(predictions)
    keys = None if ids is None else [str(i) for i in _plain(ids)]
    probs = None if proba is None else _plain(proba)
    out: builtins.list[str] = []
    with _api() as api:
        from modelyard.monitoring.client import BATCH_ROWS

        for start in range(0, len(data), BATCH_ROWS):
            end = start + BATCH_ROWS
            body = {
                "columns": columns,
                "data": data[start:end],
                "predictions": preds[start:end],
                "model_version": model_version,
                "ids": None if keys is None else keys[start:end],
                "proba": None if probs is None else probs[start:end],
                "classes": None if classes is None else _plain(classes),
            }
            out.extend(api.log_predictions(target, body)["ids"])
    return out


def log_labels(
    target: str,
    labels: Mapping[str, Any] | Sequence[tuple[str, Any]] | Sequence[tuple[str, int, Any]],
) -> int:
    """Ground truth, by request id (``{id: label}``, ``[(id, label)]`` or ``[(id, row, label)]``
    for a row of a multi-row request), arriving any time after the prediction; resending the
    same labels changes nothing. Unknown ids refuse the whole call."""
    items = builtins.list(labels.items()) if isinstance(labels, Mapping) else builtins.list(labels)
    body = []
    for item in items:
        if len(item) == 3:
            body.append({"request_id": str(item[0]), "row": int(item[1]), "label": item[2]})
        else:
            body.append({"request_id": str(item[0]), "row": 0, "label": item[1]})
    body = [{**x, "label": _scalar(x["label"])} for x in body]
    accepted = 0
    with _api() as api:
        from modelyard.monitoring.client import BATCH_ROWS

        for start in range(0, len(body), BATCH_ROWS):
            accepted += int(api.add_labels(target, body[start : start + BATCH_ROWS])["accepted"])
    return accepted


def _scalar(value: Any) -> Any:
    return value.item() if hasattr(value, "item") else value


def quality(
    target: str,
    *,
    window: str = "1h",
    since: int | None = None,
    until: int | None = None,
    segment: str | None = None,
    version: int | None = None,
    task: str | None = None,
) -> dict[str, Any]:
    """Realized quality (from labels) and estimated quality (from the model's confidence, as
    NannyML's CBPE) per window and model version; times in ms since the epoch."""
    params = {"window": window, "since": since, "until": until, "segment": segment,
              "version": version, "task": task}  # fmt: skip
    with _api() as api:
        return api.quality(target, params)


def health(
    target: str,
    *,
    window: str = "5m",
    since: int | None = None,
    until: int | None = None,
    version: int | None = None,
) -> dict[str, Any]:
    """Latency percentiles, throughput, errors and probed availability per window."""
    params = {"window": window, "since": since, "until": until, "version": version}
    with _api() as api:
        return api.health(target, params)


def drift(
    target: str,
    *,
    reference: str = "training",
    reference_since: int | None = None,
    reference_until: int | None = None,
    since: int | None = None,
    until: int | None = None,
    version: int | None = None,
    columns: Sequence[str] | None = None,
) -> dict[str, Any]:
    """Drift of the logged inputs (and, against a window, the predictions) per column, with a
    dataset-level verdict; the reference is the training dataset of the version (from its
    lineage) or a window of the log (``reference="window"``)."""
    params = _params(reference, reference_since, reference_until, since, until, version, columns)
    with _api() as api:
        return api.drift(target, params)


def _params(
    reference: str,
    reference_since: int | None,
    reference_until: int | None,
    since: int | None,
    until: int | None,
    version: int | None,
    columns: Sequence[str] | None,
) -> dict[str, Any]:
    return {
        "reference": reference,
        "reference_since": reference_since,
        "reference_until": reference_until,
        "since": since,
        "until": until,
        "version": version,
        "columns": ",".join(columns) if columns else None,
    }


def report(
    target: str,
    out: str | Path,
    *,
    reference: str = "training",
    reference_since: int | None = None,
    reference_until: int | None = None,
    since: int | None = None,
    until: int | None = None,
    version: int | None = None,
    columns: Sequence[str] | None = None,
    log_to_run: bool = False,
) -> Path:
    """Write the drift check as one self-contained HTML file; ``log_to_run`` also logs it as
    an artifact of the active run."""
    params = _params(reference, reference_since, reference_until, since, until, version, columns)
    with _api() as api:
        page = api.report(target, params)
    path = Path(out)
    path.write_text(page, encoding="utf-8")
    if log_to_run:
        from modelyard.tracking import fluent

        fluent.log_artifact(str(path), "monitoring")
    return path


def overview(window: str = "1h") -> builtins.list[dict[str, Any]]:
    """Every monitored deployment with its latest window's figures."""
    with _api() as api:
        return api.overview(window)


@contextmanager
def _alerts() -> Iterator[Alerts]:
    from modelyard.monitoring.alerts_client import Alerts
    from modelyard.tracking import fluent

    with Alerts(fluent.get_tracking_uri()) as alerts:
        yield alerts


def create_alert(
    name: str,
    target: str,
    metric: str,
    *,
    op: str,
    threshold: float,
    window: str | int = "5m",
    for_s: str | int = 0,
    channels: Sequence[Mapping[str, Any]] = (),
    action: str | None = None,
) -> dict[str, Any]:
    """An alert rule evaluated by the server: ``metric`` (accuracy, estimated_accuracy,
    latency_p99_ms, error_rate, availability, drift_share, drift_score:COLUMN, ...) of
    ``target`` over ``window`` compared by ``op`` to ``threshold``, held ``for_s`` seconds;
    notified on ``channels`` (``{"type": "webhook"|"slack", "url"}``, ``{"type": "email",
    "to": [...]}``); ``action="rollback"`` rolls the deployment back when it fires."""
    with _alerts() as alerts:
        return alerts.create_rule(
            name, target, metric, op=op, threshold=threshold, window=window, for_s=for_s,
            channels=channels, action=action,
        )  # fmt: skip


def alert_rules(target: str | None = None) -> builtins.list[dict[str, Any]]:
    """The alert rules (of one deployment), with their state."""
    with _alerts() as alerts:
        return alerts.rules(target)


def alert_firings(
    target: str | None = None, status: str | None = None
) -> builtins.list[dict[str, Any]]:
    """Every firing (of one deployment; ``status`` firing, acknowledged, resolved or active)."""
    with _alerts() as alerts:
        return alerts.firings(target, status=status)
