"""The low-level client: one interface for a server (http://) and an embedded store.

``client_for(uri)`` in ``tracking/clients.py`` picks the implementation (``my.Client(uri)``).
"""

from __future__ import annotations

import datetime as dt
import functools
import time
import weakref
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, Protocol, TypeVar

from modelyard import config
from modelyard.errors import (
    Conflict,
    InvalidInput,
    InvalidState,
    MalformedRequest,
    ModelyardError,
    NotFound,
    ParamConflict,
    PathNotAllowed,
    ServerUnreachable,
)
from modelyard.tracking.entities import Experiment, Run, RunPage

F = TypeVar("F", bound=Callable[..., Any])


class PendingWrites(Protocol):
    """Something that buffers writes for a URI (the SDK's batcher)."""

    uri: str

    def flush(self) -> None: ...


_buffers: weakref.WeakSet[Any] = weakref.WeakSet()


def register_buffer(buffer: PendingWrites) -> None:
    """Reads through any client of this process flush ``buffer`` first (read your writes)."""
    _buffers.add(buffer)


def _reads_own_writes(method: F) -> F:
    @functools.wraps(method)
    def settled(self: Client, *args: Any, **kwargs: Any) -> Any:
        for buffer in list(_buffers):
            if buffer.uri == self.uri:
                buffer.flush()
        return method(self, *args, **kwargs)

    return settled  # type: ignore[return-value]


# Client methods that read runs: they see every write this process logged before the call.
_RUN_READS = ("get_run", "search_runs", "metric_history", "list_artifacts", "download_artifact")


def resolve_uri(uri: str | None = None) -> str:
    """The explicit URI, else MODELYARD_TRACKING_URI, else the embedded store in MODELYARD_HOME."""
    return uri or config.TRACKING_URI.get() or config.default_store_uri()


def is_http(uri: str) -> bool:
    return uri.startswith(("http://", "https://"))


# Codes by which a server refuses what a request carries: the same batch can never succeed.
_REFUSED_CODES: dict[int, frozenset[str]] = {
    400: frozenset({InvalidInput.code, MalformedRequest.code, PathNotAllowed.code}),
    422: frozenset({InvalidInput.code, MalformedRequest.code, PathNotAllowed.code}),
    404: frozenset({NotFound.code}),
    409: frozenset({Conflict.code, ParamConflict.code, InvalidState.code}),
}
MAX_RETRY_AFTER = 300.0  # seconds; a longer Retry-After counts as this


@dataclass(frozen=True, slots=True)
class Refusal:
    """Why a request was not taken: HTTP status (0: no answer), error code, message."""

    status: int
    error_code: str
    message: str
    retry_after: float | None = None  # seconds the server asked for (Retry-After)

    @property
    def action(self) -> Literal["set_aside", "split", "retry"]:
        """``set_aside``: the content is refused; ``split``: too large; ``retry``: all else."""
        if self.status == 413:
            return "split"
        if self.error_code in _REFUSED_CODES.get(self.status, ()):
            return "set_aside"
        return "retry"  # unreachable, 401, 403, 408, 429, 5xx, or an answer not from modelyard

    def to_json(self) -> dict[str, Any]:
        return {"status": self.status, "error_code": self.error_code, "message": self.message}

    def __str__(self) -> str:
        where = f"HTTP {self.status} " if self.status else ""
        return f"{where}{self.error_code}: {self.message}"


def refusal(exc: ModelyardError) -> Refusal:
    """What a failed call says about its request, from the server's answer when there was one."""
    import httpx

    status, retry_after = exc.status, None
    if isinstance(exc, ServerUnreachable):
        status = 0
    cause = exc.__cause__
    if isinstance(cause, httpx.HTTPStatusError):  # chained by HttpBackend: the real answer
        status = cause.response.status_code
        retry_after = _retry_after(cause.response.headers.get("retry-after"))
    return Refusal(status, exc.code, exc.message, retry_after)


