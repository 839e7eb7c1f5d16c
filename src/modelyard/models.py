"""``my.models``: package, register and load models (see modelyard.registry.client).

v = my.models.log(clf, "churn", input_example=x[:5], aliases=["challenger"])
model = my.models.load("models:/churn@champion")
"""

from __future__ import annotations

from typing import Any

from modelyard.registry.client import ModelRegistry

__all__ = ["ModelRegistry", "load", "log", "set_alias", "trust"]


def _registry() -> ModelRegistry:
    from modelyard.tracking import fluent

    return ModelRegistry(fluent.get_tracking_uri())


def log(model: Any, name: str, **options: Any) -> dict[str, Any]:
    """Register ``model`` as the next version of ``name`` (in the active run, if any)."""
    from modelyard.tracking import fluent

    run = fluent.active_run()
    if run is not None:
        run.flush()
        options.setdefault("run_id", run.id)
    with _registry() as registry:
        return registry.log(model, name, **options)


def load(uri: str, *, trusted: bool = False) -> Any:
    """Load ``models:/NAME@ALIAS``, ``models:/NAME/N`` or ``runs:/RUN/path``."""
    with _registry() as registry:
        return registry.load(uri, trusted=trusted)


def set_alias(name: str, alias: str, version: int, reason: str = "") -> None:
    with _registry() as registry:
        registry.set_alias(name, alias, version, reason)


def trust(name: str, version: int, reason: str) -> dict[str, Any]:
    """Record that this version may load although its format can run code."""
    with _registry() as registry:
        return registry.trust(name, version, reason)
