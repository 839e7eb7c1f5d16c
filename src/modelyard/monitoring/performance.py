"""Realized quality (predictions joined to their labels) and estimated quality, per window.

One DuckDB pass over the window's typed files, left-joined to the labels in force, aggregates
with grouping sets: the confusion counts per (window, version, segment); rows by score bin (for
CBPE and its calibration); and labelled rows by exact score (ROC AUC and log loss). The metrics
are then computed with numpy from those aggregates, never per row in Python.
"""

from __future__ import annotations

import itertools
import math
import threading
from collections import OrderedDict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from modelyard.errors import InvalidInput
from modelyard.monitoring import estimate, layout
from modelyard.monitoring.labels import PREDICTION_COLUMNS, file_format, latest_sql

MAX_CLASSES = 50
TOP_SEGMENTS = 20
CLASSIFIER_FIGURES = ("accuracy", "precision", "recall", "f1", "roc_auc", "log_loss")
REGRESSOR_FIGURES = ("mae", "rmse", "r2")
ESTIMATED_FIGURES = ("accuracy", "precision", "recall", "f1", "roc_auc")
TASKS = ("classification", "regression")


@dataclass
class QualityPoint:
    start_ms: int
    version: int | None
    segment: str | None
    predictions: int
    labelled: int
    realized: dict[str, float | None] = field(default_factory=dict)
    estimated: dict[str, float | None] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return {
            "start_ms": self.start_ms,
            "version": self.version,
            "segment": self.segment,
            "predictions": self.predictions,
            "labelled": self.labelled,
            "realized": dict(self.realized),
            "estimated": dict(self.estimated),
        }


@dataclass
class QualityResult:
    deployment: str
    task: str | None
    window_s: int
    points: list[QualityPoint] = field(default_factory=list)
    classes: list[str] = field(default_factory=list)
    positive_class: str | None = None
    calibration: dict[str, str] = field(default_factory=dict)  # version -> "isotonic" | "none"

    def to_json(self) -> dict[str, Any]:
        return {
            "deployment": self.deployment,
            "task": self.task,
            "window_s": self.window_s,
            "classes": list(self.classes),
            "positive_class": self.positive_class,
            "calibration": dict(self.calibration),
            "points": [p.to_json() for p in self.points],
        }


def figure_names(task: str | None) -> list[str]:
    """The figure names a task's quality gives (realized, then estimated_*)."""
    if task == "regression":
        return list(REGRESSOR_FIGURES)
    if task == "classification":
        return [*CLASSIFIER_FIGURES, *(f"estimated_{n}" for n in ESTIMATED_FIGURES)]
    return []


def _num(x: float) -> float | None:
    return float(x) if x is not None and math.isfinite(x) else None


