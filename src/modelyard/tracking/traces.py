"""Traces: record, find, tag, link and delete them; read their spans from the artifact store.

A trace belongs to an experiment. Its spans are one file (``traces.json``) that the MLflow
client uploads next to it, under ``traces/<trace id>/`` in the artifact store. Searches use the
search grammar (docs/search.md) with MLflow's trace fields (see :data:`ATTRIBUTES`);
``metadata.<key>`` (or ``request_metadata.<key>``) reads request metadata, ``tags.<key>`` tags.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import replace
from typing import Any

import orjson

from modelyard.errors import BadFilter, InvalidInput, NotFound, PayloadTooLarge
from modelyard.store.artifacts.area import ArtifactArea
from modelyard.store.artifacts.repository import ArtifactRepository
from modelyard.store.metadata import docs, experiments_repo, run_search, runs_repo, traces_repo
from modelyard.store.metadata.database import Database
from modelyard.tracking import memory_search, trace_data
from modelyard.tracking import validation as v
from modelyard.tracking.entities import Lifecycle
from modelyard.tracking.search import And, Compare, Expr, Field, Not, Or
from modelyard.tracking.trace_entities import TraceData, TraceInfo, trace_id

MAX_RESULTS = 1000  # traces in one page (a larger ask gets this many and a next-page token)
MAX_PREVIEW_CHARS = 10_000  # a request or response preview
MAX_LINKED = 100  # traces linked to a run in one call (as MLflow)
SPAN_FILE = "traces.json"
ATTRIBUTES = {
    "request_id": "id",
    "trace_id": "id",
    "timestamp": "request_time",
    "timestamp_ms": "request_time",
    "request_time": "request_time",
    "execution_time": "execution_duration",
    "execution_time_ms": "execution_duration",
    "execution_duration": "execution_duration",
    "end_time": "end_time",
    "end_time_ms": "end_time",
    "status": "state",
    "state": "state",
    "client_request_id": "client_request_id",
    "name": "name",
    "run_id": "run_id",
    "experiment_id": "experiment_id",
}
NUMERIC = frozenset({"request_time", "execution_duration", "end_time", "experiment_id"})
TRACES = memory_search.Searchable("traces", ATTRIBUTES, NUMERIC)
# Field prefixes of MLflow's trace grammar onto the search grammar's: request metadata is
# read where a run search reads params. Quoted text is kept as it is.
_PREFIX = re.compile(
    r"""'(?:[^'\\]|\\.)*'|"(?:[^"\\]|\\.)*"|`[^`]*`|\b(request_metadata|metadata|trace)\.""",
    re.IGNORECASE,
)
_SAME = {"request_metadata": "params.", "metadata": "params.", "trace": "attributes."}


def _grammar(text: str) -> str:
    return _PREFIX.sub(lambda m: _SAME[m.group(1).lower()] if m.group(1) else m.group(0), text)


def _value(info: TraceInfo, f: Field) -> Any:
    if f.kind == "tag":
        return info.tags.get(f.key)
    if f.kind == "param":
        return info.metadata.get(f.key)
    if f.kind != "attribute":
        raise BadFilter(f"traces have no {f.kind}s; filter on attributes, tags or metadata")
    if f.key == "state":
        return info.state.value
    return getattr(info, f.key)


def _matches(expr: Expr | None, info: TraceInfo) -> bool:
    """As memory_search.matches, with ``run_id`` matching any run the trace belongs to."""
    if expr is None:
        return True
    if isinstance(expr, And):
        return all(_matches(e, info) for e in expr.items)
    if isinstance(expr, Or):
        return any(_matches(e, info) for e in expr.items)
    if isinstance(expr, Not):
        return not _matches(expr.item, info)
    if expr.field == Field("attribute", "run_id"):
        runs = info.run_ids or (None,)
        return any(memory_search.matches(expr, run, lambda r, _f: r) for run in runs)
    return memory_search.matches(expr, info, _value)


def _run_named(expr: Expr | None) -> list[str] | None:
    """The runs a filter requires (``run_id = 'x'`` at its top level), read in SQL first."""
    items = expr.items if isinstance(expr, And) else (expr,) if expr is not None else ()
    for item in items:
        if (
            isinstance(item, Compare)
            and item.field == Field("attribute", "run_id")
            and item.op in ("=", "IN")
        ):
            values = item.value if isinstance(item.value, tuple) else (item.value,)
            return [str(x) for x in values]
    return None


