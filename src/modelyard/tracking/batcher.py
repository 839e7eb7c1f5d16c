"""The SDK's background batcher: log calls append to memory, a thread sends batches.

Log calls never wait for the network. When the buffer holds ``max_points`` points, log calls
wait for the flusher (back-pressure). Nothing buffered is dropped:

* a request the server did not take for a reason that may pass (unreachable, 401, 403, 429,
  5xx) is retried a few times, then journaled (a finished, fsynced file in the crash journal's
  format); while the server keeps failing, later batches go straight to the journal (backing
  off, and never sooner than a Retry-After), and the journal is sent first when a send
  succeeds again, or by ``modelyard sync``;
* a request too large for the server (413) is halved until each part fits;
* a batch the server refused for what it carries (400/422 with a validation code, 404, 409)
  is set aside with the reason in ``journal/rejected/`` (``modelyard sync --rejected``).

Every log call is also appended to a crash journal (``wal.py``, a memory-mapped file), so a
process killed without warning loses nothing it logged: the next SDK start for the same URI,
or ``modelyard sync``, sends what it had not delivered; an exit flush that runs out of time
leaves what is unsent there too. Running runs carry a heartbeat tag (``heartbeat.py``) the
background thread refreshes.

At exit one line on stderr says what is still journaled or was set aside.
"""

from __future__ import annotations

import hashlib
import logging
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from modelyard.errors import ModelyardError
from modelyard.tracking import heartbeat, journal, wal
from modelyard.tracking.client import Client, Refusal, refusal, register_buffer

log = logging.getLogger("modelyard.sdk")
RETRY_DELAYS = (0.2, 1.0, 3.0)  # in-line retries of one request before it is journaled
MAX_INLINE_WAIT = 5.0  # a longer Retry-After journals at once and sends after it
MAX_BACKOFF = 60.0  # the longest pause between attempts while the server keeps failing

Batch = dict[str, Any]
Send = Callable[[list[Batch]], object]


@dataclass
class Delivery:
    """What sending some batches did: sent, set aside (with why), or left for later."""

    sent: int = 0
    points: int = 0
    set_aside: list[tuple[list[Batch], Refusal]] = field(default_factory=list)
    left: list[Batch] = field(default_factory=list)  # in order; send them before anything newer
    why: Refusal | None = None  # why ``left`` is not empty


def deliver(
    send: Send,
    batches: list[Batch],
    delays: tuple[float, ...] | None = None,
    sleep: Callable[[float], object] = time.sleep,
) -> Delivery:
    """Send ``batches`` in order: retry, halve what is too large, set aside what is refused.

    Once a request fails for a reason that may pass, it and every later batch are ``left``.
    """
    out = Delivery()
    _deliver(send, batches, RETRY_DELAYS if delays is None else delays, sleep, out)
    return out


