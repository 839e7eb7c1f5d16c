"""The deployments service on SQLite and PostgreSQL: changes, history, heartbeats, the
controller's rounds, and compare-and-set between concurrent writers."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from modelyard.errors import (
    AlreadyExists,
    Conflict,
    InvalidInput,
    InvalidState,
    NotFound,
    Unauthenticated,
)
from modelyard.registry.service import RegistryService
from modelyard.serving import rollouts
from modelyard.serving.deployments import DeploymentService
from modelyard.serving.entities import LATENCY_BOUNDS_MS, STALE_AFTER_MS, Split
from modelyard.store.metadata import deployments_repo
from modelyard.store.stores import open_stores
from modelyard.tracking.entities import RunCreate
from modelyard.tracking.service import TrackingService

USER = "alice"
T0 = 1_700_000_000_000


class Clock:
    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> int:
        return self.now


@dataclass
class Env:
    svc: DeploymentService
    reg: RegistryService
    clock: Clock


@pytest.fixture
def env(store_uri: str, tmp_path: Path) -> Iterator[Env]:
    stores = open_stores(store_uri, str(tmp_path / "art"))
    tracking = TrackingService(stores.db, stores.artifacts)
    run = tracking.create_run(RunCreate(experiment_name="e"), user=USER)
    reg = RegistryService(stores.db, stores.artifacts)
    reg.create_model("churn", user=USER)
    for _ in range(4):
        reg.create_version("churn", f"runs:/{run.id}/model", run_id=run.id, user=USER)
    reg.set_alias("churn", "champion", 1, USER)
    clock = Clock()
    yield Env(DeploymentService(stores.db, clock=clock), reg, clock)
    tracking.close()


def beat(svc: DeploymentService, name: str, instance: str, url: str, report: Any) -> Any:
    """A heartbeat with the token the server gives the deployment's processes."""
    return svc.heartbeat(name, instance, url, report, token=svc.serving_secret(name))


def versions(**states: str | tuple[str, int, int]) -> dict[str, Any]:
    """A heartbeat's versions: ``v2="ready"`` or ``v2=("ready", requests, errors)``."""
    out = {}
    for key, state in states.items():
        s, requests, errors = (state, 0, 0) if isinstance(state, str) else state
        buckets = [0] * len(LATENCY_BOUNDS_MS)
        buckets[3] = requests  # all within 10 ms
        out[key[1:]] = {"state": s, "error": "boom" if s == "failed" else None,
                        "requests": requests, "errors": errors, "latency_buckets": buckets, "rps": 1.0}  # fmt: skip
    return out


def test_create_follows_an_alias_or_pins_a_version(env: Env) -> None:
    d = env.svc.create("churn-api", "models:/churn@champion", user=USER, port=8123)
    assert (d.follow, d.stable, d.followed, d.traffic, d.revision) == (
        "champion", 1, 1, (Split(1, 100.0),), 1,
    )  # fmt: skip
    pinned = env.svc.create("pinned", "models:/churn/2", user=USER)
    assert (pinned.follow, pinned.stable) == (None, 2)
    latest = env.svc.create("newest", "models:/churn@latest", user=USER)
    assert (latest.follow, latest.stable) == (None, 4)  # reserved names pin what they name now
    assert [d.name for d in env.svc.list_all()] == ["churn-api", "newest", "pinned"]
    assert env.svc.get("churn-api") == d

    with pytest.raises(AlreadyExists, match="deployment 'pinned' already exists"):
        env.svc.create("pinned", "models:/churn/1", user=USER)
    with pytest.raises(Conflict, match="port 8123 is taken by deployment 'churn-api'"):
        env.svc.create("other", "models:/churn/1", user=USER, port=8123)
    with pytest.raises(NotFound, match="version 9 of model 'churn' does not exist"):
        env.svc.create("other", "models:/churn/9", user=USER)
    with pytest.raises(NotFound, match="model 'churn' has no alias 'gone'"):
        env.svc.create("other", "models:/churn@gone", user=USER)
    with pytest.raises(InvalidInput, match="models:/NAME@ALIAS or models:/NAME/N"):
        env.svc.create("other", "runs:/abc/model", user=USER)
    with pytest.raises(InvalidInput, match="steps must grow"):
        env.svc.create("other", "models:/churn/1", user=USER, rollout={"steps": [50, 10]})
    with pytest.raises(InvalidInput, match="unknown rollout setting 'speed'"):
        env.svc.create("other", "models:/churn/1", user=USER, rollout={"speed": 1})
    with pytest.raises(InvalidInput, match="not an HTTP header name"):
        env.svc.create("other", "models:/churn/1", user=USER, sticky_header="X User")

    (event,) = env.svc.history("churn-api")
    assert (event.actor, event.action, event.reason) == (
        USER,
        "create",
        "serves models:/churn@champion (v1)",
    )
    recorded = [e for e in env.reg.history("churn") if e.action == "deployment"]
    assert recorded[0].detail == {
        "deployment": "churn-api", "deployment_action": "create",
        "reason": "serves models:/churn@champion (v1)",
    }  # fmt: skip


