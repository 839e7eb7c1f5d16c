"""The server in a background thread on a free loopback port (embedded stores, tests)."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import replace

from starlette.types import ASGIApp

from modelyard.listener import free_port, uvicorn_config
from modelyard.server.app import ServerSettings, create_app
from modelyard.server.domains import BUILT_IN, Domain


@contextmanager
def serve_app(app: ASGIApp, port: int | None = None) -> Iterator[str]:
    """Serve a ready ``app`` with uvicorn on 127.0.0.1 until the block ends; yields the base URL.

    For an app the caller changed after ``create_app`` (e.g. with /metrics installed), or
    several replicas of one store.
    """
    import uvicorn

    port = port or free_port()
    server = uvicorn.Server(
        uvicorn_config(app, "127.0.0.1", port, log_level="warning", lifespan="on")
    )
    thread = threading.Thread(target=server.run, name="modelyard-embedded-server", daemon=True)
    thread.start()
    deadline = time.monotonic() + 15
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("the in-process server did not start")
        time.sleep(0.005)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=15)


@contextmanager
def serve_in_background(
    settings: ServerSettings, domains: Sequence[Domain] = BUILT_IN, *, supervise: bool = False
) -> Iterator[str]:
    """Serve ``create_app(settings, domains)`` with uvicorn on 127.0.0.1; yields the base URL.

    ``supervise`` also starts the deployments' serving processes (off by default: most tests
    drive deployments with heartbeats of their own)."""
    port = free_port()
    settings = replace(settings, url=f"http://127.0.0.1:{port}" if supervise else None)
    with serve_app(create_app(settings, domains), port) as url:
        yield url
