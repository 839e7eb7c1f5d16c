"""Shared CLI pieces: the client, error printing, time formatting."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from contextlib import contextmanager

import typer
from rich.console import Console

from modelyard.errors import ModelyardError
from modelyard.tracking.client import Client
from modelyard.tracking.clients import client_for

console = Console()
err_console = Console(stderr=True)

TrackingUri = typer.Option(
    None, "--tracking-uri", "-u", envvar="MODELYARD_TRACKING_URI", help="Server URL or store URI."
)


@contextmanager
def reported() -> Iterator[None]:
    """Modelyard errors inside become one red line and exit code 1."""
    try:
        yield
    except ModelyardError as exc:
        err_console.print(f"[red]error:[/red] {exc.code}: {exc.message}")
        raise typer.Exit(1) from exc


@contextmanager
def client(uri: str | None) -> Iterator[Client]:
    """A Client whose errors are reported (one red line, exit code 1)."""
    with reported(), client_for(uri) as c:
        yield c


def when(ms: int | None) -> str:
    if ms is None:
        return "-"
    return dt.datetime.fromtimestamp(ms / 1000).strftime("%Y-%m-%d %H:%M:%S")


def duration(start: int, end: int | None) -> str:
    if end is None:
        return "running"
    seconds = (end - start) / 1000
    return f"{seconds:.1f}s" if seconds < 120 else f"{seconds / 60:.1f}m"


def fmt(value: float) -> str:
    return f"{value:.4g}"
