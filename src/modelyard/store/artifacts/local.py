"""Objects in a local folder; a finished upload is renamed into place (atomic, same filesystem)."""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO

from modelyard.errors import NotFound
from modelyard.store.artifacts.base import ObjectInfo, ObjectStore
from modelyard.store.artifacts.paths import resolve_under

STAGING = ".staging"
_BLOB = re.compile(r"^blobs/sha256/[0-9a-f]{2}/[0-9a-f]{64}$")


class LocalObjectStore(ObjectStore):
    """``/path`` or ``file:///path``: objects are files under the root folder."""

    def __init__(self, uri: str) -> None:
        self.uri = uri
        raw = uri[len("file://") :] if uri.startswith("file://") else uri
        self.root = Path(raw).expanduser().resolve()
        self.root.mkdir(parents=True, exist_ok=True)
        self._root_text = str(self.root) + os.sep
        self.staging = self.root / STAGING
        self.staging.mkdir(exist_ok=True)

    def _path(self, key: str) -> Path:
        """Blob keys are made here and strictly shaped: no need to resolve links for them."""
        if _BLOB.match(key):
            return self.root / key
        return resolve_under(self.root, key)

    def stat(self, key: str) -> ObjectInfo | None:
        try:
            st = os.stat(self._root_text + key if _BLOB.match(key) else self._path(key))
        except FileNotFoundError:
            return None
        return ObjectInfo(key, st.st_size, st.st_mtime)

    def put_file(self, key: str, path: Path) -> None:
        target = self._path(key)
        if not target.parent.is_dir():
            target.parent.mkdir(parents=True, exist_ok=True)
            resolve_under(self.root, str(target.relative_to(self.root)))  # parents may be links
        os.replace(path, target)

    def flush(self) -> None:
        os.sync()  # one flush for many small files written without their own fsync

    def open(self, key: str) -> BinaryIO:
        target = self._path(key)
        if not target.is_file():
            raise NotFound(f"object {key!r} does not exist", path=key)
        return target.open("rb")

    def delete(self, key: str) -> None:
        self._path(key).unlink(missing_ok=True)

    def scan(self, prefix: str) -> Iterator[ObjectInfo]:
        folder, _, stem = prefix.rpartition("/")
        base = resolve_under(self.root, folder)
        for dirpath, dirs, files in os.walk(base):
            dirs[:] = [d for d in dirs if d != STAGING]
            for name in files:
                key = str((Path(dirpath) / name).relative_to(self.root))
                if key.startswith(prefix):
                    st = os.stat(os.path.join(dirpath, name))
                    yield ObjectInfo(key, st.st_size, st.st_mtime)
            if stem and dirpath == str(base):
                dirs[:] = [d for d in dirs if d.startswith(stem)]
