"""Raw prediction-log files -> typed prediction tables (one row per predicted row).

Each raw file becomes one typed file of the same name under the same hour (``s-{name}``), written
whole and renamed, so a file is ingested once whatever crashes: a raw file is done exactly when its
typed file (or a compacted file listing it) exists. A pass skips an hour folder whose modification
time has not changed since a pass found it done, so a pass with nothing new only stats folders.
"""

from __future__ import annotations

import contextlib
import fcntl
import gc
import itertools
import logging
import os
import threading
import time
from collections.abc import Iterator, Sequence
from operator import itemgetter
from pathlib import Path
from typing import Any

import numpy as np
import orjson

from modelyard.monitoring import layout
from modelyard.serving.predlog import folder_name

log = logging.getLogger(__name__)

SOURCES_KEY = layout.SOURCES_KEY
QUIET_NS = 2_000_000_000  # a folder modified this recently may still change within its mtime tick


def typed_name(raw_name: str) -> str:
    return f"s-{raw_name}"


def done_names(folder: Path) -> set[str]:
    """The typed file names already in one hour folder: its files and those compacted ones hold."""
    files = layout.parquet_files(folder)
    return {f.name for f in files} | layout.superseded(files)


class Ingester:
    """Turns new raw log files into typed tables; one per store, safe across threads and processes."""

    def __init__(self, root: Path, log_root: Path | None) -> None:
        self.root = root
        self.log_root = log_root
        self._lock = threading.Lock()
        self._seen: dict[Path, int] = {}  # raw hour folder -> its mtime when a pass found it done

    def deployment_folders(self) -> list[str]:
        if self.log_root is None:
            return []
        try:
            return sorted(e.name for e in os.scandir(self.log_root) if e.is_dir())
        except FileNotFoundError:
            return []

    def run(self, deployment: str | None = None) -> int:
        """Ingest every new raw file (of one deployment, or all); returns the records ingested."""
        if self.log_root is None:
            return 0
        folders = [folder_name(deployment)] if deployment is not None else self.deployment_folders()
        total = 0
        with self._lock:
            for folder in folders:
                raw_base = self.log_root / folder
                if not raw_base.is_dir():
                    continue
                with self.locked(folder):
                    total += self._run_one(folder, raw_base)
        return total

    @contextlib.contextmanager
    def locked(self, folder: str) -> Iterator[None]:
        """The deployment folder's ingest lock (ingest and compaction take it; across processes)."""
        base = self.root / "tables" / folder
        base.mkdir(parents=True, exist_ok=True)
        fd = os.open(base / ".ingest.lock", os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)  # released by the kernel if this process dies
            yield
        finally:
            os.close(fd)

    def _run_one(self, folder: str, raw_base: Path) -> int:
        total = 0
        for _, raw_hour in layout.hours(raw_base):
            try:
                mtime = raw_hour.stat().st_mtime_ns
            except FileNotFoundError:
                continue
            if self._seen.get(raw_hour) == mtime:
                continue
            out = self.root / "tables" / folder / raw_hour.relative_to(raw_base)
            done = done_names(out)
            complete = True
            for raw in layout.parquet_files(raw_hour):
                if typed_name(raw.name) in done:
                    continue
                try:
                    n = ingest_file(raw, out / typed_name(raw.name))
                except Exception as exc:  # a damaged file: retried on the next pass, others go on
                    log.warning("prediction log file %s not ingested: %s", raw, exc)
                    complete = False
                    continue
                total += n
            if complete and time.time_ns() - mtime > QUIET_NS:
                self._seen[raw_hour] = mtime
        return total


def ingest_file(raw: Path, out: Path) -> int:
    """Convert one raw log file and write its typed table; returns the records it held."""
    import pyarrow.parquet as pq

    table = pq.read_table(raw)
    with _no_gc():
        typed = convert(table)
    layout.write_table(out, typed)
    return int(table.num_rows)


@contextlib.contextmanager
def _no_gc() -> Iterator[None]:
    """No cyclic garbage collection while a file's JSON becomes Python objects: those objects
    hold no cycles, and the collections their number set off took half the time (measured)."""
    was = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was:
            gc.enable()


