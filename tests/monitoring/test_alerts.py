"""The alerts service on SQLite and PostgreSQL: rules, evaluation (pending, firing, resolved,
no data), silences, acknowledgements, manual resolves, history, actions, and two replicas
evaluating at once; notifications go to a real webhook receiver on 127.0.0.1."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from modelyard.errors import AlreadyExists, InvalidInput, InvalidState, NotFound
from modelyard.monitoring.alerting import AlertService, rollback_action
from modelyard.monitoring.notify import Notifier
from modelyard.monitoring.rules import AlertRule
from modelyard.registry.service import RegistryService
from modelyard.serving.deployments import DeploymentService
from modelyard.store.metadata import alerts_repo
from modelyard.store.stores import Stores, open_stores
from modelyard.tracking.entities import RunCreate
from modelyard.tracking.service import TrackingService

from .test_notify import Hook, closed_port, webhook

USER = "alice"
T0 = 1_700_000_000_000
MIN = 60_000


@dataclass
class Figures:
    """The figure source the test controls: ``values[(deployment, metric)]``."""

    values: dict[tuple[str, str], float | None] = field(default_factory=dict)
    asked: list[tuple[str, str, int, int]] = field(default_factory=list)

    def __call__(self, deployment: str, metric: str, window_s: int, now_ms: int) -> float | None:
        self.asked.append((deployment, metric, window_s, now_ms))
        return self.values.get((deployment, metric))


@dataclass
class Env:
    stores: Stores
    svc: AlertService
    figures: Figures
    hook: Hook
    deployments: DeploymentService

    def kinds(self, rule_id: int) -> list[str]:
        return [e.kind for e in self.svc.events(rule_id)]


def service(stores: Stores, figures: Figures, **options: Any) -> AlertService:
    notifier = Notifier(allow_private=True, timeout=2.0, backoff=0.01)
    return AlertService(
        stores.db, figure=figures, notifier=notifier, base_url="http://ui.test", **options
    )


@pytest.fixture
def env(store_uri: str, tmp_path: Path) -> Iterator[Env]:
    stores = open_stores(store_uri, str(tmp_path / "art"))
    tracking = TrackingService(stores.db, stores.artifacts)
    run = tracking.create_run(RunCreate(experiment_name="e"), user=USER)
    reg = RegistryService(stores.db, stores.artifacts)
    reg.create_model("churn", user=USER)
    for _ in range(2):
        reg.create_version("churn", f"runs:/{run.id}/model", run_id=run.id, user=USER)
    deployments = DeploymentService(stores.db)
    deployments.create("churn-api", "models:/churn/1", user=USER)
    figures = Figures()
    svc = service(stores, figures, actions={"rollback": rollback_action(deployments.rollback)})
    svc.clock = lambda: T0 - MIN  # rules are made (and edited) before the passes the tests run
    with webhook() as hook:
        yield Env(stores, svc, figures, hook, deployments)
    svc.close()
    tracking.close()


def make_rule(env: Env, name: str = "errors", **options: Any) -> AlertRule:
    fields: dict[str, Any] = {
        "window": "5m", "op": ">", "threshold": 0.05, "user": USER,
        "channels": [{"type": "webhook", "url": env.hook.url}],
    }  # fmt: skip
    fields.update(options)
    return env.svc.create_rule(name, "churn-api", "error_rate", **fields)


def test_a_rule_fires_once_and_resolves(env: Env) -> None:
    rule = make_rule(env)
    assert rule.to_json()["status"] == "ok"
    assert (rule.window_s, rule.for_s, rule.created_by) == (300, 0, USER)

    env.figures.values[("churn-api", "error_rate")] = 0.01
    assert env.svc.evaluate(T0) == {}
    assert env.figures.asked == [("churn-api", "error_rate", 300, T0)]
    env.figures.values[("churn-api", "error_rate")] = 0.2
    assert env.svc.evaluate(T0 + MIN) == {rule.id: "firing"}
    assert env.svc.evaluate(T0 + 2 * MIN) == {}  # still true: no second notification
    assert env.svc.evaluate(T0 + 3 * MIN) == {}

    (got,) = env.hook.got
    (firing,) = env.svc.firings()
    assert got.json() == {
        "rule": "errors", "rule_id": rule.id, "firing_id": firing.id, "deployment": "churn-api",
        "metric": "error_rate", "window_s": 300, "value": 0.2, "threshold": 0.05, "op": ">",
        "status": "firing", "started_at": T0 + MIN, "ended_at": None,
        "url": "http://ui.test/monitoring/churn-api",
    }  # fmt: skip
    assert (firing.status, firing.started_at, firing.value, firing.notified_at) == (
        "firing", T0 + MIN, 0.2, T0 + MIN,
    )  # fmt: skip
    assert env.svc.active_count("churn-api") == 1
    stored = env.svc.get_rule(rule.id)
    assert (stored.state, stored.last_value, stored.last_evaluated) == ("firing", 0.2, T0 + 3 * MIN)

    env.figures.values[("churn-api", "error_rate")] = 0.04
    assert env.svc.evaluate(T0 + 4 * MIN) == {rule.id: "ok"}
    assert len(env.hook.got) == 2
    resolved = env.hook.got[1].json()
    assert (resolved["status"], resolved["value"], resolved["ended_at"]) == (
        "resolved",
        0.04,
        T0 + 4 * MIN,
    )
    (firing,) = env.svc.firings()
    assert (firing.status, firing.ended_at, firing.resolved_by) == (
        "resolved",
        T0 + 4 * MIN,
        "alerts",
    )
    assert env.svc.active_count("churn-api") == 0
    assert env.kinds(rule.id) == ["created", "firing", "sent", "resolved", "sent"]
    sent = env.svc.events(rule.id)[2]
    assert sent.detail["channel"] == "webhook"
    assert sent.detail["target"] == f"http://127.0.0.1:{env.hook.port}"  # never the URL's path
    assert sent.detail["result"].startswith("HTTP 200")

    # it fires again when the condition comes back
    env.figures.values[("churn-api", "error_rate")] = 0.3
    assert env.svc.evaluate(T0 + 5 * MIN) == {rule.id: "firing"}
    assert [f.status for f in env.svc.firings()] == ["firing", "resolved"]
    assert len(env.hook.got) == 3


def test_for_seconds_pending_then_firing(env: Env) -> None:
    rule = make_rule(env, for_s="2m")
    assert rule.for_s == 120
    env.figures.values[("churn-api", "error_rate")] = 0.2
    assert env.svc.evaluate(T0) == {rule.id: "pending"}
    assert env.svc.get_rule(rule.id).pending_since == T0
    assert env.svc.evaluate(T0 + MIN) == {}
    env.figures.values[("churn-api", "error_rate")] = 0.0  # cleared before it held for 2m
    assert env.svc.evaluate(T0 + 90_000) == {rule.id: "ok"}
    env.figures.values[("churn-api", "error_rate")] = 0.2
    assert env.svc.evaluate(T0 + 2 * MIN) == {rule.id: "pending"}
    assert env.svc.evaluate(T0 + 3 * MIN) == {}
    assert env.svc.firings() == []
    assert env.hook.got == []
    assert env.svc.evaluate(T0 + 4 * MIN) == {rule.id: "firing"}
    assert len(env.hook.got) == 1
    assert env.kinds(rule.id) == ["created", "pending", "ok", "pending", "firing", "sent"]


def test_no_data_keeps_the_state_and_never_fires(env: Env) -> None:
    rule = make_rule(env, for_s=60)
    assert env.svc.evaluate(T0) == {}  # no figure at all
    shown = env.svc.get_rule(rule.id).to_json()
    assert (shown["state"], shown["status"]) == ("ok", "no_data")
    env.figures.values[("churn-api", "error_rate")] = 0.2
    assert env.svc.evaluate(T0 + MIN) == {rule.id: "pending"}
    env.figures.values[("churn-api", "error_rate")] = None
    for minute in (3, 4, 5):  # for_s long passed, but no data never fires
        assert env.svc.evaluate(T0 + minute * MIN) == {}
    shown = env.svc.get_rule(rule.id).to_json()
    assert (shown["state"], shown["status"], shown["pending_since"]) == (
        "pending",
        "no_data",
        T0 + MIN,
    )
    assert env.svc.firings() == []

    env.figures.values[("churn-api", "error_rate")] = 0.2
    assert env.svc.evaluate(T0 + 6 * MIN) == {rule.id: "firing"}
    env.figures.values[("churn-api", "error_rate")] = None  # a firing is not resolved by no data
    assert env.svc.evaluate(T0 + 7 * MIN) == {}
    assert [f.status for f in env.svc.firings()] == ["firing"]
    assert env.kinds(rule.id) == [
        "created",
        "no_data",
        "pending",
        "no_data",
        "firing",
        "sent",
        "no_data",
    ]


def test_silencing_stops_the_next_notification(env: Env) -> None:
    rule = make_rule(env)
    env.figures.values[("churn-api", "error_rate")] = 0.2
    env.svc.evaluate(T0)
    assert len(env.hook.got) == 1
    env.figures.values[("churn-api", "error_rate")] = 0.0
    env.svc.evaluate(T0 + MIN)
    assert len(env.hook.got) == 2  # resolved

    env.svc.clock = lambda: T0 + 2 * MIN
    silenced = env.svc.silence(rule.id, 30, user="bob")
    assert silenced.silenced_until == T0 + 32 * MIN
    env.figures.values[("churn-api", "error_rate")] = 0.2
    assert env.svc.evaluate(T0 + 3 * MIN) == {rule.id: "firing"}  # recorded, not sent
    (firing, _) = env.svc.firings()
    assert (firing.status, firing.notified_at) == ("firing", None)
    assert len(env.hook.got) == 2
    env.svc.evaluate(T0 + 20 * MIN)
    assert len(env.hook.got) == 2
    # the silence ends while it still fires: now it is told, once
    env.svc.evaluate(T0 + 33 * MIN)
    assert len(env.hook.got) == 3
    assert env.hook.got[2].json()["status"] == "firing"
    assert env.hook.got[2].json()["started_at"] == T0 + 3 * MIN
    env.svc.evaluate(T0 + 34 * MIN)
    assert len(env.hook.got) == 3
    kinds = env.kinds(rule.id)
    assert kinds[-4:] == ["silenced", "firing", "muted", "sent"]
    assert env.svc.events(rule.id)[-4].actor == "bob"

    unsilenced = env.svc.unsilence(rule.id, user="bob")
    assert unsilenced.silenced_until is None


def test_acknowledged_firings_send_no_repeats(env: Env) -> None:
    env.svc.repeat_ms = 10 * MIN
    rule = make_rule(env)
    env.figures.values[("churn-api", "error_rate")] = 0.2
    env.svc.evaluate(T0)
    env.svc.evaluate(T0 + 5 * MIN)
    assert len(env.hook.got) == 1
    env.svc.evaluate(T0 + 10 * MIN)  # not acknowledged: repeated
    assert len(env.hook.got) == 2
    (firing,) = env.svc.firings(status="firing")
    acked = env.svc.acknowledge(firing.id, user="bob")
    assert (acked.status, acked.acknowledged_by) == ("acknowledged", "bob")
    assert env.svc.acknowledge(firing.id, user="carol").acknowledged_by == "bob"  # idempotent
    env.svc.evaluate(T0 + 30 * MIN)
    env.svc.evaluate(T0 + 60 * MIN)
    assert len(env.hook.got) == 2
    assert env.svc.firings(status="active") == [acked]
    env.figures.values[("churn-api", "error_rate")] = 0.0
    env.svc.evaluate(T0 + 61 * MIN)  # the end is still told
    assert [g.json()["status"] for g in env.hook.got] == ["firing", "firing", "resolved"]
    assert "acknowledged" in env.kinds(rule.id)


def test_a_manual_resolve_waits_for_the_condition_to_clear(env: Env) -> None:
    rule = make_rule(env)
    env.figures.values[("churn-api", "error_rate")] = 0.2
    env.svc.evaluate(T0)
    (firing,) = env.svc.firings()
    done = env.svc.resolve(firing.id, user="bob")
    assert (done.status, done.resolved_by) == ("resolved", "bob")
    assert env.svc.get_rule(rule.id).state == "resolved"
    with pytest.raises(InvalidState, match="already resolved"):
        env.svc.resolve(firing.id, user="bob")
    with pytest.raises(InvalidState, match="already resolved"):
        env.svc.acknowledge(firing.id, user="bob")
    for minute in (1, 2, 3):  # still true: no new firing
        assert env.svc.evaluate(T0 + minute * MIN) == {}
    assert len(env.svc.firings()) == 1
    env.figures.values[("churn-api", "error_rate")] = 0.0
    assert env.svc.evaluate(T0 + 4 * MIN) == {rule.id: "ok"}
    env.figures.values[("churn-api", "error_rate")] = 0.2
    assert env.svc.evaluate(T0 + 5 * MIN) == {rule.id: "firing"}
    assert len(env.svc.firings()) == 2
    assert len(env.hook.got) == 2  # two firings; the manual resolve tells nobody
    with pytest.raises(NotFound):
        env.svc.resolve(99_999, user="bob")


def test_a_failed_channel_is_recorded_and_the_others_still_go(env: Env) -> None:
    dead = f"http://127.0.0.1:{closed_port()}/x"
    rule = make_rule(
        env, channels=[{"type": "webhook", "url": dead}, {"type": "slack", "url": env.hook.url}]
    )
    env.figures.values[("churn-api", "error_rate")] = 0.2
    env.svc.evaluate(T0)
    assert len(env.hook.got) == 1
    assert "blocks" in env.hook.got[0].json()
    events = {e.kind: e for e in env.svc.events(rule.id)}
    assert "could not connect" in events["failed"].detail["error"]
    assert events["failed"].detail["channel"] == "webhook"
    assert events["sent"].detail["channel"] == "slack"


def test_a_slow_webhook_holds_no_other_rule(env: Env) -> None:
    with webhook() as slow:
        slow.delay = 1.5
        make_rule(env, "slow", channels=[{"type": "webhook", "url": slow.url}])
        make_rule(env, "fast")
        env.svc.notifier.timeout = 1.0
        env.figures.values[("churn-api", "error_rate")] = 0.2
        started = time.monotonic()
        assert sorted(env.svc.evaluate(T0).values()) == ["firing", "firing"]
        took = time.monotonic() - started
    assert len(env.hook.got) == 1
    assert env.hook.arrived[0] - started < 0.9  # sent beside the slow one, not after it
    assert took >= 1.0


def test_a_firing_rule_rolls_its_deployment_back(env: Env) -> None:
    env.deployments.set_traffic("churn-api", [{"version": 2, "weight": 100}], user=USER)
    assert env.deployments.get("churn-api").stable == 2
    rule = make_rule(env, action="rollback")
    env.figures.values[("churn-api", "error_rate")] = 0.2
    env.svc.evaluate(T0)
    d = env.deployments.get("churn-api")
    assert (d.stable, d.previous) == (1, 2)
    last = env.deployments.history("churn-api")[-1]
    assert (last.actor, last.action) == ("alerts", "rollback")
    assert "alert 'errors' fired" in last.reason
    action = next(e for e in env.svc.events(rule.id) if e.kind == "action")
    assert action.detail == {"name": "rollback", "ok": True, "result": "rolled churn-api back"}
    env.svc.evaluate(T0 + MIN)  # still firing: the action ran once
    assert env.kinds(rule.id).count("action") == 1

    # an action that fails is an event too, and the notification still went
    env.figures.values[("churn-api", "error_rate")] = 0.0
    env.svc.evaluate(T0 + 2 * MIN)
    env.figures.values[("churn-api", "error_rate")] = 0.2
    env.svc.evaluate(T0 + 3 * MIN)  # fires again: back to v2 (the previous one now)
    env.figures.values[("churn-api", "error_rate")] = 0.0
    env.svc.evaluate(T0 + 4 * MIN)
    env.deployments.delete("churn-api", user=USER)
    env.figures.values[("churn-api", "error_rate")] = 0.2
    env.svc.evaluate(T0 + 5 * MIN)
    failed = [e for e in env.svc.events(rule.id) if e.kind == "action"][-1]
    assert failed.detail["ok"] is False
    assert "does not exist" in failed.detail["error"]


def test_two_replicas_never_fire_twice(env: Env, store_uri: str, tmp_path: Path) -> None:
    """Each replica has its own store connection and service; they evaluate at the same time."""
    other = open_stores(store_uri, str(tmp_path / "art"))
    replica = service(other, env.figures)
    try:
        rule = make_rule(env)
        env.figures.values[("churn-api", "error_rate")] = 0.2
        for round_ in range(5):
            barrier = threading.Barrier(2)
            now = T0 + round_ * MIN

            def run(svc: AlertService, at: int = now, gate: threading.Barrier = barrier) -> None:
                gate.wait()
                svc.evaluate(at)

            threads = [threading.Thread(target=run, args=(s,)) for s in (env.svc, replica)]
            for t in threads:
                t.start()
            for t in threads:
                t.join()
        assert len(env.svc.firings()) == 1
        assert len(env.hook.got) == 1
        assert env.kinds(rule.id).count("firing") == 1
    finally:
        replica.close()
        other.close()


def test_a_step_on_a_stale_read_writes_nothing(env: Env) -> None:
    rule = make_rule(env)
    env.figures.values[("churn-api", "error_rate")] = 0.2
    stale = env.svc.get_rule(rule.id)
    env.svc.evaluate(T0)  # another replica fired it
    step = env.stores.db.write(lambda conn: env.svc._step(conn, stale, 0.2, T0 + 1))
    assert step is None
    assert len(env.svc.firings()) == 1
    # an edit between read and write wins the same way
    fresh = env.svc.get_rule(rule.id)
    env.svc.update_rule(rule.id, {"threshold": 0.5}, user=USER)
    assert env.stores.db.write(lambda conn: alerts_repo.advance(conn, fresh, state="ok")) is False


def test_rule_checks(env: Env) -> None:
    def refused(field_name: str, match: str, **options: Any) -> None:
        with pytest.raises(InvalidInput, match=match) as caught:
            make_rule(env, "bad", **options)
        assert caught.value.details["field"] == field_name

    refused("op", "op must be one of", op="=>")
    refused("threshold", "finite", threshold=float("nan"))
    refused("threshold", "finite", threshold=float("inf"))
    refused("threshold", "a number", threshold="0.5")
    refused("window", "duration", window="5 minutes")
    refused("window", "between 1 and", window=0)
    refused("for", "between 0 and", for_s=-5)
    refused(
        "channels", "http or https", channels=[{"type": "webhook", "url": "file:///etc/passwd"}]
    )
    refused("channels", "channel type", channels=[{"type": "pager", "url": "https://x"}])
    refused("channels", "is not an e-mail address",
            channels=[{"type": "email", "to": ["ops@example.com\r\nBcc: x@evil.test"]}])  # fmt: skip
    refused("action", "action must be one of: rollback", action="retrain")
    refused("enabled", "true or false", enabled="yes")
    with pytest.raises(InvalidInput, match="not a monitoring figure") as caught:
        env.svc.create_rule(
            "bad", "churn-api", "accuracyy", window=60, op=">", threshold=1, user=USER
        )
    assert caught.value.details["field"] == "metric"
    drift = env.svc.create_rule(
        "drift", "churn-api", "drift_score:age", window="1d", op=">=", threshold=0.2, user=USER
    )
    assert (drift.metric, drift.window_s, drift.channels) == ("drift_score:age", 86_400, ())
    with pytest.raises(NotFound, match="no deployment or registered model") as lost:
        env.svc.create_rule("x", "nope", "errors", window=60, op=">", threshold=1, user=USER)
    assert lost.value.details["field"] == "deployment"
    assert env.svc.create_rule(
        "by-model", "churn", "accuracy", window=60, op="<", threshold=0.8, user=USER
    )
    make_rule(env, "dup")
    with pytest.raises(AlreadyExists, match="'dup' already exists"):
        make_rule(env, "dup")
    with pytest.raises(AlreadyExists):
        env.svc.update_rule(drift.id, {"name": "dup"}, user=USER)
    with pytest.raises(InvalidInput, match="cannot be changed") as caught:
        env.svc.update_rule(drift.id, {"state": "ok"}, user=USER)
    assert caught.value.details["field"] == "state"
    with pytest.raises(InvalidInput, match="minutes"):
        env.svc.silence(drift.id, 0, user=USER)
    with pytest.raises(InvalidInput, match="status must be one of"):
        env.svc.firings(status="burning")


def test_update_disable_and_delete_keep_the_history(env: Env) -> None:
    rule = make_rule(env)
    env.figures.values[("churn-api", "error_rate")] = 0.2
    env.svc.evaluate(T0)
    changed = env.svc.update_rule(
        rule.id, {"threshold": 0.1, "for": "1m", "window": "1h"}, user="bob"
    )
    assert (changed.threshold, changed.for_s, changed.window_s, changed.state) == (
        0.1,
        60,
        3600,
        "firing",
    )
    off = env.svc.update_rule(rule.id, {"enabled": False}, user="bob")
    assert (off.enabled, off.state) == (False, "ok")
    (firing,) = env.svc.firings()
    assert (firing.status, firing.resolved_by) == ("resolved", "bob")
    assert env.svc.evaluate(T0 + MIN) == {}  # disabled: not evaluated
    assert env.figures.asked[-1][3] == T0

    env.svc.clock = lambda: T0 + 2 * MIN
    env.svc.delete_rule(rule.id, user="bob")
    with pytest.raises(NotFound):
        env.svc.get_rule(rule.id)
    assert env.kinds(rule.id)[-1] == "deleted"  # the history outlives the rule
    assert env.svc.firings(deployment="churn-api")[0].rule_name == "errors"
    with pytest.raises(NotFound):
        env.svc.events(12_345)


def test_one_failing_figure_stops_no_other_rule(env: Env) -> None:
    bad = env.svc.create_rule(
        "broken", "churn-api", "latency_p99_ms", window=60, op=">", threshold=1, user=USER
    )
    good = make_rule(env)

    def figure(deployment: str, metric: str, window_s: int, now_ms: int) -> float | None:
        if metric == "latency_p99_ms":
            raise RuntimeError("the store is gone")
        return 0.2

    env.svc.figure = figure
    assert env.svc.evaluate(T0) == {good.id: "firing"}
    assert env.svc.get_rule(bad.id).last_evaluated is None
