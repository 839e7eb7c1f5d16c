"""The Client on the embedded store: a thin adapter onto TrackingService, no HTTP."""

from __future__ import annotations

import time
from dataclasses import asdict
from pathlib import Path
from typing import Any

from modelyard import embedded, wire
from modelyard.tracking.batches import parse_batches
from modelyard.tracking.client import Client, resolve_uri
from modelyard.tracking.entities import Experiment, Run, RunPage, ViewType
from modelyard.users import local_user


class LocalClient(Client):
    """Calls the process's shared TrackingService of the store (one writer per store)."""

    def __init__(self, uri: str | None = None) -> None:
        self.uri = resolve_uri(uri)
        self._services: embedded.Services | None = embedded.acquire(self.uri)
        self.service = self._services.tracking

    def create_experiment(
        self, name: str, description: str = "", tags: dict[str, str] | None = None
    ) -> Experiment:
        return self.service.create_experiment(name, description, tags)

    def get_experiment(self, experiment_id: int) -> Experiment:
        return self.service.get_experiment(experiment_id)

    def get_experiment_by_name(self, name: str) -> Experiment:
        return self.service.get_experiment_by_name(name)

    def list_experiments(self, view: str = "active") -> list[Experiment]:
        return self.service.list_experiments(ViewType(view))

    def delete_experiment(self, experiment_id: int) -> Experiment:
        return self.service.delete_experiment(experiment_id)

    def restore_experiment(self, experiment_id: int) -> Experiment:
        return self.service.restore_experiment(experiment_id)

    def get_run(self, run_id: str) -> Run:
        return self.service.get_run(run_id)

    def delete_run(self, run_id: str) -> None:
        self.service.delete_run(run_id)

    def restore_run(self, run_id: str) -> None:
        self.service.restore_run(run_id)

    def search_runs(
        self,
        experiment_ids: list[int] | None = None,
        filter: str | None = None,
        order_by: list[str] | None = None,
        max_results: int = 1000,
        page_token: str | None = None,
        view: str = "active",
    ) -> RunPage:
        return self.service.search_runs(
            experiment_ids, filter, order_by, max_results, page_token, ViewType(view)
        )

    def metric_history(
        self, run_id: str, key: str, max_points: int | None = None
    ) -> dict[str, Any]:
        series, total = self.service.metric_history(run_id, key, max_points=max_points)
        return {
            "key": series.key,
            "steps": series.steps.tolist(),
            "values": series.values.tolist(),
            "timestamps": series.timestamps.tolist(),
            "total": total,
        }

    def ingest(self, batches: list[dict[str, Any]]) -> dict[str, int]:
        parsed = parse_batches({"batches": batches}, int(time.time() * 1000))
        result = self.service.ingest(parsed, user=local_user())
        return {"applied": result.applied, "duplicates": result.duplicates, "points": result.points}

    def log_artifact(
        self, run_id: str, local_path: str | Path, artifact_path: str | None = None
    ) -> int:
        local = Path(local_path)
        with local.open("rb") as handle:
            return self.service.log_artifact(run_id, artifact_path or local.name, handle).size

    def log_artifacts(self, run_id: str, files: dict[str, Path]) -> int:
        for name, local in files.items():
            self.log_artifact(run_id, local, name)
        return len(files)

    def list_artifacts(self, run_id: str, path: str = "") -> list[dict[str, Any]]:
        return [wire.artifact_json(a) for a in self.service.list_artifacts(run_id, path)]

    def download_artifact(self, run_id: str, path: str, dest: str | Path) -> Path:
        out = Path(dest)
        out.parent.mkdir(parents=True, exist_ok=True)
        with self.service.open_artifact(run_id, path) as src, out.open("wb") as handle:
            while chunk := src.read(1 << 20):
                handle.write(chunk)
        return out

    def gc(self, older_than_seconds: float = 0.0, dry_run: bool = True) -> dict[str, Any]:
        return asdict(self.service.gc(older_than_seconds, dry_run))

    def close(self) -> None:
        """Release the shared store (it stays open, warm, until exit or long unused)."""
        if self._services is not None:
            embedded.release(self._services)
            self._services = None
