"""An exported bundle serves its model from a fresh virtualenv, without modelyard installed."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import httpx
import numpy as np
import pytest

from modelyard.errors import NotTrusted
from modelyard.registry.client import ModelRegistry
from modelyard.server.background import free_port


class Tripler:
    def predict(self, x: object) -> object:
        return np.asarray(x) * 3


@pytest.mark.slow
def test_bundle_runs_in_a_fresh_virtualenv(
    server_url: str, modelyard_home: Path, tmp_path: Path
) -> None:
    from sklearn.linear_model import LogisticRegression

    rng = np.random.default_rng(0)
    x = rng.normal(size=(100, 3))
    model = LogisticRegression().fit(x, (x[:, 0] > 0).astype(int))
    with ModelRegistry(server_url) as reg:
        reg.log(model, "exported", input_example=x[:2], aliases=["champion"])
        bundle = reg.export("models:/exported@champion", tmp_path / "bundle")
        reg.log(Tripler(), "unsafe")
        with pytest.raises(NotTrusted):
            reg.export("models:/unsafe/1", tmp_path / "refused")
        reg.trust("unsafe", 1, reason="reviewed")
        trusted = reg.export("models:/unsafe/1", tmp_path / "trusted-bundle")
    assert (trusted / "trusted").is_file()
    assert {p.name for p in bundle.iterdir()} >= {
        "model", "_modelyard", "serve.py", "requirements.txt", "Dockerfile",
    }  # fmt: skip
    requirements = (bundle / "requirements.txt").read_text().split()
    assert any(r.startswith("scikit-learn==") for r in requirements)
    assert not any(r.startswith("modelyard") for r in requirements)

    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    python = venv / "bin" / "python"
    subprocess.run(
        [str(python), "-m", "pip", "install", "-q", "--disable-pip-version-check", "-r",
         str(bundle / "requirements.txt")],
        check=True,
        timeout=600,
    )  # fmt: skip
    probe = subprocess.run(
        [str(python), "-c", "import importlib.util as u; print(u.find_spec('modelyard'))"],
        capture_output=True, text=True, check=True,
    )  # fmt: skip
    assert probe.stdout.strip() == "None"
    port = free_port()
    log = (tmp_path / "serve.log").open("w")
    proc = subprocess.Popen(
        [str(python), "-m", "serve", "--port", str(port)], cwd=bundle, stdout=log, stderr=log
    )
    try:
        url = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 60
        while True:
            try:
                health = httpx.get(f"{url}/health")
                break
            except httpx.TransportError:
                assert proc.poll() is None, (tmp_path / "serve.log").read_text()
                assert time.monotonic() < deadline
                time.sleep(0.2)
        assert health.json()["status"] == "ok"
        answer = httpx.post(f"{url}/invocations", json={"inputs": x[:5].tolist()})
        assert answer.json()["predictions"] == model.predict(x[:5]).tolist()
        bad = httpx.post(f"{url}/invocations", content=json.dumps({"nope": 1}))
        assert (bad.status_code, bad.json()["error_code"]) == (400, "INVALID_PARAMETER_VALUE")
    finally:
        proc.terminate()
        proc.wait(timeout=10)
        log.close()
