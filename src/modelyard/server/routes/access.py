"""/api/v1/auth, /tokens, /users, /teams and /grants: accounts, logging in, and who may do what.

Every route but ``session`` answers 409 INVALID_STATE on a server with auth off (everyone is
anonymous there, so there is nobody to log in or grant to). Changes to users, teams, tokens and
grants leave their before and after in ``request.state.audit_changes`` for the audit log.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Query, Request, Response
from starlette.concurrency import run_in_threadpool

from modelyard.access.entities import Grant, Identity, Kind, Role, Scope
from modelyard.access.service import SESSION_HOURS, AccessService, acts_as_admin
from modelyard.errors import InvalidInput, InvalidState, NotFound, PermissionDenied
from modelyard.server.access_schemas import (
    GrantCreateIn,
    GrantOut,
    GrantsOut,
    LoginIn,
    MeOut,
    PasswordChangeIn,
    SessionOut,
    TeamCreateIn,
    TeamOut,
    TeamsOut,
    TokenCreatedOut,
    TokenCreateIn,
    TokenOut,
    TokensOut,
    UserCreateIn,
    UserOut,
    UsersOut,
    UserUpdateIn,
)
from modelyard.server.deps import service
from modelyard.server.identity import PASSWORDS, SESSION_COOKIE, identify
from modelyard.server.responses import JSONOut

access = service("access", AccessService)


def _auth_on(request: Request) -> None:
    if not getattr(request.app.state.settings, "auth", False):
        raise InvalidState(
            "access control is off on this server (start it with --auth); there are no "
            "accounts to use"
        )


router = APIRouter(tags=["access"])
_on = APIRouter(tags=["access"], dependencies=[Depends(_auth_on)])


def _audit(request: Request, obj: tuple[str, str], before: Any, after: Any) -> None:
    """What the audit log records of this change: its object, and the before and after."""
    request.state.audit_object = obj
    request.state.audit_changes = {"before": before, "after": after}


# ---- logging in


def _sso(request: Request) -> bool:
    return getattr(request.app.state.settings, "oidc", None) is not None


def _session_json(
    request: Request, user: dict[str, Any] | None, csrf: str | None
) -> dict[str, Any]:
    auth = bool(getattr(request.app.state.settings, "auth", False))
    return {"auth": auth, "sso": auth and _sso(request), "user": user, "csrf": csrf}


def set_session_cookie(request: Request, response: Response, cookie: str) -> None:
    """The web UI's session cookie (password login and single sign-on set the same one)."""
    response.set_cookie(
        SESSION_COOKIE,
        cookie,
        max_age=SESSION_HOURS * 3600,
        path="/",
        httponly=True,
        samesite="lax",
        secure=bool(getattr(request.app.state.settings, "tls", False)),
    )


@router.get("/auth/session", responses={200: {"model": SessionOut}})
def session(
    request: Request,
    who: Identity = Depends(identify),
    svc: AccessService = Depends(access),
) -> JSONOut:
    """Whether the server has auth on, and the caller's account and CSRF token when they use
    the web UI's session (the UI's first call)."""
    user = None
    if who.user_id is not None and getattr(request.app.state.settings, "auth", False):
        user = svc.user(who.user_id).to_json()
    return JSONOut(_session_json(request, user, getattr(request.state, "csrf", None)))


@_on.post("/auth/login", responses={200: {"model": SessionOut}})
def login(body: LoginIn, request: Request, svc: AccessService = Depends(access)) -> JSONOut:
    """Check a user name and password; set the session cookie. Unknown names and wrong
    passwords get the same 401 after the same argon2 work."""
    who = svc.authenticate_password(body.name, body.password)
    assert who.user_id is not None
    cookie, csrf = svc.open_session(who.user_id)
    request.state.identity = who  # the audit log's record of this login names them
    request.state.audit_object = ("user", who.name)
    response = JSONOut(_session_json(request, svc.user(who.user_id).to_json(), csrf))
    set_session_cookie(request, response, cookie)
    response.headers["Cache-Control"] = "no-store"
    return response


