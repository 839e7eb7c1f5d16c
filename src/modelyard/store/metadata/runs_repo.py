"""Runs, their params and tags, and the atomic, at-most-once batch write."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import orjson
from sqlalchemy import BigInteger, Boolean, Connection, Row, bindparam, case, func, select
from sqlalchemy.dialects import postgresql, sqlite

from modelyard.errors import InvalidInput, InvalidState, NotFound, ParamConflict
from modelyard.store.metadata import experiments_repo, logged_models_repo, metrics_repo
from modelyard.store.metadata.database import Prepared, PreparedIn
from modelyard.store.metadata.sql import chunked, now_ms
from modelyard.store.metadata.tables import (
    applied_batches,
    experiments,
    model_versions,
    run_datasets,
    run_params,
    run_tags,
    runs,
)
from modelyard.tracking.entities import (
    Lifecycle,
    MetricSummary,
    Run,
    RunBatch,
    RunCreate,
    RunStatus,
    RunUpdate,
)


def metrics_doc(summaries: dict[str, MetricSummary]) -> str:
    """The read copy of a run's metric summaries, stored in the API's JSON shape."""
    return orjson.dumps({k: m.to_json() for k, m in summaries.items()}).decode()


def _to_run(row: Row[tuple[object, ...]] | Mapping[str, Any]) -> Run:
    m = row._mapping if isinstance(row, Row) else row
    return Run(
        id=m["id"],
        experiment_id=int(m["experiment_id"]),
        name=m["name"],
        status=RunStatus(m["status"]),
        start_time=int(m["start_time"]),
        end_time=None if m["end_time"] is None else int(m["end_time"]),
        parent_id=m["parent_id"],
        user=m["user"],
        notes=m["notes"],
        lifecycle=Lifecycle(m["lifecycle"]),
        params=orjson.loads(m["params_doc"]),
        tags=orjson.loads(m["tags_doc"]),
        metrics={
            k: MetricSummary.from_json(k, d) for k, d in orjson.loads(m["metrics_doc"]).items()
        },
    )


def load(conn: Connection, run_ids: list[str]) -> list[Run]:
    """Runs with params, tags and metric summaries, in the order of ``run_ids``."""
    by_id: dict[str, Run] = {}
    for ids in chunked(run_ids):
        for row in conn.execute(select(runs).where(runs.c.id.in_(ids))):
            by_id[row.id] = _to_run(row)
    return [by_id[i] for i in run_ids if i in by_id]


def load_json(conn: Connection, run_ids: list[str]) -> list[dict[str, Any]]:
    """Like ``load`` but as the API's JSON, with the read copies spliced in unparsed."""
    by_id: dict[str, dict[str, Any]] = {}
    for ids in chunked(run_ids):
        for row in conn.execute(select(runs).where(runs.c.id.in_(ids))):
            m = row._mapping
            by_id[m["id"]] = {
                "id": m["id"],
                "experiment_id": int(m["experiment_id"]),
                "name": m["name"],
                "status": m["status"],
                "start_time": int(m["start_time"]),
                "end_time": None if m["end_time"] is None else int(m["end_time"]),
                "parent_id": m["parent_id"],
                "user": m["user"],
                "notes": m["notes"],
                "lifecycle": m["lifecycle"],
                "params": orjson.Fragment(m["params_doc"]),
                "tags": orjson.Fragment(m["tags_doc"]),
                "metrics": orjson.Fragment(m["metrics_doc"]),
            }
    return [by_id[i] for i in run_ids if i in by_id]


_RUN_COLUMNS = tuple(c.key for c in runs.c)
_RUN = Prepared(select(runs).where(runs.c.id == bindparam("rid")))


def get(conn: Connection, run_id: str) -> Run:
    row = _RUN.first(conn, {"rid": run_id})
    if row is None:
        raise NotFound(f"run {run_id} does not exist", run_id=run_id)
    return _to_run(dict(zip(_RUN_COLUMNS, row, strict=True)))


_EXPERIMENTS_OF = select(runs.c.id, runs.c.experiment_id).where(
    runs.c.id.in_(bindparam("ids", expanding=True))
)  # built once: compiled once (a permission check runs it on every write)


def experiments_of(conn: Connection, run_ids: list[str]) -> dict[str, int]:
    """``{run id: experiment id}`` of the runs that exist."""
    out: dict[str, int] = {}
    for chunk in chunked(run_ids):
        rows = conn.execute(_EXPERIMENTS_OF, {"ids": chunk})
        out.update((str(r.id), int(r.experiment_id)) for r in rows)
    return out


