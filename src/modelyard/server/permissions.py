"""The permission every route needs, declared in one table, and the check that enforces it.

:data:`PERMISSIONS` maps each route's endpoint (``module:function``) to a :class:`Need`:

* ``OPEN``: anyone, no credentials (probes, the login itself);
* ``SIGNED_IN``: any authenticated caller (their own account; listings, which the route
  filters to what the caller may read with :func:`readable`);
* ``CREATE``: any authenticated caller whose credential may write; the new object makes its
  creator its maintainer (:func:`made`);
* ``on(kind, role, find)``: ``role`` on the object ``find`` names (server/finders.py: from the
  path, the MLflow message or the JSON body, read as the route reads them; a run's experiment,
  a version's model). A finder that names nothing the route can find passes, so the route
  answers its own 404; one naming an object the route will create checks a create;
* ``server(role)``: ``role`` on the whole server (``admin`` for accounts and the audit log).

A few routes check more inside, with :func:`require`: a request writing to many runs (each
run's experiment), registering a version from a run (``viewer`` on the run's experiment),
moving a version's stage (``maintainer``).

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
from modelyard.server import finders as f
from modelyard.server.finders import NEW, UNKNOWN, Finder, Found, Target

__all__ = [
    "CREATE",
    "NEW",
    "OPEN",
    "PERMISSIONS",
    "SIGNED_IN",
    "Finder",
    "Need",
    "Target",
    "authorize",
    "endpoint_key",
    "made",
    "may",
    "monitored_readable",
    "moved",
    "need_of",
    "on",
    "readable",
    "require",
    "server",
    "walk",
]


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


EXP, MODEL, DATA, DEPLOY = Kind.EXPERIMENT, Kind.MODEL, Kind.DATASET, Kind.DEPLOYMENT
VIEWER, EDITOR, MAINTAINER, ADMIN = Role.VIEWER, Role.EDITOR, Role.MAINTAINER, Role.ADMIN


def _module(module: str, needs: dict[str, Need]) -> dict[str, Need]:
    return {f"modelyard.server.{module}:{name}": need for name, need in needs.items()}


def _all(role: Role, kind: Kind, find: Finder, names: str) -> dict[str, Need]:
    """``role`` on the object ``find`` names, for each endpoint in ``names`` (space-separated)."""
    return dict.fromkeys(names.split(), on(kind, role, find))


def _each(need: Need, names: str) -> dict[str, Need]:
    return dict.fromkeys(names.split(), need)


PERMISSIONS: dict[str, Need] = {
    # probes, the API's fallbacks, the page shown when the UI is not built
    **_module("routes.health", _each(OPEN, "health ready")),
    **_module(
        "app",
        {
            **_each(OPEN, "_api_not_found.<locals>.no_endpoint _mount_ui.<locals>.no_ui"),
            **_each(SIGNED_IN, "_api_docs.<locals>.openapi _api_docs.<locals>.docs"),
        },
    ),
    # /metrics: open on loopback, a token otherwise, checked by server/metrics.py itself
    **_module("metrics", _each(OPEN, "install_metrics.<locals>.scrape")),
    # ---- tracking
    **_module(
        "routes.experiments",
        {
            "list_experiments": SIGNED_IN,
            "create_experiment": CREATE,
            "get_experiment_by_name": on(EXP, VIEWER, f.experiment_by_name),
            "get_experiment": on(EXP, VIEWER, f.experiment_id),
            "set_experiment_tag": on(EXP, EDITOR, f.experiment_id),
            **_all(
                MAINTAINER,
                EXP,
                f.experiment_id,
                "update_experiment delete_experiment restore_experiment",
            ),
        },
    ),
    **_module(
        "routes.runs",
        {
            "ingest": CREATE,  # each batch's run is checked inside (server/run_access.py)
            "log_batch": on(EXP, EDITOR, f.run),  # and a run it creates, inside
            "create_run": on(EXP, EDITOR, f.new_run),  # and a run id that exists, inside
            "search_runs": SIGNED_IN,
            "metric_histories": SIGNED_IN,  # every run named is checked inside
            "gc": server(ADMIN),
            "experiment_field_values": on(EXP, VIEWER, f.experiment_id),
            **_all(VIEWER, EXP, f.run, "get_run metric_history"),
            **_all(EDITOR, EXP, f.run, "update_run delete_run restore_run delete_run_tag"),
        },
    ),
    # saved views of an experiment's runs page: read with the experiment, written by its editors
    **_module(
        "routes.views",
        {
            **_all(VIEWER, EXP, f.experiment_id, "list_views get_view"),
            **_all(EDITOR, EXP, f.experiment_id, "create_view update_view delete_view"),
        },
    ),
    **_module(
        "routes.traces",
        {
            "experiment_traces": on(EXP, VIEWER, f.experiment_id),
            "run_traces": on(EXP, VIEWER, f.run),
            "get_trace": on(EXP, VIEWER, f.trace),
        },
    ),
    **_module(
        "routes.artifacts",
        {
            **_all(VIEWER, EXP, f.run, "list_artifacts download_artifact table_preview"),
            **_all(EDITOR, EXP, f.run, "link_artifacts upload_artifact"),
        },
    ),
    # content-addressed uploads: a digest names content, not an object (see docs/security.md)
    **_module(
        "routes.blobs",
        {
            "get_blob": SIGNED_IN,
            **_each(
                CREATE,
                "missing put_blob put_pack create_upload upload_status put_part "
                "complete_upload abort_upload",
            ),
        },
    ),
    # ---- datasets
    **_module(
        "routes.datasets",
        {
            "list_datasets": SIGNED_IN,
            "register": on(DATA, EDITOR, f.dataset_new),
            "delete_version": on(DATA, MAINTAINER, f.dataset),
            "log_use": on(EXP, EDITOR, f.run),  # and viewer on the dataset, inside
            "uses_of_run": on(EXP, VIEWER, f.run),
            **_all(VIEWER, DATA, f.dataset, "versions get_version runs_of"),
        },
    ),
    # ---- registry
    **_module(
        "routes.registry",
        {
            "list_models": SIGNED_IN,
            "register": on(MODEL, EDITOR, f.model_new),  # and viewer on the run, inside
            "register_from_run": on(MODEL, EDITOR, f.model_new),  # and viewer on the run, inside
            # and viewer on the logged model's experiment, inside
            "register_logged_model": on(MODEL, EDITOR, f.model_new),
            "update_version": on(MODEL, EDITOR, f.model),  # a stage needs maintainer, inside
            **_all(
                EDITOR,
                MODEL,
                f.model,
                "set_card update_model set_model_tag delete_model_tag set_version_tag "
                "delete_version_tag",
            ),
            **_all(
                VIEWER,
                MODEL,
                f.model,
                "get_model list_versions get_version get_by_alias history lineage "
                "version_files alias_at compare",
            ),
            **_all(
                MAINTAINER,
                MODEL,
                f.model,
                "delete_version trust set_alias delete_alias rollback_alias",
            ),
        },
    ),
    **_module(
        "routes.logged_models",
        {
            "experiment_models": on(EXP, VIEWER, f.experiment_id),
            "get_logged_model": on(EXP, VIEWER, f.m_logged_model),
            "run_models": on(EXP, VIEWER, f.run),  # inputs of other experiments: readable ones
        },
    ),
    **_module(
        "routes.promotions",
        {
            "propose": on(MODEL, EDITOR, f.model),
            "of_model": on(MODEL, VIEWER, f.model),
            "comment": on(MODEL, EDITOR, f.promotion),
            **_all(VIEWER, MODEL, f.promotion, "get check"),
            **_all(MAINTAINER, MODEL, f.promotion, "approve reject"),
        },
    ),
    # ---- serving and monitoring
    **_module(
        "routes.deployments",
        {
            "create": on(MODEL, MAINTAINER, f.deployment_model),
            "list_all": SIGNED_IN,
            "heartbeat": OPEN,  # a serving process's own token, checked inside
            **_all(VIEWER, DEPLOY, f.deployment, "get history logs"),
            **_all(EDITOR, DEPLOY, f.deployment, "set_traffic promote rollback"),
            **_all(MAINTAINER, DEPLOY, f.deployment, "set_logging delete serving_token"),
        },
    ),
    **_module(
        "routes.monitoring",
        {
            "overview": SIGNED_IN,
            **_all(EDITOR, DEPLOY, f.monitored, "log_predictions add_labels"),
            **_all(VIEWER, DEPLOY, f.monitored, "quality health drift report"),
        },
    ),
    **_module(
        "routes.alerts",
        {
            "list_rules": SIGNED_IN,
            "firings": SIGNED_IN,
            "create_rule": on(DEPLOY, EDITOR, f.new_alert_rule),
            **_all(VIEWER, DEPLOY, f.alert_rule, "get_rule events"),
            **_all(EDITOR, DEPLOY, f.alert_rule, "update_rule delete_rule silence unsilence"),
            **_all(EDITOR, DEPLOY, f.alert_firing, "acknowledge resolve"),
        },
    ),
    # ---- accounts, tokens, grants, the audit log
    **_module(
        "routes.access",
        {
            **_each(OPEN, "session login"),
            **_each(
                SIGNED_IN,
                "logout me change_password list_tokens create_token revoke_token "
                "list_grants create_grant delete_grant",
            ),
            **_each(
                server(ADMIN),
                "list_users create_user get_user update_user delete_user "
                "list_teams create_team delete_team add_member remove_member",
            ),
        },
    ),
    **_module("routes.oidc", _each(OPEN, "oidc_login oidc_callback")),
    **_module("routes.audit", _each(server(ADMIN), "query verify export")),
    # ---- MLflow's REST API: the same rules
    **_module("mlflow", _each(OPEN, "mount.<locals>.server_info")),
    **_module(
        "mlflow.experiments",
        {
            "create": CREATE,
            "search": SIGNED_IN,
            "get": on(EXP, VIEWER, f.m_experiment),
            "get_by_name": on(EXP, VIEWER, f.m_experiment_by_name),
            **_all(EDITOR, EXP, f.m_experiment, "set_tag delete_tag"),
            **_all(MAINTAINER, EXP, f.m_experiment, "update delete restore"),
        },
    ),
    **_module(
        "mlflow.runs",
        {
            "create": on(EXP, EDITOR, f.m_new_run),
            "search": SIGNED_IN,
            "get_history_bulk_interval": SIGNED_IN,  # every run named is checked inside
            **_all(VIEWER, EXP, f.m_run, "get get_history"),
            **_all(
                EDITOR,
                EXP,
                f.m_run,
                "update delete restore log_metric log_param set_tag delete_tag log_batch",
            ),
        },
    ),
    # and each dataset: editor (or a create for a new one), inside
    **_module("mlflow.datasets", {"log_inputs": on(EXP, EDITOR, f.m_run_id_only)}),
    **_module(
        "mlflow.logged_models",
        {
            "create": on(EXP, EDITOR, f.m_experiment),
            "search": SIGNED_IN,
            "get": on(EXP, VIEWER, f.m_logged_model),
            "log_outputs": on(EXP, EDITOR, f.m_run),
            **_all(EDITOR, EXP, f.m_logged_model, "finalize delete set_tags delete_tag log_params"),
        },
    ),
    **_module(
        "mlflow.registry",
        {
            "create_model": CREATE,
            **_each(SIGNED_IN, "search_models search_versions"),
            **_all(
                VIEWER,
                MODEL,
                f.m_model,
                "get_model latest_versions get_by_alias get_version get_download_uri",
            ),
            # create_version also needs viewer on its source's experiment, inside
            **_all(
                EDITOR,
                MODEL,
                f.m_model,
                "update_model set_model_tag delete_model_tag create_version update_version "
                "set_version_tag delete_version_tag",
            ),
            **_all(
                MAINTAINER,
                MODEL,
                f.m_model,
                "rename_model delete_model set_alias delete_alias transition_stage delete_version",
            ),
        },
    ),
    **_module(
        "mlflow.traces",
        {
            "start_trace": on(EXP, EDITOR, f.m_new_trace),
            **_each(SIGNED_IN, "search batch_get_infos"),  # what the caller may read
            "get_trace_info": on(EXP, VIEWER, f.trace),
            **_all(EDITOR, EXP, f.trace, "set_tag delete_tag"),
            "delete_traces": on(EXP, EDITOR, f.m_experiment),
            "link_to_run": on(EXP, EDITOR, f.m_run_id_only),  # and viewer on each trace, inside
        },
    ),
    **_module(
        "mlflow.artifacts",
        {
            "list_artifacts": on(EXP, VIEWER, f.m_artifact_listing),
            "download": on(EXP, VIEWER, f.m_artifact),
            **_all(EDITOR, EXP, f.m_artifact, "upload delete"),
        },
    ),
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


def _access(request: Request) -> AccessService:
    found: AccessService = request.app.state.services["access"]
    return found


def authorize(request: Request, who: Identity) -> None:
    """Raise unless ``who`` may call the route that took ``request``."""
    need = need_of(request)
    request.state.need = need
    if need.mode == "open":
        return
    if not who.authenticated:
        raise Unauthenticated("log in or send an API token (Authorization: Bearer ...)")
    if need.mode == "signed_in":
        return
    if need.mode == "create":
        _may_create(who)
        return
    if need.mode == "server":
        _access(request).require(who, Kind.SERVER, "", need.role)
        return
    assert need.find is not None
    found: Found = need.find(request)
    request.state.found = found
    kind, resource = (
        (found.kind, found.resource) if isinstance(found, Target) else (need.kind, found)
    )
    if resource is None:
        if who.ceiling < need.role:
            raise PermissionDenied(f"this needs the {need.role.label} role", needed=need.role.label)
        return  # no such object: the route answers 404 (or 400 for a missing field)
    if resource == NEW:
        _may_create(who)
        return
    if resource != UNKNOWN:
        request.state.audit_object = (kind.value, resource)
    _access(request).require(who, kind, resource, need.role)


def _may_create(who: Identity) -> None:
    if who.ceiling < Role.EDITOR:
        raise PermissionDenied(f"a {who.scope} token cannot create", needed="editor")


def _auth(request: Request) -> bool:
    return bool(getattr(request.app.state.settings, "auth", False))


def readable(request: Request, kind: Kind) -> set[str] | None:
    """The objects of ``kind`` the caller may read (None: all; auth off, an admin, a
    server-wide grant)."""
    if not _auth(request):
        return None
    return _access(request).readable(request.state.identity, kind)


def monitored_readable(request: Request) -> Callable[[str], bool]:
    """Whether the caller may read what monitoring calls ``name``: a deployment, else a
    registered model of that name, as the monitoring routes resolve it (all, with auth off,
    for an admin or a server-wide grant)."""
    deployments = readable(request, Kind.DEPLOYMENT)
    models = readable(request, Kind.MODEL)
    if deployments is None and models is None:
        return lambda _name: True
    seen: dict[str, bool] = {}

    def check(name: str) -> bool:
        if name not in seen:
            target = f.monitoring_target(request, name)
            allowed = deployments if target.kind is Kind.DEPLOYMENT else models
            seen[name] = allowed is None or target.resource in allowed
        return seen[name]

    return check


def may(request: Request, kind: Kind, resource: str, role: Role = Role.VIEWER) -> bool:
    """Whether the caller holds ``role`` on one object (always, with auth off)."""
    if not _auth(request):
        return True
    held = _access(request).role_on(request.state.identity, kind, resource)
    return held is not None and held >= role


def require(request: Request, kind: Kind, resource: str, role: Role = Role.VIEWER) -> None:
    """A check inside a route: PermissionDenied unless the caller holds ``role`` on the object
    (nothing with auth off)."""
    if _auth(request):
        _access(request).require(request.state.identity, kind, resource, role)


def require_create(request: Request) -> None:
    """A check inside a route that creates an object: a write-capable credential."""
    if _auth(request):
        _may_create(request.state.identity)


def made(request: Request, kind: Kind, resource: str) -> None:
    """The caller created an object: make them its maintainer (nothing with auth off)."""
    if _auth(request):
        _access(request).made(request.state.identity, kind, resource)


def created(request: Request) -> bool:
    """Whether the route's permission check found that it creates its object."""
    return getattr(request.state, "found", None) == NEW


