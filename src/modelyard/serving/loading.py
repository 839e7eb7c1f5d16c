"""Where `modelyard serve URI` gets its model: the registry, a run, or a bundle folder."""

from __future__ import annotations

import tempfile
from pathlib import Path

from modelyard.errors import InvalidInput
from modelyard.packaging import manifest as mf
from modelyard.serving.predictor import Predictor


def load_uri(uri: str, tracking_uri: str | None = None, *, trusted: bool = False) -> Predictor:
    """``models:/NAME@ALIAS``, ``models:/NAME/N``, ``runs:/RUN/path`` or a bundle folder."""
    bundle = Path(uri)
    if bundle.is_dir() and (bundle / "model" / mf.MANIFEST).is_file():
        mark = bundle / "trusted"
        digest = mark.read_text().strip() if mark.is_file() else None
        return Predictor.from_folder(bundle / "model", trusted_digest=digest)
    if bundle.is_dir() and (bundle / mf.MANIFEST).is_file():
        return Predictor.from_folder(bundle, trusted=trusted)
    from modelyard.registry.client import ModelRegistry

    with ModelRegistry(tracking_uri) as registry:
        if uri.startswith("models:/"):
            folder, version = registry.fetch(uri)
            digest = version["package_digest"] if version.get("trusted") is True else None
            return Predictor.from_folder(
                folder, trusted_digest=digest, version=int(version["version"])
            )
        if uri.startswith("runs:/"):
            with tempfile.TemporaryDirectory(prefix="modelyard-serve-") as tmp:
                folder = registry.download_run_model(uri, Path(tmp))
                return Predictor.from_folder(folder, trusted=trusted)
    raise InvalidInput(
        f"{uri!r} is not models:/NAME@ALIAS, models:/NAME/N, runs:/RUN/path or a bundle folder"
    )
