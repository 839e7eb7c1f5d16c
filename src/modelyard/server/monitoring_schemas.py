"""Request bodies of /api/v1/monitoring (named by direction, as in schemas.py)."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

Scalar = str | int | float | bool | None


class _In(BaseModel):
    model_config = ConfigDict(extra="forbid")


class PredictionsIn(_In):
    columns: list[str] = Field(min_length=1, max_length=1000, description="the feature names")
    data: list[list[Scalar]] = Field(
        min_length=1, max_length=100_000, description="one list of values per row"
    )
    predictions: list[str | int | float | bool] = Field(description="one per row")
    model_version: int | None = Field(
        None, ge=1, le=2**31 - 1, description="default: the deployment's stable, the newest"
    )
    ids: list[str] | None = Field(None, description="request ids (default: generated)")
    proba: list[list[float]] | None = Field(None, description="class probabilities per row")
    classes: list[str | int | bool] | None = Field(
        None, max_length=1000, description="proba's order"
    )


class LabelIn(_In):
    request_id: str = Field(max_length=128)
    row: int = Field(0, ge=0, le=1_000_000, description="the row's index in its request")
    label: str | int | float | bool


class LabelsIn(_In):
    labels: list[LabelIn] = Field(min_length=1, max_length=100_000)
