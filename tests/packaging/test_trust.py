"""Trust comes from the flavor table and the files present, never from what a manifest claims.

Each attack is a hand-made package folder; its pickle creates a marker file if it ever runs.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from modelyard.errors import DigestMismatch, InvalidInput, NotTrusted, PathNotAllowed
from modelyard.packaging import manifest, package
from modelyard.packaging.export import export
from tests.packaging.forgery import CODE_FORMATS, MANIFEST, edit, forge, forge_code, pickled


def _logistic() -> tuple[Any, np.ndarray]:
    from sklearn.linear_model import LogisticRegression

    rng = np.random.default_rng(0)
    x = rng.normal(size=(80, 3))
    return LogisticRegression().fit(x, (x[:, 0] > 0).astype(int)), x


@pytest.mark.parametrize(("flavor", "file", "how"), CODE_FORMATS)
def test_a_manifest_claiming_safe_does_not_load_code(
    tmp_path: Path, flavor: str, file: str, how: str
) -> None:
    marker = tmp_path / "ran"
    forged = forge_code(tmp_path / "m", marker, flavor, file, how)
    assert forged["safe"] is True
    with pytest.raises(NotTrusted, match="claim to be safe does not count"):
        package.load(tmp_path / "m")
    # the checks the server runs refuse the claim itself, even for a caller who trusts
    with pytest.raises(InvalidInput, match="claims safe") as info:
        manifest.check(manifest.read(tmp_path / "m"))
    assert info.value.details["field"] == "safe"
    with pytest.raises(InvalidInput, match="claims safe"):
        package.load(tmp_path / "m", trusted=True)
    assert not marker.exists()
    # the same bytes under an honest manifest load only with trust: the payload is real
    edit(tmp_path / "m", safe=False)
    with pytest.raises(NotTrusted, match="runs code when loaded"):
        package.load(tmp_path / "m")
    assert not marker.exists()
    package.load(tmp_path / "m", trusted=True).close()  # the payload's open() ran
    assert marker.exists()


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"flavor": "evil"}, "flavor"),
        ({"flavor": "sklearn", "model_file": "model.npy"}, "model_file"),
        ({"flavor": "sklearn", "model_file": "model.JOBLIB"}, "model_file"),
        ({"flavor": "python", "model_file": "model.skops"}, "model_file"),
        ({"flavor": "xgboost", "model_file": "model.pkl"}, "model_file"),
    ],
)
def test_only_the_flavor_table_names_flavors_and_formats(
    tmp_path: Path, fields: dict[str, str], field: str
) -> None:
    marker = tmp_path / "ran"
    file = fields.get("model_file", "model.cloudpickle")
    forge(tmp_path / "m", {file: pickled(marker, "joblib")}, safe=False, **fields)
    for trusted in (False, True):
        with pytest.raises(
            InvalidInput,
            match="nothing loads it" if field == "flavor" else "models are files ending in",
        ) as info:
            package.load(tmp_path / "m", trusted=trusted)
        assert info.value.details["field"] == field
    assert not marker.exists()


def test_a_pickle_named_like_a_skops_file_is_not_unpickled(tmp_path: Path) -> None:
    marker = tmp_path / "ran"
    forge(tmp_path / "m", {"model.skops": pickled(marker, "joblib")}, flavor="sklearn")
    with pytest.raises(InvalidInput, match="not a skops file"):
        package.load(tmp_path / "m", trusted=True)
    assert not marker.exists()


def _real_skops(folder: Path) -> Path:
    model, _ = _logistic()
    package.save(model, folder)
    return folder / "model.skops"


@pytest.mark.parametrize(
    ("fields", "error"),
    [
        ({"model_file": "/etc/passwd"}, PathNotAllowed),
        ({"model_file": "../outside/model.skops"}, PathNotAllowed),
        ({"model_file": "OUTSIDE"}, PathNotAllowed),  # the absolute path of a real model
        ({"model_file": "./model.skops"}, PathNotAllowed),
        ({"model_file": "other.skops"}, InvalidInput),  # clean, but not a file of the package
        ({"input_example": "../outside/secret.json"}, PathNotAllowed),
        ({"input_example": "/etc/passwd"}, PathNotAllowed),
        ({"files": {"../outside/model.skops": "DIGEST"}}, PathNotAllowed),
        ({"files": {"/etc/passwd": "0" * 64}}, PathNotAllowed),
        ({"files": {"model.skops": "DIGEST", "a\\..\\b": "0" * 64}}, PathNotAllowed),
    ],
)
def test_paths_outside_the_package_are_refused(
    tmp_path: Path, fields: dict[str, Any], error: type[Exception]
) -> None:
    outside = _real_skops(tmp_path / "outside")  # a model that would load if followed
    (tmp_path / "outside" / "secret.json").write_text('{"data": [[1]]}')
    digest = manifest.sha256_file(outside)
    folder = tmp_path / "m"
    folder.mkdir()
    (folder / "model.skops").write_bytes(outside.read_bytes())
    (folder / "other.skops").write_bytes(b"")
    data = json.loads((tmp_path / "outside" / MANIFEST).read_text())
    for key, value in fields.items():
        data[key] = str(outside) if value == "OUTSIDE" else value
    data["files"] = {k: digest if v == "DIGEST" else v for k, v in data["files"].items()}
    (folder / MANIFEST).write_text(json.dumps(data))
    with pytest.raises(error, match=f"^{next(iter(fields))} ") as info:
        package.load(folder, trusted=True)
    assert info.type is error
    if fields.get("model_file") == "OUTSIDE":  # the same manifest, but the path is its own
        assert package.load(tmp_path / "outside") is not None


def test_a_link_out_of_the_package_is_refused(tmp_path: Path) -> None:
    outside = _real_skops(tmp_path / "outside")
    folder = tmp_path / "m"
    folder.mkdir()
    (folder / MANIFEST).write_text((tmp_path / "outside" / MANIFEST).read_text())
    (folder / "model.skops").symlink_to(outside)  # the digest matches: only the path is wrong
    with pytest.raises(PathNotAllowed, match="leads out"):
        package.load(folder)


def test_export_refuses_a_forged_package_and_writes_nothing(tmp_path: Path) -> None:
    marker = tmp_path / "ran"
    forged = tmp_path / "m"
    forge_code(forged, marker, "python", "model.cloudpickle", "cloudpickle")
    digest = manifest.read(forged).digest
    with pytest.raises(NotTrusted, match="runs code when loaded"):
        export(forged, tmp_path / "bundle")
    with pytest.raises(InvalidInput, match="claims safe"):  # trusted or not, the claim is refused
        export(forged, tmp_path / "bundle", trusted_digest=digest)
    assert not (tmp_path / "bundle").exists()
    assert not marker.exists()


def _serve(bundle: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """Run the bundle's own code with this interpreter, as ``python -m serve`` does."""
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    return subprocess.run(
        [sys.executable, *args], cwd=bundle, env=env, capture_output=True, text=True, timeout=120
    )


