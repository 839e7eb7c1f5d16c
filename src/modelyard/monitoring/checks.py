"""The value rules of what clients send to monitoring: logged rows, predictions, ids, labels."""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from typing import Any

from modelyard.errors import InvalidInput

REQUEST_ID = re.compile(r"^[A-Za-z0-9._:\-]{1,128}$")  # as the serving process accepts them
CONTROL = re.compile(r"[\x00-\x1f\x7f]")
MAX_ROWS = 100_000  # rows in one logged batch (the SDK sends 50,000 at a time)
MAX_LABELS = 100_000  # labels in one call (~3 s and ~250 MB of parsing at this size)
MAX_COLUMNS = 1_000
MAX_COLUMN_NAME = 256
MAX_TEXT = 10_000  # characters of one text value or label
MAX_CLASSES = 1_000
MAX_ROW_INDEX = 1_000_000


def _scalar(value: Any, field: str) -> Any:
    """A JSON scalar a table column can hold: finite numbers, booleans, short text, null."""
    if value is None or isinstance(value, bool):
        return value
    if isinstance(value, int):
        if abs(value) > 2**63 - 1:
            raise InvalidInput(f"{field}: {value} does not fit in 64 bits", field=field)
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else None  # NaN and inf are missing values
    if isinstance(value, str):
        if len(value) > MAX_TEXT:
            raise InvalidInput(
                f"{field}: a text value is at most {MAX_TEXT} characters", field=field
            )
        return value
    raise InvalidInput(
        f"{field} holds numbers, text, booleans or null, not {value!r:.80}", field=field
    )


def rows_table(columns: Sequence[Any], data: Sequence[Any]) -> Any:
    """``columns`` and row lists as an Arrow table, every value checked."""
    import pyarrow as pa

    if not isinstance(columns, Sequence) or isinstance(columns, str):
        raise InvalidInput("columns is a list of names", field="columns")
    names = list(columns)
    if not 1 <= len(names) <= MAX_COLUMNS:
        raise InvalidInput(f"columns names 1 to {MAX_COLUMNS} columns", field="columns")
    for name in names:
        if not isinstance(name, str) or not 1 <= len(name) <= MAX_COLUMN_NAME:
            raise InvalidInput(
                f"a column name is text of 1 to {MAX_COLUMN_NAME} characters", field="columns"
            )
        if CONTROL.search(name):
            raise InvalidInput(f"column name {name!r} holds a control character", field="columns")
    if len({n.casefold() for n in names}) != len(names):  # the query engine folds case
        raise InvalidInput("columns names a column twice (names differ by more than case)",
                           field="columns")  # fmt: skip
    if not isinstance(data, Sequence) or isinstance(data, str) or not 1 <= len(data) <= MAX_ROWS:
        raise InvalidInput(f"data is a list of 1 to {MAX_ROWS} rows", field="data")
    width = len(names)
    cols: list[list[Any]] = [[] for _ in names]
    for i, row in enumerate(data):
        if not isinstance(row, Sequence) or isinstance(row, str) or len(row) != width:
            raise InvalidInput(f"row {i} does not have {width} values", field="data", row=i)
        for j, value in enumerate(row):
            cols[j].append(_scalar(value, "data"))
    arrays = []
    for j, values in enumerate(cols):
        try:
            arrays.append(pa.array(values))
        except (pa.ArrowInvalid, pa.ArrowTypeError, OverflowError):
            raise InvalidInput(
                f"column {names[j]!r} mixes numbers and text", field="data", column=names[j]
            ) from None
    return pa.table(arrays, names=names)


def predictions(values: Sequence[Any], rows: int) -> list[Any]:
    """One prediction per row: a number, a boolean or a class as text."""
    if not isinstance(values, Sequence) or isinstance(values, str) or len(values) != rows:
        raise InvalidInput(f"predictions has one value per row ({rows})", field="predictions")
    out = [_scalar(v, "predictions") for v in values]
    if any(v is None for v in out):
        raise InvalidInput("a prediction cannot be null, NaN or infinite", field="predictions")
    kinds = {type(v) is str for v in out}
    if len(kinds) > 1:
        raise InvalidInput("predictions mix numbers and text", field="predictions")
    return out


def ids(values: Sequence[Any] | None, rows: int) -> list[str] | None:
    """Request ids, one per row, distinct, in the serving process's alphabet (None: generated)."""
    if values is None:
        return None
    if not isinstance(values, Sequence) or isinstance(values, str) or len(values) != rows:
        raise InvalidInput(f"ids has one id per row ({rows})", field="ids")
    out = []
    for value in values:
        text = str(value) if isinstance(value, int) and not isinstance(value, bool) else value
        if not isinstance(text, str) or not REQUEST_ID.match(text):
            raise InvalidInput(
                f"an id is 1 to 128 letters, digits or ._:- , not {value!r:.80}", field="ids"
            )
        out.append(text)
    if len(set(out)) != len(out):
        raise InvalidInput("ids repeat an id", field="ids")
    return out


def proba(values: Sequence[Sequence[float]], rows: int) -> list[list[float]]:
    """Class probabilities, a row per prediction, each in [0, 1]."""
    if not isinstance(values, Sequence) or len(values) != rows:
        raise InvalidInput(f"proba has one row per prediction ({rows})", field="proba")
    out: list[list[float]] = []
    width = None
    for row in values:
        if not isinstance(row, Sequence) or isinstance(row, str):
            raise InvalidInput("each proba row is a list of probabilities", field="proba")
        if width is None:
            width = len(row)
            if not 2 <= width <= MAX_CLASSES:
                raise InvalidInput(f"proba rows hold 2 to {MAX_CLASSES} classes", field="proba")
        if len(row) != width:
            raise InvalidInput("proba rows differ in length", field="proba")
        clean = []
        for p in row:
            if isinstance(p, bool) or not isinstance(p, int | float) or not 0 <= p <= 1:
                raise InvalidInput("a probability is a number from 0 to 1", field="proba")
            clean.append(float(p))
        out.append(clean)
    return out


def labels(items: Sequence[Any]) -> list[tuple[str, int, Any]]:
    """(request_id, row, label) triples; a label is a finite number, a boolean or text."""
    if (
        not isinstance(items, Sequence)
        or isinstance(items, str)
        or not 1 <= len(items) <= MAX_LABELS
    ):
        raise InvalidInput(f"labels is a list of 1 to {MAX_LABELS} labels", field="labels")
    out: list[tuple[str, int, Any]] = []
    seen: set[tuple[str, int]] = set()
    for item in items:
        if not isinstance(item, Sequence) or isinstance(item, str) or len(item) != 3:
            raise InvalidInput("each label is (request_id, row, label)", field="labels")
        rid, row, label = item
        if not isinstance(rid, str) or not REQUEST_ID.match(rid):
            raise InvalidInput(f"{rid!r:.80} is not a request id", field="request_id")
        if isinstance(row, bool) or not isinstance(row, int) or not 0 <= row <= MAX_ROW_INDEX:
            raise InvalidInput("row is the row's index in its request, from 0", field="row")
        if label is None or isinstance(label, list | dict):
            raise InvalidInput("a label is a number, a boolean or text", field="label")
        if isinstance(label, float) and not math.isfinite(label):
            raise InvalidInput("a label cannot be NaN or infinite", field="label")
        _scalar(label, "label")
        if (rid, row) in seen:
            raise InvalidInput(f"request {rid} row {row} is labelled twice", field="labels")
        seen.add((rid, row))
        out.append((rid, row, label))
    return out
