"""The low-level client: the same calls against a server (http://) or an embedded store."""

from __future__ import annotations

import datetime as dt
import functools
import socket
import time
import weakref
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO, Literal, Protocol, Self, TypeVar

import orjson

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
    error_from_json,
)
from modelyard.tracking import transfer
from modelyard.tracking.entities import (
    Experiment,
    Lifecycle,
    MetricSummary,
    Run,
    RunPage,
    RunStatus,
)

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


def _run_from_json(d: dict[str, Any]) -> Run:
    return Run(
        id=d["id"],
        experiment_id=d["experiment_id"],
        name=d["name"],
        status=RunStatus(d["status"]),
        start_time=d["start_time"],
        end_time=d["end_time"],
        parent_id=d["parent_id"],
        user=d["user"],
        notes=d["notes"],
        lifecycle=Lifecycle(d["lifecycle"]),
        params=d["params"],
        tags=d["tags"],
        metrics={k: MetricSummary.from_json(k, m) for k, m in d["metrics"].items()},
    )


def _experiment_from_json(d: dict[str, Any]) -> Experiment:
    return Experiment(
        id=d["id"],
        name=d["name"],
        description=d["description"],
        lifecycle=Lifecycle(d["lifecycle"]),
        created_at=d["created_at"],
        updated_at=d["updated_at"],
        tags=d["tags"],
    )


class HttpBackend:
    """JSON over HTTP with keep-alive and TCP_NODELAY (no Nagle stalls on reused connections)."""

    def __init__(self, base_url: str, timeout: float | None = None) -> None:
        import httpx

        self._httpx = httpx
        transport = httpx.HTTPTransport(
            socket_options=[(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)]
        )
        self.on_close: Callable[[], object] | None = None  # stops an in-process server
        self.http = httpx.Client(
            base_url=base_url.rstrip("/"),
            timeout=timeout if timeout is not None else config.HTTP_TIMEOUT.get(),
            transport=transport,
        )

    def _send(self, method: str, path: str, **kwargs: Any) -> Any:
        try:
            response = self.http.request(method, path, **kwargs)
        except self._httpx.TransportError as exc:
            raise ServerUnreachable(f"cannot reach {self.http.base_url}: {exc}") from exc
        return self._check(response, path)

    def _check(self, response: Any, path: str) -> Any:
        """The response, or the error it carries, chained from httpx's (status, headers)."""
        status = response.status_code
        if status < 400:
            return response
        cause = self._httpx.HTTPStatusError(
            f"HTTP {status}", request=response.request, response=response
        )
        try:
            body = response.json()
        except ValueError:
            body = None
        if not isinstance(body, dict) or "error_code" not in body:
            if status >= 500:  # not modelyard's answer: a proxy, a crash, an overloaded host
                raise ServerUnreachable(
                    f"server error {status} from {self.http.base_url}{path}"
                ) from cause
            body = {"message": response.text[:500] or f"HTTP {status}"}
        raise error_from_json(status, _error_body(status, body)) from cause

    def call(
        self, method: str, path: str, body: Any = None, params: dict[str, Any] | None = None
    ) -> Any:
        content = None if body is None else orjson.dumps(body, option=orjson.OPT_SERIALIZE_NUMPY)
        headers = {"content-type": "application/json"} if content is not None else None
        response = self._send(
            method, "/api/v1" + path, content=content, params=params, headers=headers
        )
        return orjson.loads(response.content) if response.content else None

    def upload(
        self, path: str, stream: BinaryIO, *, method: str = "PUT", content_type: str | None = None
    ) -> Any:
        """Stream a body (constant memory); returns the JSON answer."""
        headers = {"content-type": content_type} if content_type else None
        response = self._send(method, "/api/v1" + path, content=_chunks(stream), headers=headers)
        return orjson.loads(response.content) if response.content else None

    def download(self, path: str) -> Iterator[bytes]:
        """The body in 1 MiB chunks as it arrives (constant memory for any size)."""
        try:
            with self.http.stream("GET", "/api/v1" + path) as response:
                if response.status_code >= 400:
                    response.read()
                self._check(response, path)
                yield from response.iter_bytes(1 << 20)
        except self._httpx.TransportError as exc:
            raise ServerUnreachable(f"cannot reach {self.http.base_url}: {exc}") from exc

    def close(self) -> None:
        self.http.close()
        if self.on_close is not None:
            self.on_close()


def _error_body(status: int, body: dict[str, Any]) -> dict[str, Any]:
    """An error body as the client rebuilds it: text code and message, details only if plain."""
    details = body.get("details")
    plain = isinstance(details, dict) and all(
        isinstance(k, str) and k.isidentifier() and k != "message" for k in details
    )
    return {
        "error_code": str(body.get("error_code", "")),
        "message": str(body.get("message") or f"HTTP {status}")[:2000],
        "details": details if plain else {},
    }


