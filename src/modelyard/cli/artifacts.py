"""`modelyard artifacts keygen` and `modelyard artifacts rekey`: keys for encryption at rest."""

from __future__ import annotations

import time

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

from modelyard import config
from modelyard.cli.common import console, err_console
from modelyard.errors import ArtifactUnreadable, InvalidInput, NotFound
from modelyard.store.artifacts.codecs import Sealed
from modelyard.store.artifacts.encrypted import SETTING, new_key
from modelyard.store.artifacts.local import LocalObjectStore
from modelyard.store.artifacts.registry import open_object_store

app = typer.Typer(help="Encryption at rest of local artifacts.", no_args_is_help=True)


@app.command()
def keygen(
    key_id: str = typer.Option(
        None, "--id", help="The key's id (default: k and today's date, e.g. k20250611)."
    ),
) -> None:
    """Print a new `id:base64key` (32 random bytes) to put first in MODELYARD_ARTIFACTS_KEYS."""
    try:
        entry = new_key(key_id or time.strftime("k%Y%m%d"))
    except InvalidInput as exc:
        err_console.print(f"[red]{exc.message}[/red]")
        raise typer.Exit(2) from None
    typer.echo(entry)


@app.command()
def rekey(
    artifacts: str = typer.Option(
        None, "--artifacts", envvar="MODELYARD_ARTIFACTS_URI", help="Artifact root URI or folder."
    ),
    dry_run: bool = typer.Option(False, "--dry-run", help="Only count what would be rewritten."),
) -> None:
    """Seal every object not yet under the first key of MODELYARD_ARTIFACTS_KEYS (plaintext
    ones too) with it, one atomic rename per object; safe to repeat, and while a server runs.

    Exit code 0 when every object is under the first key; then the other keys can be removed
    from the setting. 1 when some could not be read (damaged, or their key is not in the
    setting): they are listed and left as they were.
    """
    try:
        store = open_object_store(artifacts or config.default_artifacts_uri())
    except InvalidInput as exc:
        err_console.print(f"[red]{exc.message}[/red]", soft_wrap=True)
        raise typer.Exit(2) from None
    if not isinstance(store, LocalObjectStore) or not isinstance(store.codec, Sealed):
        err_console.print(
            f"[red]nothing to rekey:[/red] {SETTING} is not set, or {store.uri} is not a local "
            "folder (on S3, the bucket's own encryption applies)",
            soft_wrap=True,
        )
        raise typer.Exit(2)
    current = store.codec.keys.current
    objects = [info.key for info in store.scan("")]
    rewritten = kept = 0
    failed: list[tuple[str, str]] = []
    columns = (
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeRemainingColumn(),
    )
    with Progress(*columns, console=err_console) as progress:
        task = progress.add_task(f"sealing under {current!r}", total=len(objects))
        for key in objects:
            try:
                changed = not store.is_current(key) if dry_run else store.rekey(key)
            except NotFound:
                changed = False  # deleted meanwhile (gc)
            except ArtifactUnreadable as exc:
                failed.append((key, exc.message))
                changed = False
            else:
                rewritten += changed
                kept += not changed
            progress.advance(task)
    for key, why in failed:
        err_console.print(f"[red]unreadable[/red] {key}: {why}", soft_wrap=True)
    verb = "would be rewritten" if dry_run else "rewritten"
    console.print(
        f"{len(objects)} object(s): {rewritten} {verb} under key {current!r}, {kept} already "
        f"under it, {len(failed)} unreadable" + (" (dry run)" if dry_run else ""),
        soft_wrap=True,
    )
    if failed:
        raise typer.Exit(1)
