"""Schema and statistical profile of a table (pyarrow): the reference later drift checks use.

Per column: type, count, missing; numbers also min, max, mean, std, quantiles and a 20-bin
histogram; everything else the distinct count and the 10 most frequent values.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

QUANTILES = (0.01, 0.05, 0.25, 0.5, 0.75, 0.95, 0.99)
BINS = 20
TOP = 10
TABULAR = {".parquet", ".csv", ".tsv", ".json", ".jsonl", ".feather", ".arrow"}


def to_table(data: Any) -> Any:
    """A pyarrow Table from pandas, polars, pyarrow or a tabular file (CSV, Parquet, JSON)."""
    import pyarrow as pa

    if isinstance(data, pa.Table):
        return normalize(data)
    if type(data).__module__.startswith("polars"):
        return normalize(data.to_arrow())
    if type(data).__module__.startswith("pandas"):
        return normalize(pa.Table.from_pandas(data, preserve_index=False))
    path = Path(data)
    suffix = path.suffix.lower()
    if suffix == ".parquet":
        import pyarrow.parquet as pq

        return pq.read_table(path)
    if suffix in {".csv", ".tsv"}:
        import pyarrow.csv as pcsv

        delimiter = "\t" if suffix == ".tsv" else ","
        return pcsv.read_csv(path, parse_options=pcsv.ParseOptions(delimiter=delimiter))
    if suffix in {".json", ".jsonl"}:
        import pyarrow.json as pjson

        return pjson.read_json(path)
    if suffix in {".feather", ".arrow"}:
        import pyarrow.feather as feather

        return feather.read_table(path)
    raise ValueError(f"{path} is not a table modelyard reads ({', '.join(sorted(TABULAR))})")


def normalize(table: Any) -> Any:
    """The same data from pandas, polars or Arrow becomes the same table (so the same bytes):
    no library metadata, no index column, 32-bit-offset strings and binaries."""
    import pyarrow as pa

    table = table.replace_schema_metadata(None)
    if "__index_level_0__" in table.column_names:
        table = table.drop(["__index_level_0__"])
    fields = []
    for f in table.schema:
        kind = f.type
        if pa.types.is_large_string(kind) or pa.types.is_string_view(kind):
            kind = pa.string()
        elif pa.types.is_large_binary(kind):
            kind = pa.binary()
        fields.append(pa.field(f.name, kind, nullable=True))
    return table.cast(pa.schema(fields))


def schema(table: Any) -> list[dict[str, Any]]:
    return [
        {"name": f.name, "type": str(f.type), "nullable": bool(f.nullable)} for f in table.schema
    ]


def column_profile(column: Any) -> dict[str, Any]:
    import numpy as np
    import pyarrow as pa
    import pyarrow.compute as pc

    kind = column.type
    out: dict[str, Any] = {
        "type": str(kind),
        "count": len(column),
        "missing": int(column.null_count),
    }
    if pa.types.is_integer(kind) or pa.types.is_floating(kind) or pa.types.is_decimal(kind):
        values = column.cast(pa.float64()).to_numpy(zero_copy_only=False)
        finite = values[np.isfinite(values)]
        out["missing"] = int(len(values) - len(finite))  # NaN and inf count as missing
        out["kind"] = "numeric"
        if len(finite):
            counts, edges = np.histogram(finite, bins=BINS)
            out.update(
                min=float(finite.min()),
                max=float(finite.max()),
                mean=float(finite.mean()),
                std=float(finite.std(ddof=1)) if len(finite) > 1 else 0.0,
                quantiles={
                    str(q): float(v)
                    for q, v in zip(QUANTILES, np.quantile(finite, QUANTILES), strict=True)
                },
                histogram={"edges": edges.tolist(), "counts": counts.tolist()},
            )
        return out
    if pa.types.is_boolean(kind):
        out["kind"] = "boolean"
        out["true"] = int(pc.sum(column).as_py() or 0)
        return out
    try:
        as_text = column.cast(pa.string()) if not pa.types.is_string(kind) else column
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        out["kind"] = "other"  # nested types: counts only
        return out
    out["kind"] = "categorical"
    counted = pc.value_counts(as_text.drop_null())
    pairs = sorted(
        ((v["values"].as_py(), v["counts"].as_py()) for v in counted),
        key=lambda p: (-p[1], str(p[0])),
    )
    out["distinct"] = len(pairs)
    out["top"] = [{"value": v, "count": c} for v, c in pairs[:TOP]]
    return out


def profile(table: Any) -> dict[str, Any]:
    """The profile of every column, by name."""
    return {name: column_profile(table.column(name)) for name in table.column_names}
