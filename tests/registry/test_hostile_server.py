"""The SDK believes nothing a server sends: paths, digests and manifests are checked first.

A real HTTP server on 127.0.0.1 answers with what the test scripts, as a compromised or
impersonated modelyard server could.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from modelyard.errors import DigestMismatch, InvalidInput, NotTrusted, PathNotAllowed
from modelyard.packaging import manifest as mf
from modelyard.packaging import package
from modelyard.registry.client import ModelRegistry
from tests.hostile import Hostile, hostile_server
from tests.packaging.forgery import edit, forge_code

RUN = "ab" * 16


@pytest.fixture
def hostile() -> Iterator[Hostile]:
    with hostile_server() as state:
        yield state


def _blob(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def serve_version(
    h: Hostile,
    name: str,
    folder: Path,
    *,
    trusted: bool = False,
    digest: str | None = None,
    extra: list[dict[str, Any]] | None = None,
    swap: dict[str, bytes] | None = None,
) -> str:
    """Answer for version 1 of ``name`` with the package in ``folder`` (``swap``: other bytes)."""
    files = []
    for path in sorted(p for p in folder.rglob("*") if p.is_file()):
        rel = path.relative_to(folder).as_posix()
        data = path.read_bytes()
        files.append({"path": rel, "digest": _blob(data), "size": len(data)})
        h.bytes(f"/api/v1/blobs/{_blob(data)}", (swap or {}).get(rel, data))
    real = mf.read(folder).digest
    version = {
        "name": name,
        "version": 1,
        "source": f"package:sha256:{real}",
        "package_digest": digest or real,
        "trusted": trusted,
        "files": files + (extra or []),
    }
    h.json(f"/api/v1/models/{name}/aliases/v1", version, {"files": "true"})
    return real


def _real(folder: Path) -> tuple[Any, np.ndarray]:
    from sklearn.linear_model import LogisticRegression

    x = np.random.default_rng(0).normal(size=(40, 2))
    model = LogisticRegression().fit(x, x[:, 0] > 0)
    package.save(model, folder, input_example=x[:2])
    return model, x


def _cache_is_empty(home: Path) -> None:
    models = home / "models"
    assert not models.exists() or list(models.iterdir()) == []  # no package, no leftovers


def test_a_faithful_answer_loads(hostile: Hostile, modelyard_home: Path, tmp_path: Path) -> None:
    model, x = _real(tmp_path / "m")
    digest = serve_version(hostile, "good", tmp_path / "m")
    with ModelRegistry(hostile.url) as reg:
        assert np.array_equal(reg.load("models:/good/1").predict(x), model.predict(x))
    assert (modelyard_home / "models" / digest / mf.MANIFEST).is_file()


@pytest.mark.parametrize(
    "bad", ["../../x", "../../../../x", "ABS", "a/../../x", "%2e%2e/%2e%2e/x", "..\\..\\x", ""]
)
def test_paths_from_the_server_never_leave_the_cache(
    hostile: Hostile, modelyard_home: Path, tmp_path: Path, bad: str
) -> None:
    _real(tmp_path / "m")
    outside = tmp_path / "abs" / "x"
    path = str(outside) if bad == "ABS" else bad
    payload = b"written by the server"
    hostile.bytes(f"/api/v1/blobs/{_blob(payload)}", payload)
    extra = [{"path": path, "digest": _blob(payload), "size": len(payload)}]
    serve_version(hostile, "evil", tmp_path / "m", extra=extra)
    with ModelRegistry(hostile.url) as reg, pytest.raises(PathNotAllowed, match=r"^artifact path"):
        reg.load("models:/evil/1")
    assert not any(p.name == "x" for p in tmp_path.rglob("*"))
    assert not (tmp_path.parent / "x").exists()  # where ../../../../x from the cache leads
    assert not outside.exists()
    assert not [r for r in hostile.requests if r.startswith("/api/v1/blobs/")]  # nothing fetched
    _cache_is_empty(modelyard_home)


@pytest.mark.parametrize("digest", ["../../evil", "/tmp/evil", "sha256:..", "A" * 63])
def test_a_package_digest_that_is_not_a_digest_is_refused(
    hostile: Hostile, modelyard_home: Path, tmp_path: Path, digest: str
) -> None:
    _real(tmp_path / "m")
    serve_version(hostile, "evil", tmp_path / "m", digest=digest)
    with ModelRegistry(hostile.url) as reg, pytest.raises(InvalidInput, match="sha256 digest"):
        reg.load("models:/evil/1")
    assert not (modelyard_home / "evil").exists()
    assert not (tmp_path / "evil").exists()
    _cache_is_empty(modelyard_home)


def test_bytes_that_do_not_match_their_digest_are_refused(
    hostile: Hostile, modelyard_home: Path, tmp_path: Path
) -> None:
    _real(tmp_path / "m")
    serve_version(hostile, "other", tmp_path / "m", digest="0" * 64)
    serve_version(hostile, "swapped", tmp_path / "m", swap={"model.skops": b"other bytes"})
    with ModelRegistry(hostile.url) as reg:
        with pytest.raises(DigestMismatch, match=r"model\.skops"):
            reg.load("models:/swapped/1")
        with pytest.raises(DigestMismatch, match="not package sha256:0000"):
            reg.load("models:/other/1")
    _cache_is_empty(modelyard_home)


def test_a_body_longer_than_announced_is_cut_off(
    hostile: Hostile, modelyard_home: Path, tmp_path: Path
) -> None:
    _real(tmp_path / "m")
    real = (tmp_path / "m" / "model.skops").read_bytes()
    # stands for an endless body: the SDK stops at the announced size, not at the end
    serve_version(hostile, "long", tmp_path / "m", swap={"model.skops": real + b"\0" * (8 << 20)})
    with (
        ModelRegistry(hostile.url) as reg,
        pytest.raises(DigestMismatch, match=r"more than the \d+ bytes announced"),
    ):
        reg.load("models:/long/1")
    _cache_is_empty(modelyard_home)


def test_a_file_list_that_differs_from_the_manifest_is_refused(
    hostile: Hostile, modelyard_home: Path, tmp_path: Path
) -> None:
    _real(tmp_path / "m")
    payload = b"not in the manifest"
    hostile.bytes(f"/api/v1/blobs/{_blob(payload)}", payload)
    extra = [{"path": "extra.py", "digest": _blob(payload), "size": len(payload)}]
    serve_version(hostile, "extra", tmp_path / "m", extra=extra)
    bad_digest = [{"path": "y.bin", "digest": "../../x", "size": 1}]
    serve_version(hostile, "baddigest", tmp_path / "m", extra=bad_digest)
    with ModelRegistry(hostile.url) as reg:
        with pytest.raises(DigestMismatch, match="file list"):
            reg.load("models:/extra/1")
        with pytest.raises(InvalidInput, match="sha256 digest"):
            reg.load("models:/baddigest/1")
    _cache_is_empty(modelyard_home)


@pytest.mark.parametrize("trusted", [False, True])
def test_a_version_whose_manifest_claims_safe_over_code_is_not_loaded(
    hostile: Hostile, modelyard_home: Path, tmp_path: Path, trusted: bool
) -> None:
    """A version registered before the server checked manifests, or by a lying server."""
    marker = tmp_path / "ran"
    forge_code(tmp_path / "evil", marker, "python", "model.cloudpickle", "cloudpickle")
    serve_version(hostile, "evil", tmp_path / "evil", trusted=trusted)
    with ModelRegistry(hostile.url) as reg:
        with pytest.raises(InvalidInput, match="claims safe"):
            reg.load("models:/evil/1")
        with pytest.raises(InvalidInput, match="claims safe"):
            reg.export("models:/evil/1", tmp_path / "bundle")
    assert not marker.exists()
    assert not (tmp_path / "bundle").exists()
    _cache_is_empty(modelyard_home)
    # honest about its format, it loads only if the server trusts exactly this digest
    edit(tmp_path / "evil", safe=False)
    serve_version(hostile, "honest", tmp_path / "evil", trusted=False)
    with (
        ModelRegistry(hostile.url) as reg,
        pytest.raises(NotTrusted, match="runs code when loaded"),
    ):
        reg.load("models:/honest/1")
    assert not marker.exists()


def test_a_tampered_cache_is_refused(
    hostile: Hostile, modelyard_home: Path, tmp_path: Path
) -> None:
    marker = tmp_path / "ran"
    _real(tmp_path / "m")
    digest = serve_version(hostile, "good", tmp_path / "m", trusted=True)
    with ModelRegistry(hostile.url) as reg:
        reg.load("models:/good/1")
        cached = modelyard_home / "models" / digest
        for old in list(cached.iterdir()):
            old.unlink()
        forge_code(cached, marker, "sklearn", "model.joblib", "joblib")
        edit(cached, safe=False)  # honest, but not the package the server trusted
        with pytest.raises(DigestMismatch, match="cached package"):
            reg.load("models:/good/1")
    assert not marker.exists()


@pytest.mark.parametrize(
    "listing",
    [
        [{"path": "../../x", "is_dir": False, "size": 5}],
        [{"path": "ABS", "is_dir": False, "size": 5}],
        [{"path": "sub/x", "is_dir": False, "size": 5}],
        [{"path": "..", "is_dir": True, "size": None}],
        [{"path": "%2e%2e", "is_dir": True, "size": None}],
        [{"path": 7, "is_dir": False, "size": 5}],
        {"path": "x"},
    ],
)
def test_run_artifact_names_from_the_server_are_checked(
    hostile: Hostile, tmp_path: Path, listing: Any
) -> None:
    outside = tmp_path / "abs" / "x"
    for entry in listing if isinstance(listing, list) else []:
        if entry["path"] == "ABS":
            entry["path"] = str(outside)
    hostile.json(f"/api/v1/runs/{RUN}/artifacts", listing, {"path": "model"})
    with (
        ModelRegistry(hostile.url) as reg,
        pytest.raises(InvalidInput, match=r"not a plain file name|must not contain|is not a list"),
    ):
        reg.load(f"runs:/{RUN}/model")
    fetched = [r for r in hostile.requests if r.startswith(f"/api/v1/runs/{RUN}/artifacts/")]
    assert fetched == []  # refused before a byte was asked for, let alone written
    assert not outside.exists()


def test_run_model_paths_in_the_uri_are_checked(hostile: Hostile) -> None:
    with (
        ModelRegistry(hostile.url) as reg,
        pytest.raises(PathNotAllowed, match=r"must not contain '\.\.'"),
    ):
        reg.load(f"runs:/{RUN}/../other-run/model")
    assert hostile.requests == []
