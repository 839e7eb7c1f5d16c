"""A real HTTP server on 127.0.0.1 that answers what a test scripts, as a compromised,
impersonated or broken modelyard server (or a proxy before one) could."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit


def _key(path: str, params: dict[str, str] | None = None) -> str:
    parts = urlsplit(path)
    query = sorted(parse_qsl(parts.query) + list((params or {}).items()))
    return parts.path + ("?" + urlencode(query) if query else "")


@dataclass
class Hostile:
    """What the server answers to a GET of each path (with its query): status and body; any
    other path is a modelyard 404."""

    url: str = ""
    routes: dict[str, tuple[int, bytes]] = field(default_factory=dict)
    requests: list[str] = field(default_factory=list)

    def json(self, path: str, body: Any, params: dict[str, str] | None = None) -> None:
        self.routes[_key(path, params)] = (200, json.dumps(body).encode())

    def bytes(self, path: str, data: bytes, status: int = 200) -> None:
        self.routes[_key(path)] = (status, data)


@contextmanager
def hostile_server() -> Iterator[Hostile]:
    state = Hostile()
    missing = json.dumps({"error_code": "RESOURCE_DOES_NOT_EXIST", "message": "no"}).encode()

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            key = _key(self.path)
            state.requests.append(key)
            status, body = state.routes.get(key, (404, missing))
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    state.url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield state
    finally:
        server.shutdown()
        server.server_close()
        thread.join()
