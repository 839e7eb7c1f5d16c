"""A full disk, a file size limit, a read-only folder: uploads answer 507 STORAGE_FULL, keep
nothing, and the server goes on.

Tests run as root, which chmod does not stop, so the kernel itself refuses each write:
RLIMIT_FSIZE on the server process (EFBIG; works anywhere), a 256 KiB tmpfs as the artifact
root (ENOSPC) and a read-only bind mount of it (EROFS). The mounts live in the server's own mount
namespace (``unshare``), gone with it; they are skipped where mounts are not allowed.
"""

from __future__ import annotations

import errno
import hashlib
import io
import os
import re
import sys
import tarfile
from pathlib import Path

import httpx
import pytest

from modelyard.errors import StorageFull
from modelyard.store.artifacts.disk import writing
from modelyard.tracking.batches import new_run_id
from tests.store.serverproc import mount_allowed, server_process

pytestmark = pytest.mark.skipif(sys.platform != "linux", reason="Linux limits and mounts")

OCTET = {"Content-Type": "application/octet-stream"}
JSON = {"Content-Type": "application/json"}
MOUNT = ["unshare", "--mount", "--propagation", "private", "sh", "-c"]
WAYS = {
    "file-size-limit": ([], 2 << 20),  # the metadata store (and its WAL) fits
    "tmpfs-full": ([*MOUNT, 'mount -t tmpfs -o size=256k tmpfs "$1" && shift && exec "$@"'], 0),
    "read-only": (
        [*MOUNT, 'mount --bind "$1" "$1" && mount -o remount,bind,ro "$1" && shift && exec "$@"'],
        0,
    ),
}


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def files_under(root: Path) -> list[str]:
    return sorted(str(p.relative_to(root)) for p in root.rglob("*") if not p.is_dir())


def pack_of(data: bytes) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        info = tarfile.TarInfo(sha(data))
        info.size = len(data)
        tar.addfile(info, io.BytesIO(data))
    return buf.getvalue()


@pytest.mark.slow
@pytest.mark.parametrize("way", list(WAYS))
def test_uploads_to_a_store_that_cannot_take_them_answer_507(tmp_path: Path, way: str) -> None:
    prefix, fsize = WAYS[way]
    root = tmp_path / "artifacts"
    (root / ".staging").mkdir(parents=True)  # a read-only root must hold it already
    if prefix and (why := mount_allowed(tmp_path)):
        pytest.skip(why)
    if prefix:
        prefix = [*prefix, "sh", str(root)]
    with (
        server_process(tmp_path, prefix=prefix, fsize=fsize) as server,
        httpx.Client(base_url=server.url, timeout=30, headers=OCTET) as http,
    ):
        run = new_run_id()
        made = http.post(
            "/api/v1/runs",
            json={"run_id": run, "experiment_name": "full"},
            headers=JSON,
        )
        assert made.status_code in (200, 201), made.text
        big = os.urandom(3 << 20)
        answers = {
            "artifact": http.put(f"/api/v1/runs/{run}/artifacts/big.bin", content=big),
            "blob": http.put(f"/api/v1/blobs/{sha(big)}", content=big),
            "pack": http.post("/api/v1/blobs/pack", content=pack_of(big)),
        }
        session = http.post("/api/v1/uploads", content=b"")
        if way == "read-only":
            answers["upload session"] = session
        else:
            assert session.status_code == 201, session.text
            part = f"/api/v1/uploads/{session.json()['upload_id']}/1"
            answers["upload part"] = http.put(part, content=big)
        if way == "file-size-limit":  # over 8 MiB, the body itself is spooled to disk first
            huge = os.urandom(9 << 20)
            answers["spooled body"] = http.put(f"/api/v1/blobs/{sha(huge)}", content=huge)
        for what, answer in answers.items():
            assert answer.status_code == 507, f"{what}: {answer.status_code} {answer.text}"
            assert answer.json()["error_code"] == "STORAGE_FULL", what
        assert files_under(server.sees(root)) == []  # no blob, no part, no staged file
        listed = http.get(f"/api/v1/runs/{run}/artifacts")
        assert listed.json() == []

        if way != "read-only":
            # parts that fit, joined into a blob that does not: the parts stay for a retry
            part_bytes = {"file-size-limit": 1200 << 10, "tmpfs-full": 100 << 10}[way]
            upload_id = http.post("/api/v1/uploads", content=b"").json()["upload_id"]
            for n in (1, 2):
                sent = http.put(f"/api/v1/uploads/{upload_id}/{n}", content=bytes(part_bytes))
                assert sent.status_code == 200, sent.text
            joined = http.post(f"/api/v1/uploads/{upload_id}/complete", json={}, headers=JSON)
            assert joined.status_code == 507, joined.text
            assert len(http.get(f"/api/v1/uploads/{upload_id}").json()["parts"]) == 2
            kept = f".staging/upload-{upload_id}"
            assert files_under(server.sees(root)) == [f"{kept}/00001", f"{kept}/00002"]
            assert http.delete(f"/api/v1/uploads/{upload_id}").status_code == 200

            small = b"this fits"  # the partial files are gone, so what fits is taken
            stored = http.put(f"/api/v1/blobs/{sha(small)}", content=small)
            assert stored.status_code == 201, stored.text
            assert http.get(f"/api/v1/blobs/{sha(small)}").content == small


@pytest.mark.parametrize(
    ("code", "kept"),
    [
        (errno.ENOSPC, False),
        (errno.EDQUOT, False),
        (errno.EROFS, False),
        (errno.EFBIG, False),
        (errno.EACCES, False),
        (errno.EIO, True),
    ],
)
def test_which_os_errors_mean_the_store_is_full(code: int, kept: bool) -> None:
    raised = OSError(code, os.strerror(code))
    with (
        pytest.raises(
            OSError if kept else StorageFull, match=re.escape(os.strerror(code))
        ) as caught,
        writing("a test file"),
    ):
        raise raised
    if not kept:
        assert caught.value.__cause__ is raised
        assert errno.errorcode[code] in str(caught.value)
