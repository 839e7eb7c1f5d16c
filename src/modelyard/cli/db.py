"""`modelyard db upgrade`"""

from __future__ import annotations

import typer

from modelyard import config
from modelyard.cli.common import console

app = typer.Typer(help="The metadata database.", no_args_is_help=True)


@app.command("upgrade")
def upgrade_(
    store: str = typer.Option(None, "--store", help="Store URI; default the embedded SQLite."),
) -> None:
    """Apply schema migrations up to this version of modelyard."""
    from modelyard.store.metadata.database import normalize_url, upgrade

    url = normalize_url(store or config.STORE_URI.get() or config.default_store_uri())
    upgrade(url)
    console.print(f"schema of {url} is up to date")
