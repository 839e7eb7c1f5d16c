"""Where an import may read artifacts: the source server's own artifact API, or local roots.

A source server says where each run's artifacts are (``artifact_uri``). That is data, never
a place to go: only ``mlflow-artifacts`` locations (or ``http(s)`` URLs of its artifact API)
on the host and port given with ``--from`` are read, through one client that follows no
redirect; local files only under roots the user named; everything else (``file:`` elsewhere,
other hosts, ``s3://``) is refused. Every name a listing returns is checked before use.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol
from urllib.parse import quote, urlsplit
from urllib.request import url2pathname

from modelyard.errors import ModelyardError, PathNotAllowed, ServerUnreachable
from modelyard.store.artifacts.paths import clean_relative, resolve_under

PROXY = "/api/2.0/mlflow-artifacts/artifacts"  # the source server's artifact API


@dataclass(frozen=True, slots=True)
class SourceFile:
    name: str  # as the source listed it: checked by segment() before use
    is_dir: bool
    size: int | None


class ArtifactFolder(Protocol):
    """One owner's artifacts at the source (a run's, a logged model's), read-only."""

    def list(self, folder: str) -> list[SourceFile]: ...

    def fetch(self, path: str, dest: Path) -> None: ...


def segment(name: str) -> str:
    """A listed name must be one plain file name: no '/', '..', NUL, backslash, even encoded."""
    if not name or "/" in name or "/" in clean_relative(name):
        raise PathNotAllowed(f"listed name {name!r} is not a single file name", path=name)
    return name


def join(*parts: str) -> str:
    return "/".join(p for p in parts if p)


class _ProxiedFolder:
    """A folder of the source server's mlflow-artifacts API, through the client on --from."""

    def __init__(self, http: Any, root: str) -> None:
        self.http = http  # an httpx.Client on --from that follows no redirects
        self.root = root

    def _get(self, url: str, **kwargs: Any) -> Any:
        import httpx

        try:
            return self.http.send(self.http.build_request("GET", url, **kwargs), stream=True)
        except httpx.TransportError as exc:
            raise ServerUnreachable(f"cannot reach {self.http.base_url}: {exc}") from exc

    def _check(self, response: Any, key: str) -> None:
        if response.status_code == 200:
            return
        response.close()
        where = response.headers.get("location")
        why = f"redirect to {where!r}, not followed" if where else f"HTTP {response.status_code}"
        raise ModelyardError(f"the source answered {why} for artifacts {key!r}")

    def list(self, folder: str) -> list[SourceFile]:
        key = join(self.root, folder)
        response = self._get(PROXY, params={"path": key})
        self._check(response, key)
        try:
            response.read()
            data = response.json()
        except ValueError as exc:
            raise ModelyardError(f"the source's listing of {key!r} is not JSON") from exc
        finally:
            response.close()
        files = (data.get("files") if isinstance(data, dict) else None) or []
        return [
            SourceFile(str(f.get("path", "")), bool(f.get("is_dir")), _size(f.get("file_size")))
            for f in files
            if isinstance(f, dict)
        ]

    def fetch(self, path: str, dest: Path) -> None:
        key = join(self.root, path)
        response = self._get(f"{PROXY}/{quote(key)}")
        try:
            self._check(response, key)
            with dest.open("wb") as handle:
                for chunk in response.iter_bytes(1 << 20):
                    handle.write(chunk)
        finally:
            response.close()


def _size(raw: Any) -> int | None:
    try:
        return int(raw) if raw is not None else None
    except (TypeError, ValueError):
        return None


class _LocalFolder:
    """A folder under a local root the user allowed; symlinks may not lead out of that root."""

    def __init__(self, allowed: Path, base: str) -> None:
        self.allowed = allowed
        self.base = base

    def list(self, folder: str) -> list[SourceFile]:
        target = resolve_under(self.allowed, join(self.base, folder))
        if not target.is_dir():
            return []
        with os.scandir(target) as found:
            entries = sorted(found, key=lambda e: e.name)
        return [
            SourceFile(e.name, e.is_dir(), None if e.is_dir() else e.stat().st_size)
            for e in entries
        ]

    def fetch(self, path: str, dest: Path) -> None:
        source = resolve_under(self.allowed, join(self.base, path))
        if not source.is_file():
            raise PathNotAllowed(f"{path!r} is not a regular file", path=path)
        shutil.copyfile(source, dest)


