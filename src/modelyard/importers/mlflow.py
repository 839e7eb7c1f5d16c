"""Moving in: copy an MLflow tracking server or store into modelyard, idempotently.

Run ids, logged model ids and version numbers are kept, so ``runs:/``, ``models:/m-...`` and
``models:/name/3`` URIs keep working. Every write is a batch with an id derived from what it
copies (or a write that is a no-op the second time), so a second import copies nothing twice
and an interrupted one resumes where it stopped.

Deleted experiments and runs are imported deleted: written while active, then deleted. An
experiment deleted by an earlier import that still has runs to copy is restored for them and
deleted again at the end.

What the source says is data, never a place to go: artifacts are read only through the source
server's own artifact API (``mlflow-artifacts``, on the host and port given with ``--from``),
or from local folders the user named (``allowed_roots``); every other location (``file:``,
another host, ``s3://``) is refused with a warning, and every path received is checked before
anything is written.

User names are data too: the source's own records say who logged a run or a version, unchecked
by this server, so what an import writes is written by ``mlflow-import`` (the run's user, the
registry's history) and the name the source recorded is kept as the ``modelyard.recorded_as``
tag beside it.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from modelyard.datasets.service import DatasetsService
from modelyard.errors import (
    InvalidInput,
    ModelyardError,
    NotFound,
    PathNotAllowed,
    ServerUnreachable,
)
from modelyard.importers.artifact_sources import ArtifactFolder, ArtifactSources, join, segment
from modelyard.importers.mlflow_metrics import chunks, model_metric_json, split_history
from modelyard.importers.mlflow_registry import (
    IMPORT_USER,
    RECORDED_AS,
    RegistryCopy,
    pages,
)
from modelyard.registry.entities import LoggedModelStatus
from modelyard.registry.service import RegistryService
from modelyard.tracking.batches import parse_batch
from modelyard.tracking.entities import DEFAULT_EXPERIMENT, Lifecycle
from modelyard.tracking.service import TrackingService

__all__ = ["IMPORT_USER", "RECORDED_AS", "ImportReport", "MlflowImporter"]

Progress = Callable[[str, int, int], None]  # (what, done, total)
STATUSES = frozenset({"RUNNING", "FINISHED", "FAILED", "KILLED"})
SOURCE_USER_TAG = "mlflow.user"
CONTEXT_TAG = "mlflow.data.context"  # an MLflow dataset input's context, kept as the edge's
MAX_DEPTH = 64  # artifact folders nested deeper are not copied
PAGE = 500  # runs whose inputs are read from modelyard in one query


@dataclass
class ImportReport:
    """What this import copied (things already there are counted as skipped)."""

    experiments: int = 0
    runs: int = 0
    runs_skipped: int = 0
    metric_points: int = 0
    model_metric_points: int = 0
    dataset_inputs: int = 0
    model_links: int = 0
    artifact_files: int = 0
    logged_models: int = 0
    registered_models: int = 0
    versions: int = 0
    aliases: int = 0
    deleted: int = 0  # experiments and runs marked deleted, as in the source
    warnings: list[str] = field(default_factory=list)
    refused: list[str] = field(default_factory=list)  # artifact locations or paths not followed


def _batch_id(*parts: str) -> str:
    """A stable id (<= 64 characters) for one piece of the import."""
    digest = hashlib.sha256("\x1f".join(parts).encode()).hexdigest()[:40]
    return f"mlflow-import:{digest}"


@contextmanager
def no_redirects() -> Iterator[None]:
    """MLflow's client follows no redirect the source sends (MLFLOW_ALLOW_HTTP_REDIRECTS)."""
    saved = os.environ.get("MLFLOW_ALLOW_HTTP_REDIRECTS")
    os.environ["MLFLOW_ALLOW_HTTP_REDIRECTS"] = "false"
    try:
        yield
    finally:
        if saved is None:
            os.environ.pop("MLFLOW_ALLOW_HTTP_REDIRECTS", None)
        else:
            os.environ["MLFLOW_ALLOW_HTTP_REDIRECTS"] = saved


