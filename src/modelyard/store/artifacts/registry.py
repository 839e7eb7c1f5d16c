"""Pick an artifact backend by URI scheme; other backends plug in through entry points."""

from __future__ import annotations

from importlib.metadata import entry_points

from modelyard.errors import InvalidInput
from modelyard.store.artifacts.base import ArtifactStore
from modelyard.store.artifacts.local import LocalArtifactStore


def open_artifact_store(uri: str) -> ArtifactStore:
    """``/path`` or ``file:///path`` -> local folder; other schemes from ``modelyard.artifact_stores``."""
    scheme = uri.split("://", 1)[0] if "://" in uri else "file"
    if scheme == "file":
        return LocalArtifactStore(uri)
    for ep in entry_points(group="modelyard.artifact_stores"):
        if ep.name == scheme:
            backend: type[ArtifactStore] = ep.load()
            return backend(uri)  # type: ignore[call-arg]
    raise InvalidInput(f"no artifact store for scheme {scheme!r} (uri {uri!r})")
