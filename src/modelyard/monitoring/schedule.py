"""A job run every N seconds on its own thread, until stopped; a failing run is logged, and the
next one runs on time."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import Any, Self

log = logging.getLogger("modelyard.monitoring")


class Every:
    def __init__(self, seconds: float, job: Callable[[], Any], name: str) -> None:
        self.seconds = seconds
        self.job = job
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name=f"modelyard-{name}", daemon=True)

    def start(self) -> Self:
        if self.seconds > 0:  # 0 turns the job off
            self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout=30)

    def _run(self) -> None:
        while not self._stop.wait(self.seconds):
            try:
                self.job()
            except Exception:  # a bad file or a busy store: logged, and tried again next time
                log.exception("%s failed", self._thread.name)
