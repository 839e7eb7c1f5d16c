"""The content-addressed artifact store on a local folder and on a real S3-protocol server."""

from __future__ import annotations

import hashlib
import io
import os
import tarfile
import tracemalloc
import zipfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from modelyard.errors import DigestMismatch, InvalidInput, NotFound, PathNotAllowed, UnsafeArchive
from modelyard.store.artifacts.archives import Caps, extract
from modelyard.store.artifacts.area import ArtifactArea
from modelyard.store.artifacts.uploads import Uploads
from modelyard.store.stores import Stores, open_stores


@pytest.fixture
def stores(tmp_path: Path, artifacts_uri: str) -> Iterator[Stores]:
    s = open_stores(f"sqlite:///{tmp_path / 'store.db'}", artifacts_uri)
    yield s
    s.close()


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def test_same_bytes_are_stored_once_and_go_after_the_last_name(stores: Stores) -> None:
    repo = stores.artifacts
    a = ArtifactArea(repo, "runs/" + "a" * 32)
    b = ArtifactArea(repo, "runs/" + "b" * 32)
    blob = a.put("model/weights.bin", io.BytesIO(b"w" * 1000))
    assert (blob.digest, blob.size) == (sha(b"w" * 1000), 1000)
    b.put("copy/weights.bin", io.BytesIO(b"w" * 1000))
    b.put("notes é.txt", io.BytesIO("ünïcode".encode()))
    assert len(list(repo.content.scan())) == 2  # three files, two distinct contents
    assert [(i.path, i.is_dir) for i in a.list()] == [("model", True)]
    assert [(i.path, i.size) for i in a.list("model")] == [("weights.bin", 1000)]
    with a.open("model/weights.bin") as handle:
        assert handle.read() == b"w" * 1000
    with pytest.raises(NotFound, match="does not exist"):
        a.open("model/missing.bin")

    # a snapshot names the same blobs under a second prefix: no bytes move
    snap = ArtifactArea(repo, "versions/1/1")
    assert a.copy_to(snap) == 1
    assert len(list(repo.content.scan())) == 2
    a.delete()
    assert repo.gc(0, dry_run=False).blobs == []  # still named by b and the snapshot
    b.delete()
    snap.delete()
    assert repo.gc(3600, dry_run=True).blobs == []  # orphaned just now: inside the grace
    report = repo.gc(0, dry_run=True)
    assert (len(report.blobs), report.bytes) == (2, 1000 + len("ünïcode".encode()))
    assert len(list(repo.content.scan())) == 2  # a dry run deletes nothing
    repo.gc(0, dry_run=False)
    assert list(repo.content.scan()) == []


def test_a_wrong_digest_keeps_nothing(stores: Stores) -> None:
    area = ArtifactArea(stores.artifacts, "runs/" + "c" * 32)
    with pytest.raises(DigestMismatch, match="content digest is"):
        area.put("x.bin", io.BytesIO(b"actual"), expected=sha(b"claimed"))
    assert list(stores.artifacts.content.scan()) == []
    assert area.list() == []
    with pytest.raises(InvalidInput, match="is not a sha256 digest"):
        area.put("x.bin", io.BytesIO(b"actual"), expected="sha256:not-hex")
    with pytest.raises(NotFound, match=r"^blob sha256:"):
        area.link({"x.bin": sha(b"never uploaded")})


class _Generated(io.RawIOBase):
    """``size`` bytes made on the fly, never held in memory at once."""

    def __init__(self, size: int) -> None:
        self.left = size

    def readable(self) -> bool:
        return True

    def readinto(self, buf: memoryview) -> int:  # type: ignore[override]
        n = min(len(buf), self.left)
        buf[:n] = b"\x5a" * n
        self.left -= n
        return n


@pytest.mark.slow
def test_large_files_stream_in_constant_memory(stores: Stores) -> None:
    size = 96 << 20  # above the S3 backend's multipart threshold
    area = ArtifactArea(stores.artifacts, "runs/" + "d" * 32)
    tracemalloc.start()
    blob = area.put("big.bin", io.BufferedReader(_Generated(size)))
    h, total = hashlib.sha256(), 0
    with area.open("big.bin") as handle:
        while chunk := handle.read(1 << 20):
            h.update(chunk)
            total += len(chunk)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert (blob.size, total, h.hexdigest()) == (size, size, blob.digest)
    assert peak < 40 << 20, f"peak {peak >> 20} MiB for a {size >> 20} MiB file"


