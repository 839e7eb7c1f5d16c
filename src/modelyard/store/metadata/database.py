"""Engines, the one batching SQLite writer, and the schema check (see docs/design.md)."""

from __future__ import annotations

import bisect
import queue
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from concurrent.futures import Future
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from sqlalchemy import (
    BindParameter,
    Connection,
    Engine,
    bindparam,
    create_engine,
    event,
    inspect,
    text,
)
from sqlalchemy.exc import DataError, DBAPIError, OperationalError, SQLAlchemyError, StatementError
from sqlalchemy.pool import StaticPool
from sqlalchemy.sql.elements import ClauseElement

from modelyard.errors import InvalidInput, ModelyardError, SchemaOutdated, StoreUnavailable
from modelyard.tracking.search import numeric_text
from modelyard.tracking.search_regex import sqlite_regexp

T = TypeVar("T")
HEAD_REVISION = "0015"


def normalize_url(uri: str) -> str:
    """Accept sqlite:///path, postgresql://..., or a plain file path (SQLite)."""
    if "://" not in uri:
        return f"sqlite:///{Path(uri).expanduser().resolve()}"
    if uri.startswith("postgresql://") or uri.startswith("postgres://"):
        return "postgresql+psycopg://" + uri.split("://", 1)[1]
    return uri


def _as_number(value: str | None) -> float | None:
    return numeric_text(value)


def _synchronous() -> str:
    """MODELYARD_SQLITE_SYNCHRONOUS as a pragma value (normal or full)."""
    from modelyard import config

    value = config.SQLITE_SYNCHRONOUS.get().strip().upper()
    if value not in {"NORMAL", "FULL"}:
        raise InvalidInput(
            f"{config.SQLITE_SYNCHRONOUS.env} must be normal or full, not {value.lower()!r}"
        )
    return value


def _sqlite_engine(url: str, *, writer: bool) -> Engine:
    path = url.split("///", 1)[1] if "///" in url else ""
    if path and path != ":memory:":
        Path(path).parent.mkdir(parents=True, exist_ok=True)
    synchronous = _synchronous()
    engine = create_engine(
        url,
        connect_args={"check_same_thread": False, "timeout": 30},
        poolclass=StaticPool if writer else None,  # the writer thread keeps one connection
    )

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn: Any, _record: Any) -> None:
        dbapi_conn.isolation_level = None  # we emit BEGIN ourselves (working SAVEPOINTs)
        cur = dbapi_conn.cursor()
        cur.execute("PRAGMA journal_mode=WAL")
        cur.execute(f"PRAGMA synchronous={synchronous}")
        cur.execute("PRAGMA foreign_keys=ON")
        cur.execute("PRAGMA case_sensitive_like=ON")  # LIKE as on PostgreSQL; ILIKE ignores case
        cur.execute("PRAGMA busy_timeout=30000")
        cur.close()
        dbapi_conn.create_function("my_number", 1, _as_number, deterministic=True)
        # REGEXP through RE2 (linear time), replacing the backtracking `re` one SQLAlchemy set
        dbapi_conn.create_function("regexp", 2, sqlite_regexp, deterministic=True)

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Connection) -> None:
        conn.exec_driver_sql("BEGIN IMMEDIATE" if writer else "BEGIN")

    return engine


