"""One column's drift: the numeric and categorical tests against a reference table or profile.

A numeric column is sorted once and everything (KS, Wasserstein, PSI and Jensen-Shannon bins,
the plotted histogram) comes from that sort; a categorical one is counted once by Arrow.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from modelyard.errors import InvalidInput
from modelyard.monitoring import stattests as st

if TYPE_CHECKING:
    import pyarrow as pa

PLOT_BINS = 20
PLOT_TOP = 10
WILDCARDS = ("*numeric", "*categorical", "*")  # keys of methods/thresholds that are not columns

Array = np.ndarray[Any, Any]


@dataclass(frozen=True)
class Distribution:
    """Reference vs current on the same cells, as shares of each side's non-missing values."""

    edges: tuple[float, ...] = ()  # numeric: cell edges (one more than cells)
    categories: tuple[str, ...] = ()  # categorical: cell labels
    reference: tuple[float, ...] = ()
    current: tuple[float, ...] = ()
    other: bool = False  # categorical: the last cell holds every category not listed


@dataclass(frozen=True)
class ColumnDrift:
    """One column's verdict, the test behind it, and every statistic computed."""

    column: str
    kind: str  # "numeric" | "categorical"
    method: str  # the test that decides
    score: float | None  # that test's value (a p-value for ks, chisquare and z)
    threshold: float
    p_value: float | None
    drifted: bool
    statistics: dict[str, float | None]  # psi, ks_statistic, ks_p_value, wasserstein, ...
    missing_reference: float  # share of rows: null, NaN or infinite
    missing_current: float
    out_of_range: float | None  # share of current values outside the reference's range/categories
    distribution: Distribution
    n_reference: int  # non-missing values
    n_current: int
    note: str = ""


# ---------------------------------------------------------------- options


class Options:
    """The methods, thresholds and drift share asked for, checked once."""

    def __init__(
        self,
        methods: Mapping[str, str] | None,
        thresholds: Mapping[str, float] | None,
        drift_share: float,
        names: Sequence[str],
    ) -> None:
        if not (isinstance(drift_share, int | float) and 0 < drift_share <= 1):
            raise InvalidInput("drift_share must be in (0, 1]", field="drift_share")
        known = set(names) | set(WILDCARDS)
        self.methods = dict(methods or {})
        for key, method in self.methods.items():
            if method not in st.METHODS:
                raise InvalidInput(
                    f"unknown drift method {method!r} (one of {', '.join(st.METHODS)})",
                    field="methods",
                )
            if key not in known:
                raise InvalidInput(f"methods names an unknown column {key!r}", field="methods")
        self.thresholds = dict(thresholds or {})
        for key, value in self.thresholds.items():
            if key not in known:
                raise InvalidInput(
                    f"thresholds names an unknown column {key!r}", field="thresholds"
                )
            if not isinstance(value, int | float) or not math.isfinite(value) or value < 0:
                raise InvalidInput(
                    f"threshold of {key!r} must be a finite number >= 0", field="thresholds"
                )
        self.drift_share = float(drift_share)

    def _pick(self, table: Mapping[str, Any], column: str, kind: str) -> Any:
        for key in (column, f"*{kind}", "*"):
            if key in table:
                return table[key]
        return None

    def method(self, column: str, kind: str, n_reference: int, n_values: int) -> str:
        """The forced method (checked against the kind) or Evidently's default."""
        forced = self._pick(self.methods, column, kind)
        if forced is None:
            return st.default_method(kind, n_reference, n_values)
        wrong = st.CATEGORICAL_ONLY if kind == "numeric" else st.NUMERIC_ONLY
        if forced in wrong:
            raise InvalidInput(
                f"method {forced!r} does not apply to {kind} column {column!r}", field="methods"
            )
        return str(forced)

    def threshold(self, column: str, kind: str, method: str) -> float:
        chosen = self._pick(self.thresholds, column, kind)
        return float(st.METHODS[method][0] if chosen is None else chosen)


# ---------------------------------------------------------------- numeric columns


