"""The permission every route needs, declared in one table, and the check that enforces it.

:data:`PERMISSIONS` maps each route's endpoint (``module:function``) to a :class:`Need`:

* ``OPEN``: anyone, no credentials (probes, the login itself);
* ``SIGNED_IN``: any authenticated caller (their own account; listings, which the route
  filters to what the caller may read with :func:`readable`);
* ``CREATE``: any authenticated caller whose credential may write; the new object makes its
  creator its maintainer;
* ``on(kind, role, find)``: ``role`` on the object ``find`` names (from the path, the query or
  the JSON body; a run's experiment, a version's model); an object that does not exist passes,
  so the route answers its own 404;
* ``server(role)``: ``role`` on the whole server (``admin`` for accounts and the audit log).

With auth off nothing is checked. ``tests/server/test_permissions.py`` walks the app's routes
and fails for any endpoint missing here, then sends each route as each role.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from fastapi import FastAPI, Request
from fastapi.routing import APIRoute
from starlette.routing import BaseRoute, Route

from modelyard.access.entities import Identity, Kind, Role
from modelyard.access.service import AccessService
from modelyard.errors import NotFound, PermissionDenied, Unauthenticated
from modelyard.server.guard import parsed_json

Finder = Callable[[Request], str | None]


@dataclass(frozen=True)
class Need:
    """What a route needs: ``role`` on an object of ``kind`` found by ``find`` (or the server)."""

    mode: str  # open | signed_in | create | object | server
    kind: Kind = Kind.SERVER
    role: Role = Role.VIEWER
    find: Finder | None = None

    def describe(self) -> str:
        if self.mode in ("object", "server"):
            return f"{self.role.label} on {self.kind.value}"
        return self.mode


OPEN = Need("open")
SIGNED_IN = Need("signed_in")
CREATE = Need("create", role=Role.EDITOR)


def on(kind: Kind, role: Role, find: Finder) -> Need:
    return Need("object", kind, role, find)


def server(role: Role) -> Need:
    return Need("server", Kind.SERVER, role)


# ---- finders: where a route names its object


def field(name: str, *aliases: str) -> Finder:
    """The value of ``name`` (or an alias) in the path, else the query, else the JSON body."""
    names = (name, *aliases)

    def find(request: Request) -> str | None:
        for key in names:
            value = request.path_params.get(key)
            if value is None:
                value = request.query_params.get(key)
            if value is None:
                body = parsed_json(request.scope)
                if isinstance(body, dict):
                    value = body.get(key)
            if value is not None and not isinstance(value, dict | list):
                return str(value)
        return None

    return find


def via(find: Finder, resolve: Callable[[Request, str], str | None]) -> Finder:
    """A finder mapping what ``find`` names to its parent (a run to its experiment)."""

    def found(request: Request) -> str | None:
        value = find(request)
        if value is None:
            return None
        try:
            return resolve(request, value)
        except NotFound:
            return None

    return found


def run_experiment(request: Request, run_id: str) -> str | None:
    """The experiment of a run (read once per request)."""
    cache: dict[str, str] = request.state.__dict__.setdefault("_run_experiments", {})
    if run_id not in cache:
        tracking = request.app.state.services["tracking"]
        cache[run_id] = str(tracking.get_run(run_id).info.experiment_id)
    return cache[run_id]


RUN_EXPERIMENT = via(field("run_id", "run_uuid"), run_experiment)


PERMISSIONS: dict[str, Need] = {
    # filled per route; see the module docstring
}


# ---- the check


def endpoint_key(endpoint: Callable[..., Any]) -> str:
    return f"{endpoint.__module__}:{endpoint.__qualname__}"


def need_of(request: Request) -> Need:
    route = request.scope.get("route")
    endpoint = getattr(route, "endpoint", None)
    if endpoint is None:
        return SIGNED_IN
    need = PERMISSIONS.get(endpoint_key(endpoint))
    if need is None:
        # a route nobody declared is closed to all but admins (the route-table test fails too)
        return server(Role.ADMIN)
    return need


def authorize(request: Request, who: Identity) -> None:
    """Raise unless ``who`` may call the route that took ``request``."""
    need = need_of(request)
    request.state.need = need
    if need.mode == "open":
        return
    if not who.authenticated:
        raise Unauthenticated("log in or send an API token (Authorization: Bearer ...)")
    access: AccessService = request.app.state.services["access"]
    if need.mode == "signed_in":
        return
    if need.mode == "create":
        if who.ceiling < Role.EDITOR:
            raise PermissionDenied(f"a {who.scope} token cannot create", needed="editor")
        return
    if need.mode == "server":
        access.require(who, Kind.SERVER, "", need.role)
        return
    assert need.find is not None
    resource = need.find(request)
    request.state.audit_object = (need.kind.value, resource or "")
    if resource is None:
        if who.ceiling < need.role:
            raise PermissionDenied(f"this needs the {need.role.label} role", needed=need.role.label)
        return  # no such object: the route answers 404 (or 400 for a missing field)
    access.require(who, need.kind, resource, need.role)


def readable(request: Request, kind: Kind) -> set[str] | None:
    """The objects of ``kind`` the caller may read (None: all; auth off, an admin, a
    server-wide grant)."""
    if not getattr(request.app.state.settings, "auth", False):
        return None
    who: Identity = request.state.identity
    access: AccessService = request.app.state.services["access"]
    return access.readable(who, kind)


def may(request: Request, kind: Kind, resource: str, role: Role = Role.VIEWER) -> bool:
    """Whether the caller holds ``role`` on one object (always, with auth off)."""
    if not getattr(request.app.state.settings, "auth", False):
        return True
    who: Identity = request.state.identity
    access: AccessService = request.app.state.services["access"]
    held = access.role_on(who, kind, resource)
    return held is not None and held >= role


def made(request: Request, kind: Kind, resource: str) -> None:
    """The caller created an object: make them its maintainer (nothing with auth off)."""
    if not getattr(request.app.state.settings, "auth", False):
        return
    access: AccessService = request.app.state.services["access"]
    access.made(request.state.identity, kind, resource)


def walk(app: FastAPI) -> Iterator[BaseRoute]:
    """Every route of the app, through included routers."""

    def routes(items: list[BaseRoute]) -> Iterator[BaseRoute]:
        for route in items:
            original = getattr(route, "original_router", None)
            if original is not None:
                yield from routes(list(original.routes))
            elif isinstance(route, APIRoute | Route):
                yield route

    yield from routes(list(app.router.routes))
