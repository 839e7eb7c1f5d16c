"""The artifacts of one owner (a run, a logged model) under a key prefix of a store."""

from __future__ import annotations

from dataclasses import dataclass
from typing import BinaryIO

from modelyard.store.artifacts.base import ArtifactInfo, ArtifactStore
from modelyard.store.artifacts.paths import clean_relative


@dataclass(frozen=True, slots=True)
class ArtifactArea:
    store: ArtifactStore
    prefix: str  # e.g. "runs/<run_id>" or "models/<model_id>"

    def key(self, path: str, *, allow_empty: bool = False) -> str:
        """The store key of ``path``; the path is checked before anything touches storage."""
        rel = clean_relative(path, allow_empty=allow_empty)
        return f"{self.prefix}/{rel}".rstrip("/")

    def put(self, path: str, stream: BinaryIO) -> int:
        return self.store.put(self.key(path), stream)

    def list(self, path: str = "") -> list[ArtifactInfo]:
        return self.store.list(self.key(path, allow_empty=True))

    def open(self, path: str) -> BinaryIO:
        return self.store.open(self.key(path))

    def delete(self, path: str) -> int:
        return self.store.delete_prefix(self.key(path))
