"""Archive bombs and oversized archives: refused early, in bounded time and memory, nothing kept.

The route tests send real bombs (KiBs that expand to 1 GiB) to a server in its own process, so
its peak memory can be read; before the fix, the bz2 one took minutes of CPU and 1.7 GB.
"""

from __future__ import annotations

import bz2
import gzip
import hashlib
import io
import lzma
import os
import sys
import tarfile
import time
import tracemalloc
import zipfile
import zlib
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest

from modelyard.errors import UnsafeArchive
from modelyard.server.routes import blobs as pack_route
from modelyard.store.artifacts.archives import MAX_HEADER_BYTES, Caps, extract
from modelyard.tracking import transfer
from tests.store import bombs
from tests.store.serverproc import ServerProcess, server_process

OCTET = {"Content-Type": "application/octet-stream"}
GIB = 1 << 30
linux_only = pytest.mark.skipif(sys.platform != "linux", reason="reads /proc/<pid>/status")


def stored_files(root: Path) -> list[str]:
    """Every file under an artifact root: blobs and staged uploads alike."""
    return sorted(str(p.relative_to(root)) for p in root.rglob("*") if not p.is_dir())


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[ServerProcess, Path]]:
    """One server process for the module, and its artifact root."""
    tmp = tmp_path_factory.mktemp("bombs")
    with server_process(tmp) as proc:
        yield proc, tmp / "artifacts"


def _pack(server: ServerProcess, body: bytes) -> httpx.Response:
    return httpx.post(f"{server.url}/api/v1/blobs/pack", content=body, headers=OCTET, timeout=60)


def _tar(members: list[tuple[tarfile.TarInfo, bytes]], mode: str = "w") -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode=mode) as tar:  # type: ignore[call-overload]
        for info, data in members:
            tar.addfile(info, io.BytesIO(data) if info.isfile() else None)
    return buf.getvalue()


def _info(name: str, size: int = 0, kind: bytes = tarfile.REGTYPE) -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.size, info.type = size, kind
    return info


@linux_only
@pytest.mark.parametrize("make", [bombs.bz2_tar, bombs.gzip_tar], ids=["bz2", "gzip"])
@pytest.mark.parametrize(
    ("size", "why"),
    [
        (GIB, "is 1073741824 bytes; at most 67108864"),  # the reported bomb: one 1 GiB member
        (64 << 20, "compression bomb"),  # a member as big as a pack may carry
    ],
    ids=["1GiB", "64MiB"],
)
def test_a_bomb_sent_as_a_pack_is_refused_within_seconds_and_mibs(
    served: tuple[ServerProcess, Path], make: Callable[[int], bytes], size: int, why: str
) -> None:
    server, root = served
    bomb = make(size)
    assert len(bomb) < size // 500  # bz2: 6.6 KiB for 1 GiB, gzip: 1 MiB (deflate: 1:1032)
    kept = stored_files(root)
    server.reset_peak()
    before = server.peak_rss()
    started = time.monotonic()
    answer = _pack(server, bomb)
    elapsed = time.monotonic() - started
    grown = server.peak_rss() - before
    assert answer.status_code == 400, answer.text
    assert answer.json()["error_code"] == "UNSAFE_ARCHIVE"
    assert why in answer.json()["message"]
    assert elapsed < 10, f"{elapsed:.1f} s"
    assert grown < 64 << 20, f"the server's peak memory grew by {grown >> 20} MiB"
    assert stored_files(root) == kept  # no blob, no staged leftover
    missing = httpx.get(f"{server.url}/api/v1/blobs/{bombs.DIGEST_NAME}", timeout=10)
    assert missing.status_code == 404