def query(
    root: Path,
    deployment: str,
    *,
    window_s: int,
    since_ms: int | None = None,
    until_ms: int | None = None,
    by_version: bool = True,
    segment: str | None = None,
    version: int | None = None,
    task: str | None = None,
    align_ms: int = 0,
) -> QualityResult:
    """Quality per window of ``window_s`` (aligned on ``align_ms``), version and segment."""
    if window_s <= 0:
        raise InvalidInput("window must be a positive number of seconds", field="window")
    if task is not None and task not in TASKS:
        raise InvalidInput(f"task must be one of {', '.join(TASKS)}", field="task")
    result = QualityResult(deployment, task, window_s)
    files = layout.prediction_files(root, deployment, since_ms, until_ms)
    if not files:
        return result
    time_where = []
    if since_ms is not None:
        time_where.append(f"time_ms >= {int(since_ms)}")
    if until_ms is not None:
        time_where.append(f"time_ms < {int(until_ms)}")
    where = ["status = 200", "prediction_class IS NOT NULL", *time_where]
    if version is not None:
        where.append(f"model_version = {int(version)}")
    elif not by_version:
        where.append("role = 'live'")  # a shadow's answers would count each request twice
    source = f"read_parquet({layout.sql_list(files)}, union_by_name = true)"
    with layout.connection() as con:
        if segment is not None:
            names = [r[0] for r in con.sql(f"DESCRIBE SELECT * FROM {source}").fetchall()]
            if layout.FEATURE_PREFIX + segment not in names:
                raise InvalidInput(f"no logged column {segment!r} to segment by", field="segment")
        seg_sql = "0"
        seg_names: list[str] | None = None
        if segment is not None:
            col = f"CAST({layout.quote_name(layout.FEATURE_PREFIX + segment)} AS VARCHAR)"
            top = con.sql(
                f"""SELECT {col} AS v, count(*) AS c FROM {source}
                    WHERE {" AND ".join(where)} AND {col} IS NOT NULL
                    GROUP BY 1 ORDER BY c DESC, v LIMIT {TOP_SEGMENTS}"""
            ).fetchall()
            seg_names = [v for v, _ in top] + ["(other)", "(missing)"]
            values = ", ".join(layout.quote_text(v) for v, _ in top) or "NULL"
            seg_sql = (
                f"CASE WHEN {col} IS NULL THEN {len(top) + 1} "
                f"ELSE coalesce(list_position([{values}], {col}) - 1, {len(top)}) END"
            )
        window_ms = int(window_s) * 1000
        start_sql = f"({int(align_ms)} + floor((time_ms - {int(align_ms)}) / {window_ms})::BIGINT * {window_ms})"
        version_sql = "model_version" if by_version or version is not None else "-1::BIGINT"
        derived = f"""{start_sql} AS t, {version_sql} AS v, {seg_sql} AS s,
                      prediction_value AS pv, prediction_class AS pc, confidence AS conf, score"""
        # one pass over the predictions: counts by (window, version, segment, predicted class,
        # confidence bin), the class hidden for non-integral numbers (a regressor's answers)
        bins = _bins(
            con, root, deployment, derived, where, time_where, since_ms, until_ms,
            hide=task != "classification",
        )  # fmt: skip
        rows = int(_data(bins["n"]).sum())
        if rows == 0:
            return result
        classes = {c for c in _data(bins["pc"]).tolist() if c is not None}
        integral = bool(_data(bins["whole"]).all())
        if task is None:
            numeric = int(_data(bins["npv"]).sum()) > 0
            many = numeric and (not integral or len(classes) > MAX_CLASSES)
            task = "regression" if many else "classification"
        result.task = task
        # the labels in force (the latest of each key), each with the prediction it judges;
        # a prediction swept by retention is not judged (labels outlive its hour)
        first_hour = layout.hours(layout.tables_dir(root, deployment))[0][0]
        label_where = [*where, f"time_ms >= {first_hour}"]
        labelled = _labelled_sql(con, root, deployment, source, label_where, segment)
        judged = f"""SELECT {derived}, label_value AS lv, label_class AS lc
                     FROM ({labelled}) WHERE {" AND ".join(label_where)}"""
        if task == "regression":
            _regression(con, bins, judged, result, seg_names)
        else:
            _classification(con, bins, judged, result, seg_names)
    result.points.sort(key=lambda p: (p.start_ms, p.version or 0, p.segment or ""))
    return result


_FORMAT: dict[Path, str] = {}  # label file -> its kind (labels.file_format)


