"""``my.datasets``: versioned datasets with schema, profile and run lineage.

v = my.datasets.register("churn-train", df)          # pandas, polars, Arrow, file, folder
my.datasets.log_input("churn-train", v["version"])   # the active run read it
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from modelyard.datasets.client import DatasetRegistry

__all__ = ["download", "get", "log_input", "log_output", "register"]


def _registry() -> DatasetRegistry:
    from modelyard.datasets.client import DatasetRegistry
    from modelyard.tracking import fluent

    return DatasetRegistry(fluent.get_tracking_uri())


def register(name: str, data: Any, **options: Any) -> dict[str, Any]:
    """Register ``data`` as the next version of ``name`` (or return the one with its content)."""
    with _registry() as registry:
        return registry.register(name, data, **options)


def get(name: str, version: int | str = "latest") -> dict[str, Any]:
    with _registry() as registry:
        return registry.get(name, version)


def download(name: str, version: int | str, dest: str | Path) -> Path:
    with _registry() as registry:
        return registry.download(name, version, dest)


def _log(direction: str, name: str, version: int | None, context: str) -> dict[str, Any]:
    from modelyard.tracking import fluent

    run = fluent.active_run()
    if run is None:
        raise RuntimeError("no active run: start one with my.start_run() first")
    run.flush()
    with _registry() as registry:
        number = version if version is not None else int(registry.get(name)["version"])
        return registry.log_use(run.id, name, number, direction, context)


def log_input(name: str, version: int | None = None, context: str = "training") -> dict[str, Any]:
    """Record that the active run read this dataset version (the newest by default)."""
    return _log("input", name, version, context)


def log_output(name: str, version: int | None = None, context: str = "") -> dict[str, Any]:
    """Record that the active run wrote this dataset version."""
    return _log("output", name, version, context)
