"""`modelyard login|logout|whoami`, and `modelyard users|teams|tokens|grants` on a server with
access control."""

from __future__ import annotations

import base64
import socket
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import typer
from rich.markup import escape
from rich.table import Column, Table

from modelyard import config
from modelyard.cli.common import TrackingUri, console, err_console, reported, when
from modelyard.errors import InvalidInput, InvalidState, NotFound, Unauthenticated
from modelyard.tracking import credentials
from modelyard.tracking.http import HttpBackend, pools, quote_part

LOGIN_DAYS = 90.0

users = typer.Typer(
    help="Accounts (admins): create, disable, make admin, delete.", no_args_is_help=True
)
teams = typer.Typer(
    help="Teams (admins): groups of users that grants can name.", no_args_is_help=True
)
tokens = typer.Typer(
    help="API tokens: yours, or any (admins); shown once, revoked at once.", no_args_is_help=True
)
grants = typer.Typer(
    help="Roles on experiments, models, datasets, deployments or the server.",
    no_args_is_help=True,
)


def server_url(uri: str | None) -> str:
    """The server the command talks to: ``uri``, else MODELYARD_TRACKING_URI; http(s) only."""
    url = (uri or config.TRACKING_URI.get() or "").strip().rstrip("/")
    if not url.startswith(("http://", "https://")):
        raise InvalidInput(
            "accounts live on a modelyard server: give its URL (http(s)://host:port) with -u "
            "or MODELYARD_TRACKING_URI"
        )
    return url


@contextmanager
def api(uri: str | None) -> Iterator[HttpBackend]:
    """The server's API (this process's pool), errors reported as one red line."""
    with reported():
        url = server_url(uri)
        backend = pools.acquire(url)
        try:
            yield backend
        finally:
            pools.release(url)


def _bearer(token: str) -> dict[str, str]:
    return {"authorization": f"Bearer {token}"}


def _expiry(ms: int | None) -> str:
    return "never" if ms is None else when(ms)


# ---- login, logout, whoami


def login(
    url: str | None = typer.Argument(None, help="The server (default MODELYARD_TRACKING_URI)."),
    user: str | None = typer.Option(None, "--user", "-n", help="Your user name (else asked)."),
    token: str | None = typer.Option(
        None, "--token", help="Store this API token instead of logging in ('-': read stdin)."
    ),
    scope: str = typer.Option(
        "write", "--scope", help="What the new token may do: read, write or admin."
    ),
    days: float = typer.Option(LOGIN_DAYS, "--days", help="Days until the new token expires."),
) -> None:
    """Log in: make a personal API token ("cli@HOST") with your password and store it for the
    server in ~/.modelyard/credentials.json (mode 0600); clients use it when MODELYARD_TOKEN is
    unset."""
    with api(url) as backend:
        where = server_url(url)
        previous = credentials.stored(where)
        if token is not None:
            secret = (sys.stdin.readline() if token == "-" else token).strip()
            me = backend.call("GET", "/auth/me", headers=_bearer(secret))
            found = me.get("token") or {}
            entry = {"token": secret, "token_id": found.get("id"), "user": me["name"]}
            entry |= {"scope": found.get("scope"), "expires_at": None}
        else:
            name = user or typer.prompt("User")
            password = typer.prompt("Password", hide_input=True)
            basic = base64.b64encode(f"{name}:{password}".encode()).decode()
            body = {"name": f"cli@{socket.gethostname()}", "scope": scope, "expires_in_days": days}
            made = backend.call(
                "POST", "/tokens", body, headers={"authorization": f"Basic {basic}"}
            )
            info = made["token"]
            entry = {"token": made["secret"], "token_id": info["id"], "user": info["owner"]}
            entry |= {"scope": info["scope"], "expires_at": info["expires_at"]}
        path = credentials.save(where, entry)
        if previous and previous.get("token_id") and previous.get("token_id") != entry["token_id"]:
            _revoke_quietly(backend, previous)
    console.print(
        f"logged in to {where} as [bold]{escape(str(entry['user']))}[/bold] (token "
        f"{entry['token_id']}, scope {entry['scope']}, expires {_expiry(entry['expires_at'])}); "
        f"stored in {path}"
    )
    if config.TOKEN.get():
        err_console.print(
            "[yellow]note:[/yellow] MODELYARD_TOKEN is set in this shell and is sent instead"
        )