def _labelled_sql(
    con: Any, root: Path, deployment: str, source: str, where: list[str], segment: str | None
) -> str:
    """SQL of the label rows in force (the latest of each key) with their predictions' columns
    (request_id, row, received_ms, label_value, label_class, the prediction's columns and the
    segment's column). Label files without them (written before labels carried them) are joined
    to the predictions here. When every file flags relabels, only the flagged keys are looked at
    for superseded labels (none flagged: nothing to look for); else every key is."""
    files = layout.label_files(root, deployment)
    kinds = [file_format(f, _FORMAT) for f in files]
    new = [f for f, k in zip(files, kinds, strict=True) if k != "joined"]
    old = [f for f, k in zip(files, kinds, strict=True) if k == "joined"]
    columns = ["request_id", '"row"', "received_ms", "label_value", "label_class"]
    columns += list(PREDICTION_COLUMNS)
    seg_name = None if segment is None else layout.FEATURE_PREFIX + segment
    seg = [] if seg_name is None else [layout.quote_name(seg_name)]
    parts = []
    if new:
        read = f"read_parquet({layout.sql_list(new)}, union_by_name = true)"
        names = {r[0] for r in con.sql(f"DESCRIBE SELECT * FROM {read}").fetchall()}
        extra = [f"NULL::VARCHAR AS {c}" if seg_name not in names else c for c in seg]
        parts.append(f"SELECT {', '.join(columns + extra)} FROM {read}")
    if old:
        picked = ", ".join(
            [f"o.{c}" for c in columns[:5]] + [f"p.{c}" for c in columns[5:]]
            + [f"p.{c}" for c in seg]
        )  # fmt: skip
        parts.append(
            f"""SELECT {picked} FROM ({latest_sql(old)}) o
                JOIN (SELECT * FROM {source} WHERE {" AND ".join(where)}) p
                ON o.request_id = p.request_id AND o."row" = p."row" """
        )
    if not parts:
        types = ["VARCHAR", "INTEGER", "BIGINT", "DOUBLE", "VARCHAR", "BIGINT", "VARCHAR"]
        types += ["VARCHAR", "BIGINT", "INTEGER", "DOUBLE", "VARCHAR", "DOUBLE", "DOUBLE"]
        nothing = ", ".join(
            f"NULL::{t} AS {c}"
            for t, c in zip(types + ["VARCHAR"] * len(seg), columns + seg, strict=True)
        )
        return f"SELECT {nothing} WHERE false"
    rows = " UNION ALL BY NAME ".join(parts)
    if old or "copied" in kinds:
        return f"""SELECT * FROM ({rows})
            QUALIFY received_ms = max(received_ms) OVER (PARTITION BY request_id, "row")"""
    read = f"read_parquet({layout.sql_list(new)}, union_by_name = true)"
    flagged = (
        f'SELECT request_id, "row", max(received_ms) AS m FROM {read} WHERE relabel GROUP BY ALL'
    )
    if not con.sql(f"SELECT count(*) FROM {read} WHERE relabel").fetchall()[0][0]:
        return rows
    return f"""SELECT l.* FROM ({rows}) l ANTI JOIN ({flagged}) r
        ON l.request_id = r.request_id AND l."row" = r."row" AND l.received_ms < r.m"""


_BIN_SQL = (  # least() skips NULLs: a row without probabilities has no bin
    f"CASE WHEN conf IS NOT NULL THEN "
    f"least(floor(conf * {estimate.BINS}), {estimate.BINS - 1})::INTEGER END"
)


_Bins = dict[str, np.ndarray]
# (file, the aggregate's shape) -> the file's predictions aggregated, and its first and last time:
# typed files never change once renamed into place (compaction writes new ones), so a file's
# aggregate is computed once per process and shape (dashboards ask the same again and again)
_bins_cache: OrderedDict[tuple[str, str], tuple[_Bins, int, int]] = OrderedDict()
_bins_lock = threading.Lock()
BINS_CACHE_FILES = 50_000


