"""Local objects encrypted at rest: AES-256-GCM over sealed chunks (a streaming AEAD).

A sealed object is a header, then its plaintext in chunks of 256 KiB (the last shorter, an
empty object one empty chunk), each chunk encrypted with a 16-byte tag after it::

    magic    b"\\x89MYE\\r\\n\\x1a\\n"   8 bytes
    version  1                       1 byte
    key id   length, ASCII           1 + 1..64 bytes (which MODELYARD_ARTIFACTS_KEYS entry)
    salt     random                  16 bytes
    chunks   ciphertext || tag       each 256 KiB + 16 bytes but the last

Each object gets keys of its own: HKDF-SHA256(master key, salt) gives the AES key and an
8-byte nonce prefix; chunk i's nonce is the prefix and i (4 bytes). Each chunk's associated
data binds the header, the object key, i and a final-chunk flag, so a chunk cannot be moved
within or between objects, an object cannot be cut short at a chunk boundary or renamed to
another key, and the header cannot be edited. The chunk count and the plaintext size follow
from the file's size. A file without the magic is a plaintext object written before keys
were set; it reads as it is.
"""

from __future__ import annotations

import base64
import binascii
import io
import os
import re
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, BinaryIO

from modelyard.errors import ArtifactUnreadable, InvalidInput

if TYPE_CHECKING:
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM

MAGIC = b"\x89MYE\r\n\x1a\n"
VERSION = 1
CHUNK = 256 << 10
TAG = 16
SALT = 16
KEY_BYTES = 32
HEAD_MAX = len(MAGIC) + 2 + 64 + SALT  # every header fits in this many bytes
MAX_CHUNKS = 1 << 32  # the counter's 4 bytes: 1 PiB per object
_INFO = b"modelyard artifacts v1"
_KEY_ID = re.compile(r"^[A-Za-z0-9._-]{1,64}$")
SETTING = "MODELYARD_ARTIFACTS_KEYS"


# -- keys


@dataclass(frozen=True, slots=True)
class Keyring:
    """Master keys by id, in the setting's order: the first seals, every one opens."""

    keys: dict[str, bytes] = field(repr=False)  # never in a repr, a log or a traceback

    @property
    def current(self) -> str:
        return next(iter(self.keys))


def parse_keys(text: str) -> Keyring | None:
    """``id:base64key,...`` (32-byte keys) -> a Keyring; None when empty.

    A bad entry is named by its position (and its id once that is valid), never by its text.
    """
    keys: dict[str, bytes] = {}
    entries = [e.strip() for e in text.split(",")]
    if all(not e for e in entries):
        return None
    for n, entry in enumerate(entries, 1):
        key_id, sep, encoded = entry.partition(":")
        key_id = key_id.strip()
        if not sep or not _KEY_ID.match(key_id):
            raise InvalidInput(
                f"{SETTING}: entry {n} is not id:base64key with an id of 1-64 letters, digits, "
                "'.', '_' or '-'",
                field=SETTING,
            )
        try:
            key = base64.b64decode(encoded.strip(), validate=True)
        except (binascii.Error, ValueError):
            key = b""
        if len(key) != KEY_BYTES:
            raise InvalidInput(
                f"{SETTING}: key {key_id!r} is not {KEY_BYTES} bytes in base64 "
                "(`modelyard artifacts keygen` makes one)",
                field=SETTING,
            )
        if key_id in keys:
            raise InvalidInput(f"{SETTING}: key id {key_id!r} appears twice", field=SETTING)
        keys[key_id] = key
    return Keyring(keys)


def new_key(key_id: str) -> str:
    """A fresh ``id:base64key`` entry for the setting."""
    if not _KEY_ID.match(key_id):
        raise InvalidInput(
            f"key id {key_id!r} must be 1-64 letters, digits, '.', '_' or '-'", field="id"
        )
    return f"{key_id}:{base64.b64encode(os.urandom(KEY_BYTES)).decode()}"


# -- the format


@dataclass(frozen=True, slots=True)
class Header:
    key_id: str
    salt: bytes
    raw: bytes  # as stored: part of every chunk's associated data


def encode_header(key_id: str, salt: bytes) -> bytes:
    name = key_id.encode("ascii")
    return MAGIC + bytes([VERSION, len(name)]) + name + salt


def parse_header(head: bytes, key: str) -> Header | None:
    """The header at the start of ``head``; None for a plaintext object."""
    if not head.startswith(MAGIC):
        return None
    at = len(MAGIC)
    if len(head) > at and head[at] != VERSION:
        raise ArtifactUnreadable(
            f"object {key!r} is sealed in format version {head[at]}; this modelyard reads "
            f"version {VERSION} (a newer modelyard wrote it?)",
            path=key,
        )
    size = head[at + 1] if len(head) > at + 1 else 0
    end = at + 2 + size + SALT
    key_id = head[at + 2 : at + 2 + size].decode("ascii", "replace")
    if not 1 <= size <= 64 or len(head) < end or not _KEY_ID.match(key_id):
        raise ArtifactUnreadable(f"object {key!r}: its encryption header is damaged", path=key)
    return Header(key_id, head[end - SALT : end], head[:end])


