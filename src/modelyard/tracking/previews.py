"""The first rows of a tabular artifact (CSV, TSV, Parquet, JSON lines, Feather) for previews."""

from __future__ import annotations

import io
import itertools
import math
import shutil
import tempfile
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import PurePosixPath
from typing import Any, BinaryIO, cast

from modelyard.errors import InvalidInput

MAX_ROWS = 10_000
TABLE_SUFFIXES = (".csv", ".tsv", ".parquet", ".pq", ".jsonl", ".ndjson", ".feather", ".arrow")


@dataclass(frozen=True)
class TablePreview:
    columns: list[str]
    rows: list[list[Any]]
    total_rows: int | None  # None when finding out would mean reading the whole file
    truncated: bool

    def to_json(self) -> dict[str, Any]:
        return {
            "columns": self.columns,
            "rows": self.rows,
            "total_rows": self.total_rows,
            "truncated": self.truncated,
        }


def preview_table(stream: BinaryIO, path: str, limit: int) -> TablePreview:
    """Read at most ``limit`` rows, streaming: a large file is not read to its end."""
    import pyarrow as pa

    if not 1 <= limit <= MAX_ROWS:
        raise InvalidInput(f"limit must be between 1 and {MAX_ROWS}", field="limit")
    suffix = PurePosixPath(path).suffix.lower()
    if suffix not in TABLE_SUFFIXES:
        raise InvalidInput(
            f"{path!r} is not a table; previews read {', '.join(TABLE_SUFFIXES)}", field="path"
        )
    try:
        if suffix in (".parquet", ".pq"):
            return _parquet(_seekable(stream), limit)
        if suffix in (".feather", ".arrow"):
            return _feather(_seekable(stream), limit)
        return _streamed(stream, suffix, limit)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError, OSError, ValueError) as exc:
        raise InvalidInput(f"{path!r} could not be read as a table: {exc}", field="path") from exc


def _seekable(stream: BinaryIO) -> BinaryIO:
    """Footer-first formats need to seek; a stream that cannot (S3) is spooled first."""
    if stream.seekable():
        return stream
    spool = tempfile.SpooledTemporaryFile(max_size=16 << 20)  # noqa: SIM115 - returned open
    shutil.copyfileobj(stream, spool, 1 << 20)
    spool.seek(0)
    return cast(BinaryIO, spool)


def _parquet(stream: BinaryIO, limit: int) -> TablePreview:
    import pyarrow.parquet as pq

    file = pq.ParquetFile(stream)
    total = file.metadata.num_rows
    batches = file.iter_batches(batch_size=limit)
    first = next(batches, None)
    table = _from_batches([first] if first is not None else [], file.schema_arrow)
    return _preview(table, total, total > limit)


def _feather(stream: BinaryIO, limit: int) -> TablePreview:
    import pyarrow.ipc as ipc

    reader = ipc.open_file(stream)
    batches = (reader.get_batch(i) for i in range(reader.num_record_batches))
    return _first_rows(batches, reader.schema, limit)


def _streamed(stream: BinaryIO, suffix: str, limit: int) -> TablePreview:
    import pyarrow.csv as csv
    import pyarrow.json as pj

    if suffix in (".jsonl", ".ndjson"):
        # pyarrow has no streaming JSON reader: parse only the lines the preview shows
        lines = list(itertools.islice(stream, limit + 1))
        table = pj.read_json(io.BytesIO(b"".join(lines[:limit])))
        more = len(lines) > limit
        return _preview(table, None if more else table.num_rows, more)
    parse = csv.ParseOptions(delimiter="\t" if suffix == ".tsv" else ",")
    reader = csv.open_csv(stream, parse_options=parse)
    return _first_rows(reader, reader.schema, limit)


def _first_rows(batches: Iterable[Any], schema: Any, limit: int) -> TablePreview:
    """Read record batches until more than ``limit`` rows; the total only when all were read."""
    taken, rows = [], 0
    for batch in batches:
        taken.append(batch)
        rows += batch.num_rows
        if rows > limit:
            return _preview(_from_batches(taken, schema).slice(0, limit), None, True)
    return _preview(_from_batches(taken, schema), rows, False)


def _from_batches(batches: list[Any], schema: Any) -> Any:
    import pyarrow as pa

    return pa.Table.from_batches(batches, schema=schema)


def _preview(table: Any, total: int | None, truncated: bool) -> TablePreview:
    columns = [str(name) for name in table.column_names]
    data = [table.column(i).to_pylist() for i in range(table.num_columns)]
    rows = [[_cell(col[r]) for col in data] for r in range(table.num_rows)]
    return TablePreview(columns, rows, total, truncated)


def _cell(value: Any) -> Any:
    """A JSON-safe cell: non-finite floats and other types as text."""
    if value is None or isinstance(value, bool | int | str):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else str(value)
    return str(value)
