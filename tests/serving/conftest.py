"""Real models in a real store, and `modelyard serve` in a process of its own on 127.0.0.1."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx
import numpy as np
import pandas as pd
import pytest

from modelyard.listener import free_port
from modelyard.registry.client import ModelRegistry

from .toymodels import Flaky, Total

ROOT = Path(__file__).resolve().parents[2]
FEATURES = [f"f{i}" for i in range(6)]


@dataclass(frozen=True)
class ModelStore:
    uri: str  # an embedded store (SQLite, artifacts beside it)
    frame: pd.DataFrame  # rows the churn model was trained on


@pytest.fixture(scope="session")
def model_store(tmp_path_factory: pytest.TempPathFactory) -> ModelStore:
    """churn v1 (LogisticRegression on named columns), flaky v1 (trusted) and v2 (not trusted),
    total v1 (one answer per batch, trusted)."""
    from sklearn.linear_model import LogisticRegression

    folder = tmp_path_factory.mktemp("serving-store")
    rng = np.random.default_rng(0)
    frame = pd.DataFrame(rng.normal(size=(200, len(FEATURES))), columns=FEATURES)
    labels = (frame["f0"] + frame["f1"] > 0).astype(int)
    uri = f"sqlite:///{folder / 'store.db'}"
    with ModelRegistry(uri) as registry:
        clf = LogisticRegression().fit(frame, labels)
        registry.log(clf, "churn", input_example=frame[:5], aliases=["champion"])
        example = np.zeros((2, 3))
        registry.log(Flaky(), "flaky", input_example=example)
        registry.trust("flaky", 1, "test model")
        registry.log(Flaky(offset=1.0), "flaky", input_example=example)
        registry.log(Total(), "total", input_example=example)
        registry.trust("total", 1, "test model")
    return ModelStore(uri, frame)


@dataclass
class Served:
    url: str
    process: subprocess.Popen[bytes]
    log: Path

    def output(self) -> str:
        return self.log.read_text(errors="replace")


@contextmanager
def serving(
    args: Sequence[str],
    tmp_path: Path,
    *,
    env: dict[str, str] | None = None,
    ready: bool = True,
    timeout: float = 60.0,
) -> Iterator[Served]:
    """`modelyard serve ARGS --port P`, waited for until /ready (or /health) answers 200."""
    port = free_port()
    log = tmp_path / f"serve-{port}.log"
    full_env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]),
        "MODELYARD_HOME": str(tmp_path / "home"),
        "COLUMNS": "200",
        **(env or {}),
    }
    with log.open("wb") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "modelyard.cli", "serve", *args, "--port", str(port)],
            stdout=out,
            stderr=subprocess.STDOUT,
            env=full_env,
        )
    served = Served(f"http://127.0.0.1:{port}", process, log)
    try:
        deadline = time.monotonic() + timeout
        path = "/ready" if ready else "/health"
        while True:
            if process.poll() is not None:
                raise AssertionError(f"modelyard serve exited:\n{served.output()}")
            try:
                if httpx.get(served.url + path, timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                raise AssertionError(f"not {path} in {timeout} s:\n{served.output()}")
            time.sleep(0.05)
        yield served
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
