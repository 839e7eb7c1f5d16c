"""The audit chain on SQLite and PostgreSQL: appends, tampering found by verify (a record
deleted, edited, rewritten with a fresh hash, moved; the head), concurrent writers, queries."""

from __future__ import annotations

import hashlib
import itertools
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import text

from modelyard.access.audit import (
    GENESIS,
    AuditLog,
    Entry,
    Filter,
    Record,
    csv_lines,
    digest,
    jsonl,
)
from modelyard.access.entities import Identity, Scope
from modelyard.errors import InvalidInput
from modelyard.store.metadata.database import Database


@pytest.fixture
def db(store_uri: str) -> Iterator[Database]:
    database = Database(store_uri)
    yield database
    database.close()


@pytest.fixture
def lite(tmp_path: Path) -> Iterator[Database]:
    """A SQLite store (the checks that do not depend on the database)."""
    database = Database(f"sqlite:///{tmp_path / 'store.db'}")
    yield database
    database.close()


def entry(n: int, actor: str = "alice", **values: Any) -> Entry:
    values.setdefault("object_kind", "model")
    values.setdefault("object_id", f"m{n % 3}")
    return Entry(actor, "user", f"POST /api/v1/models/{{name}}/versions #{n}", **values)


def fill(log: AuditLog, n: int) -> list[Record]:
    return [log.append(entry(i)) for i in range(n)]


def sql(db: Database, statement: str, **params: Any) -> None:
    db.write(lambda conn: conn.execute(text(statement), params))


def problems(log: AuditLog) -> list[tuple[int, str]]:
    found = log.verify()
    assert found.ok is (not found.problems)
    return [(p.seq, p.kind) for p in found.problems]


def test_a_chain_of_many_writes_verifies(db: Database) -> None:
    log = AuditLog(db)
    records = fill(log, 120)
    assert [r.seq for r in records] == list(range(1, 121))
    assert records[0].prev_hash == GENESIS
    for before, after in itertools.pairwise(records):
        assert after.prev_hash == before.hash
    for record in records:  # the hash is the SHA-256 of the other fields, keys sorted
        fields = {k: v for k, v in record.to_json().items() if k != "hash"}
        canonical = orjson.dumps(fields, option=orjson.OPT_SORT_KEYS)
        assert record.hash == hashlib.sha256(canonical).hexdigest()
    result = log.verify()
    assert result.to_json() == {
        "ok": True,
        "records": 120,
        "head_seq": 120,
        "head_hash": records[-1].hash,
        "problems": [],
    }
    stored = log.query(limit=1000).records
    assert stored == records  # what the store gives back is what was hashed


def test_records_appended_together_chain_in_order(db: Database) -> None:
    log = AuditLog(db)
    first = log.append(entry(0))
    batch = log.append_many([entry(n, actor=f"a{n}") for n in range(1, 6)])
    assert [r.seq for r in batch] == [2, 3, 4, 5, 6]
    assert [r.actor for r in batch] == ["a1", "a2", "a3", "a4", "a5"]
    assert [r.prev_hash for r in batch] == [first.hash, *(r.hash for r in batch[:-1])]
    assert log.append_many([]) == []
    assert log.query(after_seq=1).records == batch
    assert log.verify().ok


def test_an_empty_log_verifies(tmp_path: Path) -> None:
    db = Database(f"sqlite:///{tmp_path / 'store.db'}")
    try:
        assert AuditLog(db).verify().to_json() == {
            "ok": True,
            "records": 0,
            "head_seq": 0,
            "head_hash": GENESIS,
            "problems": [],
        }
    finally:
        db.close()


def test_a_deleted_record_is_missing(db: Database) -> None:
    log = AuditLog(db)
    fill(log, 20)
    sql(db, "DELETE FROM audit_records WHERE seq IN (7, 8)")
    assert problems(log) == [(7, "missing")]
    assert "records 7-8 are gone" in log.verify().problems[0].message


