"""Service health from the prediction log (requests, errors, throughput, latency), and the
logged inputs as a table (the current data of a drift check).

Health counts the live answers of the serving processes: one per request (its row 0), never a
shadow's answer or an SDK-logged batch. Errors are 5xx answers; 4xx answers (the caller's
mistakes) are counted apart as ``client_errors``. Availability comes from the active probe, not
from here: it stays None in these points.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from modelyard.errors import InvalidInput
from modelyard.monitoring import layout

HEALTH_FIGURES = (
    "requests", "errors", "error_rate", "throughput_rps",
    "latency_p50_ms", "latency_p90_ms", "latency_p99_ms", "availability",
)  # fmt: skip


@dataclass
class HealthPoint:
    start_ms: int
    requests: int
    errors: int
    client_errors: int
    error_rate: float | None
    throughput_rps: float | None
    latency_p50_ms: float | None
    latency_p90_ms: float | None
    latency_p99_ms: float | None
    availability: float | None = None

    def figures(self) -> dict[str, float | None]:
        """This point's figures by the contract's names."""
        return {
            "requests": float(self.requests),
            "errors": float(self.errors),
            "error_rate": self.error_rate,
            "throughput_rps": self.throughput_rps,
            "latency_p50_ms": self.latency_p50_ms,
            "latency_p90_ms": self.latency_p90_ms,
            "latency_p99_ms": self.latency_p99_ms,
            "availability": self.availability,
        }

    def to_json(self) -> dict[str, Any]:
        return {
            "start_ms": self.start_ms,
            "requests": self.requests,
            "errors": self.errors,
            "client_errors": self.client_errors,
            "error_rate": self.error_rate,
            "throughput_rps": self.throughput_rps,
            "latency_p50_ms": self.latency_p50_ms,
            "latency_p90_ms": self.latency_p90_ms,
            "latency_p99_ms": self.latency_p99_ms,
            "availability": self.availability,
        }


def empty_figures() -> dict[str, float | None]:
    return dict.fromkeys(HEALTH_FIGURES)


def _range_sql(since_ms: int | None, until_ms: int | None, version: int | None) -> list[str]:
    where = []
    if since_ms is not None:
        where.append(f"time_ms >= {int(since_ms)}")
    if until_ms is not None:
        where.append(f"time_ms < {int(until_ms)}")
    if version is not None:
        where.append(f"model_version = {int(version)}")
    return where


def query(
    root: Path,
    deployment: str,
    *,
    window_s: int,
    since_ms: int | None = None,
    until_ms: int | None = None,
    version: int | None = None,
    align_ms: int = 0,
) -> list[HealthPoint]:
    """Health per window of ``window_s`` seconds (aligned on ``align_ms``), oldest first."""
    if window_s <= 0:
        raise InvalidInput("window must be a positive number of seconds", field="window")
    files = layout.prediction_files(root, deployment, since_ms, until_ms)
    if not files:
        return []
    where = ['"row" = 0', "role = 'live'", "source = 'serving'"]
    where += _range_sql(since_ms, until_ms, version)
    window_ms = int(window_s) * 1000
    align = int(align_ms)
    with layout.connection() as con:
        got = con.sql(
            f"""SELECT {align} + floor((time_ms - {align}) / {window_ms})::BIGINT * {window_ms} AS t,
                       count(*) AS n,
                       count(*) FILTER (WHERE status >= 500) AS errors,
                       count(*) FILTER (WHERE status >= 400 AND status < 500) AS client_errors,
                       quantile_cont(latency_ms, [0.5, 0.9, 0.99]) AS q
                FROM read_parquet({layout.sql_list(files)}, union_by_name = true)
                WHERE {" AND ".join(where)}
                GROUP BY t ORDER BY t"""
        ).fetchall()
    points = []
    for t, n, errors, client, q in got:
        q = q or [None, None, None]
        points.append(
            HealthPoint(
                start_ms=int(t),
                requests=int(n),
                errors=int(errors),
                client_errors=int(client),
                error_rate=errors / n if n else None,
                throughput_rps=n / window_s,
                latency_p50_ms=q[0],
                latency_p90_ms=q[1],
                latency_p99_ms=q[2],
            )
        )
    return points


def features(
    root: Path,
    deployment: str,
    *,
    since_ms: int | None = None,
    until_ms: int | None = None,
    version: int | None = None,
    limit: int | None = None,
) -> Any:
    """The logged inputs of answered rows (names without "f.") and a "prediction" column.

    Without a version, live answers only (a shadow's rows repeat the same inputs). With a limit,
    a uniform sample of that many rows (reservoir, fixed seed)."""
    import pyarrow as pa

    if limit is not None and limit <= 0:
        raise InvalidInput("limit must be a positive number of rows", field="limit")
    files = layout.prediction_files(root, deployment, since_ms, until_ms)
    if not files:
        return pa.table({"prediction": pa.array([], pa.float64())})
    where = ["status = 200", "prediction_class IS NOT NULL"]
    where += _range_sql(since_ms, until_ms, version)
    if version is None:
        where.append("role = 'live'")
    source = f"read_parquet({layout.sql_list(files)}, union_by_name = true)"
    with layout.connection() as con:
        names = [r[0] for r in con.sql(f"DESCRIBE SELECT * FROM {source}").fetchall()]
        cols = [n for n in names if n.startswith(layout.FEATURE_PREFIX)]
        numeric = con.sql(
            f"SELECT count(prediction_value) = count(prediction_class) FROM {source} "
            f"WHERE {' AND '.join(where)}"
        ).fetchall()[0]
        prediction = "prediction_value" if numeric and numeric[0] else "prediction_class"
        select = ", ".join(
            [
                f"{layout.quote_name(c)} AS {layout.quote_name(c[len(layout.FEATURE_PREFIX) :])}"
                for c in cols
            ]
            + [f"{prediction} AS prediction"]
        )
        sql = f"SELECT {select} FROM {source} WHERE {' AND '.join(where)}"
        if limit:
            sql = f"SELECT * FROM ({sql}) USING SAMPLE reservoir({int(limit)} ROWS) REPEATABLE (7)"
        table = con.sql(sql).to_arrow_table()
    return table
