"""The deployments service: create, change and delete deployments, take heartbeats, and run
the rollout controller's decisions.

Every change reads the deployment, computes the new policy and writes it by compare-and-set
on ``revision``, recording an event in the deployment's history and in the model's registry
history in the same transaction. A caller that names the revision it read gets CONFLICT when
another change came first; otherwise the change is re-applied to the newer state.
"""

from __future__ import annotations

import hmac
import secrets
from collections.abc import Callable, Iterable, Mapping
from dataclasses import replace
from types import EllipsisType
from typing import Any

from sqlalchemy import Connection

from modelyard.errors import Conflict, InvalidInput, InvalidState, NotFound, Unauthenticated
from modelyard.registry.checks import RESERVED_ALIAS
from modelyard.serving import checks, rollouts
from modelyard.serving.entities import (
    Deployment,
    DeploymentEvent,
    Instance,
    LogPolicy,
    Rollout,
    Split,
    Strategy,
)
from modelyard.serving.rollouts import AliasState, Decision
from modelyard.store.metadata import deployments_repo as repo
from modelyard.store.metadata import registry_repo
from modelyard.store.metadata.database import Database
from modelyard.store.metadata.sql import now_ms
from modelyard.tracking import validation as v

KEY_BYTES = 32  # of a deployment's logging key (HMAC-SHA256)
UNVERSIONED = frozenset({"serving-token", "serving-url"})  # kept out of the model's history
SERVING_PREFIX = "mys_"  # a serving token: the prefix and 43 URL-safe characters (256 bits)
RETRIES = 5  # re-applications of a change whose deployment another writer changed meanwhile
FORGET_INSTANCES_MS = 3_600_000  # instances silent this long are dropped (their process ended)

Change = Callable[[Connection, Deployment], tuple[Deployment, str, str]]  # after, action, reason
QualitySource = Callable[[str, int, str, int, int], tuple[float | None, int]]
"""(deployment, version, figure, since ms, until ms) -> (the figure or None, predictions behind it)"""


def _subject(before: Deployment | None, after: Deployment) -> int:
    """The version an event is about (for the model's registry history)."""
    if after.candidate is not None:
        return after.candidate.version
    if before is not None and before.candidate is not None:
        return before.candidate.version
    return after.stable


def _record(
    conn: Connection,
    before: Deployment | None,
    after: Deployment,
    actor: str,
    action: str,
    reason: str,
    at: int,
) -> None:
    routing_before = before.routing() if before is not None else {}
    routing_after = after.routing() if action != "delete" else {}
    if action in ("create", "set-logging"):  # what the log keeps (never the key)
        if before is not None:
            routing_before["logging"] = before.logging.to_json()
        routing_after["logging"] = after.logging.to_json()
    repo.add_event(conn, after.name, at, actor, action, reason, routing_before, routing_after)
    if action in UNVERSIONED:
        return  # about the deployment's serving processes, not about a version of the model
    registry_repo.record(
        conn, after.model, "deployment", actor, _subject(before, after),
        deployment=after.name, deployment_action=action, reason=reason,
    )  # fmt: skip


def new_serving_token() -> str:
    return SERVING_PREFIX + secrets.token_urlsafe(32)


def _serving_url(value: str | None, engine: str) -> str | None:
    """Where callers reach an "external" or "ray" deployment off this host (None: unset)."""
    if value is None or value == "":
        return None
    if engine == "process":
        raise InvalidInput(
            'serving_url is for engine "external" or "ray" (a "process" deployment serves '
            "on this host)",
            field="serving_url",
        )
    url = checks.instance_url(value, "serving_url")
    reason = checks.unreachable_host(checks.url_host(url))
    if reason is not None:
        raise InvalidInput(
            f"serving_url names a {reason} address, where no serving process listens (the "
            "availability probe fetches it)",
            field="serving_url",
        )
    return url