def test_multipart_upload_resumes_and_checks_the_whole(stores: Stores) -> None:
    uploads = Uploads(stores.artifacts)
    parts = [os.urandom(1000), os.urandom(1000), b"tail"]
    whole = b"".join(parts)
    upload_id = uploads.create()
    uploads.put_part(upload_id, 1, io.BytesIO(parts[0]))
    uploads.put_part(upload_id, 3, io.BytesIO(parts[2]))
    # the connection broke: the client asks what arrived and sends only part 2
    got = {p.number: p.sha256 for p in uploads.parts(upload_id)}
    assert got == {1: sha(parts[0]), 3: sha(parts[2])}
    with pytest.raises(InvalidInput, match="no gap"):
        uploads.complete(upload_id)
    uploads.put_part(upload_id, 2, io.BytesIO(parts[1]))
    with pytest.raises(DigestMismatch, match="content digest is"):
        uploads.complete(upload_id, expected=sha(b"something else"))
    blob = uploads.complete(upload_id, expected=sha(whole))
    assert blob.size == len(whole)
    with stores.artifacts.content.open(blob.digest) as handle:
        assert handle.read() == whole
    with pytest.raises(NotFound, match=r"does not exist \(finished, aborted or expired\)"):
        uploads.parts(upload_id)  # finished sessions are gone
    with pytest.raises(InvalidInput, match="is not an upload id"):
        uploads.parts("../../etc")


def test_files_of_an_older_store_are_adopted(tmp_path: Path) -> None:
    root = tmp_path / "artifacts"
    legacy = root / "runs" / ("e" * 32) / "model"
    legacy.mkdir(parents=True)
    (legacy / "m.bin").write_bytes(b"old")
    s = open_stores(f"sqlite:///{tmp_path / 's.db'}", str(root))
    try:
        area = ArtifactArea(s.artifacts, "runs/" + "e" * 32)
        with area.open("model/m.bin") as handle:
            assert handle.read() == b"old"
        assert not (legacy / "m.bin").exists()
    finally:
        s.close()


@pytest.mark.parametrize(
    "key", ["../x", "a/../../x", "/etc/passwd", "%2e%2e/x", "a\\..\\x", "x\x00", "C:/x"]
)
def test_paths_that_leave_the_area_are_refused(stores: Stores, key: str) -> None:
    area = ArtifactArea(stores.artifacts, "runs/" + "f" * 32)
    with pytest.raises(PathNotAllowed, match=r"^artifact path"):
        area.put(key, io.BytesIO(b"x"))
    with pytest.raises(PathNotAllowed, match="longer than 1024 bytes"):
        area.put("a" * 1100, io.BytesIO(b"x"))
    assert list(stores.artifacts.content.scan()) == []


# -- archives made by someone else


def _tar(members: list[tarfile.TarInfo], data: bytes = b"") -> Path:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tar:
        for m in members:
            tar.addfile(m, io.BytesIO(data) if m.isfile() else None)
    path = Path(os.environ.get("TMPDIR", "/tmp")) / f"t-{os.getpid()}-{id(members)}.tgz"
    path.write_bytes(buf.getvalue())
    return path


def _member(
    name: str, kind: bytes = tarfile.REGTYPE, size: int = 0, link: str = ""
) -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.type, info.size, info.linkname = kind, size, link
    return info


@pytest.mark.parametrize(
    ("member", "why"),
    [
        (_member("../evil.txt", size=1), "'..'"),
        (_member("/abs.txt", size=1), "relative"),
        (_member("link", tarfile.SYMTYPE, link="/etc/passwd"), "link"),
        (_member("hard", tarfile.LNKTYPE, link="../../x"), "link"),
        (_member("dev", tarfile.CHRTYPE), "link or device"),
    ],
)
def test_tar_members_that_escape_are_refused(
    tmp_path: Path, member: tarfile.TarInfo, why: str
) -> None:
    archive = _tar([member], b"x")
    with pytest.raises(UnsafeArchive, match=why):
        extract(archive, tmp_path / "out")
    assert not (tmp_path / "evil.txt").exists()
    assert list((tmp_path / "out").iterdir()) == []


def test_zip_slip_links_and_bombs_are_refused(tmp_path: Path) -> None:
    slip = tmp_path / "slip.zip"
    with zipfile.ZipFile(slip, "w") as zf:
        zf.writestr("ok.txt", "fine")
        zf.writestr("../../escaped.txt", "bad")
    with pytest.raises(UnsafeArchive, match=r"'\.\.'"):
        extract(slip, tmp_path / "out")
    assert not (tmp_path / "escaped.txt").exists()

    link = tmp_path / "link.zip"
    with zipfile.ZipFile(link, "w") as zf:
        info = zipfile.ZipInfo("link")
        info.external_attr = 0o120777 << 16  # a symlink
        zf.writestr(info, "/etc/passwd")
    with pytest.raises(UnsafeArchive, match="link"):
        extract(link, tmp_path / "out2")

    bomb = tmp_path / "bomb.zip"
    with zipfile.ZipFile(bomb, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("zeros.bin", b"\0" * (8 << 20))  # 8 MiB that compresses to ~8 KiB
    assert bomb.stat().st_size < 100_000
    with pytest.raises(UnsafeArchive, match="more than"):
        extract(bomb, tmp_path / "out3", Caps(max_bytes=1 << 20))

    many = tmp_path / "many.zip"
    with zipfile.ZipFile(many, "w") as zf:
        for i in range(20):
            zf.writestr(f"f{i}.txt", "x")
    with pytest.raises(UnsafeArchive, match="members"):
        extract(many, tmp_path / "out4", Caps(max_members=10))
    assert extract(many, tmp_path / "out5") == [f"f{i}.txt" for i in range(20)]
