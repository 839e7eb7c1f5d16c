"""The prediction log: every request and answer, appended by a background thread to Parquet.

    {root}/{deployment}/{YYYY-MM-DD}/{HH}/{instance}-{seq:06d}.parquet

Files are LZ4-compressed: zstd took ~22 us of CPU per record (measured), which a serving
process at 2,000 requests/s pays out of its own core; LZ4 takes ~1 us for files ~5x larger.
One writer per serving process, and each file is written whole (to a temporary name, then
renamed), so replicas never share a file and a reader never sees half of one; a file holds
what arrived in one flush (every ``flush_s`` or ``max_records``). The request path only
appends to a bounded queue: a full queue or a full disk drops log records, counted, never
requests. ``NoLog`` is the null object used when the log is off.

Logged inputs may hold personal data: a ``Redaction`` (a deployment's logging policy) drops
excluded columns and replaces hashed ones by a keyed hash before a record is serialized, so
neither reaches the queue or the disk.
"""

from __future__ import annotations

import functools
import hashlib
import hmac
import os
import random
import re
import socket
import threading
import time
from collections import deque
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, NamedTuple

import orjson

COLUMNS = (
    "request_id", "deployment", "model_version", "role", "time_ms", "latency_ms", "status",
    "inputs", "outputs", "scores",
)  # fmt: skip


CHUNK = 250  # records converted at a time: a conversion holds the GIL (~1 ms for 250)


class Record(NamedTuple):
    request_id: str
    deployment: str
    model_version: int
    role: str  # "live" or "shadow"
    time_ms: int
    latency_ms: float
    status: int
    inputs: str  # JSON: the request's checked rows, {"columns": [...], "data": [[...]]}
    outputs: str  # JSON: the answer (a list), or the error
    scores: str | None = None  # JSON: {"classes": [...], "proba": [[...]]} of a classifier


HASH_HEX = 32  # hex digits kept of a hashed value's HMAC-SHA256 (16 bytes)


class Redaction:
    """What logged inputs lose before they are written: ``exclude`` columns are dropped,
    ``hash`` columns hold HMAC-SHA256(key, the value's JSON text), 16 bytes in hex (equal
    values give equal hashes under one key, so joins and drift still work; without the key a
    dictionary of guesses cannot be checked). Nulls stay null (missing is not personal). An
    input without column names cannot be told apart: with any column named, it is not logged.
    """

    def __init__(
        self, exclude: Sequence[str] = (), hash: Sequence[str] = (), key: bytes = b""
    ) -> None:
        self.exclude = frozenset(exclude)
        self.hash = frozenset(hash)
        self.key = key
        self.active = bool(self.exclude or self.hash)
        self._plans: dict[tuple[str, ...], tuple[list[str], list[tuple[int, bool]]]] = {}

    def apply(self, doc: Any) -> Any:
        """``doc`` ({"columns", "data"} or other JSON) as it may be logged."""
        if not self.active or doc is None:
            return doc
        columns = doc.get("columns") if isinstance(doc, dict) else None
        if not isinstance(columns, list):
            return None
        names, plan = self._plan(tuple(str(c) for c in columns))
        digest = self.digest
        data = [
            [(digest(row[i]) if hashed else row[i]) for i, hashed in plan]
            for row in doc.get("data") or ()
        ]
        return {**doc, "columns": names, "data": data}

    def _plan(self, columns: tuple[str, ...]) -> tuple[list[str], list[tuple[int, bool]]]:
        """The columns kept and, per kept column, its index and whether it is hashed."""
        found = self._plans.get(columns)
        if found is None:
            kept = [(i, c) for i, c in enumerate(columns) if c not in self.exclude]
            found = ([c for _, c in kept], [(i, c in self.hash) for i, c in kept])
            if len(self._plans) < 64:
                self._plans[columns] = found
        return found

    def digest(self, value: Any) -> str | None:
        if value is None:
            return None
        text = orjson.dumps(value, option=orjson.OPT_SERIALIZE_NUMPY)
        return hmac.new(self.key, text, hashlib.sha256).hexdigest()[:HASH_HEX]


KEEP_ALL = Redaction()


class NoLog:
    """The prediction log when it is off: takes records and keeps nothing."""

    keeps_scores = False  # whether class probabilities are worth computing for it

    def append(self, record: Record) -> None:
        pass

    def configure(self, redaction: Redaction, sample: float) -> None:
        """What to drop or hash of the inputs, and the share of requests to log."""

    def entry(
        self,
        request_id: str,
        deployment: str,
        version: int,
        role: str,
        latency_ms: float,
        status: int,
        inputs: Callable[[], Any],
        outputs: Any,
        scores: tuple[str, Any] | None = None,
    ) -> None:
        """Log one answer; ``inputs`` is called only if the record is kept (it builds JSON);
        ``scores`` is (the classes as JSON text, the rows' class probabilities) or None."""

    def close(self) -> None:
        pass


