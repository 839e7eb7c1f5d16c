"""`modelyard datasets`: register files, folders and tables; show versions and profiles."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import typer
from rich.table import Table

from modelyard.cli.common import TrackingUri, console, reported, when
from modelyard.datasets.client import DatasetRegistry

app = typer.Typer(
    help="Versioned datasets: register, list versions, show profiles.", no_args_is_help=True
)


@contextmanager
def datasets(uri: str | None) -> Iterator[DatasetRegistry]:
    with reported(), DatasetRegistry(uri) as reg:
        yield reg


@app.command("register")
def register(
    name: str,
    path: Path = typer.Argument(..., help="A file (CSV, Parquet, JSON, ...) or a folder."),
    description: str = typer.Option("", "--description", "-d"),
    profile: bool = typer.Option(True, "--profile/--no-profile", help="Compute the profile."),
    uri: str | None = TrackingUri,
) -> None:
    """Register PATH as the next version of NAME (only content the server lacks is sent)."""
    with datasets(uri) as reg:
        version = reg.register(name, path, description=description, profile=profile)
    state = "new version" if version["created"] else "same content as version"
    rows = "" if version["num_rows"] is None else f", {version['num_rows']:,} rows"
    console.print(
        f"{name} {state} {version['version']}: {version['num_files']:,} file(s), "
        f"{version['size_bytes']:,} bytes{rows}, sha256 {version['digest'][:12]}"
    )


@app.command("show")
def show(
    name: str,
    version: str = typer.Argument("latest", help="A version number or 'latest'."),
    uri: str | None = TrackingUri,
) -> None:
    """A version's schema and per-column profile."""
    with datasets(uri) as reg:
        found = reg.get(name, version)
    console.print(
        f"[bold]{name}[/bold] version {found['version']} ({when(found['created_at'])}, "
        f"{found['user']}): {found['num_files']:,} file(s), {found['size_bytes']:,} bytes"
    )
    table = Table("column", "type", "missing", "min", "mean", "max", "top values")
    for column, p in found["profile"].items():
        top = ", ".join(f"{t['value']} ({t['count']})" for t in p.get("top", [])[:3])
        table.add_row(
            column,
            p["type"],
            f"{p['missing']:,}",
            _num(p.get("min")),
            _num(p.get("mean")),
            _num(p.get("max")),
            top,
        )
    console.print(table)


def _num(value: float | None) -> str:
    return "" if value is None else f"{value:.4g}"
