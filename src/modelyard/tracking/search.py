"""The run search grammar: a filter string becomes a small typed tree (see docs/search.md).

expr       := or
or         := and ("OR" and)*
and        := not ("AND" not)*
not        := "NOT" not | "(" expr ")" | comparison
comparison := field op value | field [NOT] IN "(" value ("," value)* ")"
            | field [NOT] (LIKE | ILIKE | REGEXP) string | field IS [NOT] NULL
field      := prefix "." key | attribute | ("min" | "max" | "last") "(" metrics "." key ")"
op         := "=" | "==" | "!=" | "<>" | "<" | "<=" | ">" | ">=" | "~" | "!~"
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import Literal

from modelyard.errors import BadFilter
from modelyard.tracking import search_regex

# Bounds on what one search may ask (docs/search.md, "Limits"): checked while parsing, before any
# recursion could run deep and before any SQL is built, so an oversized filter costs milliseconds.
MAX_FILTER_LENGTH = 50_000  # characters in a filter (a UI filter of 500 run ids is about 18,000)
MAX_FILTER_TERMS = 100  # comparisons (field op value) in a filter
MAX_FILTER_DEPTH = 32  # parentheses and NOTs nested inside one another
MAX_IN_VALUES = 1_000  # values in all of a filter's IN lists together
MAX_PATTERN_LENGTH = 1_000  # characters in one LIKE, ILIKE or regex pattern
MAX_ORDER_BY_KEYS = 10  # order-by clauses
MAX_ORDER_BY_LENGTH = 1_000  # characters in one order-by clause

FieldKind = Literal["param", "metric", "tag", "attribute", "dataset"]
Aggregate = Literal["last", "min", "max"]
Value = str | float | int

PREFIXES: dict[str, FieldKind] = {
    "params": "param",
    "param": "param",
    "p": "param",
    "metrics": "metric",
    "metric": "metric",
    "m": "metric",
    "tags": "tag",
    "tag": "tag",
    "t": "tag",
    "attributes": "attribute",
    "attribute": "attribute",
    "attr": "attribute",
    "run": "attribute",
    "parameters": "param",
    "datasets": "dataset",
    "dataset": "dataset",
}
ATTRIBUTES: dict[str, str] = {
    "id": "id",
    "run_id": "id",
    "name": "name",
    "run_name": "name",
    "status": "status",
    "experiment_id": "experiment_id",
    "start_time": "start_time",
    "end_time": "end_time",
    "user": "user",
    "parent_id": "parent_id",
    "parent_run_id": "parent_id",
    "user_id": "user",
    "created": "start_time",  # MLflow's aliases
    "run name": "name",
}
# Tags that are attributes of a run (MLflow writes the name and parent as tags; renames, and
# runs named on creation, change only the attribute), so a filter on them reads the attribute.
RUN_TAG_ATTRIBUTES = {"mlflow.runName": "name", "mlflow.parentRunId": "parent_id"}
DATASET_FIELDS = frozenset({"name", "digest", "context"})  # datasets.<field>: a run's inputs
NUMERIC_ATTRIBUTES = frozenset({"start_time", "end_time", "experiment_id"})
AGGREGATES: frozenset[str] = frozenset({"last", "min", "max"})
COMPARISONS = frozenset({"=", "!=", "<", "<=", ">", ">="})
KEYWORDS = frozenset({"and", "or", "not", "in", "like", "ilike", "regexp", "is", "null"})


@dataclass(frozen=True, slots=True)
class Field:
    kind: FieldKind
    key: str
    aggregate: Aggregate = "last"


@dataclass(frozen=True, slots=True)
class Compare:
    field: Field
    op: str  # one of COMPARISONS, IN, LIKE, ILIKE, REGEXP, IS NULL (NOT is a Not node)
    value: Value | tuple[Value, ...] | None


@dataclass(frozen=True, slots=True)
class And:
    items: tuple[Expr, ...]


@dataclass(frozen=True, slots=True)
class Or:
    items: tuple[Expr, ...]


@dataclass(frozen=True, slots=True)
class Not:
    item: Expr


Expr = Compare | And | Or | Not


@dataclass(frozen=True, slots=True)
class OrderKey:
    field: Field
    descending: bool
    as_text: bool = False  # params and tags as text ("10" < "9"), as MLflow orders them


# No alternative can match the same text two ways, so a failed match backtracks in linear time
# (``\d+\.?\d*`` was quadratic: 8,000 digits and a letter took 5 s).
_TOKEN = re.compile(
    r"""
    (?P<ws>\s+)
  | (?P<number>[-+]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][-+]?\d+)?(?![\w.]))
  | (?P<string>'(?:[^'\\]|\\.|'')*'|"(?:[^"\\]|\\.|"")*")
  | (?P<backtick>`[^`]*`)
  | (?P<op><=|>=|!=|<>|==|!~|[=<>~])
  | (?P<punct>[(),])
  | (?P<word>[^\s=!<>~(),'"`]+)
    """,
    re.VERBOSE,
)


@dataclass(frozen=True, slots=True)
class _Tok:
    kind: str
    text: str
    pos: int


def _tokenize(text: str) -> list[_Tok]:
    tokens: list[_Tok] = []
    pos = 0
    while pos < len(text):
        m = _TOKEN.match(text, pos)
        if m is None:
            what = "unterminated string" if text[pos] in "'\"`" else "unexpected character"
            raise BadFilter(f"{what} at position {pos}", position=pos)
        kind = m.lastgroup or ""
        if kind != "ws":
            tokens.append(_Tok(kind, m.group(), pos))
        pos = m.end()
    return tokens


# Text that counts as a number when a param or tag is compared with a number (SQL and memory).
_NUMERIC_TEXT = re.compile(r"^\s*[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?\s*$")


def numeric_text(value: str | None) -> float | None:
    """A param or tag's text as a number, or None when it is not one (``nan`` is not)."""
    if value is None or not _NUMERIC_TEXT.match(value):
        return None
    return float(value)


