"""The registry domain: logged models, registered models, versions, aliases, stages, history."""

from __future__ import annotations

import re
import uuid
from collections.abc import Sequence
from typing import Any

import orjson

from modelyard.errors import InvalidInput, InvalidState, NotFound
from modelyard.registry.entities import (
    LoggedModel,
    LoggedModelStatus,
    ModelVersion,
    RegisteredModel,
    RegistryEvent,
    Stage,
)
from modelyard.store.artifacts.area import ArtifactArea
from modelyard.store.artifacts.blobs import clean_digest
from modelyard.store.artifacts.paths import clean_relative
from modelyard.store.artifacts.repository import ArtifactRepository
from modelyard.store.metadata import (
    datasets_repo,
    experiments_repo,
    logged_models_repo,
    registry_repo,
    run_search,
    runs_repo,
)
from modelyard.store.metadata.database import Database
from modelyard.store.metadata.sql import now_ms
from modelyard.tracking import memory_search
from modelyard.tracking import validation as v
from modelyard.tracking.search import Field

MODEL_ID = re.compile(r"^m-[0-9a-f]{32}$")
RESERVED_ALIAS = re.compile(r"^(latest|v\d+)$", re.IGNORECASE)
MAX_ALIAS = 255

LOGGED_MODELS = memory_search.Searchable(
    "logged models",
    {
        "name": "name",
        "id": "id",
        "model_id": "id",
        "run_id": "run_id",
        "source_run_id": "run_id",
        "status": "status",
        "model_type": "model_type",
        "created_at": "created_at",
        "creation_timestamp": "created_at",
        "creation_time": "created_at",
        "last_updated_timestamp": "updated_at",
        "experiment_id": "experiment_id",
    },
    frozenset({"created_at", "updated_at", "experiment_id"}),
)
MODELS = memory_search.Searchable(
    "registered models",
    {
        "name": "name",
        "description": "description",
        "created_at": "created_at",
        "creation_timestamp": "created_at",
        "updated_at": "updated_at",
        "last_updated_timestamp": "updated_at",
        "timestamp": "updated_at",
    },
    frozenset({"created_at", "updated_at"}),
)
VERSIONS = memory_search.Searchable(
    "model versions",
    {
        "name": "name",
        "version": "version",
        "version_number": "version",
        "run_id": "run_id",
        "source": "source",
        "source_path": "source",
        "stage": "stage",
        "current_stage": "stage",
        "created_at": "created_at",
        "creation_timestamp": "created_at",
        "updated_at": "updated_at",
        "last_updated_timestamp": "updated_at",
    },
    frozenset({"version", "created_at", "updated_at"}),
)


def _value_of(item: Any, f: Field) -> Any:
    """Attributes and tags; logged models have params too. (Enums are strings already.)"""
    if f.kind == "param" and isinstance(item, LoggedModel):
        return item.params.get(f.key)
    return memory_search.attribute_or_tag(item, f)


def _search(
    items: list[Any],
    searchable: memory_search.Searchable,
    filter: str | None,
    order_by: Sequence[str] | None,
    max_results: int,
    page_token: str | None,
) -> tuple[list[Any], str | None]:
    if max_results < 1:
        raise InvalidInput("max_results must be a positive integer", field="max_results")
    expr, order = searchable.parse(filter, order_by)
    offset = run_search.decode_page_token(page_token)
    found = [i for i in items if memory_search.matches(expr, i, _value_of)]
    page, nxt = memory_search.page(memory_search.sort(found, order, _value_of), offset, max_results)
    return page, None if nxt is None else run_search.encode_page_token(nxt)


