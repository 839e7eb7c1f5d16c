"""Batches the SDK could not deliver, kept on disk until `modelyard sync` (or the SDK) sends them."""

from __future__ import annotations

import os
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson

from modelyard import config


@dataclass(frozen=True, slots=True)
class JournalEntry:
    path: Path
    uri: str
    batches: list[dict[str, Any]]


def write(uri: str, batches: list[dict[str, Any]], folder: Path | None = None) -> Path:
    """Persist batches atomically (temp file, fsync, rename)."""
    folder = folder or config.journal_dir()
    folder.mkdir(parents=True, exist_ok=True)
    name = f"{time.time_ns():020d}-{uuid.uuid4().hex[:8]}.json"
    tmp = folder / f".{name}.tmp"
    data = orjson.dumps({"uri": uri, "batches": batches}, option=orjson.OPT_SERIALIZE_NUMPY)
    with tmp.open("wb") as handle:
        handle.write(data)
        handle.flush()
        os.fsync(handle.fileno())
    final = folder / name
    os.replace(tmp, final)
    return final


def entries(folder: Path | None = None, uri: str | None = None) -> list[JournalEntry]:
    """Journal files in the order they were written; only those for ``uri`` when given."""
    folder = folder or config.journal_dir()
    out = []
    for path in sorted(folder.glob("*.json")):
        try:
            data = orjson.loads(path.read_bytes())
        except (OSError, orjson.JSONDecodeError):
            continue
        if uri is None or data.get("uri") == uri:
            out.append(JournalEntry(path, data.get("uri", ""), data.get("batches", [])))
    return out


def replay(
    send: Callable[[list[dict[str, Any]]], object],
    entry: JournalEntry,
) -> None:
    """Send one journal file and delete it; batch ids make a second send harmless."""
    send(entry.batches)
    try:
        entry.path.unlink()
    except FileNotFoundError:
        pass
