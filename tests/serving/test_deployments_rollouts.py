"""The rollout controller's decisions (``rollouts.advance``), without any I/O."""

from __future__ import annotations

from dataclasses import replace

import pytest

from modelyard.serving import rollouts
from modelyard.serving.entities import (
    LATENCY_BOUNDS_MS,
    STALE_AFTER_MS,
    Counters,
    Deployment,
    Instance,
    Rollout,
    Split,
    VersionReport,
)
from modelyard.serving.rollouts import AliasState, advance, percentile

NOW = 1_000_000_000
CANARY = Rollout(strategy="canary", steps=(10, 50, 100), interval_s=60, min_requests=100)


def deployment(**changes: object) -> Deployment:
    base = Deployment(
        name="churn-api", model="churn", follow=None, engine="process", port=None, replicas=1,
        created_by="alice", created_at=0, updated_at=0, revision=1,
        traffic=(Split(3, 100.0),), shadow=(), warm=(), sticky_header=None,
        rollout=Rollout(), stable=3,
    )  # fmt: skip
    return replace(base, **changes)  # type: ignore[arg-type]


def latency(ms: float, n: int) -> tuple[int, ...]:
    """``n`` requests that took ``ms`` each, as bucket counts."""
    buckets = [0] * len(LATENCY_BOUNDS_MS)
    buckets[next(i for i, bound in enumerate(LATENCY_BOUNDS_MS) if ms <= bound)] = n
    return tuple(buckets)


def ready(requests: int = 0, errors: int = 0, ms: float = 8.0) -> VersionReport:
    return VersionReport("ready", None, Counters(requests, errors, latency(ms, requests)), 1.0)


def instance(name: str = "h:1", seen: int = NOW, **versions: VersionReport) -> Instance:
    return Instance(
        "churn-api",
        name,
        "http://127.0.0.1:9000",
        seen,
        {int(k[1:]): r for k, r in versions.items()},
    )


def promoted(d: Deployment, version: int = 4) -> Deployment:
    return rollouts.start(d, version, d.rollout.strategy, "alice", "retrained", NOW - 1000)


def test_blue_green_switches_once_every_live_instance_has_it_ready() -> None:
    d = promoted(deployment())
    assert d.warm == (4,)
    assert d.candidate is not None
    assert d.candidate.phase == "loading"
    loading = VersionReport("loading", None, Counters(), 0.0)
    assert advance(d, [instance(v3=ready(), v4=loading)], NOW) is None
    assert advance(d, [instance(v3=ready())], NOW) is None  # not even reported yet
    assert advance(d, [], NOW) is None  # nobody serves: the candidate waits
    both = [instance("h:1", v3=ready(), v4=ready()), instance("h:2", v3=ready(), v4=loading)]
    assert advance(d, both, NOW) is None
    decision = advance(d, [instance("h:1", v3=ready(), v4=ready())], NOW)
    assert decision is not None
    assert (decision.action, decision.actor) == ("switch", "controller")
    assert decision.reason == "v4 ready on 1 instance; all traffic moved from v3"
    after = decision.after
    assert (after.traffic, after.stable, after.previous, after.warm, after.candidate) == (
        (Split(4, 100.0),), 4, 3, (3,), None,
    )  # fmt: skip


def test_stale_instances_are_ignored() -> None:
    d = promoted(deployment())
    old = NOW - STALE_AFTER_MS
    stale_loading = instance("h:old", seen=old, v4=VersionReport("loading", None, Counters(), 0))
    stale_failed = instance("h:dead", seen=old, v4=VersionReport("failed", "boom", Counters(), 0))
    fresh = instance("h:1", v3=ready(), v4=ready())
    decision = advance(d, [stale_loading, stale_failed, fresh], NOW)
    assert decision is not None
    assert decision.action == "switch"
    assert advance(d, [stale_loading], NOW) is None  # only stale ones: as if none