def test_set_traffic_validates_everything_before_writing(env: Env) -> None:
    env.svc.create("ab", "models:/churn/1", user=USER)
    bad: list[tuple[Any, dict[str, Any], type[Exception], str]] = [
        ([{"version": 1, "weight": 60}, {"version": 2, "weight": 30}], {}, InvalidInput, "sum to 100, not 90"),
        ([{"version": 1, "weight": 150}, {"version": 2, "weight": -50}], {}, InvalidInput, "between 0 and 100"),
        ([{"version": 1, "weight": 50}, {"version": 1, "weight": 50}], {}, InvalidInput, "a version twice"),
        ([{"version": 1, "weight": 100}], {"shadow": [1]}, InvalidInput, "version 1 is live"),
        ([{"version": 1, "weight": 50}, {"version": 7, "weight": 50}], {}, NotFound, "version 7 of model"),
        ([{"version": 1, "weight": 100}], {"shadow": [8]}, NotFound, "version 8 of model"),
        ([], {}, InvalidInput, "1 to 16 versions"),
    ]  # fmt: skip
    for split, extra, error, message in bad:
        with pytest.raises(error, match=message):
            env.svc.set_traffic("ab", split, user=USER, **extra)
    assert env.svc.get("ab").revision == 1
    assert len(env.svc.history("ab")) == 1

    d = env.svc.set_traffic(
        "ab", [{"version": 1, "weight": 80}, {"version": 2, "weight": 20}],
        shadow=[3], sticky_header="X-User-Id", user="bob", reason="A/B of the new features",
    )  # fmt: skip
    assert (d.traffic, d.shadow, d.sticky_header, d.stable, d.revision) == (
        (Split(1, 80.0), Split(2, 20.0)), (3,), "X-User-Id", 1, 2,
    )  # fmt: skip
    # the heavier side becomes the stable; the old stable stays warm for a rollback
    d = env.svc.set_traffic("ab", [Split(1, 30), Split(2, 70)], user="bob")
    assert (d.stable, d.previous, d.warm, d.shadow, d.sticky_header) == (
        2,
        1,
        (),
        (3,),
        "X-User-Id",
    )
    d = env.svc.set_traffic("ab", [Split(2, 100)], shadow=[], sticky_header=None, user="bob")
    assert (d.stable, d.previous, d.warm, d.shadow, d.sticky_header) == (2, 1, (1,), (), None)
    last = env.svc.history("ab")[1]
    assert (last.actor, last.action, last.reason) == (
        "bob",
        "set-traffic",
        "A/B of the new features",
    )
    assert last.before == {"traffic": [{"version": 1, "weight": 100.0}], "shadow": [], "warm": []}
    assert last.after["shadow"] == [3]


