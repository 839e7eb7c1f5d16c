"""Where the monitoring store keeps its Parquet files, how it writes them, how it reads them.

    {root}/tables/{folder}/{YYYY-MM-DD}/{HH}/{name}.parquet   typed predictions, one row per row
    {root}/labels/{folder}/{YYYY-MM-DD}/{name}.parquet        labels as received (append-only)

Every file is written whole to a hidden ``.{name}.part`` and renamed, so a reader never sees
half of one and a crash leaves only a ``.part`` that nothing globs.

A closed hour of typed predictions is compacted into one ``compact-{uuid}.parquet`` whose metadata
lists the files it holds (``SOURCES_KEY``); those files are superseded from the moment it is
renamed into place (readers skip them, ``live_files``) and deleted later, so a reader never
sees a row twice nor misses one, whichever step a crash interrupts.
"""

from __future__ import annotations

import contextlib
import os
import threading
from collections.abc import Iterator, Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from modelyard.serving.predlog import folder_name

HOUR_MS = 3_600_000
DAY_MS = 24 * HOUR_MS

# the typed prediction columns before the features ("f.{column}"), in the contract's order
BASE_COLUMNS = (
    "request_id", "row", "model_version", "role", "source", "time_ms", "latency_ms", "status",
    "prediction_value", "prediction_class", "confidence", "score",
)  # fmt: skip
LABEL_COLUMNS = ("request_id", "row", "label_value", "label_class", "received_ms")
FEATURE_PREFIX = "f."
COMPACT_PREFIX = "compact-"
SOURCES_KEY = "modelyard.sources"  # a compacted file's metadata: the names it holds (JSON list)


def base_schema() -> Any:
    """The Arrow types of the typed prediction columns (features come after them)."""
    import pyarrow as pa

    return pa.schema(
        [
            ("request_id", pa.string()),
            ("row", pa.int32()),
            ("model_version", pa.int64()),
            ("role", pa.string()),
            ("source", pa.string()),
            ("time_ms", pa.int64()),
            ("latency_ms", pa.float64()),
            ("status", pa.int32()),
            ("prediction_value", pa.float64()),
            ("prediction_class", pa.string()),
            ("confidence", pa.float64()),
            ("score", pa.float64()),
        ]
    )


def label_schema() -> Any:
    import pyarrow as pa

    return pa.schema(
        [
            ("request_id", pa.string()),
            ("row", pa.int32()),
            ("label_value", pa.float64()),
            ("label_class", pa.string()),
            ("received_ms", pa.int64()),
        ]
    )


def tables_dir(root: Path, deployment: str) -> Path:
    return root / "tables" / folder_name(deployment)


def labels_dir(root: Path, deployment: str) -> Path:
    return root / "labels" / folder_name(deployment)


