"""Artifacts in a local folder."""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO

from modelyard.errors import NotFound, PathNotAllowed
from modelyard.store.artifacts.base import ArtifactInfo, ArtifactStore
from modelyard.store.artifacts.paths import resolve_under

CHUNK = 1 << 20


class LocalArtifactStore(ArtifactStore):
    """Files under a root folder; writes go to a temporary file, then an atomic rename."""

    def __init__(self, uri: str) -> None:
        self.uri = uri
        raw = uri[len("file://") :] if uri.startswith("file://") else uri
        self.root = Path(raw).expanduser().resolve()
        self.root.mkdir(parents=True, exist_ok=True)

    def put(self, key: str, stream: BinaryIO) -> int:
        target = resolve_under(self.root, key)
        if target == self.root or target.is_dir():
            raise PathNotAllowed(f"artifact path {key!r} names a folder", path=key)
        target.parent.mkdir(parents=True, exist_ok=True)
        resolve_under(self.root, str(target.relative_to(self.root)))  # parents may be links
        size = 0
        fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=".upload-")
        try:
            with os.fdopen(fd, "wb") as out:
                while chunk := stream.read(CHUNK):
                    out.write(chunk)
                    size += len(chunk)
                out.flush()
                os.fsync(out.fileno())
            os.replace(tmp, target)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
        return size

    def open(self, key: str) -> BinaryIO:
        target = resolve_under(self.root, key)
        if not target.is_file():
            raise NotFound(f"artifact {key!r} does not exist", path=key)
        return target.open("rb")

    def list(self, prefix: str) -> list[ArtifactInfo]:
        folder = resolve_under(self.root, prefix)
        if not folder.is_dir():
            return []
        out = []
        for entry in sorted(os.scandir(folder), key=lambda e: e.name):
            if entry.name.startswith(".upload-") or entry.is_symlink():
                continue
            rel = str(Path(entry.path).relative_to(folder))
            if entry.is_dir():
                out.append(ArtifactInfo(rel, True, None))
            else:
                out.append(ArtifactInfo(rel, False, entry.stat().st_size))
        return out

    def walk(self, prefix: str) -> Iterator[str]:
        folder = resolve_under(self.root, prefix)
        for dirpath, _dirs, files in os.walk(folder):
            for name in files:
                if not name.startswith(".upload-"):
                    yield str((Path(dirpath) / name).relative_to(self.root))

    def delete_prefix(self, prefix: str) -> int:
        folder = resolve_under(self.root, prefix)
        if folder == self.root:
            raise PathNotAllowed("refusing to delete the whole artifact root")
        if not folder.exists():
            return 0
        if folder.is_file():
            folder.unlink()
            return 1
        count = sum(1 for _ in self.walk(prefix))
        shutil.rmtree(folder)
        return count

    def size_of_prefix(self, prefix: str) -> int:
        return sum((self.root / k).stat().st_size for k in self.walk(prefix))
