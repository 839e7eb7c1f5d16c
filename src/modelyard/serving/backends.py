"""What the deployments SDK asks of a store: the REST API of a server, or the service in process.

Both answer with the same JSON shapes (``modelyard.wire``).
"""

from __future__ import annotations

from typing import Any, Protocol

from modelyard import embedded, wire
from modelyard.serving.logs import tail
from modelyard.tracking.http import PooledApi, quote_part
from modelyard.users import local_user


class DeploymentsApi(Protocol):
    """The deployment calls ``Deployments`` needs, as JSON-shaped answers."""

    def create(self, body: dict[str, Any]) -> dict[str, Any]: ...
    def list_all(self) -> list[dict[str, Any]]: ...
    def get(self, name: str) -> dict[str, Any]: ...
    def set_traffic(self, name: str, body: dict[str, Any]) -> dict[str, Any]: ...
    def set_logging(self, name: str, body: dict[str, Any]) -> dict[str, Any]: ...
    def promote(self, name: str, body: dict[str, Any]) -> dict[str, Any]: ...
    def rollback(self, name: str, body: dict[str, Any]) -> dict[str, Any]: ...
    def delete(self, name: str, reason: str) -> None: ...
    def history(self, name: str) -> list[dict[str, Any]]: ...
    def logs(self, name: str, lines: int) -> list[str]: ...
    def serving_token(self, name: str, body: dict[str, Any]) -> dict[str, Any]: ...
    def close(self) -> None: ...


class HttpDeployments(PooledApi):
    """The deployments of a modelyard server, over the process's shared pool."""

    def _call(self, method: str, path: str, body: Any = None, **params: Any) -> Any:
        return self.backend.call(method, "/deployments" + path, body, params=params or None)

    def create(self, body: dict[str, Any]) -> dict[str, Any]:
        found: dict[str, Any] = self._call("POST", "", body)
        return found

    def list_all(self) -> list[dict[str, Any]]:
        found: list[dict[str, Any]] = self._call("GET", "")["deployments"]
        return found

    def get(self, name: str) -> dict[str, Any]:
        found: dict[str, Any] = self._call("GET", f"/{quote_part(name)}")
        return found

    def set_traffic(self, name: str, body: dict[str, Any]) -> dict[str, Any]:
        found: dict[str, Any] = self._call("POST", f"/{quote_part(name)}/traffic", body)
        return found

    def set_logging(self, name: str, body: dict[str, Any]) -> dict[str, Any]:
        found: dict[str, Any] = self._call("POST", f"/{quote_part(name)}/logging", body)
        return found

    def promote(self, name: str, body: dict[str, Any]) -> dict[str, Any]:
        found: dict[str, Any] = self._call("POST", f"/{quote_part(name)}/promote", body)
        return found

    def rollback(self, name: str, body: dict[str, Any]) -> dict[str, Any]:
        found: dict[str, Any] = self._call("POST", f"/{quote_part(name)}/rollback", body)
        return found

    def delete(self, name: str, reason: str) -> None:
        self._call("DELETE", f"/{quote_part(name)}", reason=reason)

    def history(self, name: str) -> list[dict[str, Any]]:
        found: list[dict[str, Any]] = self._call("GET", f"/{quote_part(name)}/history")
        return found

    def logs(self, name: str, lines: int) -> list[str]:
        found: list[str] = self._call("GET", f"/{quote_part(name)}/logs", lines=lines)["lines"]
        return found

    def serving_token(self, name: str, body: dict[str, Any]) -> dict[str, Any]:
        found: dict[str, Any] = self._call("POST", f"/{quote_part(name)}/serving-token", body)
        return found


class LocalDeployments:
    """The deployments of an embedded store: the service of this process, no HTTP.

    Policy changes are stored at once; rollouts advance where a server's controller runs.
    """

    def __init__(self, uri: str) -> None:
        self._services: embedded.Services | None = embedded.acquire(uri)
        self.services = self._services
        self.svc = self.services.deployments

    def create(self, body: dict[str, Any]) -> dict[str, Any]:
        found = self.svc.create(
            body["name"],
            body["model"],
            user=local_user(),
            engine=body["engine"],
            port=body["port"],
            replicas=body["replicas"],
            rollout=body["rollout"],
            sticky_header=body["sticky_header"],
            logging=body.get("logging"),
            reason=body["reason"],
            serving_url=body.get("serving_url"),
        )
        return wire.deployment_json(found)

    def list_all(self) -> list[dict[str, Any]]:
        return [wire.deployment_json(d) for d in self.svc.list_all()]

    def get(self, name: str) -> dict[str, Any]:
        d, instances = self.svc.status(name)
        return wire.deployment_status_json(d, instances, self.svc.clock())

    def set_traffic(self, name: str, body: dict[str, Any]) -> dict[str, Any]:
        found = self.svc.set_traffic(
            name,
            body["traffic"],
            user=local_user(),
            shadow=body.get("shadow"),
            sticky_header=body.get("sticky_header", ...),
            reason=body["reason"],
            revision=body["revision"],
        )
        return wire.deployment_json(found)

    def set_logging(self, name: str, body: dict[str, Any]) -> dict[str, Any]:
        settings = {k: body[k] for k in ("exclude", "hash", "sample")}
        found = self.svc.set_logging(
            name, settings, user=local_user(), reason=body["reason"], revision=body["revision"]
        )
        return wire.deployment_json(found)

    def promote(self, name: str, body: dict[str, Any]) -> dict[str, Any]:
        found = self.svc.promote(
            name,
            body["version"],
            user=local_user(),
            reason=body["reason"],
            strategy=body["strategy"],
            revision=body["revision"],
        )
        return wire.deployment_json(found)

    def rollback(self, name: str, body: dict[str, Any]) -> dict[str, Any]:
        found = self.svc.rollback(
            name, user=local_user(), reason=body["reason"], revision=body["revision"]
        )
        return wire.deployment_json(found)

    def delete(self, name: str, reason: str) -> None:
        self.svc.delete(name, user=local_user(), reason=reason)

    def history(self, name: str) -> list[dict[str, Any]]:
        return [wire.deployment_event_json(e) for e in self.svc.history(name)]

    def logs(self, name: str, lines: int) -> list[str]:
        self.svc.get(name)
        return tail(name, lines)

    def serving_token(self, name: str, body: dict[str, Any]) -> dict[str, Any]:
        found, token = self.svc.serving_token(
            name,
            user=local_user(),
            serving_url=body.get("serving_url", ...),
            reason=body.get("reason", ""),
        )
        return {"deployment": found.name, "token": token, "serving_url": found.serving_url}

    def close(self) -> None:
        if self._services is not None:
            embedded.release(self._services)
            self._services = None


def deployments_api(uri: str) -> DeploymentsApi:
    """The deployments at ``uri``: a server's REST API, or the embedded store's service."""
    from modelyard.tracking.client import is_http

    return HttpDeployments(uri) if is_http(uri) else LocalDeployments(uri)
