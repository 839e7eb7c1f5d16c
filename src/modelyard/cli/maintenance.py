"""`modelyard sync` and `modelyard gc`"""

from __future__ import annotations

from typing import Any

import typer
from rich.progress import Progress
from rich.table import Table

from modelyard.cli.common import TrackingUri, client, console, err_console
from modelyard.tracking import journal
from modelyard.tracking.batcher import Delivery, deliver


def sync(
    uri: str | None = TrackingUri,
    all_uris: bool = typer.Option(
        False, "--all", help="Send every journal file here, whatever URI it was meant for."
    ),
    rejected: bool = typer.Option(
        False,
        "--rejected",
        help="Show the batches the server refused, with its reasons, and send them again.",
    ),
    dry_run: bool = typer.Option(False, "--dry-run", help="Only show what would be sent."),
) -> None:
    """Send the journal: batches the server did not take, and what a killed training process
    had logged but not delivered (both `.wal` files; `.json` ones from earlier versions too);
    safe to repeat.

    Exit code 0 when everything was sent; 1 when something is still journaled (the server did
    not take it: sync again later) or was refused (set aside: see `modelyard sync --rejected`).
    """
    folder = journal.rejected_dir() if rejected else None
    with client(uri) as c:
        pending = journal.entries(folder, uri=None if all_uris else c.uri)
        if rejected or dry_run:
            _show(pending, "set aside" if rejected else "journaled")
        if not pending:
            console.print(f"nothing {'set aside' if rejected else 'to sync'} for {c.uri}")
        if dry_run or not pending:
            if not rejected:
                _mention_rejected(all_uris, c.uri)
            return
        done = Delivery()
        with Progress(console=console) as progress:
            task = progress.add_task("syncing", total=len(pending))
            for entry in pending:
                out = deliver(c.ingest, entry.batches)
                done.sent += out.sent
                done.points += out.points
                kept = set()  # set aside by batch id: refused again, a file keeps its place
                for group, why in out.set_aside:
                    kept.add(journal.set_aside(c.uri, group, why))
                    done.set_aside.append((group, why))
                    console.print(f"[red]refused[/red] {_runs(group)}: {why}")
                if out.left:
                    journal.rewrite(entry, out.left)
                    done.left, done.why = out.left, out.why
                    break  # the server is failing: keep the order, try again later
                if entry.path not in kept:
                    journal.remove(entry)
                progress.advance(task)
    console.print(f"sent {done.sent} batch(es) ({done.points} metric points) to {c.uri}")
    if done.left:
        err_console.print(
            f"[red]{len(done.left)} batch(es) ({journal.points(done.left)} metric points) "
            f"not sent[/red] ({done.why}); they stay journaled: run `modelyard sync` again later"
        )
    if done.set_aside:
        err_console.print(
            f"[red]{sum(len(g) for g, _ in done.set_aside)} batch(es) refused[/red] and set "
            "aside: `modelyard sync --rejected` shows why"
        )
    if not rejected and not done.set_aside:
        _mention_rejected(all_uris, c.uri)
    if done.left or done.set_aside:
        raise typer.Exit(1)


def _runs(batches: list[dict[str, Any]]) -> str:
    return "run " + ", ".join(sorted({str(b.get("run_id")) for b in batches}))


def _show(pending: list[journal.JournalEntry], what: str) -> None:
    table = Table("file", "runs", "batches", "points", "reason", title=what)
    for entry in pending:
        reason = entry.reason
        table.add_row(
            entry.path.name,
            _runs(entry.batches)[4:],
            str(len(entry.batches)),
            str(entry.points),
            "" if reason is None else str(reason),
        )
    console.print(table)


def _mention_rejected(all_uris: bool, uri: str) -> None:
    refused = journal.entries(journal.rejected_dir(), uri=None if all_uris else uri)
    if refused:
        err_console.print(
            f"{sum(len(e.batches) for e in refused)} batch(es) refused by the server are set "
            "aside: `modelyard sync --rejected` shows why and sends them again"
        )


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
