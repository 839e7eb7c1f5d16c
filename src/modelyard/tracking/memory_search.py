"""The search grammar evaluated in memory, for small collections (experiments, the registry).

Stores hold tens to thousands of these, so filtering listed rows beats building SQL. A missing
tag equals nothing: ``tags.k != 'v'`` keeps items without ``k`` (MLflow clients rely on it).
Patterns (regex, LIKE) match through RE2, as on SQLite, in time linear in the value.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

from modelyard.errors import BadFilter
from modelyard.tracking import search_regex
from modelyard.tracking.search import (
    And,
    Compare,
    Expr,
    Field,
    Not,
    Or,
    OrderKey,
    Value,
    numeric_text,
    parse_filter,
    parse_order_by,
)

T = TypeVar("T")
ValueOf = Callable[[T, Field], Any]


class Searchable:
    """What one kind of item can be filtered and ordered by."""

    def __init__(self, what: str, attributes: dict[str, str], numeric: frozenset[str]) -> None:
        self.what = what
        self.attributes = attributes
        self.numeric = numeric

    def parse(
        self, filter: str | None, order_by: Sequence[str] | None
    ) -> tuple[Expr | None, list[OrderKey]]:
        expr = parse_filter(filter, self.attributes, self.numeric)
        return expr, parse_order_by(list(order_by or []), self.attributes)


def _compare(actual: Any, op: str, wanted: Value | tuple[Value, ...] | None) -> bool:
    if op == "IS NULL":
        return actual is None
    if actual is None:
        return op == "!="
    if op == "IN":
        assert isinstance(wanted, tuple)
        return any(_compare(actual, "=", w) for w in wanted)
    if op in ("LIKE", "ILIKE", "REGEXP"):
        assert isinstance(wanted, str)
        if op == "REGEXP":  # RE2 and LIKE through RE2: linear in the value, whatever the pattern
            return search_regex.search(wanted, str(actual))
        return search_regex.like(wanted, str(actual), ignore_case=op == "ILIKE")
    if isinstance(actual, float) and math.isnan(actual):
        return False  # a NaN never matches a comparison (as in SQL)
    if isinstance(actual, str) and isinstance(wanted, int | float):
        number = numeric_text(actual)  # text compared with a number: numerically, if it is one
        return number is not None and _compare(number, op, wanted)
    if isinstance(actual, int) and not isinstance(wanted, int | float):
        try:
            wanted = float(str(wanted))
        except ValueError as exc:
            raise BadFilter(f"{wanted!r} is not a number") from exc
    if isinstance(actual, str):
        wanted = str(wanted)
    ops: dict[str, Callable[[Any, Any], bool]] = {
        "=": lambda a, b: a == b,
        "!=": lambda a, b: a != b,
        "<": lambda a, b: a < b,
        "<=": lambda a, b: a <= b,
        ">": lambda a, b: a > b,
        ">=": lambda a, b: a >= b,
    }
    return ops[op](actual, wanted)


def matches(expr: Expr | None, item: T, value_of: ValueOf[T]) -> bool:
    if expr is None:
        return True
    if isinstance(expr, And):
        return all(matches(e, item, value_of) for e in expr.items)
    if isinstance(expr, Or):
        return any(matches(e, item, value_of) for e in expr.items)
    if isinstance(expr, Not):
        return not matches(expr.item, item, value_of)
    assert isinstance(expr, Compare)
    return _compare(value_of(item, expr.field), expr.op, expr.value)


def attribute_or_tag(item: Any, f: Field) -> Any:
    """The usual lookup: attributes by name, tags from ``item.tags``."""
    if f.kind == "tag":
        return item.tags.get(f.key)
    if f.kind == "attribute":
        return getattr(item, f.key)
    raise BadFilter(f"this search has no {f.kind}s; filter on attributes or tags.<key>")


def sort(items: list[T], order: list[OrderKey], value_of: ValueOf[T]) -> list[T]:
    """A stable sort by each key in turn (the first key matters most)."""
    out = list(items)
    for key in reversed(order):
        field = key.field

        def sort_key(item: T, f: Field = field) -> tuple[bool, Any]:
            value = value_of(item, f)
            return (value is None, 0 if value is None else value)

        out.sort(key=sort_key, reverse=key.descending)
    return out


def page(items: list[T], offset: int, size: int) -> tuple[list[T], int | None]:
    """One page and the offset of the next one (None at the end)."""
    end = offset + size
    return items[offset:end], end if end < len(items) else None