# -- conversion -------------------------------------------------------------------------------


def _loads(values: list[Any]) -> list[Any]:
    out: list[Any] = []
    append = out.append
    loads = orjson.loads
    for text in values:
        if text is None:
            append(None)
            continue
        try:
            append(loads(text))
        except orjson.JSONDecodeError:
            append(None)
    return out


def _loads_column(column: Any) -> list[Any]:
    """Every JSON text of a column parsed in one call (None for nulls; per text if one is bad)."""
    import pyarrow.compute as pc

    texts = pc.fill_null(column, "null").to_pylist()
    try:
        return list(orjson.loads("[" + ",".join(texts) + "]"))
    except orjson.JSONDecodeError:
        return _loads(texts)


Plan = tuple[
    np.ndarray, list[Any], dict[tuple[str, ...], list[int]], dict[tuple[Any, ...], list[int]]
]


def _uniform(ins: list[Any], outs: list[Any], scores: list[Any], status: np.ndarray) -> Plan | None:
    """The usual file (every request answered, one set of columns, one set of classes) read
    with C-level maps; None when anything differs (the per-record reading handles it)."""
    n = len(outs)
    if not n or not (status == 200).all() or not all(type(o) is list for o in outs):
        return None
    counts = np.fromiter(map(len, outs), np.int64, n)
    if not counts.all():
        return None
    everyone = list(range(n))
    features: dict[tuple[str, ...], list[int]] = {}
    first = ins[0]
    try:
        cols = first["columns"]
        if type(cols) is not list or not all(d["columns"] == cols for d in ins):
            return None
        sizes = np.fromiter(map(len, map(itemgetter("data"), ins)), np.int64, n)
        if not np.array_equal(sizes, counts):
            return None
        features[tuple(str(c) for c in cols)] = everyone
    except (TypeError, KeyError):
        return None
    by_classes: dict[tuple[Any, ...], list[int]] = {}
    if scores[0] is not None:
        try:
            classes = scores[0]["classes"]
            if not all(s["classes"] == classes for s in scores):
                return None
            sizes = np.fromiter(map(len, map(itemgetter("proba"), scores)), np.int64, n)
            if not np.array_equal(sizes, counts):
                return None
            by_classes[tuple(classes)] = everyone
        except (TypeError, KeyError):
            return None
    elif any(s is not None for s in scores):
        return None
    return counts, list(itertools.chain.from_iterable(outs)), features, by_classes


def _per_record(ins: list[Any], outs: list[Any], scores: list[Any], status: np.ndarray) -> Plan:
    """Which rows each record holds and how they look, one record at a time."""
    n = len(outs)
    counts = np.ones(n, dtype=np.int64)
    answers: list[list[Any]] = []
    feature_groups: dict[tuple[str, ...], list[int]] = {}
    score_groups: dict[tuple[Any, ...], list[int]] = {}
    for i in range(n):
        out = outs[i]
        if status[i] != 200 or not isinstance(out, list) or not out:
            answers.append([None])
            continue
        counts[i] = len(out)
        answers.append(out)
        inp = ins[i]
        if isinstance(inp, dict):
            cols = inp.get("columns")
            data = inp.get("data")
            if isinstance(cols, list) and isinstance(data, list) and len(data) == len(out):
                feature_groups.setdefault(tuple(str(c) for c in cols), []).append(i)
        sc = scores[i]
        if isinstance(sc, dict):
            classes = sc.get("classes")
            proba = sc.get("proba")
            if isinstance(classes, list) and isinstance(proba, list) and len(proba) == len(out):
                score_groups.setdefault(tuple(classes), []).append(i)
    return counts, list(itertools.chain.from_iterable(answers)), feature_groups, score_groups