# In a quoted string a backslash escapes a quote or a backslash, and a doubled quote is one quote;
# any other backslash stays, so a regex reads as written: '^v\d+' is the pattern ^v\d+.
_STRING_ESCAPES = {q: re.compile(r"\\([\\'\"])|" + q + q) for q in "'\""}


def _unquote(tok: _Tok) -> str:
    body = tok.text[1:-1]
    q = tok.text[0]
    if q == "`":
        return body
    return _STRING_ESCAPES[q].sub(lambda m: m.group(1) or q, body)


class _Parser:
    def __init__(
        self,
        text: str,
        attributes: dict[str, str] = ATTRIBUTES,
        numeric: frozenset[str] = NUMERIC_ATTRIBUTES,
    ) -> None:
        self.attributes = attributes
        self.numeric = numeric
        # run searches only: other searches (registry, experiments) have tags of their own
        self.tag_attributes = RUN_TAG_ATTRIBUTES if attributes is ATTRIBUTES else {}
        self.text = text
        self.tokens = _tokenize(text)
        self.i = 0
        self.depth = 0  # parentheses and NOTs open around the current token
        self.terms = 0
        self.in_values = 0

    # -- helpers
    def peek(self) -> _Tok | None:
        return self.tokens[self.i] if self.i < len(self.tokens) else None

    def next(self, expected: str) -> _Tok:
        tok = self.peek()
        if tok is None:
            raise BadFilter(
                f"expected {expected} at position {len(self.text)} (end of filter)",
                position=len(self.text),
            )
        self.i += 1
        return tok

    def fail(self, expected: str, tok: _Tok | None = None) -> BadFilter:
        tok = tok or self.peek()
        if tok is None:
            pos = len(self.text)
            return BadFilter(f"expected {expected} at position {pos} (end of filter)", position=pos)
        return BadFilter(
            f"expected {expected} at position {tok.pos}, found {tok.text!r}", position=tok.pos
        )

    def keyword(self, *words: str) -> bool:
        tok = self.peek()
        if tok is not None and tok.kind == "word" and tok.text.lower() in words:
            self.i += 1
            return True
        return False

    def enter(self, tok: _Tok) -> None:
        """One more level of nesting, refused past MAX_FILTER_DEPTH (long before Python's stack)."""
        self.depth += 1
        if self.depth > MAX_FILTER_DEPTH:
            raise BadFilter(
                f"the filter nests parentheses and NOTs more than {MAX_FILTER_DEPTH} deep "
                f"(position {tok.pos})",
                position=tok.pos,
                limit=MAX_FILTER_DEPTH,
            )

    def punct(self, p: str) -> bool:
        tok = self.peek()
        if tok is not None and tok.kind == "punct" and tok.text == p:
            self.i += 1
            return True
        return False

    # -- grammar
    def parse(self) -> Expr:
        expr = self.expr()
        if self.peek() is not None:
            raise self.fail("AND, OR or the end of the filter")
        return expr

    def expr(self) -> Expr:
        items = [self.conj()]
        while self.keyword("or"):
            items.append(self.conj())
        return items[0] if len(items) == 1 else Or(tuple(items))

    def conj(self) -> Expr:
        items = [self.neg()]
        while self.keyword("and"):
            items.append(self.neg())
        return items[0] if len(items) == 1 else And(tuple(items))

    def neg(self) -> Expr:
        tok = self.peek()
        if tok is not None and self.keyword("not"):
            self.enter(tok)
            negated = Not(self.neg())
            self.depth -= 1
            return negated
        if tok is not None and self.punct("("):
            self.enter(tok)
            inner = self.expr()
            if not self.punct(")"):
                raise self.fail("')'")
            self.depth -= 1
            return inner
        return self.comparison()

    def field(self, *, in_aggregate: bool = False) -> Field:
        tok = self.next("a field such as metrics.acc, params.lr, tags.team or status")
        if tok.kind != "word" or tok.text.lower() in KEYWORDS:
            raise self.fail("a field such as metrics.acc, params.lr, tags.team or status", tok)
        word = tok.text
        if word.lower() in AGGREGATES and self.punct("("):
            if in_aggregate:
                raise BadFilter(
                    f"{word}() does not nest inside another aggregate (position {tok.pos})",
                    position=tok.pos,
                )
            inner = self.field(in_aggregate=True)
            if inner.kind != "metric":
                raise BadFilter(
                    f"{word}() applies to metrics only (position {tok.pos})", position=tok.pos
                )
            if not self.punct(")"):
                raise self.fail("')'")
            return Field("metric", inner.key, word.lower())  # type: ignore[arg-type]
        prefix, dot, rest = word.partition(".")
        kind = PREFIXES.get(prefix.lower()) if dot else None
        if kind is None:
            return self._attribute(word, tok.pos)
        if not rest:  # quoted key: params."my key" or params.`my key`
            quoted = self.next("a key after the '.'")
            if quoted.kind not in ("string", "backtick"):
                raise self.fail("a key after the '.'", quoted)
            rest = _unquote(quoted)
        if kind == "attribute":
            return self._attribute(rest, tok.pos)
        if kind == "tag" and rest in self.tag_attributes:
            return Field("attribute", self.tag_attributes[rest])
        if kind == "dataset" and rest.lower() not in DATASET_FIELDS:
            raise BadFilter(
                f"unknown dataset field {rest!r} at position {tok.pos}; "
                f"use datasets.name, datasets.digest or datasets.context",
                position=tok.pos,
            )
        if kind == "dataset":
            return Field(kind, rest.lower())
        return Field(kind, rest)

    def _attribute(self, name: str, pos: int) -> Field:
        column = self.attributes.get(name.lower())
        if column is None:
            raise BadFilter(
                f"unknown field {name!r} at position {pos}; use params.<key>, metrics.<key>, "
                f"tags.<key> or one of: {', '.join(sorted(self.attributes))}",
                position=pos,
            )
        return Field("attribute", column)

    def value(self) -> Value:
        tok = self.next("a value (a number or a quoted string)")
        if tok.kind == "number":
            text = tok.text.lstrip("+")
            if text.lstrip("-").isdigit() and abs(whole := int(text)) < 2**63:
                return whole  # exact: 9007199254740993 is not a float
            return float(tok.text)  # fractions, exponents, and beyond 64 bits (no database int)
        if tok.kind == "string":
            return _unquote(tok)
        raise self.fail("a value (a number or a quoted string)", tok)

    def comparison(self) -> Expr:
        start = self.peek()
        self.terms += 1
        if start is not None and self.terms > MAX_FILTER_TERMS:
            raise BadFilter(
                f"the filter has more than {MAX_FILTER_TERMS} comparisons (position {start.pos})",
                position=start.pos,
                limit=MAX_FILTER_TERMS,
            )
        field = self.field()
        negate = self.keyword("not")
        tok = self.peek()
        if tok is None:
            raise self.fail("an operator (=, !=, <, <=, >, >=, ~, IN, LIKE, ILIKE, REGEXP, IS)")
        node: Expr
        if self.keyword("in"):
            if not self.punct("("):
                raise self.fail("'(' after IN")
            values = [self.value()]
            while self.punct(","):
                values.append(self.value())
            self.in_values += len(values)
            if self.in_values > MAX_IN_VALUES:
                raise BadFilter(
                    f"the filter's IN lists hold more than {MAX_IN_VALUES} values "
                    f"(position {tok.pos})",
                    position=tok.pos,
                    limit=MAX_IN_VALUES,
                )
            if not self.punct(")"):
                raise self.fail("',' or ')'")
            node = Compare(field, "IN", tuple(values))
        elif self.keyword("like", "ilike", "regexp"):
            op = tok.text.upper()
            value = self.value()
            if not isinstance(value, str):
                raise BadFilter(
                    f"{op} needs a quoted string (position {tok.pos})", position=tok.pos
                )
            _check_pattern(op, value, tok.pos)
            node = Compare(field, op, value)
        elif not negate and self.keyword("is"):
            is_not = self.keyword("not")
            if not self.keyword("null"):
                raise self.fail("NULL")
            node = Compare(field, "IS NULL", None)
            return Not(node) if is_not else node
        elif not negate and tok.kind == "op":
            self.i += 1
            op = {"==": "=", "<>": "!="}.get(tok.text, tok.text)
            value = self.value()
            if op in ("~", "!~"):
                if not isinstance(value, str):
                    raise BadFilter(
                        f"{op} needs a quoted pattern (position {tok.pos})", position=tok.pos
                    )
                _check_pattern("REGEXP", value, tok.pos)
                node = Compare(field, "REGEXP", value)
                return Not(node) if op == "!~" else node
            node = Compare(field, op, value)
        else:
            raise self.fail("an operator (=, !=, <, <=, >, >=, ~, IN, LIKE, ILIKE, REGEXP, IS)")
        _check_types(node, start.pos if start else 0, self.numeric)
        return Not(node) if negate else node


