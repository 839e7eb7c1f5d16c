"""`modelyard models`: versions, aliases, trust and history of registered models."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import typer
from rich.table import Table

from modelyard.cli.common import TrackingUri, console, reported, when
from modelyard.registry.client import ModelRegistry

app = typer.Typer(
    help="Registered models: versions, aliases, trust, history.", no_args_is_help=True
)


@contextmanager
def registry(uri: str | None) -> Iterator[ModelRegistry]:
    with reported(), ModelRegistry(uri) as reg:
        yield reg


@app.command("history")
def history(name: str, uri: str | None = TrackingUri) -> None:
    """Every change to a model: who, when, what and why (kept after deletion)."""
    with registry(uri) as reg:
        events = reg.history(name)
    table = Table("when", "who", "action", "version", "detail", title=f"history of {name}")
    for e in events:
        table.add_row(
            when(e["at"]), e["user"], e["action"], str(e["version"] or ""), str(e["detail"])
        )
    console.print(table)


@app.command("alias")
def alias(
    name: str,
    alias: str,
    version: int,
    reason: str = typer.Option("", "--reason", help="Why (kept in the history)."),
    uri: str | None = TrackingUri,
) -> None:
    """Point ALIAS (e.g. champion) at VERSION."""
    with registry(uri) as reg:
        reg.set_alias(name, alias, version, reason)
    console.print(f"{name}@{alias} -> version {version}")


@app.command("rollback")
def rollback(
    name: str,
    alias: str,
    reason: str = typer.Option("", "--reason", help="Why (kept in the history)."),
    uri: str | None = TrackingUri,
) -> None:
    """Point ALIAS back at the version it named before its last move."""
    with registry(uri) as reg:
        found = reg.rollback(name, alias, reason)
    console.print(f"{name}@{alias} -> version {found['version']} (rolled back)")


@app.command("trust")
def trust(
    name: str,
    version: int,
    reason: str = typer.Option(..., "--reason", help="Why this model may run code on load."),
    uri: str | None = TrackingUri,
) -> None:
    """Allow a version saved in a code-carrying format (pickle, cloudpickle) to load."""
    with registry(uri) as reg:
        found = reg.trust(name, version, reason)
    console.print(f"trusted {name} version {version} (package sha256:{found['package_digest']})")


@app.command("export")
def export(
    uri: str = typer.Argument(..., help="models:/NAME@ALIAS or models:/NAME/N"),
    out: Path = typer.Option(..., "--out", "-o", help="A new folder for the bundle."),
    tracking_uri: str | None = TrackingUri,
) -> None:
    """Write a bundle (model, loader, server, requirements, Dockerfile) that runs without modelyard."""
    with registry(tracking_uri) as reg:
        folder = reg.export(uri, out)
    console.print(f"bundle written to {folder}")
    console.print(
        f"  cd {folder} && pip install -r requirements.txt && python -m serve --port 8080"
    )


@app.command("list")
def list_models(uri: str | None = TrackingUri) -> None:
    """Registered models with their aliases and newest version per stage."""
    with registry(uri) as reg:
        models = reg.models()
    table = Table("model", "aliases", "stages", "updated")
    for m in models:
        aliases = ", ".join(f"{a}=v{v}" for a, v in sorted(m["aliases"].items()))
        stages = ", ".join(f"{s}=v{v['version']}" for s, v in m["latest"].items() if s != "None")
        table.add_row(m["name"], aliases, stages, when(m["updated_at"]))
    console.print(table)


@app.command("propose")
def propose(
    name: str,
    version: int,
    stage: str,
    rule: list[str] = typer.Option([], "--rule", help="e.g. 'accuracy >= champion.accuracy'"),
    alias: str | None = typer.Option(None, "--alias", help="Move this alias on approval."),
    reason: str = typer.Option("", "--reason"),
    uri: str | None = TrackingUri,
) -> None:
    """Propose VERSION of NAME for STAGE; approval checks the rules."""
    with registry(uri) as reg:
        p = reg.propose(name, version, stage, rules=rule, alias=alias, reason=reason)
    console.print(f"promotion {p['id']}: {name} v{version} -> {p['stage']} (open)")


@app.command("approve")
def approve(
    promotion_id: int,
    comment: str = typer.Option("", "--comment"),
    uri: str | None = TrackingUri,
) -> None:
    """Approve a promotion: its rules must hold, then stage and alias change."""
    with registry(uri) as reg:
        p = reg.decide(promotion_id, True, comment)
    console.print(f"promotion {promotion_id} approved: {p['name']} v{p['version']} -> {p['stage']}")


@app.command("reject")
def reject(
    promotion_id: int,
    comment: str = typer.Option("", "--comment"),
    uri: str | None = TrackingUri,
) -> None:
    with registry(uri) as reg:
        reg.decide(promotion_id, False, comment)
    console.print(f"promotion {promotion_id} rejected")
