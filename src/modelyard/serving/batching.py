"""Adaptive micro-batching: concurrent requests for one model version become one model call.

While the model works on a batch, new requests queue; when it is free it takes everything
queued (up to ``max_rows``). Before a call it waits, at most ``max_wait_s``, for requests
that have already arrived and are still being read, and for as many requests as recent
batches held (under steady concurrent load, the clients whose answers just went out are
about to ask again). A wait that ends with fewer than that resets the expectation to what
came, so after a burst at most one lone request waits, once: a request never keeps waiting
for a batch that will not come. A batch that fails is retried request by request, so one
poisoned request gets its error and the others their answers.

A ``scored`` run answers ``(outputs, probabilities)`` (an array with a row per output, or
None); each request gets its rows of both. An unscored one answers the outputs alone.

A fast model (recent calls under ``INLINE_S``) is called on the event loop itself: the
requests that arrive meanwhile wait in the socket and are read right after, which merges
them as well as a thread would, without the GIL passing back and forth. A slower model is
called on a thread of its own, so the server keeps answering /health and reading requests.
"""

from __future__ import annotations

import asyncio
import time
from collections import deque
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from modelyard.serving.inputs import Part

Run = Callable[[list[Part]], Any]  # outputs, or (outputs, probabilities) when scored
Answer = tuple[list[Any], Any]  # a request's outputs and its rows' probabilities (or None)
INLINE_S = 0.02  # model calls shorter than this (lately) run on the event loop


class Batcher:
    """Merges the parts submitted on one event loop into calls of ``run`` on one thread."""

    def __init__(
        self,
        run: Run,
        *,
        max_rows: int = 256,
        max_wait_s: float = 0.002,
        batchable: bool = True,
        clients: Callable[[], int] = lambda: 1,
        scored: bool = False,
    ) -> None:
        self.run = run
        self.scored = scored
        self.max_rows = max_rows if batchable else 1
        self.max_wait_s = max_wait_s
        self.arriving = 0  # requests routed here and still being read or checked
        self._queue: deque[tuple[Part, asyncio.Future[Answer]]] = deque()
        self._busy = False
        self._task: asyncio.Task[None] | None = None
        self._arrived = asyncio.Event()
        self._executor = ThreadPoolExecutor(1, thread_name_prefix="modelyard-model")
        self.expected = 1.0  # requests per batch lately (a moving average)
        self.clients = clients  # open client connections: at most that many can come
        self._quiet_until = 0.0  # after a wait that brought nobody, no waits on a hunch
        self.call_s = 0.0  # seconds per model call lately (a moving average)
        self.sizes: Callable[[int], None] = lambda rows: None  # batch-size observer (metrics)

    def coming(self) -> None:
        """A request routed here has started to arrive."""
        self.arriving += 1

    def gone(self) -> None:
        """A request counted by ``coming`` was refused before it was submitted."""
        self.arriving -= 1
        self._arrived.set()

    async def submit(self, part: Part) -> Answer:
        """The outputs for ``part``'s rows and their probabilities (None unless scored), after
        ``coming`` (the arrival is now complete)."""
        loop = asyncio.get_running_loop()
        future: asyncio.Future[Answer] = loop.create_future()
        self._queue.append((part, future))
        self.arriving -= 1
        self._arrived.set()
        if not self._busy:
            self._busy = True
            self._task = loop.create_task(self._drain())  # kept: a task is weakly held
        return await future

    def close(self) -> None:
        self._executor.shutdown(wait=False, cancel_futures=True)

    async def _drain(self) -> None:
        try:
            while self._queue:
                await self._gather()
                batch = self._take()
                await self._call(batch)
        finally:
            self._busy = False

    async def _gather(self) -> None:
        """Wait for requests already arriving and for as many as lately came together, while
        the batch has room and time remains."""
        loop = asyncio.get_running_loop()
        want = min(round(self.expected), self.max_rows)
        if len(self._queue) < self.clients() and loop.time() >= self._quiet_until:
            # more clients are connected than queued: after a lone phase their requests may
            # come in groups that keep missing each other (each group paying for a model
            # call); waiting once for them merges the groups. If nobody comes, no more such
            # waits for a second.
            want = max(want, min(self.clients(), self.max_rows))
        if self.max_wait_s <= 0 or (self.arriving <= 0 and len(self._queue) >= want):
            return
        deadline = loop.time() + self.max_wait_s
        before = len(self._queue)
        while (
            self.arriving > 0 or len(self._queue) < want
        ) and self._queued_rows() < self.max_rows:
            left = deadline - loop.time()
            if left <= 0:
                self._gave_up(loop, before)
                return
            self._arrived.clear()
            try:
                await asyncio.wait_for(self._arrived.wait(), left)
            except TimeoutError:
                self._gave_up(loop, before)
                return

    def _gave_up(self, loop: asyncio.AbstractEventLoop, before: int) -> None:
        """A wait ended short: expect what came; if nobody came, stop waiting on a hunch."""
        self.expected = float(len(self._queue))
        if len(self._queue) == before:
            self._quiet_until = loop.time() + 1.0

    def _queued_rows(self) -> int:
        return sum(part.n for part, _ in self._queue)

    def _take(self) -> list[tuple[Part, asyncio.Future[Answer]]]:
        batch = [self._queue.popleft()]
        rows = batch[0][0].n
        while self._queue and rows + self._queue[0][0].n <= self.max_rows:
            item = self._queue.popleft()
            rows += item[0].n
            batch.append(item)
        return batch

    async def _call(self, batch: list[tuple[Part, asyncio.Future[Answer]]]) -> None:
        loop = asyncio.get_running_loop()
        parts = [part for part, _ in batch]
        self.sizes(sum(p.n for p in parts))
        self.expected = 0.8 * self.expected + 0.2 * len(batch)
        started = time.perf_counter()
        try:
            if self.call_s < INLINE_S:
                out = self.run(parts)
            else:
                out = await loop.run_in_executor(self._executor, self.run, parts)
        except Exception as exc:
            if len(batch) == 1:
                _settle(batch[0][1], exc=exc)
                return
            for item in batch:  # find the request that failed; the others still get answers
                await self._call([item])
            return
        finally:
            took = time.perf_counter() - started  # one slow call moves calls off the loop at once
            self.call_s = max(took, 0.8 * self.call_s + 0.2 * took)
        proba = None
        if self.scored:
            out, proba = out
        if len(out) != sum(p.n for p in parts):
            if len(batch) > 1:  # the model does not answer row by row: never merge again
                self.max_rows = 1
                for item in batch:
                    await self._call([item])
                return
            _settle(batch[0][1], (out, None))
            return
        if proba is not None and len(proba) != len(out):
            proba = None
        start = 0
        for part, future in batch:
            end = start + part.n
            _settle(future, (out[start:end], None if proba is None else proba[start:end]))
            start = end


def _settle(
    future: asyncio.Future[Answer], out: Answer | None = None, exc: Exception | None = None
) -> None:
    if future.done():  # the client went away and the request was cancelled
        return
    if exc is not None:
        future.set_exception(exc)
    else:
        future.set_result(out or ([], None))