def test_a_pack_with_too_many_members_is_refused(served: tuple[ServerProcess, Path]) -> None:
    server, root = served
    kept = stored_files(root)
    count = pack_route.PACK_MAX_MEMBERS + 1
    headers = bombs.tar_header("d", 0, tarfile.DIRTYPE) * count
    answer = _pack(server, headers + bytes(1024))  # plain: gzip makes headers a 100:1 "bomb"
    assert answer.status_code == 400, answer.text
    assert answer.json()["error_code"] == "UNSAFE_ARCHIVE"
    assert f"more than {pack_route.PACK_MAX_MEMBERS} members" in answer.json()["message"]
    assert stored_files(root) == kept


def test_a_pack_member_bigger_than_a_pack_carries_is_refused_before_it_is_read(
    served: tuple[ServerProcess, Path],
) -> None:
    server, root = served
    kept = stored_files(root)
    size = pack_route.PACK_MAX_MEMBER_BYTES + 512
    answer = _pack(server, bombs.tar_header(bombs.DIGEST_NAME, size) + bytes(4096))
    assert answer.status_code == 400, answer.text
    assert f"is {size} bytes; at most" in answer.json()["message"]
    assert stored_files(root) == kept


def test_a_compressed_pack_within_the_caps_is_stored(served: tuple[ServerProcess, Path]) -> None:
    server, _ = served
    data = b"a compressible line of text\n" * 20_000  # 560 KB, about 300:1 (under RATIO_FREE)
    digest = hashlib.sha256(data).hexdigest()
    for compress in (gzip.compress, bz2.compress, lzma.compress):
        answer = _pack(server, compress(_tar([(_info(digest, len(data)), data)])))
        assert answer.status_code == 201, answer.text
        assert answer.json()["stored"] == [{"digest": digest, "size": len(data)}]
    assert httpx.get(f"{server.url}/api/v1/blobs/{digest}", timeout=10).content == data


def test_the_sdk_packs_fit_the_pack_route_caps() -> None:
    assert transfer.PACK_FILES <= pack_route.PACK_MAX_MEMBERS
    assert transfer.PACK_MEMBER_MAX <= pack_route.PACK_MAX_MEMBER_BYTES
    worst_headers = transfer.PACK_FILES * 1024 + 1024  # a header and padding each, the end
    assert transfer.PACK_BYTES + worst_headers <= pack_route.PACK_MAX_BYTES


# -- unpacking archives in the store


def _refused_cheaply(
    archive: Path, dest: Path, match: str, caps: Caps | None = None, left: tuple[str, ...] = ()
) -> None:
    """Refused within seconds and a few MiB; only members before the refusal are left."""
    tracemalloc.start()
    started = time.monotonic()
    try:
        with pytest.raises(UnsafeArchive, match=match):
            extract(archive, dest, caps)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert time.monotonic() - started < 10
    assert peak < 48 << 20, f"peak {peak >> 20} MiB"
    assert stored_files(dest) == list(left)


@pytest.mark.parametrize(
    "make", [bombs.bz2_tar, bombs.gzip_tar, bombs.xz_tar], ids=["bz2", "gzip", "xz"]
)
def test_tar_bombs_are_refused_early(tmp_path: Path, make: Callable[[int], bytes]) -> None:
    archive = tmp_path / "bomb.tar"
    archive.write_bytes(make(GIB if make is not bombs.xz_tar else 64 << 20))
    _refused_cheaply(archive, tmp_path / "out", "compression bomb")


def test_zip_bombs_are_refused_from_their_headers_or_their_bytes(tmp_path: Path) -> None:
    bomb = tmp_path / "bomb.zip"
    bomb.write_bytes(bombs.zip_zeros(GIB))
    _refused_cheaply(bomb, tmp_path / "out", "compression bomb")

    # a header that lies small: zipfile stops at the size it says, the CRC then disagrees
    data, crc, _ = bombs.deflate_zeros(b"", GIB)
    liar = tmp_path / "liar.zip"
    liar.write_bytes(bombs.zip_of("zeros.bin", data, crc, size=len(data)))
    _refused_cheaply(liar, tmp_path / "out2", "not a readable zip")

    # a header that claims more than its data holds (its CRC is right for the data)
    data = os.urandom(100_000)
    short = tmp_path / "short.zip"
    short.write_bytes(bombs.zip_of("r.bin", data, zlib.crc32(data), len(data) + 1, method=0))
    _refused_cheaply(short, tmp_path / "out3", "holds 100000 bytes; its header says 100001")

    # zipfile inflates a bz2 member in one piece: only stored and deflate are read
    packed = bz2.compress(bytes(1 << 20))
    other = tmp_path / "bz2.zip"
    other.write_bytes(bombs.zip_of("z.bin", packed, zlib.crc32(bytes(1 << 20)), 1 << 20, 12))
    _refused_cheaply(other, tmp_path / "out4", "only stored or deflated")


