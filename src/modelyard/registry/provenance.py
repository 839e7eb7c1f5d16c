"""Where versions came from and how they differ: history, lineage, comparison."""

from __future__ import annotations

from typing import Any

from modelyard.registry.entities import RegistryEvent
from modelyard.registry.part import RegistryPart
from modelyard.store.metadata import datasets_repo, registry_repo, runs_repo


class Provenance(RegistryPart):
    def history(self, name: str) -> list[RegistryEvent]:
        """Every change to the model (kept after it is deleted), oldest first."""
        with self.db.read() as conn:
            return registry_repo.history(conn, name)

    def lineage(self, name: str, version: int) -> dict[str, Any]:
        """Where a version came from: its run (code commit, params, metrics) and the dataset
        versions that run read and wrote."""
        with self.db.read() as conn:
            found = registry_repo.get_version(conn, name, version)
            run = runs_repo.get(conn, found.run_id) if found.run_id is not None else None
            uses = datasets_repo.uses(conn, run_ids=[run.id]) if run is not None else []
        out: dict[str, Any] = {
            "name": found.name,
            "version": found.version,
            "source": found.source,
            "package_digest": found.package_digest,
            "run": None,
            "datasets": [],
        }
        if run is None:
            return out
        out["run"] = {
            "id": run.id,
            "name": run.name,
            "experiment_id": run.experiment_id,
            "status": run.status.value,
            "git_commit": run.tags.get("my.git.commit"),
            "git_branch": run.tags.get("my.git.branch"),
            "params": run.params,
            "metrics": {k: m.last for k, m in run.metrics.items()},
        }
        out["datasets"] = [
            {
                "name": u.name,
                "version": u.version,
                "digest": u.digest,
                "direction": u.direction.value,
                "context": u.context,
            }
            for u in uses
        ]
        return out

    def compare(self, name: str, a: int, b: int) -> dict[str, Any]:
        """What differs between two versions: params, metrics, signature, dependencies."""
        runs: list[Any] = []
        with self.db.read() as conn:
            va, vb = (
                registry_repo.get_version(conn, name, a),
                registry_repo.get_version(conn, name, b),
            )
            for ver in (va, vb):
                runs.append(runs_repo.get(conn, ver.run_id) if ver.run_id else None)
        params = [r.params if r else {} for r in runs]
        metrics = [{k: m.last for k, m in r.metrics.items()} if r else {} for r in runs]
        packages: list[dict[str, Any]] = [dict(ver.package or {}) for ver in (va, vb)]
        return {
            "a": a,
            "b": b,
            "params": _diff(params[0], params[1]),
            "metrics": _diff(metrics[0], metrics[1]),
            "signature": _diff(
                packages[0].get("signature") or {}, packages[1].get("signature") or {}
            ),
            "dependencies": _diff(
                packages[0].get("dependencies") or {}, packages[1].get("dependencies") or {}
            ),
            "flavor": [packages[0].get("flavor"), packages[1].get("flavor")],
        }


def _diff(a: dict[str, Any], b: dict[str, Any]) -> dict[str, list[Any]]:
    """key -> [value in a, value in b] for every key whose values differ (None: absent)."""
    return {k: [a.get(k), b.get(k)] for k in sorted(set(a) | set(b)) if a.get(k) != b.get(k)}
