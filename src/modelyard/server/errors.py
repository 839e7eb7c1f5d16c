"""Every error leaves the server as {"error_code", "message"[, "details"]} with a stable code.

No secret leaves in one: messages and details pass ``access.secrets.mask`` (a token a client
sent as a metric value, a key in a refused URL), and so do the server's log lines and the
tracebacks they carry (a database error quoting a row's values).
"""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException

from modelyard.access.secrets import mask
from modelyard.errors import ModelyardError
from modelyard.server.mlflow import wire
from modelyard.server.responses import JSONOut, error_response

log = logging.getLogger("modelyard.server")

_HTTP_CODES = {
    404: "ENDPOINT_NOT_FOUND",
    405: "METHOD_NOT_ALLOWED",
    413: "PAYLOAD_TOO_LARGE",
    415: "UNSUPPORTED_MEDIA_TYPE",
}


LOGGERS = (
    "modelyard.server", "modelyard.server.audit", "modelyard.serving", "modelyard.monitoring",
    "modelyard.alerts", "modelyard.access", "uvicorn.error",
)  # fmt: skip


class SecretFilter(logging.Filter):
    """Masks secrets in a record's text and traceback before any handler formats it."""

    def filter(self, record: logging.LogRecord) -> bool:
        text = record.getMessage()
        masked = mask(text)
        if masked != text:
            record.msg, record.args = masked, None
        if record.exc_info and not record.exc_text:
            record.exc_text = mask(logging.Formatter().formatException(record.exc_info))
        return True


def _masked(value: Any) -> Any:
    if isinstance(value, str):
        return mask(value)
    if isinstance(value, dict):
        return {k: _masked(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_masked(v) for v in value]
    return value


async def _modelyard_error(request: Request, exc: Exception) -> JSONOut:
    assert isinstance(exc, ModelyardError)
    exc.message, exc.details = mask(exc.message), _masked(exc.details)
    if exc.status >= 500:
        log.error("%s: %s", exc.code, exc.message, exc_info=exc)
    if wire.is_mlflow_path(request.url.path):
        status, body = wire.error_body(exc)
        return JSONOut(body, status_code=status)
    return error_response(exc.status, exc.code, exc.message, exc.details)


async def _validation_error(_request: Request, exc: Exception) -> JSONOut:
    assert isinstance(exc, RequestValidationError)
    errors = exc.errors()
    if any(e.get("type") == "json_invalid" for e in errors):
        return error_response(400, "MALFORMED_REQUEST", "request body is not valid JSON")
    first = errors[0] if errors else {}
    where = ".".join(str(p) for p in first.get("loc", ()) if p != "body")
    message = f"{where}: {first.get('msg', 'invalid value')}" if where else "invalid request"
    problems = [
        {"field": mask(".".join(map(str, e.get("loc", ())))), "message": mask(str(e.get("msg")))}
        for e in errors
    ]
    message = mask(message)
    return error_response(400, "INVALID_PARAMETER_VALUE", message, {"errors": problems})


async def _http_error(_request: Request, exc: Exception) -> JSONOut:
    assert isinstance(exc, HTTPException)
    code = _HTTP_CODES.get(exc.status_code, f"HTTP_{exc.status_code}")
    return error_response(exc.status_code, code, mask(str(exc.detail)))


async def _unexpected(_request: Request, exc: Exception) -> JSONOut:
    log.error("unexpected error", exc_info=exc)
    return error_response(500, "INTERNAL_ERROR", "internal server error; see the server log")


def install(app: FastAPI) -> None:
    for name in LOGGERS:
        logger = logging.getLogger(name)
        if not any(isinstance(f, SecretFilter) for f in logger.filters):
            logger.addFilter(SecretFilter())
    app.add_exception_handler(ModelyardError, _modelyard_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(HTTPException, _http_error)
    app.add_exception_handler(Exception, _unexpected)
