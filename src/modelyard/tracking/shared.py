"""Things opened once per key per process and shared by the SDK's clients (pools, stores)."""

from __future__ import annotations

import atexit
import os
import threading
from collections import OrderedDict
from collections.abc import Callable
from typing import Generic, TypeVar

V = TypeVar("V")


class Shared(Generic[V]):
    """``acquire(key)`` opens a value once per key and process and counts its users.

    A value nobody holds stays open (warm) among the ``keep`` most recently released; older
    idle ones are closed, and everything is closed at exit. Create instances at import time:
    the exit handler then runs after the SDK's exit flush, which registers later.
    """

    def __init__(self, opener: Callable[[str], V], closer: Callable[[V], object], keep: int = 8):
        self._open, self._close, self._keep = opener, closer, keep
        self._lock = threading.Lock()
        self._users: dict[tuple[int, str], tuple[V, int]] = {}
        self._idle: OrderedDict[tuple[int, str], None] = OrderedDict()
        atexit.register(self.close_all)

    def acquire(self, key: str) -> V:
        k = (os.getpid(), key)  # a forked child opens its own
        with self._lock:
            found = self._users.get(k)
            if found is None:
                found = (self._open(key), 0)
            self._users[k] = (found[0], found[1] + 1)
            self._idle.pop(k, None)
            return found[0]

    def release(self, key: str) -> None:
        k = (os.getpid(), key)
        closing: list[V] = []
        with self._lock:
            found = self._users.get(k)
            if found is None:
                return
            value, count = found
            self._users[k] = (value, count - 1)
            if count > 1:
                return
            self._idle[k] = None
            while len(self._idle) > self._keep:
                old, _ = self._idle.popitem(last=False)
                closing.append(self._users.pop(old)[0])
        for value in closing:
            self._close(value)

    def close_all(self) -> None:
        """Close every value (at exit; also for tests that need a store closed)."""
        with self._lock:
            values = [v for (pid, _), (v, _) in self._users.items() if pid == os.getpid()]
            self._users.clear()
            self._idle.clear()
        for value in values:
            self._close(value)
