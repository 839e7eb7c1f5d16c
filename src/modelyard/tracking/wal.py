"""The journal format: the crash journal and the offline journal are files of this one kind.

Crash journal: every SDK log call is also appended to a memory-mapped file.

A process killed by SIGKILL or the OOM killer loses its memory but not the page cache, so
what it logged is still in ``journal/<time>-<id>.wal``. The file starts with a header (magic,
the *done* offset, the URI) and then holds records ``type, length, payload``; the type byte
is written last, so a record cut short by the kill is never read. A *cut* record marks where
the batcher took a batch; batch ids derive from the file name, the cut's ordinal and the run,
so a replay of what was partly delivered is applied once. Once a batch is stored, set aside
or written to the offline journal, the done offset passes it; a file whose writer is gone
(its ``flock`` is released by the kernel) is read by ``journal.entries`` from that offset.

Offline journal: batches the server did not take are written (``write``) as a finished file of
the same kind, fsynced and renamed into place, each batch's id kept in an *id* record; the same
reader and the same ``sync`` drain both.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import mmap
import os
import struct
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson

MAGIC = b"MYWAL1\0\0"
HEAD = 4096  # records start here
_DONE = struct.Struct("<Q")  # at offset 8
_REC = struct.Struct("<BI")  # type, payload length
_POINT = struct.Struct("<IIqdq")  # length, series, step, value, timestamp (after the type)
_POINT_LEN = _POINT.size - 4
_POINT_REC = _POINT.size + 1  # with the type byte
_pack_point = _POINT.pack_into
_NONE: dict[str, int] = {}
INITIAL_SIZE = 16 << 20
ROTATE_AT = 64 << 20  # a file past this is closed at the next cut; a new one takes over

KEY, POINT, CREATE, PARAMS, TAGS, UPDATE, CUT, BATCH_ID = b"kpcPtuxb"


@dataclass
class Pending:
    """What one run logged since the last cut."""

    create: dict[str, Any] | None = None
    params: dict[str, str] = field(default_factory=dict)
    tags: dict[str, str] = field(default_factory=dict)
    metrics: dict[str, tuple[list[int], list[float], list[int]]] = field(default_factory=dict)
    update: dict[str, Any] | None = None
    batch_id: str | None = None  # kept from the batch it was written from (offline journal)

    def point(self, key: str, step: int, value: float, timestamp: int) -> None:
        series = self.metrics.get(key)
        if series is None:
            series = self.metrics[key] = ([], [], [])
        series[0].append(step)
        series[1].append(value)
        series[2].append(timestamp)


def batch_id(segment: str, cut: int, run_id: str) -> str:
    """The id of one run's batch taken at a cut: the same in the SDK and in a replay."""
    return hashlib.sha256(f"{segment}/{cut}/{run_id}".encode()).hexdigest()[:32]


def to_batches(segment: str, cut: int, pending: dict[str, Pending]) -> list[dict[str, Any]]:
    """Wire batches for what was logged between two cuts."""
    batches = []
    for run_id, p in pending.items():
        bid = p.batch_id or batch_id(segment, cut, run_id)
        batch: dict[str, Any] = {"run_id": run_id, "batch_id": bid}
        if p.create is not None:
            batch["create"] = p.create
        if p.params:
            batch["params"] = p.params
        if p.tags:
            batch["tags"] = p.tags
        if p.metrics:
            batch["metrics"] = [
                {"key": k, "steps": s, "values": _wire_values(v), "timestamps": t}
                for k, (s, v, t) in p.metrics.items()
            ]
        if p.update is not None:
            batch["update"] = p.update
        batches.append(batch)
    return batches


def _wire_values(values: list[float]) -> Any:
    import numpy as np

    arr = np.asarray(values, dtype=np.float64)
    if np.isfinite(arr).all():
        return arr
    from modelyard.tracking.entities import json_float

    return [json_float(v) for v in values]