def _exchange(
    folder: Path, saved: manifest.Manifest, files: dict[str, bytes], **fields: Any
) -> None:
    """Replace a bundle's package by ``files`` under the saved manifest, edited."""
    for old in list(folder.iterdir()):
        old.unlink()
    kept = {k: v for k, v in saved.to_json().items() if k != "files"}
    forge(folder, files, **{**kept, **fields})


@pytest.mark.slow
@pytest.mark.parametrize(("flavor", "file", "how"), CODE_FORMATS[:2])
def test_a_tampered_bundle_refuses_to_serve(
    tmp_path: Path, flavor: str, file: str, how: str
) -> None:
    model, x = _logistic()
    saved = package.save(model, tmp_path / "m", input_example=x[:2])
    bundle = export(tmp_path / "m", tmp_path / "bundle")
    assert not (bundle / "trusted").exists()
    probe = "import serve; print(serve.load().digest)"
    assert _serve(bundle, "-c", probe).stdout.strip() == saved.digest  # the bundle works
    marker = tmp_path / "ran"
    _exchange(
        bundle / "model",
        saved,
        {file: pickled(marker, how)},
        flavor=flavor,
        model_file=file,
        input_example=None,
        safe=True,
    )
    refused = _serve(bundle, "-m", "serve", "--port", "0")
    assert refused.returncode != 0
    assert "refused to load the model: NOT_TRUSTED" in refused.stderr
    assert not marker.exists()


@pytest.mark.slow
def test_a_trusted_bundle_trusts_only_its_own_digest(tmp_path: Path) -> None:
    model, _ = _logistic()
    saved = package.save(model, tmp_path / "m", serialization="pickle")
    with pytest.raises(NotTrusted, match="runs code when loaded"):
        export(tmp_path / "m", tmp_path / "refused")
    assert not (tmp_path / "refused").exists()
    bundle = export(tmp_path / "m", tmp_path / "bundle", trusted_digest=saved.digest)
    assert (bundle / "trusted").read_text().strip() == saved.digest
    probe = "import serve, numpy; print(serve.load().model.predict(numpy.eye(3)).tolist())"
    assert _serve(bundle, "-c", probe).stdout.strip() == str(model.predict(np.eye(3)).tolist())
    # swap the pickle and seal the manifest honestly: a new digest, which nobody trusted
    marker = tmp_path / "ran"
    (bundle / "model" / "model.joblib").write_bytes(pickled(marker, "joblib"))
    edit(bundle / "model")
    refused = _serve(bundle, "-m", "serve", "--port", "0")
    assert "refused to load the model: NOT_TRUSTED" in refused.stderr
    assert refused.returncode != 0
    assert not marker.exists()
    # and a swapped pickle under the old manifest fails its digest
    (bundle / "model" / MANIFEST).write_text(json.dumps(saved.to_json()))
    assert "DIGEST_MISMATCH" in _serve(bundle, "-m", "serve", "--port", "0").stderr
    assert not marker.exists()


def test_tampered_files_are_refused_before_loading(tmp_path: Path) -> None:
    model, _ = _logistic()
    package.save(model, tmp_path / "m", serialization="pickle")
    marker = tmp_path / "ran"
    (tmp_path / "m" / "model.joblib").write_bytes(pickled(marker, "joblib"))
    with pytest.raises(DigestMismatch, match="does not match its manifest digest"):
        package.load(tmp_path / "m", trusted=True)
    assert not marker.exists()
