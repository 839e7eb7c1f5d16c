"""What the datasets SDK asks of a store: the REST API of a server, or the services in process."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import asdict
from pathlib import Path
from typing import Any, Protocol

from modelyard import embedded, wire
from modelyard.tracking.http import PooledApi, quote_part
from modelyard.users import local_user


class DatasetsApi(Protocol):
    """The dataset calls ``DatasetRegistry`` needs, as JSON-shaped answers."""

    def put_files(self, files: dict[str, Path]) -> dict[str, str]: ...
    def register(self, name: str, body: dict[str, Any]) -> dict[str, Any]: ...
    def get(self, name: str, version: int | str, *, files: bool) -> dict[str, Any]: ...
    def blob(self, digest: str) -> Iterator[bytes]: ...
    def log_use(self, run_id: str, body: dict[str, Any]) -> dict[str, Any]: ...
    def close(self) -> None: ...


class HttpDatasets(PooledApi):
    """The datasets of a modelyard server, over the process's shared pool."""

    def register(self, name: str, body: dict[str, Any]) -> dict[str, Any]:
        found: dict[str, Any] = self.backend.call(
            "POST", f"/datasets/{quote_part(name)}/versions", body
        )
        return found

    def get(self, name: str, version: int | str, *, files: bool) -> dict[str, Any]:
        params = {"files": "true"} if files else None
        found: dict[str, Any] = self.backend.call(
            "GET", f"/datasets/{quote_part(name)}/versions/{version}", params=params
        )
        return found

    def log_use(self, run_id: str, body: dict[str, Any]) -> dict[str, Any]:
        found: dict[str, Any] = self.backend.call("POST", f"/runs/{run_id}/datasets", body)
        return found


class LocalDatasets:
    """The datasets of an embedded store: the services of this process, no HTTP."""

    def __init__(self, uri: str) -> None:
        self._services: embedded.Services | None = embedded.acquire(uri)
        self.services = self._services

    def put_files(self, files: dict[str, Path]) -> dict[str, str]:
        return embedded.put_files(self.services, files)

    def register(self, name: str, body: dict[str, Any]) -> dict[str, Any]:
        version, created = self.services.datasets.register(
            name,
            body["files"],
            source=body["source"],
            num_rows=body.get("num_rows"),
            schema=body.get("schema"),
            profile=body.get("profile"),
            description=body["description"],
            tags=body["tags"],
            user=local_user(),
        )
        return {**asdict(version), "created": created}

    def get(self, name: str, version: int | str, *, files: bool) -> dict[str, Any]:
        from modelyard.tracking.validation import plain_int

        svc = self.services.datasets
        number = None if version == "latest" else plain_int(str(version), "version")
        found = svc.get_version(name, number)
        out = asdict(found)
        if files:
            out["files"] = wire.files_json(svc.files(name, found.version))
        return out

    def blob(self, digest: str) -> Iterator[bytes]:
        return embedded.chunks(self.services.stores.artifacts.content.open(digest))

    def log_use(self, run_id: str, body: dict[str, Any]) -> dict[str, Any]:
        use = self.services.datasets.log_use(
            run_id, body["name"], body["version"], body["direction"], body["context"]
        )
        return wire.use_json(use)

    def close(self) -> None:
        if self._services is not None:
            embedded.release(self._services)
            self._services = None


def datasets_api(uri: str) -> DatasetsApi:
    """The datasets at ``uri``: a server's REST API, or the embedded store's services."""
    from modelyard.tracking.client import is_http

    return HttpDatasets(uri) if is_http(uri) else LocalDatasets(uri)
