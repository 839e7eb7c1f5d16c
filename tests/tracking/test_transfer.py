"""Uploading many files through a live server: only new content moves, big files resume."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import httpx
import pytest

import modelyard as my
from modelyard.tracking import transfer
from modelyard.tracking.http import HttpBackend


def _tree(root: Path, n: int) -> dict[str, Path]:
    files = {}
    for i in range(n):
        path = root / f"d{i % 7}" / f"f{i}.txt"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(f"content {i % (n // 2)}")  # half the files repeat an earlier content
        files[path.relative_to(root).as_posix()] = path
    return files


def test_folder_upload_sends_only_missing_content(
    server_url: str, modelyard_home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    files = _tree(tmp_path / "data", 400)
    seen: list[str] = []
    real_upload = HttpBackend.upload

    def counting(self: HttpBackend, path: str, stream, **kw):
        seen.append(path)
        return real_upload(self, path, stream, **kw)

    monkeypatch.setattr(HttpBackend, "upload", counting)
    backend = HttpBackend(server_url)
    try:
        sent = transfer.Uploader(backend, show_progress=False).upload(files)
        assert len(sent) == 400
        assert seen == ["/blobs/pack"]  # 200 distinct small contents, one request
        # the same folder again: nothing is read again (hash cache) and nothing is sent
        seen.clear()
        again = transfer.Uploader(backend, show_progress=False).upload(files)
        assert seen == []
        assert {k: v.digest for k, v in again.items()} == {k: v.digest for k, v in sent.items()}
        # one changed file: exactly one small upload
        files["d0/f0.txt"].write_text("changed")
        transfer.Uploader(backend, show_progress=False).upload(files)
        assert seen == ["/blobs/pack"]
    finally:
        backend.close()

    # the SDK names the uploaded blobs as a run's files
    my.set_tracking_uri(server_url)
    with my.start_run(experiment="transfer", capture_code=False) as run:
        run.log_artifacts(tmp_path / "data", "data")
    with my.Client(server_url) as client:
        listed = client.list_artifacts(run.id, "data/d0")
    assert len(listed) == len([k for k in files if k.startswith("d0/")])


def test_big_file_goes_in_parts_and_resumes(
    server_url: str, modelyard_home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(transfer, "MULTIPART_BYTES", 1 << 20)
    monkeypatch.setattr(transfer, "PACK_MEMBER_MAX", 1 << 16)
    monkeypatch.setattr(transfer, "PART_BYTES", 1 << 19)
    big = tmp_path / "big.bin"
    big.write_bytes(os.urandom(5 * (1 << 19) + 123))  # six parts
    digest = hashlib.sha256(big.read_bytes()).hexdigest()
    backend = HttpBackend(server_url)
    real_upload = HttpBackend.upload
    calls: list[str] = []
    dropped: list[str] = []

    def flaky(self: HttpBackend, path: str, stream, **kw):
        calls.append(path)
        if path.endswith("/4") and not dropped:
            dropped.append(path)
            raise my.errors.ServerUnreachable("connection dropped")
        return real_upload(self, path, stream, **kw)

    monkeypatch.setattr(HttpBackend, "upload", flaky)
    try:
        with pytest.raises(my.errors.ServerUnreachable, match="connection dropped"):
            transfer.Uploader(backend, show_progress=False).upload({"big.bin": big})
        first = [c.rsplit("/", 1)[-1] for c in calls]
        assert first == ["1", "2", "3", "4"]
        calls.clear()
        transfer.Uploader(backend, show_progress=False).upload({"big.bin": big})
        assert [c.rsplit("/", 1)[-1] for c in calls] == ["4", "5", "6"]  # 1-3 not sent again
        missing = backend.call("POST", "/blobs/missing", {"digests": [digest]})
        assert missing == {"missing": []}
    finally:
        backend.close()


def test_blob_routes_refuse_bad_input(server_url: str) -> None:
    api = f"{server_url}/api/v1"
    wrong = httpx.put(f"{api}/blobs/{'0' * 64}", content=b"not zeros")
    assert (wrong.status_code, wrong.json()["error_code"]) == (400, "DIGEST_MISMATCH")
    bad = httpx.put(f"{api}/blobs/..%2F..%2Fetc", content=b"x")
    # not an upload route once decoded: the guard refuses its raw body before routing
    assert (bad.status_code, bad.json()["error_code"]) == (415, "UNSUPPORTED_MEDIA_TYPE")
    assert httpx.post(f"{api}/blobs/missing", json={"digests": ["zz"]}).status_code == 400
    junk = httpx.post(f"{api}/blobs/pack", content=b"not a tar at all")
    assert (junk.status_code, junk.json()["error_code"]) == (400, "UNSAFE_ARCHIVE")
    assert httpx.get(f"{api}/uploads/{'a' * 32}").status_code == 404
    dots = httpx.get(f"{api}/uploads/%2E%2E")  # httpx would fold a bare ".." away
    assert (dots.status_code, dots.json()["error_code"]) == (400, "INVALID_PARAMETER_VALUE")


def test_a_big_file_logged_twice_is_sent_once(
    server_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    weights = tmp_path / "weights.bin"
    weights.write_bytes(os.urandom(transfer.PACK_MEMBER_MAX + 1))
    sent: list[str] = []
    real_upload = HttpBackend.upload

    def counting(self: HttpBackend, path: str, stream, **kw):
        sent.append(path)
        return real_upload(self, path, stream, **kw)

    monkeypatch.setattr(HttpBackend, "upload", counting)
    my.set_tracking_uri(server_url)
    runs = []
    for _ in range(2):
        with my.start_run(experiment="dedup", capture_code=False) as run:
            run.log_artifact(weights, "model/weights.bin")
            runs.append(run.id)
    assert [p for p in sent if p.startswith("/blobs/")] == [
        f"/blobs/{hashlib.sha256(weights.read_bytes()).hexdigest()}"
    ]
    with my.Client(server_url) as client:
        for rid in runs:
            out = client.download_artifact(rid, "model/weights.bin", tmp_path / rid)
            assert out.read_bytes() == weights.read_bytes()