def test_the_last_records_deleted_are_missing_against_the_head(lite: Database) -> None:
    log = AuditLog(lite)
    fill(log, 10)
    sql(lite, "DELETE FROM audit_records WHERE seq >= 9")
    assert problems(log) == [(9, "missing")]


def test_every_record_deleted_is_missing(lite: Database) -> None:
    log = AuditLog(lite)
    fill(log, 3)
    sql(lite, "DELETE FROM audit_records")
    assert problems(log) == [(1, "missing")]


def test_the_first_record_deleted_is_missing(lite: Database) -> None:
    log = AuditLog(lite)
    fill(log, 5)
    sql(lite, "DELETE FROM audit_records WHERE seq = 1")
    assert problems(log) == [(1, "missing")]


@pytest.mark.parametrize(
    ("column", "value"),
    [
        ("actor", "mallory"),
        ("status", 403),
        ("at", 0),
        ("changes_doc", '{"after": {"role": "viewer"}}'),
        ("changes_doc", "not json"),
        ("token_id", "abc"),
        ("prev_hash", "f" * 64),
    ],
)
def test_an_edited_field_is_found(lite: Database, column: str, value: object) -> None:
    log = AuditLog(lite)
    fill(log, 12)
    sql(lite, f"UPDATE audit_records SET {column} = :v WHERE seq = 5", v=value)
    assert problems(log) == [(5, "edited")]


def test_an_edited_record_is_found(db: Database) -> None:
    log = AuditLog(db)
    fill(log, 12)
    sql(db, "UPDATE audit_records SET actor = 'mallory', status = 200 WHERE seq = 5")
    assert problems(log) == [(5, "edited")]
    assert log.verify().problems[0].message == "record 5 does not match its hash"


def test_a_record_rewritten_with_a_fresh_hash_breaks_the_next_link(lite: Database) -> None:
    log = AuditLog(lite)
    records = fill(log, 12)
    forged = {**records[4].to_json(), "actor": "mallory"}
    forged.pop("hash")
    sql(
        lite,
        "UPDATE audit_records SET actor = 'mallory', hash = :h WHERE seq = 5",
        h=digest(forged),
    )
    assert problems(log) == [(5, "edited")]


def test_the_last_record_rewritten_with_a_fresh_hash_breaks_the_head(lite: Database) -> None:
    log = AuditLog(lite)
    records = fill(log, 4)
    forged = {**records[-1].to_json(), "status": 201}
    forged.pop("hash")
    sql(lite, "UPDATE audit_records SET status = 201, hash = :h WHERE seq = 4", h=digest(forged))
    assert problems(log) == [(4, "head")]


def test_swapped_records_are_reordered(lite: Database) -> None:
    log = AuditLog(lite)
    fill(log, 12)
    sql(lite, "UPDATE audit_records SET seq = -1 WHERE seq = 5")
    sql(lite, "UPDATE audit_records SET seq = 5 WHERE seq = 6")
    sql(lite, "UPDATE audit_records SET seq = 6 WHERE seq = -1")
    found = log.verify()
    assert not found.ok
    assert {p.kind for p in found.problems} == {"reordered"}
    assert [p.seq for p in found.problems] == [5, 6, 7]
    assert found.problems[0].message == "record 6 was moved to seq 5"


def test_a_record_added_past_the_head_is_found(lite: Database) -> None:
    log = AuditLog(lite)
    records = fill(log, 3)
    forged = {**records[-1].to_json(), "seq": 4, "prev_hash": records[-1].hash}
    forged["hash"] = digest({k: v for k, v in forged.items() if k != "hash"})
    forged["changes_doc"] = orjson.dumps(forged.pop("changes")).decode()
    columns = ", ".join(forged)
    sql(lite, f"INSERT INTO audit_records ({columns}) VALUES (:{', :'.join(forged)})", **forged)
    assert problems(log) == [(4, "head")]


def test_a_moved_head_is_found(lite: Database) -> None:
    log = AuditLog(lite)
    fill(log, 3)
    sql(lite, "UPDATE audit_head SET hash = :h", h="a" * 64)
    assert problems(log) == [(3, "head")]
    sql(lite, "DELETE FROM audit_head")
    assert problems(log) == [(3, "head")]


