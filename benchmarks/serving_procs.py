"""Processes of benchmarks/serving.py: start a server, time it to ready and to its first answer, stop it."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import time
from collections.abc import Callable
from pathlib import Path
from typing import IO

import httpx
import psutil

POLL_S = 0.01  # how often start-up is polled


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def spawn(
    cmd: list[str],
    env: dict[str, str],
    log: IO[bytes],
    cwd: Path | None = None,
    unset: tuple[str, ...] = (),
) -> subprocess.Popen[bytes]:
    """The command in a new session (so that ``stop`` reaches its whole process group)."""
    full = {k: v for k, v in os.environ.items() if k not in unset}
    return subprocess.Popen(
        cmd,
        env={**full, **env},
        cwd=cwd,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )


def wait_until(
    ok: Callable[[], bool], proc: subprocess.Popen[bytes], what: str, timeout: float = 300
) -> None:
    """Poll ``ok`` every 10 ms until it holds; fail when ``proc`` exits first or time runs out."""
    deadline = time.perf_counter() + timeout
    while time.perf_counter() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"exited with {proc.returncode} before {what}")
        try:
            if ok():
                return
        except httpx.TransportError:
            pass
        time.sleep(POLL_S)
    raise RuntimeError(f"no {what} within {timeout:.0f} s")


def get_ok(url: str) -> Callable[[], bool]:
    return lambda: httpx.get(url, timeout=5).status_code == 200


def post_ok(url: str, body: bytes) -> Callable[[], bool]:
    headers = {"content-type": "application/json"}
    return lambda: httpx.post(url, content=body, headers=headers, timeout=5).status_code == 200


def python_start_s(python: str, code: str, env: dict[str, str], rounds: int = 3) -> float:
    """Best of ``rounds``: spawning ``python -c CODE`` until it exits (a floor for a server's start)."""
    best = float("inf")
    for _ in range(rounds):
        begin = time.perf_counter()
        subprocess.run([python, "-c", code], env={**os.environ, **env}, check=True)
        best = min(best, time.perf_counter() - begin)
    return best


def stop(proc: subprocess.Popen[bytes]) -> None:
    """SIGTERM to the process group, then SIGKILL; descendants in other sessions are killed too."""
    try:
        others = psutil.Process(proc.pid).children(recursive=True)
    except psutil.Error:
        others = []
    try:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=30)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
    except ProcessLookupError:
        pass
    try:  # workers the parent left behind
        os.killpg(proc.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    for child in others:  # e.g. serving processes a supervisor started in their own session
        try:
            child.kill()
        except psutil.Error:
            pass
