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

# Classifiers whose predict() is the class of highest predict_proba (their own rule, or a
# monotone map of the same scores): one predict_proba call gives both the answers and the
# probabilities. Checked on the input example at warm-up besides.
DERIVES = frozenset({
    "LogisticRegression", "LogisticRegressionCV", "RandomForestClassifier",
    "ExtraTreesClassifier", "DecisionTreeClassifier", "ExtraTreeClassifier",
    "HistGradientBoostingClassifier", "GradientBoostingClassifier", "BaggingClassifier",
    "CalibratedClassifierCV", "GaussianNB", "XGBClassifier", "_Classified",
})  # fmt: skip
SCORE_EVERY = 10  # other classifiers: probabilities on one model call in this many


@dataclass(eq=False)
class Predictor:
    """One loaded model version: its signature's ``schema`` and a ``predict`` over parts."""

    model: Any
    schema: Schema
    digest: str
    version: int | None = None  # the registry version, when it came from the registry
    example: Decoded | None = None
    batchable: bool = True  # one output per input row, so a batch splits back per request
    classes: list[Any] | None = None  # a classifier's classes, when it gives probabilities
    derives: bool = False  # its answers are the classes of highest probability
    _calls: int = 0
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
        self.classes = self._classes(part)
        self.derives = self.classes is not None and self._derives(part)

    def _classes(self, part: Part) -> list[Any] | None:
        """The model's classes if it has ``predict_proba`` and ``classes_`` (scikit-learn,
        XGBoost and LightGBM classifiers) and they answer the example row for row."""
        proba_of = getattr(self.model, "predict_proba", None)
        classes = getattr(self.model, "classes_", None)
        if classes is None:
            classes = getattr(self.model, "classes", None)
        if not callable(proba_of) or classes is None or not self.batchable:
            return None
        try:
            proba = proba_of(self.schema.assemble([part]))
            labels = to_list(classes)
            if getattr(proba, "shape", None) != (part.n, len(labels)):
                return None
        except Exception:  # any failure: no probabilities, the answers are unchanged
            return None
        return labels

    def _derives(self, part: Part) -> bool:
        """Whether predict() is the class of highest probability: by the model's type (the
        last step of a pipeline) and on the example."""
        import numpy as np

        steps = getattr(self.model, "steps", None)
        final = steps[-1][1] if isinstance(steps, list) and steps else self.model
        if type(final).__name__ not in DERIVES:
            return False
        try:
            rows = self.schema.assemble([part])
            derived = np.asarray(
                self.model.classes_ if hasattr(self.model, "classes_") else self.classes
            )
            picked = derived.take(np.asarray(self.model.predict_proba(rows)).argmax(axis=1))
            return bool(to_list(picked) == to_list(self.model.predict(rows)))
        except Exception:
            return False

    def predict(self, parts: list[Part]) -> list[Any]:
        """The model's outputs for every row of ``parts``, as JSON-ready values."""
        return to_list(self._predict(self.schema.assemble(parts)))

    def predict_scored(self, parts: list[Part]) -> tuple[list[Any], Any]:
        """The outputs and, for a classifier (``classes`` known), each row's class
        probabilities (an array, rows x classes; None when not computed).

        A model that ``derives`` is called once, predict_proba, its answers the classes of
        highest probability (a second call doubled the model's time: scikit-learn's input
        checks cost as much as the arithmetic). Other classifiers get a second call, on one
        call in SCORE_EVERY. A failing predict_proba never changes an answer: predict runs.
        """
        rows = self.schema.assemble(parts)
        if self.classes is None:
            return to_list(self._predict(rows)), None
        if self.derives:
            import numpy as np

            try:
                proba = np.asarray(self.model.predict_proba(rows))
                labels = getattr(self.model, "classes_", None)
                labels = np.asarray(self.classes if labels is None else labels)
                return to_list(labels.take(proba.argmax(axis=1))), proba
            except Exception:  # the answer (or the error) is predict's own
                return to_list(self._predict(rows)), None
        out = to_list(self._predict(rows))
        self._calls += 1
        if self._calls % SCORE_EVERY != 1:
            return out, None
        try:
            return out, self.model.predict_proba(rows)
        except Exception:
            return out, None

    def _predict(self, rows: Any) -> Any:
        try:
            return self.model.predict(rows)
        except (ValueError, TypeError) as exc:
            if self.schema.known:  # the input matched the signature: the model is at fault
                raise PredictionFailed(f"the model raised {type(exc).__name__}: {exc}") from exc
            raise InvalidInput(f"the model refused the input: {exc}") from exc  # no signature
        except Exception as exc:  # the model's own failure, of any type
            raise PredictionFailed(f"the model raised {type(exc).__name__}: {exc}") from exc


def to_list(out: Any) -> list[Any]:
    """Model output as a list of JSON-ready values (DataFrames become records)."""
    if hasattr(out, "to_dict") and hasattr(out, "columns"):
        records: list[Any] = out.to_dict(orient="records")
        return records
    if hasattr(out, "tolist"):
        listed = out.tolist()
        return listed if isinstance(listed, list) else [listed]
    return list(out)