_NAMES_OF = select(runs.c.id, runs.c.name, runs.c.experiment_id).where(
    runs.c.id.in_(bindparam("ids", expanding=True))
)


def names_of(
    conn: Connection, run_ids: list[str], experiments: set[str] | None = None
) -> dict[str, str]:
    """``{run id: name}`` of the runs that exist (deleted ones too), one statement a chunk;
    with ``experiments``, only of the runs in those experiments (ids as text)."""
    out: dict[str, str] = {}
    for chunk in chunked(run_ids):
        for r in conn.execute(_NAMES_OF, {"ids": chunk}):
            if experiments is None or str(r.experiment_id) in experiments:
                out[str(r.id)] = str(r.name)
    return out


def _lock_active(conn: Connection, run_id: str) -> None:
    row = conn.execute(
        select(runs.c.lifecycle).where(runs.c.id == run_id).with_for_update()
    ).first()
    if row is None:
        raise NotFound(f"run {run_id} does not exist", run_id=run_id)
    if row.lifecycle != "active":
        raise InvalidState(f"run {run_id} is deleted; restore it before logging", run_id=run_id)


# The statements of a batch write, compiled once (see database.Prepared).
_EXPERIMENT_BY_ID = Prepared(
    select(experiments.c.lifecycle).where(experiments.c.id == bindparam("exp_id"))
)
_EXPERIMENT_BY_NAME = Prepared(
    select(experiments.c.id, experiments.c.lifecycle).where(experiments.c.name == bindparam("name"))
)
_APPLIED = PreparedIn(
    lambda _, ids: select(applied_batches.c.batch_id, applied_batches.c.run_id).where(
        applied_batches.c.batch_id.in_(ids)
    )
)
_RUN_STATES = PreparedIn(
    lambda _, ids: (
        select(runs.c.id, runs.c.lifecycle)
        .where(runs.c.id.in_(ids))
        .order_by(runs.c.id)
        .with_for_update()
    )
)
_RUN_EXISTS = Prepared(select(runs.c.id).where(runs.c.id == bindparam("rid")))
_INSERT_RUNS = Prepared(runs.insert().inline(), _RUN_COLUMNS)
_PARAMS_OF = PreparedIn(
    lambda _, ids: select(run_params.c.run_id, run_params.c.key, run_params.c.value).where(
        run_params.c.run_id.in_(ids)
    )
)
_INSERT_PARAMS = Prepared(run_params.insert().inline(), ("run_id", "key", "value"))
_TAGS_OF = PreparedIn(
    lambda _, ids: select(run_tags.c.run_id, run_tags.c.key, run_tags.c.value).where(
        run_tags.c.run_id.in_(ids)
    )
)
_INSERT_APPLIED = Prepared(applied_batches.insert().inline(), ("batch_id", "run_id", "applied_at"))


def _upsert_tags(dialect: str) -> Any:
    stmt = (postgresql if dialect == "postgresql" else sqlite).insert(run_tags)
    return stmt.on_conflict_do_update(
        index_elements=["run_id", "key"], set_={"value": stmt.excluded.value}
    )


_UPSERT_TAGS = Prepared(_upsert_tags, ("run_id", "key", "value"))


class _Experiments:
    """Resolves the experiment of each new run once per request."""

    def __init__(self, conn: Connection) -> None:
        self.conn = conn
        self.by_id: dict[int, str] = {}
        self.by_name: dict[str, int] = {}

    def resolve(self, spec: RunCreate) -> int:
        if spec.experiment_id is None:
            name = spec.experiment_name or "Default"
            if name not in self.by_name:
                row = _EXPERIMENT_BY_NAME.first(self.conn, {"name": name})
                self.by_name[name] = (
                    int(row[0])
                    if row is not None and row[1] == "active"
                    else experiments_repo.get_or_create(self.conn, name)  # made, or refused
                )
            return self.by_name[name]
        exp_id = spec.experiment_id
        if exp_id not in self.by_id:
            row = _EXPERIMENT_BY_ID.first(self.conn, {"exp_id": exp_id})
            if row is None:
                raise NotFound(f"experiment {exp_id} does not exist", experiment_id=exp_id)
            self.by_id[exp_id] = str(row[0])
        if self.by_id[exp_id] != "active":
            raise InvalidState(f"experiment {exp_id} is deleted; restore it first")
        return exp_id