def test_blue_green_rollout_and_rollback(env: Env) -> None:
    svc, clock = env.svc, env.clock
    svc.create("api", "models:/churn/1", user=USER)
    beat(svc, "api", "h:1", "http://127.0.0.1:9001", versions(v1="ready"))
    d = svc.promote("api", 2, user=USER, reason="retrained on May")
    assert d.candidate is not None
    assert (d.candidate.phase, d.warm, d.traffic) == ("loading", (2,), (Split(1, 100.0),))
    with pytest.raises(InvalidState, match="v2 is already rolling out"):
        svc.promote("api", 2, user=USER)
    assert svc.tick() == []  # v2 not reported ready yet

    beat(svc, "api", "h:1", "http://127.0.0.1:9001", versions(v1="ready", v2="ready"))
    (decision,) = svc.tick()
    assert decision.action == "switch"
    d = svc.get("api")
    assert (d.stable, d.previous, d.warm, d.traffic, d.revision) == (
        2,
        1,
        (1,),
        (Split(2, 100.0),),
        3,
    )
    assert svc.tick() == []
    with pytest.raises(InvalidState, match="already serves v2"):
        svc.promote("api", 2, user=USER)

    d = svc.rollback("api", user="bob", reason="latency alert")
    assert (d.stable, d.previous, d.warm, d.traffic) == (1, 2, (2,), (Split(1, 100.0),))
    events = svc.history("api")
    assert [(e.actor, e.action) for e in events] == [
        (USER, "create"), (USER, "promote"), ("controller", "switch"), ("bob", "rollback"),
    ]  # fmt: skip
    assert events[-1].reason == "all traffic back on v1 from v2: latency alert"

    # a failed load drops the candidate; an instance silent for 10 s no longer counts
    svc.promote("api", 3, user=USER)
    beat(svc, "api", "h:2", "http://127.0.0.1:9002", versions(v1="ready", v3="failed"))
    (failed,) = svc.tick()
    assert (failed.action, failed.reason) == ("load-failed", "v3 failed to load on h:2: boom")
    assert (svc.get("api").candidate, svc.get("api").warm) == (None, (2,))
    svc.create("fresh", "models:/churn/1", user=USER)
    with pytest.raises(InvalidState, match="no earlier version"):
        svc.rollback("fresh", user=USER)

    clock.now += STALE_AFTER_MS
    beat(svc, "api", "h:1", "http://127.0.0.1:9001", versions(v1="ready", v4="ready"))
    svc.promote("api", 4, user=USER)
    (switched,) = svc.tick()  # h:2 (which never loaded v4) is stale now
    assert switched.reason == "v4 ready on 1 instance; all traffic moved from v1"
    _d, instances = svc.status("api")
    assert [(i.instance, i.live(clock.now)) for i in instances] == [("h:1", True), ("h:2", False)]


def test_canary_rolled_back_by_its_gate_through_ticks(env: Env) -> None:
    svc, clock = env.svc, env.clock
    canary = {"strategy": "canary", "steps": [10, 50, 100], "interval_s": 1, "min_requests": 20}
    svc.create("api", "models:/churn/1", user=USER, rollout=canary)
    svc.promote("api", 2, user=USER)
    beat(svc, "api", "h:1", "http://h:1", versions(v1=("ready", 100, 0), v2="ready"))
    (step,) = svc.tick()
    assert step.action == "step"
    assert svc.get("api").traffic == (Split(1, 90.0), Split(2, 10.0))
    clock.now += 2000
    beat(svc, "api", "h:1", "http://h:1", versions(v1=("ready", 300, 0), v2=("ready", 30, 0)))
    (step,) = svc.tick()
    assert step.reason.endswith("canary step 2/3: 50% to v2")
    beat(svc, "api", "h:1", "http://h:1", versions(v1=("ready", 400, 1), v2=("ready", 130, 25)))
    (gate,) = svc.tick()
    assert (gate.action, gate.actor) == ("rollback", "gate")
    assert gate.reason == "v2 error rate 25.0% over 100 requests vs v1 1.0% (+2.0% allowed)"
    d = svc.get("api")
    assert (d.traffic, d.candidate, d.warm, d.stable) == ((Split(1, 100.0),), None, (), 1)
    registry = [e for e in env.reg.history("churn") if e.action == "deployment"]
    assert (registry[-1].user, registry[-1].version, registry[-1].detail["reason"]) == (
        "gate", 2, gate.reason,
    )  # fmt: skip


