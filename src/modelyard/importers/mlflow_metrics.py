"""A run's metric history from MLflow as one import's batches: its own points, and the points
it logged for logged models (MLflow 3), which modelyard keeps with the models too.

MLflow returns a point logged with a ``model_id`` twice: in the run's history (without the
model) and in the model's ``metrics`` (with the run). A modelyard batch adds its
``model_metrics`` to the run's series itself, so those points are taken out of the run's own
points, or the run would hold them twice.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from typing import Any

from modelyard.tracking.batches import MAX_MODEL_METRICS


def _value(value: float) -> float | str:
    return "nan" if math.isnan(value) else value


def split_history(
    history: Sequence[Any], model_points: Sequence[Any]
) -> tuple[list[Any], list[Any]]:
    """(the run's own points, the model points) of one key, each point once.

    Model points are matched to history points by step, time and value, then (a value MLflow
    stores differently for models, such as NaN as 0) by step and time; a model point with no
    match is kept anyway.
    """
    left = list(history)
    unmatched: list[Any] = []
    for exact in (True, False):
        todo, unmatched = (model_points if exact else unmatched), []
        index: dict[tuple[Any, ...], list[int]] = {}
        for i, m in enumerate(left):
            key = (m.step, m.timestamp, _value(m.value)) if exact else (m.step, m.timestamp)
            index.setdefault(key, []).append(i)
        taken: set[int] = set()
        for p in todo:
            key = (p.step, p.timestamp, _value(p.value)) if exact else (p.step, p.timestamp)
            slots = index.get(key)
            if slots:
                taken.add(slots.pop())
            else:
                unmatched.append(p)
        left = [m for i, m in enumerate(left) if i not in taken]
    return left, list(model_points)


def model_metric_json(point: Any) -> dict[str, Any]:
    """One MLflow model metric as a batch's ``model_metrics`` entry."""
    return {
        "model_id": point.model_id,
        "key": point.key,
        "value": float(point.value),
        "step": int(point.step or 0),
        "timestamp": int(point.timestamp),
        "dataset_name": point.dataset_name or None,
        "dataset_digest": point.dataset_digest or None,
    }


def chunks(items: Sequence[Any], size: int = MAX_MODEL_METRICS) -> Iterable[Sequence[Any]]:
    """``items`` in pieces a batch takes (at least one piece, maybe empty)."""
    yield items[:size]
    for start in range(size, len(items), size):
        yield items[start : start + size]