def applied(conn: Connection, batch_ids: list[str]) -> set[str]:
    found: set[str] = set()
    for chunk in chunked(batch_ids):
        rows = conn.execute(
            select(applied_batches.c.batch_id).where(applied_batches.c.batch_id.in_(chunk))
        )
        found.update(r for (r,) in rows)
    return found


def _fresh(conn: Connection, batches: list[RunBatch]) -> list[RunBatch]:
    """Drop batches whose id was applied before (or earlier in this request)."""
    ids = [b.batch_id for b in batches if b.batch_id is not None]
    seen: dict[str, str] = dict(_APPLIED.rows(conn, ids)) if ids else {}
    out = []
    for batch in batches:
        if batch.batch_id is not None:
            owner = seen.get(batch.batch_id)
            if owner is not None:
                if owner != batch.run_id:
                    raise InvalidInput(f"batch id {batch.batch_id} was used for another run")
                continue
            seen[batch.batch_id] = batch.run_id
        out.append(batch)
    return out


def _create_runs(conn: Connection, batches: list[RunBatch], user: str) -> set[str]:
    """Create the runs that do not exist yet; returns their ids."""
    run_ids = sorted({b.run_id for b in batches})
    state: dict[str, str] = dict(_RUN_STATES.rows(conn, run_ids))
    exps = _Experiments(conn)
    new_rows: list[dict[str, object]] = []
    now = now_ms()
    for batch in batches:
        rid = batch.run_id
        if rid in state:
            if state[rid] != "active":
                raise InvalidState(f"run {rid} is deleted; restore it before logging", run_id=rid)
            continue
        spec = batch.create
        if spec is None:
            raise NotFound(f"run {rid} does not exist", run_id=rid)
        parent = spec.parent_id
        if (
            parent is not None
            and parent not in state
            and _RUN_EXISTS.first(conn, {"rid": parent}) is None
        ):
            raise NotFound(f"parent run {parent} does not exist", run_id=parent)
        new_rows.append(
            {
                "id": rid,
                "experiment_id": exps.resolve(spec),
                "name": spec.name or rid[:8],
                "status": RunStatus.RUNNING.value,
                "start_time": spec.start_time if spec.start_time is not None else now,
                "end_time": None,
                "parent_id": spec.parent_id,
                "user": spec.user or user,
                "notes": "",
                "lifecycle": "active",
                "deleted_at": None,
                "params_doc": "{}",
                "tags_doc": "{}",
                "metrics_doc": "{}",
            }
        )
        state[rid] = "active"
    _INSERT_RUNS.many(conn, new_rows)
    return {str(row["id"]) for row in new_rows}


def _set_params(
    conn: Connection, batches: list[RunBatch], created: set[str]
) -> dict[str, dict[str, str]]:
    """Insert new params, refuse changed ones; returns all params of each run given new ones.

    Runs in ``created`` were made in this transaction and have no stored params to read.
    """
    wanted: dict[tuple[str, str], str] = {}
    for batch in batches:
        for key, value in batch.params.items():
            first = wanted.setdefault((batch.run_id, key), value)
            if first != value:
                raise _conflict(batch.run_id, key, first, value)
    if not wanted:
        return {}
    stored = sorted({r for r, _ in wanted} - created)
    existing: dict[tuple[str, str], str] = {
        (r, k): v for r, k, v in (_PARAMS_OF.rows(conn, stored) if stored else ())
    }
    new: list[dict[str, str]] = []
    for (run_id, key), wanted_value in wanted.items():
        old = existing.get((run_id, key))
        if old is None:
            new.append({"run_id": run_id, "key": key, "value": wanted_value})
        elif old != wanted_value:
            raise _conflict(run_id, key, old, wanted_value)
    if not new:
        return {}
    _INSERT_PARAMS.many(conn, new)
    full: dict[str, dict[str, str]] = {row["run_id"]: {} for row in new}
    for (run_id, key), value in (existing | wanted).items():
        if run_id in full:
            full[run_id][key] = value
    return full


def _all_tags(
    conn: Connection, given: dict[tuple[str, str], str], created: set[str]
) -> dict[str, dict[str, str]]:
    """Every tag of the runs given tags (stored ones are read only for runs made before)."""
    out: dict[str, dict[str, str]] = {r: {} for r, _ in given}
    stored = sorted(set(out) - created)
    for run_id, key, value in _TAGS_OF.rows(conn, stored) if stored else ():
        out[run_id][key] = value
    for (run_id, key), value in given.items():
        out[run_id][key] = value
    return out


