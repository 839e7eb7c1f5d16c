"""Typed objects of the datasets domain."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any


class Direction(StrEnum):
    INPUT = "input"  # the run read it
    OUTPUT = "output"  # the run wrote it


@dataclass(slots=True)
class DatasetVersion:
    name: str
    version: int
    digest: str  # sha256 over the sorted (path, sha256) pairs: the same content, the same digest
    source: str
    num_rows: int | None
    num_files: int
    size_bytes: int
    schema: list[dict[str, Any]]
    profile: dict[str, Any]  # per column: type, missing, min/max/mean/std, quantiles, histogram
    description: str
    tags: dict[str, str]
    user: str
    created_at: int
    deleted_at: int | None = None  # its files were released (lineage and profile stay)


@dataclass(slots=True)
class Dataset:
    name: str
    description: str
    user: str
    created_at: int
    versions: int  # how many versions exist


@dataclass(slots=True)
class DatasetUse:
    """One lineage edge: a run read or wrote a dataset version."""

    run_id: str
    name: str
    version: int
    direction: Direction
    context: str = ""
    digest: str = field(default="")
    tags: dict[str, str] = field(default_factory=dict)  # the input's own tags (MLflow's)