def _bins(
    con: Any,
    root: Path,
    deployment: str,
    derived: str,
    where: list[str],
    time_where: list[str],
    since_ms: int | None,
    until_ms: int | None,
    *,
    hide: bool,
) -> _Bins:
    """The predictions by (t, v, s, pc, b): rows, sum of confidence, numeric rows, whether all
    numbers are whole; with ``hide``, pc is null for non-integral numbers (so a regressor's
    answers make few groups). Rows of different files are not added up (the callers sum).

    Files whose hour lies inside the range come from the cache (or are aggregated whole and
    cached); files of an hour the range cuts are aggregated with the time filter."""
    whole = "(pv IS NULL OR pv = floor(pv))"
    pc = f"CASE WHEN {whole} THEN pc END" if hide else "pc"
    base = [w for w in where if w not in time_where]
    shape = f"{hide}|{derived}|{' AND '.join(base)}"
    lo, hi = since_ms, until_ms

    def inside(first: int, last: int) -> bool:
        return (lo is None or first >= lo) and (hi is None or last < hi)

    found: list[_Bins] = []
    missing: dict[str, int] = {}  # file -> its hour
    cut: list[Path] = []
    for start, hour in layout.hours(layout.tables_dir(root, deployment), lo, hi):
        for f in layout.live_files(hour):
            if not inside(start, start + layout.HOUR_MS - 1):
                cut.append(f)
                continue
            with _bins_lock:
                hit = _bins_cache.get((str(f), shape))
                if hit is not None:
                    _bins_cache.move_to_end((str(f), shape))
            if hit is not None and inside(hit[1], hit[2]):
                found.append(hit[0])
            elif hit is not None:
                cut.append(f)
            else:
                missing[str(f)] = start

    def aggregate(files: list[Path], conditions: list[str]) -> dict[str, np.ndarray]:
        source = f"read_parquet({layout.sql_list(files)}, union_by_name = true)"
        return dict(
            con.sql(  # file_index: the file's place in the list
                f"""SELECT file_index AS file, t, v, s, {pc} AS pc, {_BIN_SQL} AS b,
                           count(*) AS n, sum(conf) AS sp, count(pv) AS npv,
                           bool_and({whole}) AS whole, min(time_ms) AS lo, max(time_ms) AS hi
                    FROM (SELECT file_index, time_ms, {derived} FROM {source}
                          WHERE {" AND ".join(conditions)})
                    GROUP BY ALL ORDER BY file"""
            ).fetchnumpy()
        )

    if missing:
        listed = list(missing)
        got = aggregate([Path(f) for f in listed], base)
        names = _data(got["file"]).astype(np.int64)
        edges: list[int] = (
            np.flatnonzero(np.r_[True, names[1:] != names[:-1], True]).tolist()
            if len(names)
            else []
        )
        parts = {
            listed[names[i]]: (
                {k: v[i:j] for k, v in got.items() if k not in ("file", "lo", "hi")},
                int(_data(got["lo"])[i:j].min()),
                int(_data(got["hi"])[i:j].max()),
            )
            for i, j in itertools.pairwise(edges)
        }
        empty = {k: v[:0] for k, v in got.items() if k not in ("file", "lo", "hi")}
        for name, start in missing.items():
            part, first, last = parts.get(name, (empty, start, start))  # no answered rows
            with _bins_lock:
                _bins_cache[(name, shape)] = (part, first, last)
                while len(_bins_cache) > BINS_CACHE_FILES:
                    _bins_cache.popitem(last=False)
            if inside(first, last):
                found.append(part)
            else:  # a row outside its file's hour and out of the range: filtered below
                cut.append(Path(name))
    if cut:
        got = aggregate(cut, where)
        found.append({k: v for k, v in got.items() if k not in ("file", "lo", "hi")})
    columns = ("t", "v", "s", "pc", "b", "n", "sp", "npv", "whole")
    if not found:
        return {c: np.zeros(0) for c in columns}
    return {c: _concat([part[c] for part in found]) for c in columns}


def _concat(arrays: list[np.ndarray]) -> np.ndarray:
    """Fetched columns end to end, keeping NULLs (masks) where there are any."""
    if any(isinstance(a, np.ma.MaskedArray) for a in arrays):
        return np.ma.concatenate([np.ma.asarray(a) for a in arrays])  # type: ignore[no-untyped-call,no-any-return]
    return np.concatenate(arrays)


def _regression(
    con: Any, bins: dict[str, np.ndarray], judged: str, result: QualityResult,
    seg_names: list[str] | None,
) -> None:  # fmt: skip
    keys = _Keys(bins["t"], bins["v"], bins["s"], seg_names)
    count = np.bincount(keys.inverse, weights=_data(bins["n"]), minlength=keys.count)
    got = con.sql(
        f"""SELECT t, v, s, count(lv) AS nl,
                  sum(abs(pv - lv)) AS ae, sum((pv - lv) * (pv - lv)) AS se, var_pop(lv) AS vy
           FROM ({judged}) GROUP BY t, v, s"""
    ).fetchall()
    errors: dict[int, tuple[Any, ...]] = {}
    if got:
        t, v, s = (np.array([r[i] for r in got], dtype=np.int64) for i in range(3))
        for g, row in zip(keys.codes(t, v, s).tolist(), got, strict=True):
            if g >= 0:
                errors[g] = row[3:]
    for g in range(keys.count):
        nl, ae, se, vy = errors.get(g, (0, None, None, None))
        realized: dict[str, float | None] = dict.fromkeys(REGRESSOR_FIGURES)
        if nl:
            realized["mae"] = _num(ae / nl)
            realized["rmse"] = _num(math.sqrt(se / nl))
            realized["r2"] = _num(1.0 - se / (vy * nl)) if vy and vy > 0 else None
        start, version, segment = keys.key(g)
        result.points.append(
            QualityPoint(start, version, segment, int(count[g]), int(nl), realized, {})
        )


