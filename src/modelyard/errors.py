"""The one exception tree of modelyard.

Every error has a stable ``code`` (sent as ``error_code`` in JSON) and an HTTP ``status``::

    ModelyardError                    INTERNAL_ERROR            500
    ├── InvalidInput                  INVALID_PARAMETER_VALUE   400
    │   ├── MalformedRequest          MALFORMED_REQUEST         400
    │   ├── BadFilter                 INVALID_FILTER            400
    │   ├── PathNotAllowed            PATH_NOT_ALLOWED          400
    │   ├── DigestMismatch            DIGEST_MISMATCH           400
    │   ├── UnsafeArchive             UNSAFE_ARCHIVE            400
    │   ├── HostNotAllowed            HOST_NOT_ALLOWED          400
    │   └── UnsupportedMediaType      UNSUPPORTED_MEDIA_TYPE    415
    ├── Unauthenticated               UNAUTHENTICATED           401
    ├── PermissionDenied              PERMISSION_DENIED         403
    ├── NotTrusted                    NOT_TRUSTED               403
    ├── CrossSiteRequest              CROSS_SITE_REQUEST        403
    ├── NotFound                      RESOURCE_DOES_NOT_EXIST   404
    ├── AlreadyExists                 RESOURCE_ALREADY_EXISTS   409
    ├── Conflict                      CONFLICT                  409
    │   ├── ParamConflict             PARAM_CONFLICT            409
    │   ├── InvalidState              INVALID_STATE             409
    │   └── GateFailed                GATE_FAILED               409
    ├── PayloadTooLarge               PAYLOAD_TOO_LARGE         413
    ├── RateLimited                   RATE_LIMITED              429
    ├── StorageFull                   STORAGE_FULL              507
    ├── ArtifactUnreadable            ARTIFACT_UNREADABLE       500
    ├── PredictionFailed              PREDICTION_FAILED         500
    ├── StoreUnavailable              STORE_UNAVAILABLE         503
    │   ├── SchemaOutdated            SCHEMA_OUTDATED           503
    │   └── NotReady                  NOT_READY                 503
    └── ServerUnreachable             SERVER_UNREACHABLE        503  (client side only)
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar


def printable(text: str) -> str:
    """``text`` as valid UTF-8, for messages that name what a program was given: bytes kept as
    lone surrogates (``surrogateescape``, as for undecodable file names) read ``\\xff``, any
    other lone surrogate ``\\ud800``. Valid text comes back as it is."""
    try:
        text.encode()
    except UnicodeEncodeError:
        try:
            return text.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")
        except UnicodeEncodeError:
            return text.encode("utf-8", "backslashreplace").decode()
    return text


def error_json(code: str, message: str, details: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """The one native JSON shape of an error: ``{"error_code", "message"[, "details"]}``."""
    body: dict[str, Any] = {"error_code": code, "message": message}
    if details:
        body["details"] = dict(details)
    return body


class ModelyardError(Exception):
    """Base of every modelyard error."""

    code: ClassVar[str] = "INTERNAL_ERROR"
    status: ClassVar[int] = 500

    def __init__(self, message: str, **details: Any) -> None:
        message = printable(str(message))  # shown, logged and sent as JSON: always valid text
        super().__init__(message)
        self.message = message
        self.details = {k: printable(v) if isinstance(v, str) else v for k, v in details.items()}

    def to_json(self) -> dict[str, Any]:
        """This error in the native shape."""
        return error_json(self.code, self.message, self.details)


class InvalidInput(ModelyardError):
    """A value sent by the caller breaks a documented rule."""

    code = "INVALID_PARAMETER_VALUE"
    status = 400


class MalformedRequest(InvalidInput):
    """The request body is not parseable (bad JSON, wrong shape)."""

    code = "MALFORMED_REQUEST"


class BadFilter(InvalidInput):
    """A search filter or order-by clause does not parse; ``details.position`` says where."""

    code = "INVALID_FILTER"


class PathNotAllowed(InvalidInput):
    """An artifact path would leave its root or is not a plain relative path."""

    code = "PATH_NOT_ALLOWED"


class DigestMismatch(InvalidInput):
    """Uploaded bytes do not hash to the digest the client announced; nothing was kept."""

    code = "DIGEST_MISMATCH"


class UnsafeArchive(InvalidInput):
    """An archive member would leave its folder, is a link or device, or breaks a size cap."""

    code = "UNSAFE_ARCHIVE"


class HostNotAllowed(InvalidInput):
    """The request's Host header is not one this server answers to (DNS rebinding guard)."""

    code = "HOST_NOT_ALLOWED"


