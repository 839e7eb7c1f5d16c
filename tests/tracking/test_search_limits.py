"""The filter parser's bounds and its one regex dialect: hostile filters are refused fast."""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from modelyard.errors import BadFilter
from modelyard.store.metadata import run_search
from modelyard.tracking import search, search_regex
from modelyard.tracking.memory_search import attribute_or_tag, matches
from modelyard.tracking.search import (
    MAX_FILTER_DEPTH,
    MAX_FILTER_LENGTH,
    MAX_FILTER_TERMS,
    MAX_IN_VALUES,
    MAX_ORDER_BY_KEYS,
    MAX_ORDER_BY_LENGTH,
    MAX_PATTERN_LENGTH,
    Compare,
    parse_filter,
    parse_order_by,
)

# 40 characters that ^(a+)+$ cannot match: a backtracking engine tries 2**39 splits (28 took 7.5 s)
HOSTILE = "a" * 39 + "!"


@contextmanager
def within(seconds: float) -> Iterator[None]:
    """A bound far above the milliseconds these take (a loaded 2-core CI machine stays under
    it) and far below what they cost before: Python's re needs hours at 40 characters."""
    start = time.perf_counter()
    yield
    elapsed = time.perf_counter() - start
    assert elapsed < seconds, f"took {elapsed:.2f} s"


def refused(text: str) -> BadFilter:
    with within(5.0), pytest.raises(BadFilter) as err:
        parse_filter(text)
    return err.value


TERM = "tags.t = 'x'"


@pytest.mark.parametrize(
    ("text", "message", "limit"),
    [
        ("(" * 500 + TERM + ")" * 500, "nests parentheses and NOTs", MAX_FILTER_DEPTH),
        ("NOT " * 10_000 + TERM, "nests parentheses and NOTs", MAX_FILTER_DEPTH),
        ("NOT (" * 5_000 + TERM + ")" * 5_000, "nests parentheses and NOTs", MAX_FILTER_DEPTH),
        (" OR ".join([TERM] * 10_000), "characters long", MAX_FILTER_LENGTH),
        (" OR ".join(["id='1'"] * (MAX_FILTER_TERMS + 1)), "more than 100 comparisons", 100),
        (
            "run_id IN (" + ", ".join(["'a'"] * (MAX_IN_VALUES + 1)) + ")",
            "IN lists hold more than",
            MAX_IN_VALUES,
        ),
        (
            "run_id IN ('a') OR " + "run_id IN (" + ", ".join(["'a'"] * MAX_IN_VALUES) + ")",
            "IN lists hold more than",
            MAX_IN_VALUES,
        ),
        ("tags.t ~ '" + "a" * (MAX_PATTERN_LENGTH + 1) + "'", "pattern", MAX_PATTERN_LENGTH),
        ("name LIKE '" + "%" * (MAX_PATTERN_LENGTH + 1) + "'", "LIKE pattern", 1000),
        ("tags.t = '" + "x" * MAX_FILTER_LENGTH + "'", "characters long", MAX_FILTER_LENGTH),
    ],
    ids=[
        "500-parens",
        "10000-nots",
        "5000-not-parens",
        "10000-ors",
        "101-terms",
        "1001-in-values",
        "in-values-summed",
        "long-regex",
        "long-like",
        "long-filter",
    ],
)
def test_oversized_filters_are_refused_fast(text: str, message: str, limit: int) -> None:
    err = refused(text)
    assert message in err.message
    assert err.details["limit"] == limit


def test_filters_at_the_limits_parse() -> None:
    deep = "(" * (MAX_FILTER_DEPTH - 1) + "NOT " + TERM + ")" * (MAX_FILTER_DEPTH - 1)
    assert parse_filter(deep) is not None
    assert parse_filter(" OR ".join([TERM] * MAX_FILTER_TERMS)) is not None
    ids = "run_id IN (" + ", ".join(["'a'"] * MAX_IN_VALUES) + ")"
    assert parse_filter(ids) is not None
    long_pattern = parse_filter("tags.t ~ '" + "a" * MAX_PATTERN_LENGTH + "'")
    assert isinstance(long_pattern, Compare)
    assert len(str(long_pattern.value)) == MAX_PATTERN_LENGTH
    padding = MAX_FILTER_LENGTH - len("tags.t = ''")
    assert parse_filter("tags.t = '" + "x" * padding + "'") is not None


