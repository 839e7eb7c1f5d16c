"""Ground truth: labels by (request_id, row), checked against the logged predictions, appended.

A batch is kept whole or not at all. The latest received label of a key wins when read, so
sending a label again changes nothing. Numeric predictions (a regressor, an integer classifier)
take numbers (or numeric text); text predictions take text (or booleans for boolean ones).
"""

from __future__ import annotations

import math
import time
import uuid
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from modelyard.errors import InvalidInput, NotFound
from modelyard.monitoring import layout
from modelyard.monitoring.ingest import as_classes

MAX_ID = 256


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
    keys = pa.table(
        {
            "request_id": pa.array([k[0] for k in labels], pa.string()),
            "row": pa.array([k[1] for k in labels], pa.int32()),
            "numeric": pa.array([n is not None for n in numbers], pa.bool_()),
        }
    )
    kinds = _kinds(root, deployment, keys)
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
    values = [numbers[i] if kinds[i] == "numeric" else None for i in range(len(labels))]
    as_text = [
        texts[i] if kinds[i] != "numeric" or numbers[i] is None else numbers[i]
        for i in range(len(labels))
    ]
    classes = _class_texts(as_text)
    at = now_ms if now_ms is not None else int(time.time() * 1000)
    table = pa.table(
        {
            "request_id": keys.column("request_id"),
            "row": keys.column("row"),
            "label_value": pa.array(values, pa.float64()),
            "label_class": classes,
            "received_ms": pa.array([at] * len(labels), pa.int64()),
        }
    )
    folder = layout.day_path(layout.labels_dir(root, deployment), at)
    layout.write_table(folder / f"{at}-{uuid.uuid4().hex}.parquet", table)
    return len(labels)


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


def _kinds(root: Path, deployment: str, keys: Any) -> list[str | None]:
    """Per label key: None (no such logged row), "numeric", "text" or "any" (only failed rows)."""
    files = layout.prediction_files(root, deployment)
    if not files:
        return [None] * keys.num_rows
    with layout.connection() as con:
        con.register("label_keys", keys)
        try:
            found = con.sql(
                f"""
                WITH p AS (
                    SELECT request_id, "row",
                           bool_or(status = 200 AND prediction_value IS NOT NULL) AS num,
                           bool_or(status = 200 AND prediction_class IS NOT NULL) AS txt
                    FROM read_parquet({layout.sql_list(files)}, union_by_name = true)
                    WHERE request_id IN (SELECT request_id FROM label_keys)
                    GROUP BY ALL
                )
                SELECT k.request_id, k."row", p.num, p.txt, p.request_id IS NOT NULL AS hit
                FROM label_keys k LEFT JOIN p USING (request_id, "row")
                """
            ).to_arrow_table()
        finally:
            con.unregister("label_keys")
    lookup = {
        (r, w): ("numeric" if num else "text" if txt else "any") if hit else None
        for r, w, num, txt, hit in zip(
            *(found.column(i).to_pylist() for i in range(5)), strict=True
        )
    }
    return [
        lookup.get(k)
        for k in zip(
            keys.column("request_id").to_pylist(), keys.column("row").to_pylist(), strict=True
        )
    ]


def latest_sql(files: list[Path]) -> str:
    """SQL of the labels in force: per key, the last one received."""
    return f"""
        SELECT request_id, "row",
               arg_max(label_value, received_ms) AS label_value,
               arg_max(label_class, received_ms) AS label_class
        FROM read_parquet({layout.sql_list(files)}, union_by_name = true)
        GROUP BY request_id, "row"
    """
