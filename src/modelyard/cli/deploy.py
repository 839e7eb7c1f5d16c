"""`modelyard deploy`: deployments, their traffic split, rollouts and history."""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import typer
from rich.table import Table

from modelyard.cli.common import TrackingUri, console, err_console, reported, when
from modelyard.errors import InvalidInput
from modelyard.serving.client import Deployments

app = typer.Typer(
    help="Deployments: serve a registered model, split its traffic, roll versions out.",
    no_args_is_help=True,
)

Reason = typer.Option(
    "", "--reason", help="Why (kept in the deployment's and the model's history)."
)


@contextmanager
def deployments(uri: str | None) -> Iterator[Deployments]:
    with reported(), Deployments(uri) as client:
        yield client


def split_text(traffic: list[dict[str, Any]]) -> str:
    return ", ".join(f"v{s['version']}={s['weight']:g}%" for s in traffic)


def rollout_text(d: dict[str, Any]) -> str:
    c = d.get("candidate")
    if not c:
        return "-"
    where = "loading" if c["phase"] == "loading" else f"step {c['step'] + 1}"
    return f"v{c['version']} {c['strategy']}, {where}"


def logging_text(logging: dict[str, Any]) -> str:
    return (
        f"exclude {', '.join(logging['exclude']) or '-'}; hash {', '.join(logging['hash']) or '-'}"
        f"; sample {logging['sample']:g}"
    )


def parse_split(pairs: list[str]) -> dict[int, float]:
    """``3=90 4=10`` as ``{3: 90.0, 4: 10.0}``."""
    out: dict[int, float] = {}
    for pair in pairs:
        version, sep, weight = pair.partition("=")
        try:
            if not sep:
                raise ValueError(pair)
            out[int(version.strip().removeprefix("v"))] = float(weight)
        except ValueError:
            raise InvalidInput(f"{pair!r} is not VERSION=WEIGHT (e.g. 3=90)") from None
    return out


@app.command("create")
def create(
    name: str,
    model: str = typer.Option(
        ..., "--model", "-m", help="models:/NAME@ALIAS (followed) or models:/NAME/N"
    ),
    engine: str = typer.Option("process", "--engine", help="process, external or ray"),
    port: int | None = typer.Option(None, "--port", help="Default: the server picks one."),
    replicas: int = typer.Option(1, "--replicas"),
    strategy: str = typer.Option("blue-green", "--strategy", help="blue-green or canary"),
    steps: str = typer.Option("10,25,50,100", "--steps", help="Canary percentages."),
    interval: float = typer.Option(60.0, "--interval", help="Seconds per canary step."),
    sticky_header: str | None = typer.Option(None, "--sticky-header", help="e.g. X-User-Id"),
    log_exclude: list[str] | None = typer.Option(
        None, "--log-exclude", help="A column the prediction log never keeps (repeatable)."
    ),
    log_hash: list[str] | None = typer.Option(
        None, "--log-hash", help="A column the prediction log keeps as a keyed hash (repeatable)."
    ),
    log_sample: float = typer.Option(1.0, "--log-sample", help="Share of requests logged."),
    serving_url: str | None = typer.Option(
        None,
        "--serving-url",
        help='Engine "external" or "ray": where callers reach it (http(s)://host:port).',
    ),
    reason: str = Reason,
    uri: str | None = TrackingUri,
) -> None:
    """Create deployment NAME serving a registered model."""
    with deployments(uri) as client:
        try:
            numbers = [float(s) for s in steps.split(",") if s.strip()]
        except ValueError:
            raise InvalidInput(f"--steps is comma-separated percentages, not {steps!r}") from None
        rollout = {"strategy": strategy, "steps": numbers, "interval_s": interval}
        logging = {"exclude": log_exclude or [], "hash": log_hash or [], "sample": log_sample}
        d = client.create(
            name, model, engine=engine, port=port, replicas=replicas, rollout=rollout,
            sticky_header=sticky_header, logging=logging, reason=reason, serving_url=serving_url,
        )  # fmt: skip
    follows = f", following @{d['follow']}" if d["follow"] else ""
    console.print(f"deployment {d['name']}: {d['model']} v{d['stable']}{follows}")