class RegistryService:
    """One object per store; safe to share between threads."""

    def __init__(self, db: Database, artifacts: ArtifactRepository) -> None:
        self.db = db
        self.artifacts = artifacts

    # -- logged models
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
            return logged_models_repo.get(conn, _model_id(model_id))

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
        mid = _model_id(model_id)
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

    def delete_logged_model(self, model_id: str) -> None:
        mid = _model_id(model_id)
        self.db.write(lambda c: logged_models_repo.delete(c, mid))

    def search_logged_models(
        self,
        experiment_ids: list[int] | None = None,
        filter: str | None = None,
        order_by: Sequence[str] | None = None,
        max_results: int = 100,
        page_token: str | None = None,
    ) -> tuple[list[LoggedModel], str | None]:
        """Newest first unless ordered."""
        with self.db.read() as conn:
            items = logged_models_repo.list_in(conn, experiment_ids)
        items.sort(key=lambda m: (-m.created_at, m.id))
        return _search(items, LOGGED_MODELS, filter, order_by, max_results, page_token)

    def model_artifacts(self, model_id: str) -> ArtifactArea:
        """The files of a logged model (NotFound if it does not exist)."""
        return ArtifactArea(self.artifacts, self.get_logged_model(model_id).artifact_prefix)

    # -- registered models
    def create_model(
        self,
        name: str,
        *,
        description: str = "",
        tags: dict[str, str] | None = None,
        user: str = "anonymous",
    ) -> RegisteredModel:
        clean = v.clean_name(name, "model name")
        clean_tags = v.clean_pairs(tags, "tag")
        return self.db.write(
            lambda c: registry_repo.create_model(c, clean, description, clean_tags, user)
        )

    def get_model(self, name: str) -> RegisteredModel:
        with self.db.read() as conn:
            return registry_repo.get_model(conn, name)

    def update_model(
        self,
        name: str,
        *,
        new_name: str | None = None,
        description: str | None = None,
        tags: dict[str, str] | None = None,
        deleted_tag: str | None = None,
        user: str = "anonymous",
    ) -> RegisteredModel:
        clean_new = v.clean_name(new_name, "model name") if new_name is not None else None
        clean_tags = v.clean_pairs(tags, "tag")
        return self.db.write(
            lambda c: registry_repo.update_model(
                c,
                name,
                user,
                new_name=clean_new,
                description=description,
                tags=clean_tags,
                deleted_tag=deleted_tag,
            )
        )

    def delete_model(self, name: str, user: str = "anonymous", reason: str = "") -> None:
        self.db.write(lambda c: registry_repo.delete_model(c, name, user, reason))

    def search_models(
        self,
        filter: str | None = None,
        order_by: Sequence[str] | None = None,
        max_results: int = 100,
        page_token: str | None = None,
    ) -> tuple[list[RegisteredModel], str | None]:
        """By name unless ordered."""
        with self.db.read() as conn:
            items = registry_repo.list_models(conn)
        return _search(items, MODELS, filter, order_by, max_results, page_token)

    # -- versions
    def create_version(
        self,
        name: str,
        source: str,
        *,
        run_id: str | None = None,
        logged_model_id: str | None = None,
        description: str = "",
        tags: dict[str, str] | None = None,
        user: str = "anonymous",
        number: int | None = None,
    ) -> ModelVersion:
        """Register files a run or a logged model holds; any other source is refused.

        ``number`` keeps the number a version had elsewhere (imports); it must be unused and
        above every earlier number. By default the next number.
        """
        clean_tags = v.clean_pairs(tags, "tag")

        def job(conn: Any) -> ModelVersion:
            prefix, owner_run, owner_model = self._resolve_source(
                conn, source, run_id, logged_model_id
            )
            version = ModelVersion(
                name=name,
                version=0,
                source=source,
                artifact_prefix=prefix,
                run_id=owner_run,
                logged_model_id=owner_model,
                description=description,
                stage=Stage.NONE,
                user=user,
                created_at=now_ms(),
                updated_at=now_ms(),
                tags=clean_tags,
            )
            return registry_repo.create_version(conn, name, version, number)

        return self.db.write(job)

    def _resolve_source(
        self, conn: Any, source: str, run_id: str | None, model_id: str | None
    ) -> tuple[str, str | None, str | None]:
        """(artifact prefix, run id, logged model id) of a source inside modelyard's artifacts."""
        refused = InvalidInput(
            f"source {source!r} must name a run's artifacts (runs:/<run>/<path>) or a logged "
            "model (models:/<model id>)",
            field="source",
        )
        if not isinstance(source, str):
            raise refused
        run_path: tuple[str, str] | None = None
        logged: str | None = None
        if m := re.fullmatch(r"models:/(m-[0-9a-f]{32})/?", source):
            logged = m.group(1)
        elif (m := re.fullmatch(r"runs:/([0-9a-f]{32})(?:/(.*))?", source)) or (
            m := re.fullmatch(r"mlflow-artifacts:/+\d+/([0-9a-f]{32})/artifacts(?:/(.*))?", source)
        ):
            run_path = (m.group(1), m.group(2) or "")
        elif m := re.fullmatch(
            r"mlflow-artifacts:/+\d+/models/(m-[0-9a-f]{32})/artifacts/?", source
        ):
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

    def get_version(self, name: str, version: int) -> ModelVersion:
        with self.db.read() as conn:
            return registry_repo.get_version(conn, name, version)

    def update_version(
        self,
        name: str,
        version: int,
        *,
        description: str | None = None,
        stage: Stage | None = None,
        archive_others: bool = False,
        tags: dict[str, str] | None = None,
        deleted_tag: str | None = None,
        user: str = "anonymous",
        reason: str = "",
    ) -> ModelVersion:
        clean_tags = v.clean_pairs(tags, "tag")
        return self.db.write(
            lambda c: registry_repo.update_version(
                c,
                name,
                version,
                user,
                description=description,
                stage=stage,
                archive_others=archive_others,
                tags=clean_tags,
                deleted_tag=deleted_tag,
                reason=reason,
            )
        )

    def delete_version(
        self, name: str, version: int, user: str = "anonymous", reason: str = ""
    ) -> None:
        self.db.write(lambda c: registry_repo.delete_version(c, name, version, user, reason))

    def search_versions(
        self,
        filter: str | None = None,
        order_by: Sequence[str] | None = None,
        max_results: int = 10_000,
        page_token: str | None = None,
    ) -> tuple[list[ModelVersion], str | None]:
        """By name, newest version first, unless ordered."""
        with self.db.read() as conn:
            items = registry_repo.list_versions(conn)
        items.sort(key=lambda x: (x.name, -x.version))
        return _search(items, VERSIONS, filter, order_by, max_results, page_token)

    def versions(self, name: str) -> list[ModelVersion]:
        """Every version of one model, newest first (NotFound for an unknown model)."""
        with self.db.read() as conn:
            registry_repo.get_model(conn, name)
            found = registry_repo.list_versions(conn, name)
        return sorted(found, key=lambda v: -v.version)

    def latest_versions(self, name: str, stages: Sequence[str] = ()) -> list[ModelVersion]:
        """The newest version in each stage (only the given stages, when given)."""
        wanted = {parse_stage(s) for s in stages}
        model = self.get_model(name)
        return [v for s, v in model.latest.items() if not wanted or s in wanted]

    # -- aliases
    def set_alias(
        self, name: str, alias: str, version: int, user: str = "anonymous", reason: str = ""
    ) -> None:
        clean = clean_alias(alias)
        self.db.write(lambda c: registry_repo.set_alias(c, name, clean, version, user, reason))

    def delete_alias(
        self, name: str, alias: str, user: str = "anonymous", reason: str = ""
    ) -> None:
        self.db.write(lambda c: registry_repo.delete_alias(c, name, alias, user, reason))

    def alias_at(self, name: str, alias: str, at: int) -> int | None:
        """Which version ``alias`` named at time ``at`` (ms since the epoch), from the history."""
        current: int | None = None
        for event in self.history(name):
            if event.at > at:
                break
            if event.action == "alias_set" and event.detail.get("alias") == alias:
                current = event.version
            elif (event.action == "alias_deleted" and event.detail.get("alias") == alias) or (
                event.action == "version_deleted"
                and alias in list(event.detail.get("aliases") or [])  # type: ignore[call-overload]
            ):
                current = None
        return current

    def rollback_alias(
        self, name: str, alias: str, user: str = "anonymous", reason: str = ""
    ) -> ModelVersion:
        """Point ``alias`` back at the version it named before its last move."""
        self.get_model(name)  # NotFound for an unknown model
        moves = [
            e
            for e in self.history(name)
            if e.action == "alias_set" and e.detail.get("alias") == alias
        ]
        previous = moves[-1].detail.get("previous") if moves else None
        if previous is None:
            raise InvalidState(
                f"alias {alias!r} of {name!r} has no earlier version to roll back to"
            )
        why = reason or f"rollback from version {moves[-1].version}"
        self.set_alias(name, alias, int(str(previous)), user, why)
        return self.version_by_alias(name, alias)

    # -- packaged versions, trust, cards
    def register_package(
        self,
        name: str,
        files: dict[str, str],
        *,
        run_id: str | None = None,
        description: str = "",
        tags: dict[str, str] | None = None,
        user: str = "anonymous",
    ) -> ModelVersion:
        """A new version from uploaded blobs (``{path: sha256}``) that form a modelyard package.

        The manifest is read from the stored ``modelyard.json``, must pass the packaging checks
        (the loader runs the same) and must name exactly these files with these digests; the
        model is created on first use. A refused package writes nothing.
        """
        from modelyard.packaging import manifest as mf

        clean = {clean_relative(p): clean_digest(d) for p, d in files.items()}
        if mf.MANIFEST not in clean:
            raise InvalidInput(f"a package needs its {mf.MANIFEST}", field="files")
        with self.artifacts.content.open(clean[mf.MANIFEST]) as handle:
            raw = handle.read(4 << 20)
        try:
            manifest = mf.Manifest.from_json(orjson.loads(raw))
        except orjson.JSONDecodeError as exc:
            raise InvalidInput(f"{mf.MANIFEST} is not valid JSON: {exc}") from exc
        mf.check(manifest)  # flavor, formats and the safe claim, paths, dependencies, Python
        named = {p: d for p, d in clean.items() if p != mf.MANIFEST}
        if named != manifest.files:
            raise InvalidInput(
                f"the files sent do not match the digests in {mf.MANIFEST}",
                extra=sorted(set(named) ^ set(manifest.files))[:20],
            )
        rows = self.artifacts.stored(list(clean.items()))
        clean_tags = v.clean_pairs(tags, "tag")
        model_name = v.clean_name(name, "model name")

        def job(conn: Any) -> ModelVersion:
            try:
                registry_repo.model_id(conn, model_name)
            except NotFound:
                registry_repo.create_model(conn, model_name, "", {}, user)
            if run_id is not None:
                runs_repo.get(conn, v.clean_run_id(run_id))
            now = now_ms()
            version = ModelVersion(
                name=model_name,
                version=0,
                source=f"package:sha256:{manifest.digest}",
                artifact_prefix="",
                run_id=run_id,
                logged_model_id=None,
                description=description,
                stage=Stage.NONE,
                user=user,
                created_at=now,
                updated_at=now,
                tags=clean_tags,
                package_digest=manifest.digest,
                package=manifest.to_json(),
            )
            return registry_repo.create_version(conn, model_name, version, files=rows)

        return self.db.write(job)

    def lineage(self, name: str, version: int) -> dict[str, Any]:
        """Where a version came from: its run (code commit, params, metrics) and the dataset
        versions that run read and wrote."""
        found = self.get_version(name, version)
        out: dict[str, Any] = {
            "name": found.name,
            "version": found.version,
            "source": found.source,
            "package_digest": found.package_digest,
            "run": None,
            "datasets": [],
        }
        if found.run_id is None:
            return out
        with self.db.read() as conn:
            run = runs_repo.get(conn, found.run_id)
            uses = datasets_repo.uses(conn, run_ids=[run.id])
        out["run"] = {
            "id": run.id,
            "name": run.name,
            "experiment_id": run.experiment_id,
            "status": run.status.value,
            "git_commit": run.tags.get("my.git.commit"),
            "git_branch": run.tags.get("my.git.branch"),
            "params": run.params,
            "metrics": {k: m.last for k, m in run.metrics.items()},
        }
        out["datasets"] = [
            {
                "name": u.name,
                "version": u.version,
                "digest": u.digest,
                "direction": u.direction.value,
                "context": u.context,
            }
            for u in uses
        ]
        return out

    def compare(self, name: str, a: int, b: int) -> dict[str, Any]:
        """What differs between two versions: params, metrics, signature, dependencies."""
        va, vb = self.get_version(name, a), self.get_version(name, b)
        runs: list[Any] = []
        with self.db.read() as conn:
            for ver in (va, vb):
                runs.append(runs_repo.get(conn, ver.run_id) if ver.run_id else None)
        params = [r.params if r else {} for r in runs]
        metrics = [{k: m.last for k, m in r.metrics.items()} if r else {} for r in runs]
        packages: list[dict[str, Any]] = [dict(ver.package or {}) for ver in (va, vb)]
        return {
            "a": a,
            "b": b,
            "params": _diff(params[0], params[1]),
            "metrics": _diff(metrics[0], metrics[1]),
            "signature": _diff(
                packages[0].get("signature") or {}, packages[1].get("signature") or {}
            ),
            "dependencies": _diff(
                packages[0].get("dependencies") or {}, packages[1].get("dependencies") or {}
            ),
            "flavor": [packages[0].get("flavor"), packages[1].get("flavor")],
        }

    def trust(self, name: str, version: int, user: str, reason: str) -> ModelVersion:
        """Allow a version's package to load although its format can run code (recorded)."""
        if not isinstance(reason, str) or not reason.strip():
            raise InvalidInput("say why this model is trusted (reason)", field="reason")
        return self.db.write(lambda c: registry_repo.trust(c, name, version, user, reason))

    def set_card(self, name: str, card: str, user: str = "anonymous") -> RegisteredModel:
        if not isinstance(card, str) or len(card) > 1_000_000:
            raise InvalidInput("a model card is Markdown text of at most 1,000,000 characters")
        self.db.write(lambda c: registry_repo.set_card(c, name, card, user))
        return self.get_model(name)

    def version_by_alias(self, name: str, alias: str) -> ModelVersion:
        with self.db.read() as conn:
            return registry_repo.version_by_alias(conn, name, alias)

    def history(self, name: str) -> list[RegistryEvent]:
        """Every change to the model (kept after it is deleted), oldest first."""
        with self.db.read() as conn:
            return registry_repo.history(conn, name)

    def version_artifacts(self, version: ModelVersion) -> ArtifactArea:
        return ArtifactArea(self.artifacts, version.artifact_prefix)

    def snapshot_artifacts(self, model_id: int, version: int) -> ArtifactArea:
        """The files a version kept at registration (``versions/<model id>/<version>``)."""
        return ArtifactArea(self.artifacts, f"versions/{model_id}/{version}")


def _diff(a: dict[str, Any], b: dict[str, Any]) -> dict[str, list[Any]]:
    """key -> [value in a, value in b] for every key whose values differ (None: absent)."""
    return {k: [a.get(k), b.get(k)] for k in sorted(set(a) | set(b)) if a.get(k) != b.get(k)}


def _model_id(value: str) -> str:
    if not isinstance(value, str) or not MODEL_ID.match(value):
        raise NotFound(f"logged model {value!r} does not exist", model_id=value)
    return value


def clean_alias(value: str) -> str:
    alias = v.clean_name(value, "alias", MAX_ALIAS)
    if RESERVED_ALIAS.match(alias):
        raise InvalidInput(f"alias {alias!r} is reserved (latest and v<number> name versions)")
    return alias


def parse_stage(value: str) -> Stage:
    """A stage name, case-insensitive; InvalidInput for anything else."""
    try:
        return Stage.parse(value)
    except ValueError as exc:
        raise InvalidInput(
            f"stage {value!r} is not one of None, Staging, Production, Archived", field="stage"
        ) from exc
