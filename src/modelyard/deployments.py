"""``my.deployments``: serve registered models under a name, and change their traffic live.

my.deployments.create("churn-api", "models:/churn@champion")   # follows the alias
my.deployments.promote("churn-api", 4, strategy="canary")
my.deployments.set_traffic("churn-api", {3: 90, 4: 10}, sticky_header="X-User-Id")
my.deployments.set_logging("churn-api", exclude=["email"], hash=["user_id"], sample=0.5)
"""

from __future__ import annotations

import builtins
from collections.abc import Iterable
from types import EllipsisType
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from modelyard.serving.client import Deployments, Traffic

__all__ = [
    "create", "delete", "get", "history", "list", "promote", "rollback", "set_logging",
    "set_traffic",
]  # fmt: skip


def _deployments() -> Deployments:
    from modelyard.serving.client import Deployments
    from modelyard.tracking import fluent

    return Deployments(fluent.get_tracking_uri())


def create(name: str, model: str, **options: Any) -> dict[str, Any]:
    """Deploy ``models:/NAME@ALIAS`` (following the alias) or ``models:/NAME/N``."""
    with _deployments() as d:
        return d.create(name, model, **options)


def list() -> builtins.list[dict[str, Any]]:
    with _deployments() as d:
        return d.list()


def get(name: str) -> dict[str, Any]:
    with _deployments() as d:
        return d.get(name)


def set_traffic(
    name: str,
    traffic: Traffic,
    *,
    shadow: Iterable[int] | None = None,
    sticky_header: str | EllipsisType | None = ...,
    reason: str = "",
    revision: int | None = None,
) -> dict[str, Any]:
    """Set the live split by hand, e.g. ``{3: 90, 4: 10}`` (weights sum to 100)."""
    with _deployments() as d:
        return d.set_traffic(
            name, traffic, shadow=shadow, sticky_header=sticky_header, reason=reason,
            revision=revision,
        )  # fmt: skip


def set_logging(
    name: str,
    *,
    exclude: Iterable[str] = (),
    hash: Iterable[str] = (),
    sample: float = 1.0,
    reason: str = "",
    revision: int | None = None,
) -> dict[str, Any]:
    """Set what the prediction log keeps: ``exclude`` columns are never logged, ``hash``
    columns are logged as a keyed hash (HMAC-SHA256), a ``sample`` share of requests."""
    with _deployments() as d:
        return d.set_logging(
            name, exclude=exclude, hash=hash, sample=sample, reason=reason, revision=revision
        )


def promote(name: str, version: int, **options: Any) -> dict[str, Any]:
    """Roll ``version`` out by the deployment's strategy (blue-green or canary)."""
    with _deployments() as d:
        return d.promote(name, version, **options)


def rollback(name: str, *, reason: str = "", revision: int | None = None) -> dict[str, Any]:
    with _deployments() as d:
        return d.rollback(name, reason=reason, revision=revision)


def delete(name: str, *, reason: str = "") -> None:
    with _deployments() as d:
        d.delete(name, reason=reason)


def history(name: str) -> builtins.list[dict[str, Any]]:
    with _deployments() as d:
        return d.history(name)
