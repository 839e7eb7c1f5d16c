"""`modelyard import mlflow`"""

from __future__ import annotations

from pathlib import Path

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
    allowed_roots: list[Path] = typer.Option(
        [],
        "--allow-artifacts-root",
        help="A local folder whose files the source may name as artifacts (repeatable). "
        "Without it, artifacts are read only through the source server's artifact API.",
    ),
) -> None:
    """Copy experiments, runs, metrics, artifacts, logged and registered models from MLflow.

    Safe to repeat: a second import copies nothing twice, and an interrupted one resumes.
    Artifacts the source places elsewhere (local files, other hosts, buckets) are refused and
    reported; runs that lost some are copied again by the next import.
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
                source,
                tracking,
                RegistryService(stores.db, stores.artifacts),
                progress,
                allowed_roots=allowed_roots,
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
    for refused in report.refused:
        err_console.print(f"[red]refused:[/red] {refused}", highlight=False)
    if report.refused:
        err_console.print(
            f"{len(report.refused)} artifact location(s) or path(s) were not followed; the "
            "rest is imported. Only the source server's artifact API is read, and local "
            "folders named with --allow-artifacts-root."
        )
