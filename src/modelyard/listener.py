"""How modelyard's HTTP servers (the main server and each serving process) listen: uvicorn
with a deadline for request headers, a keep-alive timeout and a cap on open connections, so
idle or slow clients cannot hold them open forever."""

from __future__ import annotations

import asyncio
import socket
from typing import Any

import uvicorn
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from modelyard import config

CONNECTIONS = [0]  # open connections of this process (its event loop's thread updates it)


def open_connections() -> int:
    """How many clients hold a connection open now (a serving batch expects up to that)."""
    return CONNECTIONS[0]


class DeadlineHttp(HttpToolsProtocol):
    """uvicorn's HTTP/1.1 protocol, closing a connection whose request head (request line and
    headers) has not fully arrived ``header_timeout`` seconds after it began (or after the
    connection opened): the slowloris and the silent connection. Keep-alive idleness between
    requests is uvicorn's own ``timeout_keep_alive``."""

    header_timeout: float = 10.0

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._head_deadline: asyncio.TimerHandle | None = None

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        CONNECTIONS[0] += 1
        self._arm()

    def on_message_begin(self) -> None:
        super().on_message_begin()
        self._arm()

    def on_headers_complete(self) -> None:
        self._disarm()
        super().on_headers_complete()

    def connection_lost(self, exc: Exception | None) -> None:
        CONNECTIONS[0] -= 1
        self._disarm()
        super().connection_lost(exc)

    def _arm(self) -> None:
        if self._head_deadline is None:
            self._head_deadline = self.loop.call_later(self.header_timeout, self._too_slow)

    def _disarm(self) -> None:
        if self._head_deadline is not None:
            self._head_deadline.cancel()
            self._head_deadline = None

    def _too_slow(self) -> None:
        self._head_deadline = None
        if not self.transport.is_closing():
            self.transport.close()


def uvicorn_config(app: Any, host: str, port: int, **options: Any) -> uvicorn.Config:
    """The one uvicorn configuration of `modelyard server` and the in-process server."""
    protocol = type(
        "DeadlineHttp", (DeadlineHttp,), {"header_timeout": config.HEADER_TIMEOUT.get()}
    )
    return uvicorn.Config(
        app,
        host=host,
        port=port,
        http=protocol,
        timeout_keep_alive=max(1, round(config.KEEP_ALIVE_TIMEOUT.get())),
        limit_concurrency=config.MAX_CONNECTIONS.get(),
        access_log=False,
        **options,
    )


def free_port() -> int:
    """A TCP port free on 127.0.0.1 right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])