def _check_pattern(op: str, pattern: str, pos: int) -> None:
    """Bound a LIKE, ILIKE or regex pattern; a regex must be RE2 (the one dialect, linear time)."""
    if len(pattern) > MAX_PATTERN_LENGTH:
        raise BadFilter(
            f"the {op} pattern at position {pos} is {len(pattern):,} characters long; "
            f"the limit is {MAX_PATTERN_LENGTH:,}",
            position=pos,
            limit=MAX_PATTERN_LENGTH,
        )
    if op != "REGEXP":
        return
    try:
        search_regex.check(pattern)
    except search_regex.PatternError as exc:
        raise BadFilter(
            f"invalid regular expression at position {pos}: {exc}; "
            "patterns use RE2 syntax (docs/search.md)",
            position=pos,
        ) from exc


def _check_types(node: Compare, pos: int, numeric_attributes: frozenset[str]) -> None:
    f = node.field
    values = node.value if isinstance(node.value, tuple) else (node.value,)
    numeric = f.kind == "metric" or (f.kind == "attribute" and f.key in numeric_attributes)
    if numeric and node.op in ("LIKE", "ILIKE", "REGEXP"):
        raise BadFilter(
            f"{node.op} does not apply to numeric field at position {pos}", position=pos
        )
    if f.kind == "metric" and any(isinstance(v, str) for v in values):
        raise BadFilter(f"metrics compare with numbers, not strings (position {pos})", position=pos)


