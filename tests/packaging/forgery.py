"""Hand-made packages that lie about themselves: the attacks the packaging checks must refuse."""

from __future__ import annotations

import hashlib
import io
import json
from pathlib import Path
from typing import Any

MANIFEST = "modelyard.json"


class Payload:
    """Unpickling this creates ``marker``: the proof that a model's code ran on load."""

    def __init__(self, marker: Path) -> None:
        self.marker = str(marker)

    def __reduce__(self) -> tuple[Any, tuple[str, str]]:
        return (open, (self.marker, "w"))


def pickled(marker: Path, how: str) -> bytes:
    """The payload as ``cloudpickle`` or ``joblib`` writes it."""
    if how == "cloudpickle":
        import cloudpickle

        return bytes(cloudpickle.dumps(Payload(marker)))
    import joblib

    buffer = io.BytesIO()
    joblib.dump(Payload(marker), buffer)
    return buffer.getvalue()


# (flavor, model file, pickler): code-carrying formats whose manifest will claim "safe": true
CODE_FORMATS = [
    ("python", "model.cloudpickle", "cloudpickle"),
    ("sklearn", "model.joblib", "joblib"),
    ("sklearn", "model.pkl", "joblib"),
]


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def forge(folder: Path, files: dict[str, bytes], **fields: Any) -> dict[str, Any]:
    """Write ``files`` and a manifest with ``fields`` (digests listed) into ``folder``."""
    folder.mkdir(parents=True, exist_ok=True)
    for rel, data in files.items():
        (folder / rel).parent.mkdir(parents=True, exist_ok=True)
        (folder / rel).write_bytes(data)
    manifest = {
        "flavor": "python",
        "model_file": next(iter(files)),
        "safe": True,
        "dependencies": {"numpy": "2.0.0"},
        "python_version": "3.11.7",
        "files": {rel: sha256(data) for rel, data in files.items()},
        "format_version": 1,
        **fields,
    }
    (folder / MANIFEST).write_text(json.dumps(manifest))
    return manifest


def forge_code(folder: Path, marker: Path, flavor: str, file: str, how: str) -> dict[str, Any]:
    """A package whose manifest claims ``safe`` over a pickle that creates ``marker``."""
    return forge(folder, {file: pickled(marker, how)}, flavor=flavor, model_file=file)


def edit(folder: Path, **fields: Any) -> dict[str, Any]:
    """Change manifest fields of a real package, listing the digests of its files again."""
    manifest: dict[str, Any] = json.loads((folder / MANIFEST).read_text())
    manifest.update(fields)
    manifest["files"] = {
        rel: sha256((folder / rel).read_bytes())
        for rel in manifest["files"]
        if (folder / rel).is_file()
    }
    (folder / MANIFEST).write_text(json.dumps(manifest))
    return manifest
