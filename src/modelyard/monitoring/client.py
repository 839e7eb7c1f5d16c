"""The monitoring SDK's backends: the REST API of a server, or the service in process.

Both answer with the same JSON shapes.
"""

from __future__ import annotations

from typing import Any, Protocol

from modelyard import embedded
from modelyard.tracking.http import PooledApi, quote_part

BATCH_ROWS = 50_000  # rows (or labels) sent in one request


class MonitoringApi(Protocol):
    def log_predictions(self, name: str, body: dict[str, Any]) -> dict[str, Any]: ...
    def add_labels(self, name: str, labels: list[dict[str, Any]]) -> dict[str, Any]: ...
    def quality(self, name: str, params: dict[str, Any]) -> dict[str, Any]: ...
    def health(self, name: str, params: dict[str, Any]) -> dict[str, Any]: ...
    def drift(self, name: str, params: dict[str, Any]) -> dict[str, Any]: ...
    def report(self, name: str, params: dict[str, Any]) -> str: ...
    def overview(self, window: str) -> list[dict[str, Any]]: ...
    def close(self) -> None: ...


class HttpMonitoring(PooledApi):
    """Monitoring on a modelyard server, over the process's shared pool."""

    def _path(self, name: str, what: str) -> str:
        return f"/monitoring/deployments/{quote_part(name)}/{what}"

    def log_predictions(self, name: str, body: dict[str, Any]) -> dict[str, Any]:
        found: dict[str, Any] = self.backend.call("POST", self._path(name, "predictions"), body)
        return found

    def add_labels(self, name: str, labels: list[dict[str, Any]]) -> dict[str, Any]:
        found: dict[str, Any] = self.backend.call(
            "POST", self._path(name, "labels"), {"labels": labels}
        )
        return found

    def _get(self, name: str, what: str, params: dict[str, Any]) -> dict[str, Any]:
        clean = {k: v for k, v in params.items() if v is not None}
        found: dict[str, Any] = self.backend.call(
            "GET", self._path(name, what), None, params=clean or None
        )
        return found

    def quality(self, name: str, params: dict[str, Any]) -> dict[str, Any]:
        return self._get(name, "quality", params)

    def health(self, name: str, params: dict[str, Any]) -> dict[str, Any]:
        return self._get(name, "health", params)

    def drift(self, name: str, params: dict[str, Any]) -> dict[str, Any]:
        return self._get(name, "drift", params)

    def report(self, name: str, params: dict[str, Any]) -> str:
        from urllib.parse import urlencode

        query = urlencode({k: v for k, v in params.items() if v is not None})
        path = self._path(name, "report") + (f"?{query}" if query else "")
        return b"".join(self.backend.download(path)).decode()

    def overview(self, window: str) -> list[dict[str, Any]]:
        found: list[dict[str, Any]] = self.backend.call(
            "GET", "/monitoring/deployments", None, params={"window": window}
        )["deployments"]
        return found


class LocalMonitoring:
    """Monitoring of an embedded store: the service in this process, no HTTP."""

    def __init__(self, uri: str) -> None:
        from modelyard import config
        from modelyard.monitoring.service import MonitoringService, monitoring_root
        from modelyard.monitoring.store import MonitoringStore

        self._services: embedded.Services | None = embedded.acquire(uri)
        s = self._services
        store = MonitoringStore(monitoring_root(s.stores.db.url), config.prediction_log_dir())
        self.svc = MonitoringService(store, s.registry, s.datasets, s.deployments)

    def log_predictions(self, name: str, body: dict[str, Any]) -> dict[str, Any]:
        ids = self.svc.log_predictions(
            name, body["columns"], body["data"], body["predictions"],
            model_version=body["model_version"], ids=body.get("ids"), proba=body.get("proba"),
            classes=body.get("classes"),
        )  # fmt: skip
        return {"logged": len(ids), "ids": ids}

    def add_labels(self, name: str, labels: list[dict[str, Any]]) -> dict[str, Any]:
        triples = [(x["request_id"], x.get("row", 0), x["label"]) for x in labels]
        return {"accepted": self.svc.add_labels(name, triples)}

    def quality(self, name: str, params: dict[str, Any]) -> dict[str, Any]:
        from modelyard.monitoring import windows

        return self.svc.quality(
            name, window_s=windows.seconds(params.get("window") or "1h"),
            since_ms=params.get("since"), until_ms=params.get("until"),
            segment=params.get("segment"), version=params.get("version"), task=params.get("task"),
        )  # fmt: skip

    def health(self, name: str, params: dict[str, Any]) -> dict[str, Any]:
        from modelyard.monitoring import windows

        return self.svc.health(
            name, window_s=windows.seconds(params.get("window") or "5m"),
            since_ms=params.get("since"), until_ms=params.get("until"),
            version=params.get("version"),
        )  # fmt: skip

    def _drift_options(self, params: dict[str, Any]) -> dict[str, Any]:
        columns = params.get("columns")
        return {
            "reference": params.get("reference") or "training",
            "reference_since_ms": params.get("reference_since"),
            "reference_until_ms": params.get("reference_until"),
            "since_ms": params.get("since"),
            "until_ms": params.get("until"),
            "version": params.get("version"),
            "columns": [c for c in columns.split(",") if c] if columns else None,
        }

    def drift(self, name: str, params: dict[str, Any]) -> dict[str, Any]:
        return self.svc.drift(name, **self._drift_options(params)).to_json()

    def report(self, name: str, params: dict[str, Any]) -> str:
        return self.svc.report_html(name, **self._drift_options(params))

    def overview(self, window: str) -> list[dict[str, Any]]:
        from modelyard.monitoring import windows
        from modelyard.store.metadata import alerts_repo

        found = self.svc.overview(windows.seconds(window))
        with self.svc.deployments.db.read() as conn:
            for item in found:
                item["alerts_firing"] = alerts_repo.count_active(conn, item["name"])
        return found

    def close(self) -> None:
        if self._services is not None:
            embedded.release(self._services)
            self._services = None


def monitoring_api(uri: str) -> MonitoringApi:
    if uri.startswith(("http://", "https://")):
        return HttpMonitoring(uri)
    return LocalMonitoring(uri)