def _conflict(run_id: str, key: str, old: str, new: str) -> ParamConflict:
    return ParamConflict(
        f"param {key!r} of run {run_id} is already {old[:100]!r}; it cannot change to {new[:100]!r}",
        run_id=run_id,
        key=key,
    )


_UPDATE = (
    runs.update()
    .where(runs.c.id == bindparam("rid"))
    .values(
        status=func.coalesce(bindparam("new_status"), runs.c.status),
        name=func.coalesce(bindparam("new_name"), runs.c.name),
        notes=func.coalesce(bindparam("new_notes"), runs.c.notes),
        end_time=case(
            (bindparam("set_end", type_=Boolean), bindparam("new_end", type_=BigInteger)),
            else_=runs.c.end_time,
        ),
        params_doc=func.coalesce(bindparam("new_params_doc"), runs.c.params_doc),
        tags_doc=func.coalesce(bindparam("new_tags_doc"), runs.c.tags_doc),
        metrics_doc=func.coalesce(bindparam("new_metrics_doc"), runs.c.metrics_doc),
    )
)
_PREPARED_UPDATE = Prepared(_UPDATE)
_NO_UPDATE: dict[str, object] = {
    "new_status": None,
    "new_name": None,
    "new_notes": None,
    "set_end": False,
    "new_end": None,
}


def _update_params(spec: RunUpdate, now: int) -> dict[str, object]:
    set_end, end = spec.end_time is not None, spec.end_time
    if spec.status is not None and not set_end:
        set_end, end = True, (None if spec.status == RunStatus.RUNNING else now)
    return {
        "new_status": spec.status.value if spec.status is not None else None,
        "new_name": spec.name,
        "new_notes": spec.notes,
        "set_end": set_end,
        "new_end": end,
    }


def _doc(values: dict[str, str] | None) -> str | None:
    return None if values is None else orjson.dumps(values).decode()


def apply_batches(conn: Connection, batches: list[RunBatch], user: str) -> list[RunBatch]:
    """Apply batches in the caller's transaction, with one statement per table.

    Returns the batches applied now; those whose batch id was applied before are skipped.
    Raises on the first invalid batch; the caller's transaction then rolls everything back.
    """
    fresh = _fresh(conn, batches)
    if not fresh:
        return []
    created = _create_runs(conn, fresh, user)
    params = _set_params(conn, fresh, created)
    tags = {(b.run_id, k): v for b in fresh for k, v in b.tags.items()}
    all_tags: dict[str, dict[str, str]] = {}
    if tags:
        _UPSERT_TAGS.many(conn, [{"run_id": r, "key": k, "value": v} for (r, k), v in tags.items()])
        all_tags = _all_tags(conn, tags, created)
    summaries = metrics_repo.append_many(
        conn, [(b.run_id, m) for b in fresh for m in b.metrics], created
    )
    model_points = [p for b in fresh for p in b.model_metrics]
    if model_points:  # MLflow 3: points measured for logged models, kept with them too
        logged_models_repo.add_metrics(conn, model_points)
    now = now_ms()
    changes: dict[str, dict[str, object]] = {}
    for b in fresh:
        if b.update is not None:
            change = changes.setdefault(b.run_id, dict(_NO_UPDATE))
            later = _update_params(b.update, now)
            for name in ("new_status", "new_name", "new_notes"):
                if later[name] is not None:
                    change[name] = later[name]
            if later["set_end"]:
                change["set_end"], change["new_end"] = True, later["new_end"]
    touched = set(changes) | set(params) | set(all_tags) | set(summaries)
    if touched:
        _PREPARED_UPDATE.many(
            conn,
            [
                {
                    "rid": rid,
                    **changes.get(rid, _NO_UPDATE),
                    "new_params_doc": _doc(params.get(rid)),
                    "new_tags_doc": _doc(all_tags.get(rid)),
                    "new_metrics_doc": metrics_doc(summaries[rid]) if rid in summaries else None,
                }
                for rid in sorted(touched)
            ],
        )
    stamped = [
        {"batch_id": b.batch_id, "run_id": b.run_id, "applied_at": now}
        for b in fresh
        if b.batch_id is not None
    ]
    _INSERT_APPLIED.many(conn, stamped)
    return fresh


