"""How a local store keeps its files: as they are (``Plain``), or sealed (``Sealed``, with
MODELYARD_ARTIFACTS_KEYS); the store calls the same methods either way.

A root that has held sealed files is marked (``.encrypted``), so a server started on it
without keys refuses them by name instead of sending their ciphertext; an unmarked root's
files are plaintext, whatever their first bytes are.
"""

from __future__ import annotations

import os
import tempfile
from abc import ABC, abstractmethod
from collections.abc import Callable
from pathlib import Path
from typing import BinaryIO, cast

from modelyard.errors import ArtifactUnreadable
from modelyard.store.artifacts.disk import NOFOLLOW, open_regular
from modelyard.store.artifacts.encrypted import (
    CHUNK,
    HEAD_MAX,
    MAGIC,
    SETTING,
    Keyring,
    ObjectCipher,
    SealedReader,
    parse_header,
    plain_size,
    seal,
)

MARKER = ".encrypted"  # in the root: sealed files were written here


class Codec(ABC):
    """How a local object's bytes lie on disk."""

    @abstractmethod
    def prepare(self, key: str, path: Path, staging: Path, *, durable: bool) -> Path:
        """The file to rename into place for the plaintext file ``path``, which is consumed
        (moved or deleted) either way; with ``durable``, on disk when this returns."""

    @abstractmethod
    def write(self, key: str, src: BinaryIO, out: BinaryIO) -> None:
        """Write plaintext ``src`` in this codec's form of object ``key``."""

    @abstractmethod
    def reader(self, key: str, fd: int) -> BinaryIO:
        """The plaintext of the stored file ``fd`` (a regular file; closed with the reader)."""

    @abstractmethod
    def size(self, key: str, stored: int, head: Callable[[], bytes]) -> int | None:
        """The plaintext size of a stored file of ``stored`` bytes whose first bytes ``head``
        reads; None when the file cannot be an intact object."""

    @abstractmethod
    def current(self, key: str, head: bytes) -> bool:
        """Whether a file starting with ``head`` is already as this codec writes it."""

    @property
    @abstractmethod
    def staged(self) -> Codec:
        """The codec of files waiting in staging (parts of uploads): written and read by this
        server, never left from before."""


def sync(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY | NOFOLLOW)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


class Plain(Codec):
    """Files hold the plaintext. ``marked``: the root once held sealed files, which are
    refused by name (their key is not set)."""

    def __init__(self, *, marked: bool = False) -> None:
        self.marked = marked

    def prepare(self, key: str, path: Path, staging: Path, *, durable: bool) -> Path:
        if durable:
            try:
                sync(path)
            except BaseException:
                path.unlink(missing_ok=True)
                raise
        return path

    def write(self, key: str, src: BinaryIO, out: BinaryIO) -> None:
        while chunk := src.read(CHUNK):
            out.write(chunk)

    def reader(self, key: str, fd: int) -> BinaryIO:
        if self.marked:
            try:
                header = parse_header(os.pread(fd, HEAD_MAX, 0), key)
            except BaseException:
                os.close(fd)
                raise
            if header is not None:
                os.close(fd)
                raise ArtifactUnreadable(
                    f"object {key!r} is encrypted (key {header.key_id!r}), but {SETTING} is "
                    "not set",
                    path=key,
                    key_id=header.key_id,
                )
        return os.fdopen(fd, "rb")

    def size(self, key: str, stored: int, head: Callable[[], bytes]) -> int | None:
        return stored

    def current(self, key: str, head: bytes) -> bool:
        return not head.startswith(MAGIC)

    @property
    def staged(self) -> Codec:
        return Plain()


class Sealed(Codec):
    """Files are sealed under the keyring's current key; plaintext ones still read."""

    def __init__(self, keys: Keyring) -> None:
        self.keys = keys

    def prepare(self, key: str, path: Path, staging: Path, *, durable: bool) -> Path:
        try:
            fd, tmp = tempfile.mkstemp(dir=staging, prefix="sealed-")
            try:
                with os.fdopen(fd, "wb") as out, open_regular(path) as src:
                    self.write(key, src, out)
                    if durable:
                        out.flush()
                        os.fsync(out.fileno())
            except BaseException:
                Path(tmp).unlink(missing_ok=True)
                raise
        finally:
            path.unlink(missing_ok=True)
        return Path(tmp)

    def write(self, key: str, src: BinaryIO, out: BinaryIO) -> None:
        seal(self.keys, key, src, out)

    def reader(self, key: str, fd: int) -> BinaryIO:
        try:
            header = parse_header(os.pread(fd, HEAD_MAX, 0), key)
            if header is None:
                return os.fdopen(fd, "rb")  # written before keys were set
            master = self.keys.keys.get(header.key_id)
            if master is None:
                raise ArtifactUnreadable(
                    f"object {key!r} is sealed with key {header.key_id!r}, which {SETTING} "
                    "does not hold",
                    path=key,
                    key_id=header.key_id,
                )
            cipher = ObjectCipher(master, header, key)
            stored = os.fstat(fd).st_size
            return cast(BinaryIO, SealedReader(fd, key, cipher, len(header.raw), stored))
        except BaseException:
            os.close(fd)
            raise

    def size(self, key: str, stored: int, head: Callable[[], bytes]) -> int | None:
        try:
            header = parse_header(head(), key)
        except ArtifactUnreadable:
            return None
        return stored if header is None else plain_size(stored, len(header.raw))

    def current(self, key: str, head: bytes) -> bool:
        header = parse_header(head, key)
        return header is not None and header.key_id == self.keys.current

    @property
    def staged(self) -> Codec:
        return self


def codec_for(root: Path, keys: Keyring | None) -> Codec:
    """The codec of the local root ``root``; with keys, the root is marked first."""
    marker = root / MARKER
    if keys is None:
        return Plain(marked=os.path.lexists(marker))
    try:
        fd = os.open(marker, os.O_WRONLY | os.O_CREAT | os.O_EXCL | NOFOLLOW, 0o644)
    except FileExistsError:
        return Sealed(keys)
    with os.fdopen(fd, "w") as out:
        out.write(f"Files here are encrypted with keys from {SETTING} (docs/security.md).\n")
    return Sealed(keys)
