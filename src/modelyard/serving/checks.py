"""The deployments' value rules: model URIs, traffic splits, rollout settings, heartbeats."""

from __future__ import annotations

import ipaddress
import math
import re
from collections.abc import Iterable, Mapping
from itertools import pairwise
from typing import Any
from urllib.parse import urlsplit

from modelyard.errors import InvalidInput
from modelyard.serving.entities import (
    ENGINES,
    LATENCY_BOUNDS_MS,
    STRATEGIES,
    Counters,
    Engine,
    LogPolicy,
    Rollout,
    Split,
    Strategy,
    VersionReport,
)
from modelyard.tracking import validation as v

MODEL_URI = re.compile(r"^models:/(?P<name>[^@/]+)(?:@(?P<alias>[^/@]+)|/(?P<version>\d{1,9}))/?$")
HEADER = re.compile(r"^[A-Za-z0-9!#$%&'*+.^_`|~-]{1,100}$")  # an HTTP field name (RFC 9110 token)
MAX_VERSION = 2**31 - 1
MAX_SPLIT = 16  # versions in traffic, and in shadow
MAX_STEPS = 20
MAX_REPORTED = 64  # versions in one heartbeat
MAX_COUNT = 2**63 - 1
MAX_ERROR_TEXT = 4000  # kept of a load error
MAX_ERROR_SENT = 65_536  # a longer one refuses the heartbeat
MAX_REASON = 10_000
MAX_COLUMN = 256  # characters of a column name in a logging policy
MAX_LOGGED_COLUMNS = 1000  # columns one logging policy may exclude, and hash
_URL = re.compile(r"https?://[\x21-\x5b\x5d-\x7e]+")  # printable ASCII, no spaces or backslashes


def model_uri(uri: object) -> tuple[str, str | None, int | None]:
    """``models:/NAME@ALIAS`` or ``models:/NAME/N`` as (name, alias, version)."""
    m = MODEL_URI.match(uri) if isinstance(uri, str) else None
    if m is None:
        raise InvalidInput(
            f"a deployment serves models:/NAME@ALIAS or models:/NAME/N, not {uri!r}", field="model"
        )
    version = m.group("version")
    return m.group("name"), m.group("alias"), None if version is None else int(version)


def version(value: object, what: str = "version") -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= MAX_VERSION:
        raise InvalidInput(f"{what} must be a version number from 1, got {value!r}", field=what)
    return value


def _number(value: object, what: str, low: float, high: float) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise InvalidInput(f"{what} must be a number, got {value!r}", field=what)
    number = float(value)
    if not math.isfinite(number) or not low <= number <= high:
        raise InvalidInput(
            f"{what} must be between {low:g} and {high:g}, got {value!r}", field=what
        )
    return number


