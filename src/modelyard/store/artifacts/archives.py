"""Reading archives someone else made: every member is checked before a byte is written.

Refused (UnsafeArchive): absolute or ``..`` names, links and devices, more than ``max_members``
members, more than ``max_bytes`` unpacked (counted while reading, not trusted from headers).
"""

from __future__ import annotations

import stat
import tarfile
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, BinaryIO

from modelyard.errors import PathNotAllowed, UnsafeArchive
from modelyard.store.artifacts.paths import clean_relative, resolve_under

MAX_MEMBERS = 200_000
MAX_BYTES = 20 << 30
CHUNK = 1 << 20


@dataclass(slots=True)
class Caps:
    max_members: int = MAX_MEMBERS
    max_bytes: int = MAX_BYTES
    members: int = 0
    bytes: int = 0

    def member(self) -> None:
        self.members += 1
        if self.members > self.max_members:
            raise UnsafeArchive(f"archive has more than {self.max_members} members")

    def read(self, n: int) -> None:
        self.bytes += n
        if self.bytes > self.max_bytes:
            raise UnsafeArchive(f"archive unpacks to more than {self.max_bytes} bytes")


def _name(raw: str) -> str:
    try:
        return clean_relative(raw)
    except PathNotAllowed as exc:
        raise UnsafeArchive(f"archive member {raw!r}: {exc.message}") from None


class _Counted:
    """A member's stream that counts bytes against the caps as they are read."""

    def __init__(self, raw: IO[bytes], caps: Caps) -> None:
        self._raw, self._caps = raw, caps

    def read(self, n: int = -1) -> bytes:
        data = self._raw.read(n if n >= 0 else CHUNK)
        self._caps.read(len(data))
        return data


def tar_members(stream: BinaryIO, caps: Caps) -> Iterator[tuple[str, BinaryIO]]:
    """(clean name, reader) of each regular file of a tar stream (any compression), in order."""
    try:
        with tarfile.open(fileobj=stream, mode="r|*") as tar:
            for member in tar:
                caps.member()
                if member.isdir():
                    _name(member.name)
                    continue
                if not member.isfile():
                    raise UnsafeArchive(f"archive member {member.name!r} is a link or device")
                handle = tar.extractfile(member)
                assert handle is not None
                yield _name(member.name), _Counted(handle, caps)  # type: ignore[misc]
    except tarfile.TarError as exc:
        raise UnsafeArchive(f"not a readable tar archive: {exc}") from exc


def zip_members(path: Path, caps: Caps) -> Iterator[tuple[str, BinaryIO]]:
    try:
        with zipfile.ZipFile(path) as zf:
            for info in zf.infolist():
                caps.member()
                kind = stat.S_IFMT(info.external_attr >> 16)  # 0: no Unix type recorded
                if kind not in (0, stat.S_IFREG, stat.S_IFDIR):
                    raise UnsafeArchive(f"archive member {info.filename!r} is a link or device")
                if info.is_dir():
                    _name(info.filename)
                    continue
                with zf.open(info) as handle:
                    yield _name(info.filename), _Counted(handle, caps)  # type: ignore[misc]
    except zipfile.BadZipFile as exc:
        raise UnsafeArchive(f"not a readable zip archive: {exc}") from exc


def extract(archive: Path, dest: Path, caps: Caps | None = None) -> list[str]:
    """Unpack a .zip or tar archive into ``dest``; returns the member names written."""
    caps = caps or Caps()
    dest.mkdir(parents=True, exist_ok=True)
    written = []
    with archive.open("rb") as raw:
        members = (
            zip_members(archive, caps) if zipfile.is_zipfile(archive) else tar_members(raw, caps)
        )
        for name, reader in members:
            target = resolve_under(dest, name)
            target.parent.mkdir(parents=True, exist_ok=True)
            with target.open("wb") as out:
                while chunk := reader.read(CHUNK):
                    out.write(chunk)
            written.append(name)
    return written
