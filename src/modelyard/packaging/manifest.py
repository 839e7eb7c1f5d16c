"""``modelyard.json``: what a model folder holds, what it needs, and the digest of every file."""

from __future__ import annotations

import hashlib
import json
import platform
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from ..errors import DigestMismatch, InvalidInput

MANIFEST = "modelyard.json"
FORMAT_VERSION = 1


@dataclass(slots=True)
class Manifest:
    flavor: str  # sklearn, xgboost, lightgbm, pytorch, onnx, python
    model_file: str  # the main file, relative to the folder
    safe: bool  # True: the format carries no code (skops, ONNX, JSON/UBJ, torch.export)
    signature: dict[str, Any] = field(default_factory=dict)  # {"inputs": [...], "outputs": [...]}
    input_example: str | None = None  # a JSON file in the folder
    dependencies: dict[str, str] = field(default_factory=dict)  # distribution -> version
    python_version: str = field(default_factory=platform.python_version)
    flavor_options: dict[str, Any] = field(default_factory=dict)
    files: dict[str, str] = field(default_factory=dict)  # path -> sha256, the manifest excluded
    format_version: int = FORMAT_VERSION

    @property
    def digest(self) -> str:
        """The package digest: sha256 of the canonical manifest (which names every file's)."""
        return hashlib.sha256(canonical(asdict(self))).hexdigest()

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Manifest:
        try:
            known = {k: data[k] for k in cls.__dataclass_fields__ if k in data}
            manifest = cls(**known)
        except (TypeError, KeyError) as exc:
            raise InvalidInput(f"not a modelyard model manifest: {exc}") from exc
        if manifest.format_version > FORMAT_VERSION:
            raise InvalidInput(
                f"model format {manifest.format_version} is newer than this modelyard reads "
                f"({FORMAT_VERSION}); upgrade modelyard"
            )
        return manifest


def canonical(data: dict[str, Any]) -> bytes:
    return json.dumps(data, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as f:
        while chunk := f.read(1 << 20):
            h.update(chunk)
    return h.hexdigest()


def seal(folder: Path, manifest: Manifest) -> Manifest:
    """Record the digest of every file in ``folder`` and write the manifest."""
    manifest.files = {
        p.relative_to(folder).as_posix(): sha256_file(p)
        for p in sorted(folder.rglob("*"))
        if p.is_file() and p.name != MANIFEST
    }
    (folder / MANIFEST).write_text(json.dumps(manifest.to_json(), indent=2, sort_keys=True))
    return manifest


def read(folder: Path) -> Manifest:
    path = folder / MANIFEST
    if not path.is_file():
        raise InvalidInput(f"{folder} is not a modelyard model (no {MANIFEST})")
    try:
        return Manifest.from_json(json.loads(path.read_text()))
    except ValueError as exc:
        raise InvalidInput(f"{path} is not valid JSON: {exc}") from exc


def verify(folder: Path, manifest: Manifest) -> None:
    """Every file named by the manifest is there with the recorded digest (no tampering)."""
    for rel, digest in manifest.files.items():
        path = folder / rel
        if not path.is_file():
            raise InvalidInput(f"model file {rel} is missing from {folder}")
        if sha256_file(path) != digest:
            raise DigestMismatch(f"model file {rel} does not match its manifest digest")