def plain_size(stored: int, header: int) -> int | None:
    """The plaintext size of a sealed file of ``stored`` bytes; None when no intact file has
    that size (cut short inside a chunk or the header)."""
    body = stored - header
    count = -(-body // (CHUNK + TAG))
    if body < TAG or body - (count - 1) * (CHUNK + TAG) < TAG:
        return None
    return body - count * TAG


def _damaged(key: str) -> ArtifactUnreadable:
    return ArtifactUnreadable(
        f"object {key!r} cannot be decrypted: its bytes were changed, cut short or moved from "
        "another object, or its key under the same id is not the one it was sealed with",
        path=key,
    )


class ObjectCipher:
    """The per-object cipher: its AES key and nonce prefix, and each chunk's associated data."""

    def __init__(self, master: bytes, header: Header, key: str) -> None:
        from cryptography.hazmat.primitives import hashes
        from cryptography.hazmat.primitives.ciphers.aead import AESGCM
        from cryptography.hazmat.primitives.kdf.hkdf import HKDF

        derived = HKDF(hashes.SHA256(), KEY_BYTES + 8, header.salt, _INFO).derive(master)
        self.aead: AESGCM = AESGCM(derived[:KEY_BYTES])
        self.prefix = derived[KEY_BYTES:]
        name = key.encode()
        self.bound = header.raw + len(name).to_bytes(2, "big") + name

    def nonce(self, index: int) -> bytes:
        return self.prefix + index.to_bytes(4, "big")

    def aad(self, index: int, last: bool) -> bytes:
        return self.bound + index.to_bytes(8, "big") + (b"\x01" if last else b"\x00")


def _read_full(src: BinaryIO, size: int) -> bytes:
    parts, got = [], 0
    while got < size:
        piece = src.read(size - got)
        if not piece:
            break
        parts.append(piece)
        got += len(piece)
    return b"".join(parts)


def seal(keys: Keyring, key: str, src: BinaryIO, out: BinaryIO) -> None:
    """Write ``src`` to ``out`` sealed under the current key, as object ``key``."""
    salt = os.urandom(SALT)
    header = Header(keys.current, salt, encode_header(keys.current, salt))
    cipher = ObjectCipher(keys.keys[keys.current], header, key)
    out.write(header.raw)
    chunk, index = _read_full(src, CHUNK), 0
    while True:
        following = _read_full(src, CHUNK) if len(chunk) == CHUNK else b""
        last = not following
        if index >= MAX_CHUNKS:
            raise InvalidInput(f"object {key!r} is larger than {MAX_CHUNKS * CHUNK} bytes")
        out.write(cipher.aead.encrypt(cipher.nonce(index), chunk, cipher.aad(index, last)))
        if last:
            return
        chunk, index = following, index + 1


class SealedReader(io.RawIOBase):
    """The plaintext of a sealed file, decrypted a chunk at a time as it is read; seekable.

    Chunk 0 is checked on opening, so a wrong key or a damaged small file fails before any
    byte is handed out; every chunk is checked before its bytes are.
    """

    def __init__(self, fd: int, key: str, cipher: ObjectCipher, header: int, stored: int) -> None:
        size = plain_size(stored, header)
        if size is None:
            raise _damaged(key)
        self._fd, self._key, self._cipher = fd, key, cipher
        self._start, self._stored = header, stored
        self.size = size
        self._count = -(-(stored - header) // (CHUNK + TAG))
        self._pos = 0
        self._index, self._chunk = -1, b""
        self._load(0)

    def _load(self, index: int) -> bytes:
        if index != self._index:
            at = self._start + index * (CHUNK + TAG)
            length = min(CHUNK + TAG, self._stored - at)
            data = os.pread(self._fd, length, at)
            last = index == self._count - 1
            if len(data) != length:
                raise _damaged(self._key)  # shorter than it was when opened
            from cryptography.exceptions import InvalidTag

            c = self._cipher
            try:
                self._chunk = c.aead.decrypt(c.nonce(index), data, c.aad(index, last))
            except InvalidTag:
                raise _damaged(self._key) from None
            self._index = index
        return self._chunk

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def read(self, size: int | None = -1, /) -> bytes:
        if self.closed:
            raise ValueError("read of a closed file")
        want = self.size - self._pos if size is None or size < 0 else size
        end = min(self.size, self._pos + want)
        parts = []
        while self._pos < end:
            index, offset = divmod(self._pos, CHUNK)
            piece = self._load(index)[offset : offset + end - self._pos]
            parts.append(piece)
            self._pos += len(piece)
        return b"".join(parts)

    def readall(self) -> bytes:
        return self.read(-1)

    def readinto(self, buffer: Any) -> int:
        view = memoryview(buffer).cast("B")
        data = self.read(len(view))
        view[: len(data)] = data
        return len(data)

    def seek(self, offset: int, whence: int = os.SEEK_SET, /) -> int:
        if self.closed:
            raise ValueError("seek of a closed file")
        base = {os.SEEK_SET: 0, os.SEEK_CUR: self._pos, os.SEEK_END: self.size}.get(whence)
        if base is None or base + offset < 0:
            raise ValueError(f"cannot seek to {offset} from {whence}")
        self._pos = base + offset
        return self._pos

    def tell(self) -> int:
        return self._pos

    def close(self) -> None:
        if not self.closed:
            os.close(self._fd)
        super().close()
