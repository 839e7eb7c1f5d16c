"""Save a model into a folder, and load one back safely (digests checked, trust enforced)."""

from __future__ import annotations

from pathlib import Path
from typing import Any, NamedTuple

from ..errors import InvalidInput, NotTrusted
from . import manifest as mf
from . import signature
from .flavors import Flavor, for_model, installed, named


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
    model_file = chosen.save(model, folder, options)
    safe = not chosen.carries_code(model_file) and not chosen.untrusted(folder, model_file)
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


class Admitted(NamedTuple):
    manifest: mf.Manifest
    flavor: Flavor
    trusted: bool  # the caller trusts this package
    needs_trust: bool  # loading it runs code or rebuilds types not trusted by default


def admit(folder: Path, *, trusted: bool = False, trusted_digest: str | None = None) -> Admitted:
    """Check a package before anything in it is loaded; NotTrusted if it needs trust it lacks.

    Whether it needs trust comes from the flavor table, the model file's format and (for
    code-free formats such as skops) the types the file holds; never from the manifest's
    ``safe``. ``trusted`` (or ``trusted_digest`` equal to the package digest) comes from the
    caller, never from the folder itself.
    """
    manifest = mf.read(folder)
    allowed = trusted or (trusted_digest is not None and trusted_digest == manifest.digest)
    code_runs = "is saved in a format that runs code when loaded"
    try:
        code = mf.check(manifest)  # paths, flavor table and format: nothing opened yet
    except InvalidInput as exc:
        if exc.details.get("field") == "safe" and not allowed:  # claims safe, carries code
            raise _not_trusted(manifest, code_runs) from exc
        raise
    if code and not allowed:
        raise _not_trusted(manifest, code_runs)
    flavor = named(manifest.flavor)
    mf.verify(folder, manifest)
    found = flavor.untrusted(folder, manifest.model_file)  # reads, never loads, the checked file
    if found and not allowed:
        raise _not_trusted(manifest, f"holds types that are not trusted by default ({found})")
    return Admitted(manifest, flavor, allowed, code or bool(found))


def load(folder: Path, *, trusted: bool = False, trusted_digest: str | None = None) -> Any:
    """Load a model folder: files must match the manifest; unsafe formats need trust.

    ``trusted`` vouches for whatever is in the folder (a ``runs:/`` model you logged);
    ``trusted_digest`` trusts only the package with that digest (a registry trust decision).
    """
    ok = admit(folder, trusted=trusted, trusted_digest=trusted_digest)
    return ok.flavor.load(folder, ok.manifest.model_file, ok.manifest.flavor_options, ok.trusted)


def _not_trusted(manifest: mf.Manifest, why: str) -> NotTrusted:
    claim = " (its manifest's claim to be safe does not count)" if manifest.safe else ""
    return NotTrusted(
        f"this {manifest.flavor} model ({manifest.model_file}) {why}{claim}; mark package "
        f"sha256:{manifest.digest} trusted first (`modelyard models trust NAME VERSION "
        "--reason ...`)",
        digest=manifest.digest,
    )
