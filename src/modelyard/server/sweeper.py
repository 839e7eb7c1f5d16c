"""A server's periodic sweep of runs whose SDK process vanished (no heartbeat for too long)."""

from __future__ import annotations

import logging
import threading

from modelyard import config
from modelyard.tracking.service import TrackingService

log = logging.getLogger("modelyard.server")


class Sweeper:
    """Calls ``service.sweep_vanished_runs()`` every ``interval`` seconds in a daemon thread."""

    def __init__(self, service: TrackingService, interval: float | None = None) -> None:
        timeout = config.HEARTBEAT_TIMEOUT.get()
        self.service = service
        self.interval = interval if interval is not None else min(60.0, max(timeout / 4, 1.0))
        self.enabled = timeout > 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="modelyard-sweeper", daemon=True)

    def start(self) -> Sweeper:
        if self.enabled:
            self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join()

    def _loop(self) -> None:
        while True:
            try:
                killed = self.service.sweep_vanished_runs()
            except Exception:  # a store that is down now may be up at the next round
                log.exception("modelyard: sweeping vanished runs failed")
            else:
                if killed:
                    log.warning("modelyard: %d run(s) lost their process: KILLED", len(killed))
            if self._stop.wait(self.interval):
                return
