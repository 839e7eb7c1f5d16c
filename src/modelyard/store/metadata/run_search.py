"""Compile a parsed search filter and order-by into SQL over runs, params, tags and metrics."""

from __future__ import annotations

import base64
import binascii
from typing import Any

import orjson
from sqlalchemy import (
    ColumnElement,
    Connection,
    Float,
    Select,
    and_,
    case,
    cast,
    exists,
    false,
    func,
    not_,
    or_,
    select,
    true,
)

from modelyard.errors import InvalidInput
from modelyard.store.metadata.tables import metric_summaries, run_params, run_tags, runs
from modelyard.tracking.entities import ViewType
from modelyard.tracking.search import And, Compare, Expr, Not, Or, OrderKey, Value

_NUMERIC_RE = r"^\s*[-+]?([0-9]+\.?[0-9]*|\.[0-9]+)([eE][-+]?[0-9]+)?\s*$"
_AGG_COLUMN = {"last": "last_value", "min": "min_value", "max": "max_value"}


def encode_page_token(offset: int) -> str:
    return base64.urlsafe_b64encode(orjson.dumps({"offset": offset})).decode()


def decode_page_token(token: str | None) -> int:
    if not token:
        return 0
    try:
        offset = orjson.loads(base64.urlsafe_b64decode(token.encode()))["offset"]
    except (binascii.Error, ValueError, KeyError, TypeError) as exc:
        raise InvalidInput("page_token is not one this server issued", field="page_token") from exc
    if not isinstance(offset, int) or offset < 0:
        raise InvalidInput("page_token is not one this server issued", field="page_token")
    return offset


def _numeric(conn: Connection, column: Any) -> ColumnElement[Any]:
    """The text column as a number, or NULL when it does not hold one."""
    if conn.dialect.name == "sqlite":
        return func.my_number(column, type_=Float)
    return case((column.regexp_match(_NUMERIC_RE), cast(column, Float)), else_=None)


def _compare(column: Any, op: str, value: Value | tuple[Value, ...] | None) -> ColumnElement[bool]:
    result: ColumnElement[bool]
    if op == "IN":
        result = column.in_(list(value))  # type: ignore[arg-type]
    elif op == "LIKE":
        result = column.like(value)
    elif op == "ILIKE":
        result = column.ilike(value)
    elif op == "REGEXP":
        result = column.regexp_match(value)
    else:
        result = _COMPARE[op](column, value)
    return result


_COMPARE: dict[str, Any] = {
    "=": lambda c, v: c == v,
    "!=": lambda c, v: c != v,
    "<": lambda c, v: c < v,
    "<=": lambda c, v: c <= v,
    ">": lambda c, v: c > v,
    ">=": lambda c, v: c >= v,
}


def _is_numeric_value(value: Value | tuple[Value, ...] | None) -> bool:
    values = value if isinstance(value, tuple) else (value,)
    return all(isinstance(v, int | float) for v in values)


def _condition(conn: Connection, node: Compare) -> ColumnElement[bool]:
    field, op, value = node.field, node.op, node.value
    column: Any
    if field.kind == "attribute":
        column = runs.c[field.key]
        if field.key == "status" and isinstance(value, str):
            value = value.upper()
        elif field.key == "status" and isinstance(value, tuple):
            value = tuple(v.upper() if isinstance(v, str) else v for v in value)
        if op == "IS NULL":
            null_check: ColumnElement[bool] = column.is_(None)
            return null_check
        if field.key not in ("start_time", "end_time", "experiment_id") and _is_numeric_value(
            value
        ):
            values = value if isinstance(value, tuple) else (value,)
            value = tuple(str(v) for v in values) if isinstance(value, tuple) else str(values[0])
        return _compare(column, op, value)
    if field.kind == "metric":
        table = metric_summaries.alias()
        column = table.c[_AGG_COLUMN[field.aggregate]]
    else:
        table = (run_params if field.kind == "param" else run_tags).alias()
        column = table.c.value
        if op not in ("LIKE", "ILIKE", "REGEXP", "IS NULL") and _is_numeric_value(value):
            column = _numeric(conn, column)
    base = and_(table.c.run_id == runs.c.id, table.c.key == field.key)
    if op == "IS NULL":
        return not_(exists().where(base))
    return exists().where(base, _compare(column, op, value))


def compile_filter(conn: Connection, expr: Expr) -> ColumnElement[bool]:
    if isinstance(expr, Compare):
        return _condition(conn, expr)
    if isinstance(expr, And):
        return and_(*(compile_filter(conn, e) for e in expr.items))
    if isinstance(expr, Or):
        return or_(*(compile_filter(conn, e) for e in expr.items))
    if isinstance(expr, Not):
        return not_(compile_filter(conn, expr.item))
    raise TypeError(f"unknown filter node {expr!r}")  # pragma: no cover


def _order(conn: Connection, query: Select[Any], key: OrderKey) -> tuple[Select[Any], list[Any]]:
    field = key.field
    columns: list[Any]
    if field.kind == "attribute":
        columns = [runs.c[field.key]]
    elif field.kind == "metric":
        table = metric_summaries.alias()
        query = query.outerjoin(table, and_(table.c.run_id == runs.c.id, table.c.key == field.key))
        columns = [table.c[_AGG_COLUMN[field.aggregate]]]
    else:
        table = (run_params if field.kind == "param" else run_tags).alias()
        query = query.outerjoin(table, and_(table.c.run_id == runs.c.id, table.c.key == field.key))
        columns = [_numeric(conn, table.c.value), table.c.value]
    ordered = [(c.desc() if key.descending else c.asc()).nulls_last() for c in columns]
    return query, ordered


def search(
    conn: Connection,
    experiment_ids: list[int] | None,
    expr: Expr | None,
    order_by: list[OrderKey],
    view: ViewType,
    max_results: int,
    offset: int,
) -> tuple[list[str], bool]:
    """Ids of the matching runs for one page, and whether more pages follow."""
    query: Select[Any] = select(runs.c.id)
    if experiment_ids is not None:
        query = query.where(runs.c.experiment_id.in_(experiment_ids) if experiment_ids else false())
    if view != ViewType.ALL:
        query = query.where(runs.c.lifecycle == view.value)
    query = query.where(compile_filter(conn, expr) if expr is not None else true())
    ordering: list[Any] = []
    for key in order_by:
        query, columns = _order(conn, query, key)
        ordering.extend(columns)
    ordering += [runs.c.start_time.desc(), runs.c.id.asc()]
    query = query.order_by(*ordering).limit(max_results + 1).offset(offset)
    ids = [row[0] for row in conn.execute(query)]
    return ids[:max_results], len(ids) > max_results
