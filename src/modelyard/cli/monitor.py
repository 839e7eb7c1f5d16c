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


# ---- quality, health, drift, report -------------------------------------------------------

Target = typer.Argument(..., help="A deployment, or a model whose batch predictions were logged.")
Since = typer.Option(None, "--since", help="Start: a duration ago (2h, 7d) or ms since the epoch.")
Until = typer.Option(None, "--until", help="End: a duration ago or ms since the epoch (now).")
Version = typer.Option(None, "--version", "-v", help="Only this model version.")
QUALITY_FIGURES = {
    "classification": ("accuracy", "f1", "roc_auc"),
    "regression": ("mae", "rmse", "r2"),
}


def moment(value: str | None) -> int | None:
    """``2h`` (that long ago) or ms since the epoch, as ms since the epoch."""
    import time

    from modelyard.monitoring import windows

    if value is None:
        return None
    if value.isdigit() and len(value) >= 10:
        return int(value)
    return int(time.time() * 1000) - windows.seconds(value, "since") * 1000


@contextmanager
def monitoring_api(uri: str | None) -> Iterator[Any]:
    from modelyard.monitoring.client import monitoring_api as open_api
    from modelyard.tracking.client import resolve_uri

    with reported():
        api = open_api(resolve_uri(uri))
        try:
            yield api
        finally:
            api.close()


@app.command("quality")
def quality(
    target: str = Target,
    window: str = typer.Option("1h", "--window", "-w", help="30s, 5m, 1h, 1d."),
    since: str | None = Since,
    until: str | None = Until,
    version: int | None = Version,
    segment: str | None = typer.Option(None, "--segment", help="Split by this feature."),
    uri: str | None = TrackingUri,
) -> None:
    """Realized quality (from labels) beside the estimated one (from confidence), per window."""
    params = {"window": window, "since": moment(since), "until": moment(until),
              "version": version, "segment": segment}  # fmt: skip
    with monitoring_api(uri) as api:
        found = api.quality(target, params)
    names = QUALITY_FIGURES.get(found.get("task") or "", ("accuracy",))
    table = Table("window", "version", *(["segment"] if segment else []), "predictions",
                  "labelled", *names, *(f"est. {n}" for n in names if found.get("task") == "classification"),
                  title=f"quality of {target} ({found.get('task') or 'no predictions'})")  # fmt: skip
    for p in found["points"]:
        row = [when(p["start_ms"]), str(p["version"])]
        if segment:
            row.append(str(p.get("segment")))
        row += [str(p["predictions"]), str(p["labelled"])]
        row += [figure(p["realized"].get(n)) for n in names]
        if found.get("task") == "classification":
            row += [figure(p["estimated"].get(f"estimated_{n}")) for n in names]
        table.add_row(*row)
    console.print(table)


@app.command("health")
def health(
    target: str = Target,
    window: str = typer.Option("5m", "--window", "-w", help="30s, 5m, 1h, 1d."),
    since: str | None = Since,
    until: str | None = Until,
    version: int | None = Version,
    uri: str | None = TrackingUri,
) -> None:
    """Latency percentiles, throughput, errors and probed availability per window."""
    params = {"window": window, "since": moment(since), "until": moment(until), "version": version}
    with monitoring_api(uri) as api:
        found = api.health(target, params)
    table = Table("window", "requests", "errors", "error rate", "req/s", "p50 ms", "p90 ms",
                  "p99 ms", "availability", title=f"health of {target}")  # fmt: skip
    for p in found["points"]:
        table.add_row(
            when(p["start_ms"]), str(p["requests"]), str(p["errors"]), figure(p["error_rate"]),
            figure(p["throughput_rps"]), figure(p["latency_p50_ms"]), figure(p["latency_p90_ms"]),
            figure(p["latency_p99_ms"]), figure(p.get("availability")),
        )  # fmt: skip
    console.print(table)
    a = found["availability"]
    console.print(
        f"uptime {figure(a['uptime'])} over {a['probes']} probes; objective {a['objective']:g}, "
        f"error budget left {figure(a['budget_remaining'])}"
    )