def _float_values(column: pa.ChunkedArray) -> tuple[Array, bool]:
    """The column as float64 (nulls as NaN) and whether the array is a private copy."""
    import pyarrow as pa
    import pyarrow.compute as pc

    if pa.types.is_floating(column.type) and column.type.bit_width == 64 and column.null_count == 0:
        if column.num_chunks == 1:
            return column.chunk(0).to_numpy(zero_copy_only=True), False
        return column.to_numpy(), True
    if column.num_chunks == 0:
        return np.empty(0), True
    return pc.cast(column, pa.float64()).to_numpy(), True


def _sorted_side(column: pa.ChunkedArray) -> tuple[Array, float]:
    """The finite values sorted, and the share of rows that are missing (null, NaN, inf)."""
    values, owned = _float_values(column)
    finite = st.finite_sorted(values, owned=owned)
    total = len(column)
    return finite, (total - len(finite)) / total if total else 0.0


def numeric_table(
    name: str, ref_col: pa.ChunkedArray, cur_col: pa.ChunkedArray, options: Options
) -> ColumnDrift:
    ref, ref_missing = _sorted_side(ref_col)
    cur, cur_missing = _sorted_side(cur_col)
    if len(ref) == 0 or len(cur) == 0:
        return _untested(name, "numeric", ref, cur, ref_missing, cur_missing, options)
    ks, wasserstein = st.ecdf_compare(ref, cur)
    ref_distinct = st.count_distinct(ref)
    value_counts = None
    if (
        ref_distinct > st.BINNED_NUNIQUE
    ):  # Evidently's get_binned_data: Sturges over both, else by value
        n_values = ref_distinct  # enough for the rule: more than 20
        edges = st.sturges_edges(min(ref[0], cur[0]), max(ref[-1], cur[-1]), len(ref) + len(cur))
        ref_cells, cur_cells = st.histogram_counts(ref, edges), st.histogram_counts(cur, edges)
    else:
        keys, ref_cells, cur_cells = value_counts = st.aligned_value_counts(ref, cur)
        n_values = len(keys)
    stats: dict[str, float | None] = {
        "psi": st.psi(ref_cells, cur_cells),
        "jensen_shannon": st.jensen_shannon(ref_cells, cur_cells),
        "ks_statistic": ks,
        "ks_p_value": st.ks_p_value(ks, ref, cur),
        "wasserstein": wasserstein / max(float(np.std(ref)), 0.001),
        "chisquare_p_value": None,
        "z_p_value": None,
    }
    if value_counts is not None and n_values <= st.BINNED_NUNIQUE:
        _, ref_values, cur_values = value_counts
        stats["chisquare_p_value"] = st.chisquare_p_value(ref_values, cur_values)
        if n_values <= 2:
            stats["z_p_value"] = st.z_p_value(ref_values, cur_values)
    low, high = float(ref[0]), float(ref[-1])
    outside = (
        int(np.searchsorted(cur, low, "left")) + len(cur) - int(np.searchsorted(cur, high, "right"))
    )
    plot_edges = _plot_edges(low, high)
    distribution = _numeric_distribution(plot_edges, st.histogram_counts(ref, plot_edges), cur)
    return _verdict(
        name,
        "numeric",
        n_values,
        stats,
        options,
        ref_missing,
        cur_missing,
        outside / len(cur),
        distribution,
        len(ref),
        len(cur),
    )


