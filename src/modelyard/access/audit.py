"""The audit log: one record per write, append-only and hash-chained.

Each record holds who (actor, how they proved it, the token), when (ms), from which address,
what (action, object kind and id, the HTTP status) and what changed (``changes``: before/after
of settings and permissions), then ``prev_hash`` (the hash of the record before; 64 zeros for
the first) and ``hash``: the SHA-256 of the canonical encoding of every other field
(:func:`digest`: orjson, keys sorted). One head row (seq, hash) in the metadata store is locked
by every append, so server replicas on one database extend one chain.

Removing, editing or moving a record breaks the chain; :meth:`AuditLog.verify` finds where.
Rewriting every record after the one edited (the algorithm has no secret) passes unless the
head's hash was kept elsewhere: :meth:`AuditLog.verify` returns it to note down.
"""

from __future__ import annotations

import csv
import hashlib
import io
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field, fields
from typing import Any

import orjson
from sqlalchemy import Connection, Row

from modelyard.access.entities import Identity
from modelyard.access.secrets import mask
from modelyard.errors import InvalidInput
from modelyard.store.metadata import audit_repo as repo
from modelyard.store.metadata.database import Database

GENESIS = repo.GENESIS
MAX_LIMIT = 1000
PAGE = 1000
MAX_PROBLEMS = 1000
MAX_CHANGES_BYTES = 256 << 10
MAX_FILTER = 500
_LOOKUPS = 20  # broken links whose target is looked up (each a scan of the table)
_ORIGINS = 100  # records failing their hash that are tried at other seqs (moved, not edited)
_NEAR = 8  # how far from its place a moved record is looked for
_SIZES = {  # the columns' lengths: values are cut to fit before they are hashed
    "actor": 250,
    "actor_kind": 16,
    "token_id": 32,
    "address": 64,
    "action": 128,
    "object_kind": 16,
    "object_id": 500,
}
_SECRET_KEYS = ("password", "secret", "token_hash", "csrf")
CSV_COLUMNS = (
    "seq",
    "at",
    "actor",
    "actor_kind",
    "token_id",
    "address",
    "action",
    "object_kind",
    "object_id",
    "status",
    "changes",
    "prev_hash",
    "hash",
)


def now_ms() -> int:
    return int(time.time() * 1000)


@dataclass(frozen=True, slots=True)
class Entry:
    """What one record says, before it joins the chain."""

    actor: str
    actor_kind: str
    action: str
    token_id: str | None = None
    address: str = ""
    object_kind: str = ""
    object_id: str = ""
    status: int = 200
    changes: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def of(cls, who: Identity, action: str, **values: Any) -> Entry:
        """An entry for an action of ``who``."""
        return cls(who.name, who.kind, action, token_id=who.token_id, **values)


@dataclass(frozen=True, slots=True)
class Record:
    seq: int
    at: int
    actor: str
    actor_kind: str
    token_id: str | None
    address: str
    action: str
    object_kind: str
    object_id: str
    status: int
    changes: Any  # a JSON object (the stored text when it no longer parses)
    prev_hash: str
    hash: str

    def hashed_fields(self) -> dict[str, Any]:
        """Every field but ``hash``: what :func:`digest` covers."""
        return {f.name: getattr(self, f.name) for f in fields(self) if f.name != "hash"}

    def to_json(self) -> dict[str, Any]:
        return {f.name: getattr(self, f.name) for f in fields(self)}


def digest(hashed: dict[str, Any]) -> str:
    """SHA-256 (hex) of the canonical encoding of a record's fields (all but ``hash``)."""
    return hashlib.sha256(orjson.dumps(hashed, option=orjson.OPT_SORT_KEYS)).hexdigest()


@dataclass(frozen=True, slots=True)
class Problem:
    seq: int
    kind: str  # edited | missing | reordered | head
    message: str

    def to_json(self) -> dict[str, Any]:
        return {"seq": self.seq, "kind": self.kind, "message": self.message}


@dataclass(frozen=True, slots=True)
class Verification:
    ok: bool
    records: int
    head_seq: int
    head_hash: str
    problems: tuple[Problem, ...]

    def to_json(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "records": self.records,
            "head_seq": self.head_seq,
            "head_hash": self.head_hash,
            "problems": [p.to_json() for p in self.problems],
        }


