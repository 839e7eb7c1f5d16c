"""Alert rules, their firings and events (plain values), and the checks of a rule's fields.

A rule watches one figure of one deployment over a window (``error_rate`` over ``5m`` ``> 0.05``
for ``120`` seconds). Its evaluation state is one of ``STATES``; a figure with no data keeps the
state and shows ``no_data``. A firing goes ``firing`` -> (``acknowledged``) -> ``resolved``.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from modelyard.errors import InvalidInput
from modelyard.tracking import validation as v

# the figure names of the monitoring contract (docs/monitoring.md); drift_score:{column} too
FIGURES: tuple[str, ...] = (
    *("accuracy", "precision", "recall", "f1", "roc_auc", "log_loss", "mae", "rmse", "r2"),
    *("estimated_accuracy", "estimated_precision", "estimated_recall", "estimated_f1"),
    "estimated_roc_auc",
    *("requests", "errors", "error_rate", "throughput_rps"),
    *("latency_p50_ms", "latency_p90_ms", "latency_p99_ms", "availability"),
    "drift_share",
)
DRIFT_SCORE = "drift_score:"
OPS: tuple[str, ...] = (">", ">=", "<", "<=")
STATES: tuple[str, ...] = ("ok", "pending", "firing", "resolved")  # resolved: by hand, still true
FIRING_STATUSES: tuple[str, ...] = ("firing", "acknowledged", "resolved")
CHANNEL_TYPES: tuple[str, ...] = ("webhook", "slack", "email")
MAX_WINDOW_S = 366 * 86_400
MAX_FOR_S = 30 * 86_400
MAX_CHANNELS = 16
MAX_RECIPIENTS = 50
MAX_URL = 2048
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86_400}
_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([smhd]?)\s*$")
# a plain address: no spaces, no angle brackets, nothing a header could be split on
_ADDRESS = re.compile(r"^[^@\s<>,;:\"()\[\]\\]+@[A-Za-z0-9.-]+\.[A-Za-z0-9-]+$")


@dataclass(frozen=True, slots=True)
class AlertRule:
    """A rule and its evaluation state (``state``, ``pending_since``, ``last_value``...)."""

    id: int
    name: str
    deployment: str
    metric: str
    window_s: int
    op: str
    threshold: float
    for_s: int
    channels: tuple[dict[str, Any], ...]
    action: str | None
    enabled: bool
    created_by: str
    created_at: int
    updated_at: int
    state: str = "ok"
    pending_since: int | None = None
    silenced_until: int | None = None
    last_value: float | None = None
    last_evaluated: int | None = None

    @property
    def no_data(self) -> bool:
        """Evaluated at least once, and the figure had no data the last time."""
        return self.last_evaluated is not None and self.last_value is None

    def silenced(self, now_ms: int) -> bool:
        return self.silenced_until is not None and self.silenced_until > now_ms

    def holds(self, value: float) -> bool:
        """Is the condition true for ``value``?"""
        return compare(value, self.op, self.threshold)

    def to_json(self, now_ms: int | None = None) -> dict[str, Any]:
        silenced = self.silenced_until
        if now_ms is not None and silenced is not None and silenced <= now_ms:
            silenced = None
        return {
            "id": self.id,
            "name": self.name,
            "deployment": self.deployment,
            "metric": self.metric,
            "window_s": self.window_s,
            "op": self.op,
            "threshold": self.threshold,
            "for_s": self.for_s,
            "channels": [dict(c) for c in self.channels],
            "action": self.action,
            "enabled": self.enabled,
            "created_by": self.created_by,
            "created_at": self.created_at,
            "updated_at": self.updated_at,
            "state": self.state,
            "status": "no_data" if self.no_data else self.state,
            "pending_since": self.pending_since,
            "silenced_until": silenced,
            "last_value": self.last_value,
            "last_evaluated": self.last_evaluated,
        }


@dataclass(frozen=True, slots=True)
class Firing:
    """One firing of a rule, from the moment it fired to its resolution."""

    id: int
    rule_id: int
    rule_name: str
    deployment: str
    started_at: int
    ended_at: int | None
    value: float | None
    status: str
    acknowledged_by: str | None = None
    acknowledged_at: int | None = None
    resolved_by: str | None = None
    notified_at: int | None = None

    @property
    def active(self) -> bool:
        return self.status != "resolved"

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "rule_id": self.rule_id,
            "rule_name": self.rule_name,
            "deployment": self.deployment,
            "started_at": self.started_at,
            "ended_at": self.ended_at,
            "value": self.value,
            "status": self.status,
            "acknowledged_by": self.acknowledged_by,
            "acknowledged_at": self.acknowledged_at,
            "resolved_by": self.resolved_by,
            "notified_at": self.notified_at,
        }


@dataclass(frozen=True, slots=True)
class AlertEvent:
    """What happened to a rule or a firing: a transition, a notification, a silence..."""

    id: int
    rule_id: int
    firing_id: int | None
    at: int
    kind: str
    actor: str
    detail: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "rule_id": self.rule_id,
            "firing_id": self.firing_id,
            "at": self.at,
            "kind": self.kind,
            "actor": self.actor,
            "detail": dict(self.detail),
        }


def compare(value: float, op: str, threshold: float) -> bool:
    if op == ">":
        return value > threshold
    if op == ">=":
        return value >= threshold
    if op == "<":
        return value < threshold
    return value <= threshold


# ---- checks of the fields a caller sends ---------------------------------------------------


def duration(value: object, what: str, *, low: int, high: int) -> int:
    """``"30s"``, ``"5m"``, ``"1h"``, ``"1d"`` or a number of seconds, as whole seconds."""
    if isinstance(value, bool):
        raise InvalidInput(f"{what} must be a duration such as '5m' or seconds", field=what)
    if isinstance(value, int | float):
        seconds = float(value)
    elif isinstance(value, str) and (m := _DURATION.match(value)):
        seconds = float(m.group(1)) * _UNITS[m.group(2) or "s"]
    else:
        raise InvalidInput(
            f"{what} must be a duration such as '30s', '5m', '1h', '1d' or seconds, not {value!r}",
            field=what,
        )
    if not math.isfinite(seconds) or seconds != int(seconds):
        raise InvalidInput(f"{what} must be whole seconds, not {value!r}", field=what)
    if not low <= seconds <= high:
        raise InvalidInput(f"{what} must be between {low} and {high} seconds", field=what)
    return int(seconds)


def window(value: object) -> int:
    return duration(value, "window", low=1, high=MAX_WINDOW_S)


def for_seconds(value: object) -> int:
    return duration(value, "for", low=0, high=MAX_FOR_S)


def metric(value: object) -> str:
    if not isinstance(value, str) or not value:
        raise InvalidInput("metric must be a figure name", field="metric")
    if value in FIGURES:
        return value
    if value.startswith(DRIFT_SCORE):
        column = value[len(DRIFT_SCORE) :]
        v.clean_name(column, "metric")  # refuses an empty or control-character column
        if column != column.strip():
            raise InvalidInput("metric's column must not start or end with spaces", field="metric")
        if len(value) > 128:
            raise InvalidInput("metric is longer than 128 characters", field="metric")
        return value
    raise InvalidInput(
        f"metric {value!r} is not a monitoring figure (one of {', '.join(FIGURES)}, "
        "or drift_score:COLUMN)",
        field="metric",
    )


def op(value: object) -> str:
    if value not in OPS:
        raise InvalidInput(f"op must be one of {', '.join(OPS)}, not {value!r}", field="op")
    assert isinstance(value, str)
    return value


def threshold(value: object) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise InvalidInput("threshold must be a number", field="threshold")
    number = float(value)
    if not math.isfinite(number):
        raise InvalidInput("threshold must be a finite number", field="threshold")
    return number


def action(value: object, known: Sequence[str]) -> str | None:
    if value is None or value == "":
        return None
    if value not in known:
        names = ", ".join(known) or "none"
        raise InvalidInput(f"action must be one of: {names} (not {value!r})", field="action")
    assert isinstance(value, str)
    return value


def email_address(value: object) -> str:
    if not isinstance(value, str) or len(value) > 254 or not _ADDRESS.match(value):
        raise InvalidInput(f"{value!r} is not an e-mail address", field="channels")
    return value


def channel_shape(value: object) -> dict[str, Any]:
    """One channel's shape (its webhook address is checked by ``notify.check_url``)."""
    if not isinstance(value, Mapping):
        raise InvalidInput("each channel must be an object with a 'type'", field="channels")
    kind = value.get("type")
    if kind not in CHANNEL_TYPES:
        raise InvalidInput(
            f"channel type must be one of {', '.join(CHANNEL_TYPES)}, not {kind!r}",
            field="channels",
        )
    if kind == "email":
        if set(value) != {"type", "to"}:
            raise InvalidInput("an email channel is {type, to: [addresses]}", field="channels")
        to = value["to"]
        if isinstance(to, str):
            to = [to]
        if not isinstance(to, list) or not to or len(to) > MAX_RECIPIENTS:
            raise InvalidInput(
                f"an email channel's 'to' is 1 to {MAX_RECIPIENTS} addresses", field="channels"
            )
        return {"type": "email", "to": [email_address(a) for a in to]}
    if set(value) != {"type", "url"}:
        raise InvalidInput(f"a {kind} channel is {{type, url}}", field="channels")
    url = value["url"]
    if not isinstance(url, str) or not url or len(url) > MAX_URL:
        raise InvalidInput(
            f"a {kind} channel's url must be 1 to {MAX_URL} characters", field="channels"
        )
    return {"type": kind, "url": url}


def channels_shape(value: object) -> list[dict[str, Any]]:
    if value is None:
        return []
    if not isinstance(value, list | tuple):
        raise InvalidInput("channels must be a list", field="channels")
    if len(value) > MAX_CHANNELS:
        raise InvalidInput(f"at most {MAX_CHANNELS} channels", field="channels")
    return [channel_shape(c) for c in value]