class Prepared:
    """A statement built and compiled once per dialect, run on the driver's cursor.

    SQLAlchemy's work per execution (building the statement, its cache key, the execution
    context, the result) cost ~100 µs a statement, against ~10 µs for SQLite itself: most of a
    small write. Every bind is named and given (``bindparam("rid")``, or an insert's ``columns``),
    with values the drivers take as they are (int, float, str, bytes, bool, None). Driver errors
    are wrapped as SQLAlchemy wraps them, so the store's error translation is unchanged.
    """

    def __init__(
        self,
        build: ClauseElement | Callable[[str], ClauseElement],
        columns: Sequence[str] | None = None,
    ) -> None:
        self._build = build
        self._columns = list(columns) if columns is not None else None
        self._compiled: dict[str, tuple[str, tuple[str, ...] | None]] = {}

    def _sql(self, conn: Connection) -> tuple[str, tuple[str, ...] | None]:
        found = self._compiled.get(conn.dialect.name)
        if found is None:
            statement = self._build if isinstance(self._build, ClauseElement) else None
            if statement is None:
                assert callable(self._build)
                statement = self._build(conn.dialect.name)
            compiled = statement.compile(dialect=conn.dialect, column_keys=self._columns)
            order = getattr(compiled, "positiontup", None)  # None: named parameters
            found = (compiled.string, None if order is None else tuple(order))
            self._compiled[conn.dialect.name] = found
        return found

    def rows(self, conn: Connection, params: Mapping[str, Any] | None = None) -> list[Any]:
        """Run once; the rows it answers (tuples)."""
        sql, order = self._sql(conn)
        given: Any = params or {}
        args = given if order is None else tuple([given[k] for k in order])
        return _on_cursor(conn, sql, args, many=False)

    def first(self, conn: Connection, params: Mapping[str, Any] | None = None) -> Any | None:
        found = self.rows(conn, params)
        return found[0] if found else None

    def many(self, conn: Connection, rows: Sequence[Mapping[str, Any]]) -> None:
        """Run once per row (executemany)."""
        if not rows:
            return
        sql, order = self._sql(conn)
        args: Any = rows if order is None else [tuple([r[k] for k in order]) for r in rows]
        if len(rows) == 1:
            _on_cursor(conn, sql, args[0], many=False)
        else:
            _on_cursor(conn, sql, args, many=True)


class PreparedIn:
    """A statement over a list of values (``IN (...)``): one :class:`Prepared` per length,
    the list sent in chunks of at most ``chunk`` values (under every driver's limit)."""

    def __init__(
        self,
        build: Callable[[str, list[BindParameter[Any]]], ClauseElement],
        chunk: int = 500,
    ) -> None:
        self._build = build
        self._chunk = chunk
        self._by_size: dict[int, Prepared] = {}

    def _of(self, size: int) -> Prepared:
        found = self._by_size.get(size)
        if found is None:
            names: list[BindParameter[Any]] = [bindparam(f"in_{i}") for i in range(size)]
            found = self._by_size[size] = Prepared(lambda dialect: self._build(dialect, names))
        return found

    def rows(
        self, conn: Connection, values: Sequence[Any], params: Mapping[str, Any] | None = None
    ) -> list[Any]:
        out: list[Any] = []
        for start in range(0, len(values), self._chunk):
            part = values[start : start + self._chunk]
            given = dict(params or {})
            given.update((f"in_{i}", v) for i, v in enumerate(part))
            out.extend(self._of(len(part)).rows(conn, given))
        return out


def _on_cursor(conn: Connection, sql: str, args: Any, *, many: bool) -> list[Any]:
    driver = conn.connection.dbapi_connection
    assert driver is not None
    cursor = driver.cursor()
    try:
        if many:
            cursor.executemany(sql, args)
            return []
        cursor.execute(sql, args)
        return list(cursor.fetchall()) if cursor.description else []
    except conn.dialect.loaded_dbapi.Error as exc:
        raise DBAPIError.instance(
            sql, args, exc, conn.dialect.loaded_dbapi.Error, dialect=conn.dialect
        ) from exc
    finally:
        cursor.close()


BATCH_BUCKETS = (1, 2, 4, 8, 16, 32, 64, 128, 256)  # upper bounds of the batch size histogram


@dataclass(frozen=True, slots=True)
class WriterStats:
    """Counters of the SQLite writer since it started (read by GET /metrics)."""

    queue_depth: int
    jobs: int
    batches: int
    failed_batches: int
    batch_sizes: tuple[int, ...]  # batches per BATCH_BUCKETS bucket (not cumulative)


