"""Compile a parsed search filter and order-by into SQL over runs, params, tags and metrics.

Regexes: SQLite matches them through RE2 (the REGEXP function database.py registers), in linear
time. PostgreSQL matches them with its own engine: each pattern is first rewritten into its
syntax (or refused, search_regex.to_postgres), and the query runs under a statement timeout.
"""

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
from sqlalchemy.exc import DBAPIError

from modelyard.errors import BadFilter, InvalidInput
from modelyard.store.metadata.tables import (
    dataset_versions,
    datasets,
    metric_summaries,
    run_datasets,
    run_params,
    run_tags,
    runs,
)
from modelyard.tracking import search_regex
from modelyard.tracking.entities import ViewType
from modelyard.tracking.search import And, Compare, Expr, Not, Or, OrderKey, Value

_NUMERIC_RE = r"^\s*[-+]?([0-9]+\.?[0-9]*|\.[0-9]+)([eE][-+]?[0-9]+)?\s*$"
# PostgreSQL: how long a run search with a regex may take before it is stopped and refused (400)
REGEX_STATEMENT_TIMEOUT_MS = 5_000
_QUERY_CANCELED = "57014"  # SQLSTATE of a statement stopped by statement_timeout
_REGEX_FAILED = {"2201B", "54000", "54001"}  # invalid regex; regex too complex; stack too deep
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


def _dataset_condition(node: Compare) -> ColumnElement[bool]:
    """``datasets.name|digest|context``: some dataset input of the run matches (MLflow's
    digest of a dataset: its own for a reference version, else the first 8 hex digits)."""
    field, op, value = node.field, node.op, node.value
    column: Any = {
        "name": datasets.c.name,
        "context": run_datasets.c.context,
        "digest": func.coalesce(
            dataset_versions.c.reference_digest, func.substr(dataset_versions.c.digest, 1, 8)
        ),
    }[field.key]
    if _is_numeric_value(value):  # datasets.digest = 12345678 means the text
        value = tuple(str(v) for v in value) if isinstance(value, tuple) else str(value)
    base = and_(
        run_datasets.c.run_id == runs.c.id,
        run_datasets.c.direction == "input",
        datasets.c.id == run_datasets.c.dataset_id,
        dataset_versions.c.dataset_id == run_datasets.c.dataset_id,
        dataset_versions.c.version == run_datasets.c.version,
    )
    if op == "IS NULL":
        return not_(exists().where(base))
    return exists().where(base, _compare(column, op, value))


def _condition(conn: Connection, node: Compare) -> ColumnElement[bool]:
    field, op, value = node.field, node.op, node.value
    column: Any
    if field.kind == "dataset":
        return _dataset_condition(node)
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


def _postgres_patterns(expr: Expr) -> Expr:
    """The filter with each regex in PostgreSQL's syntax; BadFilter for one outside its subset."""
    if isinstance(expr, Compare):
        if expr.op != "REGEXP":
            return expr
        assert isinstance(expr.value, str)
        try:
            return Compare(expr.field, expr.op, search_regex.to_postgres(expr.value))
        except search_regex.PatternError as exc:
            raise BadFilter(
                f"the regular expression {expr.value!r} uses what PostgreSQL stores cannot match "
                f"as RE2 does: {exc} (docs/search.md)"
            ) from exc
    if isinstance(expr, And):
        return And(tuple(_postgres_patterns(e) for e in expr.items))
    if isinstance(expr, Or):
        return Or(tuple(_postgres_patterns(e) for e in expr.items))
    if isinstance(expr, Not):
        return Not(_postgres_patterns(expr.item))
    raise TypeError(f"unknown filter node {expr!r}")  # pragma: no cover


def _has_regex(expr: Expr) -> bool:
    if isinstance(expr, Compare):
        return expr.op == "REGEXP"
    if isinstance(expr, Not):
        return _has_regex(expr.item)
    return any(_has_regex(e) for e in expr.items)


def _refusal(exc: DBAPIError) -> BadFilter | None:
    """A PostgreSQL error caused by the filter's regex, as the caller's 400; None for others."""
    state = getattr(exc.orig, "sqlstate", None)
    if state == _QUERY_CANCELED:
        seconds = REGEX_STATEMENT_TIMEOUT_MS / 1000
        return BadFilter(
            f"the search was stopped after {seconds:g} s: a regular expression over this many "
            "runs costs too much; narrow the filter (fewer experiments, an anchored or "
            "simpler pattern) (docs/search.md)",
            timeout_ms=REGEX_STATEMENT_TIMEOUT_MS,
        )
    if state in _REGEX_FAILED:
        return BadFilter(f"PostgreSQL could not run the regular expression: {exc.orig}")
    return None


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
        columns = [table.c.value] if key.as_text else [_numeric(conn, table.c.value), table.c.value]
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
    bounded = False
    if expr is not None and conn.dialect.name == "postgresql" and _has_regex(expr):
        expr = _postgres_patterns(expr)
        bounded = True
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
    if bounded:  # SET LOCAL: for this transaction only, so the pooled connection forgets it
        conn.exec_driver_sql(f"SET LOCAL statement_timeout = {int(REGEX_STATEMENT_TIMEOUT_MS)}")
    try:
        ids = [row[0] for row in conn.execute(query)]
    except DBAPIError as exc:
        refusal = _refusal(exc) if bounded else None
        if refusal is None:
            raise
        raise refusal from exc
    return ids[:max_results], len(ids) > max_results
