"""Request bodies of the alert routes, named by direction (In).

Values the alerts service checks (window, op, threshold, channels...) are passed on as sent, so
a bad one gets the service's INVALID_PARAMETER_VALUE with ``details.field`` naming it.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field


class _In(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)


class AlertRuleIn(_In):
    name: str
    deployment: str
    metric: Any = Field(description="a monitoring figure, or drift_score:COLUMN")
    window: Any = Field(description='"30s", "5m", "1h", "1d" or seconds')
    op: Any = Field(description=">, >=, < or <=")
    threshold: Any = Field(description="a finite number")
    for_: Any = Field(0, alias="for", description="seconds the condition must hold first")
    channels: Any = Field(
        default_factory=list, description="[{type: webhook|slack, url} | {type: email, to}]"
    )
    action: Any = Field(None, description='"rollback", or null')
    enabled: Any = True


class AlertRuleUpdateIn(_In):
    name: Any = None
    deployment: Any = None
    metric: Any = None
    window: Any = None
    op: Any = None
    threshold: Any = None
    for_: Any = Field(None, alias="for")
    channels: Any = None
    action: Any = None
    enabled: Any = None

    def changes(self) -> dict[str, Any]:
        """The fields the caller sent, by their JSON names."""
        return self.model_dump(by_alias=True, exclude_unset=True)


class SilenceIn(_In):
    minutes: Any = Field(description="how long no notification is sent (at most 30 days)")
