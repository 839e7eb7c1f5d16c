"""Two server replicas on one PostgreSQL and one S3 answer as one server, whichever a client
reaches: ingest, search, single blobs, packs and multipart uploads whose parts alternate."""

from __future__ import annotations

import hashlib
import io
import itertools
import os
import tarfile
import uuid
from collections.abc import Iterator

import httpx
import pytest

from modelyard.server.app import ServerSettings, create_app
from modelyard.testing.postgres import create_database
from modelyard.tracking.batches import new_run_id
from tests.server.appserver import serving

pytestmark = pytest.mark.postgres
OCTET = {"Content-Type": "application/octet-stream"}


@pytest.fixture
def replicas(postgres_admin_url: str, s3_artifacts_uri: str) -> Iterator[list[httpx.Client]]:
    store = create_database(postgres_admin_url, f"t_{uuid.uuid4().hex[:12]}")
    settings = ServerSettings(store_uri=store, artifacts_uri=s3_artifacts_uri)
    with (
        serving(create_app(settings)) as a,
        serving(create_app(settings)) as b,
        httpx.Client(base_url=a, timeout=60) as one,
        httpx.Client(base_url=b, timeout=60) as two,
    ):
        yield [one, two]


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def test_a_multipart_upload_takes_parts_on_alternating_replicas(
    replicas: list[httpx.Client],
) -> None:
    one, two = replicas
    parts = [os.urandom(5 << 20), os.urandom((5 << 20) + 7), b"a short tail"]
    whole = b"".join(parts)
    upload_id = one.post("/api/v1/uploads", content=b"").json()["upload_id"]
    for n, (part, http) in enumerate(zip(parts, itertools.cycle([two, one]), strict=False), 1):
        sent = http.put(f"/api/v1/uploads/{upload_id}/{n}", content=part, headers=OCTET)
        assert sent.json() == {"number": n, "size": len(part), "sha256": sha(part)}, sent.text
    for http in replicas:  # either replica knows every part
        listed = http.get(f"/api/v1/uploads/{upload_id}").json()["parts"]
        assert [(p["number"], p["sha256"]) for p in listed] == [
            (1, sha(parts[0])),
            (2, sha(parts[1])),
            (3, sha(parts[2])),
        ]
    wrong = two.post(f"/api/v1/uploads/{upload_id}/complete", json={"digest": sha(b"x")})
    assert wrong.status_code == 400
    assert wrong.json()["error_code"] == "DIGEST_MISMATCH"
    done = one.post(f"/api/v1/uploads/{upload_id}/complete", json={"digest": sha(whole)})
    assert done.json() == {"digest": sha(whole), "size": len(whole)}, done.text
    assert two.get(f"/api/v1/blobs/{sha(whole)}").content == whole
    assert two.get(f"/api/v1/uploads/{upload_id}").status_code == 404


def test_blobs_packs_ingest_and_search_agree(replicas: list[httpx.Client]) -> None:
    one, two = replicas
    blob = os.urandom(1000)
    assert one.put(f"/api/v1/blobs/{sha(blob)}", content=blob, headers=OCTET).status_code == 201
    assert two.get(f"/api/v1/blobs/{sha(blob)}").content == blob
    small = [os.urandom(100) for _ in range(5)]
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        for data in small:
            info = tarfile.TarInfo(sha(data))
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    packed = two.post(
        "/api/v1/blobs/pack", content=buf.getvalue(), headers={"Content-Type": "application/x-tar"}
    )
    assert packed.status_code == 201, packed.text
    assert one.post("/api/v1/blobs/missing", json={"digests": [sha(d) for d in small]}).json() == {
        "missing": []
    }

    runs = []
    for i, http in zip(range(6), itertools.cycle(replicas), strict=False):
        rid = new_run_id()
        runs.append(rid)
        batch = {
            "run_id": rid,
            "batch_id": rid,
            "create": {"experiment_name": "replicas", "name": f"r{i}"},
            "params": {"i": str(i)},
            "metrics": [{"key": "loss", "steps": [0, 1], "values": [1.0, 1.0 / (i + 1)]}],
        }
        assert http.post("/api/v1/ingest", json={"batches": [batch]}).status_code == 200
    listed = two.get("/api/v1/experiments").json()
    exp = next(e["id"] for e in listed if e["name"] == "replicas")
    query = {"experiment_ids": [exp], "filter": "metrics.loss < 0.3", "order_by": ["params.i"]}
    answers = [http.post("/api/v1/runs/search", json=query).json() for http in replicas]
    assert answers[0] == answers[1]
    assert [r["id"] for r in answers[0]["runs"]] == runs[3:]
