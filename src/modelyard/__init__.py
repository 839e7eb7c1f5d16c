"""modelyard: track, version, serve and monitor machine-learning models.

The SDK (``import modelyard as my``) loads its parts lazily so importing stays cheap.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

__all__ = [
    "ActiveRun",
    "Client",
    "__version__",
    "active_run",
    "create_experiment",
    "datasets",
    "deployments",
    "end_run",
    "flush",
    "get_run",
    "get_tracking_uri",
    "log_artifact",
    "log_artifacts",
    "log_image",
    "log_metric",
    "log_metrics",
    "log_param",
    "log_params",
    "models",
    "monitoring",
    "search_runs",
    "set_experiment",
    "set_tag",
    "set_tags",
    "set_tracking_uri",
    "start_run",
]

_LAZY = {name: "modelyard.tracking.fluent" for name in __all__ if name != "__version__"}
_LAZY["models"] = _LAZY["datasets"] = _LAZY["deployments"] = _LAZY["monitoring"] = (
    "modelyard"  # submodules themselves
)
_LAZY["log_image"] = "modelyard.tracking.images"
_LAZY["Client"] = "modelyard.tracking.clients"  # the factory client_for, named Client
_RENAMED = {"Client": "client_for"}

if TYPE_CHECKING:
    from modelyard.tracking.clients import client_for as Client
    from modelyard.tracking.fluent import (
        ActiveRun,
        active_run,
        create_experiment,
        end_run,
        flush,
        get_run,
        get_tracking_uri,
        log_artifact,
        log_artifacts,
        log_metric,
        log_metrics,
        log_param,
        log_params,
        search_runs,
        set_experiment,
        set_tag,
        set_tags,
        set_tracking_uri,
        start_run,
    )
    from modelyard.tracking.images import log_image


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'modelyard' has no attribute {name!r}")
    import importlib

    if module == "modelyard":
        return importlib.import_module(f"modelyard.{name}")
    value = getattr(importlib.import_module(module), _RENAMED.get(name, name))
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(__all__)
