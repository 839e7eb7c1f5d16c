"""`modelyard monitor`: monitoring of deployments (alerts: rules, firings, their history)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import typer
from rich.table import Table

from modelyard.cli.common import TrackingUri, console, reported, when
from modelyard.errors import NotFound
from modelyard.monitoring.alerts_client import Alerts

app = typer.Typer(
    help="Monitoring: quality, health, drift and alerts of deployed models.",
    no_args_is_help=True,
)

# ---- alerts -------------------------------------------------------------------------------

alerts_app = typer.Typer(
    help="Alert rules on monitoring figures, their firings and history.", no_args_is_help=True
)
app.add_typer(alerts_app, name="alerts")

RuleRef = typer.Argument(..., help="The rule's id or name.")


@contextmanager
def alerts(uri: str | None) -> Iterator[Alerts]:
    with reported(), Alerts(uri) as client:
        yield client


def rule_id(client: Alerts, ref: str) -> int:
    """A rule named by its id or its name."""
    if ref.isdigit():
        return int(ref)
    for rule in client.rules():
        if rule["name"] == ref:
            return int(rule["id"])
    raise NotFound(f"alert rule {ref!r} does not exist", name=ref)


def figure(x: float | None) -> str:
    return "-" if x is None else f"{x:.4g}"


def condition(r: dict[str, Any]) -> str:
    text = f"{r['metric']} {r['op']} {r['threshold']:g} over {r['window_s']}s"
    return text + (f" for {r['for_s']}s" if r["for_s"] else "")


def channels_text(r: dict[str, Any]) -> str:
    kinds = [c["type"] for c in r["channels"]]
    return ", ".join(kinds) or "-"


@alerts_app.command("list")
def list_rules(
    deployment: str | None = typer.Option(None, "--deployment", "-d"),
    uri: str | None = TrackingUri,
) -> None:
    """Rules with their state, and the firings not resolved yet."""
    with alerts(uri) as client:
        rules = client.rules(deployment)
        open_firings = client.firings(deployment, status="active")
    table = Table(
        "id", "rule", "deployment", "condition", "state", "value", "channels", "silenced until"
    )
    for r in rules:
        state = r["status"] if r["enabled"] else "disabled"
        table.add_row(
            str(r["id"]), r["name"], r["deployment"], condition(r), state,
            figure(r["last_value"]), channels_text(r), when(r["silenced_until"]),
        )  # fmt: skip
    console.print(table)
    if open_firings:
        console.print(firings_table(open_firings, "open firings"))


def firings_table(found: list[dict[str, Any]], title: str) -> Table:
    table = Table(
        "firing", "rule", "deployment", "status", "value", "started", "ended", title=title
    )
    for f in found:
        status = f["status"] + (f" by {f['acknowledged_by']}" if f["acknowledged_by"] else "")
        table.add_row(
            str(f["id"]), f["rule_name"], f["deployment"], status, figure(f["value"]),
            when(f["started_at"]), when(f["ended_at"]),
        )  # fmt: skip
    return table


@alerts_app.command("create")
def create(
    name: str,
    deployment: str = typer.Option(..., "--deployment", "-d", help="Deployment (or model) name."),
    metric: str = typer.Option(
        ..., "--metric", "-m", help="e.g. error_rate, accuracy, drift_score:age"
    ),
    op: str = typer.Option(..., "--op", help=">, >=, < or <="),
    threshold: float = typer.Option(..., "--threshold", "-t"),
    window: str = typer.Option("5m", "--window", "-w", help="30s, 5m, 1h, 1d or seconds"),
    for_: str = typer.Option("0", "--for", help="How long the condition must hold first."),
    webhook: list[str] = typer.Option([], "--webhook", help="A JSON webhook URL (repeatable)."),
    slack: list[str] = typer.Option([], "--slack", help="A Slack-compatible webhook URL."),
    email: list[str] = typer.Option([], "--email", help="An e-mail recipient (repeatable)."),
    action: str | None = typer.Option(None, "--action", help="rollback: roll the deployment back"),
    disabled: bool = typer.Option(False, "--disabled", help="Store it without evaluating it."),
    uri: str | None = TrackingUri,
) -> None:
    """Create alert rule NAME on a figure of a deployment."""
    channels: list[dict[str, Any]] = [{"type": "webhook", "url": u} for u in webhook]
    channels += [{"type": "slack", "url": u} for u in slack]
    if email:
        channels.append({"type": "email", "to": email})
    with alerts(uri) as client:
        r = client.create_rule(
            name, deployment, metric, op=op, threshold=threshold, window=window,
            for_s=int(for_) if for_.isdigit() else for_, channels=channels, action=action,
            enabled=not disabled,
        )  # fmt: skip
    console.print(f"alert rule {r['id']} {r['name']}: {r['deployment']} {condition(r)}")


@alerts_app.command("delete")
def delete(rule: str = RuleRef, uri: str | None = TrackingUri) -> None:
    """Delete a rule (its firings and history stay)."""
    with alerts(uri) as client:
        number = rule_id(client, rule)
        client.delete_rule(number)
    console.print(f"deleted alert rule {number}")


@alerts_app.command("silence")
def silence(
    rule: str = RuleRef,
    minutes: float = typer.Option(60.0, "--minutes", help="How long nothing is sent."),
    uri: str | None = TrackingUri,
) -> None:
    """No notifications from a rule for a while (it still evaluates and records firings)."""
    with alerts(uri) as client:
        r = client.silence(rule_id(client, rule), minutes)
    console.print(f"alert rule {r['name']} silenced until {when(r['silenced_until'])}")


@alerts_app.command("unsilence")
def unsilence(rule: str = RuleRef, uri: str | None = TrackingUri) -> None:
    """End a rule's silence."""
    with alerts(uri) as client:
        r = client.unsilence(rule_id(client, rule))
    console.print(f"alert rule {r['name']} is no longer silenced")


@alerts_app.command("ack")
def acknowledge(firing: int, uri: str | None = TrackingUri) -> None:
    """Acknowledge a firing: no repeated notifications of it."""
    with alerts(uri) as client:
        f = client.acknowledge(firing)
    console.print(f"firing {f['id']} of {f['rule_name']} acknowledged by {f['acknowledged_by']}")


@alerts_app.command("resolve")
def resolve(firing: int, uri: str | None = TrackingUri) -> None:
    """Resolve a firing by hand (its rule fires again once its condition cleared)."""
    with alerts(uri) as client:
        f = client.resolve(firing)
    console.print(f"firing {f['id']} of {f['rule_name']} resolved")


@alerts_app.command("history")
def history(
    rule: str | None = typer.Argument(None, help="A rule's id or name (default: every rule)."),
    deployment: str | None = typer.Option(None, "--deployment", "-d"),
    limit: int = typer.Option(50, "--limit", help="Firings shown, newest first."),
    uri: str | None = TrackingUri,
) -> None:
    """Firings, newest first; with a rule, also its events (transitions, notifications)."""
    with alerts(uri) as client:
        number = None if rule is None else rule_id(client, rule)
        found = client.firings(deployment, rule_id=number, limit=limit)
        events = [] if number is None else client.events(number)
    console.print(firings_table(found, "firings"))
    if number is not None:
        table = Table("at", "kind", "actor", "firing", "detail", title=f"events of rule {number}")
        for e in events:
            detail = ", ".join(f"{k}={v}" for k, v in e["detail"].items() if k != "rule")
            table.add_row(when(e["at"]), e["kind"], e["actor"], str(e["firing_id"] or "-"), detail)
        console.print(table)
