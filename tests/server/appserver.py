"""An app built by the test (e.g. with /metrics installed) served by uvicorn in a thread."""

from __future__ import annotations

from modelyard.server.background import serve_app as serving

__all__ = ["serving"]
