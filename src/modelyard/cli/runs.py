"""`modelyard runs list|show|compare|delete|restore`"""

from __future__ import annotations

import typer
from rich.table import Table

from modelyard.cli.common import TrackingUri, client, console, duration, fmt, when

app = typer.Typer(help="Runs.", no_args_is_help=True)


@app.command("list")
def list_(
    experiment: list[int] = typer.Option(None, "--experiment", "-e", help="experiment id(s)"),
    filter: str = typer.Option(None, "--filter", "-f", help='e.g. "metrics.acc > 0.9"'),
    order_by: list[str] = typer.Option(None, "--order-by", "-o", help='e.g. "metrics.acc DESC"'),
    max_results: int = typer.Option(50, "--max", "-n"),
    uri: str | None = TrackingUri,
) -> None:
    """Search runs (grammar: docs/search.md) and show them as a table."""
    with client(uri) as c:
        page = c.search_runs(experiment or None, filter, order_by or None, max_results)
    metric_keys = sorted({k for r in page.runs for k in r.metrics if not k.startswith("system/")})
    table = Table("run", "name", "exp", "status", "started", "duration", *metric_keys[:6])
    for r in page.runs:
        cells = [fmt(r.metrics[k].last) if k in r.metrics else "" for k in metric_keys[:6]]
        table.add_row(
            r.id[:8],
            r.name,
            str(r.experiment_id),
            r.status.value,
            when(r.start_time),
            duration(r.start_time, r.end_time),
            *cells,
        )
    console.print(table)
    if page.next_page_token:
        console.print(f"[dim]more runs match; raise --max (showed {len(page.runs)})[/dim]")


@app.command()
def show(run_id: str, uri: str | None = TrackingUri) -> None:
    """Everything about one run."""
    with client(uri) as c:
        r = c.get_run(run_id)
    console.print(f"[bold]{r.name}[/bold]  {r.id}")
    console.print(
        f"experiment {r.experiment_id} | {r.status.value} | user {r.user} | "
        f"started {when(r.start_time)} | {duration(r.start_time, r.end_time)}"
    )
    for title, items in (("params", r.params), ("tags", r.tags)):
        table = Table("key", "value", title=title)
        for k, v in sorted(items.items()):
            table.add_row(k, v if len(v) < 200 else v[:200] + "...")
        console.print(table)
    table = Table("metric", "last", "step", "min", "max", "points", title="metrics")
    for k, m in sorted(r.metrics.items()):
        table.add_row(k, fmt(m.last), str(m.step), fmt(m.min), fmt(m.max), str(m.count))
    console.print(table)
    if r.notes:
        console.print(r.notes)


@app.command()
def compare(run_ids: list[str], uri: str | None = TrackingUri) -> None:
    """Params and metrics of several runs side by side; differing rows are highlighted."""
    with client(uri) as c:
        found = [c.get_run(i) for i in run_ids]
    table = Table("", *[f"{r.name}\n{r.id[:8]}" for r in found])
    params = sorted({k for r in found for k in r.params})
    metrics = sorted({k for r in found for k in r.metrics})
    for k in params:
        cells = [r.params.get(k, "") for r in found]
        style = "yellow" if len(set(cells)) > 1 else None
        table.add_row(f"param {k}", *cells, style=style)
    for k in metrics:
        cells = [fmt(r.metrics[k].last) if k in r.metrics else "" for r in found]
        style = "yellow" if len(set(cells)) > 1 else None
        table.add_row(f"metric {k}", *cells, style=style)
    console.print(table)


@app.command()
def delete(run_id: str, uri: str | None = TrackingUri) -> None:
    """Delete a run (restorable until `modelyard gc`)."""
    with client(uri) as c:
        c.delete_run(run_id)
    console.print(f"deleted run {run_id}")


@app.command()
def restore(run_id: str, uri: str | None = TrackingUri) -> None:
    """Restore a deleted run."""
    with client(uri) as c:
        c.restore_run(run_id)
    console.print(f"restored run {run_id}")