def _whole(value: object, what: str, low: int, high: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise InvalidInput(f"{what} must be a whole number from {low} to {high}", field=what)
    return value


def engine(value: object) -> Engine:
    if value not in ENGINES:
        raise InvalidInput(f"engine must be one of {', '.join(ENGINES)}, not {value!r}")
    return value  # type: ignore[return-value]


def port(value: object) -> int | None:
    return None if value is None else _whole(value, "port", 1, 65535)


def replicas(value: object) -> int:
    return _whole(value, "replicas", 1, 64)


def reason(value: object) -> str:
    if not isinstance(value, str) or len(value) > MAX_REASON:
        raise InvalidInput(f"a reason is text of at most {MAX_REASON} characters", field="reason")
    return v.clean_value(value, "reason") if value else ""


def sticky_header(value: object) -> str | None:
    """An HTTP header name, or None ("" clears it)."""
    if value is None or value == "":
        return None
    if not isinstance(value, str) or not HEADER.match(value):
        raise InvalidInput(f"{value!r} is not an HTTP header name", field="sticky_header")
    return value


def traffic(items: Iterable[Split | Mapping[str, Any]]) -> tuple[Split, ...]:
    """A live split: distinct versions, weights from 0 to 100 that sum to 100."""
    out: list[Split] = []
    for item in items:
        if isinstance(item, Split):
            item = {"version": item.version, "weight": item.weight}
        if not isinstance(item, Mapping) or set(item) != {"version", "weight"}:
            raise InvalidInput("each traffic entry is {version, weight}", field="traffic")
        out.append(Split(version(item["version"]), _number(item["weight"], "weight", 0, 100)))
    if not 1 <= len(out) <= MAX_SPLIT:
        raise InvalidInput(f"traffic names 1 to {MAX_SPLIT} versions", field="traffic")
    if len({s.version for s in out}) != len(out):
        raise InvalidInput("traffic names a version twice", field="traffic")
    total = math.fsum(s.weight for s in out)
    if abs(total - 100) > 1e-6:
        raise InvalidInput(f"traffic weights must sum to 100, not {total:g}", field="traffic")
    return tuple(out)


def shadow(items: Iterable[object], live: Iterable[int]) -> tuple[int, ...]:
    """Versions that get a copy of the traffic: distinct, and none of them live."""
    out = tuple(version(x, "shadow") for x in items)
    if len(out) > MAX_SPLIT or len(set(out)) != len(out):
        raise InvalidInput(f"shadow names at most {MAX_SPLIT} distinct versions", field="shadow")
    both = sorted(set(out) & set(live))
    if both:
        raise InvalidInput(f"version {both[0]} is live; it cannot be a shadow too", field="shadow")
    return out


def strategy(value: object) -> Strategy:
    if value not in STRATEGIES:
        raise InvalidInput(f"strategy must be one of {', '.join(STRATEGIES)}, not {value!r}")
    return value  # type: ignore[return-value]


def rollout(doc: Rollout | Mapping[str, Any] | None) -> Rollout:
    """Rollout settings over the defaults; unknown keys and out-of-range values are refused."""
    if doc is None:
        return Rollout()
    if isinstance(doc, Rollout):
        doc = doc.to_json()
    if not isinstance(doc, Mapping):
        raise InvalidInput("rollout is an object", field="rollout")
    unknown = set(doc) - set(Rollout().to_json())
    if unknown:
        raise InvalidInput(f"unknown rollout setting {sorted(unknown)[0]!r}", field="rollout")
    base = Rollout()
    raw_steps = doc.get("steps", base.steps)
    if not isinstance(raw_steps, list | tuple) or not 1 <= len(raw_steps) <= MAX_STEPS:
        raise InvalidInput(f"steps is a list of 1 to {MAX_STEPS} percentages", field="steps")
    steps = tuple(_number(s, "step", 0, 100) for s in raw_steps)
    if any(s <= 0 for s in steps) or any(b <= a for a, b in pairwise(steps)):
        raise InvalidInput("steps must grow, each above 0 and at most 100", field="steps")
    return Rollout(
        strategy=strategy(doc.get("strategy", base.strategy)),
        steps=steps,
        interval_s=_number(doc.get("interval_s", base.interval_s), "interval_s", 0, 7 * 86400),
        max_error_rate_increase=_number(
            doc.get("max_error_rate_increase", base.max_error_rate_increase),
            "max_error_rate_increase",
            0,
            1,
        ),
        max_latency_ratio=_number(
            doc.get("max_latency_ratio", base.max_latency_ratio), "max_latency_ratio", 1, 1000
        ),
        min_requests=_whole(doc.get("min_requests", base.min_requests), "min_requests", 1, 10**9),
        quality_metric=quality_metric(doc.get("quality_metric")),
        max_quality_drop=_number(
            doc.get("max_quality_drop", base.max_quality_drop), "max_quality_drop", 0, 1e9
        ),
    )


QUALITY_FIGURES = (
    "accuracy", "precision", "recall", "f1", "roc_auc", "log_loss", "mae", "rmse", "r2",
    "estimated_accuracy", "estimated_precision", "estimated_recall", "estimated_f1",
    "estimated_roc_auc",
)  # fmt: skip


def quality_metric(value: object) -> str | None:
    """A monitoring quality figure a canary is gated on (None: no quality gate)."""
    if value is None:
        return None
    if isinstance(value, str) and value in QUALITY_FIGURES:
        return value
    raise InvalidInput(
        f"quality_metric is one of {', '.join(QUALITY_FIGURES)}, not {value!r:.80}",
        field="quality_metric",
    )


def instance_name(value: object) -> str:
    return v.clean_name(value, "instance", 255)


def instance_url(value: object, what: str = "url") -> str:
    """``http(s)://host:port[/path]``: no user or password, query or fragment (the probe
    fetches it, so it names a serving process and nothing else)."""
    shape = f"{what} is http(s)://host:port[/path] (no user, query or fragment)"
    if not isinstance(value, str) or len(value) > 2048 or not _URL.fullmatch(value):
        raise InvalidInput(shape, field=what)
    parts = urlsplit(value)
    try:
        number = parts.port
    except ValueError:
        number = None
    if parts.scheme not in ("http", "https") or not parts.hostname or not number:
        raise InvalidInput(shape, field=what)
    if "@" in parts.netloc or parts.query or parts.fragment or "?" in value or "#" in value:
        raise InvalidInput(shape, field=what)
    return value


def url_host(url: str) -> str:
    """The host of a checked instance URL, lower case, without IPv6 brackets."""
    return (urlsplit(url).hostname or "").lower()


def origin(url: str) -> tuple[str, str, int | None]:
    parts = urlsplit(url)
    return parts.scheme, (parts.hostname or "").lower(), parts.port


def loopback(host: str) -> bool:
    if host == "localhost" or host.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


_AWS_METADATA_V6 = ipaddress.ip_address("fd00:ec2::254")  # IPv6's instance metadata


def unreachable_host(host: str) -> str | None:
    """Why an address literal cannot be a serving process's (cloud metadata and other
    link-local services, multicast, unspecified, reserved), None for any other host."""
    try:
        ip = ipaddress.ip_address(host)
    except ValueError:
        return None
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    for flag, why in (
        (ip == _AWS_METADATA_V6 or ip.is_link_local, "link-local"),
        (ip.is_multicast, "multicast"),
        (ip.is_unspecified, "unspecified"),
        (ip.is_reserved, "reserved"),
    ):
        if flag:
            return why
    return None


def same_address(host: str, address: str) -> bool:
    """Whether a URL's host is the IP address a request came from (IPv4-mapped alike)."""
    try:
        a, b = ipaddress.ip_address(host), ipaddress.ip_address(address)
    except ValueError:
        return False
    a = a.ipv4_mapped or a if isinstance(a, ipaddress.IPv6Address) else a
    b = b.ipv4_mapped or b if isinstance(b, ipaddress.IPv6Address) else b
    return a == b


def report(key: object, doc: object) -> tuple[int, VersionReport]:
    """One version's entry of a heartbeat (counters are cumulative since the process began)."""
    if isinstance(key, str) and key.isascii() and key.isdigit() and len(key) < 11:
        key = int(key)  # ASCII only: "²" is a digit to str.isdigit, not to int()
    number = version(key)
    if not isinstance(doc, Mapping):
        raise InvalidInput(f"the report of version {number} is an object", field="versions")
    state = doc.get("state")
    if state not in ("ready", "loading", "failed"):
        raise InvalidInput("state is ready, loading or failed", field="state")
    error = doc.get("error")
    if error is not None and (not isinstance(error, str) or len(error) > MAX_ERROR_SENT):
        raise InvalidInput(f"error is text of at most {MAX_ERROR_SENT} characters", field="error")
    if error is not None and len(error) > MAX_ERROR_TEXT:  # kept short; the process logs it all
        error = error[: MAX_ERROR_TEXT - 1] + "…"
    buckets = doc.get("latency_buckets", [0] * len(LATENCY_BOUNDS_MS))
    if not isinstance(buckets, list | tuple) or len(buckets) != len(LATENCY_BOUNDS_MS):
        raise InvalidInput(
            f"latency_buckets holds {len(LATENCY_BOUNDS_MS)} counts", field="latency_buckets"
        )
    counters = Counters(
        _whole(doc.get("requests", 0), "requests", 0, MAX_COUNT),
        _whole(doc.get("errors", 0), "errors", 0, MAX_COUNT),
        tuple(_whole(b, "latency_buckets", 0, MAX_COUNT) for b in buckets),
    )
    rps = _number(doc.get("rps", 0.0), "rps", 0, 1e12)
    return number, VersionReport(state, error, counters, rps)


def reports(versions: object) -> dict[int, VersionReport]:
    if not isinstance(versions, Mapping) or len(versions) > MAX_REPORTED:
        raise InvalidInput(f"versions maps at most {MAX_REPORTED} versions", field="versions")
    return dict(report(k, doc) for k, doc in versions.items())


def _columns(value: object, what: str) -> tuple[str, ...]:
    if isinstance(value, str) or not isinstance(value, list | tuple):
        raise InvalidInput(f"{what} is a list of column names", field=f"logging.{what}")
    if len(value) > MAX_LOGGED_COLUMNS:
        raise InvalidInput(
            f"{what} names at most {MAX_LOGGED_COLUMNS} columns", field=f"logging.{what}"
        )
    out: list[str] = []
    for name in value:
        if not isinstance(name, str) or not 1 <= len(name) <= MAX_COLUMN:
            raise InvalidInput(
                f"a column name in {what} is text of 1 to {MAX_COLUMN} characters, not {name!r}",
                field=f"logging.{what}",
            )
        if name not in out:
            out.append(name)
    return tuple(out)


def logging(doc: LogPolicy | Mapping[str, Any] | None, key: str) -> LogPolicy:
    """A logging policy (columns excluded, columns hashed, the share logged) with ``key``;
    unknown settings, a column both excluded and hashed, a sample outside (0, 1] are refused."""
    if doc is None:
        return LogPolicy(key=key)
    if isinstance(doc, LogPolicy):
        doc = doc.to_json()
    if not isinstance(doc, Mapping):
        raise InvalidInput("logging is an object {exclude, hash, sample}", field="logging")
    unknown = set(doc) - {"exclude", "hash", "sample"}
    if unknown:
        raise InvalidInput(f"unknown logging setting {sorted(unknown)[0]!r}", field="logging")
    exclude = _columns(doc.get("exclude", []), "exclude")
    hashed = _columns(doc.get("hash", []), "hash")
    both = sorted(set(exclude) & set(hashed))
    if both:
        raise InvalidInput(
            f"column {both[0]!r} is both excluded and hashed; pick one", field="logging.hash"
        )
    sample = _number(doc.get("sample", 1.0), "sample", 0, 1)
    if sample <= 0:
        raise InvalidInput("sample must be above 0 and at most 1", field="logging.sample")
    return LogPolicy(exclude, hashed, sample, key)
