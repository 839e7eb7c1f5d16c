"""The API tokens `modelyard login` keeps, one per server, and the one a client sends.

A client of a modelyard server sends ``MODELYARD_TOKEN`` when it is set, else the token stored
for that server in ``MODELYARD_HOME/credentials.json`` (``~/.modelyard`` by default; the file is
private to its owner, mode 0600). The file is read again only when it changes.
"""

from __future__ import annotations

import json
import os
import tempfile
import threading
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from modelyard import config

FILE_NAME = "credentials.json"
_DEFAULT_PORTS = {"http": 80, "https": 443}


def path() -> Path:
    """Where the stored tokens are (not created here)."""
    raw = config.HOME.get()
    home = Path(raw).expanduser() if raw else Path.home() / ".modelyard"
    return home / FILE_NAME


def server_key(url: str) -> str:
    """One spelling per server: ``scheme://host[:port][/path]``, lower-case, no default port."""
    parts = urlsplit(url.strip())
    scheme = parts.scheme.lower()
    host = (parts.hostname or "").lower()
    if ":" in host:
        host = f"[{host}]"
    try:
        port = parts.port
    except ValueError:
        port = None
    where = host if port in (None, _DEFAULT_PORTS.get(scheme)) else f"{host}:{port}"
    return f"{scheme}://{where}{parts.path.rstrip('/')}"


class _Cache:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.seen: tuple[str, int, int] | None = None
        self.entries: dict[str, dict[str, Any]] = {}


_cache = _Cache()


def load() -> dict[str, dict[str, Any]]:
    """Every stored entry by server key; ``{}`` when there is no (readable) file."""
    file = path()
    try:
        stat = file.stat()
    except OSError:
        return {}
    seen = (str(file), stat.st_mtime_ns, stat.st_size)
    with _cache.lock:
        if _cache.seen == seen:
            return _cache.entries
    try:
        raw = json.loads(file.read_text())
    except (OSError, ValueError):
        raw = {}
    servers = raw.get("servers") if isinstance(raw, dict) else None
    entries = {
        str(k): v
        for k, v in (servers if isinstance(servers, dict) else {}).items()
        if isinstance(v, dict) and isinstance(v.get("token"), str)
    }
    with _cache.lock:
        _cache.seen, _cache.entries = seen, entries
    return entries


def stored(url: str) -> dict[str, Any] | None:
    """The entry ``modelyard login`` stored for the server at ``url``."""
    return load().get(server_key(url))


_in_process: dict[str, str] = {}


def use(url: str, token: str | None) -> None:
    """Send ``token`` to the server at ``url`` from this process, before MODELYARD_TOKEN and
    the stored one (None: stop); e.g. the demo, given a token by the server it runs in."""
    if token is None:
        _in_process.pop(server_key(url), None)
    else:
        _in_process[server_key(url)] = token


def token_for(url: str) -> str | None:
    """The token a client of ``url`` sends: one :func:`use` set, MODELYARD_TOKEN, the stored
    one, else None."""
    if _in_process:
        given = _in_process.get(server_key(url))
        if given is not None:
            return given
    explicit = config.TOKEN.get().strip()
    if explicit:
        return explicit
    entry = stored(url)
    return None if entry is None else str(entry["token"])


def save(url: str, entry: dict[str, Any]) -> Path:
    """Store ``entry`` (``token`` and what else is worth showing) for the server at ``url``."""
    _write({**load(), server_key(url): entry})
    return path()


def forget(url: str) -> dict[str, Any] | None:
    """Remove the server's entry; the entry, or None when there was none."""
    entries = dict(load())
    entry = entries.pop(server_key(url), None)
    if entry is not None:
        _write(entries)
    return entry


def _write(entries: dict[str, dict[str, Any]]) -> None:
    """Replace the file atomically; it is created private (0600) and never exists otherwise."""
    file = path()
    file.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    fd, tmp = tempfile.mkstemp(prefix=".credentials-", dir=file.parent)  # mode 0600
    try:
        with os.fdopen(fd, "w") as out:
            json.dump({"servers": entries}, out, indent=2, sort_keys=True)
        os.chmod(tmp, 0o600)
        os.replace(tmp, file)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