def test_following_the_alias(env: Env) -> None:
    svc = env.svc
    svc.create("api", "models:/churn@champion", user=USER)
    assert svc.tick() == []
    env.reg.set_alias("churn", "champion", 3, "bob", "better auc")
    (decision,) = svc.tick()
    assert (decision.action, decision.actor, decision.reason) == (
        "promote", "alias", "champion moved to v3 (by bob: better auc)",
    )  # fmt: skip
    assert svc.tick() == []  # one promotion per move
    d = svc.get("api")
    assert d.candidate is not None
    assert (d.candidate.version, d.followed) == (3, 3)


def test_heartbeats_are_bounded_and_keep_the_latest_report(env: Env) -> None:
    svc = env.svc
    svc.create("api", "models:/churn/1", user=USER)
    answer = beat(svc, "api", "h:1", "http://127.0.0.1:1", versions(v1=("ready", 5, 1)))
    assert answer.revision == 1
    beat(svc, "api", "h:1", "http://127.0.0.1:1", versions(v1=("ready", 9, 1)))
    _d, (inst,) = svc.status("api")
    assert (inst.versions[1].counters.requests, inst.last_seen) == (9, T0)
    too_many = {str(v): versions(v1="ready")["1"] for v in range(1, 66)}
    for bad, message in [
        (too_many, "at most 64 versions"),
        ({"1": {**versions(v1="ready")["1"], "latency_buckets": [0, 1]}}, "holds 13 counts"),
        ({"1": {**versions(v1="ready")["1"], "requests": -1}}, "requests must be a whole number"),
        ({"1": {**versions(v1="ready")["1"], "state": "dancing"}}, "ready, loading or failed"),
        ({"0": versions(v1="ready")["1"]}, "version must be a version number from 1"),
        ({"²": versions(v1="ready")["1"]}, "version must be a version number from 1"),
    ]:
        with pytest.raises(InvalidInput, match=message):
            beat(svc, "api", "h:1", "http://127.0.0.1:1", bad)
    long_error = {"1": {**versions(v1="failed")["1"], "error": "x" * 10_000}}
    beat(svc, "api", "h:1", "http://127.0.0.1:1", long_error)  # kept short, not refused
    _d, (inst,) = svc.status("api")
    assert inst.versions[1].error == "x" * 3999 + "…"
    token = svc.serving_secret("api")
    with pytest.raises(Unauthenticated, match="serving token"):  # no names told without it
        svc.heartbeat("nope", "h:1", "http://127.0.0.1:1", {}, token=token)
    svc.delete("api", user=USER, reason="retired")
    with pytest.raises(Unauthenticated, match="serving token"):
        svc.heartbeat("api", "h:1", "http://127.0.0.1:1", {}, token=token)
    assert [e.action for e in svc.history("api")] == ["create", "delete"]
    with pytest.raises(NotFound, match="deployment 'never' does not exist"):
        svc.history("never")