def numeric_profile(
    name: str, summary: Mapping[str, Any], cur_col: pa.ChunkedArray, options: Options
) -> ColumnDrift:
    cur, cur_missing = _sorted_side(cur_col)
    count = int(summary.get("count", 0))
    n_ref = count - int(summary.get("missing", 0))
    ref_missing = (count - n_ref) / count if count else 0.0
    histogram = summary.get("histogram")
    if n_ref <= 0 or not histogram or len(cur) == 0:
        return _untested(
            name, "numeric", np.empty(max(n_ref, 0)), cur, ref_missing, cur_missing, options
        )
    edges = np.asarray(histogram["edges"], dtype=np.float64)
    counts = np.asarray(histogram["counts"], dtype=np.int64)
    below = int(np.searchsorted(cur, edges[0], "left"))
    above = len(cur) - int(np.searchsorted(cur, edges[-1], "right"))
    ref_cells = np.concatenate(([0], counts, [0]))
    cur_cells = np.concatenate(([below], st.histogram_counts(cur, edges), [above]))
    # KS at the edges, the only points where the reference's CDF is known
    ref_cdf = np.concatenate(([0.0], np.cumsum(counts) / n_ref))
    cur_cdf = np.searchsorted(cur, edges, "left") / len(cur)
    cur_cdf[-1] = np.searchsorted(cur, edges[-1], "right") / len(cur)
    ks = float(np.max(np.abs(ref_cdf - cur_cdf)))
    cur_distinct = st.count_distinct(cur)
    n_values = max(cur_distinct, int(np.count_nonzero(counts)))
    stats: dict[str, float | None] = {
        "psi": st.psi(ref_cells, cur_cells),
        "jensen_shannon": st.jensen_shannon(ref_cells, cur_cells),
        "ks_statistic": ks,
        "ks_p_value": st.ks_p_value(ks, np.empty(0), cur, n_reference=n_ref),
        "wasserstein": st.quantile_wasserstein(edges, counts, cur)
        / max(float(summary.get("std") or 0.0), 0.001),
        "chisquare_p_value": st.chisquare_p_value(ref_cells, cur_cells)
        if n_values <= st.BINNED_NUNIQUE
        else None,
        "z_p_value": None,
    }
    low, high = float(summary.get("min", edges[0])), float(summary.get("max", edges[-1]))
    outside = (
        int(np.searchsorted(cur, low, "left")) + len(cur) - int(np.searchsorted(cur, high, "right"))
    )
    distribution = _numeric_distribution(edges, counts, cur)
    return _verdict(
        name,
        "numeric",
        n_values,
        stats,
        options,
        ref_missing,
        cur_missing,
        outside / len(cur),
        distribution,
        n_ref,
        len(cur),
    )


def _plot_edges(low: float, high: float) -> Array:
    if low == high:
        low, high = low - 0.5, high + 0.5
    return np.linspace(low, high, PLOT_BINS + 1)


def _numeric_distribution(edges: Array, ref_counts: Array, cur: Array) -> Distribution:
    """The reference's bins, with a cell below and one above when current values fall there."""
    cur_counts = st.histogram_counts(cur, edges)
    below = int(np.searchsorted(cur, edges[0], "left"))
    above = len(cur) - int(np.searchsorted(cur, edges[-1], "right"))
    all_edges, refs, curs = list(edges), list(ref_counts), list(cur_counts)
    if below:
        all_edges, refs, curs = [float(cur[0]), *all_edges], [0, *refs], [below, *curs]
    if above:
        all_edges, refs, curs = [*all_edges, float(cur[-1])], [*refs, 0], [*curs, above]
    ref_total, cur_total = max(sum(refs), 1), max(len(cur), 1)
    return Distribution(
        edges=tuple(float(e) for e in all_edges),
        reference=tuple(float(c) / ref_total for c in refs),
        current=tuple(float(c) / cur_total for c in curs),
    )


# ---------------------------------------------------------------- categorical columns


def _category_counts(
    column: pa.ChunkedArray, as_float: bool = False
) -> tuple[pa.Array, Array, int]:
    """(distinct values as text, their counts, missing rows) of a column, counted by Arrow."""
    import pyarrow as pa
    import pyarrow.compute as pc

    counted = pc.value_counts(column)
    values, counts = counted.field("values"), counted.field("counts")
    if values.null_count:
        keep = pc.is_valid(values)
        values, counts = values.filter(keep), counts.filter(keep)
    if pa.types.is_dictionary(values.type):
        values = values.cast(values.type.value_type)
    if as_float:
        values = values.cast(pa.float64())
    if not pa.types.is_string(values.type):
        values = values.cast(pa.string())
    numbers = counts.to_numpy(zero_copy_only=False).astype(np.int64, copy=False)
    return values, numbers, len(column) - int(numbers.sum())