def _present(values: np.ndarray) -> np.ndarray:
    """Which entries of a fetched column are not NULL."""
    if isinstance(values, np.ma.MaskedArray):
        return ~np.ma.getmaskarray(values)
    if values.dtype == object:
        return np.asarray([v is not None for v in values], dtype=bool)
    return np.ones(len(values), dtype=bool)


def _data(values: np.ndarray) -> np.ndarray:
    return values.data if isinstance(values, np.ma.MaskedArray) else values


class _Keys:
    """(window, version, segment) groups: integer codes of the fetched key columns."""

    def __init__(
        self, t: np.ndarray, v: np.ndarray, s: np.ndarray, seg_names: list[str] | None
    ) -> None:
        self.seg_names = seg_names
        tt, vv = _data(t).astype(np.int64), _data(v).astype(np.int64)
        self._t0 = int(tt.min()) if len(tt) else 0
        diffs = np.diff(np.unique(tt))
        self._step = max(int(np.gcd.reduce(diffs)), 1) if len(diffs) else 1
        self._v0 = int(vv.min()) if len(vv) else 0
        self._vspan = int(vv.max()) - self._v0 + 1 if len(vv) else 1
        self.uniq, self.inverse = np.unique(self._combine(t, v, s), return_inverse=True)
        self.count = len(self.uniq)

    def _combine(self, t: np.ndarray, v: np.ndarray, s: np.ndarray) -> np.ndarray:
        tt, vv = _data(t).astype(np.int64), _data(v).astype(np.int64)
        ss = _data(s).astype(np.int64)
        return ((tt - self._t0) // self._step * self._vspan + (vv - self._v0)) * 32 + ss

    def codes(self, t: np.ndarray, v: np.ndarray, s: np.ndarray) -> np.ndarray:
        """Codes of other rows' keys (-1 for a key not among the groups)."""
        combined = self._combine(t, v, s)
        if not self.count:
            return np.full(len(combined), -1)
        pos = np.clip(np.searchsorted(self.uniq, combined), 0, self.count - 1)
        return np.where(self.uniq[pos] == combined, pos, -1)

    def key(self, g: int) -> tuple[int, int | None, str | None]:
        code = int(self.uniq[g])
        s, rest = code % 32, code // 32
        v = rest % self._vspan + self._v0
        t = self._t0 + rest // self._vspan * self._step
        return t, (None if v < 0 else v), (None if self.seg_names is None else self.seg_names[s])


def _classification(
    con: Any, bins: dict[str, np.ndarray], judged: str, result: QualityResult,
    seg_names: list[str] | None,
) -> None:  # fmt: skip
    bin_sql = _BIN_SQL
    # the labelled ones: confusion counts, calibration counts, labelled rows by exact score
    got = con.sql(
        f"""SELECT GROUPING(t, v, s, pc, lc, b) AS gid, t, v, s, pc, lc, b, count(*) AS n
            FROM (SELECT *, {bin_sql} AS b FROM ({judged}) WHERE lc IS NOT NULL)
            GROUP BY GROUPING SETS ((t, v, s, pc, lc), (v, pc, lc, b))"""
    ).fetchnumpy()
    gid = np.asarray(got["gid"])
    # GROUPING bits, from the left: t v s pc lc b (a set bit: not grouped by that column)
    bits = {"confusion": 0b000001, "calib": 0b101000}
    part = {name: {k: v[gid == b] for k, v in got.items()} for name, b in bits.items()}
    part["bins"] = bins
    conf = part["confusion"]
    classes = sorted(
        set(_data(bins["pc"]).tolist())
        | set(_data(conf["pc"]).tolist())
        | set(_data(conf["lc"]).tolist()),
        key=_class_key,
    )
    result.classes = classes
    binary = len(classes) == 2
    positive = classes[1] if binary else None
    result.positive_class = positive
    tt, vv, ss = (np.concatenate([_data(bins[c]), _data(conf[c])]) for c in ("t", "v", "s"))
    keys = _Keys(tt, vv, ss, seg_names)
    groups = keys.count
    predicted = np.bincount(
        keys.codes(bins["t"], bins["v"], bins["s"]),
        weights=_data(bins["n"]).astype(np.float64),
        minlength=groups,
    )
    codes = keys.codes(conf["t"], conf["v"], conf["s"])
    n = _data(conf["n"]).astype(np.float64)
    labelled = np.bincount(codes, weights=n, minlength=groups)
    class_index = {c: i for i, c in enumerate(classes)}
    k = len(classes)
    counts = _ClassCounts(groups, k)
    if len(codes):
        pi = np.array([class_index[c] for c in _data(conf["pc"]).tolist()], dtype=np.int64)
        li = np.array([class_index[c] for c in _data(conf["lc"]).tolist()], dtype=np.int64)
        counts.add(codes, pi, li, n)
    realized = _realized(counts, binary)
    if binary:
        assert positive is not None
        realized.update(_scored(con, judged, keys, positive))
    estimated, calibration = _estimated(part, keys, binary, positive)
    result.calibration = calibration
    for g in range(groups):
        t, v, s = keys.key(g)
        figures: dict[str, float | None] = dict.fromkeys(CLASSIFIER_FIGURES)
        if labelled[g] > 0:
            for name, values in realized.items():
                figures[name] = _num(values[g])
        est = {name: _num(values[g]) for name, values in estimated.items()}
        result.points.append(
            QualityPoint(t, v, s, int(predicted[g]), int(labelled[g]), figures, est)
        )


def _class_key(c: str) -> tuple[int, float, str]:
    """Classes in order: numbers by value, then text (so "0" < "1" < "10")."""
    try:
        return (0, float(c), c)
    except ValueError:
        return (1, 0.0, c)


class _ClassCounts:
    """Per group and class: true positives, predicted and labelled counts (O(groups x classes):
    a dense confusion matrix per group took groups x classes^2, 24 GB for a text answer with
    12,000 distinct values)."""

    def __init__(self, groups: int, k: int) -> None:
        self.groups, self.k = groups, k
        self.tp = np.zeros((groups, k))
        self.pred = np.zeros((groups, k))
        self.true = np.zeros((groups, k))

    def add(self, codes: np.ndarray, pi: np.ndarray, li: np.ndarray, n: np.ndarray) -> None:
        size = self.groups * self.k
        hit = pi == li
        self.tp += np.bincount(codes[hit] * self.k + pi[hit], n[hit], size).reshape(self.tp.shape)
        self.pred += np.bincount(codes * self.k + pi, n, size).reshape(self.tp.shape)
        self.true += np.bincount(codes * self.k + li, n, size).reshape(self.tp.shape)


def _realized(counts: _ClassCounts, binary: bool) -> dict[str, np.ndarray]:
    """Accuracy, precision, recall, F1 per group from per-class counts (binary: of the positive
    class; else macro over the classes seen), 0 where undefined."""
    tp, pred, true = counts.tp, counts.pred, counts.true
    total = pred.sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        accuracy = tp.sum(axis=1) / total
        precision = np.where(pred > 0, tp / pred, 0.0)
        recall = np.where(true > 0, tp / true, 0.0)
        f1 = np.where(pred + true > 0, 2 * tp / (pred + true), 0.0)
    if binary:
        return {
            "accuracy": accuracy,
            "precision": precision[:, 1],
            "recall": recall[:, 1],
            "f1": f1[:, 1],
        }
    seen = (pred + true) > 0
    count = np.maximum(seen.sum(axis=1), 1)
    return {
        "accuracy": accuracy,
        "precision": (precision * seen).sum(axis=1) / count,
        "recall": (recall * seen).sum(axis=1) / count,
        "f1": (f1 * seen).sum(axis=1) / count,
    }


def _scored(con: Any, judged: str, keys: _Keys, positive: str) -> dict[str, np.ndarray]:
    """ROC AUC (ties count half) and log loss per group, from the labelled rows' scores (fetched
    as numbers: group keys, score, whether the label is positive)."""
    rows = con.sql(
        f"""SELECT t, v, s, score AS ls, lc = {layout.quote_text(positive)} AS y
            FROM ({judged}) WHERE lc IS NOT NULL AND score IS NOT NULL"""
    ).fetchnumpy()
    groups = keys.count
    if not len(rows["ls"]):
        return {"roc_auc": np.full(groups, np.nan), "log_loss": np.full(groups, np.nan)}
    g = keys.codes(rows["t"], rows["v"], rows["s"])
    score = _data(rows["ls"]).astype(np.float64)
    y = _data(rows["y"]).astype(bool)
    ok = g >= 0
    g, score, y = g[ok], score[ok], y[ok]
    eps = np.finfo(np.float64).eps
    p = np.clip(score, eps, 1 - eps)
    terms = np.where(y, -np.log(p), -np.log1p(-p))
    count = np.bincount(g, minlength=groups).astype(np.float64)
    with np.errstate(invalid="ignore", divide="ignore"):
        loss = np.where(count > 0, np.bincount(g, weights=terms, minlength=groups) / count, np.nan)
    order = np.argsort(score)  # by score, then (stable) by group: radix-sorted small codes
    small = g.astype(np.int16) if groups < 2**15 else g
    order = order[np.argsort(small[order], kind="stable")]
    g, score, y = g[order], score[order], y[order]
    neg = (~y).astype(np.float64)
    before = np.cumsum(neg) - neg  # negatives before each row (all groups)
    first = np.ones(len(g), dtype=bool)  # the first row of each (group, score)
    first[1:] = (g[1:] != g[:-1]) | (score[1:] != score[:-1])
    tie = np.cumsum(first) - 1
    neg_tie = np.bincount(tie, weights=neg)[tie]
    group_first = np.ones(len(g), dtype=bool)
    group_first[1:] = g[1:] != g[:-1]
    below = before[first][tie] - before[group_first][np.cumsum(group_first) - 1]
    pairs = np.bincount(g, weights=y * (below + 0.5 * neg_tie), minlength=groups)
    p_tot = np.bincount(g, weights=y.astype(np.float64), minlength=groups)
    n_tot = np.bincount(g, weights=neg, minlength=groups)
    with np.errstate(invalid="ignore", divide="ignore"):
        auc = np.where((p_tot > 0) & (n_tot > 0), pairs / (p_tot * n_tot), np.nan)
    return {"roc_auc": auc, "log_loss": loss}


def _estimated(
    part: dict[str, dict[str, np.ndarray]], keys: _Keys, binary: bool, positive: str | None
) -> tuple[dict[str, np.ndarray], dict[str, str]]:
    """CBPE per group from rows by (predicted class, confidence bin): each row is right with its
    calibrated confidence, calibrated per version (and, for two classes, per predicted class)
    on the labelled rows of the range."""
    groups = keys.count
    cal = part["calib"]
    ok = _present(cal["lc"]) & _present(cal["b"])
    cal_v = _data(cal["v"])[ok].astype(np.int64)
    cal_pc = _data(cal["pc"])[ok]
    cal_b = _data(cal["b"])[ok].astype(np.int64)
    cal_n = _data(cal["n"])[ok].astype(np.float64)
    cal_hit = np.where(_data(cal["lc"])[ok] == cal_pc, cal_n, 0.0)
    rows = part["bins"]
    ok = _present(rows["b"])
    if not ok.any():
        return {}, {}
    v = _data(rows["v"])[ok].astype(np.int64)
    pc = _data(rows["pc"])[ok]
    g = keys.codes(rows["t"][ok], rows["v"][ok], rows["s"][ok])
    bins = _data(rows["b"])[ok].astype(np.int64)
    n = _data(rows["n"])[ok].astype(np.float64)
    mean = _data(rows["sp"])[ok].astype(np.float64) / n
    p = mean.copy()
    calibration: dict[str, str] = {}
    for version in np.unique(v).tolist():
        methods = set()
        for klass in np.unique(pc[v == version]).tolist() if binary else [None]:
            mine = cal_v == version
            rows_of = v == version
            if klass is not None:
                mine &= cal_pc == klass
                rows_of &= pc == klass
            fitted = estimate.fit(cal_b[mine], cal_hit[mine], cal_n[mine])
            methods.add(fitted.method)
            p[rows_of] = fitted.apply(bins[rows_of], mean[rows_of])
        if version >= 0:
            calibration[str(version)] = methods.pop() if len(methods) == 1 else "partial"
    keep = g >= 0
    g, bins, n, p, pc = g[keep], bins[keep], n[keep], p[keep], pc[keep]
    if not binary:
        return {"accuracy": estimate.accuracy(g, n, p, groups)}, calibration
    is_pos = pc == positive
    p_pos = np.where(is_pos, p, 1.0 - p)  # the expected share of positives of each row
    score_bins = np.where(is_pos, bins, estimate.BINS - 1 - bins)
    out = estimate.binary(g, is_pos, n, p_pos, groups)
    out["roc_auc"] = estimate.roc_auc(g, score_bins, n, p_pos, groups)
    return out, calibration
