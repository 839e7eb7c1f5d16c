"""The artifacts of one owner (a run, a logged model, a model version) under a key prefix."""

from __future__ import annotations

from dataclasses import dataclass
from typing import BinaryIO

from modelyard.store.artifacts.base import ArtifactInfo as Info
from modelyard.store.artifacts.blobs import Blob
from modelyard.store.artifacts.paths import clean_relative
from modelyard.store.artifacts.repository import ArtifactRepository
from modelyard.store.metadata.artifact_index_repo import FileRow


@dataclass(frozen=True, slots=True)
class ArtifactArea:
    repo: ArtifactRepository
    prefix: str  # e.g. "runs/<run_id>" or "models/<model_id>"

    def key(self, path: str, *, allow_empty: bool = False) -> str:
        """The store key of ``path``; the path is checked before anything touches storage."""
        rel = clean_relative(path, allow_empty=allow_empty)
        return f"{self.prefix}/{rel}".rstrip("/")

    def put(self, path: str, stream: BinaryIO, expected: str | None = None) -> Blob:
        return self.repo.put(self.key(path), stream, expected)

    def link(self, files: dict[str, str]) -> list[FileRow]:
        """Name already-stored blobs: ``{path: digest}``."""
        return self.repo.link([(self.key(p), d) for p, d in files.items()])

    def files(self, path: str = "") -> list[FileRow]:
        """Every file under ``path`` with its digest; keys relative to ``path``."""
        return self.repo.files(self.key(path, allow_empty=True))

    def open(self, path: str) -> BinaryIO:
        return self.repo.open(self.key(path))

    def delete(self, path: str = "") -> int:
        return self.repo.delete(self.key(path, allow_empty=True))

    def copy_to(self, other: ArtifactArea) -> int:
        return self.repo.copy(self.prefix, other.prefix)

    def list(self, path: str = "") -> list[Info]:
        return self.repo.list(self.key(path, allow_empty=True))