def categorical_table(
    name: str, ref_col: pa.ChunkedArray, cur_col: pa.ChunkedArray, options: Options
) -> ColumnDrift:
    import pyarrow as pa
    import pyarrow.compute as pc

    as_float = pa.types.is_integer(ref_col.type) and pa.types.is_floating(cur_col.type)
    ref_keys, ref_counts, ref_nulls = _category_counts(ref_col, as_float)
    cur_keys, cur_counts, cur_nulls = _category_counts(cur_col, as_float)
    ref_missing = ref_nulls / len(ref_col)
    cur_missing = cur_nulls / len(cur_col)
    n_ref, n_cur = int(ref_counts.sum()), int(cur_counts.sum())
    if n_ref == 0 or n_cur == 0:
        return _untested(
            name, "categorical", np.empty(n_ref), np.empty(n_cur), ref_missing, cur_missing, options
        )
    keys = pc.unique(pa.concat_arrays([ref_keys, cur_keys]))
    keys = keys.take(pc.sort_indices(keys))  # sorted, as Evidently's z-test orders its two values
    ref_cells = np.zeros(len(keys), dtype=np.int64)
    cur_cells = np.zeros(len(keys), dtype=np.int64)
    ref_cells[pc.index_in(ref_keys, value_set=keys).to_numpy(zero_copy_only=False)] = ref_counts
    cur_cells[pc.index_in(cur_keys, value_set=keys).to_numpy(zero_copy_only=False)] = cur_counts
    labels = keys.to_pylist()
    return _categorical_verdict(
        name,
        labels,
        ref_cells,
        cur_cells,
        options,
        ref_missing,
        cur_missing,
        len(keys),
        True,
        n_ref,
        n_cur,
    )


def categorical_profile(
    name: str, summary: Mapping[str, Any], cur_col: pa.ChunkedArray, options: Options
) -> ColumnDrift:
    import pyarrow as pa
    import pyarrow.compute as pc

    count = int(summary.get("count", 0))
    n_ref = count - int(summary.get("missing", 0))
    ref_missing = (count - n_ref) / count if count else 0.0
    if summary.get("kind") == "boolean":
        true = int(summary.get("true", 0))
        top = [("false", n_ref - true), ("true", true)]
        complete = True
    else:
        top = [(str(t["value"]), int(t["count"])) for t in summary.get("top", [])]
        complete = int(summary.get("distinct", len(top))) <= len(top)
    cur_keys, cur_counts, cur_nulls = _category_counts(cur_col)
    cur_missing = cur_nulls / len(cur_col)
    n_cur = int(cur_counts.sum())
    if n_ref <= 0 or n_cur == 0:
        return _untested(
            name,
            "categorical",
            np.empty(max(n_ref, 0)),
            np.empty(n_cur),
            ref_missing,
            cur_missing,
            options,
        )
    labels = [value for value, _ in top]
    ref_cells = np.array([c for _, c in top] + [n_ref - sum(c for _, c in top)], dtype=np.int64)
    where = pc.index_in(cur_keys, value_set=pa.array(labels, pa.string())).to_numpy(
        zero_copy_only=False
    )
    slots = np.where(np.isnan(where.astype(np.float64)), len(labels), where).astype(np.int64)
    cur_cells = np.bincount(slots, weights=cur_counts, minlength=len(labels) + 1).astype(np.int64)
    if ref_cells[-1] == 0 and cur_cells[-1] == 0:
        ref_cells, cur_cells, other = ref_cells[:-1], cur_cells[:-1], False
    else:
        other = True
    new = int(np.count_nonzero(np.isnan(where.astype(np.float64))))
    n_values = (
        len(labels) + new if complete else max(int(summary.get("distinct", 0)), len(cur_keys))
    )
    return _categorical_verdict(
        name,
        labels,
        ref_cells,
        cur_cells,
        options,
        ref_missing,
        cur_missing,
        n_values,
        complete,
        n_ref,
        n_cur,
        other=other,
    )