def _preview(value: str | None) -> str:
    return v.clean_value((value or "")[:MAX_PREVIEW_CHARS], "preview") if value else ""


class Traces:
    """One object per store; safe to share between threads."""

    def __init__(self, db: Database, artifacts: ArtifactRepository) -> None:
        self.db = db
        self.artifacts = artifacts

    def start(self, info: TraceInfo) -> TraceInfo:
        """Record a finished (or running) trace; sending the same trace again replaces it.

        The run in its ``mlflow.sourceRun`` metadata, when it is a run id, becomes one of its
        runs."""
        clean = replace(
            info,
            id=trace_id(info.id),
            metadata=v.clean_pairs(info.metadata, "metadata"),
            tags=v.clean_pairs(info.tags, "tag"),
            request_preview=_preview(info.request_preview),
            response_preview=_preview(info.response_preview),
            client_request_id=(info.client_request_id or None)
            and v.clean_key(info.client_request_id, "client_request_id"),
        )
        source = clean.run_id
        runs = (source,) if source and v.RUN_ID.match(source) else ()
        clean = replace(clean, run_ids=runs)

        def job(conn: Any) -> TraceInfo:
            exp = experiments_repo.get(conn, clean.experiment_id)
            if exp.lifecycle is not Lifecycle.ACTIVE:
                raise InvalidInput(f"experiment {exp.id} is deleted; restore it to add traces")
            before = traces_repo.find(conn, clean.id)
            if before is not None and before.experiment_id != clean.experiment_id:
                raise InvalidInput(
                    f"trace {clean.id} is in experiment {before.experiment_id}, "
                    f"not {clean.experiment_id}"
                )
            return traces_repo.put(conn, clean)

        return self.db.write(job)

    def get(self, trace_id_: str) -> TraceInfo:
        tid = trace_id(trace_id_)
        with self.db.read() as conn:
            return traces_repo.get(conn, tid)

    def get_many(self, ids: Sequence[str]) -> list[TraceInfo]:
        """The traces of these ids that exist, in the order asked."""
        clean = [trace_id(i) for i in dict.fromkeys(ids)]
        with self.db.read() as conn:
            found = {t.id: t for t in traces_repo.get_many(conn, clean)}
        return [found[i] for i in clean if i in found]

    def experiments_of(self, ids: Sequence[str]) -> dict[str, int]:
        """The experiment of each trace that exists (for permission checks)."""
        return {t.id: t.experiment_id for t in self.get_many(ids)}

    def search(
        self,
        experiment_ids: Sequence[int],
        filter: str | None = None,
        order_by: Sequence[str] | None = None,
        max_results: int = 100,
        page_token: str | None = None,
        readable: set[str] | None = None,
    ) -> tuple[list[TraceInfo], str | None]:
        """One page of the experiments' traces matching ``filter``, newest first unless
        ordered, and the next page's token. With ``readable`` (experiment ids as text), the
        others are left out before paging."""
        if not experiment_ids:
            raise InvalidInput("name at least one experiment to search", field="experiment_ids")
        if max_results < 1:
            raise InvalidInput("max_results must be at least 1", field="max_results")
        expr, order = TRACES.parse(
            _grammar(filter) if filter else None, [_grammar(o) for o in order_by or []]
        )
        offset = run_search.decode_page_token(page_token)
        ids = [e for e in dict.fromkeys(experiment_ids) if readable is None or str(e) in readable]
        if not ids:
            return [], None
        with self.db.read() as conn:
            found = traces_repo.list_in(conn, ids, _run_named(expr))
        found = [t for t in found if _matches(expr, t)]
        found.sort(key=lambda t: (-t.request_time, t.id))
        ordered = memory_search.sort(found, order, _value)
        items, nxt = memory_search.page(ordered, offset, min(max_results, MAX_RESULTS))
        return items, None if nxt is None else run_search.encode_page_token(nxt)

    def set_tag(self, trace_id_: str, key: str, value: str) -> TraceInfo:
        tid, k, val = trace_id(trace_id_), v.clean_key(key), v.clean_value(value, "tag value")
        return self._retag(tid, {k: val}, None)

    def delete_tag(self, trace_id_: str, key: str) -> TraceInfo:
        return self._retag(trace_id(trace_id_), None, str(key))

    def _retag(self, tid: str, add: dict[str, str] | None, remove: str | None) -> TraceInfo:
        def job(conn: Any) -> TraceInfo:
            info = traces_repo.get(conn, tid)
            merged = docs.merge(info.tags, add, remove, f"trace {tid}")
            traces_repo.set_tags(conn, tid, orjson.loads(merged))
            return traces_repo.get(conn, tid)

        return self.db.write(job)

    def link_to_run(self, trace_ids: Sequence[str], run_id: str) -> None:
        """The traces belong to the run too (``search(filter="run_id = ...")`` finds them)."""
        rid = v.clean_run_id(run_id)
        ids = [trace_id(i) for i in dict.fromkeys(trace_ids)]
        if len(ids) > MAX_LINKED:
            raise InvalidInput(f"link at most {MAX_LINKED} traces at a time", field="trace_ids")

        def job(conn: Any) -> None:
            runs_repo.get(conn, rid)
            found = {t.id for t in traces_repo.get_many(conn, ids)}
            missing = [i for i in ids if i not in found]
            if missing:
                raise NotFound(f"trace {missing[0]!r} does not exist", trace_id=missing[0])
            traces_repo.link(conn, ids, [rid])

        self.db.write(job)

    def delete(
        self,
        experiment_id: int,
        *,
        max_timestamp: int | None = None,
        max_traces: int | None = None,
        trace_ids: Sequence[str] | None = None,
    ) -> int:
        """Delete traces of one experiment: those named, or those made at or before
        ``max_timestamp`` (oldest first, at most ``max_traces``); returns how many went."""
        if (max_timestamp is None) == (not trace_ids):
            raise InvalidInput("give either max_timestamp_millis or trace ids, not both")
        if max_traces is not None and max_traces < 1:
            raise InvalidInput("max_traces must be at least 1", field="max_traces")
        named = [trace_id(i) for i in trace_ids or ()]

        def job(conn: Any) -> list[str]:
            experiments_repo.get(conn, experiment_id)
            if named:
                doomed = [
                    t.id
                    for t in traces_repo.get_many(conn, named)
                    if t.experiment_id == experiment_id
                ]
                doomed = doomed[:max_traces] if max_traces else doomed
            else:
                doomed = traces_repo.older(conn, experiment_id, max_timestamp, max_traces)
            traces_repo.delete_many(conn, doomed)
            return doomed

        gone = self.db.write(job)
        for tid in gone:
            ArtifactArea(self.artifacts, f"traces/{tid}").delete()
        return len(gone)

    # -- span data
    def area(self, trace_id_: str) -> ArtifactArea:
        """The files of a trace (its span data, attachments); NotFound if there is no trace."""
        return ArtifactArea(self.artifacts, self.get(trace_id_).artifact_prefix)

    def data(self, trace_id_: str) -> TraceData:
        """The trace's spans, bounded (see trace_data); a trace without them says so."""
        area = self.area(trace_id_)
        stat = self.artifacts.stat(area.key(SPAN_FILE))
        if stat is None:
            return TraceData([], "no span data was uploaded for this trace")
        if stat.size > trace_data.MAX_SPAN_DATA_BYTES:
            return TraceData([], f"the span data is {stat.size:,} bytes, over the limit", stat.size)
        with area.open(SPAN_FILE) as handle:
            return trace_data.parse(handle.read(trace_data.MAX_SPAN_DATA_BYTES + 1))


def check_upload_size(size: int) -> None:
    """A trace's file may be at most MAX_SPAN_DATA_BYTES (PayloadTooLarge otherwise)."""
    if size > trace_data.MAX_SPAN_DATA_BYTES:
        raise PayloadTooLarge(
            f"a trace's file is {size:,} bytes; the limit is {trace_data.MAX_SPAN_DATA_BYTES:,}",
            limit=trace_data.MAX_SPAN_DATA_BYTES,
        )