def moved(request: Request, kind: Kind, old: str, new: str) -> None:
    """An object was renamed: its grants follow it (nothing with auth off)."""
    if not _auth(request):
        return
    access = _access(request)
    who: Identity = request.state.identity
    for grant in access.grants(kind, old):
        if grant.resource_kind is kind and grant.resource == old:
            try:
                access.grant(grant.principal_name, kind, new, grant.role, by=who)
            except NotFound:
                continue  # a principal deleted since: nothing to carry over
    access.forget_object(kind, old)


def forget(request: Request, kind: Kind, resource: str) -> None:
    """An object is gone for good: drop its grants, so a namesake does not inherit them."""
    if _auth(request):
        _access(request).forget_object(kind, resource)


# ---- the route table


def walk(app: FastAPI) -> Iterator[BaseRoute]:
    """Every route of the app, through included routers."""
    for _path, route in routes(app):
        yield route


def routes(app: FastAPI) -> Iterator[tuple[str, BaseRoute]]:
    """Every route of the app with the full path it answers at."""

    def inner(items: list[BaseRoute], prefix: str) -> Iterator[tuple[str, BaseRoute]]:
        for route in items:
            original = getattr(route, "original_router", None)
            if original is not None:
                context = getattr(route, "include_context", None)
                yield from inner(list(original.routes), prefix + getattr(context, "prefix", ""))
            elif isinstance(route, APIRoute | Route):
                yield prefix + route.path, route

    yield from inner(list(app.router.routes), "")