def _revoke_quietly(backend: HttpBackend, entry: dict[str, Any]) -> bool:
    """Revoke a stored token with itself; False when the server no longer takes it."""
    try:
        backend.call("DELETE", f"/tokens/{entry['token_id']}", headers=_bearer(entry["token"]))
    except (Unauthenticated, NotFound):
        return False
    return True


def logout(
    url: str | None = typer.Argument(None, help="The server (default MODELYARD_TRACKING_URI)."),
) -> None:
    """Revoke the token `modelyard login` stored for the server, and forget it."""
    with api(url) as backend:
        where = server_url(url)
        entry = credentials.stored(where)
        if entry is None:
            console.print(f"not logged in to {where}")
            return
        revoked = entry.get("token_id") is not None and _revoke_quietly(backend, entry)
        credentials.forget(where)
    state = "revoked" if revoked else "already invalid"
    console.print(f"logged out of {where} (token {entry.get('token_id')} {state})")


def whoami(uri: str | None = TrackingUri) -> None:
    """Who the server takes you for, how, and the roles you hold."""
    with api(uri) as backend:
        try:
            me = backend.call("GET", "/auth/me")
        except InvalidState:
            console.print(f"anonymous ({server_url(uri)} runs without access control)")
            return
    user = me.get("user") or {}
    admin = " (admin)" if user.get("is_admin") else ""
    console.print(f"[bold]{escape(me['name'])}[/bold]{admin} via {me['via']}")
    if me.get("token"):
        console.print(f"  token {me['token']['id']}, scope {me['token']['scope']}")
    if user.get("teams"):
        console.print(f"  teams: {escape(', '.join(user['teams']))}")
    for g in me["roles"]:
        what = "the server" if g["resource_kind"] == "server" else g["resource_kind"]
        target = "" if g["resource_kind"] == "server" else f" {escape(g['resource'])}"
        console.print(f"  {g['role']} on {what}{target} (as {escape(g['principal'])})")


# ---- users


def _user_table(rows: list[dict[str, Any]]) -> Table:
    table = Table("name", "admin", "disabled", "e-mail", "sso", "teams", "created")
    for u in rows:
        table.add_row(
            escape(u["name"]),
            "yes" if u["is_admin"] else "",
            "yes" if u["disabled"] else "",
            escape(u["email"] or ""),
            "yes" if u["sso"] else "",
            escape(", ".join(u["teams"])),
            when(u["created_at"]),
        )
    return table


def _user_lines(u: dict[str, Any]) -> str:
    """One account, a field a line."""
    fields = {
        "name": u["name"],
        "admin": "yes" if u["is_admin"] else "no",
        "disabled": "yes" if u["disabled"] else "no",
        "e-mail": u["email"] or "-",
        "single sign-on": "yes" if u["sso"] else "no",
        "teams": ", ".join(u["teams"]) or "-",
        "created": when(u["created_at"]),
    }
    return "\n".join(f"{k}: {escape(str(v))}" for k, v in fields.items())


def _new_password() -> str:
    return str(typer.prompt("New password", hide_input=True, confirmation_prompt=True))


@users.command("list")
def users_list(uri: str | None = TrackingUri) -> None:
    with api(uri) as backend:
        console.print(_user_table(backend.call("GET", "/users")["users"]))


@users.command("create")
def users_create(
    name: str,
    admin: bool = typer.Option(False, "--admin", help="Make the account an admin."),
    email: str | None = typer.Option(None, "--email"),
    no_password: bool = typer.Option(
        False, "--no-password", help="No password (signs in with single sign-on only)."
    ),
    uri: str | None = TrackingUri,
) -> None:
    """Make an account; asks for its password."""
    password = None if no_password else _new_password()
    with api(uri) as backend:
        body = {"name": name, "password": password, "is_admin": admin, "email": email}
        made = backend.call("POST", "/users", body)
    console.print(f"created user {escape(made['name'])}" + (" (admin)" if admin else ""))


