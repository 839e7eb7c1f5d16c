"""Run a serving process: the inference app on uvicorn, fed by one model or a deployment."""

from __future__ import annotations

import socket
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from modelyard.serving.predlog import NoLog, PredictionLog, Redaction
from modelyard.serving.state import MAX_BODY, BatchOptions, ServingState, Source


@dataclass
class ServeOptions:
    host: str = "127.0.0.1"
    port: int = 8080
    batching: BatchOptions = field(default_factory=BatchOptions)
    prediction_log: Path | None = None  # folder of the Parquet prediction log; None: off
    log_sample: float = 1.0
    log_exclude: tuple[str, ...] = ()  # columns never logged
    log_hash: tuple[str, ...] = ()  # columns logged as HMAC-SHA256 under log_key
    log_key: bytes = b""
    max_body: int = MAX_BODY
    log_level: str = "warning"


def build_state(deployment: str, options: ServeOptions) -> ServingState:
    """The state of a serving process, its prediction log wired to its metrics."""
    state = ServingState(deployment, batching=options.batching, max_body=options.max_body)
    if options.prediction_log is not None:
        dropped = state.metrics.log_dropped.labels(deployment)
        written = state.metrics.log_written.labels(deployment)
        state.predlog = PredictionLog(
            options.prediction_log,
            sample=options.log_sample,
            dropped=dropped.inc,
            written=written.inc,
        )
        redaction = Redaction(options.log_exclude, options.log_hash, options.log_key)
        state.predlog.configure(redaction, options.log_sample)
    else:
        state.predlog = NoLog()
    return state


def bind(host: str, port: int) -> socket.socket:
    """A listening socket (port 0: any free port), bound before the model loads."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    sock.listen(2048)
    sock.set_inheritable(True)
    return sock


def run(
    deployment: str,
    options: ServeOptions,
    source: Callable[[str], Source],
    announce: Callable[[str], None] = lambda url: None,
) -> None:
    """Serve until interrupted; ``source(url)`` gives the policy source for this address."""
    import uvicorn

    from modelyard.listener import uvicorn_config
    from modelyard.serving.app import InferenceApp

    sock = bind(options.host, options.port)
    host, port = sock.getsockname()[:2]
    url = f"http://{'[' + host + ']' if ':' in host else host}:{port}"
    state = build_state(deployment, options)
    state.sources.append(source(url))
    config = uvicorn_config(
        InferenceApp(state), host, port, log_level=options.log_level, lifespan="on"
    )
    config.loop = "uvloop" if _has_uvloop() else "asyncio"
    server = uvicorn.Server(config)
    announce(url)
    server.run(sockets=[sock])


def _has_uvloop() -> bool:
    try:
        import uvloop  # noqa: F401
    except ImportError:
        return False
    return True


def hash_key(path: Path | None) -> bytes:
    """The key logged columns are hashed with: read from ``path`` (made there, readable by
    its owner only, when missing), so hashes match across restarts; without a path, a key of
    this process only."""
    import os
    import secrets

    if path is None:
        return secrets.token_bytes(32)
    try:  # O_EXCL: never overwrites a key made meanwhile
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        pass
    else:
        with os.fdopen(fd, "w") as out:
            out.write(secrets.token_hex(32) + "\n")
    return bytes.fromhex(path.read_text().strip())
