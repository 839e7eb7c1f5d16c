"""Links planted among a local store's files are never followed: nothing outside is read,
listed, deleted or written, whatever the link stands for (a blob, a shard folder, a part)."""

from __future__ import annotations

import hashlib
import io
import os
import tarfile
import tempfile
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from modelyard.errors import NotFound, PathNotAllowed
from modelyard.server.app import ServerSettings
from modelyard.store.artifacts.local import LocalObjectStore
from modelyard.store.artifacts.registry import open_object_store
from modelyard.store.artifacts.uploads import Uploads
from modelyard.store.stores import Stores, open_stores

SECRET = b"a file outside the artifact root, which no client may read"
OCTET = {"Content-Type": "application/octet-stream"}


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def blob_path(root: Path, digest: str) -> Path:
    return root / "blobs" / "sha256" / digest[:2] / digest


@pytest.fixture
def root(server_settings: ServerSettings) -> Path:
    return Path(server_settings.artifacts_uri)


@pytest.fixture
def http(server_url: str) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=server_url, timeout=30) as client:
        yield client


@pytest.fixture
def secret(tmp_path: Path) -> Path:
    path = tmp_path / "outside" / "secret.txt"
    path.parent.mkdir()
    path.write_bytes(SECRET)
    return path


def _run(http: httpx.Client) -> str:
    made = http.post("/api/v1/runs", json={"experiment_name": "links"})
    assert made.status_code == 201, made.text
    return str(made.json()["id"])


def _missing(http: httpx.Client, digest: str) -> list[str]:
    answer = http.post("/api/v1/blobs/missing", json={"digests": [digest]})
    assert answer.status_code == 200, answer.text
    return list(answer.json()["missing"])


def test_a_blob_planted_as_a_link_is_never_read_and_an_upload_replaces_it(
    http: httpx.Client, root: Path, secret: Path
) -> None:
    data = b"a logged file"
    run = _run(http)
    logged = http.put(f"/api/v1/runs/{run}/artifacts/notes.txt", content=data, headers=OCTET)
    assert logged.status_code == 201, logged.text
    digest = sha(data)
    path = blob_path(root, digest)
    path.unlink()
    path.symlink_to(secret)

    for url in (f"/api/v1/blobs/{digest}", f"/api/v1/runs/{run}/artifacts/notes.txt"):
        answer = http.get(url)
        assert answer.status_code == 404, answer.text
        assert SECRET not in answer.content
    assert _missing(http, digest) == [digest]  # so the client sends it again

    sent = http.put(f"/api/v1/blobs/{digest}", content=data, headers=OCTET)
    assert sent.status_code == 201, sent.text
    assert not path.is_symlink()
    assert path.read_bytes() == data
    assert secret.read_bytes() == SECRET  # the upload replaced the link, not its target
    assert http.get(f"/api/v1/runs/{run}/artifacts/notes.txt").content == data


def test_a_shard_folder_planted_as_a_link_is_never_read_nor_written(
    http: httpx.Client, root: Path, secret: Path
) -> None:
    data = b"content nobody uploaded yet"
    digest = sha(data)
    outside = secret.parent
    (outside / digest).write_bytes(SECRET)
    shard = blob_path(root, digest).parent
    shard.parent.mkdir(parents=True, exist_ok=True)
    shard.symlink_to(outside, target_is_directory=True)

    answer = http.get(f"/api/v1/blobs/{digest}")
    assert answer.status_code == 404, answer.text
    assert SECRET not in answer.content
    assert _missing(http, digest) == [digest]

    sent = http.put(f"/api/v1/blobs/{digest}", content=data, headers=OCTET)
    assert sent.status_code == 400, sent.text
    assert sent.json()["error_code"] == "PATH_NOT_ALLOWED"
    assert "link" in sent.json()["message"]
    assert sorted(p.name for p in outside.iterdir()) == sorted([digest, "secret.txt"])
    assert (outside / digest).read_bytes() == SECRET
    assert list((root / ".staging").iterdir()) == []  # the staged copy went too


def test_a_pack_does_not_write_through_a_planted_link(
    http: httpx.Client, root: Path, secret: Path
) -> None:
    data = b"packed content"
    digest = sha(data)
    path = blob_path(root, digest)
    path.parent.mkdir(parents=True)
    path.symlink_to(secret)
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        info = tarfile.TarInfo(digest)
        info.size = len(data)
        tar.addfile(info, io.BytesIO(data))
    sent = http.post("/api/v1/blobs/pack", content=buf.getvalue(), headers=OCTET)
    assert sent.status_code == 201, sent.text
    assert secret.read_bytes() == SECRET
    assert not path.is_symlink()
    assert http.get(f"/api/v1/blobs/{digest}").content == data


# -- the store itself


@pytest.fixture
def stores(tmp_path: Path) -> Iterator[Stores]:
    s = open_stores(f"sqlite:///{tmp_path / 'store.db'}", str(tmp_path / "artifacts"))
    yield s
    s.close()


def test_scan_and_gc_see_no_planted_link(stores: Stores, tmp_path: Path, secret: Path) -> None:
    root = tmp_path / "artifacts"
    planted = sha(b"planted")
    blob_path(root, planted).parent.mkdir(parents=True)
    blob_path(root, planted).symlink_to(secret)
    outside = secret.parent
    hidden = sha(b"behind a linked folder")
    (outside / hidden).write_bytes(SECRET)
    blob_path(root, hidden).parent.symlink_to(outside, target_is_directory=True)

    assert list(stores.artifacts.content.scan()) == []
    stores.artifacts.gc(0, dry_run=False)
    assert secret.read_bytes() == SECRET
    assert (outside / hidden).read_bytes() == SECRET


def test_a_part_planted_as_a_link_is_not_a_part(stores: Stores, secret: Path) -> None:
    uploads = Uploads(stores.artifacts)
    upload_id = uploads.create()
    uploads.put_part(upload_id, 1, io.BytesIO(b"first"))
    session = stores.artifacts.objects.staging / f"upload-{upload_id}"
    (session / "00002").symlink_to(secret)
    assert [p.number for p in uploads.parts(upload_id)] == [1]
    blob = uploads.complete(upload_id)
    with stores.artifacts.content.open(blob.digest) as handle:
        assert handle.read() == b"first"  # the planted part was never joined
    assert secret.read_bytes() == SECRET

    linked = stores.artifacts.objects.staging / f"upload-{'f' * 32}"
    linked.symlink_to(secret.parent, target_is_directory=True)
    with pytest.raises(NotFound, match="does not exist"):
        uploads.put_part("f" * 32, 1, io.BytesIO(b"through the link"))
    assert sorted(p.name for p in secret.parent.iterdir()) == ["secret.txt"]


def test_a_staging_folder_planted_as_a_link_is_refused(tmp_path: Path, secret: Path) -> None:
    root = tmp_path / "artifacts"
    root.mkdir()
    (root / ".staging").symlink_to(secret.parent, target_is_directory=True)
    with pytest.raises(PathNotAllowed, match="not a link"):
        LocalObjectStore(str(root))


def test_the_default_s3_staging_folder_is_private(
    s3_artifacts_uri: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    shared = tmp_path / f"modelyard-{os.geteuid()}"
    shared.mkdir(mode=0o777)
    shared.chmod(0o777)  # as another user could have left it
    with pytest.raises(PathNotAllowed, match="chmod 700"):
        open_object_store(s3_artifacts_uri)
    shared.rmdir()
    store = open_object_store(s3_artifacts_uri)
    assert store.staging == shared
    assert shared.stat().st_mode & 0o777 == 0o700
