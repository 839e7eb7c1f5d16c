"""The object store interface: a small ABC with one file per backend, picked by URI scheme.

Backends only store immutable objects under keys. Content addressing (``blobs.py``), the
file index (``metadata/artifact_index_repo.py``) and path safety live above them.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, BinaryIO

if TYPE_CHECKING:
    from modelyard.store.artifacts.multipart import Multipart


@dataclass(frozen=True, slots=True)
class ArtifactInfo:
    path: str  # relative to the listed folder's owner (e.g. the run)
    is_dir: bool
    size: int | None


@dataclass(frozen=True, slots=True)
class ObjectInfo:
    key: str
    size: int
    modified: float  # seconds since the epoch


class ObjectStore(ABC):
    """Immutable objects under keys such as ``blobs/sha256/ab/<digest>``."""

    uri: str
    staging: Path  # a local folder for uploads in progress (same filesystem as a local root)

    @abstractmethod
    def stat(self, key: str) -> ObjectInfo | None:
        """Size (of the plaintext) and time of the object under ``key``, or None when there is
        none."""

    @abstractmethod
    def put_file(self, key: str, path: Path, *, durable: bool = True) -> None:
        """Store the local file ``path`` under ``key``; the file is consumed (moved or deleted).

        ``durable=False`` (local disks) skips the file's fsync: call ``flush()`` after a batch.
        """

    @abstractmethod
    def open(self, key: str) -> BinaryIO:
        """Open ``key`` for streaming reads of its plaintext; NotFound when missing,
        ArtifactUnreadable when it fails its integrity check (encrypted objects)."""

    @abstractmethod
    def delete(self, key: str) -> None:
        """Delete ``key`` (no error when it is already gone)."""

    def flush(self) -> None:  # noqa: B027 (most backends have nothing to flush)
        """Make objects put with ``durable=False`` durable (local disks: one sync)."""

    @abstractmethod
    def scan(self, prefix: str) -> Iterator[ObjectInfo]:
        """Every object whose key starts with ``prefix`` (sizes of the plaintext, as ``stat``)."""

    def multipart(self) -> Multipart:
        """Where parts of multipart uploads wait (default: files in the staging folder)."""
        from modelyard.store.artifacts.multipart import StagedParts

        return StagedParts(self)
