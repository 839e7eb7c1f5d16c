"""Data drift of current data against a reference: a table, or a dataset version's stored profile.

Per column one test decides (picked by sample size as Evidently's data-drift preset does, or
forced), and every other statistic is computed beside it. A numeric column is sorted once; the
KS statistic, the Wasserstein distance, the PSI/Jensen-Shannon bins and the plotted histogram all
come from that sort. A categorical column is counted once with Arrow. Columns run in a thread
pool (numpy's sort and Arrow's kernels release the GIL).
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from modelyard.errors import InvalidInput
from modelyard.monitoring.drift_columns import (
    ColumnDrift,
    Distribution,
    Options,
    categorical_profile,
    categorical_table,
    numeric_profile,
    numeric_table,
)

if TYPE_CHECKING:
    import pyarrow as pa

INTEGER_CATEGORIES = 10  # Evidently: an integer column with at most this many values is categorical

__all__ = [
    "ColumnDrift",
    "Distribution",
    "DriftReport",
    "SchemaFinding",
    "compare",
    "compare_to_profile",
    "figures",
    "report_json",
]


@dataclass(frozen=True)
class SchemaFinding:
    """A column added, removed or of another type: a finding of its own, not a drift."""

    column: str
    change: str  # "added" | "removed" | "type_changed"
    reference_type: str | None
    current_type: str | None


@dataclass(frozen=True)
class DriftReport:
    """Every column's drift, the dataset's verdict and the schema findings."""

    columns: tuple[ColumnDrift, ...]
    schema: tuple[SchemaFinding, ...]
    drifted_share: float | None  # drifted / tested columns; None when no column could be tested
    dataset_drift: bool
    drift_share: float
    n_reference: int
    n_current: int
    reference: str  # "table" | "profile"
    skipped: dict[str, str] = field(default_factory=dict)  # column -> why it has no test

    @property
    def drifted_columns(self) -> list[str]:
        """Names of the drifted columns."""
        return [c.column for c in self.columns if c.drifted]


# ---------------------------------------------------------------- the entry points


def compare(
    reference: pa.Table,
    current: pa.Table,
    *,
    columns: Sequence[str] | None = None,
    methods: Mapping[str, str] | None = None,
    thresholds: Mapping[str, float] | None = None,
    drift_share: float = 0.5,
    workers: int | None = None,
) -> DriftReport:
    """Drift of ``current`` against a reference table."""
    if reference.num_rows == 0:
        raise InvalidInput("the reference has no rows", field="reference")
    ref_types = {f.name: f.type for f in reference.schema}
    cur_types = {f.name: f.type for f in current.schema}
    names, schema = _columns(columns, ref_types, cur_types)
    options = Options(methods, thresholds, drift_share, names)
    _check_current(current)
    jobs: list[tuple[str, Callable[[], ColumnDrift]]] = []
    skipped: dict[str, str] = {}
    findings = list(schema)
    for name in names:
        ref_col, cur_col = reference.column(name), current.column(name)
        ref_type, cur_type = ref_col.type, cur_col.type
        if _type_name(ref_type) != _type_name(cur_type):
            findings.append(SchemaFinding(name, "type_changed", str(ref_type), str(cur_type)))
        family = _family(ref_type)
        if family is None:
            skipped[name] = f"type {ref_type} is neither numeric nor categorical"
        elif _family(cur_type) != family:
            skipped[name] = f"type changed from {ref_type} to {cur_type}"
        elif family == "numeric" and not _few_integers(ref_col):
            jobs.append((name, _bind(numeric_table, name, ref_col, cur_col, options)))
        else:
            jobs.append((name, _bind(categorical_table, name, ref_col, cur_col, options)))
    return _assemble(
        jobs, findings, skipped, options, reference.num_rows, current.num_rows, "table", workers
    )


def compare_to_profile(
    profile: Mapping[str, Any],
    current: pa.Table,
    *,
    columns: Sequence[str] | None = None,
    methods: Mapping[str, str] | None = None,
    thresholds: Mapping[str, float] | None = None,
    drift_share: float = 0.5,
    workers: int | None = None,
) -> DriftReport:
    """Drift of ``current`` against a dataset version's profile (binned tests: 20 bins, top 10 values)."""
    if not isinstance(profile, Mapping) or not profile:
        raise InvalidInput("the reference profile is empty", field="reference")
    ref_types = {
        str(k): str(v.get("type", "")) for k, v in profile.items() if isinstance(v, Mapping)
    }
    cur_types = {f.name: f.type for f in current.schema}
    names, schema = _columns(columns, ref_types, cur_types)
    options = Options(methods, thresholds, drift_share, names)
    _check_current(current)
    jobs: list[tuple[str, Callable[[], ColumnDrift]]] = []
    skipped: dict[str, str] = {}
    findings = list(schema)
    n_reference = 0
    for name in names:
        summary = profile[name]
        n_reference = max(n_reference, int(summary.get("count", 0)))
        cur_col = current.column(name)
        ref_type = str(summary.get("type", ""))
        if _profile_type_name(ref_type) != _type_name(cur_col.type):
            findings.append(SchemaFinding(name, "type_changed", ref_type, str(cur_col.type)))
        kind = summary.get("kind")
        family = _family(cur_col.type)
        if kind == "numeric" and family == "numeric":
            jobs.append((name, _bind(numeric_profile, name, summary, cur_col, options)))
        elif (kind == "categorical" and family == "string") or (
            kind == "boolean" and family == "bool"
        ):
            jobs.append((name, _bind(categorical_profile, name, summary, cur_col, options)))
        elif kind in ("numeric", "categorical", "boolean"):
            skipped[name] = f"type changed from {ref_type} to {cur_col.type}"
        else:
            skipped[name] = f"type {ref_type} is neither numeric nor categorical"
    return _assemble(
        jobs, findings, skipped, options, n_reference, current.num_rows, "profile", workers
    )