def hour_path(base: Path, time_ms: int) -> Path:
    """The hour folder of ``time_ms`` under a deployment's folder (UTC)."""
    at = datetime.fromtimestamp((time_ms // HOUR_MS) * 3600, UTC)
    return base / at.strftime("%Y-%m-%d") / at.strftime("%H")


def day_path(base: Path, time_ms: int) -> Path:
    at = datetime.fromtimestamp((time_ms // HOUR_MS) * 3600, UTC)
    return base / at.strftime("%Y-%m-%d")


def day_start(name: str) -> int | None:
    try:
        at = datetime.strptime(name, "%Y-%m-%d").replace(tzinfo=UTC)
    except ValueError:
        return None
    return int(at.timestamp() * 1000)


def hours(
    base: Path, since_ms: int | None = None, until_ms: int | None = None
) -> list[tuple[int, Path]]:
    """The hour folders under ``base`` (``{date}/{HH}``) that overlap [since_ms, until_ms), by time."""
    found: list[tuple[int, Path]] = []
    try:
        days = list(os.scandir(base))
    except FileNotFoundError:
        return found
    for day in days:
        start = day_start(day.name)
        if start is None or not day.is_dir():
            continue
        if (since_ms is not None and start + DAY_MS <= since_ms) or (
            until_ms is not None and start >= until_ms
        ):
            continue
        with contextlib.suppress(FileNotFoundError):
            for hour in os.scandir(day.path):
                if len(hour.name) != 2 or not hour.name.isdigit() or not hour.is_dir():
                    continue
                at = start + int(hour.name) * HOUR_MS
                if (since_ms is not None and at + HOUR_MS <= since_ms) or (
                    until_ms is not None and at >= until_ms
                ):
                    continue
                found.append((at, Path(hour.path)))
    found.sort()
    return found


def parquet_files(folder: Path) -> list[Path]:
    """The finished Parquet files in one folder (never a hidden ``.part``)."""
    try:
        return sorted(
            Path(e.path)
            for e in os.scandir(folder)
            if e.name.endswith(".parquet") and not e.name.startswith(".") and e.is_file()
        )
    except FileNotFoundError:
        return []


_sources: dict[Path, frozenset[str]] = {}  # compacted file -> the names it holds (immutable)
_sources_lock = threading.Lock()


def compact_sources(path: Path) -> frozenset[str]:
    """The file names a compacted file holds (read from its metadata once per process)."""
    with _sources_lock:
        found = _sources.get(path)
    if found is None:
        import orjson
        import pyarrow.parquet as pq

        meta = pq.read_schema(path).metadata or {}
        found = frozenset(orjson.loads(meta.get(SOURCES_KEY.encode(), b"[]")))
        with _sources_lock:
            if len(_sources) > 100_000:
                _sources.clear()
            _sources[path] = found
    return found


def superseded(files: list[Path]) -> set[str]:
    """The names of the files (of one folder) that a compacted file among them holds."""
    names: set[str] = set()
    for path in files:
        if path.name.startswith(COMPACT_PREFIX):
            with contextlib.suppress(FileNotFoundError):  # itself compacted and removed since
                names.update(compact_sources(path))
    return names


def live_files(folder: Path) -> list[Path]:
    """The finished files of a typed hour folder, without those a compacted file holds."""
    files = parquet_files(folder)
    gone = superseded(files)
    return [f for f in files if f.name not in gone] if gone else files


def prediction_files(
    root: Path, deployment: str, since_ms: int | None = None, until_ms: int | None = None
) -> list[Path]:
    """The typed prediction files whose hour overlaps the range (old hours are never opened)."""
    return [
        f
        for _, hour in hours(tables_dir(root, deployment), since_ms, until_ms)
        for f in live_files(hour)
    ]


def label_files(root: Path, deployment: str) -> list[Path]:
    base = labels_dir(root, deployment)
    try:
        days = sorted(e.path for e in os.scandir(base) if e.is_dir())
    except FileNotFoundError:
        return []
    return [f for day in days for f in parquet_files(Path(day))]


def write_table(path: Path, table: Any, metadata: Mapping[str, str] | None = None) -> None:
    """Write ``table`` to ``path`` whole: to a hidden ``.part`` first, then renamed."""
    import pyarrow.parquet as pq

    path.parent.mkdir(parents=True, exist_ok=True)
    if metadata:
        merged = dict(table.schema.metadata or {})
        merged.update({k.encode(): v.encode() for k, v in metadata.items()})
        table = table.replace_schema_metadata(merged)
    partial = path.parent / f".{path.name}.part"
    encodings = _encodings(table.schema)
    try:
        pq.write_table(
            table, partial, compression="zstd", row_group_size=256 * 1024,
            use_dictionary=[n for n in table.column_names if n not in encodings],
            column_encoding=encodings,
        )  # fmt: skip
        os.replace(partial, path)
    finally:
        partial.unlink(missing_ok=True)


def _encodings(schema: Any) -> dict[str, str]:
    """Parquet encodings that DuckDB scans fastest (measured: a quarter to a half less time than
    dictionaries): numbers' bytes split for floats, deltas for times, lengths for request ids;
    the rest (versions, roles, classes, text features) as dictionaries."""
    import pyarrow as pa

    found: dict[str, str] = {}
    for f in schema:
        if pa.types.is_floating(f.type):
            found[f.name] = "BYTE_STREAM_SPLIT"
        elif f.name in ("time_ms", "received_ms") and pa.types.is_integer(f.type):
            found[f.name] = "DELTA_BINARY_PACKED"
        elif f.name == "request_id" and pa.types.is_string(f.type):
            found[f.name] = "DELTA_LENGTH_BYTE_ARRAY"
    return found


_local = threading.local()


@contextlib.contextmanager
def connection() -> Iterator[Any]:
    """A DuckDB connection of this thread (two threads, in memory), reused between calls."""
    con = getattr(_local, "con", None)
    if con is None:
        import duckdb

        con = duckdb.connect(":memory:", config={"threads": 2})
        _local.con = con
    yield con


def quote_name(name: str) -> str:
    """A column name as a SQL identifier."""
    return '"' + name.replace('"', '""') + '"'


def quote_text(text: str) -> str:
    """Text as a SQL string literal."""
    return "'" + text.replace("'", "''") + "'"


def sql_list(paths: list[Path]) -> str:
    """A DuckDB list literal of file paths (quoted for SQL)."""
    return "[" + ", ".join("'" + str(p).replace("'", "''") + "'" for p in paths) + "]"