def convert(raw: Any) -> Any:
    """A raw log table (one record per request) as the typed table (one row per predicted row).

    A request that failed, or whose answer is not a list, gives one row (row 0) with no
    prediction, so every request has exactly one row 0 (health counts those)."""
    import pyarrow as pa

    n = raw.num_rows
    ins = _loads_column(raw.column("inputs"))
    outs = _loads_column(raw.column("outputs"))
    names = raw.column_names
    scores = _loads_column(raw.column("scores")) if "scores" in names else [None] * n
    status = raw.column("status").to_numpy(zero_copy_only=False)
    plan = _uniform(ins, outs, scores, status) or _per_record(ins, outs, scores, status)
    counts, flat, feature_groups, score_groups = plan

    total = int(counts.sum())
    starts = np.concatenate(([0], np.cumsum(counts)[:-1]))
    record = np.repeat(np.arange(n), counts)
    row = (np.arange(total) - np.repeat(starts, counts)).astype(np.int32)
    value, klass = as_classes(flat)

    base = raw.select(["request_id", "model_version", "role", "time_ms", "latency_ms", "status"])
    base = base.take(pa.array(record))
    confidence = np.full(total, np.nan)
    score = np.full(total, np.nan)
    for classes, members in score_groups.items():
        _fill_scores(classes, members, scores, starts, counts, klass, confidence, score)

    columns: dict[str, Any] = {
        "request_id": base.column("request_id"),
        "row": pa.array(row, pa.int32()),
        "model_version": base.column("model_version"),
        "role": base.column("role"),
        "source": pa.array(np.full(total, "serving", dtype=object), pa.string()),
        "time_ms": base.column("time_ms"),
        "latency_ms": base.column("latency_ms"),
        "status": base.column("status"),
        "prediction_value": value,
        "prediction_class": klass,
        "confidence": pa.array(confidence, pa.float64(), from_pandas=True),
        "score": pa.array(score, pa.float64(), from_pandas=True),
    }
    for cols, members in feature_groups.items():
        _add_features(columns, cols, members, ins, starts, counts, total)
    return pa.table(columns)


def as_classes(values: Sequence[Any]) -> tuple[Any, Any]:
    """Predictions or labels as (float64 value or null, class text): 1, 1.0 and "1" give "1"."""
    import pyarrow as pa
    import pyarrow.compute as pc

    try:
        arr = pa.array(values)
    except (pa.ArrowInvalid, pa.ArrowTypeError):  # mixed kinds (rare): one value at a time
        numbers = [
            float(v) if isinstance(v, int | float) and not isinstance(v, bool) else None
            for v in values
        ]
        value = pa.array(numbers, pa.float64())
        text = pc.cast(value, pa.string()).to_pylist()
        klass = [
            t if t is not None else None if v is None else _text(v)
            for t, v in zip(text, values, strict=True)
        ]
        return value, pa.array(klass, pa.string())
    kind = arr.type
    if pa.types.is_integer(kind) or pa.types.is_floating(kind):
        value = pc.cast(arr, pa.float64())
        return value, pc.cast(value, pa.string())
    if pa.types.is_null(kind):
        return pa.nulls(len(arr), pa.float64()), pa.nulls(len(arr), pa.string())
    if pa.types.is_boolean(kind) or pa.types.is_string(kind) or pa.types.is_large_string(kind):
        return pa.nulls(len(arr), pa.float64()), pc.cast(arr, pa.string())
    text = [None if v is None else _text(v) for v in values]  # lists, dicts: their JSON
    return pa.nulls(len(arr), pa.float64()), pa.array(text, pa.string())


def _text(value: Any) -> str:
    return value if isinstance(value, str) else orjson.dumps(value).decode()


def _positions(members: list[int], starts: np.ndarray, counts: np.ndarray) -> np.ndarray:
    """The typed-table rows of the given records, in order."""
    idx = np.asarray(members)
    c = counts[idx]
    offsets = np.concatenate(([0], np.cumsum(c)[:-1]))
    return np.repeat(starts[idx] - offsets, c) + np.arange(int(c.sum()))


def _fill_scores(
    classes: tuple[Any, ...],
    members: list[int],
    scores: list[Any],
    starts: np.ndarray,
    counts: np.ndarray,
    klass: Any,
    confidence: np.ndarray,
    score: np.ndarray,
) -> None:
    import pyarrow as pa

    rows = list(
        itertools.chain.from_iterable(map(itemgetter("proba"), map(scores.__getitem__, members)))
    )
    try:
        proba = np.asarray(rows, dtype=np.float64)
    except (ValueError, TypeError):
        return
    if proba.ndim != 2 or proba.shape[1] != len(classes):
        return
    pos = _positions(members, starts, counts)
    conf = np.full(len(pos), np.nan)
    sc = np.full(len(pos), np.nan)
    fill_proba(proba, list(classes), klass.take(pa.array(pos)), conf, sc)
    confidence[pos] = conf
    score[pos] = sc


