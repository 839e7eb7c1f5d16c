"""Experiment search: the run search grammar over names, times and tags, evaluated in memory.

A store holds tens to thousands of experiments, so filtering the listed rows beats SQL here.
"""

from __future__ import annotations

import re
from typing import Any

from modelyard.errors import BadFilter
from modelyard.tracking.entities import Experiment
from modelyard.tracking.search import And, Compare, Expr, Not, Or, OrderKey, Value

ATTRIBUTES: dict[str, str] = {
    "name": "name",
    "id": "id",
    "experiment_id": "id",
    "created_at": "created_at",
    "creation_time": "created_at",
    "updated_at": "updated_at",
    "last_update_time": "updated_at",
    "description": "description",
}
NUMERIC = frozenset({"id", "created_at", "updated_at"})


def _value(exp: Experiment, node: Compare) -> Any:
    f = node.field
    if f.kind == "tag":
        return exp.tags.get(f.key)
    if f.kind == "attribute":
        return getattr(exp, f.key)
    raise BadFilter(f"experiments have no {f.kind}s; filter on name, times or tags.<key>")


def _like(pattern: str, flags: int = 0) -> re.Pattern[str]:
    body = "".join(".*" if c == "%" else "." if c == "_" else re.escape(c) for c in pattern)
    return re.compile(f"^{body}$", flags | re.DOTALL)


def _compare(actual: Any, op: str, wanted: Value | tuple[Value, ...] | None) -> bool:
    if op == "IS NULL":
        return actual is None
    if actual is None:
        return False
    if op == "IN":
        assert isinstance(wanted, tuple)
        return any(_compare(actual, "=", w) for w in wanted)
    if op in ("LIKE", "ILIKE", "REGEXP"):
        assert isinstance(wanted, str)
        if op == "REGEXP":
            return re.search(wanted, str(actual)) is not None
        flags = re.IGNORECASE if op == "ILIKE" else 0
        return _like(wanted, flags).match(str(actual)) is not None
    if isinstance(actual, int) and not isinstance(wanted, int | float):
        raise BadFilter(f"{wanted!r} is not a number")
    if isinstance(actual, str):
        wanted = str(wanted)
    ops = {
        "=": lambda a, b: a == b,
        "!=": lambda a, b: a != b,
        "<": lambda a, b: a < b,
        "<=": lambda a, b: a <= b,
        ">": lambda a, b: a > b,
        ">=": lambda a, b: a >= b,
    }
    return bool(ops[op](actual, wanted))


def matches(expr: Expr | None, exp: Experiment) -> bool:
    if expr is None:
        return True
    if isinstance(expr, And):
        return all(matches(e, exp) for e in expr.items)
    if isinstance(expr, Or):
        return any(matches(e, exp) for e in expr.items)
    if isinstance(expr, Not):
        return not matches(expr.item, exp)
    return _compare(_value(exp, expr), expr.op, expr.value)


def sort(experiments: list[Experiment], order: list[OrderKey]) -> list[Experiment]:
    """Order by the given keys; by default newest first, then by id."""
    if not order:
        return sorted(experiments, key=lambda e: (-e.created_at, e.id))
    out = sorted(experiments, key=lambda e: e.id)
    for key in reversed(order):
        if key.field.kind != "attribute":
            raise BadFilter(
                "experiments are ordered by name, id, creation_time or last_update_time"
            )
        attribute = key.field.key
        out.sort(key=lambda e: getattr(e, attribute), reverse=key.descending)
    return out
