"""A run's history split into its own points and the points it logged for logged models."""

from __future__ import annotations

import math
from dataclasses import dataclass

from modelyard.importers.mlflow_metrics import chunks, split_history


@dataclass
class Point:
    step: int
    timestamp: int
    value: float
    key: str = "acc"


def test_points_for_models_leave_the_run_s_own_points_once() -> None:
    history = [Point(0, 10, 0.5), Point(1, 20, 0.6), Point(1, 20, 0.6), Point(2, 30, 0.7)]
    for_models = [Point(1, 20, 0.6), Point(2, 30, 0.7)]
    own, kept = split_history(history, for_models)
    assert own == [Point(0, 10, 0.5), Point(1, 20, 0.6)]
    assert kept == for_models


def test_a_value_mlflow_stores_differently_for_models_matches_by_step_and_time() -> None:
    # MLflow keeps a model's NaN as 0.0, the run's as NaN
    own, kept = split_history([Point(0, 10, math.nan), Point(1, 11, 1.0)], [Point(0, 10, 0.0)])
    assert own == [Point(1, 11, 1.0)]
    assert kept == [Point(0, 10, 0.0)]


def test_a_point_for_a_model_missing_from_the_history_is_kept() -> None:
    own, kept = split_history([Point(0, 10, 1.0)], [Point(5, 50, 2.0)])
    assert own == [Point(0, 10, 1.0)]
    assert kept == [Point(5, 50, 2.0)]


def test_chunks_fit_a_batch() -> None:
    assert [len(c) for c in chunks(list(range(2500)), 1000)] == [1000, 1000, 500]
    assert [len(c) for c in chunks([], 1000)] == [0]
