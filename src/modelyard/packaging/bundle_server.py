"""Serve a bundled model: POST /invocations (and /predict), GET /health (standard library HTTP).

Export copies this file into the bundle as ``serve.py`` (``python -m serve``), with its
``modelyard`` imports pointed at the vendored ``_modelyard`` copy; so it may import only the
standard library and the vendored ``errors``, ``packaging`` and ``serving`` request code, the
same parsing, signature check and predict that ``modelyard serve`` runs (without its batching).
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from modelyard.errors import MalformedRequest, ModelyardError, NotFound, PayloadTooLarge
from modelyard.serving.predictor import Predictor
from modelyard.serving.requests import decode

MAX_BODY = 64 << 20
HERE = Path(__file__).resolve().parent


def load(folder: Path = HERE) -> Predictor:
    """The model in ``folder/model``, only if the package passes the same checks as in
    modelyard (trust included: ``folder/trusted`` names the trusted digest), warmed up."""
    trusted_file = folder / "trusted"
    trusted = trusted_file.read_text().strip() if trusted_file.is_file() else None
    predictor = Predictor.from_folder(folder / "model", trusted_digest=trusted)
    predictor.warm_up()
    return predictor


def answer(predictor: Predictor, body: bytes, content_type: str | None = None) -> dict[str, Any]:
    """``{"predictions": [...]}`` for a request body; 4xx errors name what is wrong."""
    part = predictor.schema.check(decode(body, content_type))
    return {"predictions": predictor.predict([part])}


def make_handler(predictor: Predictor) -> type[BaseHTTPRequestHandler]:
    """A request handler answering for ``predictor``; every error has modelyard's JSON shape."""

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
            return {"status": "ok", "package_digest": predictor.digest}

        def _invocations(self) -> dict[str, Any]:
            if self.path not in ("/invocations", "/predict"):
                raise NotFound(self.path)
            try:
                length = int(self.headers.get("Content-Length") or 0)
            except ValueError as exc:
                raise MalformedRequest("Content-Length is not a number") from exc
            if length > MAX_BODY:
                raise PayloadTooLarge(f"body too large (over {MAX_BODY} bytes)")
            return answer(predictor, self.rfile.read(length), self.headers.get("Content-Type"))

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
        predictor = load()
    except ModelyardError as exc:
        raise SystemExit(f"refused to load the model: {exc.code}: {exc.message}") from None
    server = ThreadingHTTPServer((args.host, args.port), make_handler(predictor))
    where = f"http://{args.host}:{args.port}"
    print(f"serving package sha256:{predictor.digest} on {where}", flush=True)  # noqa: T201
    server.serve_forever()


if __name__ == "__main__":
    main()
