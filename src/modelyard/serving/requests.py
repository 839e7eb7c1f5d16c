"""Request bodies into rows to score: MLflow's four JSON shapes, CSV and Arrow IPC.

Shared by ``modelyard serve`` and the exported bundle's ``serve.py`` (which vendors this
module), so it imports only the standard library, ``modelyard.errors`` and, lazily, numpy,
pandas and pyarrow. Nothing here knows the model: ``inputs.py`` checks what comes out
against the signature.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from modelyard.errors import InvalidInput, MalformedRequest, UnsupportedMediaType

try:
    import orjson

    def _loads(body: bytes) -> Any:
        return orjson.loads(body)

    _JSON_ERRORS: tuple[type[Exception], ...] = (orjson.JSONDecodeError,)
except ImportError:  # the bundle runs without orjson
    import json

    def _loads(body: bytes) -> Any:
        return json.loads(body)

    _JSON_ERRORS = (ValueError,)

JSON = "application/json"
CSV = "text/csv"
ARROW = "application/vnd.apache.arrow.stream"
SHAPES = ("dataframe_split", "dataframe_records", "inputs", "instances")
MAX_DEPTH = 32  # JSON nesting a row may have (a tensor of rank 30 is already absurd)


@dataclass(slots=True)
class Decoded:
    """What a request asks to score: row-major ``rows`` (JSON) or a pandas ``frame`` (CSV,
    Arrow), with ``columns`` when the body named them (None: positional)."""

    columns: list[str] | None
    rows: list[Any] | None = None
    frame: Any = None

    def __len__(self) -> int:
        return len(self.frame) if self.frame is not None else len(self.rows or ())


def media_type(content_type: str | None) -> str:
    """The bare media type of a Content-Type header (JSON when none was sent)."""
    if not content_type:
        return JSON
    return content_type.split(";", 1)[0].strip().lower()


def decode(body: bytes, content_type: str | None = None) -> Decoded:
    """The rows in a request body of any accepted media type; a 4xx error names the problem."""
    kind = media_type(content_type)
    if kind == JSON or kind.endswith("+json"):
        return decode_json(body)
    if kind == CSV:
        return _decode_csv(body)
    if kind == ARROW:
        return _decode_arrow(body)
    raise UnsupportedMediaType(
        f"cannot score a {kind} body; send {JSON}, {CSV} or {ARROW}", content_type=kind
    )


def decode_json(body: bytes) -> Decoded:
    """``{"dataframe_split" | "dataframe_records" | "inputs" | "instances": ...}``."""
    try:
        message = _loads(body or b"null")
    except _JSON_ERRORS as exc:
        raise MalformedRequest(f"request body is not JSON: {exc}") from exc
    if not isinstance(message, dict):
        raise MalformedRequest(_shapes_hint("the body is not a JSON object"))
    found = [key for key in SHAPES if key in message]
    if len(found) != 1:
        why = "it names none of them" if not found else f"it names {', '.join(found)}"
        raise MalformedRequest(_shapes_hint(f"send exactly one shape ({why})"))
    shape = found[0]
    value = message[shape]
    _check_depth(value, shape)
    if shape == "dataframe_split":
        return _split(value)
    if shape == "dataframe_records":
        return _records(value, shape)
    if isinstance(value, dict):  # {"inputs": {"col": [...], ...}}: columnar
        return _columnar(value, shape)
    if not isinstance(value, list):
        raise InvalidInput(f"{shape!r} must be a list of rows or an object of columns", field=shape)
    if value and all(isinstance(row, dict) for row in value):
        return _records(value, shape)
    return Decoded(None, value)


def _shapes_hint(why: str) -> str:
    return (
        f"{why}: send one of {', '.join(SHAPES)}, e.g. "
        '{"dataframe_split": {"columns": ["a", "b"], "data": [[1, 2]]}}'
    )


def _check_depth(value: Any, field: str) -> None:
    """Refuse nesting deeper than MAX_DEPTH (iteratively, so no recursion limit is hit)."""
    stack: list[tuple[Any, int]] = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if depth > MAX_DEPTH:
            raise InvalidInput(f"{field!r} is nested deeper than {MAX_DEPTH} levels", field=field)
        if isinstance(item, list):
            # rows of scalars are the common case: look only at containers
            stack.extend((v, depth + 1) for v in item if isinstance(v, list | dict))
        elif isinstance(item, dict):
            stack.extend((v, depth + 1) for v in item.values() if isinstance(v, list | dict))


def _split(value: Any) -> Decoded:
    if not isinstance(value, dict) or not isinstance(value.get("data"), list):
        raise InvalidInput(
            "dataframe_split needs a 'data' list of rows", field="dataframe_split.data"
        )
    columns = value.get("columns")
    if columns is not None and (
        not isinstance(columns, list) or not all(isinstance(c, str | int) for c in columns)
    ):
        raise InvalidInput(
            "dataframe_split.columns must be a list of names", field="dataframe_split.columns"
        )
    names = None if columns is None else [str(c) for c in columns]
    return Decoded(names, value["data"])


def _records(value: Any, field: str) -> Decoded:
    if not isinstance(value, list) or not all(isinstance(r, dict) for r in value):
        raise InvalidInput(f"{field!r} must be a list of objects (one per row)", field=field)
    if not value:
        return Decoded([], [])
    columns = list(value[0])
    keys = set(columns)
    rows = []
    for i, record in enumerate(value):
        if record.keys() != keys:
            odd = sorted(set(record) ^ keys)
            raise InvalidInput(
                f"{field}[{i}] has other fields than {field}[0] ({', '.join(odd)})",
                field=f"{field}[{i}]",
            )
        rows.append([record[c] for c in columns])
    return Decoded(columns, rows)


def _columnar(value: dict[str, Any], field: str) -> Decoded:
    columns = list(value)
    lists = [value[c] for c in columns]
    if not all(isinstance(v, list) for v in lists):
        raise InvalidInput(f"each column of {field!r} must be a list of values", field=field)
    if len({len(v) for v in lists}) > 1:
        raise InvalidInput(f"the columns of {field!r} have different lengths", field=field)
    return Decoded(columns, [list(row) for row in zip(*lists, strict=True)])


def _decode_csv(body: bytes) -> Decoded:
    """CSV with a header row, as MLflow takes it."""
    import io

    import pandas as pd

    try:
        frame = pd.read_csv(io.BytesIO(body))
    except (ValueError, pd.errors.ParserError, UnicodeDecodeError) as exc:
        raise MalformedRequest(f"the CSV body does not parse: {exc}") from exc
    return Decoded([str(c) for c in frame.columns], frame=frame)


def _decode_arrow(body: bytes) -> Decoded:
    """An Arrow IPC stream (record batches of one schema)."""
    import pyarrow as pa

    try:
        table = pa.ipc.open_stream(body).read_all()
    except (pa.ArrowInvalid, pa.ArrowException, OSError) as exc:
        raise MalformedRequest(f"the body is not an Arrow IPC stream: {exc}") from exc
    return Decoded([str(c) for c in table.column_names], frame=table.to_pandas())