def _check_reach(d: Deployment, url: str, address: str) -> None:
    """A heartbeat's URL (which the availability probe fetches) names the serving process:
    loopback, the address the heartbeat came from, or the maintainer-set ``serving_url``."""
    host = checks.url_host(url)
    if checks.loopback(host) or checks.same_address(host, address):
        return
    set_url = d.serving_url if d.engine in ("external", "ray") else None
    if set_url is not None and checks.origin(url) == checks.origin(set_url):
        return
    raise InvalidInput(
        f"url {url!r} is not on loopback nor this heartbeat's own address ({address}); for an "
        "external or Ray deployment a maintainer sets where it serves "
        "(`modelyard deploy token NAME --serving-url URL`)",
        field="url",
    )


def _existing_versions(conn: Connection, model: str, wanted: Iterable[int]) -> None:
    for number in sorted(set(wanted)):
        registry_repo.get_version(conn, model, number)  # NotFound names the missing one


class DeploymentService:
    """One object per store; safe to share between threads."""

    def __init__(self, db: Database, clock: Callable[[], int] = now_ms) -> None:
        self.db = db
        self.clock = clock
        self.quality_source: QualitySource | None = None  # set by the monitoring domain

    # ---- reads ---------------------------------------------------------------------------

    def get(self, name: str) -> Deployment:
        with self.db.read() as conn:
            return repo.get(conn, name)

    def list_all(self) -> list[Deployment]:
        with self.db.read() as conn:
            return repo.list_all(conn)

    def status(self, name: str) -> tuple[Deployment, list[Instance]]:
        """The deployment and its instances (stale ones too: ``Instance.live`` tells)."""
        with self.db.read() as conn:
            return repo.get(conn, name), repo.instances(conn, name)

    def history(self, name: str) -> list[DeploymentEvent]:
        """Every policy change, oldest first; kept after the deployment is deleted."""
        with self.db.read() as conn:
            found = repo.events(conn, name)
            if not found:
                repo.get(conn, name)  # NotFound for a name never used
            return found

    # ---- changes -------------------------------------------------------------------------

    def create(
        self,
        name: str,
        model_uri: str,
        *,
        user: str,
        engine: str = "process",
        port: int | None = None,
        replicas: int = 1,
        rollout: Rollout | Mapping[str, Any] | None = None,
        sticky_header: str | None = None,
        logging: LogPolicy | Mapping[str, Any] | None = None,
        reason: str = "",
        serving_url: str | None = None,
    ) -> Deployment:
        """A deployment of ``models:/NAME@ALIAS`` (following the alias) or ``models:/NAME/N``;
        ``logging`` ({exclude, hash, sample}) says what its prediction log keeps;
        ``serving_url`` where callers reach an external or Ray deployment (its heartbeats may
        then report it). Its serving token is made here (``serving_token`` shows a new one)."""
        clean = v.clean_name(name, "deployment name")
        policy = checks.logging(logging, secrets.token_hex(KEY_BYTES))
        model, alias, number = checks.model_uri(model_uri)
        settings = checks.rollout(rollout)
        kind, where, count = checks.engine(engine), checks.port(port), checks.replicas(replicas)
        url = _serving_url(serving_url, kind)
        header, why = checks.sticky_header(sticky_header), checks.reason(reason)
        follow = alias if alias is not None and not RESERVED_ALIAS.match(alias) else None

        def job(conn: Connection) -> Deployment:
            if alias is not None:
                found = registry_repo.version_by_alias(conn, model, alias).version
            else:
                assert number is not None
                found = registry_repo.get_version(conn, model, number).version
            if where is not None:
                taken = [d.name for d in repo.list_all(conn) if d.port == where]
                if taken:
                    raise Conflict(f"port {where} is taken by deployment {taken[0]!r}", port=where)
            now = self.clock()
            d = Deployment(
                name=clean,
                model=model,
                follow=follow,
                engine=kind,
                port=where,
                replicas=count,
                created_by=user,
                created_at=now,
                updated_at=now,
                revision=1,
                traffic=(Split(found, 100.0),),
                shadow=(),
                warm=(),
                sticky_header=header,
                rollout=settings,
                stable=found,
                followed=found if follow else None,
                logging=policy,
                serving_secret=new_serving_token(),
                serving_url=url,
            )
            repo.insert(conn, d)
            text = why or f"serves {model_uri} (v{found})"
            _record(conn, None, d, user, "create", text, now)
            return d

        return self.db.write(job)

    def set_traffic(
        self,
        name: str,
        traffic: Iterable[Split | Mapping[str, Any]],
        *,
        user: str,
        shadow: Iterable[int] | None = None,
        sticky_header: str | EllipsisType | None = ...,
        reason: str = "",
        revision: int | None = None,
    ) -> Deployment:
        """Set the live split by hand (A/B, a manual canary), the shadow versions (None keeps
        them) and the sticky header (``...`` keeps it, None or "" removes it). Any rollout in
        progress is called off. Versions not loaded yet get their share once ready."""
        split = checks.traffic(traffic)
        live = [s.version for s in split]
        shadows = None if shadow is None else checks.shadow(shadow, live)
        header = sticky_header if sticky_header is ... else checks.sticky_header(sticky_header)
        why = checks.reason(reason)

        def change(conn: Connection, d: Deployment) -> tuple[Deployment, str, str]:
            keep = tuple(x for x in d.shadow if x not in live) if shadows is None else shadows
            _existing_versions(conn, d.model, [*live, *keep])
            heaviest = max(split, key=lambda s: (s.weight, s.version == d.stable, -s.version))
            stable = heaviest.version
            previous = d.stable if stable != d.stable else d.previous
            cancelled = d.candidate.version if d.candidate is not None else None
            # the previous stable stays loaded (for a rollback) once it has no traffic
            warm = (d.stable,) if stable != d.stable else tuple(x for x in d.warm if x != cancelled)
            if previous is not None and previous not in warm:
                warm = (*warm, previous)
            warm = tuple(x for x in warm if x not in live and x not in keep)
            after = replace(
                d,
                traffic=split,
                shadow=keep,
                warm=warm,
                sticky_header=d.sticky_header if header is ... else header,
                stable=stable,
                previous=previous,
                candidate=None,
            )
            text = why or "traffic set by hand"
            if cancelled is not None:
                text += f" (rollout of v{cancelled} called off)"
            return after, "set-traffic", text

        return self._change(name, change, user, revision)

    def set_logging(
        self,
        name: str,
        logging: LogPolicy | Mapping[str, Any],
        *,
        user: str,
        reason: str = "",
        revision: int | None = None,
    ) -> Deployment:
        """Set what the prediction log keeps of the inputs (columns excluded, columns hashed,
        the share of requests logged); the serving processes apply it at their next
        heartbeat. The hashing key stays (hashes keep matching across the change)."""
        why = checks.reason(reason)
        checks.logging(logging, "")  # refused before anything is read

        def change(_conn: Connection, d: Deployment) -> tuple[Deployment, str, str]:
            key = d.logging.key or secrets.token_hex(KEY_BYTES)  # made before keys existed
            after = replace(d, logging=checks.logging(logging, key))
            shown = after.logging.to_json()
            text = why or (
                f"logging: exclude {shown['exclude'] or '-'}, hash {shown['hash'] or '-'}, "
                f"sample {shown['sample']:g}"
            )
            return after, "set-logging", text

        return self._change(name, change, user, revision)

    def promote(
        self,
        name: str,
        version: int,
        *,
        user: str,
        reason: str = "",
        strategy: str | None = None,
        revision: int | None = None,
    ) -> Deployment:
        """Roll ``version`` out by the deployment's strategy (or ``strategy``): it loads and
        warms up, then takes traffic at once (blue-green) or step by step (canary)."""
        number = checks.version(version)
        how: Strategy | None = None if strategy is None else checks.strategy(strategy)
        why = checks.reason(reason)

        def change(conn: Connection, d: Deployment) -> tuple[Deployment, str, str]:
            _existing_versions(conn, d.model, [number])
            if number == d.stable and d.candidate is None:
                raise InvalidState(f"deployment {name!r} already serves v{number}")
            if d.candidate is not None and d.candidate.version == number:
                raise InvalidState(f"v{number} is already rolling out on {name!r}")
            chosen = how or d.rollout.strategy
            text = why or f"v{number} promoted ({chosen})"
            if number == d.stable:  # back to the stable while a rollout runs: call it off
                return rollouts.abort(d), "rollback", text
            after = rollouts.start(rollouts.abort(d), number, chosen, user, text, self.clock())
            return after, "promote", text

        return self._change(name, change, user, revision)

    def rollback(
        self, name: str, *, user: str, reason: str = "", revision: int | None = None
    ) -> Deployment:
        """Call off the rollout in progress; without one, all traffic back to the version that
        was stable before the last switch (kept warm for this)."""
        why = checks.reason(reason)

        def change(_conn: Connection, d: Deployment) -> tuple[Deployment, str, str]:
            if d.candidate is not None:
                text = f"rollout of v{d.candidate.version} called off"
                return rollouts.abort(d), "rollback", f"{text}: {why}" if why else text
            if d.previous is None:
                raise InvalidState(f"deployment {name!r} has no earlier version to roll back to")
            text = f"all traffic back on v{d.previous} from v{d.stable}"
            return rollouts.switch(d, d.previous), "rollback", f"{text}: {why}" if why else text

        return self._change(name, change, user, revision)

    def delete(self, name: str, *, user: str, reason: str = "") -> Deployment:
        """Remove the deployment (its serving processes stop); its history stays."""
        why = checks.reason(reason)

        def job(conn: Connection) -> Deployment:
            d = repo.get(conn, name)
            repo.remove(conn, name)
            _record(conn, d, d, user, "delete", why or "deleted", self.clock())
            return d

        return self.db.write(job)

    def serving_token(
        self,
        name: str,
        *,
        user: str,
        serving_url: str | EllipsisType | None = ...,
        reason: str = "",
    ) -> tuple[Deployment, str]:
        """Make the deployment a new serving token (the old one stops working at once) and
        return it: shown this once. ``serving_url`` (``...`` keeps it) is where callers reach an
        external or Ray deployment. Processes this server started are restarted with the new
        token by the supervisor."""
        token = new_serving_token()
        why = checks.reason(reason)

        def change(_conn: Connection, d: Deployment) -> tuple[Deployment, str, str]:
            url = d.serving_url if serving_url is ... else _serving_url(serving_url, d.engine)
            after = replace(d, serving_secret=token, serving_url=url)
            text = why or "new serving token" + (f"; serving at {url}" if url else "")
            return after, "serving-token", text

        return self._change(name, change, user, None), token

    def serving_secret(self, name: str) -> str:
        """The serving token the processes this server starts are given (made for a
        deployment from before serving tokens)."""
        d = self.get(name)
        if d.serving_secret:
            return d.serving_secret
        return self.serving_token(name, user="supervisor")[1]

    def set_serving_url(self, name: str, url: str, *, user: str) -> Deployment:
        """Where callers reach the deployment (the Ray engine sets its proxy's address)."""

        def change(_conn: Connection, d: Deployment) -> tuple[Deployment, str, str]:
            return replace(d, serving_url=_serving_url(url, d.engine)), "serving-url", url

        d = self.get(name)
        if d.serving_url == url:
            return d
        return self._change(name, change, user, None)

    def authenticate_serving(self, name: str, token: str | None) -> Deployment:
        """The deployment whose serving token ``token`` is; Unauthenticated otherwise (an
        unknown deployment alike: no names are told to callers without its token)."""
        try:
            d = self.get(name)
        except NotFound:
            d = None
        secret = d.serving_secret if d is not None else ""
        given = (token or "").encode()
        if not hmac.compare_digest(given, (secret or "-").encode()) or d is None or not secret:
            raise Unauthenticated(
                f"a serving process of deployment {name!r} sends its serving token in "
                "X-Serving-Token (MODELYARD_SERVING_TOKEN; `modelyard deploy token NAME` "
                "makes one)"
            )
        return d

    def heartbeat(
        self,
        name: str,
        instance: str,
        url: str,
        versions: object,
        *,
        token: str | None,
        address: str | None = None,
    ) -> Deployment:
        """Keep an instance's report (cumulative counters per version); answers the policy
        the instance must serve. ``token`` must be the deployment's serving token. With
        ``address`` (the request's, when auth is on) the URL must be on loopback or that
        address, or be the ``serving_url`` a maintainer set for an external or Ray one."""
        d = self.authenticate_serving(name, token)
        report = Instance(
            name,
            checks.instance_name(instance),
            checks.instance_url(url),
            0,
            checks.reports(versions),
        )
        if address is not None:
            _check_reach(d, report.url, address)

        def job(conn: Connection) -> Deployment:
            d = repo.get(conn, name)
            now = self.clock()
            repo.put_instance(conn, replace(report, last_seen=now), now - FORGET_INSTANCES_MS)
            return d

        return self.db.write(job)

    def _change(self, name: str, change: Change, user: str, revision: int | None) -> Deployment:
        def job(conn: Connection) -> Deployment:
            for _ in range(RETRIES):
                d = repo.get(conn, name)
                if revision is not None and d.revision != revision:
                    raise Conflict(
                        f"deployment {name!r} is at revision {d.revision}, not {revision}",
                        revision=d.revision,
                    )
                after, action, reason = change(conn, d)
                now = self.clock()
                after = replace(after, revision=d.revision + 1, updated_at=now)
                if repo.update(conn, after, d.revision):
                    _record(conn, d, after, user, action, reason, now)
                    return after
            raise Conflict(f"deployment {name!r} kept changing; try again")

        return self.db.write(job)

    # ---- the controller ------------------------------------------------------------------

    def tick(self) -> list[Decision]:
        """One round of the controller over every deployment; the decisions it applied."""
        now = self.clock()
        with self.db.read() as conn:
            found = repo.list_all(conn)
            instances: dict[str, list[Instance]] = {}
            if any(d.candidate is not None for d in found):
                for inst in repo.instances(conn):
                    instances.setdefault(inst.deployment, []).append(inst)
            aliases = {d.name: self._alias(conn, d) for d in found if d.follow is not None}
        applied = []
        for d in found:
            decision = rollouts.advance(
                d, instances.get(d.name, []), now, aliases.get(d.name), self._quality(d, now)
            )
            if decision is not None and self.apply(d, decision, now):
                applied.append(decision)
        return applied

    def _quality(self, d: Deployment, now: int) -> rollouts.Quality | None:
        """The quality gate's figures of ``d``'s rollout, when it has one and a source."""
        source, c, metric = self.quality_source, d.candidate, d.rollout.quality_metric
        if source is None or c is None or metric is None or c.phase != "stepping":
            return None
        return lambda version: source(d.name, version, metric, c.started_at, now)

    def _alias(self, conn: Connection, d: Deployment) -> AliasState:
        assert d.follow is not None
        try:
            current = registry_repo.version_by_alias(conn, d.model, d.follow).version
        except NotFound:
            return AliasState(None)
        if current == d.followed:
            return AliasState(current)
        moved = repo.alias_move(conn, d.model, d.follow)
        return AliasState(current, *(moved or ("someone", "")))

    def apply(self, d: Deployment, decision: Decision, now: int) -> bool:
        """Write a decision unless another writer changed the deployment since it was read."""
        after = replace(decision.after, revision=d.revision + 1, updated_at=now)

        def job(conn: Connection) -> bool:
            if not repo.update(conn, after, d.revision):
                return False
            _record(conn, d, after, decision.actor, decision.action, decision.reason, now)
            return True

        try:
            return self.db.write(job)
        except NotFound:
            return False
