"""The alerts service: rules, their evaluation on a schedule, notifications, silences,
acknowledgements and resolutions, and the history of every firing.

One pass (``evaluate``) reads each enabled rule, asks the figure source for its value and
moves the rule on: ``ok`` -> ``pending`` (the condition holds, ``for_s`` not yet) -> ``firing``
(a firing row; one notification per channel) -> ``ok`` again once the condition is false (a
``resolved`` notification). A manual resolve leaves the rule ``resolved`` until the condition
is false again. No data keeps the state. Each rule's step is one transaction that writes only
if the rule is still as read (compare-and-set), so replicas never fire twice; notifications
and actions run after it commits, in a small thread pool, and are recorded as events.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterable, Mapping
from concurrent.futures import Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field, replace
from functools import partial
from typing import Any
from urllib.parse import quote

from sqlalchemy import Connection

from modelyard.errors import InvalidInput, InvalidState, NotFound
from modelyard.monitoring import rules as checks
from modelyard.monitoring.notify import Notice, Notifier
from modelyard.monitoring.rules import FIRING_STATUSES, AlertEvent, AlertRule, Firing
from modelyard.store.metadata import alerts_repo as repo
from modelyard.store.metadata.database import Database
from modelyard.store.metadata.sql import now_ms
from modelyard.tracking import validation as v

log = logging.getLogger("modelyard.alerts")

Figure = Callable[[str, str, int, int], float | None]  # (deployment, metric, window_s, now_ms)
Action = Callable[[AlertRule, Firing], object]  # what it returns is kept in the "action" event
SYSTEM = "alerts"  # the actor of what the evaluation does
REPEAT_S = 3600  # a firing nobody acknowledged is notified again this often
MAX_SILENCE_MIN = 30 * 24 * 60
UPDATABLE = ("name", "deployment", "metric", "window", "op", "threshold", "for", "channels",
             "action", "enabled")  # fmt: skip


def no_figure(_deployment: str, _metric: str, _window_s: int, _now_ms: int) -> float | None:
    """The figure source while no monitoring domain is there: never any data."""
    return None


def rollback_action(rollback: Callable[..., object]) -> Action:
    """The "rollback" action over ``DeploymentService.rollback``."""

    def act(rule: AlertRule, firing: Firing) -> object:
        reason = f"alert {rule.name!r} fired: {rule.metric} = {firing.value} ({rule.op} {rule.threshold:g})"
        rollback(rule.deployment, user=SYSTEM, reason=reason[:500])
        return f"rolled {rule.deployment} back"

    return act


@dataclass
class _Step:
    """What one rule's evaluation decided, to do once its transaction committed."""

    rule: AlertRule
    sends: list[Notice] = field(default_factory=list)
    action: Firing | None = None
    transition: str | None = None


