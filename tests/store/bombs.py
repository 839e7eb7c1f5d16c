"""Archive bombs made cheaply: a few KiB that expand to GiBs, built without compressing GiBs.

Each format repeats one compressed piece of zeros, so building a 1 GiB bomb costs about as much
as compressing a few MiB. The results are ordinary, valid archives (checked in test_bombs.py
at a small size): any reader that unpacks them to the end gets every byte.
"""

from __future__ import annotations

import bz2
import lzma
import struct
import tarfile
import zlib

MASK = 0xFFFFFFFF
DIGEST_NAME = "a" * 64  # the pack route wants members named by a digest


def tar_header(name: str, size: int, kind: bytes = tarfile.REGTYPE) -> bytes:
    info = tarfile.TarInfo(name)
    info.size, info.type = size, kind
    return info.tobuf(format=tarfile.USTAR_FORMAT)


# -- bz2: a single stream of identical blocks

_BLOCK = format(0x314159265359, "048b")
_END = format(0x177245385090, "048b")


def _bits(data: bytes) -> str:
    return format(int.from_bytes(data, "big"), f"0{len(data) * 8}b")


def _bytes(bits: str) -> bytes:
    bits += "0" * (-len(bits) % 8)
    return int(bits, 2).to_bytes(len(bits) // 8, "big")


def _blocks(stream: bytes) -> list[str]:
    """The blocks of a bz2 stream, as bit strings from their magic to the next magic."""
    bits = _bits(stream)
    starts = []
    at = bits.find(_BLOCK)
    while at != -1:
        starts.append(at)
        at = bits.find(_BLOCK, at + 1)
    end = bits.rfind(_END)
    return [bits[a:b] for a, b in zip(starts, [*starts[1:], end], strict=True)]


def _bz2_stream(blocks: list[str]) -> bytes:
    combined = 0
    for block in blocks:
        combined = (((combined << 1) | (combined >> 31)) & MASK) ^ int(block[48:80], 2)
    return _bytes(_bits(b"BZh1") + "".join(blocks) + _END + format(combined, "032b"))


def bz2_tar(size: int, name: str = DIGEST_NAME) -> bytes:
    """One bz2 stream of a tar holding ``name``: ``size`` zero bytes (a multiple of 512)."""
    head = tar_header(name, size)
    first, full, again, *_ = _blocks(bz2.compress(head + bytes(16 << 20), 1))
    assert full == again, "blocks of zeros should compress alike"
    per_block = len(bz2.decompress(_bz2_stream([full])))
    count = -(-(size + 1024) // per_block)  # the member, then at least two zero blocks (the end)
    return _bz2_stream([first] + [full] * count)


# -- deflate (gzip, zip): full flushes make repeatable, byte-aligned pieces


def _crc_after_zeros(crc: int, n: int, step: int = 1 << 20) -> int:
    """``zlib.crc32(bytes(n), crc)`` without making ``n`` bytes (a multiple of ``step``).

    Appending zeros changes the CRC register linearly, so the change for ``step`` zeros is a
    32x32 bit matrix (its columns come from 32 small crc32 calls), raised to ``n // step``.
    """

    def apply(columns: list[int], value: int) -> int:
        out = 0
        for bit, column in enumerate(columns):
            if value >> bit & 1:
                out ^= column
        return out

    zeros = bytes(step)
    columns = [~zlib.crc32(zeros, ~(1 << bit) & MASK) & MASK for bit in range(32)]
    register, times = ~crc & MASK, n // step
    while times:
        if times & 1:
            register = apply(columns, register)
        columns = [apply(columns, c) for c in columns]
        times >>= 1
    return ~register & MASK


def deflate_zeros(prefix: bytes, size: int, chunk: int = 8 << 20) -> tuple[bytes, int, int]:
    """Raw deflate of ``prefix`` + ``size`` zeros (a multiple of ``chunk``): (data, crc, length)."""
    c = zlib.compressobj(9, zlib.DEFLATED, -15)
    zeros = bytes(chunk)
    head = c.compress(prefix) + c.flush(zlib.Z_FULL_FLUSH)
    piece = c.compress(zeros) + c.flush(zlib.Z_FULL_FLUSH)
    assert piece == c.compress(zeros) + c.flush(zlib.Z_FULL_FLUSH)
    data = head + piece * (size // chunk) + c.flush()
    crc = _crc_after_zeros(zlib.crc32(prefix), size)
    return data, crc, len(prefix) + size


def gzip_tar(size: int, name: str = DIGEST_NAME) -> bytes:
    """One gzip member of a tar holding ``name``: ``size`` zero bytes (a multiple of 8 MiB)."""
    data, crc, length = deflate_zeros(tar_header(name, size), size + (8 << 20))
    header = b"\x1f\x8b\x08\x00" + bytes(4) + b"\x02\xff"
    return header + data + struct.pack("<II", crc, length & MASK)


def zip_of(name: str, data: bytes, crc: int, size: int, method: int = 8) -> bytes:
    """A zip of one member whose (compressed) bytes, CRC and size are given as they are."""
    raw = name.encode()
    local = struct.pack(
        "<IHHHHHIIIHH", 0x04034B50, 20, 0, method, 0, 0, crc, len(data), size, len(raw), 0
    )
    central = struct.pack(
        "<IHHHHHHIIIHHHHHII",
        0x02014B50, 20, 20, 0, method, 0, 0, crc, len(data), size, len(raw), 0, 0, 0, 0, 0, 0,
    )  # fmt: skip
    body = local + raw + data
    directory = central + raw
    end = struct.pack("<IHHHHIIH", 0x06054B50, 0, 0, 1, 1, len(directory), len(body), 0)
    return body + directory + end


def zip_zeros(size: int, name: str = "zeros.bin") -> bytes:
    """A deflated zip member of ``size`` zero bytes (a multiple of 8 MiB)."""
    data, crc, length = deflate_zeros(b"", size)
    return zip_of(name, data, crc, length)


def xz_tar(size: int, name: str = DIGEST_NAME) -> bytes:
    """A tar holding ``name``: ``size`` zero bytes (a multiple of 1 MiB), as xz streams one after
    another (as ``xz`` itself reads them)."""
    mib = lzma.compress(bytes(1 << 20), preset=0)
    return lzma.compress(tar_header(name, size)) + mib * (size >> 20) + lzma.compress(bytes(1024))
