"""Multipart uploads on S3's own multipart API: gc ends stale sessions and aborts S3 uploads."""

from __future__ import annotations

import io
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from modelyard.errors import InvalidInput, NotFound
from modelyard.store.artifacts.s3 import S3ObjectStore
from modelyard.store.artifacts.uploads import Uploads
from modelyard.store.stores import Stores, open_stores


@pytest.fixture
def stores(
    tmp_path: Path, s3_artifacts_uri: str, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Stores]:
    monkeypatch.setenv("MODELYARD_STAGING_DIR", str(tmp_path / "staging"))
    s = open_stores(f"sqlite:///{tmp_path / 'store.db'}", s3_artifacts_uri)
    yield s
    s.close()


def open_s3_uploads(store: S3ObjectStore) -> list[Any]:
    answer = store.client.list_multipart_uploads(Bucket=store.bucket)
    return list(answer.get("Uploads", []))


def test_gc_aborts_stale_sessions_and_unrecorded_s3_uploads(
    stores: Stores, monkeypatch: pytest.MonkeyPatch
) -> None:
    objects = stores.artifacts.objects
    assert isinstance(objects, S3ObjectStore)
    uploads = Uploads(stores.artifacts)
    upload_id = uploads.create()
    uploads.put_part(upload_id, 1, io.BytesIO(os.urandom(5 << 20)))  # an S3 part
    uploads.put_part(upload_id, 2, io.BytesIO(b"small"))  # kept as an object
    monkeypatch.setenv("MODELYARD_UPLOAD_GRACE_HOURS", "24")
    assert stores.artifacts.gc(0, dry_run=False).uploads == 0  # fresh: kept
    # a server stopped before recording it (made after the check above: moto dates every
    # multipart upload in 2010, so its age cannot be tested here)
    orphan = objects.multipart().start("f" * 32)
    assert len(open_s3_uploads(objects)) == 2
    monkeypatch.setenv("MODELYARD_UPLOAD_GRACE_HOURS", "-1")
    assert stores.artifacts.gc(0, dry_run=True).uploads == 2
    assert len(open_s3_uploads(objects)) == 2
    assert stores.artifacts.gc(0, dry_run=False).uploads == 2
    assert open_s3_uploads(objects) == []
    assert list(objects.scan("uploads/")) == []
    with pytest.raises(NotFound, match="does not exist"):
        uploads.parts(upload_id)
    assert orphan


def test_a_small_part_between_large_ones_is_refused(stores: Stores) -> None:
    uploads = Uploads(stores.artifacts)
    upload_id = uploads.create()
    uploads.put_part(upload_id, 1, io.BytesIO(b"small"))
    uploads.put_part(upload_id, 2, io.BytesIO(os.urandom(5 << 20)))
    with pytest.raises(InvalidInput, match="at least 5242880 bytes"):
        uploads.complete(upload_id)
