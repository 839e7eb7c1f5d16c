"""Reading archives someone else made: every member is checked before its bytes are used.

Refused with UnsafeArchive, always within a bounded amount of work (never after unpacking the
whole archive):

* names that are absolute or use ``..``; links, devices and sparse members;
* more than ``max_members`` members; a member over ``max_member_bytes`` (from its header, before
  a byte of it is read); more than ``max_bytes`` unpacked in all (counted while reading);
* more than ``max_ratio`` bytes out per byte read from the archive, once ``RATIO_FREE`` bytes
  are out: a compression bomb stops after a few MiB of work, however far it would expand;
* tar headers tarfile reads whole (long names, pax records) over ``MAX_HEADER_BYTES``;
* zip members compressed other than stored or deflate (zipfile inflates bz2 and lzma members in
  one piece), and zip members whose data is not the size their header says.

A compressed tar is decompressed here, in bounded steps, and handed to tarfile as a plain
stream: tarfile's own stream mode inflates each 10 KiB of input in one piece (an 887-byte bz2
upload became a 1 GiB buffer, copied again for every 1 MiB read).
"""

from __future__ import annotations

import bz2
import gzip
import lzma
import os
import stat
import struct
import tarfile
import zipfile
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, BinaryIO, NoReturn, Protocol, cast

from modelyard.errors import PathNotAllowed, UnsafeArchive
from modelyard.store.artifacts.disk import NOFOLLOW, writing
from modelyard.store.artifacts.paths import clean_relative, resolve_under

MAX_MEMBERS = 200_000
MAX_BYTES = 20 << 30
MAX_RATIO = 100  # bytes out per byte in; text compresses about 10:1, a bomb 1,000,000:1
RATIO_FREE = 8 << 20  # unpacked bytes allowed before the ratio counts (small inputs vary)
MAX_HEADER_BYTES = 1 << 20  # a tar long name or pax record, which tarfile reads whole
CHUNK = 1 << 20

_READ_ERRORS = (tarfile.TarError, zipfile.BadZipFile, OSError, EOFError, zlib.error, lzma.LZMAError)
_EXTENDED = {
    tarfile.GNUTYPE_LONGNAME,
    tarfile.GNUTYPE_LONGLINK,
    tarfile.XHDTYPE,
    tarfile.XGLTYPE,
    tarfile.SOLARIS_XHDTYPE,
}


class _Readable(Protocol):
    def read(self, n: int = -1, /) -> bytes: ...


@dataclass(slots=True)
class Caps:
    """The bounds of reading one archive; the counters run as it is read (one per archive)."""

    max_members: int = MAX_MEMBERS
    max_bytes: int = MAX_BYTES
    max_member_bytes: int = MAX_BYTES
    max_ratio: int = MAX_RATIO
    members: int = 0
    bytes: int = 0  # unpacked so far
    packed: int = 0  # read from the archive itself so far

    def member(self, name: str, size: int) -> None:
        """Count a member, refused when one too many or bigger than its header may say."""
        self.members += 1
        if self.members > self.max_members:
            raise UnsafeArchive(
                f"archive has more than {self.max_members} members", limit=self.max_members
            )
        if size > self.max_member_bytes:
            raise UnsafeArchive(
                f"archive member {name[:200]!r} is {size} bytes; at most "
                f"{self.max_member_bytes} here",
                limit=self.max_member_bytes,
            )

    def take(self, n: int) -> None:
        """Count ``n`` bytes read from the archive itself."""
        self.packed += n

    def read(self, n: int) -> None:
        """Count ``n`` unpacked bytes: refused past ``max_bytes`` or ``max_ratio``."""
        self.bytes += n
        if self.bytes > self.max_bytes:
            raise UnsafeArchive(
                f"archive unpacks to more than {self.max_bytes} bytes", limit=self.max_bytes
            )
        if self.bytes > RATIO_FREE and self.bytes > self.max_ratio * self.packed:
            raise UnsafeArchive(
                f"archive expands more than {self.max_ratio} times its size "
                f"({self.packed} bytes became {self.bytes} and more): a compression bomb?",
                limit=self.max_ratio,
            )


def _name(raw: str) -> str:
    try:
        return clean_relative(raw)
    except PathNotAllowed as exc:
        raise UnsafeArchive(f"archive member {raw[:200]!r}: {exc.message}") from None


def _unreadable(kind: str, exc: BaseException) -> UnsafeArchive:
    return UnsafeArchive(f"not a readable {kind} archive: {exc or type(exc).__name__}")


# -- tar


