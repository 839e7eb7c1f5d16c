"""Request bodies and the signature check: every shape, every refusal names its field."""

from __future__ import annotations

import io
import math

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest

from modelyard.errors import InvalidInput, MalformedRequest, UnsupportedMediaType
from modelyard.packaging import signature
from modelyard.serving.inputs import Schema
from modelyard.serving.requests import ARROW, CSV, decode

COLS = ["age", "plan", "spend"]
FRAME = pd.DataFrame({"age": [30, 41], "plan": ["a", "b"], "spend": [1.5, 2.0]})
SCHEMA = Schema.from_signature(signature.infer(FRAME, None))
TENSOR = Schema.from_signature(signature.infer(np.zeros((3, 4)), None))


def checked(schema: Schema, body: bytes, media: str = "application/json"):
    return schema.check(decode(body, media))


@pytest.mark.parametrize(
    "body",
    [
        b'{"dataframe_split": {"columns": ["age", "plan", "spend"], "data": [[30, "a", 1.5]]}}',
        b'{"dataframe_split": {"columns": ["spend", "age", "plan"], "data": [[1.5, 30, "a"]]}}',
        b'{"dataframe_records": [{"plan": "a", "age": 30, "spend": 1.5}]}',
        b'{"inputs": {"age": [30], "plan": ["a"], "spend": [1.5]}}',
        b'{"inputs": [[30, "a", 1.5]]}',
        b'{"instances": [{"age": 30, "plan": "a", "spend": 1.5}]}',
    ],
)
def test_every_json_shape_gives_the_same_frame(body: bytes) -> None:
    frame = SCHEMA.assemble([checked(SCHEMA, body)])
    assert list(frame.columns) == COLS
    assert frame.iloc[0].tolist() == [30, "a", 1.5]
    assert str(frame["age"].dtype) == "int64"
    assert str(frame["spend"].dtype) == "float64"


def test_csv_and_arrow_bodies() -> None:
    csv = FRAME.to_csv(index=False).encode()
    assert SCHEMA.assemble([checked(SCHEMA, csv, CSV)]).equals(FRAME)
    sink = io.BytesIO()
    table = pa.Table.from_pandas(FRAME[["spend", "plan", "age"]], preserve_index=False)
    with pa.ipc.new_stream(sink, table.schema) as writer:
        writer.write_table(table)
    got = SCHEMA.assemble([checked(SCHEMA, sink.getvalue(), ARROW)])
    assert got.reset_index(drop=True).equals(FRAME)


def test_a_batch_is_every_part_in_order() -> None:
    a = checked(SCHEMA, b'{"inputs": [[1, "a", 1.0], [2, "b", 2.0]]}')
    b = checked(SCHEMA, b'{"dataframe_records": [{"age": 3, "plan": "c", "spend": 3.0}]}')
    c = checked(SCHEMA, FRAME.to_csv(index=False).encode(), CSV)
    frame = SCHEMA.assemble([a, b, c])
    assert frame["age"].tolist() == [1, 2, 3, 30, 41]
    assert len(frame) == a.n + b.n + c.n


@pytest.mark.parametrize(
    ("body", "field", "words"),
    [
        (b'{"dataframe_split": {"columns": ["age", "plan"], "data": [[1, "a"]]}}', "spend", "missing column"),
        (b'{"dataframe_split": {"columns": ["age", "plan", "spend", "x"], "data": [[1, "a", 1, 2]]}}', "x", "unknown column"),
        (b'{"dataframe_split": {"columns": ["age", "plan", "spend"], "data": [[1, "a"]]}}', "data[0]", "has 2 values"),
        (b'{"inputs": [[30, "a", "lots"]]}', "spend", "takes a number"),
        (b'{"inputs": [[30.5, "a", 1.0]]}', "age", "takes an integer"),
        (b'{"inputs": [[true, "a", 1.0]]}', "age", "takes an integer"),
        (b'{"inputs": [[30, "a", null]]}', "spend", "null or NaN"),
        (b'{"dataframe_records": [{"age": 1, "plan": "a", "spend": 1}, {"age": 1, "plan": "a"}]}', "dataframe_records[1]", "other fields"),
        (b'{"inputs": {"age": [1, 2], "plan": ["a"], "spend": [1]}}', "inputs", "different lengths"),
    ],
)  # fmt: skip
def test_refusals_name_the_field(body: bytes, field: str, words: str) -> None:
    with pytest.raises(InvalidInput) as caught:
        checked(SCHEMA, body)
    assert caught.value.details["field"] == field
    assert words in caught.value.message


def test_nan_in_csv_is_refused_unless_the_example_had_nulls() -> None:
    body = b"age,plan,spend\n30,a,\n"
    with pytest.raises(InvalidInput, match="null or NaN") as caught:
        checked(SCHEMA, body, CSV)
    assert caught.value.details["field"] == "spend"
    optional = Schema.from_signature(signature.infer(FRAME.assign(spend=[1.0, math.nan]), None))
    frame = optional.assemble([checked(optional, body, CSV)])
    assert math.isnan(frame["spend"][0])


def test_tensor_signatures_check_shape_type_and_nan() -> None:
    part = checked(TENSOR, b'{"inputs": [[1, 2, 3, 4], [5, 6, 7, 8]]}')
    assert TENSOR.assemble([part]).shape == (2, 4)
    for body, words in [
        (b'{"inputs": [[1, 2, 3]]}', "shape"),
        (b'{"inputs": [[1, 2, 3, "x"]]}', "tensor"),
        (b'{"inputs": [[1, 2, 3, "4"]]}', "non-number"),
        (b'{"inputs": [[1, 2, 3, true]]}', "non-number"),
        (b'{"inputs": [[1, 2, 3, null]]}', "NaN"),
        (b'{"instances": [[[1, 2, 3, 4]]]}', "shape"),
    ]:
        with pytest.raises(InvalidInput, match=words):
            checked(TENSOR, body)


@pytest.mark.parametrize(
    ("body", "media", "error"),
    [
        (b"{not json", "application/json", MalformedRequest),
        (b"[1, 2]", "application/json", MalformedRequest),
        (b'{"rows": []}', "application/json", MalformedRequest),
        (b'{"inputs": [], "instances": []}', "application/json", MalformedRequest),
        (b"a=1", "application/x-www-form-urlencoded", UnsupportedMediaType),
        (b"not arrow", ARROW, MalformedRequest),
        (b'{"inputs": ' + b"[" * 40 + b"]" * 40 + b"}", "application/json", InvalidInput),
    ],
)
def test_bodies_that_are_not_requests(body: bytes, media: str, error: type[Exception]) -> None:
    with pytest.raises(error):
        decode(body, media)


def test_the_openapi_schema_comes_from_the_signature() -> None:
    doc = SCHEMA.describe()
    split = doc["properties"]["dataframe_split"]["properties"]
    assert split["columns"]["items"]["enum"] == COLS
    assert [t["type"] for t in split["data"]["items"]["prefixItems"]] == [
        "integer",
        "string",
        "number",
    ]
    tensor = TENSOR.describe()["properties"]["inputs"]["items"]
    assert tensor["items"]["type"] == "number"
    assert tensor["maxItems"] == 4
