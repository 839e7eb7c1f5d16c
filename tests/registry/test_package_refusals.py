"""A live server refuses packages whose manifest lies, and a refused register writes nothing.

The forged packages go through the SDK's real upload (``Uploader`` + POST .../versions), as any
client could send them; ``runs:/`` loads read the same folders from a run's artifacts.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pytest

import modelyard as my
from modelyard.errors import InvalidInput, NotTrusted
from modelyard.packaging import package
from modelyard.registry.client import ModelRegistry
from modelyard.tracking.transfer import Uploader
from tests.packaging.forgery import CODE_FORMATS, edit, forge, forge_code, pickled

pytestmark = pytest.mark.usefixtures("fresh_sdk")


def _register(server: str, name: str, folder: Path) -> httpx.Response:
    """Upload every file of ``folder`` and register them as a version of ``name``."""
    files = {p.relative_to(folder).as_posix(): p for p in folder.rglob("*") if p.is_file()}
    with ModelRegistry(server) as reg:
        sent = Uploader(reg.backend).upload(files)
    body = {"files": {k: f.digest for k, f in sent.items()}}
    return httpx.post(f"{server}/api/v1/models/{name}/versions", json=body)


def _nothing_written(server: str, name: str) -> None:
    assert httpx.get(f"{server}/api/v1/models/{name}").status_code == 404
    listed = httpx.get(f"{server}/api/v1/models").json()["models"]
    assert name not in [m["name"] for m in listed]
    versions = httpx.get(f"{server}/api/v1/models/{name}/versions/1")
    assert versions.status_code == 404


@pytest.mark.parametrize(("flavor", "file", "how"), CODE_FORMATS)
def test_register_refuses_a_manifest_claiming_safe_over_code(
    server_url: str, tmp_path: Path, flavor: str, file: str, how: str
) -> None:
    marker = tmp_path / "ran"
    forge_code(tmp_path / "evil", marker, flavor, file, how)
    refused = _register(server_url, "evil", tmp_path / "evil")
    assert refused.status_code == 400, refused.text
    body = refused.json()
    assert body["error_code"] == "INVALID_PARAMETER_VALUE"
    assert body["details"]["field"] == "safe"
    assert "claims safe" in body["message"]
    _nothing_written(server_url, "evil")
    # the same package, honest about its format, registers and waits for a trust decision
    edit(tmp_path / "evil", safe=False)
    honest = _register(server_url, "honest", tmp_path / "evil")
    assert honest.status_code == 201, honest.text
    assert (honest.json()["trusted"], honest.json()["package"]["safe"]) == (False, False)
    with ModelRegistry(server_url) as reg, pytest.raises(NotTrusted, match="runs code when loaded"):
        reg.load("models:/honest/1")
    assert not marker.exists()


def _real(folder: Path) -> None:
    from sklearn.linear_model import LogisticRegression

    x = np.random.default_rng(0).normal(size=(40, 2))
    package.save(LogisticRegression().fit(x, x[:, 0] > 0), folder, input_example=x[:2])


@pytest.mark.parametrize(
    ("fields", "code", "field"),
    [
        ({"dependencies": {"--index-url http://127.0.0.1:9/": "1"}}, "INVALID_PARAMETER_VALUE",
         "dependencies"),
        ({"dependencies": {"numpy": "1\n--index-url http://127.0.0.1:9/"}},
         "INVALID_PARAMETER_VALUE", "dependencies"),
        ({"python_version": "3.11\nRUN id"}, "INVALID_PARAMETER_VALUE", "python_version"),
        ({"model_file": "/etc/passwd"}, "PATH_NOT_ALLOWED", "model_file"),
        ({"model_file": "../model.skops"}, "PATH_NOT_ALLOWED", "model_file"),
        ({"input_example": "../../secret.json"}, "PATH_NOT_ALLOWED", "input_example"),
        ({"input_example": "missing.json"}, "INVALID_PARAMETER_VALUE", "input_example"),
        ({"flavor": "evil"}, "INVALID_PARAMETER_VALUE", "flavor"),
        ({"model_file": "input_example.json"}, "INVALID_PARAMETER_VALUE", "model_file"),
    ],
)  # fmt: skip
def test_register_refuses_what_the_manifest_may_not_say(
    server_url: str, tmp_path: Path, fields: dict[str, Any], code: str, field: str
) -> None:
    _real(tmp_path / "m")
    edit(tmp_path / "m", **fields)
    refused = _register(server_url, "bad", tmp_path / "m")
    assert (refused.status_code, refused.json()["error_code"]) == (400, code), refused.text
    assert refused.json()["details"]["field"] == field
    _nothing_written(server_url, "bad")


def test_runs_uri_loads_trust_the_files_not_the_manifest(server_url: str, tmp_path: Path) -> None:
    marker = tmp_path / "ran"
    my.set_tracking_uri(server_url)
    with my.start_run(experiment="forged", capture_code=False) as run:
        forge_code(tmp_path / "evil", marker, "sklearn", "model.joblib", "joblib")
        run.log_artifacts(tmp_path / "evil", "evil")
        forge(tmp_path / "odd", {"model.bin": pickled(marker, "joblib")}, flavor="sklearn")
        run.log_artifacts(tmp_path / "odd", "odd")
        _real(tmp_path / "good")
        run.log_artifacts(tmp_path / "good", "good")
    with pytest.raises(NotTrusted, match="claim to be safe does not count"):
        my.models.load(f"runs:/{run.id}/evil")
    with pytest.raises(InvalidInput, match="claims safe"):
        my.models.load(f"runs:/{run.id}/evil", trusted=True)
    with pytest.raises(InvalidInput, match=r"not .model\.bin"):
        my.models.load(f"runs:/{run.id}/odd", trusted=True)
    assert not marker.exists()
    assert my.models.load(f"runs:/{run.id}/good").predict(np.eye(2)).shape == (2,)


def test_needs_trust_comes_from_the_format_not_the_stored_claim() -> None:
    """A version stored before manifests were checked may claim safe over a pickle: the
    answer the UI shows says it needs trust all the same."""
    from modelyard.wire import needs_trust

    base = {"model_file": "model.skops", "files": {"model.skops": "0" * 64}}
    assert needs_trust({**base, "flavor": "sklearn", "safe": True}) is False
    assert needs_trust({**base, "flavor": "sklearn", "safe": False}) is True
    pickled = {"model_file": "model.cloudpickle", "files": {"model.cloudpickle": "0" * 64}}
    assert needs_trust({**pickled, "flavor": "python", "safe": True}) is True
    assert needs_trust({**pickled, "flavor": "python", "safe": False}) is True
    assert needs_trust(None) is None
