"""S3 server-side encryption: every object the store creates (single puts, small parts, joined
multipart uploads, copies) arrives at the S3 server with the configured encryption."""

from __future__ import annotations

import hashlib
import io
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from modelyard.errors import InvalidInput
from modelyard.store.artifacts.blobs import blob_key
from modelyard.store.artifacts.s3 import S3ObjectStore, sse_args
from modelyard.store.artifacts.s3_multipart import PREFIX
from modelyard.store.artifacts.uploads import Uploads
from modelyard.store.stores import Stores, open_stores

KMS_KEY = "arn:aws:kms:us-east-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab"
MODES = {
    "sse-s3": ({"MODELYARD_S3_SSE": "AES256"}, {"ServerSideEncryption": "AES256"}),
    "sse-kms": (
        {"MODELYARD_S3_SSE": "aws:kms", "MODELYARD_S3_SSE_KMS_KEY_ID": KMS_KEY},
        {"ServerSideEncryption": "aws:kms", "SSEKMSKeyId": KMS_KEY},
    ),
    "none": ({}, {}),
}


@pytest.fixture(params=list(MODES))
def mode(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def stores(
    tmp_path: Path, s3_artifacts_uri: str, monkeypatch: pytest.MonkeyPatch, mode: str
) -> Iterator[Stores]:
    monkeypatch.setenv("MODELYARD_STAGING_DIR", str(tmp_path / "staging"))
    for name, value in MODES[mode][0].items():
        monkeypatch.setenv(name, value)
    s = open_stores(f"sqlite:///{tmp_path / 'store.db'}", s3_artifacts_uri)
    yield s
    s.close()


def encryption(store: S3ObjectStore, key: str) -> dict[str, Any]:
    head = store.client.head_object(Bucket=store.bucket, Key=store.full_key(key))
    return {k: head[k] for k in ("ServerSideEncryption", "SSEKMSKeyId") if k in head}


def test_every_object_is_created_with_the_encryption(
    stores: Stores, mode: str, tmp_path: Path
) -> None:
    objects = stores.artifacts.objects
    assert isinstance(objects, S3ObjectStore)
    expected = MODES[mode][1]
    content = stores.artifacts.content

    small = content.put(io.BytesIO(b"a single put"))  # upload_file
    assert encryption(objects, blob_key(small.digest)) == expected

    uploads = Uploads(stores.artifacts)  # S3's multipart upload, a small last part copied in
    big, tail = os.urandom(5 << 20), b"the small last part"
    upload_id = uploads.create()
    uploads.put_part(upload_id, 1, io.BytesIO(big))
    uploads.put_part(upload_id, 2, io.BytesIO(tail))
    assert encryption(objects, f"{PREFIX}{upload_id}/00002") == expected  # the small part
    joined = uploads.complete(upload_id)
    assert joined.digest == hashlib.sha256(big + tail).hexdigest()
    assert encryption(objects, blob_key(joined.digest)) == expected  # copied to its blob key

    parts = objects.multipart()  # the joined whole, before it is copied to its blob key
    native = parts.start("e" * 32)
    spooled = tmp_path / "part"
    spooled.write_bytes(big)
    tag = parts.put("e" * 32, native, 1, spooled)
    parts.join("e" * 32, native, [(1, len(big), tag)])
    assert encryption(objects, f"{PREFIX}{'e' * 32}/whole") == expected
    parts.abort("e" * 32, native)

    upload_id = uploads.create()  # small parts only: joined here, then put and copied
    for number, part in enumerate([b"one", b"two"], 1):
        uploads.put_part(upload_id, number, io.BytesIO(part))
    joined = uploads.complete(upload_id)
    assert encryption(objects, blob_key(joined.digest)) == expected
    with content.open(joined.digest) as handle:
        assert handle.read() == b"onetwo"


@pytest.mark.parametrize(
    ("sse", "kms", "message"),
    [
        ("AES-256", "", "must be one of AES256, aws:kms"),
        ("", KMS_KEY, "MODELYARD_S3_SSE_KMS_KEY_ID is set but MODELYARD_S3_SSE is not"),
        ("AES256", KMS_KEY, "needs MODELYARD_S3_SSE=aws:kms, not 'AES256'"),
    ],
)
def test_a_wrong_setting_is_refused(sse: str, kms: str, message: str) -> None:
    with pytest.raises(InvalidInput, match=message):
        sse_args(sse, kms)


def test_settings_become_arguments() -> None:
    assert sse_args("", "") == {}
    assert sse_args(" AES256 ", "") == {"ServerSideEncryption": "AES256"}
    assert sse_args("aws:kms", "") == {"ServerSideEncryption": "aws:kms"}  # the account's key