def mlflow_client(source: str) -> Any:
    """MLflow's client for ``source`` (tracking and registry), or a clear error without it."""
    try:
        from mlflow import MlflowClient
    except ImportError as exc:
        raise InvalidInput(
            "importing from MLflow needs the mlflow package: pip install 'modelyard[mlflow]'"
        ) from exc
    return MlflowClient(tracking_uri=source, registry_uri=source)


@dataclass
class Source:
    """What the source holds, listed once: experiments, runs (every lifecycle) and logged
    models, in the order an import writes them."""

    experiments: list[Any]
    runs: list[Any]
    models: dict[str, list[Any]]  # by experiment id

    @classmethod
    def read(cls, mlflow: Any, warnings: list[str]) -> Source:
        from mlflow.entities import ViewType as MlflowView

        experiments = list(
            pages(
                lambda token: mlflow.search_experiments(
                    view_type=MlflowView.ALL, max_results=1000, page_token=token
                )
            )
        )

        def runs_of(exp_id: str) -> Iterator[Any]:
            return pages(
                lambda token: mlflow.search_runs(
                    [exp_id],
                    run_view_type=MlflowView.ALL,
                    max_results=1000,
                    order_by=["attributes.start_time ASC"],
                    page_token=token,
                )
            )

        def models_of(exp_id: str) -> list[Any]:
            try:
                return list(
                    pages(
                        lambda token: mlflow.search_logged_models(
                            experiment_ids=[exp_id], page_token=token
                        )
                    )
                )
            except Exception as exc:  # MLflow 2 stores have no logged models
                warnings.append(f"logged models of experiment {exp_id}: {exc}")
                return []

        return cls(
            experiments,
            [run for exp in experiments for run in runs_of(exp.experiment_id)],
            {exp.experiment_id: models_of(exp.experiment_id) for exp in experiments},
        )


