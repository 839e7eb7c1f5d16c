"""Check decoded rows against a model's signature, then build one model input per batch.

``Schema.check`` runs per request (so one bad request gets its own 4xx naming the field and
never spoils a batch); ``Schema.assemble`` turns the checked parts of a batch into the one
value the model is called with (a DataFrame for column signatures, an array for tensors).
Shared with the exported bundle, like ``requests.py``: numpy and pandas only, lazily.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from modelyard.errors import InvalidInput
from modelyard.serving.requests import Decoded

_KINDS = {"f": "float", "i": "int", "u": "int", "b": "bool", "O": "str", "U": "str", "M": "time"}
_ACCEPTS: dict[str, tuple[type, ...]] = {
    "float": (float, int),
    "int": (int,),
    "bool": (bool,),
    "str": (str,),
    "time": (str,),
    "any": (),
}
_NAMES = {"float": "a number", "int": "an integer", "bool": "true or false", "str": "a string"}


@dataclass(frozen=True, slots=True)
class Column:
    name: str
    dtype: str  # as pandas wrote it: float64, int64, bool, object, datetime64[ns], ...
    kind: str  # float, int, bool, str, time or any
    optional: bool  # null (NaN) allowed


@dataclass(slots=True)
class Part:
    """One request's rows, checked: ``rows`` in signature order, or a ``frame``."""

    n: int
    rows: list[Any] | None = None
    frame: Any = None


