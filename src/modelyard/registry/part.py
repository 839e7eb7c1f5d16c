"""What every part of the registry service shares: the two stores."""

from __future__ import annotations

from modelyard.store.artifacts.repository import ArtifactRepository
from modelyard.store.metadata.database import Database


class RegistryPart:
    """One concern of the registry over the metadata and artifact stores; thread-safe."""

    def __init__(self, db: Database, artifacts: ArtifactRepository) -> None:
        self.db = db
        self.artifacts = artifacts