def _categorical_verdict(
    name: str,
    labels: list[str],
    ref_cells: Array,
    cur_cells: Array,
    options: Options,
    ref_missing: float,
    cur_missing: float,
    n_values: int,
    complete: bool,
    n_ref: int,
    n_cur: int,
    *,
    other: bool = False,
) -> ColumnDrift:
    stats: dict[str, float | None] = {
        "psi": st.psi(ref_cells, cur_cells),
        "jensen_shannon": st.jensen_shannon(ref_cells, cur_cells),
        "ks_statistic": None,
        "ks_p_value": None,
        "wasserstein": None,
        "chisquare_p_value": st.chisquare_p_value(ref_cells, cur_cells),
        "z_p_value": st.z_p_value(ref_cells, cur_cells) if len(ref_cells) <= 2 else None,
    }
    out_of_range = float(cur_cells[ref_cells == 0].sum()) / n_cur if complete else None
    return _verdict(
        name,
        "categorical",
        n_values,
        stats,
        options,
        ref_missing,
        cur_missing,
        out_of_range,
        _categorical_distribution(labels, ref_cells, cur_cells, other),
        n_ref,
        n_cur,
    )


def _categorical_distribution(
    labels: list[str], ref_cells: Array, cur_cells: Array, other: bool
) -> Distribution:
    """The categories most frequent on either side (up to 10) and the rest as one cell."""
    ref_share = ref_cells / max(int(ref_cells.sum()), 1)
    cur_share = cur_cells / max(int(cur_cells.sum()), 1)
    named = len(labels)  # an "other" cell, if any, is last and stays last
    order = np.argsort(-np.maximum(ref_share[:named], cur_share[:named]), kind="stable")
    shown, rest = order[:PLOT_TOP], order[PLOT_TOP:]
    refs = [float(ref_share[i]) for i in shown]
    curs = [float(cur_share[i]) for i in shown]
    if len(rest) or other:
        refs.append(float(ref_share[rest].sum() + ref_share[named:].sum()))
        curs.append(float(cur_share[rest].sum() + cur_share[named:].sum()))
    return Distribution(
        categories=tuple(str(labels[i]) for i in shown),
        reference=tuple(refs),
        current=tuple(curs),
        other=bool(len(rest) or other),
    )


# ---------------------------------------------------------------- verdicts


def _verdict(
    name: str,
    kind: str,
    n_values: int,
    stats: dict[str, float | None],
    options: Options,
    ref_missing: float,
    cur_missing: float,
    out_of_range: float | None,
    distribution: Distribution,
    n_ref: int,
    n_cur: int,
) -> ColumnDrift:
    method = options.method(name, kind, n_ref, n_values)
    score = stats[_STAT_OF[method]]
    if score is None and method == "z":  # a profile's numeric bins: chi-square over them instead
        method, score = "chisquare", stats["chisquare_p_value"]
    threshold = options.threshold(name, kind, method)
    is_p = st.METHODS[method][1] == "p_value"
    return ColumnDrift(
        column=name,
        kind=kind,
        method=method,
        score=score,
        threshold=threshold,
        p_value=score if is_p else None,
        drifted=st.is_drifted(method, score, threshold),
        statistics=stats,
        missing_reference=ref_missing,
        missing_current=cur_missing,
        out_of_range=out_of_range,
        distribution=distribution,
        n_reference=n_ref,
        n_current=n_cur,
    )


_STAT_OF = {
    "psi": "psi",
    "ks": "ks_p_value",
    "wasserstein": "wasserstein",
    "chisquare": "chisquare_p_value",
    "jensenshannon": "jensen_shannon",
    "z": "z_p_value",
}


def _untested(
    name: str,
    kind: str,
    ref: Array,
    cur: Array,
    ref_missing: float,
    cur_missing: float,
    options: Options,
) -> ColumnDrift:
    """A column with no values on one side: no test, its missing shares say what happened."""
    method = options.method(name, kind, len(ref), st.FEW_VALUES + 1)
    side = "reference" if len(ref) == 0 else "current"
    return ColumnDrift(
        column=name,
        kind=kind,
        method=method,
        score=None,
        threshold=options.threshold(name, kind, method),
        p_value=None,
        drifted=False,
        statistics=dict.fromkeys(_STAT_OF.values()),
        missing_reference=ref_missing,
        missing_current=cur_missing,
        out_of_range=None,
        distribution=Distribution(),
        n_reference=len(ref),
        n_current=len(cur),
        note=f"no values in the {side}: not tested",
    )
