"""The alerts SDK: rules, firings and their history, on a server or in process.

``Alerts(uri)`` talks to a server's REST API (http://...) or calls the alerts service of an
embedded store in this process; both answer with the same JSON shapes. Rules are evaluated by a
running server (an embedded store keeps them for the server that opens it).
"""

from __future__ import annotations

import builtins
from collections.abc import Iterable, Mapping
from typing import Any, Protocol, Self

from modelyard import embedded
from modelyard.tracking.client import resolve_uri
from modelyard.tracking.http import PooledApi
from modelyard.users import local_user


class AlertsApi(Protocol):
    """The alert calls ``Alerts`` needs, as JSON-shaped answers."""

    def create_rule(self, body: dict[str, Any]) -> dict[str, Any]: ...
    def rules(self, deployment: str | None) -> list[dict[str, Any]]: ...
    def get_rule(self, rule_id: int) -> dict[str, Any]: ...
    def update_rule(self, rule_id: int, changes: dict[str, Any]) -> dict[str, Any]: ...
    def delete_rule(self, rule_id: int) -> None: ...
    def silence(self, rule_id: int, minutes: float) -> dict[str, Any]: ...
    def unsilence(self, rule_id: int) -> dict[str, Any]: ...
    def acknowledge(self, firing_id: int) -> dict[str, Any]: ...
    def resolve(self, firing_id: int) -> dict[str, Any]: ...
    def firings(self, params: dict[str, Any]) -> list[dict[str, Any]]: ...
    def events(self, rule_id: int) -> list[dict[str, Any]]: ...
    def close(self) -> None: ...


class HttpAlerts(PooledApi):
    """The alerts of a modelyard server, over the process's shared pool."""

    def _call(self, method: str, path: str, body: Any = None, **params: Any) -> Any:
        query = {k: v for k, v in params.items() if v is not None} or None
        return self.backend.call(method, "/monitoring/alerts" + path, body, params=query)

    def create_rule(self, body: dict[str, Any]) -> dict[str, Any]:
        found: dict[str, Any] = self._call("POST", "/rules", body)
        return found

    def rules(self, deployment: str | None) -> list[dict[str, Any]]:
        found: list[dict[str, Any]] = self._call("GET", "/rules", deployment=deployment)["rules"]
        return found

    def get_rule(self, rule_id: int) -> dict[str, Any]:
        found: dict[str, Any] = self._call("GET", f"/rules/{int(rule_id)}")
        return found

    def update_rule(self, rule_id: int, changes: dict[str, Any]) -> dict[str, Any]:
        found: dict[str, Any] = self._call("PATCH", f"/rules/{int(rule_id)}", changes)
        return found

    def delete_rule(self, rule_id: int) -> None:
        self._call("DELETE", f"/rules/{int(rule_id)}")

    def silence(self, rule_id: int, minutes: float) -> dict[str, Any]:
        body = {"minutes": minutes}
        found: dict[str, Any] = self._call("POST", f"/rules/{int(rule_id)}/silence", body)
        return found

    def unsilence(self, rule_id: int) -> dict[str, Any]:
        found: dict[str, Any] = self._call("POST", f"/rules/{int(rule_id)}/unsilence", {})
        return found

    def acknowledge(self, firing_id: int) -> dict[str, Any]:
        found: dict[str, Any] = self._call("POST", f"/firings/{int(firing_id)}/acknowledge", {})
        return found

    def resolve(self, firing_id: int) -> dict[str, Any]:
        found: dict[str, Any] = self._call("POST", f"/firings/{int(firing_id)}/resolve", {})
        return found

    def firings(self, params: dict[str, Any]) -> list[dict[str, Any]]:
        found: list[dict[str, Any]] = self._call("GET", "/firings", **params)["firings"]
        return found

    def events(self, rule_id: int) -> list[dict[str, Any]]:
        found: list[dict[str, Any]] = self._call("GET", f"/rules/{int(rule_id)}/events")["events"]
        return found


