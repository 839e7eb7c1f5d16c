"""The monitoring store: typed prediction tables and labels under one folder, queried with DuckDB.

The serving processes' raw log is turned into typed tables by ``ingest`` (the server runs it every
MONITORING_INGEST_INTERVAL); batch predictions made elsewhere come in through ``write_predictions``.
Layout and columns: docs/monitoring.md and ``layout``.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import time
import uuid
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import orjson

from modelyard.errors import InvalidInput
from modelyard.monitoring import ingest as _ingest
from modelyard.monitoring import labels as _labels
from modelyard.monitoring import layout

if TYPE_CHECKING:
    import pyarrow as pa

    from modelyard.monitoring.performance import QualityResult
    from modelyard.monitoring.serving_health import HealthPoint

MAX_ROWS = 10_000_000
CLOSED_AFTER_MS = 2 * layout.HOUR_MS  # an hour this long over gets no new raw file
COMPACT_GRACE_S = 600.0  # superseded files outlive the compacted file this long


class MonitoringStore:
    """Typed predictions, labels, quality, health and features of deployments."""

    def __init__(self, root: Path, prediction_log: Path | None) -> None:
        self.root = root
        self.prediction_log = prediction_log
        self._ingester = _ingest.Ingester(root, prediction_log)

    # -- writing ----------------------------------------------------------------------------

    def ingest(self, deployment: str | None = None) -> int:
        """New raw log files -> typed tables; returns the log records ingested."""
        return self._ingester.run(deployment)

    def write_predictions(
        self,
        deployment: str,
        features: pa.Table,
        predictions: Sequence[Any] | np.ndarray,
        *,
        model_version: int,
        ids: Sequence[str] | None = None,
        proba: np.ndarray | None = None,
        classes: Sequence[Any] | None = None,
        time_ms: int | None = None,
    ) -> list[str]:
        """Log batch predictions made outside the server (source "sdk"); returns their ids.
        Ids logged before are refused (AlreadyExists): a retried call would count twice."""
        table = sdk_table(features, predictions, model_version, ids, proba, classes, time_ms)
        if ids is not None:
            self._refuse_logged(deployment, table)
        at = int(table.column("time_ms")[0].as_py()) if table.num_rows else int(time.time() * 1000)
        folder = layout.hour_path(layout.tables_dir(self.root, deployment), at)
        layout.write_table(folder / f"sdk-{uuid.uuid4().hex}.parquet", table)
        return [str(x) for x in table.column("request_id").to_pylist()]

    def _refuse_logged(self, deployment: str, table: pa.Table) -> None:
        from modelyard.errors import AlreadyExists
        from modelyard.monitoring.labels import _predictions

        keys = table.select(["request_id", "row"])
        with layout.connection() as con:
            found = _predictions(con, self.root, deployment, keys)
        if found.num_rows:
            taken = sorted(set(found.column("request_id").to_pylist()))
            raise AlreadyExists(
                f"{len(taken)} id(s) already name logged predictions of {deployment!r}",
                request_ids=taken[:20],
            )

    def add_labels(self, deployment: str, labels: Sequence[tuple[str, int, Any]]) -> int:
        """Append labels (all or nothing); pending raw files of the deployment are ingested first."""
        self.ingest(deployment)
        return _labels.add(self.root, deployment, labels)

    # -- reading ----------------------------------------------------------------------------

    def quality(
        self,
        deployment: str,
        *,
        window_s: int,
        since_ms: int | None = None,
        until_ms: int | None = None,
        by_version: bool = True,
        segment: str | None = None,
        version: int | None = None,
        task: str | None = None,
    ) -> QualityResult:
        """Realized (labelled) and estimated (CBPE) quality per window, version and segment."""
        from modelyard.monitoring import performance as quality

        return quality.query(
            self.root, deployment, window_s=window_s, since_ms=since_ms, until_ms=until_ms,
            by_version=by_version, segment=segment, version=version, task=task,
        )  # fmt: skip

    def health(
        self,
        deployment: str,
        *,
        window_s: int,
        since_ms: int | None = None,
        until_ms: int | None = None,
        version: int | None = None,
    ) -> list[HealthPoint]:
        """Requests, errors, throughput and latency percentiles per window (live answers)."""
        from modelyard.monitoring import serving_health as health

        return health.query(
            self.root, deployment, window_s=window_s, since_ms=since_ms, until_ms=until_ms,
            version=version,
        )  # fmt: skip

    def features(
        self,
        deployment: str,
        *,
        since_ms: int | None = None,
        until_ms: int | None = None,
        version: int | None = None,
        limit: int | None = None,
    ) -> pa.Table:
        """Logged inputs (names without "f.") and a "prediction" column: the current data for drift."""
        from modelyard.monitoring import serving_health as health

        return health.features(
            self.root, deployment, since_ms=since_ms, until_ms=until_ms, version=version,
            limit=limit,
        )  # fmt: skip

    def figures(self, deployment: str, *, window_s: int, now_ms: int) -> dict[str, float | None]:
        """The trailing window's realized, estimated and health figures by the contract's names."""
        from modelyard.monitoring import performance as quality
        from modelyard.monitoring import serving_health as health

        since = now_ms - window_s * 1000
        found: dict[str, float | None] = {}
        result = quality.query(
            self.root, deployment, window_s=window_s, since_ms=since, until_ms=now_ms,
            by_version=False, align_ms=since,
        )  # fmt: skip
        for name in quality.figure_names(result.task):
            found[name] = None
        for point in result.points[-1:]:
            found.update(point.realized)
            found.update({f"estimated_{k}": v for k, v in point.estimated.items()})
        points = health.query(
            self.root, deployment, window_s=window_s, since_ms=since, until_ms=now_ms,
            align_ms=since,
        )  # fmt: skip
        found.update(health.empty_figures())
        for hp in points[-1:]:
            found.update(hp.figures())
        return found

    def deployments(self) -> list[str]:
        """The deployments (folder names) with typed tables, labels or raw log files."""
        names: set[str] = set(self._ingester.deployment_folders())
        for sub in ("tables", "labels"):
            try:
                names.update(e.name for e in os.scandir(self.root / sub) if e.is_dir())
            except FileNotFoundError:
                pass
        return sorted(names)

    # -- compaction -------------------------------------------------------------------------

    def compact(self, now_ms: int, *, grace_s: float = COMPACT_GRACE_S) -> int:
        """Rewrite each closed hour of typed predictions (ended CLOSED_AFTER_MS before now) held
        in several files as one; returns the hours compacted.

        Under the deployment's ingest lock (so no ingest adds a file meanwhile; an SDK write may,
        and its file is left for the next pass). The new file is written whole and renamed; from
        then on the files it holds are superseded (readers and ingest skip them) and they are
        deleted by a pass ``grace_s`` seconds later, so a query that listed them before the
        rename can still read them."""
        cutoff = now_ms - CLOSED_AFTER_MS
        done = 0
        try:
            folders = sorted(e.name for e in os.scandir(self.root / "tables") if e.is_dir())
        except FileNotFoundError:
            return 0
        for folder in folders:
            base = self.root / "tables" / folder
            with self._ingester.locked(folder):
                for start, hour in layout.hours(base, until_ms=cutoff):
                    if start + layout.HOUR_MS > cutoff:
                        continue
                    _remove_superseded(hour, grace_s)
                    done += _compact_hour(hour)
        return done

    # -- retention --------------------------------------------------------------------------

    def sweep(self, retention_days: int, now_ms: int) -> int:
        """Delete raw-log and table hours and label days older than retention; returns files removed."""
        cutoff = now_ms - retention_days * layout.DAY_MS
        removed = 0
        bases: list[Path] = []
        if self.prediction_log is not None:
            bases += [self.prediction_log / f for f in self._ingester.deployment_folders()]
        for sub in ("tables",):
            try:
                bases += [Path(e.path) for e in os.scandir(self.root / sub) if e.is_dir()]
            except FileNotFoundError:
                pass
        for base in bases:
            for start, hour in layout.hours(base, until_ms=cutoff - layout.HOUR_MS + 1):
                if start + layout.HOUR_MS <= cutoff:
                    removed += _remove_tree(hour)
            _prune_empty_days(base)
        try:
            label_bases = [Path(e.path) for e in os.scandir(self.root / "labels") if e.is_dir()]
        except FileNotFoundError:
            label_bases = []
        for base in label_bases:
            for day in sorted(base.iterdir()):
                day_ms = layout.day_start(day.name)
                if day_ms is not None and day_ms + layout.DAY_MS <= cutoff:
                    removed += _remove_tree(day)
        return removed


def _compact_hour(hour: Path) -> int:
    """One file for the live files of an hour folder (when there are several); returns 1 if so."""
    files = layout.live_files(hour)
    if len(files) < 2:
        return 0
    sources: set[str] = set()
    for f in files:
        sources.add(f.name)
        if f.name.startswith(layout.COMPACT_PREFIX):
            sources.update(layout.compact_sources(f))
    name = f"{layout.COMPACT_PREFIX}{uuid.uuid4().hex}.parquet"
    partial = hour / f".{name}.part"
    meta = orjson.dumps(sorted(sources)).decode().replace("'", "''")
    try:
        with layout.connection() as con:
            con.sql(
                f"""COPY (SELECT * FROM read_parquet({layout.sql_list(files)}, union_by_name = true)
                          ORDER BY time_ms, request_id, "row")
                    TO '{str(partial).replace("'", "''")}'
                    (FORMAT parquet, COMPRESSION zstd, PARQUET_VERSION V2, KV_METADATA {{'{layout.SOURCES_KEY}': '{meta}'}})"""
            )
        os.replace(partial, hour / name)
    finally:
        partial.unlink(missing_ok=True)
    return 1


def _remove_superseded(hour: Path, grace_s: float) -> None:
    """Delete the files compacted files of an hour hold (once those are ``grace_s`` old), and
    hidden ``.part`` files left by a crash."""
    now = time.time()
    files = layout.parquet_files(hour)
    old = [f for f in files if f.name.startswith(layout.COMPACT_PREFIX) and _age(f, now) >= grace_s]
    gone = layout.superseded(old)
    for f in files:
        if f.name in gone:
            f.unlink(missing_ok=True)
    with contextlib.suppress(FileNotFoundError):
        for e in os.scandir(hour):
            if (
                e.name.startswith(".")
                and e.name.endswith(".part")
                and _age(Path(e.path), now) >= max(grace_s, 3600.0)
            ):
                Path(e.path).unlink(missing_ok=True)


def _age(path: Path, now: float) -> float:
    try:
        return now - path.stat().st_mtime
    except FileNotFoundError:
        return 0.0


def _remove_tree(folder: Path) -> int:
    count = sum(1 for f in folder.rglob("*") if f.is_file())
    shutil.rmtree(folder, ignore_errors=True)
    return count


def _prune_empty_days(base: Path) -> None:
    try:
        days = list(base.iterdir())
    except FileNotFoundError:
        return
    for day in days:
        if day.is_dir() and not any(day.iterdir()):
            day.rmdir()


def sdk_table(
    features: pa.Table,
    predictions: Sequence[Any] | np.ndarray,
    model_version: int,
    ids: Sequence[str] | None,
    proba: np.ndarray | None,
    classes: Sequence[Any] | None,
    time_ms: int | None,
) -> pa.Table:
    """A batch of SDK-logged predictions as a typed table (row 0 of request ids[i])."""
    import pyarrow as pa

    n = features.num_rows
    values = predictions.tolist() if isinstance(predictions, np.ndarray) else list(predictions)
    if len(values) != n:
        raise InvalidInput(
            f"{len(values)} predictions for {n} rows of features", field="predictions"
        )
    if n > MAX_ROWS:
        raise InvalidInput(f"at most {MAX_ROWS} predictions a call", field="predictions")
    if ids is None:
        id_list = [uuid.uuid4().hex for _ in range(n)]
    else:
        id_list = list(ids)
        if len(id_list) != n:
            raise InvalidInput(f"{len(id_list)} ids for {n} predictions", field="ids")
        if any(not isinstance(i, str) or not i or len(i) > 256 for i in id_list):
            raise InvalidInput("an id must be text of 1..256 characters", field="ids")
        if len(set(id_list)) != n:
            raise InvalidInput("ids must be unique", field="ids")
    at = time_ms if time_ms is not None else int(time.time() * 1000)
    value, klass = _ingest.as_classes(values)
    confidence = np.full(n, np.nan)
    score = np.full(n, np.nan)
    if proba is not None:
        matrix = np.asarray(proba, dtype=np.float64)
        if classes is None or matrix.shape != (n, len(classes)):
            raise InvalidInput(
                "proba must be one row of len(classes) probabilities per prediction",
                field="proba",
            )
        _ingest.fill_proba(matrix, list(classes), klass, confidence, score)
    columns: dict[str, Any] = {
        "request_id": pa.array(id_list, pa.string()),
        "row": pa.array(np.zeros(n, np.int32)),
        "model_version": pa.array(np.full(n, model_version, np.int64)),
        "role": pa.array(["live"] * n, pa.string()),
        "source": pa.array(["sdk"] * n, pa.string()),
        "time_ms": pa.array(np.full(n, at, np.int64)),
        "latency_ms": pa.nulls(n, pa.float64()),
        "status": pa.array(np.full(n, 200, np.int32)),
        "prediction_value": value,
        "prediction_class": klass,
        "confidence": pa.array(confidence, pa.float64(), from_pandas=True),
        "score": pa.array(score, pa.float64(), from_pandas=True),
    }
    for name in features.column_names:
        column = _ingest.typed_feature(features.column(name))
        if column is not None:
            columns[layout.FEATURE_PREFIX + str(name)] = column
    return pa.table(columns)
