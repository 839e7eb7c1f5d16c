"""The datasets domain: immutable versions named by their content, and run lineage."""

from __future__ import annotations

import hashlib
from typing import Any

import orjson

from modelyard.datasets.entities import Dataset, DatasetUse, DatasetVersion, Direction
from modelyard.errors import InvalidInput
from modelyard.store.artifacts.area import ArtifactArea
from modelyard.store.artifacts.blobs import clean_digest
from modelyard.store.artifacts.paths import clean_relative
from modelyard.store.artifacts.repository import ArtifactRepository
from modelyard.store.metadata import datasets_repo
from modelyard.store.metadata.database import Database
from modelyard.store.metadata.sql import now_ms
from modelyard.tracking import validation as v

MAX_PROFILE_BYTES = 8 << 20


def content_digest(files: dict[str, str]) -> str:
    """sha256 over the sorted ``path\\tdigest`` lines: the same files, the same digest."""
    lines = "".join(f"{path}\t{digest}\n" for path, digest in sorted(files.items()))
    return hashlib.sha256(lines.encode()).hexdigest()


class DatasetsService:
    def __init__(self, db: Database, artifacts: ArtifactRepository) -> None:
        self.db = db
        self.artifacts = artifacts

    def register(
        self,
        name: str,
        files: dict[str, str],
        *,
        source: str = "",
        num_rows: int | None = None,
        schema: list[dict[str, Any]] | None = None,
        profile: dict[str, Any] | None = None,
        description: str = "",
        tags: dict[str, str] | None = None,
        user: str,
        create_only: bool = False,
    ) -> tuple[DatasetVersion, bool]:
        """A new version from uploaded blobs (``{path: sha256}``); the same content registered
        again returns the existing version (second value False). ``create_only``: the dataset
        must be new (AlreadyExists otherwise, decided in the write)."""
        clean_name = v.clean_name(name, "dataset name")
        clean = {clean_relative(p): clean_digest(d) for p, d in files.items()}
        if not clean:
            raise InvalidInput("a dataset version needs at least one file", field="files")
        if num_rows is not None and (not isinstance(num_rows, int) or num_rows < 0):
            raise InvalidInput("num_rows must be a non-negative integer", field="num_rows")
        if len(orjson.dumps(profile or {})) + len(orjson.dumps(schema or [])) > MAX_PROFILE_BYTES:
            raise InvalidInput(f"schema and profile may take at most {MAX_PROFILE_BYTES} bytes")
        digest = content_digest(clean)
        with self.db.read() as conn:
            existing = datasets_repo.by_digest(conn, clean_name, digest)
        if existing is not None and existing.deleted_at is None and not create_only:
            return existing, False  # the same content again: nothing to check or write
        rows = self.artifacts.stored(list(clean.items()))
        version = DatasetVersion(
            name=clean_name,
            version=0,
            digest=digest,
            source=str(source)[:2000],
            num_rows=num_rows,
            num_files=len(rows),
            size_bytes=sum(r.size for r in rows),
            schema=schema or [],
            profile=profile or {},
            description=description,
            tags=v.clean_pairs(tags, "tag"),
            user=user,
            created_at=now_ms(),
        )
        return self.db.write(
            lambda c: datasets_repo.create_version(c, version, rows, create_only=create_only)
        )

    def register_reference(
        self,
        name: str,
        reference: str,
        *,
        source: str,
        source_type: str = "",
        schema: Any = None,
        profile: Any = None,
        user: str,
        create_only: bool = False,
    ) -> DatasetVersion:
        """A version that only describes data kept elsewhere (an MLflow dataset: its digest,
        source and schema); the same reference is the same version. ``schema`` and ``profile``
        may be JSON text, as MLflow keeps them (text that is not JSON is kept as text)."""
        schema, profile = _json_text(schema, []), _json_text(profile, {})
        if isinstance(schema, dict):
            schema = [schema] if schema else []
        if not isinstance(reference, str) or not reference or len(reference) > 256:
            raise InvalidInput("a dataset digest must be 1 to 256 characters", field="digest")
        reference = v.clean_text(reference, "digest")
        source = v.clean_text(str(source), "source")
        source_type = v.clean_text(str(source_type), "source_type")
        digest = hashlib.sha256(f"reference\t{source_type}\t{reference}".encode()).hexdigest()
        version = DatasetVersion(
            name=v.clean_name(name, "dataset name"),
            version=0,
            digest=digest,
            source=str(source)[:2000],
            num_rows=None,
            num_files=0,
            size_bytes=0,
            schema=schema if isinstance(schema, list) else [],
            profile=profile if isinstance(profile, dict) else {},
            description="",
            tags={"reference.digest": reference, "reference.source_type": str(source_type)[:250]},
            user=user,
            created_at=now_ms(),
        )
        if (
            len(orjson.dumps(version.schema)) + len(orjson.dumps(version.profile))
            > MAX_PROFILE_BYTES
        ):
            raise InvalidInput(f"schema and profile may take at most {MAX_PROFILE_BYTES} bytes")
        return self.db.write(
            lambda c: datasets_repo.create_version(c, version, [], create_only=create_only)
        )[0]

    def inputs(self, run_ids: list[str]) -> dict[str, list[tuple[DatasetUse, DatasetVersion]]]:
        """The dataset versions each run read (for run views)."""
        with self.db.read() as conn:
            return datasets_repo.inputs(conn, run_ids)

    def delete_version(self, name: str, version: int) -> DatasetVersion:
        """Release the version's files (removed by `modelyard gc` after the grace); its
        metadata and lineage stay, and registering the same content brings it back."""
        return self.db.write(lambda c: datasets_repo.delete_version(c, name, version))

    def all(self, readable: set[str] | None = None) -> list[Dataset]:
        """Every dataset; with ``readable`` (names), only those."""
        with self.db.read() as conn:
            found = datasets_repo.list_datasets(conn)
        return found if readable is None else [d for d in found if d.name in readable]

    def exists(self, name: str) -> bool:
        with self.db.read() as conn:
            return datasets_repo.find(conn, name) is not None

    def versions(self, name: str) -> list[DatasetVersion]:
        with self.db.read() as conn:
            return datasets_repo.versions(conn, name)

    def get_version(self, name: str, version: int | None = None) -> DatasetVersion:
        """A version, or the newest one."""
        with self.db.read() as conn:
            if version is None:
                return datasets_repo.latest_version(conn, name)
            return datasets_repo.get_version(conn, name, version)

    def files(self, name: str, version: int) -> ArtifactArea:
        with self.db.read() as conn:
            datasets_repo.get_version(conn, name, version)
            return ArtifactArea(self.artifacts, datasets_repo.prefix_of(conn, name, version))

    def log_use(
        self,
        run_id: str,
        name: str,
        version: int,
        direction: Direction | str = Direction.INPUT,
        context: str = "",
        tags: dict[str, str] | None = None,
    ) -> DatasetUse:
        """Record that a run read (input) or wrote (output) a dataset version, with the
        input's tags (MLflow's input tags; the first record of an edge keeps them)."""
        try:
            way = Direction(direction)
        except ValueError:
            raise InvalidInput("direction must be input or output", field="direction") from None
        clean = v.clean_pairs(tags, "input tag")
        use = DatasetUse(
            v.clean_run_id(run_id), name, int(version), way, str(context)[:250], tags=clean
        )
        self.db.write(lambda c: datasets_repo.link_run(c, use))
        return use

    def uses(
        self, *, run_ids: list[str] | None = None, name: str | None = None
    ) -> list[DatasetUse]:
        with self.db.read() as conn:
            return datasets_repo.uses(conn, run_ids=run_ids, name=name)


def _json_text(value: Any, default: Any) -> Any:
    """A value that may be JSON text (MLflow's dataset schema and profile) as the value."""
    if not value:
        return default
    try:
        return orjson.loads(value) if isinstance(value, str) else value
    except orjson.JSONDecodeError:
        return {"text": str(value)[:10_000]}