class Schema:
    """What a model takes: named columns, one tensor, or anything (no signature)."""

    def __init__(
        self,
        columns: Sequence[Column] = (),
        tensor: tuple[str, tuple[int, ...]] | None = None,
    ) -> None:
        self.columns = tuple(columns)
        self.names = [c.name for c in self.columns]
        self.tensor = tensor  # (dtype, shape with -1 for the batch)
        self.known = bool(self.columns) or tensor is not None  # False: no signature
        self._index: Any = None  # the frames' column index, made on first use
        self._all_float = bool(self.columns) and all(
            c.kind == "float" and c.dtype == "float64" for c in self.columns
        )

    @classmethod
    def from_signature(cls, signature: dict[str, Any] | None) -> Schema:
        inputs = (signature or {}).get("inputs") or []
        if len(inputs) == 1 and inputs[0].get("type") == "tensor":
            spec = inputs[0]
            return cls(tensor=(str(spec.get("dtype", "float64")), tuple(spec.get("shape", [-1]))))
        columns = [
            Column(
                str(c["name"]),
                str(c.get("type", "object")),
                _kind(str(c.get("type", "object"))),
                bool(c.get("optional", False)),
            )
            for c in inputs
            if "name" in c
        ]
        return cls(columns)

    def describe(self) -> dict[str, Any]:
        """The request body's JSON schema (for the serving process's OpenAPI document)."""
        if self.columns:
            row = {
                "type": "array",
                "prefixItems": [_json_type(c) for c in self.columns],
                "minItems": len(self.columns),
                "maxItems": len(self.columns),
            }
            return {
                "type": "object",
                "properties": {
                    "dataframe_split": {
                        "type": "object",
                        "required": ["data"],
                        "properties": {
                            "columns": {"type": "array", "items": {"enum": self.names}},
                            "data": {"type": "array", "items": row},
                        },
                    },
                    "dataframe_records": {
                        "type": "array",
                        "items": {
                            "type": "object",
                            "required": self.names,
                            "properties": {c.name: _json_type(c) for c in self.columns},
                        },
                    },
                },
                "example": {"dataframe_split": {"columns": self.names, "data": []}},
            }
        items: dict[str, Any] = {}
        if self.tensor is not None:
            dtype, shape = self.tensor
            kind = _KINDS.get(_numpy_kind(dtype), "any")
            items = _nested(list(shape[1:]), {"type": "number" if kind == "float" else "integer"})
        return {
            "type": "object",
            "properties": {
                "inputs": {"type": "array", "items": items},
                "instances": {"type": "array", "items": items},
            },
        }

    def check(self, decoded: Decoded) -> Part:
        """The request's rows if the signature takes them; InvalidInput naming what is wrong."""
        if decoded.frame is not None:
            return self._check_frame(decoded)
        rows = decoded.rows or []
        if self.tensor is not None:
            self._check_tensor(rows)
            return Part(len(rows), rows=rows)
        if not self.columns:
            return Part(len(rows), rows=rows) if decoded.columns is None else self._unnamed(decoded)
        rows = self._in_order(decoded.columns, rows)
        self._check_values(rows)
        return Part(len(rows), rows=rows)

    def assemble(self, parts: Sequence[Part]) -> Any:
        """One model input holding every part's rows, in order."""
        if len(parts) == 1 and parts[0].frame is not None:
            return parts[0].frame
        if any(p.frame is not None for p in parts):
            import pandas as pd

            return pd.concat([self._as_frame(p) for p in parts], ignore_index=True)
        rows = parts[0].rows if len(parts) == 1 else [r for p in parts for r in p.rows or ()]
        return self._build(rows or [])

    # -- rows -------------------------------------------------------------------------------

    def _in_order(self, given: list[str] | None, rows: list[Any]) -> list[Any]:
        """Rows with their values in signature order (positional rows must be full width)."""
        width = len(self.columns)
        for i, row in enumerate(rows):
            if not isinstance(row, list) or len(row) != (width if given is None else len(given)):
                have = len(row) if isinstance(row, list) else "not a list of"
                want = width if given is None else len(given)
                raise InvalidInput(
                    f"row {i} has {have} values; {want} expected", field=f"data[{i}]"
                )
        if given is None or given == self.names:
            return rows
        self._match(given)
        where = [given.index(n) for n in self.names]
        return [[row[j] for j in where] for row in rows]

    def _match(self, given: list[str]) -> None:
        """InvalidInput unless ``given`` names each signature column once and nothing else."""
        missing = [n for n in self.names if n not in given]
        if missing:
            raise InvalidInput(f"missing column {missing[0]!r}", field=missing[0], missing=missing)
        extra = [n for n in given if n not in self.names]
        if extra:
            raise InvalidInput(f"unknown column {extra[0]!r}", field=extra[0], unknown=extra)
        if len(set(given)) != len(given):
            raise InvalidInput("a column is named twice", field="columns")

    def _check_values(self, rows: list[Any]) -> None:
        if not rows:
            return
        for column, values in zip(self.columns, zip(*rows, strict=True), strict=True):
            accepted = _ACCEPTS[column.kind]
            if not accepted:
                continue
            for i, value in enumerate(values):
                kind = type(value)
                if kind in accepted:
                    if kind is float and not column.optional and math.isnan(value):
                        raise _null(column, i)
                    continue
                if value is None:
                    if column.optional:
                        continue
                    raise _null(column, i)
                raise InvalidInput(
                    f"column {column.name!r} takes {_NAMES.get(column.kind, column.kind)}; "
                    f"row {i} has {_show(value)}",
                    field=column.name,
                    row=i,
                )

    def _check_tensor(self, rows: list[Any]) -> None:
        import numpy as np

        assert self.tensor is not None
        dtype, shape = self.tensor
        try:
            array = np.asarray(rows, dtype=dtype)
        except (ValueError, TypeError) as exc:
            raise InvalidInput(
                f"the inputs are not a {dtype} tensor of shape {list(shape)}: {exc}",
                field="inputs",
            ) from exc
        if array.ndim != len(shape) or any(
            want not in (-1, got) for want, got in zip(shape[1:], array.shape[1:], strict=False)
        ):
            raise InvalidInput(
                f"the inputs have shape {list(array.shape)}; the model takes {list(shape)}",
                field="inputs",
            )
        if array.dtype.kind == "f" and array.size and np.isnan(array).any():
            where = np.argwhere(np.isnan(array))[0].tolist()
            raise InvalidInput(f"null or NaN at inputs{where}", field="inputs", index=where)
        for i, row in enumerate(rows):  # numpy turned any bools and numeric strings into numbers
            if _has_text_or_bool(row):
                raise InvalidInput(f"row {i} holds a non-number", field=f"inputs[{i}]")

    def _unnamed(self, decoded: Decoded) -> Part:
        import pandas as pd

        return Part(len(decoded), frame=pd.DataFrame(decoded.rows, columns=decoded.columns))

    # -- frames -----------------------------------------------------------------------------

    def _check_frame(self, decoded: Decoded) -> Part:
        frame = decoded.frame
        if not self.columns:
            return Part(len(frame), frame=frame if self.tensor is None else frame.to_numpy())
        self._match([str(c) for c in frame.columns])
        frame = frame.set_axis([str(c) for c in frame.columns], axis=1)[self.names]
        for column in self.columns:
            series = frame[column.name]
            if not column.optional and series.isna().any():
                raise _null(column, int(series.isna().to_numpy().argmax()))
            if column.kind in ("float", "int") and series.dtype.kind not in "fiu":
                raise InvalidInput(
                    f"column {column.name!r} takes {_NAMES[column.kind]}; it holds {series.dtype}",
                    field=column.name,
                )
            if column.kind == "int" and series.dtype.kind == "f":
                raise InvalidInput(
                    f"column {column.name!r} takes integers; it holds {series.dtype}",
                    field=column.name,
                )
        return Part(len(frame), frame=frame)

    def _as_frame(self, part: Part) -> Any:
        if part.frame is not None:
            return part.frame
        return self._build(part.rows or [])

    def _build(self, rows: list[Any]) -> Any:
        import numpy as np

        if self.tensor is not None:
            return np.asarray(rows, dtype=self.tensor[0])
        if not self.columns:
            return np.asarray(rows)
        import pandas as pd

        if self._index is None:
            # made once, of plain objects: pandas 3's default Arrow-backed string index cost
            # ~150 us per frame to build and slowed scikit-learn's feature-name check (~10 %)
            self._index = pd.Index(self.names, dtype=object)
        if self._all_float:
            return pd.DataFrame(np.asarray(rows, dtype="float64"), columns=self._index, copy=False)
        frame = pd.DataFrame(rows, columns=self._index)
        casts = {
            c.name: c.dtype
            for c in self.columns
            if c.kind in ("float", "int", "bool") and str(frame[c.name].dtype) != c.dtype
            and not (c.optional and c.kind != "float")
        }  # fmt: skip
        return frame.astype(casts) if casts else frame