class MlflowImporter:
    def __init__(
        self,
        source: str,
        tracking: TrackingService,
        registry: RegistryService,
        progress: Progress | None = None,
        allowed_roots: Sequence[str | Path] = (),
        datasets: DatasetsService | None = None,
    ) -> None:
        """``allowed_roots``: local folders whose files runs may name as their artifacts.

        Without them only the source server's artifact API is read (and, for a local file
        store given as ``source``, that store's folder). ``datasets``: where dataset inputs
        go (by default the registry's store).
        """
        self.source = source
        self.mlflow = mlflow_client(source)
        self.tracking = tracking
        self.registry = registry
        self.datasets = datasets or DatasetsService(registry.db, registry.artifacts)
        self.progress = progress or (lambda what, done, total: None)
        self.report = ImportReport()
        self._experiments: dict[str, int] = {}
        self._source_deleted: set[int] = set()  # modelyard ids of experiments deleted there
        self._done_runs: set[str] = set()
        self._created: set[str] = set()
        self.allowed_roots = allowed_roots

    def run(self) -> ImportReport:
        self.sources = ArtifactSources(self.source, self.allowed_roots)
        try:
            with no_redirects():
                return self._import()
        finally:
            self.sources.close()

    def _import(self) -> ImportReport:
        """Runs before the logged models that name them, models before the metrics logged
        for them and the versions made of them; deletions last."""
        found = Source.read(self.mlflow, self.report.warnings)
        for exp in found.experiments:
            self._experiment(exp)
        todo = [run for run in found.runs if not self._done(run)]
        for run in todo:
            self._create(run)
        for exp in found.experiments:
            self._logged_models(exp.experiment_id, found.models[exp.experiment_id])
        points = self._model_points(found)
        for i, run in enumerate(todo):
            self._copy(run, points.get(run.info.run_id, []))
            self.progress("runs", i + 1 + len(found.runs) - len(todo), len(found.runs))
        if not todo:
            self.progress("runs", len(found.runs), len(found.runs))
        # runs copied whole by an earlier import (maybe one that did not copy inputs yet):
        # what the search returns (MLflow's search leaves out the models a run read)
        self._inputs([run for run in found.runs if run.info.run_id not in self._created])
        RegistryCopy(self.mlflow, self.registry, self.report).run()
        for exp_id in sorted(self._source_deleted):
            if self.tracking.get_experiment(exp_id).lifecycle != Lifecycle.DELETED:
                self.tracking.delete_experiment(exp_id)
                self.report.deleted += 1
        return self.report

    # -- experiments and runs
    def _experiment(self, exp: Any) -> int:
        name = DEFAULT_EXPERIMENT if exp.experiment_id == "0" else exp.name
        try:
            mine = self.tracking.get_experiment_by_name(name)
        except NotFound:
            description = exp.tags.get("mlflow.note.content", "")
            mine = self.tracking.create_experiment(name, description, dict(exp.tags))
            self.report.experiments += 1
        else:
            for key, value in exp.tags.items():
                if mine.tags.get(key) != value:
                    self.tracking.set_experiment_tag(mine.id, key, value)
        if exp.lifecycle_stage == "deleted":  # deleted at the end, after its runs
            self._source_deleted.add(mine.id)
        self._experiments[exp.experiment_id] = mine.id
        return mine.id

    def _done(self, run: Any) -> bool:
        """Whether an earlier import copied this run whole (then only its lifecycle follows)."""
        rid = run.info.run_id
        if not self.tracking.applied([_batch_id(rid, "done")]):
            return False
        self._done_runs.add(rid)
        self.report.runs_skipped += 1
        if run.info.lifecycle_stage == "deleted":
            self._delete_run(rid)
        return True

    def _delete_run(self, rid: str) -> None:
        if self.tracking.get_run(rid).lifecycle != Lifecycle.DELETED:
            self.tracking.delete_run(rid)
            self.report.deleted += 1

    def _writable(self, rid: str, exp_id: int) -> None:
        """Make the run (or, for a new run, its experiment) active, so it can be written.

        They are deleted only by an earlier import (or a user) before the run was copied whole;
        what the source has deleted is deleted again once copied.
        """
        try:
            mine = self.tracking.get_run(rid)
        except NotFound:
            if self.tracking.get_experiment(exp_id).lifecycle == Lifecycle.DELETED:
                self.tracking.restore_experiment(exp_id)
            return
        if mine.lifecycle == Lifecycle.DELETED:
            self.tracking.restore_run(rid)

    def _create(self, run: Any) -> None:
        """The run with its params and tags (its parent first)."""
        rid = run.info.run_id
        if rid in self._created or rid in self._done_runs:
            return
        tags = dict(run.data.tags)
        recorded = tags.pop(SOURCE_USER_TAG, None) or run.info.user_id
        if recorded:  # a name the source was told, not one this server checked
            tags[RECORDED_AS] = recorded
        parent = tags.get("mlflow.parentRunId")
        if parent and parent not in self._created and parent not in self._done_runs:
            try:
                self._create(self.mlflow.get_run(parent))
            except Exception:  # a parent MLflow lost: keep the child, drop the link
                self.report.warnings.append(f"run {rid}: parent {parent} is missing")
                parent = None
        exp_id = self._experiments.get(run.info.experiment_id)
        if exp_id is None:
            exp_id = self._experiment(self.mlflow.get_experiment(run.info.experiment_id))
        self._writable(rid, exp_id)
        self._ingest(
            {
                "run_id": rid,
                "batch_id": _batch_id(rid, "meta"),
                "create": {
                    "experiment_id": exp_id,
                    "name": run.info.run_name or rid[:8],
                    "parent_id": parent,
                    "start_time": run.info.start_time,
                },
                "params": dict(run.data.params),
                "tags": tags,
            }
        )
        self._created.add(rid)

    def _model_points(self, found: Source) -> dict[str, list[Any]]:
        """The points logged for the logged models now in modelyard, by the run that logged
        them (points of a model not imported stay the run's own)."""
        out: dict[str, list[Any]] = {}
        runs = {run.info.run_id for run in found.runs}
        for models in found.models.values():
            for model in models:
                try:
                    self.registry.get_logged_model(model.model_id)
                except NotFound:
                    continue
                lost = 0
                for point in model.metrics or []:
                    if point.run_id in runs:
                        out.setdefault(point.run_id, []).append(point)
                    else:
                        lost += 1
                if lost:  # a modelyard metric point belongs to a run's batch
                    self.report.warnings.append(
                        f"logged model {model.model_id}: {lost} metric point(s) of runs the "
                        "source no longer has; not imported"
                    )
        return out

    def _copy(self, run: Any, model_points: list[Any]) -> None:
        """Metrics, artifacts and status of a run made by :meth:`_create`; then its
        lifecycle."""
        rid = run.info.run_id
        by_key: dict[str, list[Any]] = {}
        for point in model_points:
            by_key.setdefault(point.key, []).append(point)
        for key in sorted(set(run.data.metrics) | set(by_key)):
            history = self.mlflow.get_metric_history(rid, key) if key in run.data.metrics else []
            own, for_models = split_history(history, by_key.get(key, []))
            for n, piece in enumerate(chunks(for_models)):
                batch: dict[str, Any] = {
                    "run_id": rid,
                    "batch_id": _batch_id(rid, "metric", key, *([str(n)] if n else [])),
                    "model_metrics": [model_metric_json(p) for p in piece],
                }
                if n == 0:
                    batch["metrics"] = [
                        {
                            "key": key,
                            "steps": [m.step for m in own],
                            "values": [m.value for m in own],
                            "timestamps": [m.timestamp for m in own],
                        }
                    ]
                self._ingest(batch)
            self.report.metric_points += len(own) + len(for_models)
            self.report.model_metric_points += len(for_models)
        copied = self._copy_artifacts(
            f"run {rid}", run.info.artifact_uri, self.tracking.run_artifacts(rid)
        )
        self._inputs([self.mlflow.get_run(rid)])  # with the models it read
        status = run.info.status if run.info.status in STATUSES else "RUNNING"  # SCHEDULED
        update = {"status": status, "end_time": run.info.end_time}
        # a run whose artifacts were not all copied is not done: the next import tries again
        batch_id = _batch_id(rid, "done") if copied else _batch_id(rid, "status")
        self._ingest({"run_id": rid, "batch_id": batch_id, "update": update})
        if run.info.lifecycle_stage == "deleted":
            self._delete_run(rid)
        self._done_runs.add(rid)
        self.report.runs += 1

    # -- what runs read and produced
    def _inputs(self, runs: list[Any]) -> None:
        """Dataset inputs (with their tags) and the logged models each run read or produced,
        of these runs; what modelyard has already is left as it is."""
        for start in range(0, len(runs), PAGE):
            self._inputs_of(runs[start : start + PAGE])

    def _inputs_of(self, runs: list[Any]) -> None:
        ids = [run.info.run_id for run in runs]
        have_data = self.datasets.inputs(ids)
        have_models = self.registry.run_models(ids)
        for run in runs:
            rid = run.info.run_id
            inputs = getattr(run, "inputs", None)
            known = {
                (version.name, version.tags.get("reference.digest", ""))
                for _use, version in have_data.get(rid, [])
            }
            for entry in getattr(inputs, "dataset_inputs", None) or []:
                if (entry.dataset.name, entry.dataset.digest) not in known:
                    self._dataset_input(rid, entry)
            linked = have_models.get(rid, {})
            for direction, items in (
                ("input", getattr(inputs, "model_inputs", None) or []),
                ("output", getattr(getattr(run, "outputs", None), "model_outputs", None) or []),
            ):
                seen = {m for m, _step in linked.get(direction, [])}
                wanted = [(m.model_id, int(getattr(m, "step", 0) or 0)) for m in items]
                wanted = [w for w in wanted if w[0] not in seen]
                if wanted:
                    try:
                        self.registry.link_run_models(rid, wanted, direction)
                    except (NotFound, InvalidInput) as exc:
                        self.report.warnings.append(f"run {rid}: models not linked: {exc.message}")
                        continue
                    self.report.model_links += len(wanted)

    def _dataset_input(self, rid: str, entry: Any) -> None:
        """One MLflow dataset input, as the server's ``runs/log-inputs`` records it."""
        ds = entry.dataset
        tags = {t.key: t.value for t in entry.tags or []}
        context = tags.pop(CONTEXT_TAG, "") or ""
        try:
            version = self.datasets.register_reference(
                ds.name,
                ds.digest,
                source=str(ds.source or ""),
                source_type=str(ds.source_type or ""),
                schema=ds.schema,
                profile=ds.profile,
                user=IMPORT_USER,
            )
            self.datasets.log_use(rid, version.name, version.version, "input", context, tags)
        except (NotFound, InvalidInput) as exc:
            self.report.warnings.append(f"run {rid}: dataset input {ds.name!r}: {exc.message}")
            return
        self.report.dataset_inputs += 1

    def _ingest(self, payload: dict[str, Any]) -> None:
        self.tracking.ingest([parse_batch(payload, 0)], user=IMPORT_USER)

    # -- artifacts
    def _copy_artifacts(self, what: str, uri: str, area: Any) -> bool:
        """Copy an owner's artifacts from where the source says they are, if that may be read.

        False (with a warning) when the location or some path in it was refused or failed.
        """
        try:
            folder = self.sources.locate(uri)
        except PathNotAllowed as exc:
            self.report.refused.append(f"{what}: artifacts at {uri!r} not copied: {exc.message}")
            return False
        try:
            return self._copy_tree(what, folder, area, "", 0)
        except ServerUnreachable:
            raise
        except ModelyardError as exc:
            self.report.warnings.append(f"{what}: artifacts not copied: {exc.message}")
            return False

    def _copy_tree(
        self, what: str, source: ArtifactFolder, area: Any, folder: str, depth: int
    ) -> bool:
        """Copy every file not already there with the same size (resumes partial copies)."""
        if depth > MAX_DEPTH:
            self.report.refused.append(f"{what}: {folder!r} is nested too deep; not copied")
            return False
        complete = True
        have = {a.path: a.size for a in area.list(folder)}
        for entry in source.list(folder):
            try:
                name = segment(entry.name)
            except PathNotAllowed as exc:
                self.report.refused.append(f"{what}: {exc.message}; not copied")
                complete = False
                continue
            rel = join(folder, name)
            if entry.is_dir:
                complete &= self._copy_tree(what, source, area, rel, depth + 1)
                continue
            if entry.size is not None and have.get(name) == entry.size:
                continue
            with tempfile.TemporaryDirectory() as tmp:
                local = Path(tmp) / "file"
                try:
                    source.fetch(rel, local)
                except ServerUnreachable:
                    raise
                except ModelyardError as exc:
                    self.report.warnings.append(f"{what}: {rel!r} not copied: {exc.message}")
                    complete = False
                    continue
                with local.open("rb") as handle:
                    area.put(rel, handle)
            self.report.artifact_files += 1
        return complete

    # -- logged models
    def _logged_models(self, experiment_id: str, found: list[Any]) -> None:
        for model in found:
            try:
                mine = self.registry.get_logged_model(model.model_id)
            except NotFound:
                try:
                    mine = self.registry.create_logged_model(
                        self._experiments[experiment_id],
                        model.name,
                        run_id=model.source_run_id or None,
                        model_type=model.model_type or "",
                        params=dict(model.params or {}),
                        tags=dict(model.tags or {}),
                        model_id=model.model_id,
                    )
                except (NotFound, InvalidInput) as exc:
                    self.report.warnings.append(f"logged model {model.model_id}: {exc.message}")
                    continue
            if mine.status == LoggedModelStatus.READY:
                continue
            area = self.registry.model_artifacts(model.model_id)
            if self._copy_artifacts(
                f"logged model {model.model_id}", model.artifact_location, area
            ):
                self.registry.update_logged_model(model.model_id, status=LoggedModelStatus.READY)
                self.report.logged_models += 1
