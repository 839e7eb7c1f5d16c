"""The rollout controller: a pure ``advance`` that decides the next policy change of a
deployment from its instances' reports, and the thread that asks for it twice a second.

``advance`` does no I/O: the service reads the deployment, its instances and the alias it
follows, and writes the decision by compare-and-set (see ``DeploymentService.tick``).
"""

from __future__ import annotations

import logging
import math
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, replace

from modelyard.serving.entities import (
    LATENCY_BOUNDS_MS,
    Candidate,
    Counters,
    Deployment,
    Instance,
    Snapshot,
    Split,
    Strategy,
    VersionReport,
)

log = logging.getLogger("modelyard.serving")

TICK_SECONDS = 0.5
LATENCY_QUANTILE = 0.9  # the gate's latency: p90, a tail that a few slow requests cannot move
LATENCY_SLACK_MS = 5.0  # a p90 within this much of the stable's never fails the gate
LATENCY_MIN_REQUESTS = 200  # requests a side before latency is judged (p99 of 300 was noise)
LOWER_IS_BETTER = frozenset({"log_loss", "mae", "rmse"})  # quality figures where less is better

Quality = Callable[[int], tuple[float | None, int]]
"""A version's quality figure since the rollout began, and how many predictions it rests on."""


@dataclass(frozen=True, slots=True)
class Decision:
    """A change the controller wants: the deployment as it should be after it, and why."""

    action: str
    actor: str
    reason: str
    after: Deployment


@dataclass(frozen=True, slots=True)
class AliasState:
    """The alias a deployment follows, as the registry holds it now."""

    version: int | None  # None when the alias was removed
    moved_by: str = ""
    reason: str = ""


# ---- counters ------------------------------------------------------------------------------


def percentile(buckets: Iterable[int], q: float) -> float | None:
    """The ``q`` quantile (0..1) of a latency histogram in ms, interpolated within its bucket;
    None without observations. The open last bucket answers its lower bound."""
    counts = list(buckets)
    total = sum(counts)
    if total <= 0:
        return None
    rank = q * total
    seen = 0
    for i, count in enumerate(counts):
        if count and seen + count >= rank:
            lower = 0.0 if i == 0 else float(LATENCY_BOUNDS_MS[i - 1])
            upper = float(LATENCY_BOUNDS_MS[i])
            if math.isinf(upper):
                return lower
            return lower + (upper - lower) * max(rank - seen, 0.0) / count
        seen += count
    return float(LATENCY_BOUNDS_MS[-2])


def _plus(a: Counters, b: Counters) -> Counters:
    buckets = tuple(x + y for x, y in zip(a.latency_buckets, b.latency_buckets, strict=True))
    return Counters(a.requests + b.requests, a.errors + b.errors, buckets)


def _minus(now: Counters, then: Counters | None) -> Counters:
    """What happened since ``then``; everything when the process restarted (counts fell)."""
    if then is None or now.requests < then.requests or now.errors < then.errors:
        return now
    buckets = tuple(
        max(x - y, 0) for x, y in zip(now.latency_buckets, then.latency_buckets, strict=True)
    )
    return Counters(now.requests - then.requests, now.errors - then.errors, buckets)


def snapshot(instances: Iterable[Instance]) -> Snapshot:
    """Every instance's cumulative counters per version, as a baseline."""
    return {i.instance: {v: r.counters for v, r in i.versions.items()} for i in instances}


def since(instances: Iterable[Instance], version: int, base: Snapshot) -> Counters:
    """The version's counts over ``instances`` since the snapshot ``base``."""
    total = Counters()
    for inst in instances:
        report = inst.versions.get(version)
        if report is not None:
            total = _plus(total, _minus(report.counters, base.get(inst.instance, {}).get(version)))
    return total


@dataclass(slots=True)
class VersionStats:
    """One version over the live instances' latest reports (counts since each process began)."""

    ready: int = 0
    loading: int = 0
    failed: int = 0
    rps: float = 0.0
    counters: Counters = field(default_factory=Counters)
    load_errors: list[str] = field(default_factory=list)

    def add(self, report: VersionReport) -> None:
        if report.state == "ready":
            self.ready += 1
        elif report.state == "loading":
            self.loading += 1
        else:
            self.failed += 1
        if report.error:
            self.load_errors.append(report.error)
        self.rps += report.rps
        self.counters = _plus(self.counters, report.counters)

    def to_json(self) -> dict[str, object]:
        c = self.counters
        return {
            "instances": {"ready": self.ready, "loading": self.loading, "failed": self.failed},
            "load_errors": self.load_errors,
            "rps": self.rps,
            "requests": c.requests,
            "errors": c.errors,
            "error_rate": c.errors / c.requests if c.requests else None,
            "p50_ms": percentile(c.latency_buckets, 0.5),
            "p99_ms": percentile(c.latency_buckets, 0.99),
        }