def _retry_after(value: str | None) -> float | None:
    """Seconds from a Retry-After header (a number or an HTTP date), capped; None if absent."""
    if not value:
        return None
    try:
        seconds = float(value)
    except ValueError:
        from email.utils import parsedate_to_datetime

        try:
            when = parsedate_to_datetime(value)
        except (TypeError, ValueError):
            return None
        if when.tzinfo is None:
            when = when.replace(tzinfo=dt.UTC)
        seconds = when.timestamp() - time.time()
    if seconds != seconds:  # NaN
        return None
    return min(max(seconds, 0.0), MAX_RETRY_AFTER)


class Client(ABC):
    """Typed calls on experiments, runs, metrics and artifacts.

    HttpClient (a server) and LocalClient (the embedded store, in process) implement exactly
    these methods. Reads of runs first send what the SDK of this process buffered for the same
    URI, so they see its writes.
    """

    uri: str

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        for name in _RUN_READS:
            if name in cls.__dict__:
                setattr(cls, name, _reads_own_writes(cls.__dict__[name]))

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def iter_runs(self, **kwargs: Any) -> Iterator[Run]:
        """Every matching run, following page tokens."""
        token = None
        while True:
            page = self.search_runs(page_token=token, **kwargs)
            yield from page.runs
            token = page.next_page_token
            if token is None:
                return

    def wait_ready(self, timeout: float = 10.0) -> None:
        """Block until the store answers (used by the CLI and tests)."""
        deadline = time.monotonic() + timeout
        while True:
            try:
                self.list_experiments()
                return
            except ModelyardError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.05)

    # The calls; each implementation has all of them.
    @abstractmethod
    def create_experiment(
        self, name: str, description: str = "", tags: dict[str, str] | None = None
    ) -> Experiment: ...

    @abstractmethod
    def get_experiment(self, experiment_id: int) -> Experiment: ...

    @abstractmethod
    def get_experiment_by_name(self, name: str) -> Experiment: ...

    @abstractmethod
    def list_experiments(self, view: str = "active") -> list[Experiment]: ...

    @abstractmethod
    def delete_experiment(self, experiment_id: int) -> Experiment: ...

    @abstractmethod
    def restore_experiment(self, experiment_id: int) -> Experiment: ...

    @abstractmethod
    def get_run(self, run_id: str) -> Run: ...

    @abstractmethod
    def delete_run(self, run_id: str) -> None: ...

    @abstractmethod
    def restore_run(self, run_id: str) -> None: ...

    @abstractmethod
    def search_runs(
        self,
        experiment_ids: list[int] | None = None,
        filter: str | None = None,
        order_by: list[str] | None = None,
        max_results: int = 1000,
        page_token: str | None = None,
        view: str = "active",
    ) -> RunPage: ...

    @abstractmethod
    def metric_history(
        self, run_id: str, key: str, max_points: int | None = None
    ) -> dict[str, Any]:
        """{"key", "steps", "values", "timestamps", "total"}; values are floats (NaN kept)."""
        ...

    @abstractmethod
    def ingest(self, batches: list[dict[str, Any]]) -> dict[str, int]:
        """Send wire-format batches (see RunBatchIn in the API docs); all apply or none."""
        ...

    @abstractmethod
    def log_artifact(
        self, run_id: str, local_path: str | Path, artifact_path: str | None = None
    ) -> int: ...

    @abstractmethod
    def log_artifacts(self, run_id: str, files: dict[str, Path]) -> int:
        """Upload many files at once (``{artifact path: local file}``); returns the count."""
        ...

    @abstractmethod
    def list_artifacts(self, run_id: str, path: str = "") -> list[dict[str, Any]]: ...

    @abstractmethod
    def download_artifact(self, run_id: str, path: str, dest: str | Path) -> Path: ...

    @abstractmethod
    def gc(self, older_than_seconds: float = 0.0, dry_run: bool = True) -> dict[str, Any]: ...

    @abstractmethod
    def close(self) -> None: ...
