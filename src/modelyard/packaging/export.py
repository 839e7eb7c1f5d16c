"""A self-contained serving bundle: the model, the loader, a tiny HTTP server, a Dockerfile.

    bundle/
      model/            the package (modelyard.json and its files)
      _modelyard/       this loader, copied (errors and packaging only)
      serve.py          `python -m serve [--host H] [--port P]`: POST /invocations, GET /health
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

SERVE = '''"""Serve the bundled model: POST /invocations, GET /health (Python standard library only)."""

import argparse
import json
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from _modelyard.errors import ModelyardError
from _modelyard.packaging import manifest, package

HERE = Path(__file__).resolve().parent
MAX_BODY = 64 << 20


def load():
    """The model, only if the package passes the same checks as in modelyard (trust included)."""
    trusted_file = HERE / "trusted"
    trusted = trusted_file.read_text().strip() if trusted_file.is_file() else None
    model = package.load(HERE / "model", trusted_digest=trusted)
    return model, manifest.read(HERE / "model").digest


def as_rows(body):
    if "dataframe_split" in body:
        import pandas as pd

        split = body["dataframe_split"]
        return pd.DataFrame(split["data"], columns=split.get("columns"))
    if "inputs" in body:
        return body["inputs"]
    raise ValueError("send {\\"inputs\\": [[...], ...]} or {\\"dataframe_split\\": {...}}")


def make_handler(model, digest):
    class Handler(BaseHTTPRequestHandler):
        def _send(self, status, payload):
            data = json.dumps(payload).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def do_GET(self):
            if self.path == "/health":
                self._send(200, {"status": "ok", "package_digest": digest})
            else:
                self._send(404, {"error_code": "RESOURCE_DOES_NOT_EXIST", "message": self.path})

        def do_POST(self):
            if self.path != "/invocations":
                self._send(404, {"error_code": "RESOURCE_DOES_NOT_EXIST", "message": self.path})
                return
            length = int(self.headers.get("Content-Length") or 0)
            if length > MAX_BODY:
                self._send(413, {"error_code": "PAYLOAD_TOO_LARGE", "message": "body too large"})
                return
            try:
                rows = as_rows(json.loads(self.rfile.read(length) or b"{}"))
                out = model.predict(rows)
            except Exception as exc:  # a bad request must not kill the server
                self._send(400, {"error_code": "INVALID_PARAMETER_VALUE", "message": str(exc)})
                return
            self._send(200, {"predictions": out.tolist() if hasattr(out, "tolist") else list(out)})

        def log_message(self, *args):
            pass

    return Handler


def main():
    parser = argparse.ArgumentParser(description="Serve the bundled model.")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8080)
    args = parser.parse_args()
    try:
        model, digest = load()
    except ModelyardError as exc:
        raise SystemExit(f"refused to load the model: {exc.code}: {exc.message}") from None
    server = ThreadingHTTPServer((args.host, args.port), make_handler(model, digest))
    print(f"serving package sha256:{digest} on http://{args.host}:{args.port}", flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
'''

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
        if source.name != "export.py":
            shutil.copy2(source, vendored / "packaging" / source.name)
    (out / "serve.py").write_text(SERVE)
    (out / "requirements.txt").write_text("\n".join(requirements) + "\n")
    (out / "Dockerfile").write_text(DOCKERFILE.format(python=python))
    if admitted.needs_trust:
        (out / "trusted").write_text(manifest.digest + "\n")
    return out