class Segment:
    """One process's crash journal file; callers hold the batcher's lock while appending."""

    def __init__(
        self, folder: Path, uri: str, name: str | None = None, suffix: str = ".wal"
    ) -> None:
        folder.mkdir(parents=True, exist_ok=True)
        self.name = name or f"{time.time_ns():020d}-{uuid.uuid4().hex[:8]}"
        self.path = folder / f"{self.name}{suffix}"
        self._fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_EXCL, 0o600)
        fcntl.flock(self._fd, fcntl.LOCK_EX)  # released by the kernel when the process dies
        os.ftruncate(self._fd, INITIAL_SIZE)
        self._mm = mmap.mmap(self._fd, INITIAL_SIZE)
        self._size = INITIAL_SIZE
        raw = uri.encode()
        self._mm[:8] = MAGIC
        _DONE.pack_into(self._mm, 8, HEAD)
        struct.pack_into(f"<I{len(raw)}s", self._mm, 16, len(raw), raw)
        self.end = HEAD  # where the next record goes
        self.done = HEAD
        self.cuts = 0
        self._series: dict[str, dict[str, int]] = {}  # run -> key -> series id
        self._count = 0  # series ids given

    def _series_id(self, run_id: str, key: str) -> int:
        sid = self._series.setdefault(run_id, {})[key] = self._count
        self._count += 1
        self.record(KEY, [sid, run_id, key])
        return sid

    def _room(self, size: int) -> None:
        if self.end + size > self._size:
            self._mm.resize(max(self._size * 2, self.end + size))
            self._size = len(self._mm)

    def record(self, kind: int, payload: Any) -> None:
        data = orjson.dumps(payload, option=orjson.OPT_SERIALIZE_NUMPY)
        self._room(_REC.size + len(data))
        start = self.end + _REC.size
        self._mm[start : start + len(data)] = data
        _REC.pack_into(self._mm, self.end, 0, len(data))
        self._mm[self.end] = kind  # last: a record cut short by a kill is never read
        self.end = start + len(data)

    def point(self, run_id: str, key: str, step: int, value: float, timestamp: int) -> None:
        """The hot path (one per ``log_metric``): one pack into the map, then the type byte."""
        sid = self._series.get(run_id, _NONE).get(key)
        if sid is None:
            sid = self._series_id(run_id, key)
        end = self.end
        if end + _POINT_REC > self._size:
            self._room(_POINT_REC)
        mm = self._mm
        _pack_point(mm, end + 1, _POINT_LEN, sid, step, value, timestamp)
        mm[end] = POINT
        self.end = end + _POINT_REC

    def cut(self) -> tuple[int, int]:
        """Mark a batch boundary; returns its ordinal and the offset it ends at."""
        self.record(CUT, None)
        self.cuts += 1
        return self.cuts - 1, self.end

    def mark_done(self, offset: int) -> None:
        """Everything before ``offset`` is stored, set aside or in the offline journal."""
        if offset > self.done:
            self.done = offset
            _DONE.pack_into(self._mm, 8, offset)

    def retire(self) -> None:
        """Delete the file and unmap it: everything in it is done and nothing more is written."""
        self.path.unlink(missing_ok=True)
        self._mm.close()
        os.close(self._fd)

    def batch(self, batch: dict[str, Any], now: int) -> None:
        """Append one wire batch (its id kept); callers cut before a run repeats in a group."""
        run_id = batch["run_id"]
        if batch.get("batch_id") is not None:
            self.record(BATCH_ID, [run_id, batch["batch_id"]])
        if batch.get("create") is not None:
            self.record(CREATE, [run_id, batch["create"]])
        for kind, section in ((PARAMS, "params"), (TAGS, "tags")):
            if batch.get(section):
                self.record(kind, [run_id, batch[section]])
        for series in batch.get("metrics") or ():
            values = series["values"]
            steps = series.get("steps")
            stamps = series.get("timestamps")
            for i, value in enumerate(values):
                step = i if steps is None else steps[i]
                stamp = now if stamps is None else stamps[i]
                self.point(run_id, series["key"], step, float(value), stamp)
        if batch.get("update") is not None:
            self.record(UPDATE, [run_id, batch["update"]])

    def seal(self, path: Path) -> None:
        """Finish a written file: flush it to disk, unlock it and move it to ``path``."""
        self._mm.flush()
        self._mm.close()
        os.ftruncate(self._fd, self.end)
        os.fsync(self._fd)
        os.close(self._fd)
        os.replace(self.path, path)
        self.path = path

    def release(self) -> None:
        """At exit: delete the file when everything in it is done, else leave it for a replay.

        The map stays (a thread may still write to it); the process is about to end.
        """
        if self.done >= self.end:
            self.path.unlink(missing_ok=True)


