"""A self-contained serving bundle: the model, the loader, a tiny HTTP server, a Dockerfile.

    bundle/
      model/            the package (modelyard.json and its files)
      _modelyard/       this loader, copied (errors, packaging, serving's request code)
      serve.py          bundle_server.py: `python -m serve [--host H] [--port P]`
      requirements.txt  the model's dependencies, pinned as recorded
      Dockerfile
      trusted           the package digest, only when a model that needs trust was trusted

Runs in a fresh virtualenv after ``pip install -r requirements.txt``; modelyard not needed.
"""

from __future__ import annotations

import shutil
from pathlib import Path

from ..errors import InvalidInput
from . import manifest as mf
from . import package

SERVER = "bundle_server.py"  # copied as serve.py, its modelyard imports pointed at _modelyard
NOT_VENDORED = {"export.py", SERVER}
SERVING = ("requests.py", "inputs.py", "predictor.py")  # what modelyard serve shares with it


def bundle_server() -> str:
    """The source of ``serve.py``: bundle_server.py importing the vendored ``_modelyard``."""
    return to_vendored((Path(__file__).resolve().parent / SERVER).read_text())


def to_vendored(source: str) -> str:
    """A module's source with its ``modelyard`` imports pointed at the bundle's copy."""
    return source.replace("from modelyard.", "from _modelyard.")


DOCKERFILE = """FROM python:{python}-slim
WORKDIR /bundle
COPY requirements.txt .
RUN pip install --no-cache-dir -r requirements.txt
COPY . .
EXPOSE 8080
CMD ["python", "-m", "serve", "--host", "0.0.0.0", "--port", "8080"]
"""


def export(model_folder: Path, out: Path, *, trusted_digest: str | None = None) -> Path:
    """Write a bundle for the package in ``model_folder`` into the new folder ``out``.

    Everything is checked before anything is written: the manifest (dependency names and
    versions, Python version, paths), the files' digests, and trust (a package that needs it
    is exported only with ``trusted_digest`` equal to its digest).
    """
    if out.exists() and any(out.iterdir()):
        raise InvalidInput(f"{out} is not empty")
    admitted = package.admit(model_folder, trusted_digest=trusted_digest)
    manifest = admitted.manifest
    requirements = sorted(f"{dist}=={ver}" for dist, ver in manifest.dependencies.items())
    python = ".".join(manifest.python_version.split(".")[:2])
    out.mkdir(parents=True, exist_ok=True)
    for rel in [mf.MANIFEST, *manifest.files]:  # the package's own files, nothing else
        target = out / "model" / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        source = model_folder / mf.MANIFEST if rel == mf.MANIFEST else mf.inside(model_folder, rel)
        shutil.copyfile(source, target)
    here = Path(__file__).resolve().parent
    vendored = out / "_modelyard"
    (vendored / "packaging").mkdir(parents=True)
    (vendored / "__init__.py").write_text('"""modelyard\'s model loader, vendored."""\n')
    shutil.copy2(here.parent / "errors.py", vendored / "errors.py")
    for source in here.glob("*.py"):
        if source.name not in NOT_VENDORED:
            shutil.copy2(source, vendored / "packaging" / source.name)
    (vendored / "serving").mkdir()
    (vendored / "serving" / "__init__.py").write_text('"""modelyard serve\'s request code."""\n')
    for name in SERVING:
        text = (here.parent / "serving" / name).read_text()
        (vendored / "serving" / name).write_text(to_vendored(text))
    (out / "serve.py").write_text(bundle_server())
    (out / "requirements.txt").write_text("\n".join(requirements) + "\n")
    (out / "Dockerfile").write_text(DOCKERFILE.format(python=python))
    if admitted.needs_trust:
        (out / "trusted").write_text(manifest.digest + "\n")
    return out
