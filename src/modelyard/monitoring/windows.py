"""Time windows: "30s", "5m", "1h", "1d" or seconds, and the default span of a query."""

from __future__ import annotations

import re
from typing import Any

from modelyard.errors import InvalidInput

UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}
WINDOW = re.compile(r"^(\d{1,6})([smhd]?)$")
MIN_WINDOW_S = 1
MAX_WINDOW_S = 366 * 86400
DEFAULT_POINTS = 48  # windows a query covers when it names no start
MAX_POINTS = 10_000  # windows one query may cover


def seconds(value: Any, field: str = "window") -> int:
    """A window as whole seconds: ``"5m"`` -> 300; a bare number is seconds."""
    if isinstance(value, bool):
        raise InvalidInput(f"{field} is a duration such as 30s, 5m, 1h or 1d", field=field)
    m = WINDOW.match(str(value).strip().lower()) if isinstance(value, str | int) else None
    if m is None:
        raise InvalidInput(
            f"{field} is a duration such as 30s, 5m, 1h or 1d, not {value!r}", field=field
        )
    total = int(m.group(1)) * UNITS[m.group(2) or "s"]
    if not MIN_WINDOW_S <= total <= MAX_WINDOW_S:
        raise InvalidInput(f"{field} must be from 1 second to 366 days", field=field)
    return total


def span(since_ms: int | None, until_ms: int | None, now_ms: int, window_s: int) -> tuple[int, int]:
    """The [since, until) a query covers: by default the last 48 windows up to now."""
    until = now_ms if until_ms is None else until_ms
    since = until - DEFAULT_POINTS * window_s * 1000 if since_ms is None else since_ms
    if since >= until:
        raise InvalidInput("since must come before until", field="since")
    if (until - since) / (window_s * 1000) > MAX_POINTS:
        raise InvalidInput(
            f"a query covers at most {MAX_POINTS} windows: widen the window or narrow the span",
            field="window",
        )
    return since, until


def empty_health(start_ms: int) -> dict[str, Any]:
    """A health point of a window in which nothing was logged (the probe may still know)."""
    return {
        "start_ms": start_ms,
        "requests": 0,
        "errors": 0,
        "error_rate": None,
        "throughput_rps": 0.0,
        "latency_p50_ms": None,
        "latency_p90_ms": None,
        "latency_p99_ms": None,
    }
