"""After an import: what the MLflow source holds beside what modelyard holds of it, counted
through the same client and services the import uses (the source through its REST API).

Only what came from the source is counted on modelyard's side: experiments by name, runs,
logged models and registered models by id or name, params, tags and dataset inputs when
their values are equal, so runs logged to modelyard later do not hide a loss.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from modelyard.datasets.service import DatasetsService
from modelyard.errors import ModelyardError, NotFound, PathNotAllowed, ServerUnreachable
from modelyard.importers.artifact_sources import ArtifactFolder, ArtifactSources, join, segment
from modelyard.importers.mlflow import PAGE, Source, mlflow_client, no_redirects
from modelyard.importers.mlflow_registry import RECORDED_AS, quote, source_models, source_versions
from modelyard.registry.service import RegistryService
from modelyard.tracking.entities import DEFAULT_EXPERIMENT, Run
from modelyard.tracking.service import TrackingService

MAX_DEPTH = 64
ROWS = (
    "experiments (active)",
    "experiments (deleted)",
    "runs (active)",
    "runs (deleted)",
    "params",
    "tags",
    "metric points",
    "dataset inputs",
    "run model inputs and outputs",
    "logged models",
    "logged-model metrics",
    "registered models",
    "versions",
    "aliases",
    "artifact files",
)


@dataclass
class Comparison:
    """Counts per row of :data:`ROWS`; ``notes`` say what could not be counted."""

    source: Counter[str] = field(default_factory=Counter)
    modelyard: Counter[str] = field(default_factory=Counter)
    notes: list[str] = field(default_factory=list)

    def rows(self) -> Iterator[tuple[str, int, int]]:
        for what in ROWS:
            yield what, self.source[what], self.modelyard[what]

    @property
    def differences(self) -> list[str]:
        return [what for what, theirs, mine in self.rows() if theirs != mine]


def _same(value: float) -> float | str:
    return "nan" if isinstance(value, float) and math.isnan(value) else value


def _matched(theirs: Counter[Any], mine: Counter[Any]) -> int:
    """How many of ``theirs`` ``mine`` holds too (a multiset intersection)."""
    return sum((theirs & mine).values())


class Counts:
    def __init__(
        self,
        mlflow: Any,
        sources: ArtifactSources,
        tracking: TrackingService,
        registry: RegistryService,
        datasets: DatasetsService,
    ) -> None:
        self.mlflow = mlflow
        self.sources = sources
        self.tracking = tracking
        self.registry = registry
        self.datasets = datasets
        self.out = Comparison()

    def compare(self) -> Comparison:
        found = Source.read(self.mlflow, self.out.notes)
        for exp in found.experiments:
            self._experiment(exp)
        mine_runs: dict[str, Run] = {}
        for run in found.runs:
            try:
                mine_runs[run.info.run_id] = self.tracking.get_run(run.info.run_id)
            except NotFound:
                pass
        ids = list(mine_runs)
        inputs: dict[str, list[Any]] = {}
        links: dict[str, dict[str, list[tuple[str, int]]]] = {}
        for start in range(0, len(ids), PAGE):
            inputs.update(self.datasets.inputs(ids[start : start + PAGE]))
            links.update(self.registry.run_models(ids[start : start + PAGE]))
        for run in found.runs:
            mine = mine_runs.get(run.info.run_id)
            self._run(run, mine, inputs.get(run.info.run_id, []), links.get(run.info.run_id, {}))
        for models in found.models.values():
            for model in models:
                self._logged_model(model)
        self._registry()
        return self.out

    def _add(self, what: str, theirs: int, mine: int) -> None:
        self.out.source[what] += theirs
        self.out.modelyard[what] += mine

    def _experiment(self, exp: Any) -> None:
        name = DEFAULT_EXPERIMENT if exp.experiment_id == "0" else exp.name
        what = f"experiments ({'deleted' if exp.lifecycle_stage == 'deleted' else 'active'})"
        try:
            mine = self.tracking.get_experiment_by_name(name)
        except NotFound:
            self._add(what, 1, 0)
            return
        self.out.source[what] += 1
        self.out.modelyard[f"experiments ({mine.lifecycle.value})"] += 1

    def _run(self, run: Any, mine: Run | None, uses: list[Any], links: dict[str, Any]) -> None:
        rid = run.info.run_id
        full = self.mlflow.get_run(rid)  # MLflow's search leaves out the models a run read
        deleted = run.info.lifecycle_stage == "deleted"
        self.out.source[f"runs ({'deleted' if deleted else 'active'})"] += 1
        if mine is not None:
            self.out.modelyard[f"runs ({mine.lifecycle.value})"] += 1
        params = Counter(run.data.params.items())
        have_params = Counter((mine.params if mine else {}).items())
        self._add("params", len(params), _matched(params, have_params))
        tags = dict(run.data.tags)
        recorded = tags.pop("mlflow.user", None) or run.info.user_id
        if recorded:
            tags[RECORDED_AS] = recorded
        have_tags = Counter((mine.tags if mine else {}).items())
        self._add("tags", len(tags), _matched(Counter(tags.items()), have_tags))
        points = sum(len(self.mlflow.get_metric_history(rid, key)) for key in run.data.metrics)
        counted = sum(
            mine.metrics[key].count for key in run.data.metrics if mine and key in mine.metrics
        )
        self._add("metric points", points, counted)
        theirs = Counter(
            (
                d.dataset.name,
                d.dataset.digest,
                tuple(sorted((t.key, t.value) for t in d.tags or [])),
            )
            for d in getattr(full.inputs, "dataset_inputs", None) or []
        )
        have = Counter(
            (
                version.name,
                version.tags.get("reference.digest", ""),
                tuple(
                    sorted(
                        {
                            **use.tags,
                            **({"mlflow.data.context": use.context} if use.context else {}),
                        }.items()
                    )
                ),
            )
            for use, version in uses
        )
        self._add("dataset inputs", sum(theirs.values()), _matched(theirs, have))
        model_links = Counter(
            [("input", m.model_id) for m in getattr(full.inputs, "model_inputs", None) or []]
            + [
                ("output", m.model_id)
                for m in getattr(getattr(full, "outputs", None), "model_outputs", None) or []
            ]
        )
        have_links = Counter((way, m) for way, items in links.items() for m, _step in items)
        self._add(
            "run model inputs and outputs",
            sum(model_links.values()),
            _matched(model_links, have_links),
        )
        area = (lambda: self.tracking.run_artifacts(rid)) if mine is not None else None
        self._files(f"run {rid}", run.info.artifact_uri, area)

    def _logged_model(self, model: Any) -> None:
        def point(p: Any) -> tuple[Any, ...]:
            return (
                p.key,
                _same(float(p.value)),
                int(p.step or 0),
                p.run_id or None,
                p.dataset_name or None,
                p.dataset_digest or None,
            )

        theirs = Counter(point(p) for p in model.metrics or [])
        try:
            mine = self.registry.get_logged_model(model.model_id)
        except NotFound:
            self._add("logged models", 1, 0)
            self._add("logged-model metrics", sum(theirs.values()), 0)
            self._files(f"logged model {model.model_id}", model.artifact_location, None)
            return
        self._add("logged models", 1, 1)
        have = Counter(point(p) for p in mine.metrics)
        self._add("logged-model metrics", sum(theirs.values()), _matched(theirs, have))
        self._files(
            f"logged model {model.model_id}",
            model.artifact_location,
            lambda: self.registry.model_artifacts(model.model_id),
        )

    def _registry(self) -> None:
        for rm in source_models(self.mlflow):
            numbers = {int(v.version) for v in source_versions(self.mlflow, rm.name)}
            aliases = {a: int(n) for a, n in dict(rm.aliases).items()}
            try:
                mine = self.registry.get_model(rm.name)
            except NotFound:
                self._add("registered models", 1, 0)
                self._add("versions", len(numbers), 0)
                self._add("aliases", len(aliases), 0)
                continue
            self._add("registered models", 1, 1)
            found, _token = self.registry.search_versions(f"name = '{quote(rm.name)}'")
            have = {v.version for v in found}
            self._add("versions", len(numbers), len(numbers & have))
            same = sum(1 for a, n in aliases.items() if mine.aliases.get(a) == n)
            self._add("aliases", len(aliases), same)

    # -- files
    def _files(self, what: str, uri: str, area: Callable[[], Any] | None) -> None:
        try:
            folder = self.sources.locate(uri)
            theirs = self._count(folder, "", 0)
        except PathNotAllowed as exc:
            self.out.notes.append(f"{what}: artifacts at {uri!r} not counted: {exc.message}")
            return
        except ServerUnreachable:
            raise
        except ModelyardError as exc:
            self.out.notes.append(f"{what}: artifacts not counted: {exc.message}")
            return
        mine = 0
        if area is not None:
            try:
                mine = len(area().files())
            except NotFound:
                pass
        self._add("artifact files", theirs, mine)

    def _count(self, folder: ArtifactFolder, path: str, depth: int) -> int:
        if depth > MAX_DEPTH:
            raise PathNotAllowed(f"{path!r} is nested too deep", path=path)
        total = 0
        for entry in folder.list(path):
            rel = join(path, segment(entry.name))
            total += self._count(folder, rel, depth + 1) if entry.is_dir else 1
        return total


def compare_mlflow(
    source: str,
    tracking: TrackingService,
    registry: RegistryService,
    datasets: DatasetsService | None = None,
    allowed_roots: Sequence[str | Path] = (),
) -> Comparison:
    """Count what ``source`` (an MLflow server or store) holds and what modelyard holds of it."""
    mlflow = mlflow_client(source)
    sources = ArtifactSources(source, allowed_roots)
    try:
        with no_redirects():
            return Counts(
                mlflow,
                sources,
                tracking,
                registry,
                datasets or DatasetsService(registry.db, registry.artifacts),
            ).compare()
    finally:
        sources.close()
