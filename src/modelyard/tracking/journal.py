"""Batches the SDK could not deliver, kept on disk until they are sent.

``journal/*.wal`` is one format (``wal.py``) for two things: crash journals (what a process
that died logged and had not delivered) and the offline journal (batches the server did not
take for a reason that may pass: unreachable, busy, failing, full). The SDK sends them when the
server is back, and ``modelyard sync`` does; one reader, one drain. ``journal/*.json`` files
are the offline journal of earlier versions: still read, sent once, then deleted.
``journal/rejected/`` is not a journal: it holds batches the server refused for what they carry,
each file with the reason, never replayed on its own: ``modelyard sync --rejected`` shows them
and sends them again.
"""

from __future__ import annotations

import hashlib
import os
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson

from modelyard import config
from modelyard.tracking import wal
from modelyard.tracking.client import Refusal


@dataclass(frozen=True, slots=True)
class JournalEntry:
    path: Path
    uri: str
    batches: list[dict[str, Any]]
    reason: Refusal | None = None  # set for a batch the server refused (journal/rejected/)
    until: int = 0  # in a crash journal (.wal): the done offset once these are delivered
    last: bool = True  # in a crash journal: nothing undelivered follows in the file

    @property
    def points(self) -> int:
        return points(self.batches)


def points(batches: list[dict[str, Any]]) -> int:
    """Metric points in wire-format batches."""
    return sum(_length(m.get("values")) for b in batches for m in b.get("metrics") or ())


def _length(values: Any) -> int:
    return 0 if values is None else len(values)  # a list, or a numpy array in memory


def rejected_dir() -> Path:
    """Where batches the server refused are set aside, each with the reason."""
    return config.journal_dir() / "rejected"


def _dump(path: Path, record: dict[str, Any]) -> None:
    """Write atomically: temp file, fsync, rename."""
    tmp = path.parent / f".{path.name}.tmp"
    data = orjson.dumps(record, option=orjson.OPT_SERIALIZE_NUMPY)
    with tmp.open("wb") as handle:
        handle.write(data)
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(tmp, path)


def write(
    uri: str, batches: list[dict[str, Any]], folder: Path | None = None, after: str | None = None
) -> Path:
    """Persist batches for a later send, as a finished ``.wal`` file; files sort in send order.

    ``after`` names what they were taken from (``<crash journal>-<cut>``), so the file sorts
    just before the rest of that crash journal: a replay keeps the order they were logged in.
    """
    folder = folder or config.journal_dir()
    return wal.write(
        folder, f"{after or f'{time.time_ns():020d}'}-{uuid.uuid4().hex[:8]}", uri, batches
    )


def set_aside(
    uri: str, batches: list[dict[str, Any]], reason: Refusal, folder: Path | None = None
) -> Path:
    """Keep batches the server refused, with its status, error code and message.

    Idempotent by batch ids: the same batches set aside again (a journal entry sent twice)
    replace their file, reason updated, rather than add one.
    """
    folder = folder or rejected_dir()
    folder.mkdir(parents=True, exist_ok=True)
    ids = [b.get("batch_id") for b in batches]
    if all(isinstance(i, str) for i in ids):
        key = hashlib.sha256("\n".join([uri, *map(str, ids)]).encode()).hexdigest()[:16]
    else:
        key = uuid.uuid4().hex[:16]
    path = min(folder.glob(f"*-{key}.json"), default=folder / f"{time.time_ns():020d}-{key}.json")
    _dump(path, {"uri": uri, "batches": batches, "reason": reason.to_json()})
    return path


def rewrite(entry: JournalEntry, batches: list[dict[str, Any]]) -> None:
    """Keep only ``batches`` in the entry's file (the others were sent or set aside).

    A crash journal is append-only: its entry stays whole and is sent again (ids dedupe).
    """
    if entry.path.suffix == ".wal":
        return
    record: dict[str, Any] = {"uri": entry.uri, "batches": batches}
    if entry.reason is not None:
        record["reason"] = entry.reason.to_json()
    _dump(entry.path, record)


def _reason(raw: Any) -> Refusal | None:
    if not isinstance(raw, dict):
        return None
    return Refusal(
        int(raw.get("status") or 0), str(raw.get("error_code", "")), str(raw.get("message", ""))
    )


def entries(folder: Path | None = None, uri: str | None = None) -> list[JournalEntry]:
    """Journal files in the order they were written; only those for ``uri`` when given.

    A ``.wal`` file gives one entry per undelivered group, once the process writing it is gone;
    a ``.json`` file (earlier versions, or set aside) gives one entry.
    """
    folder = folder or config.journal_dir()
    out = []
    for path in sorted([*folder.glob("*.json"), *folder.glob("*.wal")]):
        if path.suffix == ".wal":
            out.extend(_wal_entries(path, uri))
            continue
        try:
            data = orjson.loads(path.read_bytes())
        except (OSError, orjson.JSONDecodeError):
            continue
        if not isinstance(data, dict) or not isinstance(data.get("batches"), list):
            continue
        if uri is None or data.get("uri") == uri:
            out.append(
                JournalEntry(
                    path, str(data.get("uri", "")), data["batches"], _reason(data.get("reason"))
                )
            )
    return out


def _wal_entries(path: Path, uri: str | None) -> list[JournalEntry]:
    if wal.is_live(path):
        return []  # its own process sends it
    found = wal.read(path)
    if found is None or (uri is not None and found[0] != uri):
        return []
    groups = found[1]
    if not groups:
        path.unlink(missing_ok=True)  # everything in it was delivered
    return [
        JournalEntry(path, found[0], g.batches, until=g.until, last=i == len(groups) - 1)
        for i, g in enumerate(groups)
    ]


def remove(entry: JournalEntry) -> None:
    """Forget a delivered entry (gone already is fine: another sync sent it)."""
    if entry.path.suffix == ".wal":
        wal.mark_done(entry.path, entry.until, entry.last)
        return
    try:
        entry.path.unlink()
    except FileNotFoundError:
        pass