def set_lifecycle(conn: Connection, run_id: str, lifecycle: Lifecycle) -> None:
    found = conn.execute(select(runs.c.id).where(runs.c.id == run_id)).first()
    if found is None:
        raise NotFound(f"run {run_id} does not exist", run_id=run_id)
    conn.execute(
        runs.update()
        .where(runs.c.id == run_id)
        .values(
            lifecycle=lifecycle.value,
            deleted_at=now_ms() if lifecycle == Lifecycle.DELETED else None,
        )
    )


def delete_tag(conn: Connection, run_id: str, key: str) -> None:
    _lock_active(conn, run_id)
    result = conn.execute(
        run_tags.delete().where(run_tags.c.run_id == run_id, run_tags.c.key == key)
    )
    if result.rowcount == 0:
        raise NotFound(f"tag {key!r} is not set on run {run_id}", run_id=run_id, key=key)
    rows = conn.execute(select(run_tags.c.key, run_tags.c.value).where(run_tags.c.run_id == run_id))
    doc = orjson.dumps(dict(rows.all())).decode()
    conn.execute(runs.update().where(runs.c.id == run_id).values(tags_doc=doc))


def deleted_before(conn: Connection, cutoff_ms: int) -> list[Run]:
    """Runs deleted before the cutoff, and runs of experiments deleted before it."""
    deleted_exps = select(experiments.c.id).where(
        experiments.c.lifecycle == "deleted", experiments.c.deleted_at <= cutoff_ms
    )
    rows = conn.execute(
        select(runs).where(
            ((runs.c.lifecycle == "deleted") & (runs.c.deleted_at <= cutoff_ms))
            | runs.c.experiment_id.in_(deleted_exps)
        )
    ).all()
    return [_to_run(r) for r in rows]


def purge(conn: Connection, run_ids: list[str]) -> None:
    """Remove runs and everything logged to them, for good."""
    metrics_repo.delete_for_runs(conn, run_ids)
    logged_models_repo.forget_runs(conn, run_ids)
    for ids in chunked(run_ids):
        conn.execute(run_datasets.delete().where(run_datasets.c.run_id.in_(ids)))
        # a registered version keeps its own copy of the files; only its link to the run goes
        conn.execute(
            model_versions.update().where(model_versions.c.run_id.in_(ids)).values(run_id=None)
        )
        conn.execute(run_params.delete().where(run_params.c.run_id.in_(ids)))
        conn.execute(run_tags.delete().where(run_tags.c.run_id.in_(ids)))
        conn.execute(applied_batches.delete().where(applied_batches.c.run_id.in_(ids)))
        conn.execute(runs.update().where(runs.c.parent_id.in_(ids)).values(parent_id=None))
        conn.execute(runs.delete().where(runs.c.id.in_(ids)))


def silent_since(
    conn: Connection, tag: str, cutoff_ms: int, limit: int = 1000
) -> list[tuple[str, int]]:
    """RUNNING runs whose heartbeat tag is older than the cutoff, with that heartbeat (ms).

    Reads the tag's index (``ix_run_tags_key``), one row per run that ever had a heartbeat,
    and the run by its key. Heartbeats are 13-digit millisecond strings, so they compare as text.
    """
    stamp = str(cutoff_ms).rjust(13, "0")
    rows = conn.execute(
        select(run_tags.c.run_id, run_tags.c.value)
        .join(runs, runs.c.id == run_tags.c.run_id)
        .where(
            run_tags.c.key == tag,
            func.length(run_tags.c.value) == len(stamp),
            run_tags.c.value < stamp,
            runs.c.status == RunStatus.RUNNING.value,
            runs.c.lifecycle == Lifecycle.ACTIVE.value,
        )
        .order_by(run_tags.c.run_id)
        .limit(limit)
    ).all()
    return [(r.run_id, int(r.value)) for r in rows if r.value.isdigit()]


def mark_killed(conn: Connection, tag: str, found: list[tuple[str, int]]) -> list[str]:
    """Mark these runs KILLED, ended at their last heartbeat, if they are still RUNNING and
    that heartbeat is still their last (a beat that came meanwhile keeps a run alive)."""
    killed = []
    for run_id, last_beat in found:
        same_beat = (
            select(run_tags.c.run_id)
            .where(
                run_tags.c.run_id == run_id,
                run_tags.c.key == tag,
                run_tags.c.value == str(last_beat).rjust(13, "0"),
            )
            .exists()
        )
        result = conn.execute(
            runs.update()
            .where(runs.c.id == run_id, runs.c.status == RunStatus.RUNNING.value, same_beat)
            .values(status=RunStatus.KILLED.value, end_time=last_beat)
        )
        if result.rowcount:
            killed.append(run_id)
    return killed
