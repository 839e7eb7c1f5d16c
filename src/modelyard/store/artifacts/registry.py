"""Pick an object store backend by URI scheme; other backends plug in through entry points."""

from __future__ import annotations

from importlib.metadata import entry_points

from modelyard import config
from modelyard.errors import InvalidInput
from modelyard.store.artifacts.base import ObjectStore
from modelyard.store.artifacts.encrypted import SETTING, parse_keys
from modelyard.store.artifacts.local import LocalObjectStore


def open_object_store(uri: str) -> ObjectStore:
    """``/path`` or ``file:///path`` -> local folder (sealed with MODELYARD_ARTIFACTS_KEYS when
    set); ``s3://`` and others from entry points."""
    scheme = uri.split("://", 1)[0] if "://" in uri else "file"
    keys = parse_keys(config.ARTIFACTS_KEYS.get())
    if scheme == "file":
        return LocalObjectStore(uri, keys)
    if keys is not None:
        raise InvalidInput(
            f"{SETTING} encrypts local artifact folders only, and the artifacts are at "
            f"{scheme}://; unset it (on S3, use MODELYARD_S3_SSE for encryption at rest)",
            field=SETTING,
        )
    for ep in entry_points(group="modelyard.artifact_stores"):
        if ep.name == scheme:
            backend: type[ObjectStore] = ep.load()
            return backend(uri)  # type: ignore[call-arg]
    raise InvalidInput(f"no artifact store for scheme {scheme!r} (uri {uri!r})")
