"""A model version ready to score: loaded through packaging's checks, warmed up, batchable.

Vendored into exported bundles with ``requests.py`` and ``inputs.py`` (see packaging/export.py),
so it imports only errors, packaging and serving's own request code.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from modelyard.errors import InvalidInput, PredictionFailed
from modelyard.packaging import manifest as mf
from modelyard.packaging import package
from modelyard.serving.inputs import Part, Schema
from modelyard.serving.requests import Decoded


@dataclass(eq=False)
class Predictor:
    """One loaded model version: its signature's ``schema`` and a ``predict`` over parts."""

    model: Any
    schema: Schema
    digest: str
    version: int | None = None  # the registry version, when it came from the registry
    example: Decoded | None = None
    batchable: bool = True  # one output per input row, so a batch splits back per request
    extra: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def from_folder(
        cls,
        folder: Path,
        *,
        trusted: bool = False,
        trusted_digest: str | None = None,
        version: int | None = None,
    ) -> Predictor:
        """Load a package folder exactly as ``models load`` does (NotTrusted when it must)."""
        model = package.load(folder, trusted=trusted, trusted_digest=trusted_digest)
        manifest = mf.read(folder)
        example = None
        if manifest.input_example:
            raw = json.loads(mf.inside(folder, manifest.input_example).read_text())
            example = Decoded(raw.get("columns"), raw.get("data") or [])
        return cls(
            model, Schema.from_signature(manifest.signature), manifest.digest, version, example
        )

    def warm_up(self) -> None:
        """Score the input example once (first-call costs paid before traffic), and learn
        whether outputs come one per row, which batching needs."""
        if self.example is None or not len(self.example):
            return
        part = self.schema.check(self.example)
        out = self.predict([part])
        self.batchable = len(out) == part.n

    def predict(self, parts: list[Part]) -> list[Any]:
        """The model's outputs for every row of ``parts``, as JSON-ready values."""
        rows = self.schema.assemble(parts)
        try:
            out = self.model.predict(rows)
        except (ValueError, TypeError) as exc:
            if self.schema.known:  # the input matched the signature: the model is at fault
                raise PredictionFailed(f"the model raised {type(exc).__name__}: {exc}") from exc
            raise InvalidInput(f"the model refused the input: {exc}") from exc  # no signature
        except Exception as exc:  # the model's own failure, of any type
            raise PredictionFailed(f"the model raised {type(exc).__name__}: {exc}") from exc
        return to_list(out)


def to_list(out: Any) -> list[Any]:
    """Model output as a list of JSON-ready values (DataFrames become records)."""
    if hasattr(out, "to_dict") and hasattr(out, "columns"):
        records: list[Any] = out.to_dict(orient="records")
        return records
    if hasattr(out, "tolist"):
        listed = out.tolist()
        return listed if isinstance(listed, list) else [listed]
    return list(out)
