"""Batches the SDK could not deliver, kept on disk until they are sent.

``journal/`` holds batches the server did not take for a reason that may pass (unreachable,
busy, failing, full): the SDK sends them when the server is back, and ``modelyard sync`` does.
``journal/rejected/`` holds batches the server refused for what they carry, each file with the
reason: ``modelyard sync --rejected`` shows them and sends them again.
``journal/*.wal`` are crash journals (``wal.py``): what a process that died logged and had not
delivered is read from them as entries too, so one ``sync`` drains both.
"""

from __future__ import annotations

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


def write(uri: str, batches: list[dict[str, Any]], folder: Path | None = None) -> Path:
    """Persist batches for a later send; files sort in the order they were written."""
    folder = folder or config.journal_dir()
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{time.time_ns():020d}-{uuid.uuid4().hex[:8]}.json"
    _dump(path, {"uri": uri, "batches": batches})
    return path


def set_aside(
    uri: str, batches: list[dict[str, Any]], reason: Refusal, folder: Path | None = None
) -> Path:
    """Keep batches the server refused, with its status, error code and message."""
    folder = folder or rejected_dir()
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{time.time_ns():020d}-{uuid.uuid4().hex[:8]}.json"
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

    A crash journal gives one entry per batch cut it holds, once the process writing it is gone.
    """
    folder = folder or config.journal_dir()
    out = []
    for path in sorted([*folder.glob("*.json"), *folder.glob("*.wal")]):
        if path.suffix == ".wal":
            out.extend(_crashed(path, uri))
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


def _crashed(path: Path, uri: str | None) -> list[JournalEntry]:
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
