"""Open the two stores together: metadata (SQL) and artifacts (blobs named by the SQL index)."""

from __future__ import annotations

from dataclasses import dataclass

from modelyard.store.artifacts.registry import open_object_store
from modelyard.store.artifacts.repository import ArtifactRepository, adopt_legacy
from modelyard.store.metadata.database import Database


@dataclass(frozen=True, slots=True)
class Stores:
    db: Database
    artifacts: ArtifactRepository

    def close(self) -> None:
        self.db.close()


def open_stores(store_uri: str, artifacts_uri: str, *, create: bool = True) -> Stores:
    """Open (and create) both stores; files left by an older modelyard are adopted once."""
    db = Database(store_uri, create=create)
    try:
        artifacts = ArtifactRepository(db, open_object_store(artifacts_uri))
        adopt_legacy(artifacts)
    except BaseException:
        db.close()
        raise
    return Stores(db, artifacts)