@app.command("list")
def list_all(uri: str | None = TrackingUri) -> None:
    """Deployments with their traffic split and any rollout in progress."""
    with deployments(uri) as client:
        found = client.list()
    table = Table("deployment", "model", "follows", "traffic", "rollout", "engine", "updated")
    for d in found:
        engine = d["engine"] + (f" :{d['port']}" if d["port"] else "")
        table.add_row(
            d["name"], d["model"], d["follow"] or "-", split_text(d["traffic"]),
            rollout_text(d), engine, when(d["updated_at"]),
        )  # fmt: skip
    console.print(table)


def _pct(x: float | None) -> str:
    return "-" if x is None else f"{x * 100:.2f}%"


def _ms(x: float | None) -> str:
    return "-" if x is None else f"{x:.1f}"


@app.command("show")
def show(name: str, uri: str | None = TrackingUri) -> None:
    """A deployment's policy, its serving processes and live figures per version."""
    with deployments(uri) as client:
        d = client.get(name)
    console.print(f"[bold]{d['name']}[/bold]  {d['model']} (revision {d['revision']})")
    console.print(
        f"  follows: {d['follow'] or '-'}   engine: {d['engine']}   port: {d['port'] or 'auto'}"
    )
    console.print(f"  traffic: {split_text(d['traffic'])}   stable: v{d['stable']}")
    extra = {"shadow": d["shadow"], "warm": d["warm"]}
    console.print(
        "  "
        + "   ".join(f"{k}: {', '.join(f'v{v}' for v in vs) or '-'}" for k, vs in extra.items())
    )
    console.print(f"  sticky header: {d['sticky_header'] or '-'}   rollout: {rollout_text(d)}")
    console.print(f"  prediction log: {logging_text(d['logging'])}")
    stats = Table(
        "version",
        "role",
        "ready",
        "req/s",
        "requests",
        "error rate",
        "p50 ms",
        "p99 ms",
        title="versions",
    )
    live = {s["version"] for s in d["traffic"]}
    for version, s in d["stats"].items():
        v = int(version)
        role = "live" if v in live else "shadow" if v in d["shadow"] else "warm"
        counts = s["instances"]
        ready = f"{counts['ready']}/{counts['ready'] + counts['loading'] + counts['failed']}"
        stats.add_row(
            f"v{v}", role, ready, f"{s['rps']:.1f}", str(s["requests"]), _pct(s["error_rate"]),
            _ms(s["p50_ms"]), _ms(s["p99_ms"]),
        )  # fmt: skip
    console.print(stats)
    instances = Table("instance", "url", "last seen", "versions", title="instances")
    for i in d["instances"]:
        seen = when(i["last_seen"]) + (" (stale)" if i["stale"] else "")
        states = ", ".join(f"v{v} {r['state']}" for v, r in i["versions"].items())
        instances.add_row(i["instance"], i["url"], seen, states)
    console.print(instances)


@app.command("set-traffic")
def set_traffic(
    name: str,
    split: list[str] = typer.Argument(
        ..., help="VERSION=WEIGHT pairs summing to 100, e.g. 3=90 4=10"
    ),
    shadow: list[int] | None = typer.Option(
        None, "--shadow", help="A version that gets a copy of the traffic (repeatable)."
    ),
    sticky_header: str | None = typer.Option(
        None, "--sticky-header", help='Route by this header (A/B); "" removes it.'
    ),
    reason: str = Reason,
    revision: int | None = typer.Option(
        None, "--revision", help="Refuse if the deployment changed since."
    ),
    uri: str | None = TrackingUri,
) -> None:
    """Set the live split by hand (A/B, manual canary) and the shadow versions."""
    with deployments(uri) as client:
        d = client.set_traffic(
            name, parse_split(split), shadow=shadow or None,
            sticky_header=... if sticky_header is None else sticky_header or None,
            reason=reason, revision=revision,
        )  # fmt: skip
    shadows = f"; shadow {', '.join(f'v{v}' for v in d['shadow'])}" if d["shadow"] else ""
    console.print(f"{name}: {split_text(d['traffic'])}{shadows}")


