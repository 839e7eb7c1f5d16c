"""`modelyard import mlflow`"""

from __future__ import annotations

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from modelyard import config
from modelyard.cli.common import console, err_console
from modelyard.errors import ModelyardError

app = typer.Typer(help="Move data in from other tools.", no_args_is_help=True)


@app.command("mlflow")
def mlflow_(
    source: str = typer.Option(
        ..., "--from", help="MLflow tracking server URL or store URI (sqlite:///mlflow.db, ...)."
    ),
    store: str = typer.Option(
        None, "--store", envvar="MODELYARD_STORE_URI", help="modelyard metadata store URI."
    ),
    artifacts: str = typer.Option(
        None, "--artifacts", envvar="MODELYARD_ARTIFACTS_URI", help="modelyard artifact root."
    ),
) -> None:
    """Copy experiments, runs, metrics, artifacts, logged and registered models from MLflow.

    Safe to repeat: a second import copies nothing twice, and an interrupted one resumes.
    """
    from modelyard.importers.mlflow import MlflowImporter
    from modelyard.registry.service import RegistryService
    from modelyard.store.stores import open_stores
    from modelyard.tracking.service import TrackingService

    try:
        stores = open_stores(
            store or config.default_store_uri(), artifacts or config.default_artifacts_uri()
        )
    except ModelyardError as exc:
        err_console.print(f"[red]error:[/red] {exc.code}: {exc.message}")
        raise typer.Exit(1) from exc
    tracking = TrackingService(stores.db, stores.artifacts)
    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn())
    try:
        with Progress(*columns, TimeElapsedColumn(), console=console) as bar:
            task = bar.add_task("importing runs", total=None)

            def progress(what: str, done: int, total: int) -> None:
                bar.update(task, description=f"importing {what}", completed=done, total=total)
                if not console.is_terminal:
                    print(f"{what} {done}/{total}", flush=True)

            importer = MlflowImporter(
                source, tracking, RegistryService(stores.db, stores.artifacts), progress
            )
            report = importer.run()
    except ModelyardError as exc:
        err_console.print(f"[red]error:[/red] {exc.code}: {exc.message}")
        raise typer.Exit(1) from exc
    finally:
        tracking.close()
    table = Table("copied", "count", title=f"from {source}")
    for name in (
        "experiments",
        "runs",
        "runs_skipped",
        "metric_points",
        "artifact_files",
        "logged_models",
        "registered_models",
        "versions",
        "aliases",
    ):
        table.add_row(name.replace("_", " "), str(getattr(report, name)))
    console.print(table)
    for warning in report.warnings:
        err_console.print(f"[yellow]warning:[/yellow] {warning}")