def parse_filter(
    text: str | None,
    attributes: dict[str, str] = ATTRIBUTES,
    numeric: frozenset[str] = NUMERIC_ATTRIBUTES,
) -> Expr | None:
    """Parse a filter string; None or blank means no filter. Raises BadFilter with a position.

    ``attributes`` maps the attribute names this search accepts (runs by default) to columns.
    """
    if text is None or not text.strip():
        return None
    if len(text) > MAX_FILTER_LENGTH:
        raise BadFilter(
            f"the filter is {len(text):,} characters long; the limit is {MAX_FILTER_LENGTH:,}",
            position=MAX_FILTER_LENGTH,
            limit=MAX_FILTER_LENGTH,
        )
    return _Parser(text, attributes, numeric).parse()


def parse_order_by(
    clauses: list[str] | str | None,
    attributes: dict[str, str] = ATTRIBUTES,
    *,
    as_text: bool = False,
) -> list[OrderKey]:
    """Parse ``["metrics.acc DESC", "params.lr"]`` (or one comma-separated string).

    Params and tags order numbers first, by value (2, 9, 10, 100), then text; ``as_text``
    orders them as text throughout ("10", "100", "2", "9"), as MLflow does.
    """
    if not clauses:
        return []
    if isinstance(clauses, str):
        if len(clauses) > MAX_ORDER_BY_KEYS * (MAX_ORDER_BY_LENGTH + 1):
            raise BadFilter(
                f"order_by is {len(clauses):,} characters long; the limit is "
                f"{MAX_ORDER_BY_KEYS} clauses of {MAX_ORDER_BY_LENGTH:,}",
                limit=MAX_ORDER_BY_KEYS,
            )
        clauses = [c for c in clauses.split(",") if c.strip()]
    if len(clauses) > MAX_ORDER_BY_KEYS:
        raise BadFilter(
            f"order_by has {len(clauses):,} clauses; the limit is {MAX_ORDER_BY_KEYS}",
            limit=MAX_ORDER_BY_KEYS,
        )
    keys: list[OrderKey] = []
    for clause in clauses:
        if len(clause) > MAX_ORDER_BY_LENGTH:
            raise BadFilter(
                f"an order_by clause is {len(clause):,} characters long; "
                f"the limit is {MAX_ORDER_BY_LENGTH:,}",
                limit=MAX_ORDER_BY_LENGTH,
            )
        parser = _Parser(clause, attributes)
        field = parser.field()
        if field.kind == "dataset":
            raise parser.fail("a field to order by (datasets.* only filter)")
        descending = False
        if parser.keyword("desc"):
            descending = True
        elif parser.keyword("asc"):
            descending = False
        if parser.peek() is not None:
            raise parser.fail("ASC, DESC or the end of the order-by clause")
        keys.append(OrderKey(field, descending, as_text))
    return keys