def _drift_params(
    reference: str,
    reference_since: str | None,
    reference_until: str | None,
    since: str | None,
    until: str | None,
    version: int | None,
    columns: str | None,
) -> dict[str, Any]:
    return {
        "reference": reference,
        "reference_since": moment(reference_since),
        "reference_until": moment(reference_until),
        "since": moment(since),
        "until": moment(until),
        "version": version,
        "columns": columns,
    }


Reference = typer.Option(
    "training", "--reference", help="training (the version's training data) or window."
)
ReferenceSince = typer.Option(None, "--reference-since", help="Start of a window reference.")
ReferenceUntil = typer.Option(None, "--reference-until", help="End of a window reference.")
Columns = typer.Option(None, "--columns", help="Comma-separated columns (default: all).")


@app.command("drift")
def drift(
    target: str = Target,
    reference: str = Reference,
    reference_since: str | None = ReferenceSince,
    reference_until: str | None = ReferenceUntil,
    since: str | None = Since,
    until: str | None = Until,
    version: int | None = Version,
    columns: str | None = Columns,
    fail: bool = typer.Option(False, "--fail", help="Exit 1 when the dataset drifted (for CI)."),
    uri: str | None = TrackingUri,
) -> None:
    """Drift per column against the training data (lineage) or a window, drifted first."""
    params = _drift_params(reference, reference_since, reference_until, since, until, version,
                           columns)  # fmt: skip
    with monitoring_api(uri) as api:
        found = api.drift(target, params)
    ref = found["reference"]
    what = ref.get("dataset") and f"{ref['dataset']} v{ref['dataset_version']}"
    table = Table("column", "kind", "method", "score", "threshold", "drifted", "missing",
                  "out of range", title=f"drift of {target} vs {what or ref['kind']}")  # fmt: skip
    for c in sorted(found["columns"], key=lambda c: (not c["drifted"], c["column"])):
        table.add_row(
            c["column"], c["kind"], c["method"], figure(c["score"]), figure(c["threshold"]),
            "[red]yes[/red]" if c["drifted"] else "no", figure(c["missing_current"]),
            figure(c["out_of_range"]),
        )  # fmt: skip
    console.print(table)
    for finding in found["schema"]:
        console.print(f"[yellow]schema:[/yellow] {finding['column']} {finding['change']}")
    verdict = "[red]drifted[/red]" if found["dataset_drift"] else "[green]no drift[/green]"
    console.print(
        f"dataset: {verdict} ({figure(found['drifted_share'])} of the columns drifted; "
        f"{found['n_current']} rows vs {found['n_reference']})"
    )
    if fail and found["dataset_drift"]:
        raise typer.Exit(1)


@app.command("report")
def report(
    target: str = Target,
    out: str = typer.Option("drift-report.html", "--out", "-o", help="The HTML file to write."),
    reference: str = Reference,
    reference_since: str | None = ReferenceSince,
    reference_until: str | None = ReferenceUntil,
    since: str | None = Since,
    until: str | None = Until,
    version: int | None = Version,
    columns: str | None = Columns,
    run: str | None = typer.Option(None, "--run", help="Also log it as an artifact of this run."),
    uri: str | None = TrackingUri,
) -> None:
    """Write the drift check as one self-contained HTML file (and log it to a run)."""
    from pathlib import Path

    params = _drift_params(reference, reference_since, reference_until, since, until, version,
                           columns)  # fmt: skip
    with monitoring_api(uri) as api:
        page = api.report(target, params)
    path = Path(out)
    path.write_text(page, encoding="utf-8")
    if run is not None:
        from modelyard.cli.common import client

        with client(uri) as c:
            c.log_artifact(run, str(path), "monitoring")
    console.print(f"wrote {path} ({len(page):,} bytes)" + (f", logged to run {run}" if run else ""))
