"""`modelyard sync` and `modelyard gc`"""

from __future__ import annotations

import typer
from rich.progress import Progress
from rich.table import Table

from modelyard.cli.common import TrackingUri, client, console
from modelyard.errors import ModelyardError
from modelyard.tracking import journal


def sync(
    uri: str | None = TrackingUri,
    all_uris: bool = typer.Option(
        False, "--all", help="Send every journal file here, whatever URI it was meant for."
    ),
) -> None:
    """Upload batches the SDK journaled while the server was unreachable (safe to repeat)."""
    with client(uri) as c:
        pending = journal.entries(uri=None if all_uris else c.uri)
        if not pending:
            console.print(f"nothing to sync for {c.uri}")
            return
        sent = failed = 0
        with Progress(console=console) as progress:
            task = progress.add_task("syncing", total=len(pending))
            for entry in pending:
                try:
                    journal.replay(c.ingest, entry)
                    sent += 1
                except ModelyardError as exc:
                    failed += 1
                    console.print(f"[red]{entry.path.name}: {exc.code}: {exc.message}[/red]")
                progress.advance(task)
    console.print(f"synced {sent} journal file(s) to {c.uri}; {failed} failed")
    if failed:
        raise typer.Exit(1)


def gc(
    older_than: float = typer.Option(
        0.0,
        "--older-than",
        help="Grace in seconds: only runs deleted, and blobs unreferenced, at least this long ago.",
    ),
    dry_run: bool = typer.Option(False, "--dry-run", help="Report what would go; remove nothing."),
    uri: str | None = TrackingUri,
) -> None:
    """Permanently remove deleted runs, then blobs no run, dataset or model version names."""
    with client(uri) as c:
        report = c.gc(older_than, dry_run)
    table = Table("run", title="would remove" if dry_run else "removed")
    for run_id in report["run_ids"]:
        table.add_row(run_id)
    console.print(table)
    console.print(
        f"{len(report['run_ids'])} run(s), {report['artifact_files']} artifact file(s), "
        f"{report['artifact_bytes']} bytes; {report['blobs']} unreferenced blob(s) "
        f"({report['blob_bytes']} bytes), {report['uploads']} abandoned upload(s)"
        + (" (dry run)" if dry_run else "")
    )