def test_aggregates_do_not_nest() -> None:
    assert "does not nest" in refused("min(" * 5_000 + "metrics.m" + ")" * 5_000 + " > 1").message
    assert "does not nest" in refused("max(min(metrics.m)) > 1").message


def test_a_long_number_lexes_in_linear_time() -> None:
    # \d+\.?\d* backtracked quadratically: 8,000 digits then a letter took 5 s
    err = refused("metrics.m > " + "1" * 40_000 + "x")
    assert err.details["position"] == len("metrics.m > ")


def test_an_integer_past_64_bits_is_a_float() -> None:
    node = parse_filter("experiment_id = 123456789012345678901234567890")
    assert isinstance(node, Compare)
    assert node.value == pytest.approx(1.2345678901234568e29)
    assert isinstance(node.value, float)


def test_order_by_is_bounded() -> None:
    assert len(parse_order_by(["metrics.m DESC"] * MAX_ORDER_BY_KEYS)) == MAX_ORDER_BY_KEYS
    with within(5.0):
        with pytest.raises(BadFilter, match="order_by has 11 clauses"):
            parse_order_by(["metrics.m"] * (MAX_ORDER_BY_KEYS + 1))
        with pytest.raises(BadFilter, match="characters long"):
            parse_order_by(["metrics." + "k" * MAX_ORDER_BY_LENGTH])
        with pytest.raises(BadFilter, match="characters long"):
            parse_order_by("metrics.m," * 100_000)
        with pytest.raises(BadFilter, match="does not nest"):
            parse_order_by(["min(" * 150 + "metrics.m" + ")" * 150])


@pytest.mark.parametrize(
    ("pattern", "problem"),
    [
        (r"(a)\1", "no backreferences or lookaround"),
        ("(?=x)", "no backreferences or lookaround"),
        ("(?!x)", "no backreferences or lookaround"),
        ("(?<=x)y", "no backreferences or lookaround"),
        ("a{1001}", "invalid repetition size"),
        ("(ab", "missing )"),
        ("a**", "bad repetition operator"),
        (r"\Z", r"invalid escape sequence: \Z"),
    ],
)
def test_patterns_outside_re2_are_refused(pattern: str, problem: str) -> None:
    err = refused(f"tags.t ~ '{pattern}'")
    assert problem in err.message
    assert "RE2 syntax" in err.message
    assert err.details["position"] == len("tags.t ")


def test_backslashes_reach_the_pattern_as_written() -> None:
    node = parse_filter(r"name ~ '^v\d+\.\d+$'")
    assert isinstance(node, Compare)
    assert node.value == r"^v\d+\.\d+$"
    escaped = parse_filter(r"""name = 'it\'s a \\ "quote"' OR name = "say ""hi"" \d" """)
    assert escaped is not None
    values = [item.value for item in escaped.items]  # type: ignore[union-attr]
    assert values == ['it\'s a \\ "quote"', 'say "hi" \\d']


@dataclass
class Item:
    name: str
    tags: dict[str, str] = field(default_factory=dict)


def test_catastrophic_regex_is_linear_in_memory() -> None:
    expr = parse_filter("tags.t ~ '^(a+)+$' OR name ~ '^(a|aa)+$'")
    hostile, fine = Item(HOSTILE, {"t": HOSTILE}), Item("aaaa", {"t": "a" * 40})
    with within(5.0):
        assert not matches(expr, hostile, attribute_or_tag)
        assert matches(expr, fine, attribute_or_tag)
        assert not matches(expr, Item("b" + "a" * 100_000 + "!"), attribute_or_tag)


def test_like_with_many_wildcards_is_linear_in_memory() -> None:
    # through Python's re, 4 wildcards over 200 characters took 8 s
    expr = parse_filter("name LIKE '" + "%a" * 30 + "%b'")
    with within(5.0):
        assert not matches(expr, Item("a" * 5_000), attribute_or_tag)
        assert matches(expr, Item("a" * 5_000 + "b"), attribute_or_tag)
    ilike = parse_filter("name ILIKE 'A_c%' AND name NOT LIKE '%.%'")
    assert matches(ilike, Item("abc\nd"), attribute_or_tag)
    assert not matches(ilike, Item("abc.d"), attribute_or_tag)
    assert not matches(ilike, Item("abdc"), attribute_or_tag)


