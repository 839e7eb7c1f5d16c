"""A saved view of an experiment's runs page: a name for the page's URL query string."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class SavedView:
    id: int
    experiment_id: int
    name: str
    query: str  # the runs page's query string, without "?" (filter, columns, sort, ...)
    owner: str
    created_at: int
    updated_at: int

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "experiment_id": self.experiment_id,
            "name": self.name,
            "query": self.query,
            "owner": self.owner,
            "created_at": self.created_at,
            "updated_at": self.updated_at,
        }
