"""Datasets, their immutable versions and the runs that read or wrote them."""

from __future__ import annotations

from typing import Any

import orjson
from sqlalchemy import Connection, Row, func, select
from sqlalchemy.exc import IntegrityError

from modelyard.datasets.entities import Dataset, DatasetUse, DatasetVersion, Direction
from modelyard.errors import AlreadyExists, NotFound
from modelyard.store.metadata import artifact_index_repo
from modelyard.store.metadata.sql import now_ms
from modelyard.store.metadata.tables import dataset_versions, datasets, run_datasets, runs


def find(conn: Connection, name: str) -> Row[Any] | None:
    return conn.execute(select(datasets).where(datasets.c.name == name)).first()


def _row(conn: Connection, name: str) -> Row[Any]:
    row = find(conn, name)
    if row is None:
        raise NotFound(f"dataset {name!r} does not exist", name=name)
    return row


def ensure(conn: Connection, name: str, user: str) -> Row[Any]:
    """The dataset row, created on first use."""
    found = conn.execute(select(datasets).where(datasets.c.name == name)).first()
    if found is not None:
        return found
    try:
        with conn.begin_nested():
            conn.execute(
                datasets.insert().values(
                    name=name, description="", user=user, created_at=now_ms(), next_version=1
                )
            )
    except IntegrityError:
        pass  # created by a concurrent writer
    return _row(conn, name)


def _to_version(row: Row[Any], name: str) -> DatasetVersion:
    m = row._mapping
    return DatasetVersion(
        name=name,
        version=int(m["version"]),
        digest=m["digest"],
        source=m["source"],
        num_rows=None if m["num_rows"] is None else int(m["num_rows"]),
        num_files=int(m["num_files"]),
        size_bytes=int(m["size_bytes"]),
        schema=orjson.loads(m["schema_doc"]),
        profile=orjson.loads(m["profile_doc"]),
        description=m["description"],
        tags=orjson.loads(m["tags_doc"]),
        user=m["user"],
        created_at=int(m["created_at"]),
        deleted_at=None if m["deleted_at"] is None else int(m["deleted_at"]),
    )


def by_digest(conn: Connection, name: str, digest: str) -> DatasetVersion | None:
    row = conn.execute(
        select(dataset_versions)
        .join(datasets, datasets.c.id == dataset_versions.c.dataset_id)
        .where(datasets.c.name == name, dataset_versions.c.digest == digest)
    ).first()
    return None if row is None else _to_version(row, name)


def create_version(
    conn: Connection,
    version: DatasetVersion,
    files: list[artifact_index_repo.FileRow],
    *,
    create_only: bool = False,
) -> tuple[DatasetVersion, bool]:
    """Insert the next version, or return the one with the same digest (False: not new).

    Content of a deleted version registered again brings that version back with its files.
    ``create_only``: the dataset must be new (AlreadyExists otherwise), in this transaction.
    """
    if create_only and find(conn, version.name) is not None:
        raise AlreadyExists(f"dataset {version.name!r} already exists", name=version.name)
    existing = by_digest(conn, version.name, version.digest)
    if existing is not None and existing.deleted_at is None:
        return existing, False
    row = ensure(conn, version.name, version.user)
    if existing is not None:
        conn.execute(
            dataset_versions.update()
            .where(
                dataset_versions.c.dataset_id == row.id,
                dataset_versions.c.version == existing.version,
            )
            .values(deleted_at=None)
        )
        _put_files(conn, f"datasets/{row.id}/{existing.version}", files, version.created_at)
        return get_version(conn, version.name, existing.version), True
    number = int(row.next_version)
    conn.execute(datasets.update().where(datasets.c.id == row.id).values(next_version=number + 1))
    conn.execute(
        dataset_versions.insert().values(
            dataset_id=row.id,
            version=number,
            digest=version.digest,
            source=version.source,
            num_rows=version.num_rows,
            num_files=version.num_files,
            size_bytes=version.size_bytes,
            schema_doc=orjson.dumps(version.schema).decode(),
            profile_doc=orjson.dumps(version.profile).decode(),
            description=version.description,
            tags_doc=orjson.dumps(version.tags).decode(),
            reference_digest=version.tags.get("reference.digest"),
            user=version.user,
            created_at=version.created_at,
        )
    )
    _put_files(conn, f"datasets/{row.id}/{number}", files, version.created_at)
    return get_version(conn, version.name, number), True


def _put_files(
    conn: Connection, prefix: str, files: list[artifact_index_repo.FileRow], now: int
) -> None:
    rows = [artifact_index_repo.FileRow(f"{prefix}/{f.key}", f.digest, f.size) for f in files]
    artifact_index_repo.put(conn, rows, now)


def delete_version(conn: Connection, name: str, version: int) -> DatasetVersion:
    """Release a version's files (gone at the next gc after the grace); lineage stays."""
    found = get_version(conn, name, version)
    if found.deleted_at is None:
        now = now_ms()
        conn.execute(
            dataset_versions.update()
            .where(
                dataset_versions.c.dataset_id == _row(conn, name).id,
                dataset_versions.c.version == version,
            )
            .values(deleted_at=now)
        )
        artifact_index_repo.delete_under(conn, prefix_of(conn, name, version), now)
    return get_version(conn, name, version)