def test_the_dialect_matches_newlines_with_dot() -> None:
    assert search_regex.search("a.b", "a\nb")
    assert not search_regex.search("^b", "a\nb")
    assert search_regex.search("(?m)^b", "a\nb")
    assert search_regex.sqlite_regexp("x", None) is None
    assert search_regex.sqlite_regexp("^4", 42) is True


@pytest.mark.parametrize(
    ("pattern", "postgres"),
    [
        (r"^v\d+\.\d+$", r"^v[0-9]+\.[0-9]+$"),
        (r"\W\S", r"[^0-9A-Za-z_][^\t\n\f\r ]"),
        (r"[\w.-]+", r"[0-9A-Za-z_\.\-]+"),
        (r"[[:alpha:]][[:digit:]]", "[A-Za-z][0-9]"),
        (r"\x41\x{1F600}", r"\U00000041\U0001f600"),
        (r"end\z", r"end\Z"),
        (r"\Astart", r"\Astart"),
        ("a{1,x}b{2,3}", r"a\{1,x}b{2,3}"),
        ("[[.a.]]", r"[\[\.a\.]]"),
        ("[]a]", r"[\]a]"),
        ("(?P<n>a)(?<m>b)(?:c)", "(a)(b)(?:c)"),
        ("(?i)abc", "(?i)abc"),
        ("(?s)a.b(?U)c+?(?s:d)", "a.bc+(?:d)"),
        ("é+", "é+"),
    ],
)
def test_to_postgres_rewrites_with_re2_meaning(pattern: str, postgres: str) -> None:
    assert search_regex.to_postgres(pattern) == postgres


@pytest.mark.parametrize(
    ("pattern", "problem"),
    [
        (r"\bword", r"\b (PostgreSQL reads it as a backspace"),
        (r"\Bx", r"\B"),
        (r"\pL", "Unicode classes"),
        (r"\P{Greek}", "Unicode classes"),
        (r"\Qa.b\E", r"\Q...\E"),
        (r"\C", "any byte"),
        (r"\0", "octal escapes"),
        ("(?m)^a", "only (?i), at the very start"),
        ("a(?i)b", "only (?i), at the very start"),
        ("(?i:a)", "scoped flags"),
        ("(?-s).", "only (?i), at the very start"),
        ("a{256}", "above 255"),
        ("^*a", "a quantifier '*' on an anchor"),
        (r"\A+", "a quantifier '+' on an anchor"),
        ("[[:^alpha:]]", "negated class"),
        (r"[\D]", r"\D inside brackets"),
    ],
)
def test_to_postgres_refuses_what_postgres_reads_differently(pattern: str, problem: str) -> None:
    search_regex.check(pattern)  # RE2 takes it: SQLite and in-memory searches do
    with pytest.raises(search_regex.PatternError, match=re.escape(problem)):
        search_regex.to_postgres(pattern)


_PIECES = st.sampled_from(
    [
        "(",
        ")",
        "NOT ",
        " AND ",
        " OR ",
        "tags.t",
        "metrics.m",
        "min(",
        " = ",
        " ~ ",
        " IN ",
        " LIKE ",
        ",",
        "'x'",
        "'(a+)+'",
        "'(a)\\1'",
        "1",
        "1e400",
        "`k`",
        "'",
        " ",
    ]
)


@settings(max_examples=300, deadline=None)
@given(st.lists(_PIECES, max_size=400).map("".join) | st.text(max_size=200))
def test_any_text_parses_or_is_a_bad_filter(text: str) -> None:
    with suppress(BadFilter):  # anything else (RecursionError, ValueError...) fails the test
        parse_filter(text)


def test_the_limits_are_documented() -> None:
    doc = (Path(__file__).parents[2] / "docs" / "search.md").read_text()
    for name in [n for n in dir(search) if n.startswith("MAX_")]:
        value = getattr(search, name)
        assert f"`{name}`) | {value:,}" in doc, name
    assert f"statement_timeout` of {run_search.REGEX_STATEMENT_TIMEOUT_MS // 1000} seconds" in doc
    assert "https://github.com/google/re2/wiki/Syntax" in doc
