"""Model versions: registering a run's or a logged model's files, stages, listing."""

from __future__ import annotations

import re
from collections.abc import Sequence

from sqlalchemy import Connection

from modelyard.errors import InvalidInput, NotFound
from modelyard.registry import listing
from modelyard.registry.checks import clean_description, clean_reason, parse_stage
from modelyard.registry.entities import ModelVersion, Stage
from modelyard.registry.part import RegistryPart
from modelyard.store.artifacts.area import ArtifactArea
from modelyard.store.artifacts.paths import clean_relative
from modelyard.store.metadata import logged_models_repo, registry_repo, runs_repo
from modelyard.store.metadata.sql import now_ms
from modelyard.tracking import validation as v


class Versions(RegistryPart):
    def create_version(
        self,
        name: str,
        source: str,
        *,
        user: str,
        run_id: str | None = None,
        logged_model_id: str | None = None,
        description: str = "",
        tags: dict[str, str] | None = None,
        number: int | None = None,
        create_missing: bool = False,
        create_only: bool = False,
    ) -> ModelVersion:
        """Register files a run or a logged model holds; any other source is refused.

        ``number`` keeps the number a version had elsewhere (imports); it must be unused and
        above every earlier number. By default the next number. ``create_missing`` creates
        the model first when there is none of that name; ``create_only``: the model must be
        new (AlreadyExists otherwise). Both are decided in the write's transaction.
        """
        clean_tags = v.clean_pairs(tags, "tag")
        text = clean_description(description)

        def job(conn: Connection) -> ModelVersion:
            if create_missing or create_only:
                registry_repo.ensure_model(
                    conn, v.clean_name(name, "model name"), user, new=create_only
                )
            prefix, owner_run, owner_model = _resolve_source(conn, source, run_id, logged_model_id)
            version = ModelVersion(
                name=name,
                version=0,
                source=source,
                artifact_prefix=prefix,
                run_id=owner_run,
                logged_model_id=owner_model,
                description=text,
                stage=Stage.NONE,
                user=user,
                created_at=now_ms(),
                updated_at=now_ms(),
                tags=clean_tags,
            )
            return registry_repo.create_version(conn, name, version, number)

        return self.db.write(job)

    def source_experiments(
        self, source: str, *, run_id: str | None = None, logged_model_id: str | None = None
    ) -> set[int]:
        """The experiments whose files a version of ``source`` would register (errors as
        :meth:`create_version`'s), so a caller can be checked before it writes. A version
        copied from another (``models:/name/N``) reads that version's files: none."""
        out: set[int] = set()
        if version_source(source) is not None:
            with self.db.read() as conn:
                _resolve_source(conn, source, run_id, logged_model_id)
            return out
        with self.db.read() as conn:
            _prefix, owner_run, owner_model = _resolve_source(conn, source, run_id, logged_model_id)
            if owner_model is not None:
                try:
                    out.add(logged_models_repo.get(conn, owner_model).experiment_id)
                except NotFound:
                    pass  # an id named beside a run's source: a link to nothing
            if owner_run is not None:
                try:
                    out.add(runs_repo.get(conn, owner_run).experiment_id)
                except NotFound:
                    pass  # a run that does not exist holds nothing to read
        return out

    def get_version(self, name: str, version: int) -> ModelVersion:
        with self.db.read() as conn:
            return registry_repo.get_version(conn, name, version)

    def update_version(
        self,
        name: str,
        version: int,
        *,
        user: str,
        description: str | None = None,
        stage: Stage | None = None,
        archive_others: bool = False,
        tags: dict[str, str] | None = None,
        deleted_tag: str | None = None,
        reason: str = "",
    ) -> ModelVersion:
        clean_tags = v.clean_pairs(tags, "tag")
        text = None if description is None else clean_description(description)
        why = clean_reason(reason)
        return self.db.write(
            lambda c: registry_repo.update_version(
                c,
                name,
                version,
                user,
                description=text,
                stage=stage,
                archive_others=archive_others,
                tags=clean_tags,
                deleted_tag=deleted_tag,
                reason=why,
            )
        )

    def delete_version(self, name: str, version: int, user: str, reason: str = "") -> None:
        why = clean_reason(reason)
        self.db.write(lambda c: registry_repo.delete_version(c, name, version, user, why))

    def search_versions(
        self,
        filter: str | None = None,
        order_by: Sequence[str] | None = None,
        max_results: int = 10_000,
        page_token: str | None = None,
        readable: set[str] | None = None,
    ) -> tuple[list[ModelVersion], str | None]:
        """By name, newest version first, unless ordered; with ``readable`` (model names),
        only versions of those models."""
        with self.db.read() as conn:
            items = registry_repo.list_versions(conn)
        items = listing.only(items, readable, lambda x: x.name)
        items.sort(key=lambda x: (x.name, -x.version))
        return listing.search(items, listing.VERSIONS, filter, order_by, max_results, page_token)

    def versions(self, name: str) -> list[ModelVersion]:
        """Every version of one model, newest first (NotFound for an unknown model)."""
        with self.db.read() as conn:
            registry_repo.get_model(conn, name)
            found = registry_repo.list_versions(conn, name)
        return sorted(found, key=lambda v: -v.version)

    def latest_versions(self, name: str, stages: Sequence[str] = ()) -> list[ModelVersion]:
        """The newest version in each stage (only the given stages, when given)."""
        wanted = {parse_stage(s) for s in stages}
        with self.db.read() as conn:
            model = registry_repo.get_model(conn, name)
        return [v for s, v in model.latest.items() if not wanted or s in wanted]

    def version_artifacts(self, version: ModelVersion) -> ArtifactArea:
        return ArtifactArea(self.artifacts, version.artifact_prefix)

    def snapshot_artifacts(self, model_id: int, version: int) -> ArtifactArea:
        """The files a version kept at registration (``versions/<model id>/<version>``)."""
        return ArtifactArea(self.artifacts, f"versions/{model_id}/{version}")