class PredictionLog(NoLog):
    keeps_scores = True

    def __init__(
        self,
        root: Path,
        *,
        sample: float = 1.0,
        flush_s: float = 1.0,
        max_records: int = 20_000,
        max_queue: int = 200_000,
        dropped: Callable[[int], None] = lambda n: None,
        written: Callable[[int], None] = lambda n: None,
    ) -> None:
        self.root = root
        self.sample = sample
        self.redaction = KEEP_ALL
        self.flush_s = flush_s
        self.max_records = max_records
        self.max_queue = max_queue
        self.instance = f"{socket.gethostname()}-{os.getpid()}"
        self._dropped = dropped
        self._written = written
        self._queue: deque[Record] = deque()
        self._seq = 0
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="modelyard-predlog", daemon=True)
        self._thread.start()

    def entry(
        self,
        request_id: str,
        deployment: str,
        version: int,
        role: str,
        latency_ms: float,
        status: int,
        inputs: Callable[[], Any],
        outputs: Any,
        scores: tuple[str, Any] | None = None,
    ) -> None:
        """Log one answer (sampled), serialized now: a queue of plain strings and numbers is
        cheap for Python's garbage collector, where one of live rows and dicts was not (it
        cost ~8 % of the throughput at 2,500 requests/s)."""
        if self.sample < 1.0 and random.random() >= self.sample:
            return
        try:
            doc = self.redaction.apply(inputs())
            text_in = orjson.dumps(doc, option=orjson.OPT_SERIALIZE_NUMPY).decode()
            text_out = orjson.dumps(outputs, option=orjson.OPT_SERIALIZE_NUMPY).decode()
            text_scores = None
            if scores is not None:
                proba = orjson.dumps(scores[1], option=orjson.OPT_SERIALIZE_NUMPY).decode()
                text_scores = f'{{"classes":{scores[0]},"proba":{proba}}}'
        except (TypeError, IndexError):  # a value JSON cannot hold: the record is lost, counted
            self._dropped(1)
            return
        at = int(time.time() * 1000)
        self._put(
            Record(
                request_id, deployment, version, role, at, latency_ms, status, text_in, text_out,
                text_scores,
            )
        )  # fmt: skip

    def configure(self, redaction: Redaction, sample: float) -> None:
        self.redaction = redaction
        self.sample = sample

    def append(self, record: Record) -> None:
        """Queue one record (sampled); never blocks and never raises."""
        if self.sample < 1.0 and random.random() >= self.sample:
            return
        self._put(record)

    def _put(self, record: Record) -> None:
        if len(self._queue) >= self.max_queue:
            self._dropped(1)
            return
        self._queue.append(record)
        if len(self._queue) >= self.max_records:
            self._wake.set()

    def close(self) -> None:
        """Write what is queued and stop the thread."""
        self._stop.set()
        self._wake.set()
        self._thread.join(timeout=30)

    def _run(self) -> None:
        while not self._stop.is_set():
            self._wake.wait(self.flush_s)
            self._wake.clear()
            self._flush()
        self._flush()

    def _flush(self) -> None:
        """Write what was queued when the flush began (what arrives meanwhile waits for the
        next one: draining until empty wrote a small file every few milliseconds under load)."""
        left = len(self._queue)
        while left > 0:
            batch: list[Record] = []
            while left > 0 and len(batch) < self.max_records:
                batch.append(self._queue.popleft())
                left -= 1
            try:
                self._write(batch)
            except Exception:  # disk full, folder gone, read-only: the records are lost, counted
                self._dropped(len(batch))
            else:
                self._written(len(batch))

    def _write(self, batch: list[Record]) -> None:
        import pyarrow.parquet as pq

        by_hour: dict[tuple[str, int], list[Record]] = {}
        for record in batch:
            key = (record.deployment, record.time_ms // 3_600_000)
            by_hour.setdefault(key, []).append(record)
        for (deployment, hour), records in by_hour.items():
            at = datetime.fromtimestamp(hour * 3600, UTC)
            folder = (
                self.root / folder_name(deployment) / at.strftime("%Y-%m-%d") / at.strftime("%H")
            )
            folder.mkdir(parents=True, exist_ok=True)
            self._seq += 1
            name = f"{self.instance}-{int(time.time() * 1000)}-{self._seq:06d}.parquet"
            partial = folder / f".{name}.part"
            try:
                with pq.ParquetWriter(partial, schema(), compression="lz4") as writer:
                    for start in range(0, len(records), CHUNK):
                        writer.write_batch(_arrow(records[start : start + CHUNK]))
                        time.sleep(0)  # let the request path run between chunks (the GIL)
                partial.rename(folder / name)
            finally:
                partial.unlink(missing_ok=True)


@functools.cache
def schema() -> Any:
    """The log's Arrow schema (made on first use: pyarrow loads lazily)."""
    import pyarrow as pa

    return pa.schema(
        [
            ("request_id", pa.string()),
            ("deployment", pa.string()),
            ("model_version", pa.int64()),
            ("role", pa.string()),
            ("time_ms", pa.int64()),
            ("latency_ms", pa.float64()),
            ("status", pa.int32()),
            ("inputs", pa.string()),
            ("outputs", pa.string()),
            ("scores", pa.string()),  # null: no class probabilities
        ]
    )


def _arrow(records: list[Record]) -> Any:
    """Records as one Arrow record batch."""
    import pyarrow as pa

    return pa.record_batch([list(c) for c in zip(*records, strict=True)], schema=schema())


def folder_name(deployment: str) -> str:
    """A deployment's folder under the log root: one plain path segment, whatever the name."""
    clean = re.sub(r"[^A-Za-z0-9._-]", "_", deployment).lstrip(".")
    if clean and clean == deployment and len(clean) <= 128:
        return clean
    # changed to fit: a digest of the real name keeps "team/churn" and "team_churn" apart
    digest = hashlib.sha256(deployment.encode("utf-8", "surrogatepass")).hexdigest()[:12]
    return f"{clean[:100] or '_'}-{digest}"


def read(root: Path, deployment: str) -> Any:
    """Every logged record of ``deployment`` as one Arrow table (for tests and monitoring);
    files written before ``scores`` existed get it as null."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    files = sorted((root / folder_name(deployment)).glob("*/*/*.parquet"))
    tables = [pq.read_table(f) for f in files]
    tables = [
        t
        if "scores" in t.column_names
        else t.append_column("scores", pa.nulls(len(t), pa.string()))
        for t in tables
    ]
    if not tables:
        return schema().empty_table()
    return pa.concat_tables([t.select(list(COLUMNS)) for t in tables])
