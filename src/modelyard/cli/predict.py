"""`modelyard predict`: score a file too large for a request, chunk by chunk."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.progress import BarColumn, Progress, TaskProgressColumn, TimeRemainingColumn

from modelyard.cli.common import TrackingUri, console, reported


def predict(
    uri: str = typer.Argument(
        ..., help="models:/NAME@ALIAS, models:/NAME/N, runs:/RUN/path or a bundle folder."
    ),
    source: Path = typer.Option(..., "--input", "-i", help="A .parquet or .csv file to score."),
    target: Path = typer.Option(..., "--output", "-o", help="The .parquet or .csv to write."),
    keep: str = typer.Option(
        "", "--keep", help="Comma-separated input columns copied beside the predictions (ids)."
    ),
    chunk_rows: int = typer.Option(50_000, min=1, help="Rows scored per model call (Parquet)."),
    trusted: bool = typer.Option(False, "--trusted", help="Vouch for a runs:/ model's files."),
    uri_store: str | None = TrackingUri,
) -> None:
    """Score a Parquet or CSV file with a model, in chunks, with a progress bar."""
    from modelyard.serving.batch import score_file
    from modelyard.serving.loading import load_uri

    with reported():
        predictor = load_uri(uri, uri_store, trusted=trusted)
        columns = [c.strip() for c in keep.split(",") if c.strip()]
        with Progress(
            "[progress.description]{task.description}",
            BarColumn(),
            TaskProgressColumn(),
            TimeRemainingColumn(),
            console=console,
            transient=True,
        ) as bar:
            task = bar.add_task(f"scoring {source.name}", total=None)
            rows = score_file(
                predictor,
                source,
                target,
                keep=columns,
                chunk_rows=chunk_rows,
                progress=lambda done, total: bar.update(task, completed=done, total=total),
            )
    console.print(f"[bold green]scored[/bold green] {rows:,} rows of {source} into {target}")