def test_tar_caps_on_total_bytes_and_member_size(tmp_path: Path) -> None:
    two = tmp_path / "two.tar"
    mib = bytes(1 << 20)
    two.write_bytes(_tar([(_info("a", len(mib)), mib), (_info("b", len(mib)), mib)]))
    _refused_cheaply(two, tmp_path / "out", "unpacks to", Caps(max_bytes=3 << 19), ("a",))
    _refused_cheaply(two, tmp_path / "out2", "at most 1000", Caps(max_member_bytes=1000))
    assert extract(two, tmp_path / "out3") == ["a", "b"]


def test_sparse_members_and_huge_tar_headers_are_refused(tmp_path: Path) -> None:
    # a PAX 1.0 sparse member: one byte at 1 TiB, the rest holes that tarfile makes as zeros
    sparse_map = b"1\n" + f"{(1 << 40) - 1}\n1\n".encode()
    sparse_map += bytes(-len(sparse_map) % 512)
    info = _info("holes.bin", len(sparse_map) + 1)
    info.pax_headers = {
        "GNU.sparse.major": "1",
        "GNU.sparse.minor": "0",
        "GNU.sparse.name": "holes.bin",
        "GNU.sparse.realsize": str(1 << 40),
    }
    pax = tmp_path / "pax-sparse.tar"
    pax.write_bytes(_tar([(info, sparse_map + b"x")], "w"))
    _refused_cheaply(pax, tmp_path / "out", "sparse")

    gnu = tmp_path / "gnu-sparse.tar"
    gnu.write_bytes(bombs.tar_header("old.bin", 0, tarfile.GNUTYPE_SPARSE) + bytes(1024))
    _refused_cheaply(gnu, tmp_path / "out2", "sparse")

    # a pax record tarfile would read into memory whole
    long = _info("x.txt", 1)
    long.pax_headers = {"comment": "c" * (MAX_HEADER_BYTES + 1)}
    big = tmp_path / "big-header.tar"
    big.write_bytes(_tar([(long, b"x")]))
    _refused_cheaply(big, tmp_path / "out3", "extended header")

    # long-name headers chained without end
    name = bombs.tar_header("././@LongLink", 100, tarfile.GNUTYPE_LONGNAME) + b"n" * 512
    chained = tmp_path / "chained.tar"
    chained.write_bytes(name * 5000 + bytes(1024))
    _refused_cheaply(chained, tmp_path / "out4", "not a readable tar")


def test_the_bombs_are_valid_archives(tmp_path: Path) -> None:
    """The bombs above are refused for what they are, not because they are broken."""
    size = 16 << 20
    for data in (
        bz2.decompress(bombs.bz2_tar(size)),
        gzip.decompress(bombs.gzip_tar(size)),
        lzma.decompress(bombs.xz_tar(size)),
    ):
        with tarfile.open(fileobj=io.BytesIO(data)) as tar:
            member = tar.next()
            assert member is not None
            assert (member.name, member.size) == (bombs.DIGEST_NAME, size)
            handle = tar.extractfile(member)
            assert handle is not None
            assert handle.read() == bytes(size)
    with zipfile.ZipFile(io.BytesIO(bombs.zip_zeros(size))) as zf:
        assert zf.read("zeros.bin") == bytes(size)  # CRC checked on the way