class AlertService:
    """One object per server (or embedded store); safe to share between threads."""

    def __init__(
        self,
        db: Database,
        *,
        figure: Figure = no_figure,
        notifier: Notifier | None = None,
        actions: Mapping[str, Action] | None = None,
        clock: Callable[[], int] = now_ms,
        base_url: str | None = None,
        repeat_s: int = REPEAT_S,
        workers: int = 8,
    ) -> None:
        self.db = db
        self.figure = figure
        self.notifier = notifier if notifier is not None else Notifier()
        self.actions = dict(actions or {})
        self.clock = clock
        self.base_url = base_url  # where the web UI answers, for the links in notifications
        self.repeat_ms = repeat_s * 1000
        self._pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="modelyard-alert")
        self._lock = threading.Lock()  # one pass at a time in this process

    def close(self) -> None:
        self._pool.shutdown(wait=True)
        self.notifier.close()

    # ---- rules ---------------------------------------------------------------------------

    def _checked(self, rule: AlertRule, conn: Connection) -> None:
        if not repo.target_exists(conn, rule.deployment):
            raise NotFound(
                f"no deployment or registered model is called {rule.deployment!r}",
                field="deployment",
                deployment=rule.deployment,
            )

    def _check_channels(self, channels: Iterable[Mapping[str, Any]]) -> None:
        for channel in channels:
            self.notifier.check(channel)

    def create_rule(
        self,
        name: str,
        deployment: str,
        metric: str,
        *,
        window: object,
        op: str,
        threshold: float,
        user: str,
        for_s: object = 0,
        channels: object = None,
        action: object = None,
        enabled: bool = True,
    ) -> AlertRule:
        """A rule on one figure of a deployment (or of a model with SDK-logged predictions)."""
        now = self.clock()
        rule = AlertRule(
            id=0,
            name=v.clean_name(name, "name", 250),
            deployment=v.clean_name(deployment, "deployment", 500),
            metric=checks.metric(metric),
            window_s=checks.window(window),
            op=checks.op(op),
            threshold=checks.threshold(threshold),
            for_s=checks.for_seconds(for_s),
            channels=tuple(checks.channels_shape(channels)),
            action=checks.action(action, sorted(self.actions)),
            enabled=_flag(enabled),
            created_by=user,
            created_at=now,
            updated_at=now,
        )
        self._check_channels(rule.channels)

        def job(conn: Connection) -> AlertRule:
            self._checked(rule, conn)
            stored = repo.insert(conn, rule)
            repo.add_event(conn, stored.id, None, now, "created", user, rule=_definition(stored))
            return stored

        return self.db.write(job)

    def rules(self, deployment: str | None = None) -> list[AlertRule]:
        with self.db.read() as conn:
            return repo.list_rules(conn, deployment)

    def get_rule(self, rule_id: int) -> AlertRule:
        with self.db.read() as conn:
            return repo.get(conn, rule_id)

    def update_rule(self, rule_id: int, changes: Mapping[str, Any], *, user: str) -> AlertRule:
        """Change the fields named in ``changes`` (as the rule's JSON names them)."""
        for key in changes:
            if key not in UPDATABLE:
                raise InvalidInput(
                    f"{key!r} cannot be changed (only {', '.join(UPDATABLE)})", field=key
                )
        fields: dict[str, Any] = {}
        if "name" in changes:
            fields["name"] = v.clean_name(changes["name"], "name", 250)
        if "deployment" in changes:
            fields["deployment"] = v.clean_name(changes["deployment"], "deployment", 500)
        if "metric" in changes:
            fields["metric"] = checks.metric(changes["metric"])
        if "window" in changes:
            fields["window_s"] = checks.window(changes["window"])
        if "op" in changes:
            fields["op"] = checks.op(changes["op"])
        if "threshold" in changes:
            fields["threshold"] = checks.threshold(changes["threshold"])
        if "for" in changes:
            fields["for_s"] = checks.for_seconds(changes["for"])
        if "channels" in changes:
            fields["channels"] = tuple(checks.channels_shape(changes["channels"]))
            self._check_channels(fields["channels"])
        if "action" in changes:
            fields["action"] = checks.action(changes["action"], sorted(self.actions))
        if "enabled" in changes:
            fields["enabled"] = _flag(changes["enabled"])

        def job(conn: Connection) -> AlertRule:
            before = repo.get(conn, rule_id)
            now = max(self.clock(), before.updated_at + 1)
            after = replace(before, **fields, updated_at=now)
            if after.deployment != before.deployment:
                self._checked(after, conn)
            stored = repo.update(conn, after)
            repo.add_event(conn, rule_id, None, now, "updated", user, changes=sorted(changes))
            if before.enabled and not stored.enabled:
                self._close(conn, stored, now, user, "disabled")
                repo.set_state(conn, rule_id, state="ok", pending_since=None)
                stored = repo.get(conn, rule_id)
            return stored

        return self.db.write(job)

    def delete_rule(self, rule_id: int, *, user: str) -> None:
        """Remove the rule; its open firing is resolved, and its history stays."""

        def job(conn: Connection) -> None:
            rule = repo.get(conn, rule_id)
            now = self.clock()
            self._close(conn, rule, now, user, "deleted")
            repo.add_event(conn, rule_id, None, now, "deleted", user, rule=_definition(rule))
            repo.remove(conn, rule_id)

        self.db.write(job)

    def _close(self, conn: Connection, rule: AlertRule, now: int, user: str, why: str) -> None:
        firing = repo.active_firing(conn, rule.id)
        if firing is not None:
            repo.change_firing(conn, firing.id, status="resolved", ended_at=now, resolved_by=user)
            repo.add_event(conn, rule.id, firing.id, now, "resolved", user, reason=why)

    def silence(self, rule_id: int, minutes: float, *, user: str) -> AlertRule:
        """No notification from this rule for ``minutes`` (it still evaluates and records)."""
        if isinstance(minutes, bool) or not isinstance(minutes, int | float):
            raise InvalidInput("minutes must be a number", field="minutes")
        if not 0 < minutes <= MAX_SILENCE_MIN:
            raise InvalidInput(
                f"minutes must be above 0 and at most {MAX_SILENCE_MIN}", field="minutes"
            )

        def job(conn: Connection) -> AlertRule:
            repo.get(conn, rule_id)
            now = self.clock()
            until = now + int(minutes * 60_000)
            repo.set_state(conn, rule_id, silenced_until=until)
            repo.add_event(conn, rule_id, None, now, "silenced", user, until=until)
            return repo.get(conn, rule_id)

        return self.db.write(job)

    def unsilence(self, rule_id: int, *, user: str) -> AlertRule:
        def job(conn: Connection) -> AlertRule:
            repo.get(conn, rule_id)
            repo.set_state(conn, rule_id, silenced_until=None)
            repo.add_event(conn, rule_id, None, self.clock(), "unsilenced", user)
            return repo.get(conn, rule_id)

        return self.db.write(job)

    # ---- firings -------------------------------------------------------------------------

    def firings(
        self,
        *,
        deployment: str | None = None,
        status: str | None = None,
        rule_id: int | None = None,
        limit: int = 1000,
    ) -> list[Firing]:
        """Firings, newest first; ``status`` is firing, acknowledged, resolved or active."""
        if status is not None and status not in (*FIRING_STATUSES, "active"):
            raise InvalidInput(
                f"status must be one of {', '.join(FIRING_STATUSES)} or active, not {status!r}",
                field="status",
            )
        with self.db.read() as conn:
            return repo.firings(
                conn, deployment=deployment, status=status, rule_id=rule_id, limit=limit
            )

    def get_firing(self, firing_id: int) -> Firing:
        with self.db.read() as conn:
            return repo.get_firing(conn, firing_id)

    def active_count(self, deployment: str) -> int:
        """Firings of the deployment not resolved yet (for the monitoring overview)."""
        with self.db.read() as conn:
            return repo.count_active(conn, deployment)

    def acknowledge(self, firing_id: int, *, user: str) -> Firing:
        """Someone is on it: no repeated notifications of this firing."""

        def job(conn: Connection) -> Firing:
            firing = repo.get_firing(conn, firing_id)
            if firing.status == "resolved":
                raise InvalidState(f"firing {firing_id} is already resolved", firing_id=firing_id)
            if firing.status == "acknowledged":
                return firing
            now = self.clock()
            repo.change_firing(
                conn, firing_id, status="acknowledged", acknowledged_by=user, acknowledged_at=now
            )
            repo.add_event(conn, firing.rule_id, firing_id, now, "acknowledged", user)
            return repo.get_firing(conn, firing_id)

        return self.db.write(job)

    def resolve(self, firing_id: int, *, user: str) -> Firing:
        """End the firing by hand; its rule fires again only once its condition was false."""

        def job(conn: Connection) -> Firing:
            firing = repo.get_firing(conn, firing_id)
            if firing.status == "resolved":
                raise InvalidState(f"firing {firing_id} is already resolved", firing_id=firing_id)
            now = self.clock()
            repo.change_firing(conn, firing_id, status="resolved", ended_at=now, resolved_by=user)
            repo.add_event(conn, firing.rule_id, firing_id, now, "resolved", user, reason="by hand")
            try:
                rule = repo.get(conn, firing.rule_id)
            except NotFound:
                return repo.get_firing(conn, firing_id)
            if rule.state == "firing":
                repo.set_state(conn, rule.id, state="resolved", pending_since=None)
            return repo.get_firing(conn, firing_id)

        return self.db.write(job)

    def events(self, rule_id: int, *, firing_id: int | None = None) -> list[AlertEvent]:
        """The rule's history, oldest first (kept after the rule is deleted)."""
        with self.db.read() as conn:
            found = repo.events(conn, rule_id, firing_id=firing_id)
            if not found and not repo.any_event(conn, rule_id):
                repo.get(conn, rule_id)  # NotFound for an id never used
            return found

    # ---- evaluation ----------------------------------------------------------------------

    def evaluate(self, now: int | None = None) -> dict[int, str]:
        """One pass over the enabled rules; waits for its notifications and actions.

        Returns ``{rule id: transition}`` for the rules whose state this pass changed."""
        with self._lock:
            at = self.clock() if now is None else now
            with self.db.read() as conn:
                found = [r for r in repo.list_rules(conn) if r.enabled]
            steps: list[_Step] = []
            for rule in found:
                try:
                    value = self.figure(rule.deployment, rule.metric, rule.window_s, at)
                except Exception:  # one rule's figure failing never stops the others
                    log.exception("modelyard: alert rule %r: its figure failed", rule.name)
                    continue
                try:
                    step = self.db.write(partial(self._step, rule=rule, value=value, now=at))
                except Exception:
                    log.exception("modelyard: alert rule %r: evaluation failed", rule.name)
                    continue
                if step is not None:
                    steps.append(step)
            futures: list[Future[None]] = []
            for step in steps:
                futures += [
                    self._pool.submit(self._deliver, step.rule, c, n, at)
                    for n in step.sends
                    for c in step.rule.channels
                ]
                if step.action is not None and step.rule.action is not None:
                    futures.append(self._pool.submit(self._act, step.rule, step.action, at))
            wait(futures)
            return {s.rule.id: s.transition for s in steps if s.transition is not None}

    def _step(
        self, conn: Connection, rule: AlertRule, value: float | None, now: int
    ) -> _Step | None:
        """Move ``rule`` on by ``value``; None if another evaluation or an edit came first."""
        step = _Step(rule)
        state, pending = rule.state, rule.pending_since
        events: list[tuple[str, dict[str, Any]]] = []
        fire = close = False
        if value is None:
            if rule.last_value is not None or rule.last_evaluated is None:
                events.append(("no_data", {}))
        elif rule.holds(value):
            if state == "ok" and rule.for_s > 0:
                state, pending = "pending", now
                events.append(("pending", {"value": value}))
            elif state in ("ok", "pending") and (
                pending is None or now - pending >= rule.for_s * 1000
            ):
                fire = True
        elif state in ("pending", "resolved"):
            events.append(("ok", {"value": value}))
            state, pending = "ok", None
        elif state == "firing":
            close = True
        if fire:
            state, pending = "firing", None
        if close:
            state = "ok"
        written = repo.advance(
            conn,
            rule,
            state=state,
            pending_since=pending,
            last_value=value,
            last_evaluated=max(now, (rule.last_evaluated or 0) + 1),
        )
        if not written:
            return None
        if state != rule.state:
            step.transition = state
        for kind, detail in events:
            repo.add_event(conn, rule.id, None, now, kind, SYSTEM, **detail)
        silenced = rule.silenced(now)
        firing = repo.active_firing(conn, rule.id)
        if fire:
            firing = repo.open_firing(conn, rule, now, value)
            repo.add_event(conn, rule.id, firing.id, now, "firing", SYSTEM, value=value)
            step.action = firing
            if silenced and rule.channels:
                repo.add_event(
                    conn, rule.id, firing.id, now, "muted", SYSTEM, until=rule.silenced_until
                )
        if close and firing is not None:
            repo.change_firing(conn, firing.id, status="resolved", ended_at=now, resolved_by=SYSTEM)
            repo.add_event(conn, rule.id, firing.id, now, "resolved", SYSTEM, value=value)
            ended = repo.get_firing(conn, firing.id)
            if firing.notified_at is not None and rule.channels:
                if silenced:
                    repo.add_event(
                        conn, rule.id, firing.id, now, "muted", SYSTEM, until=rule.silenced_until
                    )
                else:
                    step.sends.append(
                        Notice(rule, ended, "resolved", value, self.link(rule.deployment))
                    )
            return step
        due = (
            state == "firing"
            and firing is not None
            and firing.status == "firing"
            and rule.channels
            and not silenced
            and (firing.notified_at is None or now - firing.notified_at >= self.repeat_ms)
        )
        if due and firing is not None and repo.claim_notice(conn, firing.id, now):
            shown = value if value is not None else firing.value
            step.sends.append(Notice(rule, firing, "firing", shown, self.link(rule.deployment)))
        return step

    def link(self, deployment: str) -> str | None:
        """The deployment's monitoring page in the web UI (None: the server's address is unknown)."""
        if not self.base_url:
            return None
        return f"{self.base_url.rstrip('/')}/monitoring/{quote(deployment, safe='')}"

    def _deliver(
        self, rule: AlertRule, channel: Mapping[str, Any], notice: Notice, at: int
    ) -> None:
        where = _target(channel)
        try:
            result = self.notifier.send(channel, notice)
        except Exception as exc:
            message = getattr(exc, "message", None) or f"{type(exc).__name__}: {exc}"
            log.warning(
                "modelyard: alert %r: %s notification to %s failed: %s",
                rule.name,
                channel["type"],
                where,
                message,
            )
            kind, detail = "failed", {"error": message}
        else:
            kind, detail = "sent", {"result": result}
        event = {"channel": channel["type"], "target": where, "status": notice.status, **detail}
        self.db.write(
            lambda conn: repo.add_event(conn, rule.id, notice.firing.id, at, kind, SYSTEM, **event)
        )

    def _act(self, rule: AlertRule, firing: Firing, at: int) -> None:
        assert rule.action is not None
        act = self.actions.get(rule.action)
        try:
            if act is None:
                raise InvalidState(f"action {rule.action!r} is not available on this server")
            result = act(rule, firing)
        except Exception as exc:
            message = getattr(exc, "message", None) or f"{type(exc).__name__}: {exc}"
            log.warning(
                "modelyard: alert %r: action %s failed: %s", rule.name, rule.action, message
            )
            detail: dict[str, Any] = {"name": rule.action, "ok": False, "error": message}
        else:
            detail = {
                "name": rule.action,
                "ok": True,
                "result": None if result is None else str(result),
            }
        self.db.write(
            lambda conn: repo.add_event(conn, rule.id, firing.id, at, "action", SYSTEM, **detail)
        )


def _flag(value: object) -> bool:
    if not isinstance(value, bool):
        raise InvalidInput("enabled must be true or false", field="enabled")
    return value


def _target(channel: Mapping[str, Any]) -> str:
    """Where a channel sends, without the secret part of a webhook URL (its path and query)."""
    if channel["type"] == "email":
        return ", ".join(channel["to"])
    from urllib.parse import urlsplit

    parts = urlsplit(channel["url"])
    return f"{parts.scheme}://{parts.hostname}" + (f":{parts.port}" if parts.port else "")


def _definition(rule: AlertRule) -> dict[str, Any]:
    found = rule.to_json()
    return {
        k: found[k]
        for k in (
            "name",
            "deployment",
            "metric",
            "window_s",
            "op",
            "threshold",
            "for_s",
            "action",
            "enabled",
        )
    }
