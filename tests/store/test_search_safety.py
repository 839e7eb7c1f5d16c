"""Regex searches on each store: one dialect (RE2), linear time, the same answers everywhere.

Runs are searched in SQL (SQLite's REGEXP is RE2; PostgreSQL gets each pattern rewritten and a
statement timeout); experiments and the registry are searched in memory (RE2 as well).
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import literal, select

from modelyard.errors import BadFilter
from modelyard.registry.service import RegistryService
from modelyard.store.metadata import run_search
from modelyard.store.stores import open_stores
from modelyard.testing.postgres import create_database
from modelyard.tracking import search_regex
from modelyard.tracking.batches import new_run_id
from modelyard.tracking.entities import RunBatch, RunCreate
from modelyard.tracking.service import TrackingService

HOSTILE = "a" * 39 + "!"  # ^(a+)+$ over it: 2**39 backtracking paths, no match


@pytest.fixture
def svc(store_uri: str, tmp_path: Path) -> Iterator[TrackingService]:
    stores = open_stores(store_uri, str(tmp_path / "art"))
    service = TrackingService(stores.db, stores.artifacts)
    yield service
    service.close()


def log_runs(svc: TrackingService, experiment: str, tags: list[dict[str, str]]) -> list[str]:
    ids = [new_run_id() for _ in tags]
    svc.ingest(
        [
            RunBatch(run_id=rid, create=RunCreate(experiment_name=experiment, name=str(i)), tags=t)
            for i, (rid, t) in enumerate(zip(ids, tags, strict=True))
        ],
        user="t",
    )
    return ids


def names(svc: TrackingService, filter_: str) -> set[str]:
    return {r.name for r in svc.search_runs(filter=filter_).runs if r.name is not None}


def test_catastrophic_regex_answers_fast(svc: TrackingService) -> None:
    log_runs(svc, "e", [{"t": HOSTILE}, {"t": "a" * 40}, {"t": "b"}])
    start = time.perf_counter()
    found = names(svc, "tags.t ~ '^(a+)+$'")
    assert time.perf_counter() - start < 5.0  # Python's re needed 7.5 s at 28 characters
    assert found == {"1"}
    assert names(svc, "tags.t !~ '^(a+)+$'") == {"0", "2"}


TEXTS = [
    "a",
    "ABC",
    "abc",
    "a\nb",
    "x.y",
    "v1.2.3",
    " 42 ",
    "é",
    "É",
    "_",
    "-",
    "[",
    "]",
    "{",
    "a{1,x}",
    "\t",
    "foo_bar-baz",
    "Ω",
    "\\",
    "😀",
    "word boundary",
    "[:a:]",
]
PATTERNS = [
    "^a",
    "c$",
    "^a.b$",
    r"\d",
    r"\D",
    r"^\w+$",
    r"\W",
    r"\s",
    r"[\d.]+$",
    r"[^\d\s]",
    "[[:alpha:]]",
    "[[:punct:]]",
    "^[[:alnum:]_-]+$",
    "[[:space:]]",
    "(?i)^abc$",
    "(?i)[a-c]{3}",
    r"\Aa",
    r"c\z",
    "a{1,x}",
    r"^v\d+(\.\d+){2}$",
    "(a|b)+",
    "(?P<n>a)b",
    r"\x41",
    r"\x{1F600}",
    r"[\x41-\x5A]",
    r"\.",
    r"\\",
    r"[\]]",
    "[]a]",
    "[^]a]",
    "[a-]",
    "[[.a.]]",
    r"\{",
    "^.$",
    "(?s)a.b",
    "a.*?b",
    "Ω|é",
    "^$|^_$",
    r"[\w-]{3,}",
]


def test_ordinary_regexes_answer_as_re2_does(svc: TrackingService) -> None:
    log_runs(svc, "corpus", [{"t": text} for text in TEXTS])
    for pattern in PATTERNS:
        expected = {str(i) for i, text in enumerate(TEXTS) if search_regex.search(pattern, text)}
        quoted = pattern.replace("\\", "\\\\").replace("'", "\\'")
        assert names(svc, f"tags.t ~ '{quoted}'") == expected, pattern
        assert names(svc, f"tags.t REGEXP '{quoted}'") == expected, pattern
    assert names(svc, r"name ~ '^1\d$'") == {str(i) for i in range(10, len(TEXTS)) if i < 20}


def test_numbers_are_still_detected(svc: TrackingService) -> None:
    log_runs(svc, "n", [{"v": " 1.5e3 "}, {"v": "0.01"}, {"v": "1.2.3"}, {"v": "-.5"}])
    assert names(svc, "tags.v > 100") == {"0"}
    assert names(svc, "tags.v < 0.1") == {"1", "3"}
    with svc.db.read() as conn:  # the pattern PostgreSQL uses to tell numbers, under each REGEXP
        probe = select(literal(" 1.5e3 ").regexp_match(run_search._NUMERIC_RE))
        assert bool(conn.execute(probe).scalar()) is True
        probe = select(literal("1.2.3").regexp_match(run_search._NUMERIC_RE))
        assert bool(conn.execute(probe).scalar()) is False


@pytest.mark.parametrize("pattern", [r"(a)\\1", "(?=a)", "(?<!a)b", "a{2000}"])
def test_patterns_outside_re2_are_refused(svc: TrackingService, pattern: str) -> None:
    with pytest.raises(BadFilter, match="RE2 syntax"):
        svc.search_runs(filter=f"tags.t ~ '{pattern}'")


@pytest.mark.parametrize(
    ("pattern", "problem"),
    [(r"\\bword", "backspace"), (r"\\pL", "Unicode classes"), ("a(?i)b", "very start")],
)
def test_postgres_refuses_what_it_reads_differently(
    svc: TrackingService, store_uri: str, pattern: str, problem: str
) -> None:
    log_runs(svc, "e", [{"t": "word boundary"}, {"t": "aB"}])
    if store_uri.startswith("sqlite"):
        assert names(svc, f"tags.t ~ '{pattern}'")
        return
    with pytest.raises(BadFilter, match=problem) as err:
        svc.search_runs(filter=f"tags.t ~ '{pattern}'")
    assert "PostgreSQL" in err.value.message


def test_experiments_and_registry_search_in_linear_time(
    svc: TrackingService, tmp_path: Path
) -> None:
    svc.create_experiment(HOSTILE, tags={"t": HOSTILE})
    svc.create_experiment("a" * 40)
    registry = RegistryService(svc.db, svc.artifacts)
    registry.create_model(HOSTILE, user="test")
    registry.create_model("m", tags={"t": "a" * 40}, user="test")
    start = time.perf_counter()
    experiments, _ = svc.search_experiments("name ~ '^(a+)+$' OR tags.t ~ '^(a+)+$'")
    models, _ = registry.search_models("name ~ '^(a+)+$' OR tags.t ~ '^(a+)+$'")
    versions, _ = registry.search_versions("name ~ '^(a+)+$'")
    liked, _ = registry.search_models("name LIKE '" + "%a" * 30 + "%b'")
    assert time.perf_counter() - start < 5.0
    assert [e.name for e in experiments] == ["a" * 40]
    assert [m.name for m in models] == ["m"]
    assert versions == []
    assert liked == []
    with pytest.raises(BadFilter, match="RE2 syntax"):
        registry.search_models(r"name ~ '(a)\\1'")
    with pytest.raises(BadFilter, match="RE2 syntax"):
        svc.search_experiments("name ~ '(?=a)'")


@pytest.fixture
def pg_svc(postgres_admin_url: str, tmp_path: Path) -> Iterator[TrackingService]:
    uri = create_database(postgres_admin_url, f"t_{uuid.uuid4().hex[:12]}")
    stores = open_stores(uri, str(tmp_path / "art"))
    service = TrackingService(stores.db, stores.artifacts)
    yield service
    service.close()


@pytest.mark.postgres
def test_postgres_regex_search_past_its_timeout_is_a_bad_filter(
    pg_svc: TrackingService, monkeypatch: pytest.MonkeyPatch
) -> None:
    # 6 MB of tag text to scan: PostgreSQL needs far longer than the 1 ms the test allows
    block = "0123456789abcdef" * 2_000
    log_runs(pg_svc, "big", [{"t": block + str(i)} for i in range(200)])
    pattern = "tags.t ~ '[0-9]{3}[g-z]'"
    monkeypatch.setattr(run_search, "REGEX_STATEMENT_TIMEOUT_MS", 1)
    start = time.perf_counter()
    with pytest.raises(BadFilter, match=r"stopped after 0\.001 s") as err:
        pg_svc.search_runs(filter=pattern)
    assert time.perf_counter() - start < 5.0
    assert err.value.details == {"timeout_ms": 1}
    # SET LOCAL: the pooled connections keep no timeout once the transaction ends
    assert len(pg_svc.search_runs(filter="tags.t LIKE '%9'").runs) == 20
    monkeypatch.setattr(run_search, "REGEX_STATEMENT_TIMEOUT_MS", 30_000)
    assert pg_svc.search_runs(filter=pattern).runs == []
    assert len(pg_svc.search_runs(filter="tags.t ~ '[0-9]{3}$'").runs) == 100
