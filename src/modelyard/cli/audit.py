"""`modelyard audit`: the audit log: recent records, verify the chain, export.

A server (http://...) is asked over its REST API (``/api/v1/audit``, an admin's token); an
embedded store is read in this process.
"""

from __future__ import annotations

import datetime as dt
import re
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any, BinaryIO, Protocol
from urllib.parse import urlencode

import orjson
import typer
from rich.markup import escape
from rich.table import Table

from modelyard import embedded
from modelyard.cli.common import TrackingUri, console, reported, when
from modelyard.errors import InvalidInput
from modelyard.tracking.client import is_http, resolve_uri
from modelyard.tracking.http import PooledApi

if TYPE_CHECKING:
    from modelyard.access.audit import Filter

app = typer.Typer(
    help="The audit log: who changed what, when. Lists the latest records without a command.",
    invoke_without_command=True,
)

_AGO = re.compile(r"^(\d+(?:\.\d+)?)\s*([smhdw])$")
_UNIT_S = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}


class AuditApi(Protocol):
    def query(self, params: dict[str, Any]) -> dict[str, Any]: ...
    def verify(self) -> dict[str, Any]: ...
    def export(self, params: dict[str, Any]) -> Iterator[bytes]: ...
    def close(self) -> None: ...


class HttpAudit(PooledApi):
    """The audit log of a server, over the process's shared pool."""

    def query(self, params: dict[str, Any]) -> dict[str, Any]:
        found: dict[str, Any] = self.backend.call("GET", "/audit", params=params)
        return found

    def verify(self) -> dict[str, Any]:
        found: dict[str, Any] = self.backend.call("GET", "/audit/verify")
        return found

    def export(self, params: dict[str, Any]) -> Iterator[bytes]:
        return self.backend.download("/audit/export?" + urlencode(params))


class LocalAudit:
    """The audit log of an embedded store, read in this process."""

    def __init__(self, uri: str) -> None:
        from modelyard.access.audit import AuditLog  # the store's modules load on use

        self._services: embedded.Services | None = embedded.acquire(uri)
        self.log = AuditLog(self._services.stores.db)

    def query(self, params: dict[str, Any]) -> dict[str, Any]:
        page = self.log.query(
            _filter(params),
            limit=params.get("limit", 100),
            before_seq=params.get("before_seq"),
            newest_first=params.get("order") == "desc",
        )
        return page.to_json()

    def verify(self) -> dict[str, Any]:
        return self.log.verify().to_json()

    def export(self, params: dict[str, Any]) -> Iterator[bytes]:
        from modelyard.access.audit import csv_lines, jsonl

        records = self.log.records(_filter(params), limit=params.get("limit"))
        if params.get("format") == "csv":
            return (line.encode() for line in csv_lines(records))
        return jsonl(records)

    def close(self) -> None:
        if self._services is not None:
            embedded.release(self._services)
            self._services = None


def _filter(params: dict[str, Any]) -> Filter:
    from modelyard.access.audit import Filter

    names = ("actor", "object_kind", "object_id", "action", "since", "until")
    return Filter(**{k: params.get(k) for k in names})


@contextmanager
def audit_api(uri: str | None) -> Iterator[AuditApi]:
    with reported():
        resolved = resolve_uri(uri)
        api: AuditApi = HttpAudit(resolved) if is_http(resolved) else LocalAudit(resolved)
        try:
            yield api
        finally:
            api.close()


def parse_time(text: str | None, now: dt.datetime | None = None) -> int | None:
    """ms since 1970 of ``2026-01-31``, ``2026-01-31T12:00`` (local time unless it says),
    ``90m`` / ``2h`` / ``7d`` ago, or a number of ms."""
    if text is None:
        return None
    text = text.strip()
    now = now or dt.datetime.now().astimezone()
    if text.isdigit():
        return int(text)
    ago = _AGO.match(text)
    if ago:
        seconds = float(ago.group(1)) * _UNIT_S[ago.group(2)]
        return int((now.timestamp() - seconds) * 1000)
    try:
        moment = dt.datetime.fromisoformat(text)
    except ValueError:
        raise InvalidInput(
            f"{text!r} is not a time: give 2026-01-31, 2026-01-31T12:00, 2h or 7d (ago)"
        ) from None
    if moment.tzinfo is None:
        moment = moment.astimezone()
    return int(moment.timestamp() * 1000)