@_on.post("/auth/logout", status_code=204)
def logout(request: Request, svc: AccessService = Depends(access)) -> Response:
    """End the web UI's session (its row and the cookie)."""
    cookie = request.cookies.get(SESSION_COOKIE)
    if cookie:
        svc.close_session(cookie)
    response = Response(status_code=204)
    response.delete_cookie(
        SESSION_COOKIE,
        path="/",
        httponly=True,
        samesite="lax",
        secure=bool(getattr(request.app.state.settings, "tls", False)),
    )
    return response


@_on.get("/auth/me", responses={200: {"model": MeOut}})
def me(who: Identity = Depends(identify), svc: AccessService = Depends(access)) -> JSONOut:
    """Who the caller is, how they proved it, and the grants they hold."""
    via = "token" if who.kind == "token" else "session" if who.via_session else "password"
    return JSONOut(
        {
            "name": who.name,
            "user": None if who.user_id is None else svc.user(who.user_id).to_json(),
            "via": via,
            "token": None
            if who.token_id is None or who.scope is None
            else {"id": who.token_id, "scope": who.scope.value},
            "roles": [g.to_json() for g in svc.held_by(who)],
        }
    )


@_on.post("/auth/me/password", status_code=204)
async def change_password(
    body: PasswordChangeIn,
    request: Request,
    who: Identity = Depends(identify),
    svc: AccessService = Depends(access),
) -> Response:
    """Change one's own password. Every session of the account ends and cached passwords are
    dropped; the web UI's session that asked gets a fresh cookie."""
    if who.user_id is None:
        raise PermissionDenied("a service token has no password")
    user_id = who.user_id
    await run_in_threadpool(svc.change_password, user_id, body.current, body.new)
    PASSWORDS.clear()
    _audit(request, ("user", who.name), None, {"user": who.name, "password": "changed"})
    response = Response(status_code=204)
    if who.via_session:
        cookie, _csrf = await run_in_threadpool(svc.open_session, user_id)
        set_session_cookie(request, response, cookie)
    return response


# ---- tokens


@_on.get("/tokens", responses={200: {"model": TokensOut}})
def list_tokens(
    every: bool = Query(False, alias="all"),
    who: Identity = Depends(identify),
    svc: AccessService = Depends(access),
) -> JSONOut:
    """The caller's own tokens; with ``all=true`` every token (admins)."""
    if every:
        svc.require(who, Kind.SERVER, "", Role.ADMIN)
    tokens = svc.tokens(None if every else who)
    return JSONOut({"tokens": [t.to_json() for t in tokens]})


@_on.post("/tokens", status_code=201, responses={201: {"model": TokenCreatedOut}})
def create_token(
    body: TokenCreateIn,
    request: Request,
    who: Identity = Depends(identify),
    svc: AccessService = Depends(access),
) -> JSONOut:
    """A personal token (the caller's, or another user's for an admin) or a service token; the
    secret is in this answer only."""
    token, secret = svc.create_token(
        body.name,
        scope=Scope(body.scope),
        by=who,
        service=body.service,
        expires_in_days=body.expires_in_days,
        owner=body.owner,
    )
    _audit(request, ("token", token.id), None, token.to_json())
    response = JSONOut({"token": token.to_json(), "secret": secret}, status_code=201)
    response.headers["Cache-Control"] = "no-store"
    return response


@_on.delete("/tokens/{token_id}", responses={200: {"model": TokenOut}})
def revoke_token(
    token_id: str,
    request: Request,
    who: Identity = Depends(identify),
    svc: AccessService = Depends(access),
) -> JSONOut:
    """Revoke a token (one's own, or any for an admin); it stops working at once."""
    before = svc.token(token_id)
    after = svc.revoke_token(token_id, who)
    _audit(request, ("token", token_id), before.to_json(), after.to_json())
    return JSONOut(after.to_json())


# ---- users (admins)


def _accounts_changed() -> None:
    PASSWORDS.clear()  # an old password or a disabled account stops working at once


@_on.get("/users", responses={200: {"model": UsersOut}})
def list_users(svc: AccessService = Depends(access)) -> JSONOut:
    return JSONOut({"users": [u.to_json() for u in svc.users()]})


