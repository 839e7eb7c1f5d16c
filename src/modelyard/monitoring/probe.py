"""The active availability probe: every ``PROBE_INTERVAL`` seconds, GET /ready of each serving
process of each deployment, counted per deployment and minute in ``monitor_probes``.

One probe per instance a round: ok when /ready answers 200 within ``TIMEOUT_S``. The instances
probed are the live ones (heard from lately, by their heartbeats); an "external" deployment's
are every registered one (started by hand, such a process may serve while it cannot reach the
server). A deployment with no instance to probe counts one failed probe: nothing answers its
callers. Probes of one round run concurrently, so one hanging process delays nobody.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from typing import Any

import httpx

from modelyard import config
from modelyard.serving.entities import Deployment, Instance
from modelyard.store.metadata import deployments_repo, probes_repo
from modelyard.store.metadata.database import Database
from modelyard.store.metadata.sql import now_ms

log = logging.getLogger("modelyard.monitoring")
TIMEOUT_S = 2.0
WORKERS = 16  # probes in flight at once
FORGET_EVERY_S = 3600.0  # how often minutes past the retention are dropped


def availability(db: Database, deployment: str, since_ms: int, until_ms: int) -> tuple[int, int]:
    """``(ok, total)`` probes of ``deployment`` in [since, until) (by minute)."""
    with db.read() as conn:
        return probes_repo.uptime(conn, deployment, since_ms, until_ms)


def probe_series(
    db: Database, deployment: str, window_s: int, since_ms: int, until_ms: int
) -> list[tuple[int, int, int]]:
    """``(window start, ok, total)`` per epoch-aligned window holding probes in [since, until)."""
    with db.read() as conn:
        return probes_repo.series(conn, deployment, window_s, since_ms, until_ms)


def targets(d: Deployment, instances: list[Instance], now: int) -> list[str]:
    """The addresses to probe: live instances ("external": every registered one)."""
    found = instances if d.engine == "external" else [i for i in instances if i.live(now)]
    return sorted({i.url.rstrip("/") for i in found})


class Prober:
    """Probes every deployment once a round, on a thread of its own."""

    def __init__(
        self,
        db: Database,
        *,
        interval_s: float | None = None,
        timeout_s: float = TIMEOUT_S,
        retention_days: float | None = None,
        clock: Callable[[], int] = now_ms,
    ) -> None:
        self.db = db
        self.interval_s = config.PROBE_INTERVAL.get() if interval_s is None else interval_s
        days = config.MONITORING_RETENTION_DAYS.get() if retention_days is None else retention_days
        self.retention_ms = int(days * 86_400_000)
        self.clock = clock
        self._client = httpx.Client(timeout=timeout_s, follow_redirects=False)
        self._pool = ThreadPoolExecutor(WORKERS, thread_name_prefix="modelyard-probe")
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="modelyard-prober", daemon=True)
        self._forgot = 0.0

    def start(self) -> Prober:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join()
        self._pool.shutdown(wait=True, cancel_futures=True)
        self._client.close()

    def _loop(self) -> None:
        while not self._stop.is_set():
            started = time.monotonic()
            try:
                self.round()
                if started - self._forgot > FORGET_EVERY_S or not self._forgot:
                    self._forgot = started
                    self.forget()
            except Exception:  # the store may be down for a moment: the next round tries again
                log.exception("modelyard: the availability probe failed a round")
            self._stop.wait(max(0.0, self.interval_s - (time.monotonic() - started)))

    def forget(self) -> int:
        """Drop the probe minutes older than the retention; how many went."""
        cut = self.clock() - self.retention_ms
        return self.db.write(lambda conn: probes_repo.forget(conn, cut))

    def round(self) -> dict[str, tuple[int, int]]:
        """Probe every deployment once and record it; ``{deployment: (ok, total)}``."""
        now = self.clock()
        with self.db.read() as conn:  # one snapshot: the deployments and their instances
            found = deployments_repo.list_all(conn)
            by_name: dict[str, list[Instance]] = {d.name: [] for d in found}
            for instance in deployments_repo.instances(conn):
                by_name.setdefault(instance.deployment, []).append(instance)
        plan = {d.name: targets(d, by_name[d.name], now) for d in found}
        answers = {
            name: [self._pool.submit(self.probe, url) for url in urls]
            for name, urls in plan.items()
        }
        counts: dict[str, tuple[int, int]] = {}
        rows: list[tuple[str, int, int, float]] = []
        for name, futures in answers.items():
            results = [f.result() for f in futures]
            ok = [ms for ms in results if ms is not None]
            total = max(1, len(results))  # nothing to probe: one failed probe
            counts[name] = (len(ok), total)
            rows.append((name, len(ok), total, sum(ok)))

        def job(conn: Any) -> None:
            for name, ok_count, total, latency in rows:
                probes_repo.record(conn, name, now, ok_count, total, latency)

        if rows:
            self.db.write(job)
        return counts

    def probe(self, url: str) -> float | None:
        """Milliseconds /ready took to answer 200; None for any other answer or none."""
        started = time.perf_counter()
        try:
            response = self._client.get(url + "/ready")
        except httpx.HTTPError:
            return None
        if response.status_code != 200:
            return None
        return (time.perf_counter() - started) * 1000


@contextmanager
def probing(db: Database, settings: Any = None) -> Iterator[None]:
    """The probe runs while the block does (the server enters it with its stores open)."""
    interval = getattr(settings, "probe_interval", None)
    prober = Prober(db, interval_s=interval).start()
    try:
        yield
    finally:
        prober.stop()