class _Writer:
    """Runs write jobs one transaction at a time; jobs that queue up share one transaction
    (group commit).

    One connection, one transaction at a time: whoever holds ``_turn`` writes. A caller that
    finds it free writes its own job, with any queued ones, in its own thread (a thread hop
    to the writer and back cost more CPU than a small write itself); otherwise its job queues
    for the writer thread, which takes everything queued once the turn is free. Each job runs
    in its own SAVEPOINT, so a failing job rolls back alone and the others commit. The counters
    are plain ints written only by the holder of the turn.
    """

    def __init__(self, engine: Engine, max_batch: int = 256) -> None:
        self._engine = engine
        self._max_batch = max_batch
        self._jobs = self._batches = self._failed = 0
        self._sizes = [0] * len(BATCH_BUCKETS)
        self._queue: queue.SimpleQueue[tuple[Callable[[Connection], Any], Future[Any]] | None] = (
            queue.SimpleQueue()
        )
        self._turn = threading.Lock()
        self._holding = False  # the writer thread holds a job while it waits for the turn
        self._closed = False
        self._thread = threading.Thread(
            target=self._loop, name="modelyard-sqlite-writer", daemon=True
        )
        self._thread.start()

    def submit(self, job: Callable[[Connection], T]) -> T:
        if self._closed:
            raise StoreUnavailable("the metadata store is closed")
        future: Future[T] = Future()
        if self._turn.acquire(blocking=False):
            try:
                jobs = self._queued([])
                jobs.append((job, future))
                self._run(jobs)
            finally:
                self._turn.release()
        else:
            self._queue.put((job, future))
        return future.result()

    def _queued(self, jobs: list[Any]) -> list[Any]:
        """``jobs`` and what is queued, up to a batch (the stop mark stays queued)."""
        while len(jobs) < self._max_batch - 1:
            try:
                nxt = self._queue.get_nowait()
            except queue.Empty:
                break
            if nxt is None:
                self._queue.put(None)
                break
            jobs.append(nxt)
        return jobs

    def stats(self) -> WriterStats:
        waiting = self._queue.qsize() + int(self._holding)
        return WriterStats(waiting, self._jobs, self._batches, self._failed, tuple(self._sizes))

    def close(self) -> None:
        self._closed = True
        self._queue.put(None)
        self._thread.join(timeout=30)
        self._engine.dispose()

    def _loop(self) -> None:
        while True:
            item = self._queue.get()
            if item is None:
                return
            self._holding = True  # taken off the queue, still waiting: counted as queued
            with self._turn:
                self._holding = False
                self._run(self._queued([item]))

    def _run(self, jobs: list[tuple[Callable[[Connection], Any], Future[Any]]]) -> None:
        self._jobs += len(jobs)
        self._batches += 1
        self._sizes[bisect.bisect_left(BATCH_BUCKETS, len(jobs))] += 1
        outcomes: list[tuple[Future[Any], Any, BaseException | None]] = []
        try:
            with self._engine.begin() as conn:
                if len(jobs) == 1:
                    job, future = jobs[0]
                    outcomes.append((future, job(conn), None))
                else:
                    for job, future in jobs:
                        savepoint = conn.begin_nested()
                        try:
                            result = job(conn)
                        except Exception as exc:
                            savepoint.rollback()
                            outcomes.append((future, None, exc))
                        else:
                            savepoint.commit()
                            outcomes.append((future, result, None))
        except Exception as exc:
            self._failed += 1
            failed = {id(f) for f, _, e in outcomes if e is not None}
            for _, future in jobs:
                if id(future) in failed:
                    continue
                future.set_exception(_translate(exc))
            for future, _, err in outcomes:
                if err is not None:
                    future.set_exception(_translate(err))
            return
        for future, result, err in outcomes:
            if err is None:
                future.set_result(result)
            else:
                future.set_exception(_translate(err))


_VALUE_ERRORS = (OverflowError, UnicodeError)  # an int past 64 bits, a lone surrogate


def _translate(exc: BaseException) -> BaseException:
    """The store's failures as modelyard errors: unreachable is 503; a value the database
    cannot hold (past 64 bits, out of a numeric range, not encodable) is the caller's 400."""
    if isinstance(exc, ModelyardError):
        return exc
    err: ModelyardError | None = None
    if isinstance(exc, OperationalError):
        err = StoreUnavailable(f"metadata store error: {exc.orig}")
    elif isinstance(exc, DataError) or (
        isinstance(exc, StatementError) and isinstance(exc.orig, _VALUE_ERRORS)
    ):
        err = InvalidInput(f"a value is out of range or not storable: {exc.orig}")
    elif isinstance(exc, _VALUE_ERRORS):
        err = InvalidInput(f"a value is out of range or not storable: {exc}")
    if err is None:
        return exc
    err.__cause__ = exc
    return err