def _kind(dtype: str) -> str:
    if dtype in ("object", "string", "str", "category"):
        return "str" if dtype != "object" else "any"
    return _KINDS.get(_numpy_kind(dtype), "any")


def _numpy_kind(dtype: str) -> str:
    import numpy as np

    try:
        return np.dtype(dtype).kind
    except TypeError:  # pandas extension types (Int64, boolean, string[python])
        lowered = dtype.lower()
        return "i" if lowered.startswith(("int", "uint")) else "b" if lowered == "boolean" else "O"


def _json_type(column: Column) -> dict[str, Any]:
    base = {
        "float": "number",
        "int": "integer",
        "bool": "boolean",
        "str": "string",
        "time": "string",
    }.get(column.kind)
    if base is None:
        return {}
    return {"type": [base, "null"]} if column.optional else {"type": base}


def _nested(dims: list[int], leaf: dict[str, Any]) -> dict[str, Any]:
    if not dims:
        return leaf
    inner = _nested(dims[1:], leaf)
    out: dict[str, Any] = {"type": "array", "items": inner}
    if dims[0] > 0:
        out["minItems"] = out["maxItems"] = dims[0]
    return out


def _has_text_or_bool(value: Any) -> bool:
    if isinstance(value, list):
        return any(_has_text_or_bool(v) for v in value)
    return isinstance(value, str | bool)


def _null(column: Column, row: int) -> InvalidInput:
    return InvalidInput(
        f"column {column.name!r} is null or NaN in row {row}; the model takes no missing values",
        field=column.name,
        row=row,
    )


def _show(value: Any) -> str:
    text = repr(value)
    return f"{type(value).__name__} {text[:40]}{'...' if len(text) > 40 else ''}"
