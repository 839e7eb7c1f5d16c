"""Request bodies of the registry's edit routes (each change carries the reason the history keeps)."""

from __future__ import annotations

from pydantic import Field

from modelyard.server.schemas import _In


class ModelUpdateIn(_In):
    description: str | None = None
    reason: str = ""


class TagReasonIn(_In):
    value: str
    reason: str = ""


class RunModelIn(_In):
    run_id: str = Field(description="the run whose artifacts hold the model folder")
    path: str = Field("", description="the model folder (holds MLmodel or modelyard.json)")
    description: str = ""


class LoggedModelRegisterIn(_In):
    model_id: str = Field(description="the logged model (m- and 32 hex characters)")
    description: str = ""
