"""`modelyard experiments list|create|delete|restore`"""

from __future__ import annotations

import typer
from rich.table import Table

from modelyard.cli.common import TrackingUri, client, console, when

app = typer.Typer(help="Experiments.", no_args_is_help=True)


@app.command("list")
def list_(
    uri: str | None = TrackingUri,
    view: str = typer.Option("active", help="active, deleted or all"),
) -> None:
    """List experiments."""
    with client(uri) as c:
        rows = c.list_experiments(view)
    table = Table("id", "name", "lifecycle", "created", "description")
    for e in rows:
        table.add_row(str(e.id), e.name, e.lifecycle.value, when(e.created_at), e.description)
    console.print(table)


@app.command()
def create(
    name: str,
    description: str = typer.Option("", "--description", "-d"),
    uri: str | None = TrackingUri,
) -> None:
    """Create an experiment."""
    with client(uri) as c:
        exp = c.create_experiment(name, description)
    console.print(f"created experiment {exp.id} ({exp.name})")


@app.command()
def delete(experiment_id: int, uri: str | None = TrackingUri) -> None:
    """Delete an experiment (restorable until `modelyard gc`)."""
    with client(uri) as c:
        exp = c.delete_experiment(experiment_id)
    console.print(f"deleted experiment {exp.id} ({exp.name})")


@app.command()
def restore(experiment_id: int, uri: str | None = TrackingUri) -> None:
    """Restore a deleted experiment."""
    with client(uri) as c:
        exp = c.restore_experiment(experiment_id)
    console.print(f"restored experiment {exp.id} ({exp.name})")
