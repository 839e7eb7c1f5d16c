"""The tracking domain: experiments, runs, metrics, artifacts. Validates, then calls the store."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, BinaryIO, TypeVar

from modelyard.errors import InvalidInput
from modelyard.store.artifacts.area import ArtifactArea
from modelyard.store.artifacts.base import ArtifactInfo
from modelyard.store.artifacts.blobs import Blob
from modelyard.store.artifacts.repository import ArtifactRepository
from modelyard.store.metadata import experiments_repo, metrics_repo, run_search, runs_repo
from modelyard.store.metadata.database import Database
from modelyard.tracking import memory_search
from modelyard.tracking import validation as v
from modelyard.tracking.batches import new_run_id
from modelyard.tracking.downsample import Method, downsample, split_budget, window
from modelyard.tracking.entities import (
    Experiment,
    Lifecycle,
    MetricPoints,
    Run,
    RunBatch,
    RunCreate,
    RunPage,
    RunUpdate,
    ViewType,
)
from modelyard.tracking.search import parse_filter, parse_order_by

if TYPE_CHECKING:
    from sqlalchemy import Connection

MAX_SEARCH_RESULTS = 10_000
EXPERIMENTS = memory_search.Searchable(
    "experiments",
    {
        "name": "name",
        "id": "id",
        "experiment_id": "id",
        "created_at": "created_at",
        "creation_time": "created_at",
        "updated_at": "updated_at",
        "last_update_time": "updated_at",
        "description": "description",
    },
    frozenset({"id", "created_at", "updated_at"}),
)
T = TypeVar("T")


class RunHomes:
    """The experiment of runs seen lately: a run never moves to another experiment while it
    exists. Only runs found are kept (a run made later is read then). A run deleted for good
    (``gc``) is forgotten here at once; other processes sharing the store forget it within
    :attr:`TTL_S`, before a client could reuse its id in another experiment and be checked
    against the old one."""

    TTL_S = 30.0
    MAX = 100_000

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._seen: dict[str, tuple[int, float]] = {}

    def known(self, run_ids: Sequence[str]) -> tuple[dict[str, int], list[str]]:
        """``({run: experiment} remembered, the runs to read)``."""
        now, found, missing = time.monotonic(), {}, []
        with self._lock:
            for run_id in run_ids:
                hit = self._seen.get(run_id)
                if hit is not None and hit[1] > now:
                    found[run_id] = hit[0]
                else:
                    missing.append(run_id)
        return found, missing

    def remember(self, homes: dict[str, int]) -> None:
        until = time.monotonic() + self.TTL_S
        with self._lock:
            if len(self._seen) + len(homes) > self.MAX:
                self._seen.clear()
            for run_id, exp in homes.items():
                self._seen[run_id] = (exp, until)

    def forget(self, run_ids: Sequence[str]) -> None:
        with self._lock:
            for run_id in run_ids:
                self._seen.pop(run_id, None)


@dataclass(slots=True)
class IngestResult:
    applied: int = 0
    duplicates: int = 0
    points: int = 0


@dataclass(slots=True)
class GcReport:
    run_ids: list[str] = field(default_factory=list)
    artifact_files: int = 0
    artifact_bytes: int = 0
    blobs: int = 0  # stored blobs no file names any more, deleted after the grace
    blob_bytes: int = 0
    uploads: int = 0  # abandoned uploads
    dry_run: bool = True


def _run_prefix(run_id: str) -> str:
    return f"runs/{run_id}"


class TrackingService:
    """One object per store; safe to share between threads."""

    def __init__(self, db: Database, artifacts: ArtifactRepository) -> None:
        self.db = db
        self.artifacts = artifacts
        self._homes = RunHomes()

    # -- experiments
    def create_experiment(
        self, name: str, description: str = "", tags: dict[str, str] | None = None
    ) -> Experiment:
        clean = v.clean_name(name, "experiment name")
        clean_tags = v.clean_pairs(tags, "tag")
        text = v.clean_text(description or "", "description")
        return self.db.write(lambda c: experiments_repo.create(c, clean, text, clean_tags))

    def get_experiment(self, exp_id: int) -> Experiment:
        with self.db.read() as conn:
            return experiments_repo.get(conn, exp_id)

    def get_experiment_by_name(self, name: str) -> Experiment:
        clean = v.clean_name(name, "experiment name")
        with self.db.read() as conn:
            return experiments_repo.get_by_name(conn, clean)

    def list_experiments(
        self, view: ViewType = ViewType.ACTIVE, readable: set[str] | None = None
    ) -> list[Experiment]:
        """Every experiment in ``view``; with ``readable`` (ids as text), only those."""
        with self.db.read() as conn:
            found = experiments_repo.list_all(conn, view)
        return found if readable is None else [e for e in found if str(e.id) in readable]

    def search_experiments(
        self,
        filter: str | None = None,
        order_by: list[str] | None = None,
        view: ViewType = ViewType.ACTIVE,
        max_results: int = 1000,
        page_token: str | None = None,
        readable: set[str] | None = None,
    ) -> tuple[list[Experiment], str | None]:
        """Experiments matching a filter on name, times and tags; one page and the next token.

        With ``readable`` (experiment ids as text) the others are left out before paging.
        """
        if not 1 <= max_results <= MAX_SEARCH_RESULTS:
            raise InvalidInput(
                f"max_results must be between 1 and {MAX_SEARCH_RESULTS}", field="max_results"
            )
        expr, order = EXPERIMENTS.parse(filter, order_by)
        offset = run_search.decode_page_token(page_token)
        found = [
            e
            for e in self.list_experiments(view, readable)
            if memory_search.matches(expr, e, memory_search.attribute_or_tag)
        ]
        found.sort(key=lambda e: (-e.created_at, e.id))  # newest first unless ordered
        ordered = memory_search.sort(found, order, memory_search.attribute_or_tag)
        items, nxt = memory_search.page(ordered, offset, max_results)
        return items, None if nxt is None else run_search.encode_page_token(nxt)

    def update_experiment(
        self, exp_id: int, *, name: str | None = None, description: str | None = None
    ) -> Experiment:
        clean = v.clean_name(name, "experiment name") if name is not None else None
        text = v.clean_text(description, "description") if description is not None else None
        return self.db.write(
            lambda c: experiments_repo.update(c, exp_id, name=clean, description=text)
        )

    def set_experiment_tag(self, exp_id: int, key: str, value: str) -> Experiment:
        k, val = v.clean_key(key), v.clean_value(value, "tag value")

        def job(conn: Connection) -> Experiment:
            experiments_repo.get(conn, exp_id)
            experiments_repo.set_tags(conn, exp_id, {k: val})
            return experiments_repo.get(conn, exp_id)

        return self.db.write(job)

    def delete_experiment_tag(self, exp_id: int, key: str) -> Experiment:
        k = v.clean_key(key)
        return self.db.write(lambda c: experiments_repo.delete_tag(c, exp_id, k))

    def delete_experiment(self, exp_id: int) -> Experiment:
        return self.db.write(lambda c: experiments_repo.set_lifecycle(c, exp_id, Lifecycle.DELETED))

    def restore_experiment(self, exp_id: int) -> Experiment:
        return self.db.write(lambda c: experiments_repo.set_lifecycle(c, exp_id, Lifecycle.ACTIVE))

    # -- runs
    def create_run(
        self,
        spec: RunCreate,
        *,
        run_id: str | None = None,
        tags: dict[str, str] | None = None,
        user: str,
    ) -> Run:
        rid = v.clean_run_id(run_id) if run_id else new_run_id()
        clean_tags = v.clean_pairs(tags, "tag")
        self.ingest([RunBatch(run_id=rid, create=spec, tags=clean_tags)], user=user)
        return self.get_run(rid)

    def experiments_of(self, run_ids: Sequence[str]) -> dict[str, int]:
        """The experiment of each run that exists (for permission checks, which ask on every
        write: remembered, see :class:`RunHomes`)."""
        rids = sorted({v.clean_run_id(r) for r in run_ids})
        found, missing = self._homes.known(rids)
        if missing:
            with self.db.read() as conn:
                read = runs_repo.experiments_of(conn, missing)
            self._homes.remember(read)
            found.update(read)
        return found

    def get_run(self, run_id: str) -> Run:
        rid = v.clean_run_id(run_id)
        with self.db.read() as conn:
            return runs_repo.get(conn, rid)

    def update_run(self, run_id: str, update: RunUpdate, *, user: str) -> Run:
        self.ingest([RunBatch(run_id=v.clean_run_id(run_id), update=update)], user=user)
        return self.get_run(run_id)

    def ingest(self, batches: list[RunBatch], *, user: str) -> IngestResult:
        """Apply validated batches in one transaction: all of them or none."""

        def job(conn: Connection) -> IngestResult:
            applied = runs_repo.apply_batches(conn, batches, user)
            points = sum(b.point_count for b in applied)
            return IngestResult(len(applied), len(batches) - len(applied), points)

        return self.db.write(job)

    def applied(self, batch_ids: list[str]) -> set[str]:
        """Which of these batch ids were applied already (imports resume with it)."""
        with self.db.read() as conn:
            return runs_repo.applied(conn, batch_ids)

    def delete_run(self, run_id: str) -> None:
        rid = v.clean_run_id(run_id)
        self.db.write(lambda c: runs_repo.set_lifecycle(c, rid, Lifecycle.DELETED))

    def restore_run(self, run_id: str) -> None:
        rid = v.clean_run_id(run_id)
        self.db.write(lambda c: runs_repo.set_lifecycle(c, rid, Lifecycle.ACTIVE))

    def delete_run_tag(self, run_id: str, key: str) -> None:
        rid, k = v.clean_run_id(run_id), v.clean_key(key)
        self.db.write(lambda c: runs_repo.delete_tag(c, rid, k))

    def search_runs(
        self,
        experiment_ids: list[int] | None = None,
        filter: str | None = None,
        order_by: list[str] | str | None = None,
        max_results: int = 1000,
        page_token: str | None = None,
        view: ViewType = ViewType.ACTIVE,
        readable: set[str] | None = None,
        *,
        text_order: bool = False,
    ) -> RunPage:
        """Runs matching a filter in the search grammar (docs/search.md), one page at a time;
        with ``readable`` (experiment ids as text), only runs of those experiments;
        ``text_order`` orders params and tags as text, as MLflow does."""
        found, token = self._search(
            runs_repo.load,
            only_readable(experiment_ids, readable),
            filter,
            order_by,
            max_results,
            page_token,
            view,
            text_order,
        )
        return RunPage(found, token)

    def search_runs_json(
        self,
        experiment_ids: list[int] | None = None,
        filter: str | None = None,
        order_by: list[str] | str | None = None,
        max_results: int = 1000,
        page_token: str | None = None,
        view: ViewType = ViewType.ACTIVE,
        readable: set[str] | None = None,
    ) -> dict[str, Any]:
        """``search_runs`` as the API's JSON page, built without parsing the runs' read copies."""
        found, token = self._search(
            runs_repo.load_json,
            only_readable(experiment_ids, readable),
            filter,
            order_by,
            max_results,
            page_token,
            view,
        )
        return {"runs": found, "next_page_token": token}

    def _search(
        self,
        load: Callable[[Connection, list[str]], list[T]],
        experiment_ids: list[int] | None,
        filter: str | None,
        order_by: list[str] | str | None,
        max_results: int,
        page_token: str | None,
        view: ViewType,
        text_order: bool = False,
    ) -> tuple[list[T], str | None]:
        if not 1 <= max_results <= MAX_SEARCH_RESULTS:
            raise InvalidInput(
                f"max_results must be between 1 and {MAX_SEARCH_RESULTS}", field="max_results"
            )
        expr = parse_filter(filter)
        order = parse_order_by(order_by, as_text=text_order)
        offset = run_search.decode_page_token(page_token)
        with self.db.read() as conn:
            ids, more = run_search.search(
                conn, experiment_ids, expr, order, view, max_results, offset
            )
            found = load(conn, ids)
        return found, run_search.encode_page_token(offset + len(ids)) if more else None

    def metric_history(
        self,
        run_id: str,
        key: str,
        *,
        max_points: int | None = None,
        method: Method = "minmax",
        x_min: float | None = None,
        x_max: float | None = None,
    ) -> tuple[MetricPoints, int]:
        """Points of one metric ordered by step (windowed, downsampled when ``max_points``
        is given), and how many points are stored in all."""
        rid, k = v.clean_run_id(run_id), v.clean_key(key)
        with self.db.read() as conn:
            series = metrics_repo.history(conn, rid, k)
        return _shaped(series, max_points, method, x_min, x_max)[0], len(series)

    def metric_histories(
        self,
        run_ids: Sequence[str],
        keys: Sequence[str],
        *,
        max_points: int | None = None,
        point_budget: int | None = None,
        method: Method = "minmax",
        x_min: float | None = None,
        x_max: float | None = None,
    ) -> list[ShapedSeries]:
        """Like :meth:`metric_history` for every run and key, run by run (each once), key by
        key; series that were never logged are left out. ``point_budget`` bounds the points of
        all the series together (split by :func:`split_budget` over the points they hold),
        ``max_points`` those of each."""
        rids = list(dict.fromkeys(v.clean_run_id(r) for r in run_ids))
        ks = list(dict.fromkeys(v.clean_key(k) for k in keys))
        shaped: dict[tuple[str, str], ShapedSeries] = {}
        with self.db.read() as conn:
            sizes = {k: metrics_repo.counts(conn, rids, k) for k in ks}
            order = [(rid, k) for rid in rids for k in ks if rid in sizes[k]]
            caps: list[int | None] = [max_points] * len(order)
            if point_budget is not None:
                shares = split_budget([sizes[k][rid] for rid, k in order], point_budget)
                caps = [s if m is None else min(s, m) for s, m in zip(shares, caps, strict=True)]
            cap_of = dict(zip(order, caps, strict=True))
            for k in ks:
                for rid, series in metrics_repo.histories(conn, sizes[k], k):
                    part = window(series, x_min, x_max)
                    held, cap = len(part), cap_of[rid, k]
                    if cap is not None and held > cap:
                        part = downsample(part, cap, method)
                    shaped[rid, k] = ShapedSeries(rid, part, len(series), held)
        return [shaped[p] for p in order if p in shaped]

    # -- artifacts
    def run_artifacts(self, run_id: str) -> ArtifactArea:
        """The artifacts of a run (NotFound if the run does not exist)."""
        run = self.get_run(run_id)
        return ArtifactArea(self.artifacts, _run_prefix(run.id))

    def log_artifact(
        self, run_id: str, path: str, stream: BinaryIO, expected: str | None = None
    ) -> Blob:
        """Store a file of a run; with ``expected`` (a sha256), bytes that differ are refused."""
        area = ArtifactArea(self.artifacts, _run_prefix(v.clean_run_id(run_id)))
        area.key(path)  # a bad path is refused before the run is looked up
        return self.run_artifacts(run_id).put(path, stream, expected)

    def link_artifacts(self, run_id: str, files: dict[str, str]) -> int:
        """Name blobs the store already holds as files of a run (``{path: digest}``)."""
        return len(self.run_artifacts(run_id).link(files))

    def list_artifacts(self, run_id: str, path: str = "") -> list[ArtifactInfo]:
        return self.run_artifacts(run_id).list(path)

    def open_artifact(self, run_id: str, path: str) -> BinaryIO:
        return ArtifactArea(self.artifacts, _run_prefix(v.clean_run_id(run_id))).open(path)

    def delete_artifacts(self, run_id: str, path: str) -> int:
        """Delete a file or a folder of a run's artifacts; returns how many files went."""
        return self.run_artifacts(run_id).delete(path)

    # -- garbage collection
    def gc(self, older_than_seconds: float = 0.0, dry_run: bool = True) -> GcReport:
        """Permanently remove runs deleted more than ``older_than_seconds`` ago, and their files."""
        cutoff = int((time.time() - older_than_seconds) * 1000)
        with self.db.read() as conn:
            doomed = runs_repo.deleted_before(conn, cutoff)
        report = GcReport(run_ids=[r.id for r in doomed], dry_run=dry_run)
        for run in doomed:
            files, size = self.artifacts.totals(_run_prefix(run.id))
            report.artifact_files += files
            report.artifact_bytes += size
        if not dry_run and doomed:
            for run_id in report.run_ids:
                self.artifacts.delete(_run_prefix(run_id))
            self.db.write(lambda c: runs_repo.purge(c, report.run_ids))
            self._homes.forget(report.run_ids)
        blobs = self.artifacts.gc(older_than_seconds, dry_run=dry_run)
        report.blobs, report.blob_bytes, report.uploads = (
            len(blobs.blobs),
            blobs.bytes,
            blobs.uploads,
        )
        return report

    # -- runs whose process vanished
    def sweep_vanished_runs(
        self, timeout: float | None = None, now: float | None = None
    ) -> list[str]:
        """Mark KILLED the RUNNING runs whose SDK heartbeat is older than ``timeout`` seconds
        (default MODELYARD_HEARTBEAT_TIMEOUT; 0: do nothing); returns their ids."""
        from modelyard import config
        from modelyard.tracking import heartbeat

        timeout = config.HEARTBEAT_TIMEOUT.get() if timeout is None else timeout
        if timeout <= 0:
            return []
        cutoff = int(((time.time() if now is None else now) - timeout) * 1000)
        with self.db.read() as conn:
            found = runs_repo.silent_since(conn, heartbeat.TAG, cutoff)
        if not found:
            return []
        return self.db.write(lambda c: runs_repo.mark_killed(c, heartbeat.TAG, found))

    def close(self) -> None:
        self.db.close()


def only_readable(experiment_ids: list[int] | None, readable: set[str] | None) -> list[int] | None:
    """The experiments a search may look in: those asked for (all when None) that are
    readable (all when ``readable`` is None); an empty list finds nothing."""
    if readable is None:
        return experiment_ids
    allowed = {int(e) for e in readable if e.isascii() and e.isdigit()}
    if experiment_ids is None:
        return sorted(allowed)
    return [e for e in experiment_ids if e in allowed]


@dataclass(frozen=True)
class ShapedSeries:
    """One run's series for a chart: the points to draw, all stored, and those in the window."""

    run_id: str
    points: MetricPoints
    total: int
    in_window: int


def _shaped(
    series: MetricPoints,
    max_points: int | None,
    method: Method,
    x_min: float | None,
    x_max: float | None,
) -> tuple[MetricPoints, int]:
    """The points in the step window (downsampled to ``max_points`` when given), and how
    many points the window holds."""
    series = window(series, x_min, x_max)
    shaped = series if max_points is None else downsample(series, max_points, method)
    return shaped, len(series)
