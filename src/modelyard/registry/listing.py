"""Searching registry objects in memory: the fields each kind answers to, filters, pages."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, TypeVar

from modelyard.errors import InvalidInput
from modelyard.registry.entities import LoggedModel
from modelyard.store.metadata import run_search
from modelyard.tracking import memory_search
from modelyard.tracking.entities import ModelMetric
from modelyard.tracking.search import Field

T = TypeVar("T")

LOGGED_MODELS = memory_search.Searchable(
    "logged models",
    {
        "name": "name",
        "id": "id",
        "model_id": "id",
        "run_id": "run_id",
        "source_run_id": "run_id",
        "status": "status",
        "model_type": "model_type",
        "created_at": "created_at",
        "creation_timestamp": "created_at",
        "creation_time": "created_at",
        "last_updated_timestamp": "updated_at",
        "experiment_id": "experiment_id",
    },
    frozenset({"created_at", "updated_at", "experiment_id"}),
)
MODELS = memory_search.Searchable(
    "registered models",
    {
        "name": "name",
        "description": "description",
        "created_at": "created_at",
        "creation_timestamp": "created_at",
        "updated_at": "updated_at",
        "last_updated_timestamp": "updated_at",
        "timestamp": "updated_at",
    },
    frozenset({"created_at", "updated_at"}),
)
VERSIONS = memory_search.Searchable(
    "model versions",
    {
        "name": "name",
        "version": "version",
        "version_number": "version",
        "run_id": "run_id",
        "source": "source",
        "source_path": "source",
        "stage": "stage",
        "current_stage": "stage",
        "created_at": "created_at",
        "creation_timestamp": "created_at",
        "updated_at": "updated_at",
        "last_updated_timestamp": "updated_at",
    },
    frozenset({"version", "created_at", "updated_at"}),
)


def only(items: list[T], readable: set[str] | None, key: Callable[[T], str]) -> list[T]:
    """The items whose ``key`` is in ``readable`` (all of them when it is None): a listing
    filtered before it is searched and paged, so nothing else shows in names or counts."""
    return items if readable is None else [i for i in items if key(i) in readable]


DatasetRef = tuple[str, str | None]  # (name, digest or None for any digest)


def _on(point: ModelMetric, datasets: Sequence[DatasetRef] | None) -> bool:
    if not datasets:
        return True
    return any(
        point.dataset_name == name and digest in (None, point.dataset_digest)
        for name, digest in datasets
    )


def latest_metric(
    model: LoggedModel, key: str, datasets: Sequence[DatasetRef] | None = None
) -> float | None:
    """A logged model's latest value of a metric (by time, then step), as MLflow orders by it;
    with ``datasets``, only points measured on one of them."""
    points = [p for p in model.metrics if p.key == key and _on(p, datasets)]
    if not points:
        return None
    return max(points, key=lambda p: (p.timestamp, p.step)).value


def value_reader(datasets: Sequence[DatasetRef] | None = None) -> memory_search.ValueOf[Any]:
    """Attributes and tags; logged models have params and metrics too (enums are strings)."""

    def value_of(item: Any, f: Field) -> Any:
        if f.kind == "param" and isinstance(item, LoggedModel):
            return item.params.get(f.key)
        if f.kind == "metric" and isinstance(item, LoggedModel):
            return latest_metric(item, f.key, datasets)
        return memory_search.attribute_or_tag(item, f)

    return value_of


def search(
    items: list[Any],
    searchable: memory_search.Searchable,
    filter: str | None,
    order_by: Sequence[str] | None,
    max_results: int,
    page_token: str | None,
    datasets: Sequence[DatasetRef] | None = None,
) -> tuple[list[Any], str | None]:
    """One page of the items that match ``filter``, in ``order_by`` order, and the next token.

    ``datasets`` (logged models): only models with a metric measured on one of them, and
    metrics read from those points only.
    """
    if max_results < 1:
        raise InvalidInput("max_results must be a positive integer", field="max_results")
    expr, order = searchable.parse(filter, order_by)
    offset = run_search.decode_page_token(page_token)
    _value_of = value_reader(datasets)
    if datasets:
        items = [i for i in items if any(_on(p, datasets) for p in getattr(i, "metrics", []))]
    found = [i for i in items if memory_search.matches(expr, i, _value_of)]
    page, nxt = memory_search.page(memory_search.sort(found, order, _value_of), offset, max_results)
    return page, None if nxt is None else run_search.encode_page_token(nxt)