class _Source:
    """The archive as sent: counts the bytes taken from it; its first bytes can be peeked."""

    def __init__(self, raw: _Readable, caps: Caps) -> None:
        self._raw, self._caps, self._head = raw, caps, b""

    def _take(self, n: int) -> bytes:
        data = self._raw.read(n)
        self._caps.take(len(data))
        return data

    def peek(self, n: int) -> bytes:
        while len(self._head) < n and (more := self._take(n - len(self._head))):
            self._head += more
        return self._head[:n]

    def read(self, n: int = -1, /) -> bytes:
        n = CHUNK if n < 0 else n  # never the whole stream at once
        if self._head:
            data, self._head = self._head[:n], self._head[n:]
            return data
        return self._take(n)


class _Unpacked:
    """The plain tar stream tarfile reads: counted against the caps as it is made."""

    def __init__(self, inner: _Readable, caps: Caps) -> None:
        self._inner, self._caps = inner, caps

    def read(self, n: int = -1, /) -> bytes:
        try:
            data = self._inner.read(min(n, CHUNK) if n >= 0 else CHUNK)
        except _READ_ERRORS as exc:
            raise _unreadable("tar", exc) from exc
        self._caps.read(len(data))
        return data


def _decompressed(source: _Source) -> _Readable:
    """The tar stream inside ``source``: decompressors here read in steps (``max_length``)."""
    head, raw = source.peek(6), cast(IO[bytes], source)  # read() is all they call
    if head.startswith(b"\x1f\x8b"):
        return gzip.GzipFile(fileobj=raw, mode="rb")
    if head.startswith(b"BZh"):
        return bz2.BZ2File(raw)
    if head.startswith((b"\xfd7zXZ\x00", b"\x5d\x00\x00")):
        return lzma.LZMAFile(raw)
    return source


def _refuse_sparse(self: tarfile.TarInfo, *_: object) -> NoReturn:
    raise UnsafeArchive(f"archive member {self.name[:200]!r} is sparse (refused)")


class _Header(tarfile.TarInfo):
    """tarfile's header parsing, bounded before tarfile acts: a long-name or pax header over
    MAX_HEADER_BYTES (tarfile reads one whole) and every sparse form (old GNU sparse maps grow
    with the stream) are refused. ``_proc_member`` is tarfile's hook for subclasses."""

    def _proc_member(self, tar: tarfile.TarFile) -> tarfile.TarInfo:
        if self.type == tarfile.GNUTYPE_SPARSE:
            _refuse_sparse(self)
        if self.type in _EXTENDED and self.size > MAX_HEADER_BYTES:
            raise UnsafeArchive(
                f"archive has a {self.size}-byte extended header; at most {MAX_HEADER_BYTES}",
                limit=MAX_HEADER_BYTES,
            )
        return cast(tarfile.TarInfo, super()._proc_member(tar))  # type: ignore[misc]

    _proc_gnusparse_00 = _proc_gnusparse_01 = _proc_gnusparse_10 = _refuse_sparse


class _Member:
    """A member's bytes; a truncated archive is UnsafeArchive, not a tarfile error."""

    def __init__(self, raw: IO[bytes]) -> None:
        self._raw = raw

    def read(self, n: int = -1, /) -> bytes:
        try:
            return self._raw.read(min(n, CHUNK) if n >= 0 else CHUNK)
        except tarfile.TarError as exc:
            raise _unreadable("tar", exc) from exc


def tar_members(stream: BinaryIO, caps: Caps) -> Iterator[tuple[str, BinaryIO]]:
    """(clean name, reader) of each regular file of a tar stream (plain, gzip, bz2 or xz)."""
    try:
        source = _Source(stream, caps)
        plain = _Unpacked(_decompressed(source), caps)
        with tarfile.open(fileobj=cast(IO[bytes], plain), mode="r|", tarinfo=_Header) as tar:
            for member in tar:
                caps.member(member.name, member.size)
                if member.isdir():
                    _name(member.name)
                    continue
                if member.issparse():
                    _refuse_sparse(member)
                if not member.isfile():
                    raise UnsafeArchive(f"archive member {member.name!r} is a link or device")
                handle = tar.extractfile(member)
                assert handle is not None
                yield _name(member.name), cast(BinaryIO, _Member(handle))
    except RecursionError as exc:  # header after header after header...
        raise _unreadable("tar", exc) from None
    except _READ_ERRORS as exc:
        raise _unreadable("tar", exc) from exc


# -- zip


