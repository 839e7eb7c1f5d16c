"""Bodies of the saved-view routes, named by direction. Values are checked by the domain
(tracking/views.py), so a bad one gets its INVALID_PARAMETER_VALUE naming the field."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field


class _In(BaseModel):
    model_config = ConfigDict(extra="forbid")


class SavedViewIn(_In):
    name: Any = Field(description="1 to 200 characters, unique in the experiment")
    query: Any = Field("", description="the runs page's URL query string (at most 8 KiB)")


class SavedViewUpdateIn(_In):
    name: Any = None
    query: Any = None


class SavedViewOut(BaseModel):
    id: int
    experiment_id: int
    name: str
    query: str
    owner: str
    created_at: int
    updated_at: int
