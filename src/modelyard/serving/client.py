"""The deployments SDK: create deployments and change their traffic, on a server or in process."""

from __future__ import annotations

import builtins
from collections.abc import Iterable, Mapping
from types import EllipsisType
from typing import Any, Self

from modelyard.serving.backends import DeploymentsApi, deployments_api
from modelyard.tracking.client import resolve_uri

Traffic = Mapping[int, float] | Iterable[Mapping[str, Any]]


def split(traffic: Traffic) -> builtins.list[dict[str, Any]]:
    """``{3: 90, 4: 10}`` or ``[{"version": 3, "weight": 90}, ...]`` as the API's list."""
    if isinstance(traffic, Mapping):
        return [{"version": v, "weight": w} for v, w in traffic.items()]
    return [dict(item) for item in traffic]


class Deployments:
    """The deployments of a server (http://) or of an embedded store (called in process)."""

    def __init__(self, uri: str | None = None) -> None:
        self.uri = resolve_uri(uri)
        self.api: DeploymentsApi = deployments_api(self.uri)

    def close(self) -> None:
        self.api.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def create(
        self,
        name: str,
        model: str,
        *,
        engine: str = "process",
        port: int | None = None,
        replicas: int = 1,
        rollout: Mapping[str, Any] | None = None,
        sticky_header: str | None = None,
        logging: Mapping[str, Any] | None = None,
        reason: str = "",
        serving_url: str | None = None,
    ) -> dict[str, Any]:
        """Deploy ``models:/NAME@ALIAS`` (following the alias) or ``models:/NAME/N``;
        ``logging={"exclude": [...], "hash": [...], "sample": 1.0}`` says what its prediction
        log keeps of the inputs; ``serving_url`` where callers reach an external or Ray one."""
        body = {
            "name": name,
            "model": model,
            "engine": engine,
            "port": port,
            "replicas": replicas,
            "rollout": None if rollout is None else dict(rollout),
            "sticky_header": sticky_header,
            "reason": reason,
        }
        if logging is not None:
            body["logging"] = dict(logging)
        if serving_url is not None:
            body["serving_url"] = serving_url
        return self.api.create(body)

    def list(self) -> builtins.list[dict[str, Any]]:
        return self.api.list_all()

    def get(self, name: str) -> dict[str, Any]:
        """The deployment with its instances and live figures per version."""
        return self.api.get(name)

    def set_traffic(
        self,
        name: str,
        traffic: Traffic,
        *,
        shadow: Iterable[int] | None = None,
        sticky_header: str | EllipsisType | None = ...,
        reason: str = "",
        revision: int | None = None,
    ) -> dict[str, Any]:
        """Set the live split (weights sum to 100), shadows (None: unchanged) and the sticky
        header (left out: unchanged; None: removed)."""
        body: dict[str, Any] = {
            "traffic": split(traffic),
            "shadow": None if shadow is None else list(shadow),
            "reason": reason,
            "revision": revision,
        }
        if sticky_header is not ...:
            body["sticky_header"] = sticky_header
        return self.api.set_traffic(name, body)

    def set_logging(
        self,
        name: str,
        *,
        exclude: Iterable[str] = (),
        hash: Iterable[str] = (),
        sample: float = 1.0,
        reason: str = "",
        revision: int | None = None,
    ) -> dict[str, Any]:
        """Set what the prediction log keeps: ``exclude`` columns are never logged, ``hash``
        columns are logged as a keyed hash, a ``sample`` share of requests is logged."""
        body = {
            "exclude": list(exclude), "hash": list(hash), "sample": sample,
            "reason": reason, "revision": revision,
        }  # fmt: skip
        return self.api.set_logging(name, body)

    def promote(
        self,
        name: str,
        version: int,
        *,
        strategy: str | None = None,
        reason: str = "",
        revision: int | None = None,
    ) -> dict[str, Any]:
        """Roll ``version`` out by the deployment's strategy (or ``strategy``)."""
        body = {"version": version, "strategy": strategy, "reason": reason, "revision": revision}
        return self.api.promote(name, body)

    def rollback(
        self, name: str, *, reason: str = "", revision: int | None = None
    ) -> dict[str, Any]:
        """Call off the rollout in progress, or go back to the previous stable version."""
        return self.api.rollback(name, {"reason": reason, "revision": revision})

    def delete(self, name: str, *, reason: str = "") -> None:
        self.api.delete(name, reason)

    def history(self, name: str) -> builtins.list[dict[str, Any]]:
        """Every policy change, oldest first: who or what, why, traffic before and after."""
        return self.api.history(name)

    def logs(self, name: str, lines: int = 200) -> builtins.list[str]:
        """The last ``lines`` lines its serving processes wrote."""
        return self.api.logs(name, lines)

    def serving_token(
        self, name: str, *, serving_url: str | EllipsisType | None = ..., reason: str = ""
    ) -> dict[str, Any]:
        """A new serving token for the deployment (``{"deployment", "token", "serving_url"}``),
        shown this once; the old one stops working. ``serving_url`` (left out: unchanged)."""
        body: dict[str, Any] = {"reason": reason}
        if serving_url is not ...:
            body["serving_url"] = serving_url
        return self.api.serving_token(name, body)