def test_a_load_failure_drops_the_candidate_with_the_error() -> None:
    d = promoted(deployment())
    failed = VersionReport("failed", "NOT_TRUSTED: pickle needs trust", Counters(), 0.0)
    decision = advance(
        d, [instance("h:1", v3=ready(), v4=ready()), instance("h:2", v3=ready(), v4=failed)], NOW
    )
    assert decision is not None
    assert (decision.action, decision.actor) == ("load-failed", "controller")
    assert decision.reason == "v4 failed to load on h:2: NOT_TRUSTED: pickle needs trust"
    assert (decision.after.candidate, decision.after.warm, decision.after.traffic) == (
        None, (), (Split(3, 100.0),),
    )  # fmt: skip


def _canary_at_step(step: int, baseline: dict[str, dict[int, Counters]]) -> Deployment:
    d = promoted(deployment(rollout=CANARY))
    assert d.candidate is not None
    weight = CANARY.steps[step]
    traffic = (Split(4, 100.0),) if weight >= 100 else (Split(3, 100 - weight), Split(4, weight))
    cand = replace(d.candidate, phase="stepping", step=step, step_started_at=NOW - 61_000,
                   baseline=baseline, origin=baseline)  # fmt: skip
    return replace(d, candidate=cand, traffic=traffic)


def test_canary_steps_up_then_switches() -> None:
    d = promoted(deployment(rollout=CANARY))
    first = advance(d, [instance(v3=ready(500), v4=ready())], NOW)
    assert first is not None
    assert first.action == "step"
    assert first.reason == "v4 ready on 1 instance; canary step 1/3: 10% to v4"
    assert first.after.traffic == (Split(3, 90.0), Split(4, 10.0))
    c = first.after.candidate
    assert c is not None
    assert (c.phase, c.step, c.step_started_at) == ("stepping", 0, NOW)
    assert c.baseline["h:1"][3].requests == 500  # counters from here on are the step's

    # too few requests on the candidate: no verdict and no step, however long it has been
    later = NOW + 120_000
    assert advance(first.after, [instance(seen=later, v3=ready(560), v4=ready(99))], later) is None
    # enough good requests, but the interval has not passed
    soon = NOW + 30_000
    assert advance(first.after, [instance(seen=soon, v3=ready(1400), v4=ready(100))], soon) is None
    second = advance(first.after, [instance(seen=later, v3=ready(1400), v4=ready(100))], later)
    assert second is not None
    assert second.action == "step"
    assert second.reason.startswith(
        "v4 within the gates over 100 requests (error rate 0.0% vs 0.0%"
    )
    assert second.reason.endswith("; canary step 2/3: 50% to v4")
    assert second.after.traffic == (Split(3, 50.0), Split(4, 50.0))

    last = _canary_at_step(
        2, {"h:1": {3: Counters(2000, 0, latency(8, 2000)), 4: Counters(600, 0, latency(8, 600))}}
    )
    done = advance(last, [instance(v3=ready(2000), v4=ready(800))], NOW)
    assert done is not None
    assert done.action == "switch"
    assert "canary done, all traffic moved from v3" in done.reason
    assert (done.after.traffic, done.after.stable, done.after.warm) == ((Split(4, 100.0),), 4, (3,))


def test_the_error_gate_rolls_back_with_its_figures() -> None:
    base = {"h:1": {3: Counters(1000, 0, latency(8, 1000)), 4: Counters(0, 0, latency(8, 0))}}
    d = _canary_at_step(0, base)
    bad = instance(v3=ready(2080), v4=ready(120, errors=42))
    decision = advance(d, [bad], NOW)
    assert decision is not None
    assert (decision.action, decision.actor) == ("rollback", "gate")
    assert decision.reason == "v4 error rate 35.0% over 120 requests vs v3 0.0% (+2.0% allowed)"
    assert (decision.after.traffic, decision.after.candidate, decision.after.warm) == (
        (Split(3, 100.0),), None, (),
    )  # fmt: skip
    # within the margin: no rollback (1% more errors, 2% allowed)
    fine = instance(v3=ready(2080, errors=0), v4=ready(200, errors=2))
    assert advance(d, [fine], NOW) is not None
    assert advance(d, [fine], NOW).action == "step"  # type: ignore[union-attr]