def test_concurrent_writers_extend_one_gap_free_chain(store_uri: str) -> None:
    """Threads on two Database objects (two servers' pools on one store) append at once."""
    first, second = Database(store_uri), Database(store_uri)
    try:
        logs = [AuditLog(first), AuditLog(second)]
        errors: list[BaseException] = []

        def write(k: int) -> None:
            try:
                for i in range(25):
                    logs[k % 2].append(entry(i, actor=f"writer{k}"))
            except BaseException as exc:  # pragma: no cover - reported below
                errors.append(exc)

        threads = [threading.Thread(target=write, args=(k,)) for k in range(8)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert errors == []
        result = logs[0].verify()
        assert result.ok, result.problems
        assert result.records == result.head_seq == 200
        seqs = [r.seq for r in logs[1].records()]
        assert seqs == list(range(1, 201))
    finally:
        first.close()
        second.close()


def test_query_filters_and_pages_by_seq(db: Database) -> None:
    clock = iter(range(1000, 10_000, 10))
    log = AuditLog(db, clock=lambda: next(clock))
    for i in range(30):
        who = "alice" if i % 2 else "bob"
        action = "DELETE /api/v1/models/{name}" if i % 5 == 0 else "POST /api/v1/runs/{run_id}/log"
        log.append(Entry(who, "user", action, object_kind="run", object_id=f"r{i % 4}"))
    everything = log.query(limit=1000).records
    assert len(everything) == 30
    assert [r.seq for r in log.query(Filter(actor="alice"), limit=1000).records] == list(
        range(2, 31, 2)
    )
    assert [r.seq for r in log.query(Filter(action="DELETE"), limit=1000).records] == [
        1, 6, 11, 16, 21, 26,
    ]  # fmt: skip
    runs = log.query(Filter(object_kind="run", object_id="r1"), limit=1000).records
    assert [r.seq for r in runs] == [2, 6, 10, 14, 18, 22, 26, 30]
    assert log.query(Filter(object_kind="model"), limit=10).records == []
    # since inclusive, until exclusive (the clock gave 1000, 1010, ...)
    timed = log.query(Filter(since=1050, until=1100), limit=1000).records
    assert [r.at for r in timed] == [1050, 1060, 1070, 1080, 1090]
    # oldest first, a page at a time
    pages, after = [], None
    while True:
        page = log.query(limit=7, after_seq=after)
        pages.append([r.seq for r in page.records])
        assert page.next_before_seq is None
        if page.next_after_seq is None:
            break
        after = page.next_after_seq
    assert pages == [list(range(s, min(s + 7, 31))) for s in range(1, 31, 7)]
    # newest first
    newest = log.query(limit=4, newest_first=True)
    assert [r.seq for r in newest.records] == [30, 29, 28, 27]
    assert newest.next_after_seq is None
    older = log.query(limit=4, newest_first=True, before_seq=newest.next_before_seq)
    assert [r.seq for r in older.records] == [26, 25, 24, 23]
    assert list(log.records(Filter(actor="bob"), limit=3)) == everything[0:6:2]


def test_an_action_filter_is_a_plain_substring(db: Database) -> None:
    log = AuditLog(db)
    log.append(Entry("a", "user", "POST /api/v1/x_y"))
    log.append(Entry("a", "user", "POST /api/v1/xzy"))
    log.append(Entry("a", "user", "POST /api/v1/100%"))
    assert [r.seq for r in log.query(Filter(action="x_y")).records] == [1]
    assert [r.seq for r in log.query(Filter(action="%")).records] == [3]


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda log: log.query(limit=0), "limit must be 1-1000"),
        (lambda log: log.query(limit=1001), "limit must be 1-1000"),
        (lambda log: log.query(after_seq=-1), "after_seq must be"),
        (lambda log: log.query(Filter(since=-5)), "since must be a time"),
        (lambda log: log.query(Filter(until=1 << 63)), "until must be a time"),
        (lambda log: log.query(Filter(actor="a" * 501)), "actor is longer than 500"),
    ],
)
def test_bad_queries_are_refused(shared_log: AuditLog, call: Any, message: str) -> None:
    with pytest.raises(InvalidInput, match=message):
        call(shared_log)


