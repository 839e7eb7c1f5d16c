"""Logged models: a run's model files, PENDING until uploaded and finalized."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import Any

from modelyard.errors import InvalidInput, NotFound
from modelyard.registry import listing
from modelyard.registry.checks import MODEL_ID, logged_model_id
from modelyard.registry.entities import LoggedModel, LoggedModelStatus
from modelyard.registry.part import RegistryPart
from modelyard.store.artifacts.area import ArtifactArea
from modelyard.store.metadata import experiments_repo, logged_models_repo, runs_repo
from modelyard.store.metadata.sql import now_ms
from modelyard.tracking import validation as v


class LoggedModels(RegistryPart):
    def create_logged_model(
        self,
        experiment_id: int,
        name: str,
        *,
        run_id: str | None = None,
        model_type: str = "",
        params: dict[str, str] | None = None,
        tags: dict[str, str] | None = None,
        model_id: str | None = None,
    ) -> LoggedModel:
        """A new model of a run, PENDING until its files are uploaded and it is finalized.

        ``model_id`` keeps the id a model had elsewhere (imports); by default a new one.
        """
        now = now_ms()
        if model_id is not None and not MODEL_ID.match(model_id):
            raise InvalidInput(f"model id {model_id!r} must be m- and 32 hex characters")
        model = LoggedModel(
            id=model_id or f"m-{uuid.uuid4().hex}",
            experiment_id=experiment_id,
            name=v.clean_name(name, "model name"),
            run_id=v.clean_run_id(run_id) if run_id else None,
            status=LoggedModelStatus.PENDING,
            status_message="",
            model_type=model_type,
            created_at=now,
            updated_at=now,
            params=v.clean_pairs(params, "param"),
            tags=v.clean_pairs(tags, "tag"),
        )

        def job(conn: Any) -> LoggedModel:
            experiments_repo.get(conn, experiment_id)
            if model.run_id is not None:
                run = runs_repo.get(conn, model.run_id)
                if run.experiment_id != experiment_id:
                    raise InvalidInput(
                        f"run {run.id} is in experiment {run.experiment_id}, not {experiment_id}"
                    )
            return logged_models_repo.create(conn, model)

        return self.db.write(job)

    def get_logged_model(self, model_id: str) -> LoggedModel:
        with self.db.read() as conn:
            return logged_models_repo.get(conn, logged_model_id(model_id))

    def update_logged_model(
        self,
        model_id: str,
        *,
        status: LoggedModelStatus | None = None,
        status_message: str | None = None,
        tags: dict[str, str] | None = None,
        deleted_tag: str | None = None,
        params: dict[str, str] | None = None,
    ) -> LoggedModel:
        mid = logged_model_id(model_id)
        clean_tags = v.clean_pairs(tags, "tag")
        clean_params = v.clean_pairs(params, "param")
        return self.db.write(
            lambda c: logged_models_repo.update(
                c,
                mid,
                status=status,
                status_message=status_message,
                tags=clean_tags,
                deleted_tag=deleted_tag,
                params=clean_params,
            )
        )

    def link_run_models(
        self, run_id: str, models: Sequence[tuple[str, int]], direction: str
    ) -> None:
        """Record that a run read (``input``) or produced (``output``) these logged models
        (each with a step); a model produced must be one of the run's own."""
        if direction not in ("input", "output"):
            raise InvalidInput("direction must be input or output", field="direction")
        rid = v.clean_run_id(run_id)
        wanted = [(logged_model_id(m), int(step)) for m, step in models]

        def job(conn: Any) -> None:
            runs_repo.get(conn, rid)
            for model_id, _step in wanted:
                model = logged_models_repo.get(conn, model_id)
                if direction == "output" and model.run_id not in (None, rid):
                    raise InvalidInput(f"logged model {model.id} belongs to run {model.run_id}")
            logged_models_repo.link_run(conn, rid, wanted, direction)

        self.db.write(job)

    def run_models(self, run_ids: Sequence[str]) -> dict[str, dict[str, list[tuple[str, int]]]]:
        """For each run, the logged models it read and produced: {run: {direction: [...]}}."""
        with self.db.read() as conn:
            return logged_models_repo.run_links(conn, list(run_ids))

    def models_of_run(self, run_id: str) -> tuple[list[LoggedModel], list[LoggedModel]]:
        """The models a run logged and the ones it read, newest first (NotFound for no run)."""
        rid = v.clean_run_id(run_id)
        with self.db.read() as conn:
            if not runs_repo.experiments_of(conn, [rid]):
                raise NotFound(f"run {rid} does not exist", run_id=rid)
            return logged_models_repo.of_run(conn, rid)

    def delete_logged_model(self, model_id: str) -> None:
        mid = logged_model_id(model_id)
        self.db.write(lambda c: logged_models_repo.delete(c, mid))

    def search_logged_models(
        self,
        experiment_ids: list[int] | None = None,
        filter: str | None = None,
        order_by: Sequence[str] | None = None,
        max_results: int = 100,
        page_token: str | None = None,
        readable: set[str] | None = None,
        datasets: Sequence[listing.DatasetRef] | None = None,
    ) -> tuple[list[LoggedModel], str | None]:
        """Newest first unless ordered; with ``readable`` (experiment ids as text), only the
        models of those experiments; with ``datasets`` ((name, digest or None) pairs), only
        models with metrics measured on them, filtered and ordered by those metrics."""
        with self.db.read() as conn:
            items = logged_models_repo.list_in(conn, experiment_ids)
        items = listing.only(items, readable, lambda m: str(m.experiment_id))
        items.sort(key=lambda m: (-m.created_at, m.id))
        return listing.search(
            items, listing.LOGGED_MODELS, filter, order_by, max_results, page_token, datasets
        )

    def model_artifacts(self, model_id: str) -> ArtifactArea:
        """The files of a logged model (NotFound if it does not exist)."""
        return ArtifactArea(self.artifacts, self.get_logged_model(model_id).artifact_prefix)