@_on.post("/users", status_code=201, responses={201: {"model": UserOut}})
def create_user(
    body: UserCreateIn,
    request: Request,
    who: Identity = Depends(identify),
    svc: AccessService = Depends(access),
) -> JSONOut:
    user = svc.create_user(
        body.name, body.password, is_admin=body.is_admin, email=body.email, by=who
    )
    _audit(request, ("user", user.name), None, user.to_json())
    return JSONOut(user.to_json(), status_code=201)


@_on.get("/users/{name}", responses={200: {"model": UserOut}})
def get_user(name: str, svc: AccessService = Depends(access)) -> JSONOut:
    return JSONOut(svc.user_named(name).to_json())


@_on.patch("/users/{name}", responses={200: {"model": UserOut}})
def update_user(
    name: str, body: UserUpdateIn, request: Request, svc: AccessService = Depends(access)
) -> JSONOut:
    """Set a password, the admin flag, disabled (its sessions end) or the e-mail address."""
    before = svc.user_named(name)
    after = svc.update_user(
        name,
        password=body.password,
        is_admin=body.is_admin,
        disabled=body.disabled,
        email=body.email,
    )
    _accounts_changed()
    changed = {**after.to_json(), "password": "changed"} if body.password else after.to_json()
    _audit(request, ("user", name), before.to_json(), changed)
    return JSONOut(after.to_json())


@_on.delete("/users/{name}", status_code=204)
def delete_user(name: str, request: Request, svc: AccessService = Depends(access)) -> Response:
    """Delete an account with its tokens, sessions, memberships and grants."""
    before = svc.user_named(name)
    svc.delete_user(name)
    _accounts_changed()
    _audit(request, ("user", name), before.to_json(), None)
    return Response(status_code=204)


# ---- teams (admins)


@_on.get("/teams", responses={200: {"model": TeamsOut}})
def list_teams(svc: AccessService = Depends(access)) -> JSONOut:
    return JSONOut({"teams": svc.teams()})


@_on.post("/teams", status_code=201, responses={201: {"model": TeamOut}})
def create_team(
    body: TeamCreateIn, request: Request, svc: AccessService = Depends(access)
) -> JSONOut:
    team = svc.create_team(body.name)
    _audit(request, ("team", body.name), None, team)
    return JSONOut(team, status_code=201)


@_on.delete("/teams/{name}", status_code=204)
def delete_team(name: str, request: Request, svc: AccessService = Depends(access)) -> Response:
    """Delete a team and the grants it held (its members stay)."""
    before = svc.team(name)
    svc.delete_team(name)
    _audit(request, ("team", name), before, None)
    return Response(status_code=204)


@_on.put("/teams/{name}/members/{user}", responses={200: {"model": TeamOut}})
def add_member(
    name: str, user: str, request: Request, svc: AccessService = Depends(access)
) -> JSONOut:
    before = svc.team(name)
    after = svc.set_member(name, user, True)
    _audit(request, ("team", name), before, after)
    return JSONOut(after)


@_on.delete("/teams/{name}/members/{user}", responses={200: {"model": TeamOut}})
def remove_member(
    name: str, user: str, request: Request, svc: AccessService = Depends(access)
) -> JSONOut:
    before = svc.team(name)
    after = svc.set_member(name, user, False)
    _audit(request, ("team", name), before, after)
    return JSONOut(after)


# ---- grants


def _kind(text: str) -> Kind:
    try:
        return Kind(text)
    except ValueError:
        raise InvalidInput(
            f"kind is one of {', '.join(k.value for k in Kind)}, not {text[:40]!r}", field="kind"
        ) from None


def _resource(kind: Kind, resource: str) -> str:
    """The object's name as grants store it (an experiment's id in its plain form)."""
    if kind is Kind.SERVER:
        return ""
    if kind is Kind.EXPERIMENT:
        try:
            return str(int(resource))
        except ValueError:
            raise InvalidInput(
                f"an experiment is named by its id, not {resource[:80]!r}", field="resource"
            ) from None
    if not resource:
        raise InvalidInput(f"a grant on a {kind.value} names it", field="resource")
    return resource