def version_stats(instances: Iterable[Instance], now_ms: int) -> dict[int, VersionStats]:
    """Per version, over the live instances only."""
    out: dict[int, VersionStats] = {}
    for inst in instances:
        if inst.live(now_ms):
            for version, report in inst.versions.items():
                out.setdefault(version, VersionStats()).add(report)
    return out


# ---- decisions -----------------------------------------------------------------------------


def _plural(n: int, word: str) -> str:
    return f"{n} {word}" if n == 1 else f"{n} {word}s"


def _pct(x: float) -> str:
    return f"{x * 100:.1f}%"


def _ms(x: float | None) -> str:
    return "-" if x is None else f"{x:.0f} ms"


def start(
    d: Deployment, version: int, strategy: Strategy, actor: str, reason: str, now_ms: int
) -> Deployment:
    """``d`` with ``version`` as the candidate, loading (kept warm, no traffic yet)."""
    warm = _without(d.warm, d.candidate.version if d.candidate else None)
    candidate = Candidate(version, strategy, "loading", 0, now_ms, actor, reason, started_at=now_ms)
    return replace(d, candidate=candidate, warm=(*_without(warm, version), version))


def _without(versions: tuple[int, ...], version: int | None) -> tuple[int, ...]:
    return tuple(v for v in versions if v != version)


def abort(d: Deployment) -> Deployment:
    """``d`` with its rollout called off: all traffic back on the stable version."""
    c = d.candidate
    if c is None:
        return d
    traffic = d.traffic if c.phase == "loading" else (Split(d.stable, 100.0),)
    return replace(d, candidate=None, traffic=traffic, warm=_without(d.warm, c.version))


def switch(d: Deployment, version: int) -> Deployment:
    """``d`` with all traffic on ``version``, the old stable kept warm for a rollback."""
    old = d.stable
    return replace(
        d,
        traffic=(Split(version, 100.0),),
        shadow=_without(d.shadow, version),
        warm=() if old == version else (old,),
        stable=version,
        previous=None if old == version else old,
        candidate=None,
    )


def _step_traffic(d: Deployment, version: int, weight: float) -> tuple[Split, ...]:
    if weight >= 100:
        return (Split(version, 100.0),)
    return (Split(d.stable, 100.0 - weight), Split(version, float(weight)))


def _follow(d: Deployment, alias: AliasState, now_ms: int) -> Decision | None:
    target = alias.version
    if d.follow is None or target is None or target == d.followed:
        return None
    by = f"by {alias.moved_by}: {alias.reason}" if alias.reason else f"by {alias.moved_by}"
    why = f"{d.follow} moved to v{target} ({by})"
    c = d.candidate
    if target == d.stable:
        if c is not None:
            return Decision("rollback", "alias", f"{why}; rollout of v{c.version} called off",
                            replace(abort(d), followed=target))  # fmt: skip
        return Decision(
            "follow", "alias", f"{why}; already serving it", replace(d, followed=target)
        )
    if c is not None and c.version == target:
        return Decision(
            "follow", "alias", f"{why}; already rolling it out", replace(d, followed=target)
        )
    after = start(abort(d), target, d.rollout.strategy, "alias", why, now_ms)
    return Decision("promote", "alias", why, replace(after, followed=target))


def _quality_gate(d: Deployment, c: Candidate, quality: Quality | None) -> str | None:
    """Why the candidate loses on the rollout's quality figure, or None (also when either side
    has fewer than ``min_requests`` labelled or scored predictions: not judged yet)."""
    r = d.rollout
    if r.quality_metric is None or quality is None:
        return None
    cand_value, cand_n = quality(c.version)
    stable_value, stable_n = quality(d.stable)
    if cand_value is None or stable_value is None or min(cand_n, stable_n) < r.min_requests:
        return None
    metric = r.quality_metric
    lower_better = metric.removeprefix("estimated_") in LOWER_IS_BETTER
    worse = (
        cand_value > stable_value + r.max_quality_drop
        if lower_better
        else cand_value < stable_value - r.max_quality_drop
    )
    if not worse:
        return None
    return (
        f"v{c.version} {metric} {cand_value:.4g} over {cand_n} predictions vs v{d.stable} "
        f"{stable_value:.4g} over {stable_n} ({r.max_quality_drop:g} worse allowed)"
    )