_LOGGED_MODEL_URI = re.compile(r"models:/(m-[0-9a-f]{32})/?")
_VERSION_URI = re.compile(r"models:/(?P<name>[^/@]+)(?:/(?P<number>\d+)|@(?P<alias>[^/@]+))/?")


def version_source(source: object) -> tuple[str, int | str] | None:
    """(model name, version number or alias) of ``models:/name/N`` or ``models:/name@alias``."""
    if not isinstance(source, str) or _LOGGED_MODEL_URI.fullmatch(source):
        return None
    m = _VERSION_URI.fullmatch(source)
    if m is None:
        return None
    return m["name"], int(m["number"]) if m["number"] else m["alias"]


def _copied_from(
    conn: Connection, name: str, which: int | str, run_id: str | None, model_id: str | None
) -> tuple[str, str | None, str | None]:
    """A version registered from another: that version's files, run and logged model."""
    if isinstance(which, int):
        src = registry_repo.get_version(conn, name, which)
    else:
        src = registry_repo.version_by_alias(conn, name, which)
    if run_id is not None and src.run_id not in (None, run_id):
        raise InvalidInput(f"version {src.version} of {name!r} comes from run {src.run_id}")
    if model_id is not None and src.logged_model_id not in (None, model_id):
        raise InvalidInput(
            f"version {src.version} of {name!r} is logged model {src.logged_model_id}"
        )
    return src.artifact_prefix, src.run_id or run_id, src.logged_model_id or model_id


def _resolve_source(
    conn: Connection, source: str, run_id: str | None, model_id: str | None
) -> tuple[str, str | None, str | None]:
    """(artifact prefix, run id, logged model id) of a source inside modelyard's artifacts."""
    refused = InvalidInput(
        f"source {source!r} must name a run's artifacts (runs:/<run>/<path>), a logged "
        "model (models:/<model id>) or a registered version (models:/<name>/<version> or "
        "models:/<name>@<alias>)",
        field="source",
    )
    if not isinstance(source, str):
        raise refused
    if (copied := version_source(source)) is not None:
        return _copied_from(conn, copied[0], copied[1], run_id, model_id)
    run_path: tuple[str, str] | None = None
    logged: str | None = None
    if m := _LOGGED_MODEL_URI.fullmatch(source):
        logged = m.group(1)
    elif (m := re.fullmatch(r"runs:/([0-9a-f]{32})(?:/(.*))?", source)) or (
        m := re.fullmatch(r"mlflow-artifacts:/+\d+/([0-9a-f]{32})/artifacts(?:/(.*))?", source)
    ):
        run_path = (m.group(1), m.group(2) or "")
    elif m := re.fullmatch(r"mlflow-artifacts:/+\d+/models/(m-[0-9a-f]{32})/artifacts/?", source):
        logged = m.group(1)
    else:
        raise refused
    if logged is not None:
        if model_id is not None and model_id != logged:
            raise InvalidInput(f"source {source!r} is not logged model {model_id!r}")
        model = logged_models_repo.get(conn, logged)
        if run_id is not None and model.run_id not in (None, run_id):
            raise InvalidInput(f"logged model {logged} belongs to run {model.run_id}")
        return model.artifact_prefix, model.run_id or run_id, logged
    assert run_path is not None
    owner, path = run_path
    if run_id is not None and run_id != owner:
        raise InvalidInput(f"source {source!r} is not in the artifacts of run {run_id}")
    runs_repo.get(conn, owner)
    rel = clean_relative(path, allow_empty=True)
    return f"runs/{owner}/{rel}".rstrip("/"), owner, model_id
