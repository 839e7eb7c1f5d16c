"""Moving in: copy an MLflow tracking server or store into modelyard, idempotently.

Run ids, logged model ids and version numbers are kept, so ``runs:/``, ``models:/m-...`` and
``models:/name/3`` URIs keep working. Every write is a batch with an id derived from what it
copies, so a second import copies nothing twice and an interrupted one resumes where it stopped.

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

from modelyard.errors import (
    InvalidInput,
    ModelyardError,
    NotFound,
    PathNotAllowed,
    ServerUnreachable,
)
from modelyard.importers.artifact_sources import ArtifactFolder, ArtifactSources, join, segment
from modelyard.registry.entities import LoggedModelStatus
from modelyard.registry.service import RegistryService, parse_stage
from modelyard.tracking.batches import parse_batch
from modelyard.tracking.entities import DEFAULT_EXPERIMENT
from modelyard.tracking.service import TrackingService

Progress = Callable[[str, int, int], None]  # (what, done, total)
STATUSES = frozenset({"RUNNING", "FINISHED", "FAILED", "KILLED"})
IMPORT_USER = "mlflow-import"  # who wrote what an import copies (the run's user, the history)
RECORDED_AS = "modelyard.recorded_as"  # the user name the source recorded, kept as a tag
SOURCE_USER_TAG = "mlflow.user"
MAX_DEPTH = 64  # artifact folders nested deeper are not copied


@dataclass
class ImportReport:
    """What this import copied (things already there are counted as skipped)."""

    experiments: int = 0
    runs: int = 0
    runs_skipped: int = 0
    metric_points: int = 0
    artifact_files: int = 0
    logged_models: int = 0
    registered_models: int = 0
    versions: int = 0
    aliases: int = 0
    warnings: list[str] = field(default_factory=list)
    refused: list[str] = field(default_factory=list)  # artifact locations or paths not followed


def _batch_id(*parts: str) -> str:
    """A stable id (<= 64 characters) for one piece of the import."""
    digest = hashlib.sha256("\x1f".join(parts).encode()).hexdigest()[:40]
    return f"mlflow-import:{digest}"


def _pages(fetch: Callable[[str | None], Any]) -> Iterator[Any]:
    token = None
    while True:
        page = fetch(token)
        yield from page
        token = page.token
        if not token:
            return


@contextmanager
def _no_redirects() -> Iterator[None]:
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


class MlflowImporter:
    def __init__(
        self,
        source: str,
        tracking: TrackingService,
        registry: RegistryService,
        progress: Progress | None = None,
        allowed_roots: Sequence[str | Path] = (),
    ) -> None:
        """``allowed_roots``: local folders whose files runs may name as their artifacts.

        Without them only the source server's artifact API is read (and, for a local file
        store given as ``source``, that store's folder).
        """
        try:
            from mlflow import MlflowClient
        except ImportError as exc:
            raise InvalidInput(
                "importing from MLflow needs the mlflow package: pip install 'modelyard[mlflow]'"
            ) from exc
        self.source = source
        self.mlflow = MlflowClient(tracking_uri=source, registry_uri=source)
        self.tracking = tracking
        self.registry = registry
        self.progress = progress or (lambda what, done, total: None)
        self.report = ImportReport()
        self._experiments: dict[str, int] = {}
        self._done_runs: set[str] = set()
        self.allowed_roots = allowed_roots

    def run(self) -> ImportReport:
        self.sources = ArtifactSources(self.source, self.allowed_roots)
        try:
            with _no_redirects():
                return self._import()
        finally:
            self.sources.close()

    def _import(self) -> ImportReport:
        from mlflow.entities import ViewType as MlflowView

        experiments = list(
            _pages(
                lambda token: self.mlflow.search_experiments(
                    view_type=MlflowView.ALL, max_results=1000, page_token=token
                )
            )
        )
        for exp in experiments:
            self._experiment(exp)

        def runs_of(exp_id: str) -> Iterator[Any]:
            return _pages(
                lambda token: self.mlflow.search_runs(
                    [exp_id],
                    run_view_type=MlflowView.ALL,
                    max_results=1000,
                    order_by=["attributes.start_time ASC"],
                    page_token=token,
                )
            )

        runs = [run for exp in experiments for run in runs_of(exp.experiment_id)]
        for i, run in enumerate(runs):
            self._run(run)
            self.progress("runs", i + 1, len(runs))
        for exp in experiments:
            self._logged_models(exp.experiment_id)
        self._registry()
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
        if exp.lifecycle_stage == "deleted" and mine.lifecycle.value != "deleted":
            self.tracking.delete_experiment(mine.id)
        self._experiments[exp.experiment_id] = mine.id
        return mine.id

    def _run(self, run: Any) -> None:
        rid = run.info.run_id
        if rid in self._done_runs:
            return
        done = _batch_id(rid, "done")
        if self.tracking.applied([done]):
            self._done_runs.add(rid)
            self.report.runs_skipped += 1
            return
        tags = dict(run.data.tags)
        recorded = tags.pop(SOURCE_USER_TAG, None) or run.info.user_id
        if recorded:  # a name the source was told, not one this server checked
            tags[RECORDED_AS] = recorded
        parent = tags.get("mlflow.parentRunId")
        if parent and parent not in self._done_runs:
            try:
                self._run(self.mlflow.get_run(parent))
            except Exception:  # a parent MLflow lost: keep the child, drop the link
                self.report.warnings.append(f"run {rid}: parent {parent} is missing")
                parent = None
        exp_id = self._experiments.get(run.info.experiment_id)
        if exp_id is None:
            exp_id = self._experiment(self.mlflow.get_experiment(run.info.experiment_id))
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
        for key in run.data.metrics:
            history = self.mlflow.get_metric_history(rid, key)
            self._ingest(
                {
                    "run_id": rid,
                    "batch_id": _batch_id(rid, "metric", key),
                    "metrics": [
                        {
                            "key": key,
                            "steps": [m.step for m in history],
                            "values": [m.value for m in history],
                            "timestamps": [m.timestamp for m in history],
                        }
                    ],
                }
            )
            self.report.metric_points += len(history)
        copied = self._copy_artifacts(
            f"run {rid}", run.info.artifact_uri, self.tracking.run_artifacts(rid)
        )
        status = run.info.status if run.info.status in STATUSES else "RUNNING"  # SCHEDULED
        update = {"status": status, "end_time": run.info.end_time}
        # a run whose artifacts were not all copied is not done: the next import tries again
        batch_id = done if copied else _batch_id(rid, "status")
        self._ingest({"run_id": rid, "batch_id": batch_id, "update": update})
        if run.info.lifecycle_stage == "deleted":
            self.tracking.delete_run(rid)
        self._done_runs.add(rid)
        self.report.runs += 1

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

    # -- logged models and the registry
    def _logged_models(self, experiment_id: str) -> None:
        try:
            found = list(
                _pages(
                    lambda token: self.mlflow.search_logged_models(
                        experiment_ids=[experiment_id], page_token=token
                    )
                )
            )
        except Exception as exc:  # MLflow 2 stores have no logged models
            self.report.warnings.append(f"logged models of experiment {experiment_id}: {exc}")
            return
        for model in found:
            try:
                mine = self.registry.get_logged_model(model.model_id)
            except NotFound:
                mine = self.registry.create_logged_model(
                    self._experiments[experiment_id],
                    model.name,
                    run_id=model.source_run_id or None,
                    model_type=model.model_type or "",
                    params=dict(model.params or {}),
                    tags=dict(model.tags or {}),
                    model_id=model.model_id,
                )
            if mine.status == LoggedModelStatus.READY:
                continue
            area = self.registry.model_artifacts(model.model_id)
            if self._copy_artifacts(
                f"logged model {model.model_id}", model.artifact_location, area
            ):
                self.registry.update_logged_model(model.model_id, status=LoggedModelStatus.READY)
                self.report.logged_models += 1

    def _registry(self) -> None:
        models = list(
            _pages(
                lambda token: self.mlflow.search_registered_models(
                    max_results=100, page_token=token
                )
            )
        )
        for rm in models:
            try:
                mine = self.registry.get_model(rm.name)
            except NotFound:
                mine = self.registry.create_model(
                    rm.name,
                    description=rm.description or "",
                    tags=dict(rm.tags),
                    user=IMPORT_USER,
                )
                self.report.registered_models += 1
            have = {
                v.version for v in self.registry.search_versions(f"name = '{_quote(rm.name)}'")[0]
            }
            versions = sorted(
                self.mlflow.search_model_versions(f"name = '{_quote(rm.name)}'"),
                key=lambda v: int(v.version),
            )
            for version in versions:
                number = int(version.version)
                if number in have:
                    continue
                source = self._source(version)
                if source is None:
                    continue
                self.registry.create_version(
                    rm.name,
                    source,
                    run_id=version.run_id or None,
                    description=version.description or "",
                    tags=_recorded_as(dict(version.tags), version.user_id),
                    user=IMPORT_USER,
                    number=number,
                )
                if version.current_stage and version.current_stage != "None":
                    self.registry.update_version(
                        rm.name,
                        number,
                        stage=parse_stage(version.current_stage),
                        user=IMPORT_USER,
                    )
                self.report.versions += 1
            for alias, number in dict(rm.aliases).items():
                if mine.aliases.get(alias) != int(number):
                    self.registry.set_alias(rm.name, alias, int(number), user=IMPORT_USER)
                    self.report.aliases += 1

    def _source(self, version: Any) -> str | None:
        """The version's source as modelyard accepts it, or None (with a warning)."""
        source = str(version.source)
        if source.startswith(("models:/m-", "runs:/", "mlflow-artifacts:/")):
            return source
        if version.run_id and "/artifacts/" in source:
            return f"runs:/{version.run_id}/{source.split('/artifacts/', 1)[1]}"
        self.report.warnings.append(
            f"{version.name} version {version.version}: source {source!r} is outside MLflow's "
            "run and model artifacts; not imported"
        )
        return None


def _quote(name: str) -> str:
    return name.replace("'", "\\'")


def _recorded_as(tags: dict[str, str], user: str | None) -> dict[str, str]:
    """``tags`` with the source's user name kept as :data:`RECORDED_AS`."""
    return {**tags, RECORDED_AS: user} if user else tags