def report_json(report: DriftReport) -> dict[str, Any]:
    """The report as JSON-safe data (NaN and infinities become None), the REST answer."""
    body = asdict(report)
    body["drifted_columns"] = report.drifted_columns
    return _json_safe(body)  # type: ignore[no-any-return]


def figures(report: DriftReport) -> dict[str, float | None]:
    """The drift figures alert rules read: ``drift_share`` and ``drift_score:{column}``."""
    out: dict[str, float | None] = {"drift_share": _finite(report.drifted_share)}
    for column in report.columns:
        out[f"drift_score:{column.column}"] = _finite(column.score)
    return out


# ---------------------------------------------------------------- schema


def _columns(
    asked: Sequence[str] | None, ref_types: Mapping[str, Any], cur_types: Mapping[str, Any]
) -> tuple[list[str], list[SchemaFinding]]:
    """The columns both sides have (in the reference's order) and the added or removed ones."""
    if asked is not None:
        if isinstance(asked, str):
            raise InvalidInput("columns must be a list of names", field="columns")
        unknown = [c for c in asked if c not in ref_types and c not in cur_types]
        if unknown:
            raise InvalidInput(
                f"unknown columns: {', '.join(map(repr, unknown[:20]))}", field="columns"
            )
        wanted = list(dict.fromkeys(asked))
    else:
        wanted = list(dict.fromkeys([*ref_types, *cur_types]))
    findings = []
    for name in wanted:
        if name not in cur_types:
            findings.append(SchemaFinding(name, "removed", str(ref_types[name]), None))
        elif name not in ref_types:
            findings.append(SchemaFinding(name, "added", None, str(cur_types[name])))
    return [n for n in wanted if n in ref_types and n in cur_types], findings


def _check_current(current: pa.Table) -> None:
    if current.num_rows == 0:
        raise InvalidInput("the current data has no rows: nothing to compare", field="current")


def _family(kind: pa.DataType) -> str | None:
    import pyarrow as pa

    if pa.types.is_dictionary(kind):
        return _family(kind.value_type)
    if pa.types.is_integer(kind) or pa.types.is_floating(kind) or pa.types.is_decimal(kind):
        return "numeric"
    if pa.types.is_boolean(kind):
        return "bool"
    if pa.types.is_string(kind) or pa.types.is_large_string(kind) or pa.types.is_string_view(kind):
        return "string"
    return None


def _type_name(kind: Any) -> str:
    """A type's name with the string encodings (large, view, dictionary) folded into ``string``."""
    import pyarrow as pa

    if isinstance(kind, str):
        return _profile_type_name(kind)
    if pa.types.is_dictionary(kind):
        return _type_name(kind.value_type)
    if _family(kind) == "string":
        return "string"
    return str(kind)


def _profile_type_name(name: str) -> str:
    if name in ("large_string", "string_view", "large_utf8", "utf8") or name.startswith(
        "dictionary<values=string"
    ):
        return "string"
    return name


def _few_integers(column: pa.ChunkedArray) -> bool:
    """Evidently's rule: an integer column with at most 10 distinct values is categorical."""
    import pyarrow as pa
    import pyarrow.compute as pc

    if not pa.types.is_integer(column.type):
        return False
    return len(pc.unique(column.drop_null())) <= INTEGER_CATEGORIES


def _bind(func: Callable[..., ColumnDrift], *args: Any) -> Callable[[], ColumnDrift]:
    return lambda: func(*args)


def _assemble(
    jobs: list[tuple[str, Callable[[], ColumnDrift]]],
    findings: list[SchemaFinding],
    skipped: dict[str, str],
    options: Options,
    n_reference: int,
    n_current: int,
    reference: str,
    workers: int | None,
) -> DriftReport:
    """Run the column jobs (in threads) and draw the dataset's verdict."""
    if workers is not None and workers < 1:
        raise InvalidInput("workers must be at least 1", field="workers")
    count = min(workers or os.cpu_count() or 1, max(len(jobs), 1))
    if count == 1:
        results = [job() for _, job in jobs]
    else:
        with ThreadPoolExecutor(max_workers=count, thread_name_prefix="drift") as pool:
            results = list(pool.map(lambda job: job[1](), jobs))
    tested = [r for r in results if r.score is not None]
    share = sum(r.drifted for r in tested) / len(tested) if tested else None
    return DriftReport(
        columns=tuple(results),
        schema=tuple(findings),
        drifted_share=share,
        dataset_drift=share is not None and share >= options.drift_share,
        drift_share=options.drift_share,
        n_reference=n_reference,
        n_current=n_current,
        reference=reference,
        skipped=skipped,
    )


def _finite(value: float | None) -> float | None:
    return value if value is not None and math.isfinite(value) else None


def _json_safe(value: Any) -> Any:
    if isinstance(value, float | np.floating):
        return _finite(float(value))
    if isinstance(value, np.integer):
        return int(value)
    if isinstance(value, Mapping):
        return {str(k): _json_safe(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_json_safe(v) for v in value]
    return value