def test_two_writers_with_one_revision_one_wins(env: Env) -> None:
    """Both read revision 1; the compare-and-set lets exactly one of them write."""
    svc = env.svc
    svc.create("api", "models:/churn/1", user=USER)
    start = threading.Barrier(2)
    outcomes: list[str] = []

    def write(version: int) -> None:
        start.wait()
        try:
            svc.set_traffic("api", [Split(version, 100)], user=f"w{version}", revision=1)
            outcomes.append("won")
        except Conflict:
            outcomes.append("conflict")

    threads = [threading.Thread(target=write, args=(v,)) for v in (2, 3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(outcomes) == ["conflict", "won"]
    d = svc.get("api")
    assert d.revision == 2
    assert [e.action for e in svc.history("api")] == ["create", "set-traffic"]
    # without a revision, a change is re-applied to whatever is newest: both land
    for v in (3, 4):
        svc.set_traffic("api", [Split(v, 100)], user=USER)
    assert svc.get("api").revision == 4


def test_a_decision_on_a_stale_read_is_not_written(env: Env) -> None:
    svc = env.svc
    svc.create("api", "models:/churn/1", user=USER)
    svc.promote("api", 2, user=USER)
    beat(svc, "api", "h:1", "http://h:1", versions(v1="ready", v2="ready"))
    read = svc.get("api")
    _d, instances = svc.status("api")
    decision = rollouts.advance(read, instances, env.clock.now)
    assert decision is not None
    svc.rollback("api", user="bob")  # a person calls the rollout off meanwhile
    assert svc.apply(read, decision, env.clock.now) is False
    assert [e.action for e in svc.history("api")] == ["create", "promote", "rollback"]
    assert svc.get("api").stable == 1

    def stored_revision() -> int:
        with svc.db.read() as conn:
            return deployments_repo.get(conn, "api").revision

    assert stored_revision() == 3


def test_serving_tokens_prove_a_process_serves_its_deployment(env: Env) -> None:
    svc = env.svc
    made = svc.create("api", "models:/churn/1", user=USER)
    other = svc.create("other", "models:/churn/1", user=USER)
    assert made.serving_secret.startswith("mys_")
    assert len(made.serving_secret) == 47
    assert made.serving_secret != other.serving_secret
    for wrong in (None, "", other.serving_secret, made.serving_secret + "x", "mys_"):
        with pytest.raises(Unauthenticated, match="X-Serving-Token"):
            svc.heartbeat("api", "h:1", "http://127.0.0.1:1", {}, token=wrong)
    assert svc.status("api")[1] == []  # nothing kept of a refused heartbeat
    _d, token = svc.serving_token("api", user=USER, reason="leaked in a ticket")
    assert token != made.serving_secret
    assert svc.serving_secret("api") == token
    with pytest.raises(Unauthenticated):
        svc.heartbeat("api", "h:1", "http://127.0.0.1:1", {}, token=made.serving_secret)
    svc.heartbeat("api", "h:1", "http://127.0.0.1:1", {}, token=token)
    last = svc.history("api")[-1]
    assert (last.action, last.actor, last.reason) == ("serving-token", USER, "leaked in a ticket")
    assert token not in repr(svc.history("api"))


def test_heartbeat_urls_name_the_serving_process(env: Env) -> None:
    svc = env.svc
    svc.create("api", "models:/churn/1", user=USER)
    token = svc.serving_secret("api")
    for bad in [
        "http://127.0.0.1", "ftp://127.0.0.1:1", "http://user:pw@127.0.0.1:1",
        "http://127.0.0.1:1/?next=x", "http://127.0.0.1:1/#x", "http://127.0.0.1:1\\@evil:2",
        "http://127.0.0.1:99999", "http://127.0.0.1:1/ x", "javascript:alert(1)//127.0.0.1:1",
    ]:  # fmt: skip
        with pytest.raises(InvalidInput, match="host:port"):
            svc.heartbeat("api", "h:1", bad, {}, token=token)
    # with auth on (the request's address given): loopback, or the address it came from
    for url, address in [
        ("http://127.0.0.1:8080", "10.0.0.5"),
        ("http://localhost:8080/api", "10.0.0.5"),
        ("http://[::1]:8080", "10.0.0.5"),
        ("http://10.0.0.5:8080", "10.0.0.5"),
        ("https://10.0.0.5:443", "::ffff:10.0.0.5"),
    ]:
        svc.heartbeat("api", "h:1", url, {}, token=token, address=address)
    for url in [
        "http://169.254.169.254:80/latest/meta-data",
        "http://10.0.0.6:8080",
        "http://internal.example:8080",
        "http://0.0.0.0:8080",
    ]:
        with pytest.raises(InvalidInput, match="own address"):
            svc.heartbeat("api", "h:1", url, {}, token=token, address="10.0.0.5")
    # an external deployment reports the address a maintainer set for it
    with pytest.raises(InvalidInput, match="external"):
        svc.serving_token("api", user=USER, serving_url="http://api.example:8080")
    svc.create("ext", "models:/churn/1", user=USER, engine="external")
    _d, ext = svc.serving_token("ext", user=USER, serving_url="https://api.example:8443")
    svc.heartbeat("ext", "h:1", "https://api.example:8443/v1", {}, token=ext, address="10.0.0.9")
    with pytest.raises(InvalidInput, match="own address"):
        svc.heartbeat("ext", "h:1", "https://api.example:22", {}, token=ext, address="10.0.0.9")
    assert svc.get("ext").serving_url == "https://api.example:8443"