def _check_exists(request: Request, kind: Kind, resource: str) -> None:
    """NotFound unless the object exists (a grant on a typo would wait for a namesake)."""
    services = request.app.state.services
    if kind is Kind.EXPERIMENT:
        services["tracking"].get_experiment(int(resource))
    elif kind is Kind.MODEL:
        services["registry"].get_model(resource)
    elif kind is Kind.DATASET:
        services["datasets"].versions(resource)
    elif kind is Kind.DEPLOYMENT:
        services["deployments"].get(resource)


def _may_manage(svc: AccessService, who: Identity, kind: Kind, resource: str) -> None:
    """Raise unless ``who`` may change grants on the object (admin for the server)."""
    if kind is Kind.SERVER:
        svc.require(who, Kind.SERVER, "", Role.ADMIN)
    else:
        svc.require(who, kind, resource, Role.MAINTAINER)


def _visible(svc: AccessService, who: Identity, grant: Grant) -> bool:
    """An admin sees every grant; others their own and those on objects they maintain."""
    if acts_as_admin(who):
        return True
    own = (
        (grant.principal_kind == "user" and grant.principal == str(who.user_id))
        or (grant.principal_kind == "team" and grant.principal in {str(t) for t in who.teams})
        or (grant.principal_kind == "token" and grant.principal == who.token_id)
    )
    if own:
        return True
    if grant.resource_kind is Kind.SERVER:
        return False
    held = svc.role_on(who, grant.resource_kind, grant.resource)
    return held is not None and held >= Role.MAINTAINER


@_on.get("/grants", responses={200: {"model": GrantsOut}})
def list_grants(
    kind: str | None = None,
    resource: str | None = None,
    principal: str | None = None,
    who: Identity = Depends(identify),
    svc: AccessService = Depends(access),
) -> JSONOut:
    """Grants, filtered; an admin sees all, others theirs and those on objects they maintain."""
    found_kind = None if kind is None else _kind(kind)
    try:
        grants = svc.grants(found_kind, resource, principal)
    except NotFound:
        if acts_as_admin(who):
            raise
        grants = []  # whether a user or team exists is not everyone's business
    return JSONOut({"grants": [g.to_json() for g in grants if _visible(svc, who, g)]})


@_on.post("/grants", status_code=201, responses={201: {"model": GrantOut}})
def create_grant(
    body: GrantCreateIn,
    request: Request,
    who: Identity = Depends(identify),
    svc: AccessService = Depends(access),
) -> JSONOut:
    """Give a user, team or token a role on an object (maintainers of it) or on the whole
    server (admins); a second grant to the same principal on the same object replaces it."""
    kind = Kind(body.kind)
    resource = _resource(kind, body.resource)
    _may_manage(svc, who, kind, resource)
    _check_exists(request, kind, resource)
    previous = [
        g
        for g in svc.grants(kind, resource, body.principal)
        if g.resource_kind is kind and g.resource == resource
    ]
    grant = svc.grant(body.principal, kind, resource, Role.parse(body.role), by=who)
    _audit(
        request,
        (kind.value, resource),
        previous[0].to_json() if previous else None,
        grant.to_json(),
    )
    return JSONOut(grant.to_json(), status_code=201)


@_on.delete("/grants/{grant_id}", responses={200: {"model": GrantOut}})
def delete_grant(
    grant_id: int,
    request: Request,
    who: Identity = Depends(identify),
    svc: AccessService = Depends(access),
) -> JSONOut:
    """Take a grant back (maintainers of its object; admins for server-wide grants)."""
    grant = svc.grant_by_id(grant_id)
    if not _visible(svc, who, grant):
        raise NotFound(f"grant {grant_id} does not exist")
    _may_manage(svc, who, grant.resource_kind, grant.resource)
    svc.revoke_grant(grant_id)
    _audit(request, (grant.resource_kind.value, grant.resource), grant.to_json(), None)
    return JSONOut(grant.to_json())


router.include_router(_on)
