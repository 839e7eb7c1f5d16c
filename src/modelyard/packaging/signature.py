"""Input and output schemas inferred from an example (numpy, pandas, Arrow, lists)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any


def describe(value: Any) -> list[dict[str, Any]]:
    """Columns (name, type; ``optional`` when the example holds a null there) of a DataFrame,
    or one tensor spec (dtype, shape with -1 batch)."""
    columns = getattr(value, "columns", None)
    dtypes = getattr(value, "dtypes", None)
    if columns is not None and dtypes is not None:  # pandas or polars
        out = []
        for c, t in zip(columns, dtypes, strict=False):
            spec: dict[str, Any] = {"name": str(c), "type": str(t)}
            if _has_null(value[c]):
                spec["optional"] = True  # the serving check lets nulls through here
            out.append(spec)
        return out
    import numpy as np

    arr = value.detach().cpu().numpy() if hasattr(value, "detach") else np.asarray(value)
    return [{"type": "tensor", "dtype": str(arr.dtype), "shape": [-1, *arr.shape[1:]]}]


def infer(example: Any, output: Any | None) -> dict[str, Any]:
    sig: dict[str, Any] = {"inputs": describe(example)}
    if output is not None:
        sig["outputs"] = describe(output)
    return sig


def save_example(example: Any, folder: Path, rows: int = 5) -> str:
    """The first rows of the example as JSON (never pickle)."""
    import numpy as np

    if hasattr(example, "to_dict") and hasattr(example, "columns"):
        data: Any = {
            "columns": [str(c) for c in example.columns],
            "data": example.head(rows).values.tolist(),
        }
    else:
        arr = example.detach().cpu().numpy() if hasattr(example, "detach") else np.asarray(example)
        data = {"data": arr[:rows].tolist()}
    (folder / "input_example.json").write_text(json.dumps(data, default=str))
    return "input_example.json"


def _has_null(column: Any) -> bool:
    if hasattr(column, "isna"):  # pandas
        return bool(column.isna().any())
    return bool(getattr(column, "null_count", lambda: 0)())  # polars