def _zip_entries(path: Path) -> int:
    """The entry count a zip's end record declares (0 when it has none), read before zipfile
    parses the whole central directory into memory."""
    with path.open("rb") as f:
        size = f.seek(0, os.SEEK_END)
        f.seek(max(0, size - (0xFFFF + 22 + 20)))  # the longest comment, the record, zip64's
        tail = f.read()
        at = tail.rfind(b"PK\x05\x06")
        if at < 0 or len(tail) - at < 22:
            return 0
        count: int = struct.unpack_from("<H", tail, at + 10)[0]
        if count == 0xFFFF and at >= 20 and tail[at - 20 : at - 16] == b"PK\x06\x07":
            f.seek(struct.unpack_from("<Q", tail, at - 12)[0])
            record = f.read(56)
            if record[:4] == b"PK\x06\x06" and len(record) == 56:
                count = struct.unpack_from("<Q", record, 32)[0]
        return count


class _ZipMember:
    """A member's bytes, counted; data that is not the size the header says is refused."""

    def __init__(self, raw: IO[bytes], info: zipfile.ZipInfo, caps: Caps) -> None:
        self._raw, self._info, self._caps, self._got = raw, info, caps, 0

    def read(self, n: int = -1, /) -> bytes:
        try:
            data = self._raw.read(min(n, CHUNK) if n >= 0 else CHUNK)
        except _READ_ERRORS as exc:
            raise _unreadable("zip", exc) from exc
        self._got += len(data)
        self._caps.read(len(data))
        if (not data and n != 0 and self._got != self._info.file_size) or (
            self._got > self._info.file_size
        ):
            raise UnsafeArchive(
                f"archive member {self._info.filename[:200]!r} holds {self._got} bytes; "
                f"its header says {self._info.file_size}"
            )
        return data


def zip_members(path: Path, caps: Caps) -> Iterator[tuple[str, BinaryIO]]:
    """(clean name, reader) of each regular file of a zip, every bound checked from the
    headers first (count, sizes, ratios), then again on the bytes as they come."""
    size = path.stat().st_size
    caps.take(size)
    if _zip_entries(path) > caps.max_members:
        raise UnsafeArchive(
            f"archive has more than {caps.max_members} members", limit=caps.max_members
        )
    try:
        with zipfile.ZipFile(path) as zf:
            infos = zf.infolist()
            declared = sum(i.file_size for i in infos)
            if declared > caps.max_bytes:
                raise UnsafeArchive(
                    f"archive unpacks to more than {caps.max_bytes} bytes", limit=caps.max_bytes
                )
            if declared > RATIO_FREE and declared > caps.max_ratio * size:
                raise UnsafeArchive(
                    f"archive expands more than {caps.max_ratio} times its size: "
                    "a compression bomb?",
                    limit=caps.max_ratio,
                )
            for info in infos:
                caps.member(info.filename, info.file_size)
                kind = stat.S_IFMT(info.external_attr >> 16)  # 0: no Unix type recorded
                if kind not in (0, stat.S_IFREG, stat.S_IFDIR):
                    raise UnsafeArchive(f"archive member {info.filename!r} is a link or device")
                if info.is_dir():
                    _name(info.filename)
                    continue
                if info.compress_type not in (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED):
                    raise UnsafeArchive(
                        f"archive member {info.filename!r}: only stored or deflated zip "
                        "members are read"
                    )
                if info.file_size > RATIO_FREE and (
                    info.file_size > caps.max_ratio * info.compress_size
                ):
                    raise UnsafeArchive(
                        f"archive member {info.filename!r} expands more than "
                        f"{caps.max_ratio} times: a compression bomb?",
                        limit=caps.max_ratio,
                    )
                name = _name(info.filename)
                with zf.open(info) as handle:
                    yield name, cast(BinaryIO, _ZipMember(handle, info, caps))
    except _READ_ERRORS as exc:
        raise _unreadable("zip", exc) from exc


# -- unpacking into a folder


def extract(archive: Path, dest: Path, caps: Caps | None = None) -> list[str]:
    """Unpack a .zip or tar archive into ``dest``; returns the member names written.

    On a refusal, the member being written is removed; the caller removes ``dest``.
    """
    caps = caps or Caps()
    with writing(f"the folder {dest}"):
        dest.mkdir(parents=True, exist_ok=True)
    written = []
    with archive.open("rb") as raw:
        members = (
            zip_members(archive, caps) if zipfile.is_zipfile(archive) else tar_members(raw, caps)
        )
        for name, reader in members:
            target = resolve_under(dest, name)
            with writing(f"{name!r} unpacked"):
                target.parent.mkdir(parents=True, exist_ok=True)
                fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | NOFOLLOW, 0o644)
                try:
                    with os.fdopen(fd, "wb") as out:
                        while chunk := reader.read(CHUNK):
                            out.write(chunk)
                except BaseException:
                    target.unlink(missing_ok=True)
                    raise
            written.append(name)
    return written
