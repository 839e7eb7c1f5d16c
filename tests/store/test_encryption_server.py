"""A live server with encrypted local artifacts: uploads land sealed, downloads come back whole,
and a file changed on disk answers ARTIFACT_UNREADABLE instead of its bytes."""

from __future__ import annotations

import hashlib
import io
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from modelyard.server.app import ServerSettings
from modelyard.server.background import serve_in_background
from modelyard.store.artifacts.blobs import blob_key
from modelyard.store.artifacts.encrypted import MAGIC, new_key
from modelyard.tracking.batches import new_run_id

JSON = {"Content-Type": "application/json"}
OCTET = {"Content-Type": "application/octet-stream"}


@dataclass(frozen=True)
class Server:
    http: httpx.Client
    root: Path


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    base = tmp_path_factory.mktemp("sealed-server")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("MODELYARD_ARTIFACTS_KEYS", new_key("s1"))
        settings = ServerSettings(
            store_uri=f"sqlite:///{base / 'store.db'}", artifacts_uri=str(base / "artifacts")
        )
        with (
            serve_in_background(settings) as url,
            httpx.Client(base_url=f"{url}/api/v1", timeout=60) as http,
        ):
            yield Server(http, base / "artifacts")


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def data_of(size: int, seed: str) -> bytes:
    out = bytearray()
    counter = 0
    while len(out) < size:
        out += hashlib.sha256(f"{seed}:{counter}".encode()).digest()
        counter += 1
    return bytes(out[:size])


def new_run(http: httpx.Client) -> str:
    run = new_run_id()
    made = http.post("/runs", json={"run_id": run, "experiment_name": "sealed"}, headers=JSON)
    assert made.status_code in (200, 201), made.text
    return run


def assert_sealed(root: Path, data: bytes) -> None:
    raw = (root / blob_key(sha(data))).read_bytes()
    assert raw.startswith(MAGIC)
    if data:
        assert data[:64] not in raw
        assert data[len(data) // 2 : len(data) // 2 + 64] not in raw


@pytest.mark.parametrize("size", [0, 5, 300_000, 20 << 20])
def test_a_run_artifact_goes_up_sealed_and_comes_back_whole(server: Server, size: int) -> None:
    http, data = server.http, data_of(size, f"artifact-{size}")
    run = new_run(http)
    sent = http.put(f"/runs/{run}/artifacts/model/weights.bin", content=data, headers=OCTET)
    assert sent.status_code == 201, sent.text
    assert (sent.json()["digest"], sent.json()["size"]) == (sha(data), size)
    got = http.get(f"/runs/{run}/artifacts/model/weights.bin")
    assert got.status_code == 200
    assert got.content == data
    listed = http.get(f"/runs/{run}/artifacts", params={"path": "model"}).json()
    assert [a["size"] for a in listed] == [size]
    assert_sealed(server.root, data)
    staged = [p for p in (server.root / ".staging").rglob("*") if p.is_file()]
    assert staged == []


def test_blobs_multipart_and_dedup_over_http(server: Server) -> None:
    http = server.http
    blob = data_of(70_000, "blob")
    assert http.post("/blobs/missing", json={"digests": [sha(blob)]}).json() == {
        "missing": [sha(blob)]
    }
    assert http.put(f"/blobs/{sha(blob)}", content=blob, headers=OCTET).status_code == 201
    assert http.post("/blobs/missing", json={"digests": [sha(blob)]}).json() == {"missing": []}
    assert http.get(f"/blobs/{sha(blob)}").content == blob

    parts = [data_of(400_000, "part1"), data_of(123, "part2")]
    upload = http.post("/uploads", content=b"").json()["upload_id"]
    for number, part in enumerate(parts, 1):
        assert http.put(f"/uploads/{upload}/{number}", content=part, headers=OCTET).is_success
    whole = b"".join(parts)
    done = http.post(f"/uploads/{upload}/complete", json={"digest": sha(whole)}, headers=JSON)
    assert done.json() == {"digest": sha(whole), "size": len(whole)}
    assert http.get(f"/blobs/{sha(whole)}").content == whole
    assert_sealed(server.root, whole)

    run = new_run(http)  # the same bytes as a run artifact: no second object
    before = sorted(p.name for p in (server.root / "blobs").rglob("*") if p.is_file())
    assert http.put(f"/runs/{run}/artifacts/again.bin", content=whole, headers=OCTET).is_success
    after = sorted(p.name for p in (server.root / "blobs").rglob("*") if p.is_file())
    assert after == before


def test_a_parquet_preview_of_a_sealed_artifact(server: Server) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    buf = io.BytesIO()
    pq.write_table(pa.table({"n": list(range(5000))}), buf)
    run = new_run(server.http)
    put = server.http.put(f"/runs/{run}/artifacts/t.parquet", content=buf.getvalue(), headers=OCTET)
    assert put.status_code == 201
    preview = server.http.get(f"/runs/{run}/previews/table/t.parquet", params={"limit": 2})
    assert preview.status_code == 200, preview.text
    assert preview.json()["rows"] == [[0], [1]]
    assert preview.json()["total_rows"] == 5000


def test_a_changed_file_answers_artifact_unreadable(server: Server) -> None:
    http, data = server.http, data_of(1000, "tampered")
    run = new_run(http)
    assert http.put(f"/runs/{run}/artifacts/x.bin", content=data, headers=OCTET).is_success
    path = server.root / blob_key(sha(data))
    raw = bytearray(path.read_bytes())
    raw[-20] ^= 0xFF
    path.write_bytes(bytes(raw))
    for url in (f"/runs/{run}/artifacts/x.bin", f"/blobs/{sha(data)}"):
        got = http.get(url)
        assert got.status_code == 500, url
        assert got.json()["error_code"] == "ARTIFACT_UNREADABLE"
        assert "cannot be decrypted" in got.json()["message"]
        assert data[:16] not in got.content
