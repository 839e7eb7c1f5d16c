"""Which loaded version answers a request: a weighted split over the versions that are ready,
sticky by a request key (A/B) or random (canary), plus the shadows that get a copy.

A ``Routes`` is immutable; the serving process swaps in a new one when the policy or the set
of ready versions changes, so a request never sees half a change.
"""

from __future__ import annotations

import bisect
import random
import zlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from modelyard.errors import NotReady
from modelyard.serving.predictor import Predictor

STICKY_BUCKETS = 10_000


@dataclass(frozen=True, slots=True)
class Routes:
    live: tuple[Predictor, ...] = ()
    cumulative: tuple[float, ...] = ()  # running sum of the live weights
    shadow: tuple[Predictor, ...] = ()
    sticky_header: bytes | None = None  # lower-case header name, as ASGI gives it

    @classmethod
    def build(
        cls,
        ready: Mapping[int, Predictor],
        traffic: Sequence[tuple[int, float]],
        shadow: Sequence[int] = (),
        sticky_header: str | None = None,
    ) -> Routes:
        """Routes over the versions of ``traffic`` that are ``ready`` (an unready version's
        share goes to the others until it is ready); shadows only when ready too."""
        live = [(ready[v], w) for v, w in traffic if w > 0 and v in ready]
        running = 0.0
        cumulative = []
        for _, weight in live:
            running += weight
            cumulative.append(running)
        return cls(
            tuple(p for p, _ in live),
            tuple(cumulative),
            tuple(ready[v] for v in shadow if v in ready and v not in dict(traffic)),
            sticky_header.lower().encode("latin-1") if sticky_header else None,
        )

    def pick(self, key: bytes | None = None) -> Predictor:
        """The live version for a request (``key``: the sticky header's value, if sent)."""
        if not self.live:
            raise NotReady("no model version is ready to answer yet; try again shortly")
        if len(self.live) == 1:
            return self.live[0]
        total = self.cumulative[-1]
        if key is not None and self.sticky_header is not None:
            point = (zlib.crc32(key) % STICKY_BUCKETS + 0.5) / STICKY_BUCKETS * total
        else:
            point = random.random() * total
        return self.live[min(bisect.bisect_right(self.cumulative, point), len(self.live) - 1)]