class Database:
    """A metadata store: reads from a pool, writes through one writer (SQLite) or directly."""

    def __init__(self, uri: str, *, create: bool = True) -> None:
        self.url = normalize_url(uri)
        self.dialect = self.url.split(":", 1)[0].split("+", 1)[0]
        if self.dialect == "sqlite":
            self.engine = _sqlite_engine(self.url, writer=False)
            self._writer: _Writer | None = _Writer(_sqlite_engine(self.url, writer=True))
        else:
            self.engine = create_engine(self.url, pool_size=10, max_overflow=20, pool_pre_ping=True)
            self._writer = None
        try:
            ensure_schema(self, create=create)
        except BaseException:
            self.close()
            raise

    @contextmanager
    def read(self) -> Iterator[Connection]:
        """A connection for reads (one consistent snapshot)."""
        try:
            with self.engine.connect() as conn:
                yield conn
        except (SQLAlchemyError, *_VALUE_ERRORS) as exc:
            translated = _translate(exc)
            if translated is exc:
                raise
            raise translated from exc

    def write(self, job: Callable[[Connection], T]) -> T:
        """Run ``job`` in a transaction; it commits when the job returns, rolls back if it raises."""
        if self._writer is not None:
            return self._writer.submit(job)
        try:
            with self.engine.begin() as conn:
                return job(conn)
        except (SQLAlchemyError, *_VALUE_ERRORS) as exc:
            translated = _translate(exc)
            if translated is exc:
                raise
            raise translated from exc

    def writer_stats(self) -> WriterStats | None:
        """The SQLite writer's counters; None when writes run directly (PostgreSQL)."""
        return None if self._writer is None else self._writer.stats()

    def ping(self) -> None:
        with self.read() as conn:
            conn.execute(text("SELECT 1"))

    def close(self) -> None:
        if self._writer is not None:
            self._writer.close()
        self.engine.dispose()


def current_revision(engine: Engine) -> str | None:
    """The Alembic revision of the database, or None for an empty database."""
    with engine.connect() as conn:
        if not inspect(conn).has_table("alembic_version"):
            return None
        row = conn.execute(text("SELECT version_num FROM alembic_version")).first()
        return str(row[0]) if row else None


def ensure_schema(db: Database, *, create: bool) -> None:
    """Create the schema in an empty database; refuse to run on a stale one and name the fix."""
    try:
        revision = current_revision(db.engine)
    except SQLAlchemyError as exc:
        raise StoreUnavailable(f"cannot open metadata store {db.url!r}: {exc}") from exc
    if revision == HEAD_REVISION:
        return
    if revision is None and create:
        _create_at_head(db)
        return
    raise SchemaOutdated(
        f"the metadata store is at schema revision {revision!r}, this modelyard needs "
        f"{HEAD_REVISION!r}; run `modelyard db upgrade --store {db.url}`",
        revision=revision,
        head=HEAD_REVISION,
    )


def _create_at_head(db: Database) -> None:
    """An empty store gets the head schema in one step, stamped with the head revision.

    tests/store/test_migrations.py checks that the migrations build exactly this schema.
    """
    from modelyard.store.metadata.tables import experiments, metadata
    from modelyard.tracking.entities import DEFAULT_EXPERIMENT

    def create(conn: Connection) -> None:
        metadata.create_all(conn)
        now = int(time.time() * 1000)
        conn.execute(
            experiments.insert().values(
                id=0,
                name=DEFAULT_EXPERIMENT,
                description="",
                lifecycle="active",
                created_at=now,
                updated_at=now,
            )
        )
        conn.execute(
            text("CREATE TABLE alembic_version (version_num VARCHAR(32) NOT NULL PRIMARY KEY)")
        )
        conn.execute(
            text("INSERT INTO alembic_version (version_num) VALUES (:v)"), {"v": HEAD_REVISION}
        )

    db.write(create)


def upgrade(url: str, revision: str = "head") -> None:
    """Apply the Alembic migrations up to ``revision`` (all of them by default)."""
    from alembic import command
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(Path(__file__).parent / "migrations"))
    cfg.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    engine = _sqlite_engine(url, writer=False) if url.startswith("sqlite") else create_engine(url)
    try:
        with engine.begin() as conn:
            cfg.attributes["connection"] = conn
            command.upgrade(cfg, revision)
    finally:
        engine.dispose()
