"""``modelyard.json``: what a model folder holds, what it needs, and the digest of every file.

A manifest is written by whoever uploads the model, so nothing in it is believed: ``check`` is
the one validation the server (on register), the SDK (on download) and the loader and exporter
(before opening anything) all run. Paths are checked here rather than with the artifact store's
``clean_relative`` because this package is vendored into bundles that run without modelyard.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import sys
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from ..errors import DigestMismatch, InvalidInput, PathNotAllowed
from .flavors import named

MANIFEST = "modelyard.json"
FORMAT_VERSION = 1
MAX_PATH_BYTES = 1024

_DIGEST = re.compile(r"[0-9a-f]{64}")
_DRIVE = re.compile(r"[A-Za-z]:")
# PEP 508 distribution names, and PEP 440 versions (packaging's VERSION_PATTERN), ASCII only:
# both are written into requirements.txt, where anything else could become a pip option.
_DIST = re.compile(r"[A-Za-z0-9](?:[A-Za-z0-9._-]*[A-Za-z0-9])?")
_VERSION = re.compile(
    r"""
    v?
    (?:[0-9]+!)?                                          # epoch
    [0-9]+(?:\.[0-9]+)*                                   # release
    (?:[-_.]?(?:alpha|a|beta|b|preview|pre|c|rc)[-_.]?[0-9]*)?             # pre-release
    (?:-[0-9]+|[-_.]?(?:post|rev|r)[-_.]?[0-9]*)?          # post-release
    (?:[-_.]?dev[-_.]?[0-9]*)?                            # dev release
    (?:\+[a-z0-9]+(?:[-_.][a-z0-9]+)*)?                   # local version
    """,
    re.VERBOSE | re.IGNORECASE | re.ASCII,
)
_PYTHON = re.compile(r"[0-9]+\.[0-9]+(?:\.[0-9]+)?")  # 3.11 or 3.11.7, written into the Dockerfile


def _python_version() -> str:
    return "{}.{}.{}".format(*sys.version_info[:3])  # never a "+" or "rc" build suffix


@dataclass(slots=True)
class Manifest:
    flavor: str  # sklearn, xgboost, lightgbm, pytorch, onnx, python
    model_file: str  # the main file, relative to the folder, one of ``files``
    safe: bool  # a record: True when saved in a code-free format; never decides trust
    signature: dict[str, Any] = field(default_factory=dict)  # {"inputs": [...], "outputs": [...]}
    input_example: str | None = None  # a JSON file in the folder
    dependencies: dict[str, str] = field(default_factory=dict)  # distribution -> version
    python_version: str = field(default_factory=_python_version)
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
    def from_json(cls, data: Any) -> Manifest:
        """Parse the JSON shape (every field of its type); ``check`` judges the content."""
        if not isinstance(data, dict):
            raise InvalidInput("not a modelyard model manifest: not a JSON object")
        try:
            known = {k: data[k] for k in cls.__dataclass_fields__ if k in data}
            manifest = cls(**known)
        except (TypeError, KeyError) as exc:
            raise InvalidInput(f"not a modelyard model manifest: {exc}") from exc
        _check_types(manifest)
        if manifest.format_version > FORMAT_VERSION:
            raise InvalidInput(
                f"model format {manifest.format_version} is newer than this modelyard reads "
                f"({FORMAT_VERSION}); upgrade modelyard"
            )
        return manifest


_TYPES: dict[str, tuple[type, ...]] = {
    "flavor": (str,),
    "model_file": (str,),
    "safe": (bool,),
    "signature": (dict,),
    "input_example": (str, type(None)),
    "dependencies": (dict,),
    "python_version": (str,),
    "flavor_options": (dict,),
    "files": (dict,),
    "format_version": (int,),
}


def _check_types(manifest: Manifest) -> None:
    for name, types in _TYPES.items():
        value = getattr(manifest, name)
        if not isinstance(value, types) or (isinstance(value, bool) and bool not in types):
            raise InvalidInput(f"manifest field {name!r} has the wrong type", field=name)
    for name in ("dependencies", "files"):
        pairs = getattr(manifest, name)
        if not all(isinstance(k, str) and isinstance(v, str) for k, v in pairs.items()):
            raise InvalidInput(f"manifest field {name!r} maps text to text", field=name)


def check(manifest: Manifest) -> bool:
    """Refuse a manifest that breaks a rule; returns whether its model format runs code.

    The flavor must be in the fixed table and the model file one of its formats; every path
    must be a clean relative path inside the package, and the model file and input example
    files the manifest lists; a manifest may not claim ``safe`` for a code-carrying format;
    dependencies and the Python version must match their grammars (they are written into
    build files on export). The claim is checked last (``field="safe"``): a loader without
    trust answers NOT_TRUSTED instead.
    """
    if manifest.format_version < 1:
        raise InvalidInput("manifest format_version must be at least 1", field="format_version")
    for rel, digest in manifest.files.items():
        _check_path(rel, "files")
        if rel == MANIFEST:
            raise InvalidInput("the manifest cannot list itself in files", field="files")
        if not _DIGEST.fullmatch(digest):
            raise InvalidInput(f"the digest of {rel!r} is not 64 hex digits", field="files")
    flavor = named(manifest.flavor)
    _check_listed(manifest, manifest.model_file, "model_file")
    code = flavor.carries_code(manifest.model_file)
    if manifest.input_example is not None:
        _check_listed(manifest, manifest.input_example, "input_example")
    for dist, ver in manifest.dependencies.items():
        if not _DIST.fullmatch(dist):
            raise InvalidInput(
                f"dependency {dist!r} is not a distribution name (PEP 508)", field="dependencies"
            )
        if not _VERSION.fullmatch(ver):
            raise InvalidInput(
                f"version {ver!r} of {dist} is not a PEP 440 version", field="dependencies"
            )
    if not _PYTHON.fullmatch(manifest.python_version):
        raise InvalidInput(
            f"python_version {manifest.python_version!r} is not like 3.11 or 3.11.7",
            field="python_version",
        )
    if code and manifest.safe:
        raise InvalidInput(
            f"the manifest claims safe, but {manifest.model_file!r} is a {flavor.name} format "
            "that runs code when loaded",
            field="safe",
        )
    return code


def _check_path(rel: str, where: str) -> None:
    """A clean relative path: no absolute, drive, '..', '.', empty part, backslash or control."""
    parts = rel.split("/")
    if (
        not rel
        or len(rel.encode("utf-8", "surrogatepass")) > MAX_PATH_BYTES
        or any(0xD800 <= ord(c) <= 0xDFFF for c in rel)
        or rel.startswith("/")
        or _DRIVE.match(rel)
        or any(p in ("", ".", "..") for p in parts)
        or any(c == "\\" or ord(c) < 0x20 or c == "\x7f" for c in rel)
    ):
        raise PathNotAllowed(
            f"{where} path {rel!r} is not a clean path inside the package",
            field=where,
            path=rel[:200],
        )


def _check_listed(manifest: Manifest, rel: str, where: str) -> None:
    _check_path(rel, where)
    if rel not in manifest.files:
        raise InvalidInput(f"{where} {rel!r} is not one of the package's files", field=where)


def canonical(data: dict[str, Any]) -> bytes:
    return json.dumps(data, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as f:
        while chunk := f.read(1 << 20):
            h.update(chunk)
    return h.hexdigest()


def seal(folder: Path, manifest: Manifest) -> Manifest:
    """Record the digest of every file in ``folder`` and write the manifest (checked first)."""
    manifest.files = {
        p.relative_to(folder).as_posix(): sha256_file(p)
        for p in sorted(folder.rglob("*"))
        if p.is_file() and p.relative_to(folder).as_posix() != MANIFEST
    }
    check(manifest)
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


def inside(folder: Path, rel: str) -> Path:
    """The file ``rel`` of the package in ``folder``; links may not lead out of it."""
    _check_path(rel, "files")
    root = Path(os.path.realpath(folder))
    path = Path(os.path.realpath(root / rel))
    if root not in path.parents:
        raise PathNotAllowed(f"package file {rel!r} leads out of {folder}", path=rel[:200])
    return path


def verify(folder: Path, manifest: Manifest) -> None:
    """Every file named by the manifest is there with the recorded digest (no tampering)."""
    for rel, digest in manifest.files.items():
        path = inside(folder, rel)
        if not path.is_file():
            raise InvalidInput(f"model file {rel} is missing from {folder}")
        if sha256_file(path) != digest:
            raise DigestMismatch(f"model file {rel} does not match its manifest digest")
