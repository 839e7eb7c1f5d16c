"""Every error leaves the server as {"error_code", "message"[, "details"]} with a stable code."""

from __future__ import annotations

import logging

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException

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


async def _modelyard_error(request: Request, exc: Exception) -> JSONOut:
    assert isinstance(exc, ModelyardError)
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
        {"field": ".".join(str(p) for p in e.get("loc", ())), "message": e.get("msg")}
        for e in errors
    ]
    return error_response(400, "INVALID_PARAMETER_VALUE", message, {"errors": problems})


async def _http_error(_request: Request, exc: Exception) -> JSONOut:
    assert isinstance(exc, HTTPException)
    code = _HTTP_CODES.get(exc.status_code, f"HTTP_{exc.status_code}")
    return error_response(exc.status_code, code, str(exc.detail))


async def _unexpected(_request: Request, exc: Exception) -> JSONOut:
    log.error("unexpected error", exc_info=exc)
    return error_response(500, "INTERNAL_ERROR", "internal server error; see the server log")


def install(app: FastAPI) -> None:
    app.add_exception_handler(ModelyardError, _modelyard_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(HTTPException, _http_error)
    app.add_exception_handler(Exception, _unexpected)