@users.command("show")
def users_show(name: str, uri: str | None = TrackingUri) -> None:
    with api(uri) as backend:
        console.print(_user_lines(backend.call("GET", f"/users/{quote_part(name)}")))


@users.command("update")
def users_update(
    name: str,
    password: bool = typer.Option(False, "--password", help="Set a new password (asked)."),
    admin: bool | None = typer.Option(None, "--admin/--no-admin", help="The admin flag."),
    disabled: bool | None = typer.Option(
        None, "--disable/--enable", help="Disable the account (its sessions end) or enable it."
    ),
    email: str | None = typer.Option(None, "--email", help='The e-mail address ("" clears it).'),
    uri: str | None = TrackingUri,
) -> None:
    """Change an account."""
    body: dict[str, Any] = {"is_admin": admin, "disabled": disabled, "email": email}
    if password:
        body["password"] = _new_password()
    with api(uri) as backend:
        user = backend.call("PATCH", f"/users/{quote_part(name)}", body)
    console.print(_user_lines(user))


@users.command("delete")
def users_delete(
    name: str,
    yes: bool = typer.Option(False, "--yes", "-y", help="Do not ask."),
    uri: str | None = TrackingUri,
) -> None:
    """Delete an account with its tokens, sessions and grants."""
    if not yes:
        typer.confirm(f"delete user {name} with its tokens and grants?", abort=True)
    with api(uri) as backend:
        backend.call("DELETE", f"/users/{quote_part(name)}")
    console.print(f"deleted user {escape(name)}")


# ---- teams


@teams.command("list")
def teams_list(uri: str | None = TrackingUri) -> None:
    with api(uri) as backend:
        table = Table("team", "members")
        for t in backend.call("GET", "/teams")["teams"]:
            table.add_row(escape(t["name"]), escape(", ".join(t["members"])))
    console.print(table)


@teams.command("create")
def teams_create(name: str, uri: str | None = TrackingUri) -> None:
    with api(uri) as backend:
        backend.call("POST", "/teams", {"name": name})
    console.print(f"created team {escape(name)}")


@teams.command("delete")
def teams_delete(
    name: str,
    yes: bool = typer.Option(False, "--yes", "-y", help="Do not ask."),
    uri: str | None = TrackingUri,
) -> None:
    """Delete a team and its grants (its members keep their accounts)."""
    if not yes:
        typer.confirm(f"delete team {name} and its grants?", abort=True)
    with api(uri) as backend:
        backend.call("DELETE", f"/teams/{quote_part(name)}")
    console.print(f"deleted team {escape(name)}")


@teams.command("add")
def teams_add(team: str, user: str, uri: str | None = TrackingUri) -> None:
    """Make USER a member of TEAM."""
    with api(uri) as backend:
        found = backend.call("PUT", f"/teams/{quote_part(team)}/members/{quote_part(user)}")
    console.print(f"team {escape(team)}: {escape(', '.join(found['members']))}")


@teams.command("remove")
def teams_remove(team: str, user: str, uri: str | None = TrackingUri) -> None:
    """Take USER out of TEAM."""
    with api(uri) as backend:
        found = backend.call("DELETE", f"/teams/{quote_part(team)}/members/{quote_part(user)}")
    console.print(f"team {escape(team)}: {escape(', '.join(found['members'])) or '(no members)'}")


# ---- tokens


@tokens.command("list")
def tokens_list(
    every: bool = typer.Option(False, "--all", help="Every token (admins)."),
    uri: str | None = TrackingUri,
) -> None:
    with api(uri) as backend:
        rows = backend.call("GET", "/tokens", params={"all": "true"} if every else None)["tokens"]
    table = Table(
        Column("id", no_wrap=True, min_width=12),
        *("name", "owner", "scope", "expires", "last used", "revoked"),
    )
    for t in rows:
        used = "-"
        if t["last_used_at"] is not None:
            used = f"{when(t['last_used_at'])} from {t['last_used_from'] or '?'}"
        table.add_row(
            t["id"],
            escape(t["name"]),
            escape(t["owner"] or "service"),
            t["scope"],
            _expiry(t["expires_at"]),
            used,
            when(t["revoked_at"]) if t["revoked_at"] else "",
        )
    console.print(table)