def _deliver(
    send: Send,
    batches: list[Batch],
    delays: tuple[float, ...],
    sleep: Callable[[float], object],
    out: Delivery,
) -> None:
    if out.left:  # something earlier waits: keep the order
        out.left.extend(batches)
        return
    why = _attempt(send, batches, delays, sleep)
    if why is None:
        out.sent += len(batches)
        out.points += journal.points(batches)
        return
    if why.action == "retry":
        out.left.extend(batches)
        out.why = why
        return
    if len(batches) > 1:  # find the refused or oversized batch; the others go through
        parts = [batches[: len(batches) // 2], batches[len(batches) // 2 :]]
        if why.action == "set_aside":
            parts = [[b] for b in batches]
        for part in parts:
            _deliver(send, part, delays, sleep, out)
        return
    halves = halve(batches[0]) if why.action == "split" else None
    if halves is None:
        out.set_aside.append((batches, why))
        return
    for half in halves:
        _deliver(send, [half], delays, sleep, out)


def _attempt(
    send: Send, batches: list[Batch], delays: tuple[float, ...], sleep: Callable[[float], object]
) -> Refusal | None:
    """One request with a few in-line retries; None once it is stored."""
    for attempt in range(len(delays) + 1):
        try:
            send(batches)
        except ModelyardError as exc:
            why = refusal(exc)
        else:
            return None
        if why.action != "retry" or attempt == len(delays):
            return why
        pause = max(delays[attempt], why.retry_after or 0.0)
        if pause > MAX_INLINE_WAIT:
            return why
        sleep(pause)
    raise AssertionError("unreachable")


def _items(batch: Batch) -> int:
    return (
        ("create" in batch)
        + len(batch.get("params") or ())
        + len(batch.get("tags") or ())
        + journal.points([batch])
        + ("update" in batch)
    )


def _part_id(batch_id: str | None, half: int) -> str | None:
    """A stable id for one half of a batch, so a resent half is applied once."""
    if batch_id is None:
        return None
    return hashlib.sha256(f"{batch_id}/{half}".encode()).hexdigest()[:32]


def halve(batch: Batch) -> tuple[Batch, Batch] | None:
    """Two batches with half of the items each, in order; None for a single item.

    Items are the creation (always first), params, tags, metric points and the update (always
    last, since it may end the run).
    """
    total = _items(batch)
    if total < 2:
        return None
    first: Batch = {"run_id": batch.get("run_id"), "batch_id": _part_id(batch.get("batch_id"), 0)}
    second: Batch = {"run_id": batch.get("run_id"), "batch_id": _part_id(batch.get("batch_id"), 1)}
    room = total // 2
    if "create" in batch:
        first["create"] = batch["create"]
        room -= 1
    for section in ("params", "tags"):
        pairs = list((batch.get(section) or {}).items())
        take = max(0, min(room, len(pairs)))
        if take:
            first[section] = dict(pairs[:take])
        if take < len(pairs):
            second[section] = dict(pairs[take:])
        room -= take
    for series in batch.get("metrics") or ():
        n = journal.points([{"metrics": [series]}])
        take = max(0, min(room, n))
        if take:
            first.setdefault("metrics", []).append(_slice(series, 0, take))
        if take < n:
            second.setdefault("metrics", []).append(_slice(series, take, n))
        room -= take
    if "update" in batch:
        second["update"] = batch["update"]
    return first, second


def _slice(series: dict[str, Any], start: int, stop: int) -> dict[str, Any]:
    out = dict(series)
    for name in ("steps", "values", "timestamps"):
        if series.get(name) is not None:
            out[name] = series[name][start:stop]
    return out


class Batcher:
    """One per tracking URI per process; thread-safe."""

    def __init__(
        self,
        client: Client,
        flush_interval: float,
        max_points: int,
        heartbeat_interval: float = 30.0,
    ) -> None:
        self.client = client
        self.uri = client.uri
        self.flush_interval = flush_interval
        self.max_points = max_points
        self._lock = threading.Lock()
        self._space = threading.Condition(self._lock)
        self._wake = threading.Event()
        self._send_lock = threading.Lock()
        self._pending: dict[str, wal.Pending] = {}
        self._segment = wal.open_segment(journal_dir(), self.uri)
        self._live: set[str] = set()  # runs this process runs: they get heartbeats
        self.heartbeat_interval = heartbeat_interval
        self._beat_at = time.monotonic() + heartbeat_interval
        self._inflight: list[dict[str, Any]] = []
        self._points = 0
        self._closed = False
        # while the server fails: no request before _retry_at; what comes meanwhile is journaled
        self._retry_at = 0.0
        self._backoff = 0.0
        self._why: Refusal | None = None
        self._delays: tuple[float, ...] | None = None  # in-line retries (None: RETRY_DELAYS)
        self._journaled: dict[
            Path, tuple[int, int]
        ] = {}  # files this process wrote: batches, points
        self._set_aside = [0, 0]  # batches, points
        self._thread = threading.Thread(target=self._loop, name="modelyard-batcher", daemon=True)
        self._thread.start()
        register_buffer(self)

    # -- producers (the training loop)
    def _run(self, run_id: str) -> wal.Pending:
        pending = self._pending.get(run_id)
        if pending is None:
            pending = self._pending[run_id] = wal.Pending()
        return pending

    def create(self, run_id: str, spec: dict[str, Any]) -> None:
        beat = {heartbeat.TAG: str(int(time.time() * 1000))}
        with self._lock:
            self._run(run_id).create = spec
            self._segment.record(wal.CREATE, [run_id, spec])
            self._live.add(run_id)
            self._run(run_id).tags.update(beat)
            self._segment.record(wal.TAGS, [run_id, beat])

    def params(self, run_id: str, params: dict[str, str]) -> None:
        with self._lock:
            self._run(run_id).params.update(params)
            self._segment.record(wal.PARAMS, [run_id, params])

    def tags(self, run_id: str, tags: dict[str, str]) -> None:
        with self._lock:
            self._run(run_id).tags.update(tags)
            self._segment.record(wal.TAGS, [run_id, tags])

    def update(self, run_id: str, fields: dict[str, Any]) -> None:
        with self._lock:
            pending = self._run(run_id)
            pending.update = {**(pending.update or {}), **fields}
            self._segment.record(wal.UPDATE, [run_id, fields])
            if fields.get("status") == "RUNNING":
                self._live.add(run_id)
            elif "status" in fields:
                self._live.discard(run_id)

    def metric(self, run_id: str, key: str, value: float, step: int, timestamp: int) -> None:
        with self._lock:
            (self._pending.get(run_id) or self._run(run_id)).point(key, step, value, timestamp)
            self._segment.point(run_id, key, step, value, timestamp)
            self._points += 1
            if self._points >= self.max_points:
                self._wake.set()
                while self._points >= self.max_points and not self._closed:
                    self._space.wait(timeout=1.0)
            elif self._points >= self.max_points // 4:
                self._wake.set()

    def beat(self) -> None:
        """Refresh the heartbeat tag of every run this process is running."""
        self._beat_at = time.monotonic() + self.heartbeat_interval
        beat = {heartbeat.TAG: str(int(time.time() * 1000))}
        with self._lock:
            live = sorted(self._live)
        for run_id in live:
            self.tags(run_id, beat)

    def wake(self) -> None:
        """Ask the background thread to send now (does not wait)."""
        self._wake.set()

    # -- the sender
    def _take(self) -> tuple[list[Batch], wal.Segment, int, str]:
        """What was logged since the last take, as batches, where it ends in the crash journal
        and a name for it there (``<segment>-<cut>``)."""
        with self._lock:
            pending, self._pending = self._pending, {}
            self._points = 0
            self._space.notify_all()
            segment = self._segment
            if not pending:
                return [], segment, segment.done, segment.name
            cut, until = segment.cut()
            if until > wal.ROTATE_AT:
                self._segment = wal.open_segment(journal_dir(), self.uri)
        return (
            wal.to_batches(segment.name, cut, pending),
            segment,
            until,
            f"{segment.name}-{cut:010d}",
        )

    def flush(self) -> None:
        """Send everything buffered now; returns when it is stored, journaled or set aside."""
        with self._send_lock:
            batches, segment, until, source = self._take()
            if batches or self._journaled:
                self._inflight = batches
                try:
                    self._deliver(batches, source)
                except Exception:
                    self._journal(batches, source)  # whatever broke, the data stays (ids dedupe)
                    raise
                finally:
                    self._inflight = []
                    self._done(segment, until)

    def _done(self, segment: wal.Segment, until: int) -> None:
        segment.mark_done(until)
        if segment is not self._segment and until >= segment.end:
            segment.retire()  # rotated away and all delivered

    def _deliver(self, batches: list[dict[str, Any]], source: str) -> None:
        if time.monotonic() < self._retry_at or not self._send_journal():
            self._journal(batches, source)
            return
        if batches:
            self._journal(self._send(batches).left, source)

    def _send(self, batches: list[Batch]) -> Delivery:
        out = deliver(self.client.ingest, batches, self._delays)
        for group, why in out.set_aside:
            self._put_aside(group, why)
        if out.left:
            self._failing(out.why)
        else:
            self._backoff, self._why = 0.0, None
        return out

    def _send_journal(self) -> bool:
        """Send what this process journaled (oldest first); False when the server still fails."""
        if not self._journaled:
            return True
        sent = 0
        for entry in journal.entries(uri=self.uri):
            out = self._send(entry.batches)
            sent += out.sent
            if out.left:
                if len(out.left) < len(entry.batches):
                    journal.rewrite(entry, out.left)
                    self._journaled[entry.path] = (len(out.left), journal.points(out.left))
                return False
            journal.remove(entry)
            self._journaled.pop(entry.path, None)
        self._journaled.clear()
        if sent:
            log.warning("modelyard: %s answers again; %d journaled batch(es) sent", self.uri, sent)
        return True

    def _failing(self, why: Refusal | None) -> None:
        """The server did not take a request: back off (at least its Retry-After)."""
        first = self._why is None
        self._why = why
        self._backoff = min(MAX_BACKOFF, max(1.0, self._backoff * 2))
        pause = max(self._backoff, (why.retry_after if why else None) or 0.0)
        self._retry_at = time.monotonic() + pause
        if first:
            log.warning(
                "modelyard: %s did not take a request (%s); batches are journaled in %s and sent "
                "when it answers again, or by `modelyard sync`",
                self.uri,
                why,
                journal_dir(),
            )

    def _journal(self, batches: list[dict[str, Any]], source: str) -> None:
        if batches:
            path = journal.write(self.uri, batches, after=source)
            self._journaled[path] = (len(batches), journal.points(batches))

    def _put_aside(self, batches: list[Batch], why: Refusal) -> None:
        path = journal.set_aside(self.uri, batches, why)
        self._set_aside[0] += len(batches)
        self._set_aside[1] += journal.points(batches)
        log.warning(
            "modelyard: %s refused %d batch(es) of run %s (%s); set aside in %s: "
            "`modelyard sync --rejected` shows them and sends them again",
            self.uri,
            len(batches),
            ", ".join(sorted({str(b.get("run_id")) for b in batches})),
            why,
            path,
        )

    def _loop(self) -> None:
        try:
            self._adopt()
        except Exception:
            log.exception("modelyard: reading the journal failed")
        while not self._closed:
            self._wake.wait(self.flush_interval)
            self._wake.clear()
            try:
                if time.monotonic() >= self._beat_at:
                    self.beat()
                self.flush()
            except Exception:  # the thread must survive anything; the journal keeps the data
                log.exception("modelyard: background flush failed")

    def _adopt(self) -> None:
        """At start: what earlier processes journaled for this URI is sent first."""
        with self._send_lock:
            for entry in journal.entries(uri=self.uri):
                batches, points = self._journaled.get(entry.path, (0, 0))
                self._journaled[entry.path] = (batches + len(entry.batches), points + entry.points)
        if self._journaled:
            self._wake.set()
        heartbeat.sweep_embedded(self.client)

    def close(self, timeout: float | None = None) -> None:
        """Flush and stop. After ``timeout`` seconds, journal what is still unsent instead.

        What is still unsent then stays in the crash journal, which outlives the process
        (batches in flight too: their batch ids make a later replay harmless). One line on
        stderr then says what is journaled or set aside, and how to send it.
        """
        if self._why is not None and self._why.retry_after is None:
            # the server was failing: one more try before exit (unless it asked to wait), and
            # no in-line retries, so that exit does not wait on a server that is down
            self._retry_at, self._delays = 0.0, ()
        flusher = threading.Thread(target=self.flush, name="modelyard-exit-flush", daemon=True)
        flusher.start()
        flusher.join(timeout)
        if flusher.is_alive():  # left in the crash journal, not marked done: `sync` sends it
            left = self._inflight + self._take()[0]
            if left:
                self._journaled[self._segment.path] = (len(left), journal.points(left))
            if self._why is None:
                self._why = Refusal(0, "TIMEOUT", f"exit flush did not finish in {timeout:g} s")
        self._closed = True
        self._wake.set()
        with self._lock:
            self._space.notify_all()
        self._segment.release()
        self._report()

    def _report(self) -> None:
        """One line on stderr for what did not reach the server."""
        left = [n for path, n in list(self._journaled.items()) if path.exists()]
        if left:
            sys.stderr.write(
                f"modelyard: {sum(p for _, p in left)} metric point(s) in "
                f"{sum(b for b, _ in left)} batch(es) could not be sent to {self.uri} "
                f"({self._why}); they are journaled in {journal_dir()}: run `modelyard sync` "
                "to send them\n"
            )
        batches, points = self._set_aside
        if batches:
            sys.stderr.write(
                f"modelyard: {batches} batch(es) ({points} metric point(s)) were refused by "
                f"{self.uri} and set aside in {journal.rejected_dir()}: "
                "`modelyard sync --rejected` shows why and sends them again\n"
            )
        self._journaled.clear()
        self._set_aside = [0, 0]


def journal_dir() -> Path:
    from modelyard import config

    return config.journal_dir()
