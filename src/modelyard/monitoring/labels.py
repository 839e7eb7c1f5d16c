"""Ground truth: labels by (request_id, row), checked against the logged predictions, appended.

A batch is kept whole or not at all. The latest received label of a key wins when read, so
sending a label again changes nothing. Numeric predictions (a regressor, an integer classifier)
take numbers (or numeric text); text predictions take text (or booleans for boolean ones).

Each label row carries a copy of the prediction it judges (``PREDICTION_COLUMNS`` and the
``f.*`` features), one row per logged prediction of its key (a live and a shadow answer give two
rows), so realized quality reads the label rows alone, with no join on the request id. Label files
written before that (without ``time_ms``) are joined to the predictions when read.
"""

from __future__ import annotations

import contextlib
import fcntl
import math
import os
import time
import uuid
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from modelyard.errors import InvalidInput, NotFound
from modelyard.monitoring import layout
from modelyard.monitoring.ingest import as_classes

MAX_ID = 256
# the prediction's columns copied into its label rows (with the f.* features)
PREDICTION_COLUMNS = (
    "model_version", "role", "source", "time_ms", "status",
    "prediction_value", "prediction_class", "confidence", "score",
)  # fmt: skip


def _label_value(label: Any) -> tuple[float | None, str | bool | None, bool]:
    """(number, non-number, ok): a label as a number when it is one (or numeric text)."""
    if isinstance(label, bool):
        return None, label, True
    if isinstance(label, int | float):
        number = float(label)
        return (number, None, True) if math.isfinite(number) else (None, None, False)
    if isinstance(label, str) and label:
        try:
            number = float(label)
        except ValueError:
            return None, label, True
        return (number, label, True) if math.isfinite(number) else (None, label, True)
    return None, None, False


def _check_keys(labels: Sequence[tuple[str, int, Any]]) -> None:
    for request_id, row, _ in labels:
        if not isinstance(request_id, str) or not request_id or len(request_id) > MAX_ID:
            raise InvalidInput(
                f"request_id must be text of 1..{MAX_ID} characters", field="request_id"
            )
        if isinstance(row, bool) or not isinstance(row, int) or not 0 <= row < 2**31:
            raise InvalidInput("row must be an integer >= 0", field="row")


def add(
    root: Path, deployment: str, labels: Sequence[tuple[str, int, Any]], now_ms: int | None = None
) -> int:
    """Check and append a batch of labels; returns how many were accepted."""
    import pyarrow as pa

    if not labels:
        return 0
    _check_keys(labels)
    numbers: list[float | None] = []
    texts: list[str | bool | None] = []
    for _, _, label in labels:
        number, text, ok = _label_value(label)
        if not ok:
            raise InvalidInput(
                "a label must be a finite number, a boolean or non-empty text", field="label"
            )
        numbers.append(number)
        texts.append(text)
    last = {(r, w): i for i, (r, w, _) in enumerate(labels)}  # a key twice: the last one wins
    keys = pa.table(
        {
            "request_id": pa.array([k[0] for k in labels], pa.string()),
            "row": pa.array([k[1] for k in labels], pa.int32()),
        }
    )
    with layout.connection() as con, _locked(root, deployment):
        found = _predictions(con, root, deployment, keys)
        kinds = _kinds(found, keys)
        missing = [labels[i][0] for i, kind in enumerate(kinds) if kind is None]
        if missing:
            raise NotFound(
                f"{len(missing)} label(s) name no logged prediction of deployment {deployment!r}",
                request_ids=sorted(set(missing))[:20],
            )
        wrong = [i for i, kind in enumerate(kinds) if kind == "numeric" and numbers[i] is None]
        wrong += [i for i, kind in enumerate(kinds) if kind == "text" and texts[i] is None]
        if wrong:
            first = labels[sorted(wrong)[0]]
            raise InvalidInput(
                f"label {first[2]!r} does not match the type of the predictions of request "
                f"{first[0]!r} ({kinds[sorted(wrong)[0]]})",
                field="label",
                request_ids=sorted({labels[i][0] for i in wrong})[:20],
            )
        keep = sorted(last.values())
        values = [numbers[i] if kinds[i] == "numeric" else None for i in keep]
        as_text = [
            texts[i] if kinds[i] != "numeric" or numbers[i] is None else numbers[i] for i in keep
        ]
        at = now_ms if now_ms is not None else int(time.time() * 1000)
        kept = keys.take(keep)
        relabel, latest = _labelled_before(con, root, deployment, kept)
        at = max(at, latest + 1)  # a resend in the same millisecond still comes after
        batch = pa.table(
            {
                "request_id": kept.column("request_id"),
                "row": kept.column("row"),
                "label_value": pa.array(values, pa.float64()),
                "label_class": _class_texts(as_text),
                "received_ms": pa.array([at] * len(keep), pa.int64()),
                "relabel": relabel,
            }
        )
        table = _with_predictions(con, batch, found)
        folder = layout.day_path(layout.labels_dir(root, deployment), at)
        layout.write_table(folder / f"{at}-{uuid.uuid4().hex}.parquet", table)
    return len(labels)


@contextlib.contextmanager
def _locked(root: Path, deployment: str) -> Iterator[None]:
    """One label add of a deployment at a time (across processes: a file lock)."""
    base = layout.labels_dir(root, deployment)
    base.mkdir(parents=True, exist_ok=True)
    fd = os.open(base / ".add.lock", os.O_RDWR | os.O_CREAT, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)


