"""``asyncio.run`` for tests, on a thread of its own: while a sync Playwright browser runs (the
UI tests' session fixture), this thread's asyncio reports Playwright's loop as running, and
``asyncio.run`` here would refuse to start."""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

T = TypeVar("T")


def run(main: Coroutine[Any, Any, T]) -> T:
    """Run ``main`` to completion in a fresh event loop on another thread; its result."""
    with ThreadPoolExecutor(1, thread_name_prefix="test-asyncio") as pool:
        return pool.submit(asyncio.run, main).result()
