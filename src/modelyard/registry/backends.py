"""What the registry SDK asks of a store: the REST API of a server, or the services in process.

Both answer with the same JSON shapes (``modelyard.wire``). What a server sends is checked by
``ModelRegistry``; the in-process answers go through the same checks.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any, Protocol

from modelyard import embedded, wire
from modelyard.errors import InvalidState
from modelyard.tracking.http import HttpBackend, PooledApi, quote_part
from modelyard.users import local_user


class ModelsApi(Protocol):
    """The registry calls ``ModelRegistry`` needs, as JSON-shaped answers."""

    def put_files(self, files: dict[str, Path]) -> dict[str, str]: ...
    def register(self, name: str, body: dict[str, Any]) -> dict[str, Any]: ...
    def version(self, name: str, ref: str, *, files: bool = False) -> dict[str, Any]: ...
    def get(self, name: str, version: int) -> dict[str, Any]: ...
    def set_alias(self, name: str, alias: str, version: int, reason: str) -> None: ...
    def rollback(self, name: str, alias: str, reason: str) -> dict[str, Any]: ...
    def trust(self, name: str, version: int, reason: str) -> dict[str, Any]: ...
    def propose(self, name: str, version: int, body: dict[str, Any]) -> dict[str, Any]: ...
    def decide(self, promotion_id: int, approve: bool, comment: str) -> dict[str, Any]: ...
    def promotions(self, name: str) -> list[dict[str, Any]]: ...
    def models(self) -> list[dict[str, Any]]: ...
    def history(self, name: str) -> list[dict[str, Any]]: ...
    def run_listing(self, run_id: str, path: str) -> Any: ...
    def run_file(self, run_id: str, path: str) -> Iterator[bytes]: ...
    def blob(self, digest: str) -> Iterator[bytes]: ...
    def http(self) -> HttpBackend: ...
    def close(self) -> None: ...


class HttpModels(PooledApi):
    """The registry of a modelyard server, over the process's shared pool."""

    def register(self, name: str, body: dict[str, Any]) -> dict[str, Any]:
        found: dict[str, Any] = self.backend.call(
            "POST", f"/models/{quote_part(name)}/versions", body
        )
        return found

    def version(self, name: str, ref: str, *, files: bool = False) -> dict[str, Any]:
        """``ref``: an alias, ``latest`` or ``v<n>``."""
        params = {"files": "true"} if files else None
        found: dict[str, Any] = self.backend.call(
            "GET", f"/models/{quote_part(name)}/aliases/{quote_part(ref)}", params=params
        )
        return found

    def get(self, name: str, version: int) -> dict[str, Any]:
        found: dict[str, Any] = self.backend.call(
            "GET", f"/models/{quote_part(name)}/versions/{version}"
        )
        return found

    def set_alias(self, name: str, alias: str, version: int, reason: str) -> None:
        body = {"version": version, "reason": reason}
        self.backend.call("PUT", f"/models/{quote_part(name)}/aliases/{quote_part(alias)}", body)

    def rollback(self, name: str, alias: str, reason: str) -> dict[str, Any]:
        path = f"/models/{quote_part(name)}/aliases/{quote_part(alias)}/rollback"
        found: dict[str, Any] = self.backend.call("POST", path, {"reason": reason})
        return found

    def trust(self, name: str, version: int, reason: str) -> dict[str, Any]:
        path = f"/models/{quote_part(name)}/versions/{version}/trust"
        found: dict[str, Any] = self.backend.call("POST", path, {"reason": reason})
        return found

    def propose(self, name: str, version: int, body: dict[str, Any]) -> dict[str, Any]:
        path = f"/models/{quote_part(name)}/versions/{version}/promotions"
        found: dict[str, Any] = self.backend.call("POST", path, body)
        return found

    def decide(self, promotion_id: int, approve: bool, comment: str) -> dict[str, Any]:
        verb = "approve" if approve else "reject"
        found: dict[str, Any] = self.backend.call(
            "POST", f"/promotions/{promotion_id}/{verb}", {"comment": comment}
        )
        return found

    def promotions(self, name: str) -> list[dict[str, Any]]:
        found: list[dict[str, Any]] = self.backend.call(
            "GET", f"/models/{quote_part(name)}/promotions"
        )
        return found

    def models(self) -> list[dict[str, Any]]:
        found: list[dict[str, Any]] = self.backend.call(
            "GET", "/models", params={"max_results": 1000}
        )["models"]
        return found

    def history(self, name: str) -> list[dict[str, Any]]:
        found: list[dict[str, Any]] = self.backend.call(
            "GET", f"/models/{quote_part(name)}/history"
        )
        return found

    def run_listing(self, run_id: str, path: str) -> Any:
        return self.backend.call("GET", f"/runs/{run_id}/artifacts", params={"path": path})

    def run_file(self, run_id: str, path: str) -> Iterator[bytes]:
        from urllib.parse import quote

        return self.backend.download(f"/runs/{run_id}/artifacts/{quote(path)}")

    def http(self) -> HttpBackend:
        return self.backend