def fill_proba(
    proba: np.ndarray, classes: list[Any], klass: Any, confidence: np.ndarray, score: np.ndarray
) -> None:
    """Confidence (probability of the predicted class, else the largest) and, for two classes,
    the score (probability of classes[1])."""
    import pyarrow.compute as pc

    _, class_text = as_classes(classes)
    index = pc.index_in(klass, value_set=class_text)
    idx = pc.fill_null(index, -1).to_numpy(zero_copy_only=False)
    found = idx >= 0
    k = np.where(found, idx, 0).astype(np.int64)
    confidence[:] = np.where(found, proba[np.arange(len(k)), k], proba.max(axis=1))
    if len(classes) == 2:
        score[:] = proba[:, 1]


def _add_features(
    columns: dict[str, Any],
    cols: tuple[str, ...],
    members: list[int],
    ins: list[Any],
    starts: np.ndarray,
    counts: np.ndarray,
    total: int,
) -> None:

    rows = list(
        itertools.chain.from_iterable(map(itemgetter("data"), map(ins.__getitem__, members)))
    )
    if not rows or not isinstance(rows[0], list):
        return
    try:
        if set(map(len, rows)) != {len(cols)}:
            return
    except TypeError:  # a row that is not a list
        return
    pos = _positions(members, starts, counts)
    full = len(pos) == total
    for name, values in zip(cols, zip(*rows, strict=True), strict=True):
        arr = _feature_array(list(values))
        if arr is None:
            continue
        key = layout.FEATURE_PREFIX + name
        if not full:
            arr = _scatter(arr, pos, total, columns.get(key))
        elif key in columns:
            continue
        columns[key] = arr


def _feature_array(values: list[Any]) -> Any:
    """One logged feature as float64 (numbers), bool or string; None for nested values."""
    import pyarrow as pa

    try:
        arr = pa.array(values)
    except (pa.ArrowInvalid, pa.ArrowTypeError):
        return pa.array([None if v is None else _text(v) for v in values], pa.string())
    return typed_feature(arr)


def typed_feature(arr: Any) -> Any:
    """A feature column as float64 (numbers), bool or string; None for anything else."""
    import pyarrow as pa

    if isinstance(arr, pa.ChunkedArray):
        arr = arr.combine_chunks()
    kind = arr.type
    if pa.types.is_dictionary(kind):
        arr = arr.cast(kind.value_type)
        kind = arr.type
    if pa.types.is_decimal(kind):
        return arr.cast(pa.float64())
    if pa.types.is_integer(kind) or pa.types.is_floating(kind) or pa.types.is_null(kind):
        return arr.cast(pa.float64())
    if pa.types.is_boolean(kind) or pa.types.is_string(kind):
        return arr
    if pa.types.is_large_string(kind) or pa.types.is_string_view(kind):
        return arr.cast(pa.string())
    if pa.types.is_temporal(kind):
        return arr.cast(pa.string())
    return None


def _scatter(arr: Any, pos: np.ndarray, total: int, existing: Any) -> Any:
    """A full-length column with ``arr`` at rows ``pos`` (and ``existing`` or nulls elsewhere)."""
    import pyarrow as pa

    if existing is not None and existing.type != arr.type:
        existing = existing.cast(pa.string()) if arr.type == pa.string() else existing
        arr = arr.cast(existing.type) if existing.type == pa.string() else arr.cast(pa.string())
        if existing.type != arr.type:
            existing = existing.cast(pa.string())
    base = existing if existing is not None else pa.nulls(total, arr.type)
    if isinstance(base, pa.ChunkedArray):
        base = base.combine_chunks()
    # take from [base, arr]: row r is arr[j] when pos[j] == r, else base[r]
    index = np.arange(total)
    index[pos] = total + np.arange(len(pos))
    return pa.concat_arrays([base, arr]).take(pa.array(index))
