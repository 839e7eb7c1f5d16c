"""Objects in S3 or any S3-compatible server (MinIO, Ceph, moto), through boto3.

``s3://bucket/optional/prefix``; the endpoint comes from boto3's own settings
(``AWS_ENDPOINT_URL``, ``AWS_ENDPOINT_URL_S3``, profiles), credentials likewise.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any, BinaryIO, cast

from modelyard import config
from modelyard.errors import InvalidInput, NotFound, StoreUnavailable
from modelyard.store.artifacts.base import ObjectInfo, ObjectStore
from modelyard.store.artifacts.disk import private_folder
from modelyard.store.artifacts.paths import clean_relative

MULTIPART_BYTES = 64 << 20  # boto3 switches to a parallel multipart upload above this


class S3ObjectStore(ObjectStore):
    def __init__(self, uri: str) -> None:
        import boto3
        from boto3.s3.transfer import TransferConfig

        self.uri = uri
        rest = uri[len("s3://") :]
        self.bucket, _, prefix = rest.partition("/")
        if not self.bucket:
            raise InvalidInput(f"S3 artifact URI {uri!r} names no bucket")
        self.prefix = clean_relative(prefix, allow_empty=True)
        self._s3: Any = boto3.client("s3")
        self._transfer = TransferConfig(
            multipart_threshold=MULTIPART_BYTES, multipart_chunksize=MULTIPART_BYTES
        )
        staging = config.STAGING_DIR.get()
        if staging:
            self.staging = private_folder(Path(staging))
        else:  # a shared place: a folder of this user's own, closed to others
            shared = Path(tempfile.gettempdir()) / f"modelyard-{os.geteuid()}"
            self.staging = private_folder(shared, owner_only=True)

    def _key(self, key: str) -> str:
        rel = clean_relative(key)
        return f"{self.prefix}/{rel}" if self.prefix else rel

    def stat(self, key: str) -> ObjectInfo | None:
        from botocore.exceptions import ClientError

        try:
            head = self._s3.head_object(Bucket=self.bucket, Key=self._key(key))
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") in {"404", "NoSuchKey", "NotFound"}:
                return None
            raise _unavailable(exc) from exc
        return ObjectInfo(key, int(head["ContentLength"]), head["LastModified"].timestamp())

    def put_file(self, key: str, path: Path) -> None:
        try:
            self._s3.upload_file(str(path), self.bucket, self._key(key), Config=self._transfer)
        except Exception as exc:
            raise _unavailable(exc) from exc
        finally:
            path.unlink(missing_ok=True)

    def open(self, key: str) -> BinaryIO:
        from botocore.exceptions import ClientError

        try:
            body = self._s3.get_object(Bucket=self.bucket, Key=self._key(key))["Body"]
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") in {"404", "NoSuchKey"}:
                raise NotFound(f"object {key!r} does not exist", path=key) from exc
            raise _unavailable(exc) from exc
        return cast(BinaryIO, body)

    def delete(self, key: str) -> None:
        self._s3.delete_object(Bucket=self.bucket, Key=self._key(key))

    def scan(self, prefix: str) -> Iterator[ObjectInfo]:
        full = f"{self.prefix}/{prefix}" if self.prefix else prefix
        strip = len(self.prefix) + 1 if self.prefix else 0
        pages = self._s3.get_paginator("list_objects_v2").paginate(Bucket=self.bucket, Prefix=full)
        for page in pages:
            for obj in page.get("Contents", []):
                modified = obj["LastModified"].timestamp()
                yield ObjectInfo(obj["Key"][strip:], int(obj["Size"]), modified)


def _unavailable(exc: Exception) -> StoreUnavailable:
    return StoreUnavailable(f"artifact store error: {exc}")