@dataclass(frozen=True, slots=True)
class Filter:
    """Which records: by actor, object, a piece of the action, a time range (ms: ``since``
    inclusive, ``until`` exclusive). None: any."""

    actor: str | None = None
    object_kind: str | None = None
    object_id: str | None = None
    action: str | None = None
    since: int | None = None
    until: int | None = None

    def __post_init__(self) -> None:
        for name in ("actor", "object_kind", "object_id", "action"):
            value = getattr(self, name)
            if value is not None and len(value) > MAX_FILTER:
                raise InvalidInput(f"{name} is longer than {MAX_FILTER} characters", field=name)
        for name in ("since", "until"):
            value = getattr(self, name)
            if value is not None and not 0 <= value < 1 << 62:
                raise InvalidInput(f"{name} must be a time in ms since 1970", field=name)

    def columns(self) -> dict[str, Any]:
        return {f.name: getattr(self, f.name) for f in fields(self)}


@dataclass(frozen=True, slots=True)
class Page:
    records: list[Record]
    next_after_seq: int | None  # oldest first: pass as after_seq for the next page
    next_before_seq: int | None  # newest first: pass as before_seq for the next page

    def to_json(self) -> dict[str, Any]:
        return {
            "records": [r.to_json() for r in self.records],
            "next_after_seq": self.next_after_seq,
            "next_before_seq": self.next_before_seq,
        }


class AuditLog:
    """Append, query and verify the chain in one metadata store."""

    def __init__(self, db: Database, clock: Callable[[], int] = now_ms) -> None:
        self.db = db
        self.clock = clock

    def append(self, entry: Entry) -> Record:
        """Add one record after the head, in one transaction (the head row locked)."""
        return self.append_many([entry])[0]

    def append_many(self, entries: Sequence[Entry]) -> list[Record]:
        """Add records after the head, in order, in one transaction (the head locked once)."""
        fitted = [_fitted(e) for e in entries]
        at = self.clock()

        def job(conn: Connection) -> list[Record]:
            seq, prev = repo.lock_head(conn)
            out: list[Record] = []
            for values in fitted:
                seq += 1
                record = _with_hash(Record(seq=seq, at=at, prev_hash=prev, hash="", **values))
                out.append(record)
                prev = record.hash
            repo.insert(conn, [_row(r) for r in out])
            return out

        return self.db.write(job) if entries else []

    def query(
        self,
        where: Filter = Filter(),
        *,
        limit: int = 100,
        after_seq: int | None = None,
        before_seq: int | None = None,
        newest_first: bool = False,
    ) -> Page:
        """One page of matching records, oldest first (``after_seq``), or newest first
        (``newest_first``, ``before_seq``)."""
        if not 1 <= limit <= MAX_LIMIT:
            raise InvalidInput(f"limit must be 1-{MAX_LIMIT}", field="limit")
        for name, cursor in (("after_seq", after_seq), ("before_seq", before_seq)):
            if cursor is not None and not 0 <= cursor < 1 << 62:
                raise InvalidInput(f"{name} must be a record's seq", field=name)
        with self.db.read() as conn:
            rows = repo.records(
                conn,
                **where.columns(),
                after_seq=after_seq,
                before_seq=before_seq,
                newest_first=newest_first,
                limit=limit + 1,
            )
        found = [_record(r) for r in rows[:limit]]
        more = len(rows) > limit
        last = found[-1].seq if more else None
        return Page(
            found,
            None if newest_first else last,
            last if newest_first else None,
        )

    def records(self, where: Filter = Filter(), *, limit: int | None = None) -> Iterator[Record]:
        """Every matching record, oldest first, read a page at a time (for exports)."""
        after: int | None = None
        left = limit
        while left is None or left > 0:
            size = PAGE if left is None else min(PAGE, left)
            page = self.query(where, limit=size, after_seq=after)
            yield from page.records
            if left is not None:
                left -= len(page.records)
            if page.next_after_seq is None:
                return
            after = page.next_after_seq

    def verify(self) -> Verification:
        """Walk the chain in seq order: each record's hash, its link to the one before, seq
        continuity, and the head. Reads one snapshot (appends made meanwhile are not seen)."""
        with self.db.read() as conn:
            if conn.dialect.name == "postgresql":
                conn = conn.execution_options(isolation_level="REPEATABLE READ")
            return _Walk(conn).run()


