"""Multipart uploads on S3's own multipart upload, so no part waits on a replica's disk.

Parts of at least 5 MiB go to S3 as parts (``upload_part``); smaller ones, which S3 accepts
only as the last part, are kept as objects ``uploads/<id>/<number>`` and copied in as the
last part, or, when every part is small, joined here. The whole is completed under
``uploads/<id>/whole``, read once to learn its sha256 (S3 computes none for a multipart
object), then copied inside the bucket to its blob key (see docs/design.md).
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from modelyard.errors import InvalidInput, NotFound
from modelyard.store.artifacts.blobs import Blob
from modelyard.store.artifacts.disk import writing
from modelyard.store.artifacts.multipart import Multipart, hash_stream, join_streams
from modelyard.store.artifacts.s3 import S3ObjectStore, error_code, unavailable

MIN_PART = 5 << 20  # S3 refuses a smaller part unless it is the last
PREFIX = "uploads/"


class S3Parts(Multipart):
    def __init__(self, store: S3ObjectStore) -> None:
        self.store = store
        self.client: Any = store.client

    def _call(self, method: str, upload_id: str, **kw: Any) -> Any:
        try:
            return getattr(self.client, method)(Bucket=self.store.bucket, **kw)
        except Exception as exc:
            if error_code(exc) == "NoSuchUpload":
                raise NotFound(f"upload {upload_id} is no longer open on S3") from exc
            raise unavailable(exc) from exc

    def _whole(self, upload_id: str) -> str:
        return f"{PREFIX}{upload_id}/whole"

    def _small(self, upload_id: str, number: int) -> str:
        return f"{PREFIX}{upload_id}/{number:05d}"

    def start(self, upload_id: str) -> str:
        key = self.store.full_key(self._whole(upload_id))
        answer = self._call("create_multipart_upload", upload_id, Key=key, **self.store.sse)
        return str(answer["UploadId"])

    def put(self, upload_id: str, native: str, number: int, path: Path) -> str:
        try:
            if path.stat().st_size < MIN_PART:
                self.store.put_file(self._small(upload_id, number), path)
                return ""  # no tag: a small part kept as an object
            key = self.store.full_key(self._whole(upload_id))
            with path.open("rb") as body:
                answer = self._call(
                    "upload_part",
                    upload_id,
                    Key=key,
                    UploadId=native,
                    PartNumber=number,
                    Body=body,
                )
            return str(answer["ETag"])
        finally:
            path.unlink(missing_ok=True)

    def join(self, upload_id: str, native: str, parts: Sequence[tuple[int, int, str]]) -> Blob:
        whole = self._whole(upload_id)
        if self.store.stat(whole) is None:  # not joined by an earlier complete
            small = [number for number, _, tag in parts if not tag]
            if len(small) == len(parts) > 1:
                return self._join_here(upload_id, [n for n, _, _ in parts])
            if small and small != [parts[-1][0]]:
                raise InvalidInput(
                    f"upload {upload_id}: on S3 every part but the last must hold at least "
                    f"{MIN_PART} bytes; parts {small[:20]} are smaller"
                )
            self._complete(upload_id, native, parts)
        with self.store.open(whole) as body:
            return hash_stream(body)

    def _complete(self, upload_id: str, native: str, parts: Sequence[tuple[int, int, str]]) -> None:
        key = self.store.full_key(self._whole(upload_id))
        listed = []
        for number, _, tag in parts:
            if not tag:  # the small last part, copied in by S3
                source = {
                    "Bucket": self.store.bucket,
                    "Key": self.store.full_key(self._small(upload_id, number)),
                }
                copied = self._call(
                    "upload_part_copy",
                    upload_id,
                    Key=key,
                    UploadId=native,
                    PartNumber=number,
                    CopySource=source,
                )
                tag = str(copied["CopyPartResult"]["ETag"])
            listed.append({"PartNumber": number, "ETag": tag})
        self._call(
            "complete_multipart_upload",
            upload_id,
            Key=key,
            UploadId=native,
            MultipartUpload={"Parts": listed},
        )

    def _join_here(self, upload_id: str, numbers: list[int]) -> Blob:
        """Small parts only: read them once, hashing, and store the whole."""
        what = f"upload {upload_id}"
        with writing(what):
            fd, tmp = tempfile.mkstemp(dir=self.store.staging, prefix="joined-")
        try:
            with writing(what), os.fdopen(fd, "wb") as out:
                readers = (self.store.open(self._small(upload_id, n)) for n in numbers)
                blob = join_streams(readers, out)
            self.store.put_file(self._whole(upload_id), Path(tmp))
        finally:
            Path(tmp).unlink(missing_ok=True)
        return blob

    def keep(self, upload_id: str, key: str) -> None:
        self.store.copy(self._whole(upload_id), key)

    def abort(self, upload_id: str, native: str) -> None:
        if native:
            try:
                key = self.store.full_key(self._whole(upload_id))
                self._call("abort_multipart_upload", upload_id, Key=key, UploadId=native)
            except NotFound:
                pass  # completed or aborted already
        for info in list(self.store.scan(f"{PREFIX}{upload_id}/")):
            self.store.delete(info.key)

    def sweep(self, cutoff: float, known: set[str], *, dry_run: bool) -> int:
        """S3 uploads and part objects older than ``cutoff`` that no session names (a server
        stopped between starting one and recording it)."""
        prefix = self.store.full_key(PREFIX.rstrip("/")) + "/"
        found: dict[str, str] = {}
        pages = self.client.get_paginator("list_multipart_uploads").paginate(
            Bucket=self.store.bucket, Prefix=prefix
        )
        for page in pages:
            for upload in page.get("Uploads", []):
                upload_id = upload["Key"][len(prefix) :].split("/", 1)[0]
                if upload_id not in known and upload["Initiated"].timestamp() < cutoff:
                    found[upload_id] = upload["UploadId"]
        for info in self.store.scan(PREFIX):
            upload_id = info.key[len(PREFIX) :].split("/", 1)[0]
            if upload_id not in known and info.modified < cutoff:
                found.setdefault(upload_id, "")
        if not dry_run:
            for upload_id, native in found.items():
                self.abort(upload_id, native)
        return len(found)
