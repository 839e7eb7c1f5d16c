"""A real uvicorn server in a background thread, on a free loopback port."""

from __future__ import annotations

from modelyard.server.background import serve_in_background as live_server

__all__ = ["live_server"]
