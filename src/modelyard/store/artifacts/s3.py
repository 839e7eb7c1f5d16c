"""Objects in S3 or any S3-compatible server (MinIO, Ceph, moto), through boto3.

``s3://bucket/optional/prefix``; the endpoint comes from boto3's own settings
(``AWS_ENDPOINT_URL``, ``AWS_ENDPOINT_URL_S3``, profiles), credentials likewise. With
MODELYARD_S3_SSE, every object and multipart upload is created with that server-side
encryption (and MODELYARD_S3_SSE_KMS_KEY_ID's key).
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any, BinaryIO, cast

from modelyard import config
from modelyard.errors import InvalidInput, NotFound, StoreUnavailable
from modelyard.store.artifacts.base import ObjectInfo, ObjectStore
from modelyard.store.artifacts.disk import private_folder
from modelyard.store.artifacts.paths import clean_relative

if TYPE_CHECKING:
    from modelyard.store.artifacts.multipart import Multipart

MULTIPART_BYTES = 64 << 20  # boto3 switches to a parallel multipart upload above this
SSE_MODES = ("AES256", "aws:kms", "aws:kms:dsse")


def sse_args(mode: str, kms_key_id: str) -> dict[str, str]:
    """The arguments every object-creating S3 call gets for server-side encryption."""
    mode, kms_key_id = mode.strip(), kms_key_id.strip()
    if not mode:
        if kms_key_id:
            raise InvalidInput(
                "MODELYARD_S3_SSE_KMS_KEY_ID is set but MODELYARD_S3_SSE is not: set it to aws:kms",
                field="MODELYARD_S3_SSE",
            )
        return {}
    if mode not in SSE_MODES:
        raise InvalidInput(
            f"MODELYARD_S3_SSE is {mode!r}; it must be one of {', '.join(SSE_MODES)}",
            field="MODELYARD_S3_SSE",
        )
    args = {"ServerSideEncryption": mode}
    if kms_key_id:
        if not mode.startswith("aws:kms"):
            raise InvalidInput(
                f"MODELYARD_S3_SSE_KMS_KEY_ID needs MODELYARD_S3_SSE=aws:kms, not {mode!r}",
                field="MODELYARD_S3_SSE_KMS_KEY_ID",
            )
        args["SSEKMSKeyId"] = kms_key_id
    return args


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
        self.sse = sse_args(config.S3_SSE.get(), config.S3_SSE_KMS_KEY_ID.get())
        self.client: Any = boto3.client("s3")
        self._transfer = TransferConfig(
            multipart_threshold=MULTIPART_BYTES, multipart_chunksize=MULTIPART_BYTES
        )
        staging = config.STAGING_DIR.get()
        if staging:
            self.staging = private_folder(Path(staging))
        else:  # a shared place: a folder of this user's own, closed to others
            shared = Path(tempfile.gettempdir()) / f"modelyard-{os.geteuid()}"
            self.staging = private_folder(shared, owner_only=True)

    def full_key(self, key: str) -> str:
        rel = clean_relative(key)
        return f"{self.prefix}/{rel}" if self.prefix else rel

    def stat(self, key: str) -> ObjectInfo | None:
        from botocore.exceptions import ClientError

        try:
            head = self.client.head_object(Bucket=self.bucket, Key=self.full_key(key))
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") in {"404", "NoSuchKey", "NotFound"}:
                return None
            raise unavailable(exc) from exc
        return ObjectInfo(key, int(head["ContentLength"]), head["LastModified"].timestamp())

    def put_file(self, key: str, path: Path, *, durable: bool = True) -> None:
        try:
            self.client.upload_file(
                str(path),
                self.bucket,
                self.full_key(key),
                ExtraArgs=self.sse,
                Config=self._transfer,
            )
        except Exception as exc:
            raise unavailable(exc) from exc
        finally:
            path.unlink(missing_ok=True)

    def open(self, key: str) -> BinaryIO:
        from botocore.exceptions import ClientError

        try:
            body = self.client.get_object(Bucket=self.bucket, Key=self.full_key(key))["Body"]
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") in {"404", "NoSuchKey"}:
                raise NotFound(f"object {key!r} does not exist", path=key) from exc
            raise unavailable(exc) from exc
        return cast(BinaryIO, body)

    def delete(self, key: str) -> None:
        self.client.delete_object(Bucket=self.bucket, Key=self.full_key(key))

    def multipart(self) -> Multipart:
        from modelyard.store.artifacts.s3_multipart import S3Parts

        return S3Parts(self)

    def copy(self, src: str, dst: str) -> None:
        """A copy inside the bucket (S3 copies; the bytes do not pass through here)."""
        source = {"Bucket": self.bucket, "Key": self.full_key(src)}
        try:
            self.client.copy(
                source, self.bucket, self.full_key(dst), ExtraArgs=self.sse, Config=self._transfer
            )
        except Exception as exc:
            raise unavailable(exc) from exc

    def scan(self, prefix: str) -> Iterator[ObjectInfo]:
        full = f"{self.prefix}/{prefix}" if self.prefix else prefix
        strip = len(self.prefix) + 1 if self.prefix else 0
        pages = self.client.get_paginator("list_objects_v2").paginate(
            Bucket=self.bucket, Prefix=full
        )
        for page in pages:
            for obj in page.get("Contents", []):
                modified = obj["LastModified"].timestamp()
                yield ObjectInfo(obj["Key"][strip:], int(obj["Size"]), modified)


def error_code(exc: Exception) -> str:
    """The S3 error code of a botocore ClientError ("" for other errors)."""
    response = getattr(exc, "response", None) or {}
    return str(response.get("Error", {}).get("Code", ""))


def unavailable(exc: Exception) -> StoreUnavailable:
    return StoreUnavailable(f"artifact store error: {exc}")