def _labelled_before(con: Any, root: Path, deployment: str, keys: Any) -> tuple[Any, int]:
    """Per key: whether it already has a label; and when the latest of those was received."""
    import pyarrow as pa

    nothing = pa.array([False] * keys.num_rows, pa.bool_()), -1
    files = layout.label_files(root, deployment)
    if not files:
        return nothing
    con.register("label_keys", keys)
    try:
        seen = con.sql(
            f"""
            SELECT request_id, "row", max(received_ms)
            FROM read_parquet({layout.sql_list(files)}, union_by_name = true)
            WHERE request_id IN (SELECT request_id FROM label_keys)
            GROUP BY request_id, "row"
            """
        ).fetchall()
    finally:
        con.unregister("label_keys")
    if not seen:
        return nothing
    old = {(r, w): m for r, w, m in seen}
    pairs = zip(keys.column("request_id").to_pylist(), keys.column("row").to_pylist(), strict=True)
    before = [old.get(k) for k in pairs]
    latest = max((m for m in before if m is not None), default=-1)
    return pa.array([m is not None for m in before], pa.bool_()), latest


def _class_texts(values: list[Any]) -> Any:
    """Each label's class text, normalised as predictions are (1 and 1.0 give "1")."""
    import pyarrow as pa

    out: list[Any] = [None] * len(values)
    for kind in (bool, float, str):
        idx = [i for i, v in enumerate(values) if type(v) is kind]
        if idx:
            _, text = as_classes([values[i] for i in idx])
            for i, t in zip(idx, text.to_pylist(), strict=True):
                out[i] = t
    return pa.array(out, pa.string())


def _predictions(con: Any, root: Path, deployment: str, keys: Any) -> Any:
    """Every logged prediction row of the given keys (all versions and roles), as Arrow."""
    import pyarrow as pa

    files = layout.prediction_files(root, deployment)
    if not files:
        return pa.table({"request_id": pa.array([], pa.string()), "row": pa.array([], pa.int32())})
    con.register("label_keys", keys)
    try:
        return con.sql(
            f"""
            SELECT p.* EXCLUDE (latency_ms)
            FROM read_parquet({layout.sql_list(files)}, union_by_name = true) p
            SEMI JOIN (SELECT DISTINCT request_id, "row" FROM label_keys) k
                ON p.request_id = k.request_id AND p."row" = k."row"
            WHERE p.request_id IN (SELECT request_id FROM label_keys)
            """
        ).to_arrow_table()
    finally:
        con.unregister("label_keys")


def _kinds(found: Any, keys: Any) -> list[str | None]:
    """Per label key: None (no such logged row), "numeric", "text" or "any" (only failed rows)."""
    import pyarrow.compute as pc

    if found.num_rows == 0:
        return [None] * keys.num_rows
    ok = pc.equal(found.column("status"), 200)
    num = pc.and_(ok, pc.is_valid(found.column("prediction_value")))
    txt = pc.and_(ok, pc.is_valid(found.column("prediction_class")))
    rows = zip(
        found.column("request_id").to_pylist(),
        found.column("row").to_pylist(),
        num.to_pylist(),
        txt.to_pylist(),
        strict=True,
    )
    lookup: dict[tuple[str, int], str] = {}
    for r, w, n, t in rows:
        kind = "numeric" if n else "text" if t else "any"
        before = lookup.get((r, w))
        if before is None or _RANK[kind] > _RANK[before]:
            lookup[(r, w)] = kind
    return [
        lookup.get(k)
        for k in zip(
            keys.column("request_id").to_pylist(), keys.column("row").to_pylist(), strict=True
        )
    ]


_RANK = {"any": 0, "text": 1, "numeric": 2}


def _with_predictions(con: Any, batch: Any, found: Any) -> Any:
    """The label rows: each label once per logged prediction of its key, with its columns."""
    con.register("label_batch", batch)
    con.register("label_predictions", found)
    try:
        return con.sql(
            """
            SELECT b.*, p.* EXCLUDE (request_id, "row")
            FROM label_batch b JOIN label_predictions p
                ON b.request_id = p.request_id AND b."row" = p."row"
            ORDER BY p.time_ms, b.request_id, b."row"
            """
        ).to_arrow_table()
    finally:
        con.unregister("label_batch")
        con.unregister("label_predictions")


def file_format(path: Path, cache: dict[Path, str]) -> str:
    """A label file's kind: "joined" (no predictions' columns: written before labels carried
    them), "copied" (with them) or "flagged" (with them and the relabel flag)."""
    found = cache.get(path)
    if found is None:
        import pyarrow.parquet as pq

        names = pq.read_schema(path).names
        found = (
            "joined" if "time_ms" not in names else "flagged" if "relabel" in names else "copied"
        )
        cache[path] = found
    return found


def latest_sql(files: list[Path]) -> str:
    """SQL of the labels in force in label files without the predictions' columns: per key,
    the last one received (and when)."""
    return f"""
        SELECT request_id, "row",
               arg_max(label_value, received_ms) AS label_value,
               arg_max(label_class, received_ms) AS label_class,
               max(received_ms) AS received_ms
        FROM read_parquet({layout.sql_list(files)}, union_by_name = true)
        GROUP BY request_id, "row"
    """