def _gate(d: Deployment, c: Candidate, cand: Counters, stable: Counters) -> tuple[str | None, str]:
    """(why the candidate fails, or None; the figures compared)."""
    r = d.rollout
    cand_rate = cand.errors / cand.requests
    stable_rate = stable.errors / stable.requests if stable.requests else 0.0
    cand_tail = percentile(cand.latency_buckets, LATENCY_QUANTILE)
    stable_tail = percentile(stable.latency_buckets, LATENCY_QUANTILE)
    figures = (
        f"error rate {_pct(cand_rate)} vs {_pct(stable_rate)}, "
        f"p90 {_ms(cand_tail)} vs {_ms(stable_tail)}"
    )
    if cand_rate > stable_rate + r.max_error_rate_increase:
        return (
            f"v{c.version} error rate {_pct(cand_rate)} over {cand.requests} requests vs "
            f"v{d.stable} {_pct(stable_rate)} (+{_pct(r.max_error_rate_increase)} allowed)"
        ), figures
    judged = min(cand.requests, stable.requests) >= LATENCY_MIN_REQUESTS
    if judged and cand_tail is not None and stable_tail is not None:
        limit = max(stable_tail * r.max_latency_ratio, stable_tail + LATENCY_SLACK_MS)
        if cand_tail > limit:
            return (
                f"v{c.version} p90 latency {_ms(cand_tail)} over {cand.requests} requests vs "
                f"v{d.stable} {_ms(stable_tail)} (limit {_ms(limit)}: "
                f"x{r.max_latency_ratio:g} or +{LATENCY_SLACK_MS:g} ms)"
            ), figures
    return None, figures


def advance(
    d: Deployment,
    instances: Iterable[Instance],
    now_ms: int,
    alias: AliasState | None = None,
    quality: Quality | None = None,
) -> Decision | None:
    """The next change of ``d`` given its instances' latest reports, when it follows an alias
    where the alias points now, and (for a quality gate) the rollout's quality figure of a
    version since the rollout began; None when nothing is to change."""
    if alias is not None and (followed := _follow(d, alias, now_ms)) is not None:
        return followed
    c = d.candidate
    if c is None:
        return None
    live = [i for i in instances if i.live(now_ms)]
    reports = [(i, i.versions.get(c.version)) for i in live]
    failed = [(i, r) for i, r in reports if r is not None and r.state == "failed"]
    if failed:
        inst, report = failed[0]
        why = f"v{c.version} failed to load on {inst.instance}: {report.error or 'no reason given'}"
        return Decision("load-failed", "controller", why, abort(d))
    steps = d.rollout.steps
    if c.phase == "loading":
        if not live or any(r is None or r.state != "ready" for _i, r in reports):
            return None
        ready = f"v{c.version} ready on {_plural(len(live), 'instance')}"
        if c.strategy == "blue-green" or not steps:
            why = f"{ready}; all traffic moved from v{d.stable}"
            return Decision("switch", "controller", why, switch(d, c.version))
        base = snapshot(live)
        stepping = replace(
            c, phase="stepping", step=0, step_started_at=now_ms, baseline=base, origin=base
        )
        why = f"{ready}; canary step 1/{len(steps)}: {steps[0]:g}% to v{c.version}"
        after = replace(d, candidate=stepping, traffic=_step_traffic(d, c.version, steps[0]))
        return Decision("step", "controller", why, after)
    cand = since(live, c.version, c.baseline)
    if cand.requests < d.rollout.min_requests:
        return None
    stable = since(live, d.stable, c.baseline)
    if stable.requests == 0:  # the stable had no share of this step: judge by the whole canary
        stable = since(live, d.stable, c.origin)
    failure, figures = _gate(d, c, cand, stable)
    if failure is None:
        failure = _quality_gate(d, c, quality)
    if failure is not None:
        return Decision("rollback", "gate", failure, abort(d))
    if now_ms - c.step_started_at < d.rollout.interval_s * 1000:
        return None
    held = f"v{c.version} within the gates over {cand.requests} requests ({figures})"
    nxt = c.step + 1
    if nxt >= len(steps):
        why = f"{held}; canary done, all traffic moved from v{d.stable}"
        return Decision("switch", "controller", why, switch(d, c.version))
    stepped = replace(c, step=nxt, step_started_at=now_ms, baseline=snapshot(live))
    why = f"{held}; canary step {nxt + 1}/{len(steps)}: {steps[nxt]:g}% to v{c.version}"
    after = replace(d, candidate=stepped, traffic=_step_traffic(d, c.version, steps[nxt]))
    return Decision("step", "controller", why, after)


class Controller:
    """Calls ``tick`` every ``interval`` seconds in a daemon thread until stopped."""

    def __init__(self, tick: Callable[[], object], interval: float = TICK_SECONDS) -> None:
        self._tick = tick
        self.interval = interval
        self._stop = threading.Event()
        self._thread = threading.Thread(
            target=self._loop, name="modelyard-deployments", daemon=True
        )

    def start(self) -> Controller:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join()

    def _loop(self) -> None:
        while not self._stop.is_set():
            try:
                self._tick()
            except Exception:  # a store that is down now may be up at the next round
                log.exception("modelyard: the deployments controller failed a round")
            self._stop.wait(self.interval)