@app.command("logging")
def set_logging(
    name: str,
    exclude: list[str] | None = typer.Option(
        None, "--exclude", help="A column the prediction log never keeps (repeatable)."
    ),
    hash: list[str] | None = typer.Option(
        None, "--hash", help="A column kept as a keyed hash, HMAC-SHA256 (repeatable)."
    ),
    sample: float = typer.Option(1.0, "--sample", help="Share of requests logged, in (0, 1]."),
    reason: str = Reason,
    revision: int | None = typer.Option(
        None, "--revision", help="Refuse if the deployment changed since."
    ),
    uri: str | None = TrackingUri,
) -> None:
    """Set what the prediction log keeps of NAME's inputs (replaces the whole setting)."""
    with deployments(uri) as client:
        d = client.set_logging(
            name, exclude=exclude or [], hash=hash or [], sample=sample, reason=reason,
            revision=revision,
        )  # fmt: skip
    console.print(f"{name}: prediction log {logging_text(d['logging'])}")


@app.command("promote")
def promote(
    name: str,
    version: int,
    strategy: str | None = typer.Option(
        None, "--strategy", help="blue-green or canary (default: the deployment's)"
    ),
    reason: str = Reason,
    uri: str | None = TrackingUri,
) -> None:
    """Roll VERSION out: it loads and warms up, then takes traffic at once or step by step."""
    with deployments(uri) as client:
        d = client.promote(name, version, strategy=strategy, reason=reason)
    console.print(f"{name}: rolling out {rollout_text(d)}")


@app.command("rollback")
def rollback(name: str, reason: str = Reason, uri: str | None = TrackingUri) -> None:
    """Call off the rollout in progress, or go back to the previous stable version."""
    with deployments(uri) as client:
        d = client.rollback(name, reason=reason)
    console.print(f"{name}: {split_text(d['traffic'])}")


@app.command("delete")
def delete(name: str, reason: str = Reason, uri: str | None = TrackingUri) -> None:
    """Delete a deployment (its serving processes stop); its history stays."""
    with deployments(uri) as client:
        client.delete(name, reason=reason)
    console.print(f"deleted deployment {name}")


@app.command("token")
def token(
    name: str,
    serving_url: str | None = typer.Option(
        None,
        "--serving-url",
        help="Where callers reach its processes when not on the host they heartbeat from "
        "(engine external or ray; empty: none; left out: unchanged).",
    ),
    reason: str = Reason,
    uri: str | None = TrackingUri,
) -> None:
    """A new serving token of deployment NAME (shown once; the old one stops working)."""
    with deployments(uri) as client:
        found = client.serving_token(
            name, serving_url=... if serving_url is None else serving_url, reason=reason
        )
    err_console.print(
        f"serving token of deployment {found['deployment']} (shown once; the previous one no "
        "longer works). Give it to its serving processes as MODELYARD_SERVING_TOKEN:"
    )
    console.print(found["token"], soft_wrap=True, highlight=False)


@app.command("history")
def history(name: str, uri: str | None = TrackingUri) -> None:
    """Every policy change: when, who or what, and why, with the traffic after it."""
    with deployments(uri) as client:
        events = client.history(name)
    table = Table("when", "who", "action", "traffic after", "why", title=f"history of {name}")
    for e in events:
        after = split_text(e["after"].get("traffic", [])) or "-"
        table.add_row(when(e["at"]), e["actor"], e["action"], after, e["reason"])
    console.print(table)


@app.command("logs")
def logs(
    name: str,
    lines: int = typer.Option(100, "--lines", "-n", min=0, help="How many of the last lines."),
    follow: bool = typer.Option(False, "--follow", "-f", help="Keep printing new lines."),
    uri: str | None = TrackingUri,
) -> None:
    """What the deployment's serving processes wrote (started by the server)."""
    with deployments(uri) as client:
        seen = client.logs(name, lines)
        for line in seen:
            typer.echo(line)
        while follow:
            time.sleep(1.0)
            now = client.logs(name, 2000)
            for line in _new(seen, now):
                typer.echo(line)
            seen = now


def _new(before: list[str], now: list[str]) -> list[str]:
    """The lines of the later tail ``now`` past the earlier tail ``before`` (by the longest
    end of ``before`` that ``now`` starts with)."""
    for k in range(min(len(before), len(now)), 0, -1):
        if before[-k:] == now[:k]:
            return now[k:]
    return now