def _params(
    actor: str | None, obj: str | None, action: str | None, since: str | None, until: str | None
) -> dict[str, Any]:
    kind, _, object_id = (obj or "").partition(":")
    params = {
        "actor": actor,
        "object_kind": kind or None,
        "object_id": object_id or None,
        "action": action,
        "since": parse_time(since),
        "until": parse_time(until),
    }
    return {k: v for k, v in params.items() if v is not None}


Actor = typer.Option(None, "--actor", help="Only this user's (or token's) records.")
Object = typer.Option(None, "--object", help="KIND or KIND:ID, e.g. model:churn, run:<id>.")
Action = typer.Option(None, "--action", help="A piece of the action, e.g. DELETE or /grants.")
Since = typer.Option(None, "--since", help="From this time: 2026-01-31[T12:00], or 2h, 7d ago.")
Until = typer.Option(None, "--until", help="Before this time (same forms as --since).")


@app.callback()
def latest(
    ctx: typer.Context,
    actor: str | None = Actor,
    obj: str | None = Object,
    action: str | None = Action,
    since: str | None = Since,
    until: str | None = Until,
    limit: int = typer.Option(50, "--limit", "-n", help="At most this many (the latest)."),
    as_json: bool = typer.Option(False, "--json", help="The records as JSON."),
    uri: str | None = TrackingUri,
) -> None:
    """The latest records, oldest of them first."""
    if ctx.invoked_subcommand is not None:
        return
    with audit_api(uri) as api:
        params = _params(actor, obj, action, since, until)
        page = api.query({**params, "limit": limit, "order": "desc"})
    records = list(reversed(page["records"]))
    if as_json:
        sys.stdout.write(orjson.dumps(records, option=orjson.OPT_INDENT_2).decode() + "\n")
        return
    table = Table("seq", "when", "who", "from", "action", "object", "status", "changes")
    for r in records:
        who = r["actor"] + (f" ({r['actor_kind']})" if r["actor_kind"] != "user" else "")
        target = f"{r['object_kind']}:{r['object_id']}" if r["object_id"] else r["object_kind"]
        changes = orjson.dumps(r["changes"]).decode() if r["changes"] else ""
        table.add_row(
            str(r["seq"]), when(r["at"]), escape(who), escape(r["address"]), escape(r["action"]),
            escape(target), str(r["status"]), escape(changes[:120]),
        )  # fmt: skip
    console.print(table)


@app.command("verify")
def verify(uri: str | None = TrackingUri) -> None:
    """Check the whole chain; exit 1 when a record was edited, removed or moved."""
    with audit_api(uri) as api:
        result = api.verify()
    if result["ok"]:
        console.print(
            f"ok: {result['records']:,} records, head {result['head_seq']} {result['head_hash']}"
        )
        return
    console.print(f"[red]the audit chain is broken[/red] ({result['records']:,} records read):")
    table = Table("seq", "problem", "what")
    for p in result["problems"]:
        table.add_row(str(p["seq"]), p["kind"], escape(p["message"]))
    console.print(table)
    raise typer.Exit(1)


@app.command("export")
def export(
    fmt: str = typer.Option("jsonl", "--format", "-f", help="jsonl or csv."),
    output: Path = typer.Option(Path("-"), "--output", "-o", help="The file (-: standard output)."),
    actor: str | None = Actor,
    obj: str | None = Object,
    action: str | None = Action,
    since: str | None = Since,
    until: str | None = Until,
    uri: str | None = TrackingUri,
) -> None:
    """Every matching record, oldest first, as JSON Lines (each hash can be recomputed) or CSV."""
    if fmt not in ("jsonl", "csv"):
        raise typer.BadParameter("jsonl or csv", param_hint="--format")
    with audit_api(uri) as api:
        params = {**_params(actor, obj, action, since, until), "format": fmt}
        if str(output) == "-":
            _copy(api.export(params), sys.stdout.buffer)
            return
        with output.open("wb") as out:
            count = _copy(api.export(params), out)
    console.print(f"wrote {count:,} bytes to {output}")


def _copy(chunks: Iterator[bytes], out: BinaryIO) -> int:
    count = 0
    for chunk in chunks:
        out.write(chunk)
        count += len(chunk)
    out.flush()
    return count