class UnsupportedMediaType(InvalidInput):
    """A write sent a body that is not JSON to a route that takes only JSON."""

    code = "UNSUPPORTED_MEDIA_TYPE"
    status = 415


class CrossSiteRequest(ModelyardError):
    """A write from another web origin (its ``Origin`` is not this server's): refused."""

    code = "CROSS_SITE_REQUEST"
    status = 403


class Unauthenticated(ModelyardError):
    """The route needs a caller who proved who they are (a token, a password or a session)."""

    code = "UNAUTHENTICATED"
    status = 401


class PermissionDenied(ModelyardError):
    """The caller is known but lacks the role (or the token the scope) the route needs."""

    code = "PERMISSION_DENIED"
    status = 403


class NotTrusted(ModelyardError):
    """A model in a format that can run code on load, and nobody marked its digest trusted."""

    code = "NOT_TRUSTED"
    status = 403


class NotFound(ModelyardError):
    """The named experiment, run or artifact does not exist."""

    code = "RESOURCE_DOES_NOT_EXIST"
    status = 404


class AlreadyExists(ModelyardError):
    """A resource with that unique name already exists."""

    code = "RESOURCE_ALREADY_EXISTS"
    status = 409


class Conflict(ModelyardError):
    """The request conflicts with what is stored."""

    code = "CONFLICT"
    status = 409


class ParamConflict(Conflict):
    """A param was already logged on this run with a different value."""

    code = "PARAM_CONFLICT"


class InvalidState(Conflict):
    """The resource is in a state that forbids this change (e.g. a deleted run)."""

    code = "INVALID_STATE"


class GateFailed(Conflict):
    """A promotion rule on the version's metrics does not hold; ``details.rules`` says which."""

    code = "GATE_FAILED"


class PayloadTooLarge(ModelyardError):
    """The request body exceeds the server's limit."""

    code = "PAYLOAD_TOO_LARGE"
    status = 413


class RateLimited(ModelyardError):
    """The caller sent more than its share; ``details.retry_after`` (and ``Retry-After``) say
    how many seconds to wait."""

    code = "RATE_LIMITED"
    status = 429


class StorageFull(ModelyardError):
    """The artifact store cannot take more bytes (disk full, quota, read-only folder)."""

    code = "STORAGE_FULL"
    status = 507


class ArtifactUnreadable(ModelyardError):
    """A stored object fails its integrity check: changed on disk, or sealed with a key the
    server does not hold (MODELYARD_ARTIFACTS_KEYS)."""

    code = "ARTIFACT_UNREADABLE"
    status = 500


class PredictionFailed(ModelyardError):
    """The model raised on input that passed its signature; the server logs it and goes on."""

    code = "PREDICTION_FAILED"
    status = 500


class StoreUnavailable(ModelyardError):
    """The metadata store cannot be reached."""

    code = "STORE_UNAVAILABLE"
    status = 503


class SchemaOutdated(StoreUnavailable):
    """The database schema is older than this version of modelyard."""

    code = "SCHEMA_OUTDATED"


class NotReady(StoreUnavailable):
    """A serving process has no model version ready for this request yet."""

    code = "NOT_READY"


class ServerUnreachable(ModelyardError):
    """The tracking server did not answer (connection refused, timeout, 5xx)."""

    code = "SERVER_UNREACHABLE"
    status = 503


_BY_CODE: dict[str, type[ModelyardError]] = {}


def _register(cls: type[ModelyardError]) -> None:
    _BY_CODE.setdefault(cls.code, cls)
    for sub in cls.__subclasses__():
        _register(sub)


_register(ModelyardError)


def error_from_json(status: int, body: dict[str, Any]) -> ModelyardError:
    """Rebuild the error a server sent, so clients raise the same classes as the store."""
    cls = _BY_CODE.get(str(body.get("error_code")), ModelyardError)
    details = body.get("details") or {}
    return cls(str(body.get("message", f"HTTP {status}")), **details)


def all_error_classes() -> list[type[ModelyardError]]:
    """Every class of the tree (used by the docs test)."""
    return list(dict.fromkeys(_BY_CODE.values()))
