"""Save a model into a folder, and load one back safely (digests checked, trust enforced)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ..errors import NotTrusted
from . import manifest as mf
from . import signature
from .flavors import FLAVORS, for_model, installed


def save(
    model: Any,
    folder: Path,
    *,
    flavor: str | None = None,
    input_example: Any = None,
    serialization: str | None = None,
    extra_dependencies: dict[str, str] | None = None,
) -> mf.Manifest:
    """Write ``model`` into an empty ``folder`` in modelyard's format; returns the manifest."""
    chosen = for_model(model, flavor)
    folder.mkdir(parents=True, exist_ok=True)
    options: dict[str, Any] = {}
    if serialization:
        options["serialization"] = serialization
    if input_example is not None and chosen.name == "pytorch":
        options["example"] = input_example
    model_file, safe = chosen.save(model, folder, options)
    manifest = mf.Manifest(
        flavor=chosen.name,
        model_file=model_file,
        safe=safe,
        dependencies={**installed(*chosen.dependencies), **(extra_dependencies or {})},
        flavor_options=options,
    )
    if input_example is not None:
        manifest.input_example = signature.save_example(input_example, folder)
        output = None
        predict = getattr(model, "predict", None)
        try:
            output = predict(input_example) if predict is not None else None
        except Exception:
            output = None  # a model that cannot predict on its example still gets input types
        manifest.signature = signature.infer(input_example, output)
    return mf.seal(folder, manifest)


def load(folder: Path, *, trusted: bool = False) -> Any:
    """Load a model folder: files must match the manifest; unsafe formats need ``trusted``.

    ``trusted`` comes from the caller (a recorded trust decision for this package digest),
    never from the folder itself.
    """
    manifest = mf.read(folder)
    mf.verify(folder, manifest)
    if not manifest.safe and not trusted:
        raise NotTrusted(
            f"this {manifest.flavor} model is saved in a format that runs code when loaded "
            f"({manifest.model_file}); mark package sha256:{manifest.digest} trusted first "
            "(`modelyard models trust NAME VERSION --reason ...`)",
            digest=manifest.digest,
        )
    flavor = FLAVORS.get(manifest.flavor)
    if flavor is None:
        raise NotTrusted(f"unknown flavor {manifest.flavor!r}: nothing loads it")
    return flavor.load(folder, manifest.model_file, manifest.flavor_options, trusted)
