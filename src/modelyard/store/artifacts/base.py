"""The artifact store interface: a small ABC with one file per backend, picked by URI scheme."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterator
from dataclasses import dataclass
from typing import BinaryIO


@dataclass(frozen=True, slots=True)
class ArtifactInfo:
    path: str  # relative to the listed prefix's owner (e.g. the run)
    is_dir: bool
    size: int | None


class ArtifactStore(ABC):
    """Stores files under keys such as ``runs/<run_id>/model/model.skops``."""

    uri: str

    @abstractmethod
    def put(self, key: str, stream: BinaryIO) -> int:
        """Write a stream to ``key`` atomically; returns the byte count."""

    @abstractmethod
    def open(self, key: str) -> BinaryIO:
        """Open ``key`` for reading; NotFound when missing."""

    @abstractmethod
    def list(self, prefix: str) -> list[ArtifactInfo]:
        """Direct children of a folder key, with paths relative to ``prefix``."""

    @abstractmethod
    def walk(self, prefix: str) -> Iterator[str]:
        """Every file key under ``prefix``."""

    @abstractmethod
    def delete_prefix(self, prefix: str) -> int:
        """Delete everything under ``prefix`` (or the file ``prefix``); returns the file count."""

    @abstractmethod
    def size_of_prefix(self, prefix: str) -> int:
        """Bytes stored under ``prefix``."""