def _origin(scheme: str, host: str | None, port: int | None) -> tuple[str, str, int]:
    default = 443 if scheme == "https" else 80
    return scheme, (host or "").lower(), port or default


def _source_http(source: str) -> Any:
    """An httpx client on an http(s) --from (MLflow's auth and TLS settings), else None."""
    if urlsplit(source).scheme not in ("http", "https"):
        return None
    import ssl

    import httpx

    from modelyard import config

    env = os.environ
    context = ssl.create_default_context(cafile=env.get("MLFLOW_TRACKING_SERVER_CERT_PATH"))
    if env.get("MLFLOW_TRACKING_CLIENT_CERT_PATH"):
        context.load_cert_chain(env["MLFLOW_TRACKING_CLIENT_CERT_PATH"])
    verify: ssl.SSLContext | bool = context
    if env.get("MLFLOW_TRACKING_INSECURE_TLS", "").lower() in ("1", "true"):
        verify = False
    headers = {}
    if env.get("MLFLOW_TRACKING_TOKEN"):
        headers["authorization"] = f"Bearer {env['MLFLOW_TRACKING_TOKEN']}"
    auth = None
    if env.get("MLFLOW_TRACKING_USERNAME"):
        auth = (env["MLFLOW_TRACKING_USERNAME"], env.get("MLFLOW_TRACKING_PASSWORD", ""))
    return httpx.Client(
        base_url=source.rstrip("/"),
        follow_redirects=False,
        timeout=config.HTTP_TIMEOUT.get(),
        verify=verify,
        headers=headers,
        auth=auth,
    )


def _default_roots(source: str) -> list[Path]:
    """A local file store given as --from may be read; nothing else local is, unless named."""
    parts = urlsplit(source)
    if parts.scheme == "file":
        return [Path(url2pathname(parts.path))]
    if not parts.scheme and Path(source).is_dir():
        return [Path(source)]
    return []


class ArtifactSources:
    """The places an import reads artifacts from, for one ``--from``."""

    def __init__(self, source: str, allowed_roots: Sequence[str | Path] = ()) -> None:
        """``allowed_roots``: local folders whose files the source may name as artifacts.

        A local file store given as ``source`` is one; nothing else local is by default.
        """
        self.roots = [*_default_roots(source), *(Path(r) for r in allowed_roots)]
        parts = urlsplit(source)
        self._origin = _origin(parts.scheme, parts.hostname, parts.port)
        self._prefix = parts.path.rstrip("/")
        self._http = _source_http(source)

    def close(self) -> None:
        if self._http is not None:
            self._http.close()

    def locate(self, uri: str) -> ArtifactFolder:
        """The folder a server-given artifact URI names, if it may be read; else PathNotAllowed."""
        parts = urlsplit(uri)
        scheme = parts.scheme.lower()
        if scheme in ("mlflow-artifacts", "http", "https"):
            if self._http is None:
                raise PathNotAllowed("it is on a tracking server, and --from is not one")
            if scheme == "mlflow-artifacts":
                if parts.netloc and _origin(self._origin[0], parts.hostname, parts.port) != (
                    self._origin
                ):
                    raise PathNotAllowed(f"it names another server ({parts.netloc}) than --from")
                path = parts.path
            else:
                anchor = f"{self._prefix}{PROXY}/"
                if _origin(scheme, parts.hostname, parts.port) != self._origin:
                    raise PathNotAllowed(f"it is on another host ({parts.netloc}) than --from")
                if not parts.path.startswith(anchor):
                    raise PathNotAllowed("it is not the source server's artifact API")
                path = parts.path[len(anchor) :]
            return _ProxiedFolder(self._http, clean_relative(path.lstrip("/")))
        if scheme in ("", "file"):
            if parts.netloc not in ("", "localhost"):
                raise PathNotAllowed(f"it names another machine ({parts.netloc})")
            local = Path(os.path.realpath(url2pathname(parts.path) if scheme else uri))
            for root in self.roots:
                real_root = Path(os.path.realpath(root))
                if local == real_root or real_root in local.parents:
                    return _LocalFolder(real_root, local.relative_to(real_root).as_posix())
            raise PathNotAllowed(
                "it is a local folder outside the allowed roots; pass "
                "--allow-artifacts-root with a folder that holds it to copy it"
            )
        raise PathNotAllowed(
            f"{scheme}: locations are not read; only the source server's artifact API is"
        )