def api_backend(uri: str | None) -> HttpBackend:
    """HTTP to a server; an embedded store gets the same server in a background thread."""
    resolved = resolve_uri(uri)
    if resolved.startswith(("http://", "https://")):
        return HttpBackend(resolved)
    from contextlib import ExitStack

    from modelyard.server.app import ServerSettings
    from modelyard.server.background import serve_in_background
    from modelyard.store.metadata.database import normalize_url
    from modelyard.tracking.local_client import artifacts_beside

    url = normalize_url(resolved)
    stack = ExitStack()
    base = stack.enter_context(serve_in_background(ServerSettings(url, artifacts_beside(url))))
    backend = HttpBackend(base)
    backend.on_close = stack.close  # stops the server, whose shut-down closes the stores
    return backend


class ApiClient:
    """Base of the SDK clients that speak modelyard's REST API (to a server or in process)."""

    def __init__(self, uri: str | None = None) -> None:
        self.backend = api_backend(uri)

    def close(self) -> None:
        self.backend.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def quote_part(part: str) -> str:
    """One path segment of a URL (a model or dataset name may hold any character)."""
    from urllib.parse import quote

    return quote(part, safe="")


def _chunks(stream: BinaryIO, size: int = 1 << 20) -> Iterator[bytes]:
    while chunk := stream.read(size):
        yield chunk


class Client:
    """Typed calls on experiments, runs, metrics and artifacts.

    ``Client(uri)`` returns an HttpClient for http(s):// URIs and a LocalClient (the embedded
    store in this process) otherwise; both have exactly these methods. Reads of runs first send
    what the SDK of this process buffered for the same URI, so they see its writes.
    """

    uri: str

    def __new__(cls, uri: str | None = None) -> Client:
        if cls is Client:
            resolved = resolve_uri(uri)
            if is_http(resolved):
                return object.__new__(HttpClient)
            from modelyard.tracking.local_client import LocalClient

            return object.__new__(LocalClient)
        return object.__new__(cls)

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

    # The calls; each subclass implements all of them.
    def create_experiment(
        self, name: str, description: str = "", tags: dict[str, str] | None = None
    ) -> Experiment:
        raise NotImplementedError

    def get_experiment(self, experiment_id: int) -> Experiment:
        raise NotImplementedError

    def get_experiment_by_name(self, name: str) -> Experiment:
        raise NotImplementedError

    def list_experiments(self, view: str = "active") -> list[Experiment]:
        raise NotImplementedError

    def delete_experiment(self, experiment_id: int) -> Experiment:
        raise NotImplementedError

    def restore_experiment(self, experiment_id: int) -> Experiment:
        raise NotImplementedError

    def get_run(self, run_id: str) -> Run:
        raise NotImplementedError

    def delete_run(self, run_id: str) -> None:
        raise NotImplementedError

    def restore_run(self, run_id: str) -> None:
        raise NotImplementedError

    def search_runs(
        self,
        experiment_ids: list[int] | None = None,
        filter: str | None = None,
        order_by: list[str] | None = None,
        max_results: int = 1000,
        page_token: str | None = None,
        view: str = "active",
    ) -> RunPage:
        raise NotImplementedError

    def metric_history(
        self, run_id: str, key: str, max_points: int | None = None
    ) -> dict[str, Any]:
        """{"key", "steps", "values", "timestamps", "total"}; values are floats (NaN kept)."""
        raise NotImplementedError

    def ingest(self, batches: list[dict[str, Any]]) -> dict[str, int]:
        """Send wire-format batches (see RunBatchIn in the API docs); all apply or none."""
        raise NotImplementedError

    def log_artifact(
        self, run_id: str, local_path: str | Path, artifact_path: str | None = None
    ) -> int:
        raise NotImplementedError

    def log_artifacts(self, run_id: str, files: dict[str, Path]) -> int:
        """Upload many files at once (``{artifact path: local file}``); returns the count."""
        raise NotImplementedError

    def list_artifacts(self, run_id: str, path: str = "") -> list[dict[str, Any]]:
        raise NotImplementedError

    def download_artifact(self, run_id: str, path: str, dest: str | Path) -> Path:
        raise NotImplementedError

    def gc(self, older_than_seconds: float = 0.0, dry_run: bool = True) -> dict[str, Any]:
        raise NotImplementedError

    def close(self) -> None:
        raise NotImplementedError


