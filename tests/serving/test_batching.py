"""Micro-batching: concurrent requests merge, a lone one never waits, a poisoned one fails alone."""

from __future__ import annotations

import asyncio
import threading
import time
from typing import Any

import pytest

from modelyard.serving.batching import Batcher
from modelyard.serving.inputs import Part
from tests import aio


class Doubler:
    """Doubles each row; records each call's rows; a row of -1 raises; ``pause`` seconds per call."""

    def __init__(self, pause: float = 0.0) -> None:
        self.calls: list[int] = []
        self.pause = pause
        self.threads: set[str] = set()

    def __call__(self, parts: list[Part]) -> list[Any]:
        rows = [r for p in parts for r in p.rows or ()]
        self.calls.append(len(rows))
        self.threads.add(threading.current_thread().name)
        if -1 in rows:
            raise ValueError("poison")
        time.sleep(self.pause)
        return [2 * r for r in rows]


def part(*rows: int) -> Part:
    return Part(len(rows), rows=list(rows))


async def ask(batcher: Batcher, p: Part) -> list[Any]:
    batcher.coming()
    out, proba = await batcher.submit(p)
    assert proba is None
    return out


def test_concurrent_requests_share_model_calls() -> None:
    model = Doubler(pause=0.03)

    async def main() -> list[list[Any]]:
        batcher = Batcher(model, max_rows=64, max_wait_s=0.002)
        try:
            first = await asyncio.gather(*(ask(batcher, part(i, i + 100)) for i in range(40)))
            await asyncio.gather(*(ask(batcher, part(1)) for _ in range(10)))
            return first
        finally:
            batcher.close()

    answers = aio.run(main())
    assert answers == [[2 * i, 2 * (i + 100)] for i in range(40)]
    assert sum(model.calls) == 90
    assert len(model.calls) < 10  # 50 requests, far fewer model calls
    assert max(model.calls) <= 64
    # a model this slow (30 ms a call) is called on its own thread, not on the event loop
    assert any(name.startswith("modelyard-model") for name in model.threads)


def test_a_fast_model_is_called_on_the_event_loop() -> None:
    model = Doubler()

    async def main() -> list[list[Any]]:
        batcher = Batcher(model, max_rows=64, max_wait_s=0.002)
        try:
            return list(await asyncio.gather(*(ask(batcher, part(i)) for i in range(20))))
        finally:
            batcher.close()

    assert aio.run(main()) == [[2 * i] for i in range(20)]
    (thread,) = model.threads
    assert thread.startswith("test-asyncio")  # the event loop's own thread (tests.aio), no worker


def test_a_lone_request_does_not_wait_for_a_batch() -> None:
    model = Doubler()

    async def main() -> float:
        batcher = Batcher(model, max_rows=64, max_wait_s=0.5)
        try:
            started = time.perf_counter()
            assert await ask(batcher, part(1)) == [2]
            return time.perf_counter() - started
        finally:
            batcher.close()

    assert aio.run(main()) < 0.25  # far below the 0.5 s a waiting batcher would add


def test_arriving_requests_are_waited_for_up_to_the_bound() -> None:
    model = Doubler()

    async def main() -> None:
        batcher = Batcher(model, max_rows=64, max_wait_s=0.2)
        try:
            batcher.coming()  # a second request is being read
            first = asyncio.ensure_future(ask(batcher, part(1)))
            await asyncio.sleep(0.05)
            second, _ = await batcher.submit(part(2))
            assert await first == [2]
            assert second == [4]
        finally:
            batcher.close()

    aio.run(main())
    assert model.calls == [2]  # one call held both


def test_a_poisoned_request_fails_alone() -> None:
    model = Doubler(pause=0.01)

    async def main() -> list[Any]:
        batcher = Batcher(model, max_rows=64, max_wait_s=0.002)
        try:
            return await asyncio.gather(  # type: ignore[no-any-return]
                *(ask(batcher, part(-1 if i == 5 else i)) for i in range(12)),
                return_exceptions=True,
            )
        finally:
            batcher.close()

    answers = aio.run(main())
    assert isinstance(answers[5], ValueError)
    assert [a for i, a in enumerate(answers) if i != 5] == [[2 * i] for i in range(12) if i != 5]


@pytest.mark.parametrize("batchable", [True, False])
def test_a_model_that_does_not_answer_row_by_row_is_never_merged(batchable: bool) -> None:
    calls: list[int] = []

    def total(parts: list[Part]) -> list[Any]:
        calls.append(len(parts))
        time.sleep(0.01)
        return [sum(r for p in parts for r in p.rows or ())]

    async def main() -> list[Any]:
        batcher = Batcher(total, max_rows=64, max_wait_s=0.002, batchable=batchable)
        try:
            return list(await asyncio.gather(*(ask(batcher, part(i, i)) for i in range(8))))
        finally:
            batcher.close()

    answers = aio.run(main())
    assert answers == [[2 * i] for i in range(8)]
    assert calls[-4:] == [1, 1, 1, 1]


def test_open_connections_merge_groups_and_a_vain_wait_is_not_repeated() -> None:
    model = Doubler()

    async def main() -> tuple[float, float]:
        batcher = Batcher(model, max_rows=64, max_wait_s=0.5, clients=lambda: 8)
        try:
            first = asyncio.gather(*(ask(batcher, part(i)) for i in range(3)))
            await asyncio.sleep(0.01)  # another group of the 8 connected clients, a bit later
            rest = await asyncio.gather(*(ask(batcher, part(i)) for i in range(3, 8)))
            assert [*await first, *rest] == [[2 * i] for i in range(8)]
            started = time.perf_counter()
            await ask(batcher, part(1))  # nobody else comes: one bounded wait
            vain = time.perf_counter() - started
            started = time.perf_counter()
            await ask(batcher, part(1))  # and not again
            return vain, time.perf_counter() - started
        finally:
            batcher.close()

    vain, after = aio.run(main())
    assert model.calls[0] == 8  # the two groups became one call
    assert vain >= 0.4
    assert after < 0.3


def test_a_scored_batch_splits_its_probabilities_back_per_request() -> None:
    import numpy as np

    calls: list[int] = []

    def scored(parts: list[Part]) -> tuple[list[int], Any]:
        rows = [r for p in parts for r in p.rows or ()]
        calls.append(len(rows))
        return [2 * r for r in rows], np.array([[r, -r] for r in rows])

    async def main() -> None:
        batcher = Batcher(scored, max_rows=64, max_wait_s=0.05, scored=True)
        try:
            for _ in range(3):
                batcher.coming()
            got = await asyncio.gather(
                *(batcher.submit(part(*rows)) for rows in ([1, 2], [3], [4, 5]))
            )
        finally:
            batcher.close()
        assert [out for out, _ in got] == [[2, 4], [6], [8, 10]]
        assert [proba.tolist() for _, proba in got] == [
            [[1, -1], [2, -2]],
            [[3, -3]],
            [[4, -4], [5, -5]],
        ]

    aio.run(main())
    assert calls == [5]  # one call: the slices were cut from one array
