"""The monitoring service: what the REST API, the SDK, the CLI and the alert rules ask of
monitoring, over the monitoring store (typed predictions and labels), the registry's lineage
(the training dataset a drift check compares against) and the availability probe's counts.

A monitored target is a deployment, or a registered model whose batch predictions the SDK logs
under the model's name.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from modelyard.errors import InvalidInput, InvalidState, NotFound
from modelyard.monitoring import windows
from modelyard.store.metadata.sql import now_ms

if TYPE_CHECKING:
    from modelyard.datasets.service import DatasetsService
    from modelyard.monitoring.data_drift import DriftReport
    from modelyard.monitoring.store import MonitoringStore
    from modelyard.registry.service import RegistryService
    from modelyard.serving.deployments import DeploymentService

MAX_REFERENCE_ROWS = 1_000_000  # rows of a training dataset read as the drift reference
MAX_CURRENT_ROWS = 2_000_000  # logged rows a drift check reads (the newest)
DRIFT_CACHE_S = 60.0  # a drift figure asked for again within this time is not recomputed
TABULAR = (".parquet", ".csv", ".tsv", ".feather", ".arrow", ".jsonl", ".json")
OBJECTIVE = 0.999  # the availability objective the error budget is counted against


@dataclass(frozen=True, slots=True)
class Target:
    """What is monitored under a name: a deployment, or a registered model (SDK-logged)."""

    name: str
    model: str
    deployment: bool
    stable: int | None  # the version a deployment serves to most traffic


@dataclass(frozen=True, slots=True)
class Drift:
    """A drift check and what it compared."""

    report: DriftReport
    target: str
    reference: dict[str, Any]  # {"kind": "training"|"window"|"profile", ...}
    current: dict[str, Any]

    def to_json(self) -> dict[str, Any]:
        from modelyard.monitoring.data_drift import report_json

        return {
            **report_json(self.report),
            "deployment": self.target,
            "reference": self.reference,
            "current": self.current,
        }


class MonitoringService:
    """One object per server (or embedded store); safe to share between threads."""

    def __init__(
        self,
        store: MonitoringStore,
        registry: RegistryService,
        datasets: DatasetsService,
        deployments: DeploymentService,
        clock: Callable[[], int] = now_ms,
    ) -> None:
        self.store = store
        self.registry = registry
        self.datasets = datasets
        self.deployments = deployments
        self.clock = clock
        self._drift_cache: dict[tuple[str, int], tuple[float, Drift | None]] = {}
        self._lock = threading.Lock()

    # ---- targets ---------------------------------------------------------------------------

    def target(self, name: str) -> Target:
        """The deployment called ``name``, else the registered model; NotFound names both."""
        try:
            d = self.deployments.get(name)
        except NotFound:
            pass
        else:
            return Target(d.name, d.model, True, d.stable)
        try:
            self.registry.get_model(name)
        except NotFound:
            raise NotFound(
                f"no deployment or registered model is called {name!r}", deployment=name
            ) from None
        return Target(name, name, False, None)

    def overview(self, window_s: int = 3600) -> list[dict[str, Any]]:
        """Every deployment (and SDK-logged model) with its latest figures."""
        now = self.clock()
        names = {d.name: d.model for d in self.deployments.list_all()}
        for logged in self.store.deployments():
            names.setdefault(logged, logged)
        out = []
        for name in sorted(names):
            figures = self.store.figures(name, window_s=window_s, now_ms=now)
            figures["availability"] = self._uptime(name, now - window_s * 1000, now)
            out.append(
                {"name": name, "model": names[name], "window_s": window_s, "figures": figures}
            )
        return out

    # ---- writes ----------------------------------------------------------------------------

    def log_predictions(
        self,
        name: str,
        columns: Sequence[str],
        data: Sequence[Sequence[Any]],
        predictions: Sequence[Any],
        *,
        model_version: int | None = None,
        ids: Sequence[str] | None = None,
        proba: Sequence[Sequence[float]] | None = None,
        classes: Sequence[Any] | None = None,
    ) -> list[str]:
        """Batch predictions made outside a serving process, into the same store; the
        version defaults to the one a deployment serves most, else the model's newest."""
        import numpy as np

        from modelyard.monitoring import checks

        found = self.target(name)
        if model_version is None:
            model_version = found.stable or self._newest(found.model)
            if model_version is None:
                raise InvalidInput(f"{found.model!r} has no version", field="model_version")
        self.registry.get_version(found.model, model_version)  # NotFound for a wrong version
        if found.deployment:
            columns, data = self._redacted(found.name, columns, data)
        features = checks.rows_table(columns, data)
        preds = checks.predictions(predictions, features.num_rows)
        keys = checks.ids(ids, features.num_rows)
        probs = None if proba is None else np.asarray(checks.proba(proba, features.num_rows))
        return self.store.write_predictions(
            found.name, features, preds, model_version=model_version, ids=keys, proba=probs,
            classes=None if classes is None else list(classes),
        )  # fmt: skip

    def _redacted(
        self, name: str, columns: Sequence[str], data: Sequence[Sequence[Any]]
    ) -> tuple[Sequence[str], Sequence[Sequence[Any]]]:
        """The rows as the deployment's logging policy lets them be kept: its excluded
        columns dropped, its hashed ones keyed-hashed as its serving processes do."""
        from modelyard.serving.predlog import Redaction

        policy = self.deployments.get(name).logging
        if not (policy.exclude or policy.hash):
            return columns, data
        redaction = Redaction(policy.exclude, policy.hash, bytes.fromhex(policy.key))
        doc = redaction.apply({"columns": list(columns), "data": [list(r) for r in data]})
        return doc["columns"], doc["data"]

    def add_labels(self, name: str, labels: Sequence[tuple[str, int, Any]]) -> int:
        """Ground truth by request id (and row), all or nothing; resending changes nothing."""
        from modelyard.monitoring import checks

        found = self.target(name)
        return self.store.add_labels(found.name, checks.labels(labels))

    # ---- reads -----------------------------------------------------------------------------

    def quality(
        self,
        name: str,
        *,
        window_s: int,
        since_ms: int | None = None,
        until_ms: int | None = None,
        segment: str | None = None,
        version: int | None = None,
        task: str | None = None,
    ) -> dict[str, Any]:
        """Realized (from labels) and estimated (from confidence) quality per window and version."""
        found = self.target(name)
        since, until = windows.span(since_ms, until_ms, self.clock(), window_s)
        result = self.store.quality(
            found.name, window_s=window_s, since_ms=since, until_ms=until, segment=segment,
            version=version, task=task,
        )  # fmt: skip
        return {"deployment": found.name, "window_s": window_s, **result.to_json()}

    def health(
        self,
        name: str,
        *,
        window_s: int,
        since_ms: int | None = None,
        until_ms: int | None = None,
        version: int | None = None,
        objective: float = OBJECTIVE,
    ) -> dict[str, Any]:
        """Latency, throughput and errors per window from the log; availability from the probe,
        with the uptime and the error budget left against ``objective``."""
        from modelyard.monitoring import probe

        found = self.target(name)
        since, until = windows.span(since_ms, until_ms, self.clock(), window_s)
        points = [
            p.to_json()
            for p in self.store.health(
                found.name, window_s=window_s, since_ms=since, until_ms=until, version=version
            )
        ]
        db = self.deployments.db
        series = {
            start: (ok, total)
            for start, ok, total in probe.probe_series(db, found.name, window_s, since, until)
        }
        by_start = {p["start_ms"]: p for p in points}
        for start, (ok, total) in series.items():
            point = by_start.get(start)
            if point is None:
                point = by_start[start] = windows.empty_health(start)
            point["availability"] = ok / total if total else None
        for point in by_start.values():
            point.setdefault("availability", None)
        ok, total = probe.availability(db, found.name, since, until)
        uptime = ok / total if total else None
        budget = None
        if uptime is not None:
            budget = 1.0 - (1.0 - uptime) / (1.0 - objective) if objective < 1 else None
        return {
            "deployment": found.name,
            "window_s": window_s,
            "points": [by_start[k] for k in sorted(by_start)],
            "availability": {
                "objective": objective,
                "uptime": uptime,
                "probes": total,
                "budget_remaining": budget,
            },
        }

    def drift(
        self,
        name: str,
        *,
        reference: str = "training",
        reference_since_ms: int | None = None,
        reference_until_ms: int | None = None,
        since_ms: int | None = None,
        until_ms: int | None = None,
        version: int | None = None,
        columns: Sequence[str] | None = None,
    ) -> Drift:
        """Drift of the logged inputs (and predictions) of ``[since, until)`` against the
        training dataset of the version (its lineage says which) or a window of the log."""
        from modelyard.monitoring import data_drift as drift

        found = self.target(name)
        now = self.clock()
        since = since_ms if since_ms is not None else now - 24 * 3_600_000
        until = until_ms if until_ms is not None else now
        if since >= until:
            raise InvalidInput("since must come before until", field="since")
        current = self.store.features(
            found.name, since_ms=since, until_ms=until, version=version, limit=MAX_CURRENT_ROWS
        )
        if current.num_rows == 0:
            raise InvalidState(
                f"{found.name!r} logged no predictions between {since} and {until}",
                deployment=found.name,
            )
        chosen = version if version is not None else found.stable or self._newest(found.model)
        current_meta = {"since_ms": since, "until_ms": until, "rows": current.num_rows}
        options: dict[str, Any] = {}
        if reference == "window":
            if reference_since_ms is None or reference_until_ms is None:
                raise InvalidInput(
                    "a window reference needs reference_since and reference_until",
                    field="reference_since",
                )
            if reference_since_ms >= reference_until_ms:
                raise InvalidInput(
                    "reference_since must come before reference_until", field="reference_since"
                )
            base = self.store.features(
                found.name, since_ms=reference_since_ms, until_ms=reference_until_ms,
                version=None, limit=MAX_CURRENT_ROWS,
            )  # fmt: skip
            if base.num_rows == 0:
                raise InvalidState(
                    f"{found.name!r} logged no predictions in the reference window",
                    deployment=found.name,
                )
            wanted = list(columns) if columns else None
            report = drift.compare(base, current, columns=wanted, **options)
            ref_meta: dict[str, Any] = {
                "kind": "window",
                "since_ms": reference_since_ms,
                "until_ms": reference_until_ms,
                "rows": base.num_rows,
            }
            return Drift(report, found.name, ref_meta, current_meta)
        if reference != "training":
            raise InvalidInput("reference is 'training' or 'window'", field="reference")
        if chosen is None:
            raise InvalidState("no model version to take the training data of", deployment=name)
        dataset, table, profile, inputs = self._training_reference(found.model, chosen)
        current = current.drop([c for c in current.column_names if c == "prediction"])
        wanted = list(columns) if columns else inputs
        ref_meta = {"kind": "training", "model": found.model, "version": chosen, **dataset}
        if table is not None:
            report = drift.compare(table, current, columns=wanted, **options)
            ref_meta["rows"] = table.num_rows
        else:
            report = drift.compare_to_profile(profile, current, columns=wanted, **options)
            ref_meta["kind"] = "profile"
        return Drift(report, found.name, ref_meta, current_meta)

    def report_html(self, name: str, **drift_options: Any) -> str:
        """The drift check as one self-contained HTML page."""
        from modelyard.monitoring.drift_report import render

        found = self.drift(name, **drift_options)
        ref = found.reference
        what = (
            f"reference: {ref['kind']} "
            + (f"{ref.get('dataset')} v{ref.get('dataset_version')}" if "dataset" in ref else "")
        ).strip()
        return render(found.report, title=f"Drift of {found.target}", subtitle=what)

    # ---- figures for alert rules -----------------------------------------------------------

    def figure(self, name: str, metric: str, window_s: int, now_ms: int) -> float | None:
        """One figure over the latest window (None: no data), as alert rules name them."""
        since = now_ms - window_s * 1000
        if metric == "availability":
            return self._uptime(name, since, now_ms)
        if metric == "drift_share" or metric.startswith("drift_score:"):
            found = self._cached_drift(name, window_s, since, now_ms)
            if found is None:
                return None
            if metric == "drift_share":
                return found.report.drifted_share
            column = metric.split(":", 1)[1]
            for col in found.report.columns:
                if col.column == column:
                    return None if col.score is None else float(col.score)
            return None
        return self.store.figures(name, window_s=window_s, now_ms=now_ms).get(metric)

    def version_quality(
        self, name: str, version: int, metric: str, since_ms: int, until_ms: int
    ) -> tuple[float | None, int]:
        """One version's quality figure over ``[since, until)`` as one window, and the count it
        rests on (labelled predictions for a realized figure, predictions for an estimated one):
        what a canary's quality gate compares."""
        from modelyard.monitoring import performance

        span_s = max(1, (until_ms - since_ms + 999) // 1000)
        result = performance.query(
            self.store.root, name, window_s=span_s, since_ms=since_ms, until_ms=until_ms,
            version=version, align_ms=since_ms,
        )  # fmt: skip
        estimated = metric.startswith("estimated_")
        for point in result.points:
            value = (point.estimated if estimated else point.realized).get(metric)
            return value, point.predictions if estimated else point.labelled
        return None, 0

    def _cached_drift(self, name: str, window_s: int, since: int, until: int) -> Drift | None:
        key = (name, window_s)
        with self._lock:
            hit = self._drift_cache.get(key)
        if hit is not None and time.monotonic() - hit[0] < DRIFT_CACHE_S:
            return hit[1]
        try:
            found: Drift | None = self.drift(name, since_ms=since, until_ms=until)
        except (InvalidState, NotFound, InvalidInput):
            found = None
        with self._lock:
            self._drift_cache[key] = (time.monotonic(), found)
        return found

    def _newest(self, model: str) -> int | None:
        found = self.registry.versions(model)
        return max((v.version for v in found), default=None)

    def _uptime(self, name: str, since: int, until: int) -> float | None:
        from modelyard.monitoring import probe

        ok, total = probe.availability(self.deployments.db, name, since, until)
        return ok / total if total else None

    # ---- background work -------------------------------------------------------------------

    def ingest(self) -> int:
        return self.store.ingest()

    def sweep(self, retention_days: int) -> int:
        return self.store.sweep(retention_days, self.clock())

    # ---- the training reference ------------------------------------------------------------

    def _training_reference(
        self, model: str, version: int
    ) -> tuple[dict[str, Any], Any, dict[str, Any], list[str] | None]:
        """(what it is, the table or None, its profile, the model's input columns)."""
        lineage = self.registry.lineage(model, version)
        inputs = [d for d in lineage["datasets"] if d["direction"] == "input"]
        if not inputs:
            raise InvalidState(
                f"{model} v{version} has no training dataset in its lineage: log the dataset "
                "as the training run's input (my.datasets.log_input), or compare against a "
                "window (reference=window)",
                model=model,
                version=version,
            )
        inputs.sort(key=lambda d: ("train" not in d["context"].lower(), d["name"]))
        use = inputs[0]
        found = self.datasets.get_version(use["name"], use["version"])
        meta = {"dataset": found.name, "dataset_version": found.version}
        signature = (self.registry.get_version(model, version).package or {}).get("signature")
        columns = _input_names(signature)
        return meta, self._read_dataset(found), found.profile, columns

    def _read_dataset(self, found: Any) -> Any:
        """The dataset version's tabular files as one table, or None when it has none here."""
        import pyarrow as pa

        from modelyard.datasets.profile import normalize

        if found.deleted_at is not None:
            return None
        try:
            area = self.datasets.files(found.name, found.version)
            rows = [r for r in area.files() if r.key.lower().endswith(TABULAR)]
        except NotFound:
            return None
        tables = []
        total = 0
        for row in sorted(rows, key=lambda r: r.key):
            with area.open(row.key) as handle:
                table = _read_table(handle, row.key)
            tables.append(normalize(table))
            total += table.num_rows
            if total >= MAX_REFERENCE_ROWS:
                break
        if not tables:
            return None
        joined = pa.concat_tables(tables, promote_options="permissive")
        return joined.slice(0, MAX_REFERENCE_ROWS)


def _read_table(handle: Any, path: str) -> Any:
    lower = path.lower()
    if lower.endswith(".parquet"):
        import pyarrow.parquet as pq

        return pq.read_table(handle)
    if lower.endswith((".csv", ".tsv")):
        import pyarrow.csv as pcsv

        delimiter = "\t" if lower.endswith(".tsv") else ","
        return pcsv.read_csv(handle, parse_options=pcsv.ParseOptions(delimiter=delimiter))
    if lower.endswith((".json", ".jsonl")):
        import pyarrow.json as pjson

        return pjson.read_json(handle)
    import pyarrow.feather as feather

    return feather.read_table(handle)


def _input_names(signature: Any) -> list[str] | None:
    """The model's input column names from its signature (None for tensors or no signature)."""
    if not isinstance(signature, dict):
        return None
    names = [c.get("name") for c in signature.get("inputs") or [] if isinstance(c, dict)]
    clean = [n for n in names if isinstance(n, str)]
    return clean or None


def monitoring_root(store_url: str) -> Path:
    """The monitoring store that goes with a metadata store: MODELYARD_MONITORING_DIR, else
    beside a SQLite file, else under MODELYARD_HOME."""
    from modelyard import config

    if config.MONITORING_DIR.get():
        return config.monitoring_dir()
    if store_url.startswith("sqlite:///"):
        return Path(store_url[len("sqlite:///") :]).parent / "monitoring"
    return config.monitoring_dir()