class _Walk:
    """One verification over one snapshot."""

    def __init__(self, conn: Connection) -> None:
        self.conn = conn
        self.problems: list[Problem] = []
        self.lookups = _LOOKUPS
        self.origins = _ORIGINS

    def note(self, seq: int, kind: str, message: str) -> None:
        if len(self.problems) < MAX_PROBLEMS:
            self.problems.append(Problem(seq, kind, message))

    def run(self) -> Verification:
        head = repo.head(self.conn)
        count = 0
        last: Record | None = None
        after = 0
        while True:
            rows = repo.records(self.conn, after_seq=after, limit=PAGE)
            for row in rows:
                record = _record(row)
                self.check(record, last)
                last, count = record, count + 1
            if len(rows) < PAGE:
                break
            after = int(rows[-1].seq)
        self.check_head(head, last)
        head_seq, head_hash = head or (0, GENESIS)
        return Verification(not self.problems, count, head_seq, head_hash, tuple(self.problems))

    def check(self, record: Record, before: Record | None) -> None:
        expected = 1 if before is None else before.seq + 1
        linked = GENESIS if before is None else before.hash
        if record.seq > expected:
            self.note(expected, "missing", f"records {_span(expected, record.seq - 1)} are gone")
        if digest(record.hashed_fields()) != record.hash:
            moved_from = self.origin(record)
            if moved_from is not None:
                self.note(
                    record.seq,
                    "reordered",
                    f"record {moved_from} was moved to seq {record.seq}",
                )
            else:
                self.note(record.seq, "edited", f"record {record.seq} does not match its hash")
        elif record.seq == expected and record.prev_hash != linked:
            target = self.find(record.prev_hash)
            if target is not None and target != expected - 1:
                self.note(
                    record.seq,
                    "reordered",
                    f"record {record.seq} follows record {target}, not {expected - 1}",
                )
            elif before is None:
                self.note(record.seq, "edited", f"record {record.seq} does not start the chain")
            else:
                self.note(
                    before.seq,
                    "edited",
                    f"record {before.seq} was rewritten: record {record.seq} chains to "
                    "another hash",
                )

    def check_head(self, head: tuple[int, str] | None, last: Record | None) -> None:
        if head is None:
            if last is not None:
                self.note(last.seq, "head", "records exist but the chain has no head")
            return
        seq, hashed = head
        if last is None or seq > last.seq:
            start = 1 if last is None else last.seq + 1
            if seq >= start:
                self.note(start, "missing", f"records {_span(start, seq)} are gone")
            return
        if seq < last.seq:
            self.note(
                seq + 1,
                "head",
                f"records {_span(seq + 1, last.seq)} were added outside the chain's head",
            )
        elif hashed != last.hash:
            self.note(seq, "head", f"the head's hash is not record {seq}'s")

    def find(self, hashed: str) -> int | None:
        """The seq of the record whose hash is ``hashed`` (0 for the genesis hash)."""
        if hashed == GENESIS:
            return 0
        if self.lookups <= 0:
            return None
        self.lookups -= 1
        return repo.seq_of_hash(self.conn, hashed)

    def origin(self, record: Record) -> int | None:
        """The seq a record whose hash fails held before it was moved: one near its place, or
        after the record it chains to, at which its fields match its hash."""
        if self.origins <= 0:
            return None
        self.origins -= 1
        candidates = [record.seq + d for d in range(-_NEAR, _NEAR + 1) if d]
        target = self.find(record.prev_hash)
        if target is not None:
            candidates.insert(0, target + 1)
        fields_ = record.hashed_fields()
        for seq in candidates:
            if seq > 0 and seq != record.seq and digest({**fields_, "seq": seq}) == record.hash:
                return seq
        return None


def _span(first: int, last: int) -> str:
    return str(first) if first == last else f"{first}-{last}"


# ---- encoding


def _fitted(entry: Entry) -> dict[str, Any]:
    """The entry's values as stored: text cut to its column, no NULs, changes as plain JSON
    with secrets masked."""
    out: dict[str, Any] = {}
    for name in ("actor", "actor_kind", "token_id", "address", "action", "object_kind"):
        value = getattr(entry, name)
        out[name] = None if value is None else _text(value, _SIZES[name])
    out["object_id"] = _text(entry.object_id, _SIZES["object_id"])
    out["status"] = int(entry.status)
    out["changes"] = plain_changes(entry.changes)
    return out