class HttpClient(Client):
    """The client of a modelyard server."""

    def __init__(self, uri: str | None = None) -> None:
        self.uri = resolve_uri(uri)
        self.backend = HttpBackend(self.uri)

    # experiments
    def create_experiment(
        self, name: str, description: str = "", tags: dict[str, str] | None = None
    ) -> Experiment:
        body = {"name": name, "description": description, "tags": tags or {}}
        return _experiment_from_json(self.backend.call("POST", "/experiments", body))

    def get_experiment(self, experiment_id: int) -> Experiment:
        return _experiment_from_json(self.backend.call("GET", f"/experiments/{experiment_id}"))

    def get_experiment_by_name(self, name: str) -> Experiment:
        from urllib.parse import quote

        return _experiment_from_json(
            self.backend.call("GET", f"/experiments/by-name/{quote(name, safe='')}")
        )

    def list_experiments(self, view: str = "active") -> list[Experiment]:
        rows = self.backend.call("GET", "/experiments", params={"view": view})
        return [_experiment_from_json(e) for e in rows]

    def delete_experiment(self, experiment_id: int) -> Experiment:
        return _experiment_from_json(self.backend.call("DELETE", f"/experiments/{experiment_id}"))

    def restore_experiment(self, experiment_id: int) -> Experiment:
        return _experiment_from_json(
            self.backend.call("POST", f"/experiments/{experiment_id}/restore")
        )

    # runs
    def get_run(self, run_id: str) -> Run:
        return _run_from_json(self.backend.call("GET", f"/runs/{run_id}"))

    def delete_run(self, run_id: str) -> None:
        self.backend.call("DELETE", f"/runs/{run_id}")

    def restore_run(self, run_id: str) -> None:
        self.backend.call("POST", f"/runs/{run_id}/restore")

    def search_runs(
        self,
        experiment_ids: list[int] | None = None,
        filter: str | None = None,
        order_by: list[str] | None = None,
        max_results: int = 1000,
        page_token: str | None = None,
        view: str = "active",
    ) -> RunPage:
        body = {
            "experiment_ids": experiment_ids,
            "filter": filter,
            "order_by": order_by or [],
            "max_results": max_results,
            "page_token": page_token,
            "view": view,
        }
        page = self.backend.call("POST", "/runs/search", body)
        return RunPage([_run_from_json(r) for r in page["runs"]], page["next_page_token"])

    def metric_history(
        self, run_id: str, key: str, max_points: int | None = None
    ) -> dict[str, Any]:
        params: dict[str, Any] = {"key": key}
        if max_points is not None:
            params["max_points"] = max_points
        data: dict[str, Any] = self.backend.call(
            "GET", f"/runs/{run_id}/metrics/history", params=params
        )
        data["values"] = [float(v) for v in data["values"]]
        return data

    def ingest(self, batches: list[dict[str, Any]]) -> dict[str, int]:
        result: dict[str, int] = self.backend.call("POST", "/ingest", {"batches": batches})
        return result

    # artifacts
    def log_artifact(
        self, run_id: str, local_path: str | Path, artifact_path: str | None = None
    ) -> int:
        local = Path(local_path)
        target = artifact_path or local.name
        if local.stat().st_size > transfer.PACK_MEMBER_MAX:  # sent only if new; big ones in parts
            self.log_artifacts(run_id, {target: local})
            return local.stat().st_size
        with local.open("rb") as handle:
            result = self.backend.upload(f"/runs/{run_id}/artifacts/{target}", handle)
        return int(result["size"])

    def log_artifacts(self, run_id: str, files: dict[str, Path]) -> int:
        sent = transfer.Uploader(self.backend).upload(files)
        body = {"files": {name: f.digest for name, f in sent.items()}}
        linked: int = self.backend.call("POST", f"/runs/{run_id}/artifacts", body)["linked"]
        return linked

    def list_artifacts(self, run_id: str, path: str = "") -> list[dict[str, Any]]:
        rows: list[dict[str, Any]] = self.backend.call(
            "GET", f"/runs/{run_id}/artifacts", params={"path": path}
        )
        return rows

    def download_artifact(self, run_id: str, path: str, dest: str | Path) -> Path:
        out = Path(dest)
        out.parent.mkdir(parents=True, exist_ok=True)
        with out.open("wb") as handle:
            for chunk in self.backend.download(f"/runs/{run_id}/artifacts/{path}"):
                handle.write(chunk)
        return out

    def gc(self, older_than_seconds: float = 0.0, dry_run: bool = True) -> dict[str, Any]:
        body = {"older_than_seconds": older_than_seconds, "dry_run": dry_run}
        report: dict[str, Any] = self.backend.call("POST", "/gc", body)
        return report

    def close(self) -> None:
        self.backend.close()
