"""`modelyard import mlflow`"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from modelyard import config
from modelyard.cli.common import console, err_console
from modelyard.errors import ModelyardError

if TYPE_CHECKING:
    from modelyard.importers.mlflow import ImportReport
    from modelyard.importers.mlflow_counts import Comparison

app = typer.Typer(help="Move data in from other tools.", no_args_is_help=True)
COPIED = (
    "experiments",
    "runs",
    "runs_skipped",
    "metric_points",
    "model_metric_points",
    "dataset_inputs",
    "model_links",
    "artifact_files",
    "logged_models",
    "registered_models",
    "versions",
    "aliases",
    "deleted",
)


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
    verify: bool = typer.Option(
        False,
        "--verify",
        help="After the import, count what the source holds beside what modelyard holds of "
        "it; exit code 1 if they differ.",
    ),
    verify_only: bool = typer.Option(
        False,
        "--verify-only",
        help="Only compare the counts (no import); exit code 1 if they differ.",
    ),
) -> None:
    """Copy experiments, runs, metrics, dataset inputs, artifacts, logged and registered models
    from MLflow.

    Safe to repeat: a second import copies nothing twice, and an interrupted one resumes.
    Deleted experiments and runs are imported deleted. Artifacts the source places elsewhere
    (local files, other hosts, buckets) are refused and reported; runs that lost some are
    copied again by the next import.
    """
    from modelyard.datasets.service import DatasetsService
    from modelyard.importers.mlflow import MlflowImporter
    from modelyard.importers.mlflow_counts import compare_mlflow
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
    registry = RegistryService(stores.db, stores.artifacts)
    datasets = DatasetsService(stores.db, stores.artifacts)
    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn())
    try:
        if not verify_only:
            with Progress(*columns, TimeElapsedColumn(), console=console) as bar:
                task = bar.add_task("importing runs", total=None)

                def progress(what: str, done: int, total: int) -> None:
                    bar.update(task, description=f"importing {what}", completed=done, total=total)
                    if not console.is_terminal:
                        print(f"{what} {done}/{total}", flush=True)

                importer = MlflowImporter(
                    source,
                    tracking,
                    registry,
                    progress,
                    allowed_roots=allowed_roots,
                    datasets=datasets,
                )
                _print_report(source, importer.run())
        if verify or verify_only:
            comparison = compare_mlflow(
                source, tracking, registry, datasets, allowed_roots=allowed_roots
            )
    except ModelyardError as exc:
        err_console.print(f"[red]error:[/red] {exc.code}: {exc.message}")
        raise typer.Exit(1) from exc
    finally:
        tracking.close()
    if verify or verify_only:
        _print_comparison(source, comparison)
        if comparison.differences:
            raise typer.Exit(1)


def _print_report(source: str, report: ImportReport) -> None:
    table = Table("copied", "count", title=f"from {source}")
    for name in COPIED:
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


def _print_comparison(source: str, comparison: Comparison) -> None:
    table = Table("", "source", "modelyard", "", title=f"{source} and modelyard")
    for what, theirs, mine in comparison.rows():
        mark = (
            ""
            if theirs == mine
            else ("[red]missing[/red]" if mine < theirs else "[red]extra[/red]")
        )
        table.add_row(what, str(theirs), str(mine), mark)
    console.print(table)
    for note in comparison.notes:
        err_console.print(f"[yellow]not counted:[/yellow] {note}", highlight=False)
    if comparison.differences:
        err_console.print(f"[red]differ:[/red] {', '.join(comparison.differences)}")
    else:
        console.print("every count is the same")