def _text(value: str, size: int | None = None) -> str:
    """Text any store keeps as it is: no NULs, no lone surrogates; cut to ``size``."""
    clean = str(value).encode("utf-8", "replace").decode().replace("\x00", "\ufffd")
    return clean if size is None else clean[:size]


def plain_changes(changes: dict[str, Any]) -> dict[str, Any]:
    """``changes`` as JSON round-trips it, secrets masked (a value under a key naming a
    password or secret is replaced), at most :data:`MAX_CHANGES_BYTES` encoded."""
    try:
        encoded = orjson.dumps(
            _scrub(changes, 0), default=str, option=orjson.OPT_NON_STR_KEYS | orjson.OPT_SORT_KEYS
        )
    except orjson.JSONEncodeError as exc:
        return {"unrecorded": f"changes not encodable: {exc}"}
    if len(encoded) > MAX_CHANGES_BYTES:
        return {"unrecorded": f"changes of {len(encoded)} bytes, over {MAX_CHANGES_BYTES}"}
    plain: dict[str, Any] = orjson.loads(encoded)
    return plain


def _scrub(value: Any, depth: int) -> Any:
    if depth > 32:
        return "..."
    if isinstance(value, dict):
        return {
            _key(k): "****" if _secret_key(k) else _scrub(v, depth + 1) for k, v in value.items()
        }
    if isinstance(value, list | tuple):
        return [_scrub(v, depth + 1) for v in value]
    if isinstance(value, str):
        return mask(_text(value))
    if isinstance(value, int) and not isinstance(value, bool) and not -(1 << 63) <= value < 1 << 64:
        return str(value)  # past the integers JSON encoders keep exactly
    return value


def _key(key: object) -> object:
    return _text(key) if isinstance(key, str) else key


def _secret_key(key: object) -> bool:
    return isinstance(key, str) and any(s in key.lower() for s in _SECRET_KEYS)


def _with_hash(record: Record) -> Record:
    values = record.to_json()
    values["hash"] = digest(record.hashed_fields())
    return Record(**values)


def _row(record: Record) -> dict[str, Any]:
    values = record.to_json()
    values["changes_doc"] = orjson.dumps(
        values.pop("changes"), option=orjson.OPT_SORT_KEYS
    ).decode()
    return values


def _record(row: Row[Any]) -> Record:
    try:
        changes: Any = orjson.loads(row.changes_doc)
    except orjson.JSONDecodeError:
        changes = row.changes_doc
    return Record(
        seq=int(row.seq),
        at=int(row.at),
        actor=row.actor,
        actor_kind=row.actor_kind,
        token_id=row.token_id,
        address=row.address,
        action=row.action,
        object_kind=row.object_kind,
        object_id=row.object_id,
        status=int(row.status),
        changes=changes,
        prev_hash=row.prev_hash,
        hash=row.hash,
    )


# ---- export


def jsonl(records: Iterable[Record]) -> Iterator[bytes]:
    """One JSON object a line (the fields as hashed: a verifier can recompute each hash)."""
    for record in records:
        yield orjson.dumps(record.to_json(), option=orjson.OPT_APPEND_NEWLINE)


def csv_lines(records: Iterable[Record]) -> Iterator[str]:
    """A header, then one line a record (``changes`` as JSON). Cells a spreadsheet would take
    for a formula (starting with = + - @ or a tab) get a leading apostrophe."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")

    def line(cells: Iterable[Any]) -> str:
        buffer.seek(0)
        buffer.truncate()
        writer.writerow(cells)
        return buffer.getvalue()

    yield line(CSV_COLUMNS)
    for record in records:
        values = record.to_json()
        values["changes"] = orjson.dumps(values["changes"], option=orjson.OPT_SORT_KEYS).decode()
        yield line(_cell(values[c]) for c in CSV_COLUMNS)


def _cell(value: Any) -> Any:
    if isinstance(value, str) and value[:1] in ("=", "+", "-", "@", "\t", "\r"):
        return "'" + value
    return "" if value is None else value
