"""A trace's span data as the MLflow client uploads it (``traces.json``), read into spans.

MLflow 3 writes OpenTelemetry-shaped spans (base64 ids, ``start_time_unix_nano``, a status
object, attributes as JSON text); MLflow 2 wrote ``context.span_id`` and ``start_time``. Both
are read. Everything shown is bounded: the file, the number of spans, each value's size.
"""

from __future__ import annotations

import base64
import binascii
from typing import Any

import orjson

from modelyard.tracking.trace_entities import Span, TraceData

MAX_SPAN_DATA_BYTES = 32 * 1024 * 1024  # one trace's span data (uploads above it are refused)
MAX_SPANS = 10_000  # spans read from one trace
MAX_VALUE_CHARS = 64 * 1024  # JSON characters shown of one input, output or attribute
SPAN_TYPE, INPUTS, OUTPUTS = "mlflow.spanType", "mlflow.spanInputs", "mlflow.spanOutputs"
HIDDEN = frozenset({SPAN_TYPE, INPUTS, OUTPUTS, "mlflow.traceRequestId"})
STATUS = {"STATUS_CODE_OK": "OK", "STATUS_CODE_ERROR": "ERROR", "STATUS_CODE_UNSET": "UNSET"}


def bounded(value: Any) -> Any:
    """``value``, or the start of its JSON text when that is longer than MAX_VALUE_CHARS."""
    if isinstance(value, str | int | float | bool) and len(str(value)) <= MAX_VALUE_CHARS:
        return value
    text = orjson.dumps(value, option=orjson.OPT_NON_STR_KEYS).decode()
    if len(text) <= MAX_VALUE_CHARS:
        return value
    return f"{text[:MAX_VALUE_CHARS]}… (truncated: {len(text):,} characters)"


def _decoded(text: Any) -> Any:
    """An attribute value: JSON text in MLflow's span data (a plain string if it is not)."""
    if not isinstance(text, str):
        return text
    if len(text) > 4 * MAX_VALUE_CHARS:
        return bounded(text)
    try:
        return bounded(orjson.loads(text))
    except orjson.JSONDecodeError:
        return bounded(text)


def _span_id(value: Any) -> str | None:
    """Hex, whether the file holds base64 (MLflow 3) or ``0x...`` (MLflow 2)."""
    if not value or not isinstance(value, str):
        return None
    if value.startswith("0x"):
        return value[2:]
    try:
        return base64.b64decode(value, validate=True).hex()
    except (binascii.Error, ValueError):
        return value[:64]


def _int(value: Any) -> int | None:
    try:
        return None if value is None else int(value)
    except (TypeError, ValueError):
        return None


def _span(raw: dict[str, Any]) -> Span:
    attrs = raw.get("attributes") or {}
    if not isinstance(attrs, dict):
        attrs = {}
    context = raw.get("context") if isinstance(raw.get("context"), dict) else None
    status = raw.get("status")
    if isinstance(status, dict):
        code = STATUS.get(str(status.get("code")), str(status.get("code") or "UNSET"))
        message = str(status.get("message") or "")
    else:
        code = str(raw.get("status_code") or "UNSET")
        message = str(raw.get("status_message") or "")
    span_type = _decoded(attrs.get(SPAN_TYPE)) or raw.get("span_type") or "UNKNOWN"
    events = []
    for event in (raw.get("events") or [])[:100]:
        if isinstance(event, dict):
            events.append(
                {
                    "name": str(event.get("name") or ""),
                    "time_ns": _int(event.get("time_unix_nano") or event.get("timestamp")),
                    "attributes": {
                        str(k): _decoded(v) for k, v in (event.get("attributes") or {}).items()
                    },
                }
            )
    return Span(
        span_id=_span_id(raw.get("span_id") or (context or {}).get("span_id")) or "",
        parent_id=_span_id(raw.get("parent_span_id") or raw.get("parent_id")),
        name=str(raw.get("name") or ""),
        span_type=str(span_type),
        start_ns=_int(raw.get("start_time_unix_nano") or raw.get("start_time")) or 0,
        end_ns=_int(raw.get("end_time_unix_nano") or raw.get("end_time")),
        status=code,
        status_message=message,
        inputs=_decoded(attrs.get(INPUTS)),
        outputs=_decoded(attrs.get(OUTPUTS)),
        attributes={str(k): _decoded(v) for k, v in attrs.items() if k not in HIDDEN},
        events=events,
    )


def parse(data: bytes) -> TraceData:
    """The spans in ``data``, ordered by start; a file that cannot be read says why."""
    size = len(data)
    if size > MAX_SPAN_DATA_BYTES:
        return TraceData([], f"the span data is {size:,} bytes, over the limit", size)
    try:
        doc = orjson.loads(data)
    except orjson.JSONDecodeError:
        return TraceData([], "the span data is not JSON", size)
    raw = doc.get("spans") if isinstance(doc, dict) else None
    if not isinstance(raw, list):
        return TraceData([], "the span data holds no list of spans", size)
    spans = [_span(s) for s in raw[:MAX_SPANS] if isinstance(s, dict)]
    spans.sort(key=lambda s: (s.start_ns, s.span_id))
    problem = (
        f"only the first {MAX_SPANS:,} of {len(raw):,} spans" if len(raw) > MAX_SPANS else None
    )
    return TraceData(spans, problem, size)