class LocalModels:
    """The registry of an embedded store: the services of this process, no HTTP."""

    def __init__(self, uri: str) -> None:
        self.uri = uri
        self._services: embedded.Services | None = embedded.acquire(uri)
        self.services = self._services

    def put_files(self, files: dict[str, Path]) -> dict[str, str]:
        return embedded.put_files(self.services, files)

    def register(self, name: str, body: dict[str, Any]) -> dict[str, Any]:
        version = self.services.registry.register_package(
            name,
            body["files"],
            run_id=body["run_id"],
            description=body["description"],
            tags=body["tags"],
            user=local_user(),
        )
        return wire.version_json(version)

    def version(self, name: str, ref: str, *, files: bool = False) -> dict[str, Any]:
        reg = self.services.registry
        found = reg.version_by_alias(name, ref)
        out = wire.version_json(found)
        if files:
            out["files"] = wire.files_json(reg.version_artifacts(found))
        return out

    def get(self, name: str, version: int) -> dict[str, Any]:
        return wire.version_json(self.services.registry.get_version(name, version))

    def set_alias(self, name: str, alias: str, version: int, reason: str) -> None:
        self.services.registry.set_alias(name, alias, version, local_user(), reason)

    def rollback(self, name: str, alias: str, reason: str) -> dict[str, Any]:
        return wire.version_json(
            self.services.registry.rollback_alias(name, alias, local_user(), reason)
        )

    def trust(self, name: str, version: int, reason: str) -> dict[str, Any]:
        return wire.version_json(self.services.registry.trust(name, version, local_user(), reason))

    def propose(self, name: str, version: int, body: dict[str, Any]) -> dict[str, Any]:
        found = self.services.promotions.propose(
            name,
            version,
            body["stage"],
            rules=body["rules"],
            alias=body["alias"],
            reason=body["reason"],
            user=local_user(),
        )
        return wire.promotion_json(found)

    def decide(self, promotion_id: int, approve: bool, comment: str) -> dict[str, Any]:
        found = self.services.promotions.decide(promotion_id, approve, comment, local_user())
        return wire.promotion_json(found)

    def promotions(self, name: str) -> list[dict[str, Any]]:
        return [wire.promotion_json(p) for p in self.services.promotions.of_model(name)]

    def models(self) -> list[dict[str, Any]]:
        found, _token = self.services.registry.search_models(None, None, 1000, None)
        return [wire.model_json(m) for m in found]

    def history(self, name: str) -> list[dict[str, Any]]:
        from dataclasses import asdict

        return [asdict(e) for e in self.services.registry.history(name)]

    def run_listing(self, run_id: str, path: str) -> Any:
        return [wire.artifact_json(a) for a in self.services.tracking.list_artifacts(run_id, path)]

    def run_file(self, run_id: str, path: str) -> Iterator[bytes]:
        return embedded.chunks(self.services.tracking.open_artifact(run_id, path))

    def blob(self, digest: str) -> Iterator[bytes]:
        return embedded.chunks(self.services.stores.artifacts.content.open(digest))

    def http(self) -> HttpBackend:
        raise InvalidState(
            f"{self.uri} is an embedded store: raw REST calls need a running `modelyard server`"
        )

    def close(self) -> None:
        if self._services is not None:
            embedded.release(self._services)
            self._services = None


def models_api(uri: str) -> ModelsApi:
    """The registry at ``uri``: a server's REST API, or the embedded store's services."""
    from modelyard.tracking.client import is_http

    return HttpModels(uri) if is_http(uri) else LocalModels(uri)