class LocalAlerts:
    """The alerts of an embedded store: the alerts service in this process, no HTTP."""

    def __init__(self, uri: str) -> None:
        from modelyard.monitoring.alerting import AlertService, rollback_action

        self._services: embedded.Services | None = embedded.acquire(uri)
        deployments = self._services.deployments
        self.svc = AlertService(
            self._services.stores.db, actions={"rollback": rollback_action(deployments.rollback)}
        )

    def create_rule(self, body: dict[str, Any]) -> dict[str, Any]:
        found = self.svc.create_rule(
            body["name"],
            body["deployment"],
            body["metric"],
            window=body["window"],
            op=body["op"],
            threshold=body["threshold"],
            for_s=body["for"],
            channels=body["channels"],
            action=body["action"],
            enabled=body["enabled"],
            user=local_user(),
        )
        return found.to_json(self.svc.clock())

    def rules(self, deployment: str | None) -> list[dict[str, Any]]:
        now = self.svc.clock()
        return [r.to_json(now) for r in self.svc.rules(deployment)]

    def get_rule(self, rule_id: int) -> dict[str, Any]:
        return self.svc.get_rule(rule_id).to_json(self.svc.clock())

    def update_rule(self, rule_id: int, changes: dict[str, Any]) -> dict[str, Any]:
        found = self.svc.update_rule(rule_id, changes, user=local_user())
        return found.to_json(self.svc.clock())

    def delete_rule(self, rule_id: int) -> None:
        self.svc.delete_rule(rule_id, user=local_user())

    def silence(self, rule_id: int, minutes: float) -> dict[str, Any]:
        found = self.svc.silence(rule_id, minutes, user=local_user())
        return found.to_json(self.svc.clock())

    def unsilence(self, rule_id: int) -> dict[str, Any]:
        return self.svc.unsilence(rule_id, user=local_user()).to_json(self.svc.clock())

    def acknowledge(self, firing_id: int) -> dict[str, Any]:
        return self.svc.acknowledge(firing_id, user=local_user()).to_json()

    def resolve(self, firing_id: int) -> dict[str, Any]:
        return self.svc.resolve(firing_id, user=local_user()).to_json()

    def firings(self, params: dict[str, Any]) -> list[dict[str, Any]]:
        return [f.to_json() for f in self.svc.firings(**params)]

    def events(self, rule_id: int) -> list[dict[str, Any]]:
        return [e.to_json() for e in self.svc.events(rule_id)]

    def close(self) -> None:
        if self._services is not None:
            self.svc.close()
            embedded.release(self._services)
            self._services = None


def alerts_api(uri: str) -> AlertsApi:
    """The alerts at ``uri``: a server's REST API, or the embedded store's service."""
    from modelyard.tracking.client import is_http

    return HttpAlerts(uri) if is_http(uri) else LocalAlerts(uri)


class Alerts:
    """Alert rules and firings of a server (http://) or of an embedded store (in process)."""

    def __init__(self, uri: str | None = None) -> None:
        self.uri = resolve_uri(uri)
        self.api: AlertsApi = alerts_api(self.uri)

    def close(self) -> None:
        self.api.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def create_rule(
        self,
        name: str,
        deployment: str,
        metric: str,
        *,
        op: str,
        threshold: float,
        window: str | int = "5m",
        for_s: str | int = 0,
        channels: Iterable[Mapping[str, Any]] = (),
        action: str | None = None,
        enabled: bool = True,
    ) -> dict[str, Any]:
        """A rule: ``metric`` of ``deployment`` over ``window``, ``op`` ``threshold``, held for
        ``for_s`` seconds, told on ``channels`` (``{"type": "webhook"|"slack", "url"}`` or
        ``{"type": "email", "to": [...]}``); ``action="rollback"`` rolls the deployment back."""
        body = {
            "name": name,
            "deployment": deployment,
            "metric": metric,
            "window": window,
            "op": op,
            "threshold": threshold,
            "for": for_s,
            "channels": [dict(c) for c in channels],
            "action": action,
            "enabled": enabled,
        }
        return self.api.create_rule(body)

    def rules(self, deployment: str | None = None) -> builtins.list[dict[str, Any]]:
        return self.api.rules(deployment)

    def get_rule(self, rule_id: int) -> dict[str, Any]:
        return self.api.get_rule(rule_id)

    def update_rule(self, rule_id: int, **changes: Any) -> dict[str, Any]:
        """Change some fields: name, deployment, metric, window, op, threshold, for_s,
        channels, action, enabled."""
        if "for_s" in changes:
            changes["for"] = changes.pop("for_s")
        return self.api.update_rule(rule_id, changes)

    def delete_rule(self, rule_id: int) -> None:
        self.api.delete_rule(rule_id)

    def silence(self, rule_id: int, minutes: float) -> dict[str, Any]:
        """No notification from the rule for ``minutes`` (it still evaluates and records)."""
        return self.api.silence(rule_id, minutes)

    def unsilence(self, rule_id: int) -> dict[str, Any]:
        return self.api.unsilence(rule_id)

    def acknowledge(self, firing_id: int) -> dict[str, Any]:
        """Someone is on it: no repeated notifications of the firing."""
        return self.api.acknowledge(firing_id)

    def resolve(self, firing_id: int) -> dict[str, Any]:
        """End the firing; its rule fires again once the condition was false and true again."""
        return self.api.resolve(firing_id)

    def firings(
        self,
        deployment: str | None = None,
        *,
        status: str | None = None,
        rule_id: int | None = None,
        limit: int = 1000,
    ) -> builtins.list[dict[str, Any]]:
        """Firings, newest first; ``status`` firing, acknowledged, resolved or active."""
        params = {"deployment": deployment, "status": status, "rule_id": rule_id, "limit": limit}
        return self.api.firings(params)

    def events(self, rule_id: int) -> builtins.list[dict[str, Any]]:
        """The rule's history, oldest first (kept after it is deleted)."""
        return self.api.events(rule_id)
