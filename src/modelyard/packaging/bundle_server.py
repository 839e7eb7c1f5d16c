"""Serve a bundled model: POST /invocations, GET /health (Python standard library only).

Export copies this file into the bundle as ``serve.py`` (``python -m serve``), with its
``modelyard`` imports pointed at the vendored ``_modelyard`` copy; so it may import only the
standard library, ``modelyard.errors``, ``modelyard.packaging`` and what a model needs
(numpy, pandas). ``parse_request`` and ``predict`` are plain functions any server can share.
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from modelyard.errors import (
    InvalidInput,
    MalformedRequest,
    ModelyardError,
    NotFound,
    PayloadTooLarge,
)
from modelyard.packaging import manifest, package

MAX_BODY = 64 << 20
HERE = Path(__file__).resolve().parent


def load(folder: Path = HERE) -> tuple[Any, str]:
    """The model in ``folder/model`` and its digest, only if the package passes the same
    checks as in modelyard (trust included: ``folder/trusted`` names the trusted digest)."""
    trusted_file = folder / "trusted"
    trusted = trusted_file.read_text().strip() if trusted_file.is_file() else None
    model = package.load(folder / "model", trusted_digest=trusted)
    return model, manifest.read(folder / "model").digest


def parse_request(body: bytes) -> Any:
    """Model input from a request body: ``{"inputs": [...]}`` as it is, or
    ``{"dataframe_split": {"columns": [...], "data": [[...]]}}`` as a pandas DataFrame."""
    try:
        message = json.loads(body or b"{}")
    except ValueError as exc:
        raise MalformedRequest(f"request body is not JSON: {exc}") from exc
    if isinstance(message, dict) and "dataframe_split" in message:
        import pandas as pd

        split = message["dataframe_split"]
        if not isinstance(split, dict) or not isinstance(split.get("data"), list):
            raise InvalidInput("dataframe_split needs a 'data' list of rows")
        try:
            return pd.DataFrame(split["data"], columns=split.get("columns"))
        except (TypeError, ValueError) as exc:
            raise InvalidInput(f"dataframe_split does not make a table: {exc}") from exc
    if isinstance(message, dict) and "inputs" in message:
        return message["inputs"]
    raise InvalidInput('send {"inputs": [[...], ...]} or {"dataframe_split": {...}}')


def predict(model: Any, rows: Any) -> dict[str, Any]:
    """``{"predictions": [...]}`` for ``rows``; whatever the model refuses is InvalidInput."""
    try:
        out = model.predict(rows)
    except Exception as exc:  # the model's own complaint about its input, any type
        raise InvalidInput(f"the model refused the input: {exc}") from exc
    return {"predictions": out.tolist() if hasattr(out, "tolist") else list(out)}


def make_handler(model: Any, digest: str) -> type[BaseHTTPRequestHandler]:
    """A request handler answering for ``model``; every error has modelyard's JSON shape."""

    class Handler(BaseHTTPRequestHandler):
        def _send(self, status: int, payload: dict[str, Any]) -> None:
            data = json.dumps(payload).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def _answer(self, work: Callable[[], dict[str, Any]]) -> None:
            try:
                payload = work()
            except ModelyardError as exc:
                self._send(exc.status, exc.to_json())
            else:
                self._send(200, payload)

        def do_GET(self) -> None:
            self._answer(self._health)

        def do_POST(self) -> None:
            self._answer(self._invocations)

        def _health(self) -> dict[str, Any]:
            if self.path != "/health":
                raise NotFound(self.path)
            return {"status": "ok", "package_digest": digest}

        def _invocations(self) -> dict[str, Any]:
            if self.path != "/invocations":
                raise NotFound(self.path)
            try:
                length = int(self.headers.get("Content-Length") or 0)
            except ValueError as exc:
                raise MalformedRequest("Content-Length is not a number") from exc
            if length > MAX_BODY:
                raise PayloadTooLarge(f"body too large (over {MAX_BODY} bytes)")
            return predict(model, parse_request(self.rfile.read(length)))

        def log_message(self, format: str, *args: Any) -> None:
            pass

    return Handler


def main(argv: list[str] | None = None) -> None:
    """``python -m serve [--host H] [--port P]``; exits naming the check a package fails."""
    parser = argparse.ArgumentParser(description="Serve the bundled model.")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8080)
    args = parser.parse_args(argv)
    try:
        model, digest = load()
    except ModelyardError as exc:
        raise SystemExit(f"refused to load the model: {exc.code}: {exc.message}") from None
    server = ThreadingHTTPServer((args.host, args.port), make_handler(model, digest))
    print(f"serving package sha256:{digest} on http://{args.host}:{args.port}", flush=True)  # noqa: T201
    server.serve_forever()


if __name__ == "__main__":
    main()
