"""A bounded schemathesis run over /openapi.json (native and MLflow routes): no input a client
can send gets a 5xx. Fixed seed, so a failure reproduces; raise -n to fuzz deeper by hand:
``schemathesis run URL/openapi.json -c not_a_server_error -n 200``."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

pytestmark = pytest.mark.slow


def test_no_input_gets_a_server_error(server_url: str, tmp_path: Path) -> None:
    with httpx.Client(base_url=f"{server_url}/api/v1") as api:
        created = api.post("/runs", json={"experiment_name": "fuzz", "tags": {"a": "1"}})
        assert created.status_code == 201, created.text
        run = created.json()
        api.post(f"/runs/{run['id']}/log", json={"metrics": [{"key": "m", "values": [1.0]}]})
    cli = shutil.which("schemathesis", path=str(Path(sys.executable).parent))
    assert cli is not None, "schemathesis is a dev dependency"
    done = subprocess.run(
        [
            cli,
            "run",
            f"{server_url}/openapi.json",
            "--checks",
            "not_a_server_error",
            "--max-examples",
            "5",
            "--seed",
            "1",
            "--no-shrink",
            "--workers",
            "1",
            "--request-timeout",
            "30",
        ],
        capture_output=True,
        text=True,
        timeout=600,
        cwd=tmp_path,
    )
    summary = done.stdout[-6000:]
    assert done.returncode == 0, summary
    assert "129 passed" in summary or " passed" in summary