class NoSegment(Segment):
    """No crash journal (its folder cannot be written): nothing is kept, nothing fails."""

    def __init__(self) -> None:
        self.name, self.path = uuid.uuid4().hex, Path(os.devnull)
        self.end = self.done = HEAD
        self.cuts = 0

    def record(self, kind: int, payload: Any) -> None:
        return

    def point(self, run_id: str, key: str, step: int, value: float, timestamp: int) -> None:
        return

    def cut(self) -> tuple[int, int]:
        self.cuts += 1
        return self.cuts - 1, self.end

    def mark_done(self, offset: int) -> None:
        return

    def retire(self) -> None:
        return

    def release(self) -> None:
        return


def open_segment(folder: Path, uri: str) -> Segment:
    """A crash journal in ``folder``, or a ``NoSegment`` when it cannot be created."""
    try:
        return Segment(folder, uri)
    except OSError:
        return NoSegment()


def write(folder: Path, name: str, uri: str, batches: list[dict[str, Any]]) -> Path:
    """Write batches as a finished journal file ``<name>.wal``, fsynced (the offline journal).

    A group ends (a cut) before a run repeats, so every batch is read back whole, with its id.
    """
    segment = Segment(folder, uri, name=f".{name}", suffix=".part")  # not read until renamed
    try:
        now, runs = time.time_ns() // 1_000_000, set[str]()
        for batch in batches:
            if batch["run_id"] in runs:
                segment.cut()
                runs.clear()
            runs.add(batch["run_id"])
            segment.batch(batch, now)
        segment.seal(folder / f"{name}.wal")
    except BaseException:
        with contextlib.suppress(OSError):
            segment.retire()
        raise
    return segment.path


def is_live(path: Path) -> bool:
    """True while the process that writes ``path`` holds it (another process, or this one)."""
    try:
        fd = os.open(path, os.O_RDONLY)
    except FileNotFoundError:
        return False
    try:
        fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
    except BlockingIOError:
        return True
    finally:
        os.close(fd)  # closing drops the shared lock if it was taken
    return False


@dataclass(frozen=True, slots=True)
class Group:
    """The batches between two cuts (or after the last cut of a dead writer)."""

    batches: list[dict[str, Any]]
    until: int  # the done offset once they are delivered


def read(path: Path) -> tuple[str, list[Group]] | None:
    """The URI and the undelivered groups of a dead writer's file; None if it is not one."""
    try:
        data = path.read_bytes()
    except OSError:
        return None
    if len(data) < HEAD or data[:8] != MAGIC:
        return None
    (done,) = _DONE.unpack_from(data, 8)
    (length,) = struct.unpack_from("<I", data, 16)
    uri = data[20 : 20 + length].decode()
    series: dict[int, tuple[str, str]] = {}
    pending: dict[str, Pending] = {}
    groups: list[Group] = []
    segment, cut, off = path.stem, 0, HEAD
    while off + _REC.size <= len(data) and data[off] != 0:
        kind, size = _REC.unpack_from(data, off)
        body = off + _REC.size
        off = body + size
        if kind == POINT:
            if off > done:
                sid, step, value, ts = _POINT.unpack_from(data, body - 4)[1:]
                run_id, key = series[sid]
                pending.setdefault(run_id, Pending()).point(key, step, value, ts)
            continue
        if kind == CUT:
            if off > done and pending:
                groups.append(Group(to_batches(segment, cut, pending), off))
            pending, cut = {}, cut + 1
            continue
        item = orjson.loads(data[body:off])
        if kind == KEY:
            series[item[0]] = (item[1], item[2])
        elif off > done:
            _apply(pending.setdefault(item[0], Pending()), kind, item[1])
    if pending:
        groups.append(Group(to_batches(segment, cut, pending), off))
    return uri, groups


def _apply(p: Pending, kind: int, value: Any) -> None:
    if kind == BATCH_ID:
        p.batch_id = value
    elif kind == CREATE:
        p.create = value
    elif kind == PARAMS:
        p.params.update(value)
    elif kind == TAGS:
        p.tags.update(value)
    elif kind == UPDATE:
        p.update = {**(p.update or {}), **value}


def mark_done(path: Path, offset: int, last: bool) -> None:
    """Record in a dead writer's file that what precedes ``offset`` was delivered."""
    if last:
        path.unlink(missing_ok=True)
        return
    try:
        with path.open("r+b") as handle:
            handle.seek(8)
            (done,) = _DONE.unpack(handle.read(8))
            if offset > done:
                handle.seek(8)
                handle.write(_DONE.pack(offset))
    except FileNotFoundError:
        pass