def test_values_are_fitted_and_secrets_masked(db: Database) -> None:
    log = AuditLog(db)
    token = "myt_abcdefghijkl_" + "A" * 43
    record = log.append(
        Entry(
            "x" * 400,
            "token",
            "POST " + "/a" * 100,
            token_id="abcdefghijkl",
            object_kind="model",
            object_id="m\x00" * 300,
            changes={
                "after": {"password": "hunter22", "note": f"logged {token}", "n": 10**30},
                "client_secret": "s3cret",
                "values": [1.5, float("nan"), None, True],
            },
        )
    )
    assert len(record.actor) == 250
    assert len(record.action) == 128
    assert len(record.object_id) == 500
    assert "\x00" not in record.object_id
    assert record.changes == {
        "after": {"n": str(10**30), "note": "logged myt_****", "password": "****"},
        "client_secret": "****",
        "values": [1.5, None, None, True],
    }
    assert "hunter22" not in orjson.dumps(record.changes).decode()
    assert "s3cret" not in orjson.dumps(record.changes).decode()
    assert token not in orjson.dumps(record.changes).decode()
    assert log.query().records == [record]
    assert log.verify().ok


def test_an_identity_gives_an_entry_its_actor() -> None:
    who = Identity("alice", kind="token", user_id=3, token_id="t0k3n", scope=Scope.WRITE)
    made = Entry.of(who, "DELETE /api/v1/runs/{run_id}", status=200)
    assert (made.actor, made.actor_kind, made.token_id) == ("alice", "token", "t0k3n")


def test_exports_are_json_lines_and_csv_with_formulas_defused(lite: Database) -> None:
    log = AuditLog(lite)
    log.append(Entry("=HYPERLINK()", "user", "POST /x", object_id="+1", changes={"a": [1]}))
    log.append(Entry("bob", "user", "DELETE /y", object_id="-2", address="@host"))
    records = list(log.records())
    lines = b"".join(jsonl(records)).splitlines()
    assert [orjson.loads(line) for line in lines] == [r.to_json() for r in records]
    for line in lines:  # a verifier recomputes each hash from the export alone
        doc = orjson.loads(line)
        claimed = doc.pop("hash")
        assert hashlib.sha256(orjson.dumps(doc, option=orjson.OPT_SORT_KEYS)).hexdigest() == claimed
    table = "".join(csv_lines(records)).splitlines()
    assert table[0].startswith("seq,at,actor,actor_kind,token_id,address,action,object_kind")
    assert table[1].split(",")[2] == "'=HYPERLINK()"
    assert "'+1" in table[1]
    assert '"{""a"":[1]}"' in table[1]
    assert "'-2" in table[2]
    assert "'@host" in table[2]


# ---- any values round-trip: what is stored is what was hashed


@pytest.fixture(scope="module")
def shared_log(tmp_path_factory: pytest.TempPathFactory) -> Iterator[AuditLog]:
    db = Database(f"sqlite:///{tmp_path_factory.mktemp('audit') / 'store.db'}")
    yield AuditLog(db)
    db.close()


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(), inner, max_size=4),
    max_leaves=12,
)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    actor=st.text(max_size=300),
    action=st.text(max_size=200),
    object_id=st.text(max_size=600),
    address=st.text(max_size=80),
    changes=st.dictionaries(st.text(max_size=20), json_values, max_size=5),
)
def test_any_entry_is_stored_as_hashed(
    shared_log: AuditLog,
    actor: str,
    action: str,
    object_id: str,
    address: str,
    changes: dict[str, Any],
) -> None:
    record = shared_log.append(
        Entry(actor, "user", action, address=address, object_id=object_id, changes=changes)
    )
    stored = shared_log.query(Filter(), after_seq=record.seq - 1, limit=1).records
    assert stored == [record]
    assert digest(record.hashed_fields()) == record.hash