_BARE_KEY = re.compile(r"[^\s=!<>~(),'\"`]+")


def _quoted(text: str, quote: str = "'") -> str:
    return quote + text.replace("\\", "\\\\").replace(quote, "\\" + quote) + quote


def _value_text(value: Value) -> str:
    if isinstance(value, str):
        return _quoted(value)
    if isinstance(value, float):
        if value in (math.inf, -math.inf):
            return "1e999" if value > 0 else "-1e999"  # what 1e400 parsed into
        if value.is_integer() and abs(value) < 2**63:
            return f"{int(value)}.0"  # repr(1e16) would read back as the int 10000000000000000
    return repr(value)


def _field_text(f: Field) -> str:
    if f.kind == "attribute":
        return f.key
    prefixes = {"param": "params", "metric": "metrics", "tag": "tags", "dataset": "datasets"}
    prefix = prefixes[f.kind]
    key = f.key if _BARE_KEY.fullmatch(f.key) else _quoted(f.key, '"')
    text = f"{prefix}.{key}"
    return text if f.aggregate == "last" else f"{f.aggregate}({text})"


def to_text(expr: Expr) -> str:
    """A filter string that parses back into ``expr`` (with the default attribute names)."""
    if isinstance(expr, And | Or):
        joint = " AND " if isinstance(expr, And) else " OR "
        return joint.join(
            f"({to_text(e)})" if isinstance(e, And | Or) else to_text(e) for e in expr.items
        )
    if isinstance(expr, Not):
        inner = to_text(expr.item)
        return f"NOT ({inner})" if isinstance(expr.item, And | Or) else f"NOT {inner}"
    field = _field_text(expr.field)
    if expr.op == "IS NULL":
        return f"{field} IS NULL"
    if expr.op == "IN":
        assert isinstance(expr.value, tuple)
        return f"{field} IN ({', '.join(_value_text(v) for v in expr.value)})"
    assert isinstance(expr.value, str | int | float)
    return f"{field} {expr.op} {_value_text(expr.value)}"