def test_the_latency_gate_compares_p90_with_a_floor() -> None:
    base = {"h:1": {3: Counters(0, 0, latency(8, 0)), 4: Counters(0, 0, latency(8, 0))}}
    d = _canary_at_step(0, base)
    slow = advance(d, [instance(v3=ready(1000, ms=8), v4=ready(200, ms=400))], NOW)
    assert slow is not None
    assert (slow.action, slow.actor) == ("rollback", "gate")
    assert slow.reason.startswith(
        "v4 p90 latency 470 ms over 200 requests vs v3 10 ms (limit 14 ms"
    )
    # 1 ms vs 2 ms is twice as slow but within the 5 ms floor: no rollback
    quick = advance(d, [instance(v3=ready(1000, ms=1), v4=ready(200, ms=2))], NOW)
    assert quick is not None
    assert quick.action == "step"
    # fewer than 200 requests a side: the tail is a handful of requests, not judged yet
    early = advance(d, [instance(v3=ready(1000, ms=8), v4=ready(150, ms=400))], NOW)
    assert early is not None
    assert early.action == "step"


def test_a_restarted_instance_counts_from_zero() -> None:
    """Counters below the baseline mean the process restarted: all it reports is new."""
    base = {"h:1": {3: Counters(5000, 0, latency(8, 5000)), 4: Counters(5000, 0, latency(8, 5000))}}
    d = _canary_at_step(0, base)
    decision = advance(d, [instance(v3=ready(900), v4=ready(100, errors=50))], NOW)
    assert decision is not None
    assert decision.reason.startswith("v4 error rate 50.0% over 100 requests")


def test_at_full_weight_the_stable_is_judged_over_the_whole_canary() -> None:
    origin = {"h:1": {3: Counters(0, 0, latency(8, 0)), 4: Counters(0, 0, latency(8, 0))}}
    step = {"h:1": {3: Counters(900, 0, latency(8, 900)), 4: Counters(100, 0, latency(8, 100))}}
    d = _canary_at_step(2, step)
    assert d.candidate is not None
    d = replace(d, candidate=replace(d.candidate, origin=origin))
    decision = advance(d, [instance(v3=ready(900), v4=ready(300, errors=30))], NOW)
    assert decision is not None
    assert decision.reason == "v4 error rate 15.0% over 200 requests vs v3 0.0% (+2.0% allowed)"


def test_following_an_alias_promotes_once_per_move() -> None:
    d = deployment(follow="champion", followed=3)
    assert advance(d, [], NOW, AliasState(3)) is None
    moved = advance(d, [], NOW, AliasState(4, "bob", "better auc"))
    assert moved is not None
    assert (moved.action, moved.actor) == ("promote", "alias")
    assert moved.reason == "champion moved to v4 (by bob: better auc)"
    after = moved.after
    assert after.candidate is not None
    assert (after.candidate.version, after.candidate.started_by, after.followed) == (4, "alias", 4)
    # v4 failed its gate: the alias still names it, and the deployment does not try again
    rolled_back = replace(rollouts.abort(after), followed=4)
    assert advance(rolled_back, [], NOW, AliasState(4, "bob", "better auc")) is None
    # the alias goes back to the stable while v4 rolls out: the rollout is called off
    back = advance(after, [], NOW, AliasState(3, "bob", ""))
    assert back is not None
    assert (back.action, back.actor, back.after.candidate) == ("rollback", "alias", None)
    assert back.reason == "champion moved to v3 (by bob); rollout of v4 called off"
    # a removed alias changes nothing
    assert advance(d, [], NOW, AliasState(None)) is None


@pytest.mark.parametrize(
    ("buckets", "q", "expected"),
    [
        (latency(8, 100), 0.99, 9.95),  # 5..10 ms bucket, interpolated
        (latency(1, 10), 0.5, 0.5),
        (latency(9000, 10), 0.99, 5000.0),  # the open bucket answers its lower bound
        (latency(8, 0), 0.99, None),
    ],
)
def test_percentiles_from_buckets(
    buckets: tuple[int, ...], q: float, expected: float | None
) -> None:
    found = percentile(buckets, q)
    assert found == (None if expected is None else pytest.approx(expected))