@tokens.command("create")
def tokens_create(
    name: str,
    scope: str = typer.Option("write", "--scope", help="read, write or admin."),
    days: float | None = typer.Option(90.0, "--days", help="Days until it expires."),
    no_expiry: bool = typer.Option(False, "--no-expiry", help="Never expires."),
    service: bool = typer.Option(False, "--service", help="A service token (admins)."),
    owner: str | None = typer.Option(None, "--owner", help="Another user's token (admins)."),
    uri: str | None = TrackingUri,
) -> None:
    """Make an API token; its secret is shown this once."""
    body = {
        "name": name,
        "scope": scope,
        "expires_in_days": None if no_expiry else days,
        "service": service,
        "owner": owner,
    }
    with api(uri) as backend:
        made = backend.call("POST", "/tokens", body)
    t = made["token"]
    console.print(
        f"created token {t['id']} ({escape(t['name'])}, scope {t['scope']}, expires "
        f"{_expiry(t['expires_at'])}); its secret, shown once:"
    )
    console.print(made["secret"], markup=False, highlight=False, soft_wrap=True)


@tokens.command("revoke")
def tokens_revoke(token_id: str, uri: str | None = TrackingUri) -> None:
    """Revoke a token (yours, or any for an admin); it stops working at once."""
    with api(uri) as backend:
        backend.call("DELETE", f"/tokens/{quote_part(token_id)}")
    console.print(f"revoked token {escape(token_id)}")


# ---- grants


@grants.command("list")
def grants_list(
    kind: str | None = typer.Option(None, "--kind", help="server, experiment, model, ..."),
    resource: str | None = typer.Option(None, "--resource", help="The object's id or name."),
    principal: str | None = typer.Option(None, "--principal", help="user:NAME, team:NAME, ..."),
    uri: str | None = TrackingUri,
) -> None:
    """Grants you may see: all for an admin, else yours and those on objects you maintain."""
    given = {"kind": kind, "resource": resource, "principal": principal}
    params = {k: v for k, v in given.items() if v is not None}
    with api(uri) as backend:
        rows = backend.call("GET", "/grants", params=params)["grants"]
    table = Table(Column("id", no_wrap=True), "principal", "role", "on", "granted by", "at")
    for g in rows:
        target = g["resource_kind"] + (
            "" if g["resource_kind"] == "server" else f" {g['resource']}"
        )
        table.add_row(
            str(g["id"]),
            escape(g["principal"]),
            g["role"],
            escape(target),
            escape(g["granted_by"]),
            when(g["granted_at"]),
        )
    console.print(table)


@grants.command("add")
def grants_add(
    principal: str = typer.Argument(..., help="user:NAME, team:NAME or token:ID"),
    role: str = typer.Argument(..., help="viewer, editor or maintainer"),
    kind: str = typer.Argument(..., help="server, experiment, model, dataset or deployment"),
    resource: str = typer.Argument("", help="The experiment's id, or the object's name."),
    uri: str | None = TrackingUri,
) -> None:
    """Give PRINCIPAL ROLE on an object (or the server), e.g. `user:ana editor model churn`."""
    body = {"principal": principal, "role": role, "kind": kind, "resource": resource}
    with api(uri) as backend:
        g = backend.call("POST", "/grants", body)
    console.print(
        f"grant {g['id']}: {escape(g['principal'])} is {g['role']} on {g['resource_kind']}"
        + ("" if g["resource_kind"] == "server" else f" {escape(g['resource'])}")
    )


@grants.command("remove")
def grants_remove(grant_id: int, uri: str | None = TrackingUri) -> None:
    """Take a grant back."""
    with api(uri) as backend:
        g = backend.call("DELETE", f"/grants/{grant_id}")
    console.print(f"removed grant {g['id']} ({escape(g['principal'])} {g['role']})")


def register(app: typer.Typer) -> None:
    """Add these commands to the `modelyard` app."""
    app.command("login")(login)
    app.command("logout")(logout)
    app.command("whoami")(whoami)
    app.add_typer(users, name="users")
    app.add_typer(teams, name="teams")
    app.add_typer(tokens, name="tokens")
    app.add_typer(grants, name="grants")
