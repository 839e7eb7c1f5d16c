"""The Client of a modelyard server: the REST API over the process's shared pool."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from modelyard.tracking import transfer
from modelyard.tracking.client import Client, resolve_uri
from modelyard.tracking.entities import (
    Experiment,
    Lifecycle,
    MetricSummary,
    Run,
    RunPage,
    RunStatus,
)
from modelyard.tracking.http import pools, quote_part


def _run_from_json(d: dict[str, Any]) -> Run:
    return Run(
        id=d["id"],
        experiment_id=d["experiment_id"],
        name=d["name"],
        status=RunStatus(d["status"]),
        start_time=d["start_time"],
        end_time=d["end_time"],
        parent_id=d["parent_id"],
        user=d["user"],
        notes=d["notes"],
        lifecycle=Lifecycle(d["lifecycle"]),
        params=d["params"],
        tags=d["tags"],
        metrics={k: MetricSummary.from_json(k, m) for k, m in d["metrics"].items()},
    )


def _experiment_from_json(d: dict[str, Any]) -> Experiment:
    return Experiment(
        id=d["id"],
        name=d["name"],
        description=d["description"],
        lifecycle=Lifecycle(d["lifecycle"]),
        created_at=d["created_at"],
        updated_at=d["updated_at"],
        tags=d["tags"],
    )


class HttpClient(Client):
    """The client of a modelyard server."""

    def __init__(self, uri: str | None = None) -> None:
        self.uri = resolve_uri(uri)
        self.backend = pools.acquire(self.uri)  # one pool per server, shared by the SDK
        self._closed = False

    # experiments
    def create_experiment(
        self, name: str, description: str = "", tags: dict[str, str] | None = None
    ) -> Experiment:
        body = {"name": name, "description": description, "tags": tags or {}}
        return _experiment_from_json(self.backend.call("POST", "/experiments", body))

    def get_experiment(self, experiment_id: int) -> Experiment:
        return _experiment_from_json(self.backend.call("GET", f"/experiments/{experiment_id}"))

    def get_experiment_by_name(self, name: str) -> Experiment:
        return _experiment_from_json(
            self.backend.call("GET", f"/experiments/by-name/{quote_part(name)}")
        )

    def list_experiments(self, view: str = "active") -> list[Experiment]:
        rows = self.backend.call("GET", "/experiments", params={"view": view})
        return [_experiment_from_json(e) for e in rows]

    def delete_experiment(self, experiment_id: int) -> Experiment:
        return _experiment_from_json(self.backend.call("DELETE", f"/experiments/{experiment_id}"))

    def restore_experiment(self, experiment_id: int) -> Experiment:
        return _experiment_from_json(
            self.backend.call("POST", f"/experiments/{experiment_id}/restore")
        )

    # runs
    def get_run(self, run_id: str) -> Run:
        return _run_from_json(self.backend.call("GET", f"/runs/{run_id}"))

    def delete_run(self, run_id: str) -> None:
        self.backend.call("DELETE", f"/runs/{run_id}")

    def restore_run(self, run_id: str) -> None:
        self.backend.call("POST", f"/runs/{run_id}/restore")

    def search_runs(
        self,
        experiment_ids: list[int] | None = None,
        filter: str | None = None,
        order_by: list[str] | None = None,
        max_results: int = 1000,
        page_token: str | None = None,
        view: str = "active",
    ) -> RunPage:
        body = {
            "experiment_ids": experiment_ids,
            "filter": filter,
            "order_by": order_by or [],
            "max_results": max_results,
            "page_token": page_token,
            "view": view,
        }
        page = self.backend.call("POST", "/runs/search", body)
        return RunPage([_run_from_json(r) for r in page["runs"]], page["next_page_token"])

    def metric_history(
        self, run_id: str, key: str, max_points: int | None = None
    ) -> dict[str, Any]:
        params: dict[str, Any] = {"key": key}
        if max_points is not None:
            params["max_points"] = max_points
        data: dict[str, Any] = self.backend.call(
            "GET", f"/runs/{run_id}/metrics/history", params=params
        )
        data["values"] = [float(v) for v in data["values"]]
        return data

    def ingest(self, batches: list[dict[str, Any]]) -> dict[str, int]:
        result: dict[str, int] = self.backend.call("POST", "/ingest", {"batches": batches})
        return result

    # artifacts
    def log_artifact(
        self, run_id: str, local_path: str | Path, artifact_path: str | None = None
    ) -> int:
        local = Path(local_path)
        target = artifact_path or local.name
        if local.stat().st_size > transfer.PACK_MEMBER_MAX:  # sent only if new; big ones in parts
            self.log_artifacts(run_id, {target: local})
            return local.stat().st_size
        with local.open("rb") as handle:
            result = self.backend.upload(f"/runs/{run_id}/artifacts/{target}", handle)
        return int(result["size"])

    def log_artifacts(self, run_id: str, files: dict[str, Path]) -> int:
        sent = transfer.Uploader(self.backend).upload(files)
        body = {"files": {name: f.digest for name, f in sent.items()}}
        linked: int = self.backend.call("POST", f"/runs/{run_id}/artifacts", body)["linked"]
        return linked

    def list_artifacts(self, run_id: str, path: str = "") -> list[dict[str, Any]]:
        rows: list[dict[str, Any]] = self.backend.call(
            "GET", f"/runs/{run_id}/artifacts", params={"path": path}
        )
        return rows

    def download_artifact(self, run_id: str, path: str, dest: str | Path) -> Path:
        out = Path(dest)
        out.parent.mkdir(parents=True, exist_ok=True)
        with out.open("wb") as handle:
            for chunk in self.backend.download(f"/runs/{run_id}/artifacts/{path}"):
                handle.write(chunk)
        return out

    def gc(self, older_than_seconds: float = 0.0, dry_run: bool = True) -> dict[str, Any]:
        body = {"older_than_seconds": older_than_seconds, "dry_run": dry_run}
        report: dict[str, Any] = self.backend.call("POST", "/gc", body)
        return report

    def close(self) -> None:
        if not self._closed:
            self._closed = True
            pools.release(self.uri)