def get_version(conn: Connection, name: str, version: int) -> DatasetVersion:
    row = _row(conn, name)
    found = conn.execute(
        select(dataset_versions).where(
            dataset_versions.c.dataset_id == row.id, dataset_versions.c.version == version
        )
    ).first()
    if found is None:
        raise NotFound(f"version {version} of dataset {name!r} does not exist", name=name)
    return _to_version(found, name)


def latest_version(conn: Connection, name: str) -> DatasetVersion:
    row = _row(conn, name)
    number = conn.execute(
        select(func.max(dataset_versions.c.version)).where(dataset_versions.c.dataset_id == row.id)
    ).scalar()
    if number is None:
        raise NotFound(f"dataset {name!r} has no versions", name=name)
    return get_version(conn, name, int(number))


def versions(conn: Connection, name: str) -> list[DatasetVersion]:
    row = _row(conn, name)
    rows = conn.execute(
        select(dataset_versions)
        .where(dataset_versions.c.dataset_id == row.id)
        .order_by(dataset_versions.c.version)
    )
    return [_to_version(r, name) for r in rows]


def list_datasets(conn: Connection) -> list[Dataset]:
    counts = (
        select(dataset_versions.c.dataset_id, func.count().label("n"))
        .group_by(dataset_versions.c.dataset_id)
        .subquery()
    )
    rows = conn.execute(
        select(datasets, func.coalesce(counts.c.n, 0))
        .outerjoin(counts, counts.c.dataset_id == datasets.c.id)
        .order_by(datasets.c.name)
    )
    return [Dataset(r.name, r.description, r.user, int(r.created_at), int(r[-1])) for r in rows]


def prefix_of(conn: Connection, name: str, version: int) -> str:
    return f"datasets/{int(_row(conn, name).id)}/{version}"


def link_run(conn: Connection, use: DatasetUse) -> None:
    """Record that a run read or wrote a version (idempotent)."""
    if conn.execute(select(runs.c.id).where(runs.c.id == use.run_id)).first() is None:
        raise NotFound(f"run {use.run_id} does not exist", run_id=use.run_id)
    get_version(conn, use.name, use.version)
    key = {
        "run_id": use.run_id,
        "dataset_id": int(_row(conn, use.name).id),
        "version": use.version,
        "direction": use.direction.value,
    }
    exists = conn.execute(
        select(run_datasets.c.run_id).where(*(run_datasets.c[k] == v for k, v in key.items()))
    ).first()
    if exists is None:
        tags = orjson.dumps(use.tags).decode()
        conn.execute(run_datasets.insert().values(**key, context=use.context, tags_doc=tags))


def uses(
    conn: Connection, *, run_ids: list[str] | None = None, name: str | None = None
) -> list[DatasetUse]:
    """Lineage edges of some runs, or of one dataset."""
    query = (
        select(
            run_datasets.c.run_id,
            datasets.c.name,
            run_datasets.c.version,
            run_datasets.c.direction,
            run_datasets.c.context,
            dataset_versions.c.digest,
        )
        .join(datasets, datasets.c.id == run_datasets.c.dataset_id)
        .join(
            dataset_versions,
            (dataset_versions.c.dataset_id == run_datasets.c.dataset_id)
            & (dataset_versions.c.version == run_datasets.c.version),
        )
        .order_by(run_datasets.c.run_id, datasets.c.name, run_datasets.c.version)
    )
    if run_ids is not None:
        query = query.where(run_datasets.c.run_id.in_(run_ids))
    if name is not None:
        query = query.where(datasets.c.name == name)
    return [
        DatasetUse(r.run_id, r.name, int(r.version), Direction(r.direction), r.context, r.digest)
        for r in conn.execute(query)
    ]


def inputs(
    conn: Connection, run_ids: list[str]
) -> dict[str, list[tuple[DatasetUse, DatasetVersion]]]:
    """The versions each run read, with their metadata (one query for a page of runs)."""
    out: dict[str, list[tuple[DatasetUse, DatasetVersion]]] = {}
    if not run_ids:
        return out
    query = (
        select(
            run_datasets.c.run_id,
            run_datasets.c.context,
            run_datasets.c.tags_doc.label("input_tags"),
            datasets.c.name,
            dataset_versions,
        )
        .join(datasets, datasets.c.id == run_datasets.c.dataset_id)
        .join(
            dataset_versions,
            (dataset_versions.c.dataset_id == run_datasets.c.dataset_id)
            & (dataset_versions.c.version == run_datasets.c.version),
        )
        .where(run_datasets.c.run_id.in_(run_ids), run_datasets.c.direction == "input")
        .order_by(run_datasets.c.run_id, datasets.c.name, run_datasets.c.version)
    )
    for row in conn.execute(query):
        version = _to_version(row, row.name)
        use = DatasetUse(
            row.run_id,
            row.name,
            version.version,
            Direction.INPUT,
            row.context,
            version.digest,
            orjson.loads(row.input_tags),
        )
        out.setdefault(row.run_id, []).append((use, version))
    return out
