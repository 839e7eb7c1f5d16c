"""AccessService: accounts, teams, tokens, sessions, grants, and the question "may they?".

Every method that changes something takes the acting :class:`Identity` (``by``). Roles are
resolved from the grants of the caller's user, teams and token, the highest wins, capped by the
token's scope; a server-wide grant counts for every object. Grants and verified tokens are
cached for one second (and dropped at once in this process when any grant, token, account or
team changes), so a check costs a dictionary lookup on the hot path; another replica sees a
change within that second.
"""

from __future__ import annotations

import hmac
import threading
import time
from collections.abc import Callable
from typing import Any

from sqlalchemy import Connection, Row

from modelyard.access import secrets
from modelyard.access.entities import Grant, Identity, Kind, Role, Scope, Token, User
from modelyard.errors import (
    AlreadyExists,
    InvalidInput,
    NotFound,
    PermissionDenied,
    Unauthenticated,
)
from modelyard.store.metadata import access_repo as repo
from modelyard.store.metadata.database import Database

GRANT_CACHE_S = 1.0
TOKEN_CACHE_S = 1.0  # a token revoked on another replica stops there within this
TOUCH_EVERY_MS = 60_000  # a token's last-used time is written at most once a minute
SESSION_HOURS = 12
MAX_NAME = 250
MAX_PASSWORD = 1024
MAX_EMAIL = 320
_NAME_CHARS = set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._@+-")


def now_ms() -> int:
    return int(time.time() * 1000)


def check_name(name: str, what: str = "name") -> str:
    """User and team names: 1-250 of letters, digits and ``. _ @ + -``."""
    if not name or len(name) > MAX_NAME or not set(name) <= _NAME_CHARS:
        raise InvalidInput(
            f"{what} must be 1-{MAX_NAME} letters, digits or . _ @ + -, got {name[:80]!r}",
            field=what,
        )
    return name


def check_password(password: str) -> str:
    """A new password: 8-1024 characters."""
    if not secrets.MIN_PASSWORD <= len(password) <= MAX_PASSWORD:
        raise InvalidInput(
            f"a password needs {secrets.MIN_PASSWORD}-{MAX_PASSWORD} characters", field="password"
        )
    return password


def check_email(email: str | None) -> str | None:
    """An e-mail address: ``local@domain``, no spaces or control characters, at most 320."""
    if email is None or email == "":
        return None
    local, at, domain = email.partition("@")
    if (
        len(email) > MAX_EMAIL
        or not (at and local and domain)
        or any(c.isspace() or not c.isprintable() for c in email)
    ):
        raise InvalidInput(f"not an e-mail address: {email[:80]!r}", field="email")
    return email


def acts_as_admin(who: Identity) -> bool:
    """Whether ``who`` is an admin whose credential may use it (not a read or write token)."""
    return who.is_admin and who.ceiling >= Role.ADMIN


class AccessService:
    def __init__(self, db: Database, clock: Callable[[], int] = now_ms) -> None:
        self.db = db
        self.clock = clock
        self._cache: dict[tuple[Any, ...], tuple[float, list[tuple[str, str, str]]]] = {}
        self._lock = threading.Lock()
        self._touched: dict[str, int] = {}
        self._tokens: dict[str, tuple[float, str, int | None, Identity]] = {}
        self._identities: dict[tuple[int, bool], tuple[float, Identity]] = {}

    # ---- users

    def ensure_admin(self, password: str | None = None) -> str | None:
        """On a store without users, make ``admin`` (with ``password``, else a generated one,
        returned so it can be shown once). None when users exist."""
        with self.db.read() as conn:
            if repo.count_users(conn):
                return None
        chosen = password or secrets.new_secret(18)
        self.create_user("admin", chosen, is_admin=True, by=Identity("system", kind="local"))
        return chosen

    def create_user(
        self,
        name: str,
        password: str | None,
        *,
        is_admin: bool = False,
        email: str | None = None,
        by: Identity,
    ) -> User:
        check_name(name)
        if password is not None:
            check_password(password)
        email = check_email(email)
        hashed = secrets.hash_password(password) if password is not None else None
        at = self.clock()

        def job(conn: Connection) -> int:
            if repo.user_by_name(conn, name) is not None:
                raise AlreadyExists(f"user {name!r} already exists")
            return repo.insert_user(
                conn,
                name=name,
                password_hash=hashed,
                is_admin=int(is_admin),
                disabled=0,
                email=email,
                created_at=at,
                updated_at=at,
            )

        return self.user(self.db.write(job))

    def user(self, user_id: int) -> User:
        with self.db.read() as conn:
            row = repo.user_by_id(conn, user_id)
            if row is None:
                raise NotFound(f"user {user_id} does not exist")
            return _user(row, repo.team_names_of(conn, row.id))

    def user_named(self, name: str) -> User:
        with self.db.read() as conn:
            row = repo.user_by_name(conn, name)
            if row is None:
                raise NotFound(f"user {name!r} does not exist")
            return _user(row, repo.team_names_of(conn, row.id))

    def users(self) -> list[User]:
        with self.db.read() as conn:
            return [_user(r, repo.team_names_of(conn, r.id)) for r in repo.all_users(conn)]

    def update_user(
        self,
        name: str,
        *,
        password: str | None = None,
        is_admin: bool | None = None,
        disabled: bool | None = None,
        email: str | None = None,
    ) -> User:
        values: dict[str, Any] = {"updated_at": self.clock()}
        if password is not None:
            check_password(password)
            values["password_hash"] = secrets.hash_password(password)
        if is_admin is not None:
            values["is_admin"] = int(is_admin)
        if disabled is not None:
            values["disabled"] = int(disabled)
        if email is not None:
            values["email"] = check_email(email)  # "" clears it
        user = self.user_named(name)

        def job(conn: Connection) -> None:
            if is_admin is False or disabled is True:
                _keep_one_admin(conn, user.id)
            repo.update_user(conn, user.id, **values)
            if disabled or password is not None:
                for session in repo.sessions_of(conn, user.id):
                    repo.delete_session(conn, session)

        self.db.write(job)
        self._forget()
        return self.user(user.id)

    def change_password(self, user_id: int, current: str, new: str) -> None:
        """Change one's own password, given the current one (every session of it ends)."""
        with self.db.read() as conn:
            row = repo.user_by_id(conn, user_id)
        if row is None:
            raise NotFound(f"user {user_id} does not exist")
        if row.password_hash is None:
            raise InvalidInput(
                "this account signs in with single sign-on and has no password", field="current"
            )
        if not secrets.verify_password(current, row.password_hash):
            raise InvalidInput("the current password is wrong", field="current")
        self.update_user(str(row.name), password=new)

    def delete_user(self, name: str) -> None:
        user = self.user_named(name)

        def job(conn: Connection) -> None:
            _keep_one_admin(conn, user.id)
            repo.delete_user(conn, user.id)

        self.db.write(job)
        self._forget()

    # ---- teams

    def create_team(self, name: str) -> dict[str, Any]:
        check_name(name, "team")

        def job(conn: Connection) -> None:
            if repo.team_by_name(conn, name) is not None:
                raise AlreadyExists(f"team {name!r} already exists")
            repo.insert_team(conn, name, self.clock())

        self.db.write(job)
        return self.team(name)

    def team(self, name: str) -> dict[str, Any]:
        with self.db.read() as conn:
            row = repo.team_by_name(conn, name)
            if row is None:
                raise NotFound(f"team {name!r} does not exist")
            return {"name": row.name, "members": repo.members_of(conn, row.id)}

    def teams(self) -> list[dict[str, Any]]:
        with self.db.read() as conn:
            return [
                {"name": r.name, "members": repo.members_of(conn, r.id)}
                for r in repo.all_teams(conn)
            ]

    def delete_team(self, name: str) -> None:
        def job(conn: Connection) -> None:
            row = repo.team_by_name(conn, name)
            if row is None:
                raise NotFound(f"team {name!r} does not exist")
            repo.delete_team(conn, row.id)

        self.db.write(job)
        self._forget()

    def set_member(self, team: str, user: str, member: bool) -> dict[str, Any]:
        def job(conn: Connection) -> None:
            team_row = repo.team_by_name(conn, team)
            user_row = repo.user_by_name(conn, user)
            if team_row is None:
                raise NotFound(f"team {team!r} does not exist")
            if user_row is None:
                raise NotFound(f"user {user!r} does not exist")
            if member:
                repo.add_member(conn, team_row.id, user_row.id)
            else:
                repo.remove_member(conn, team_row.id, user_row.id)

        self.db.write(job)
        self._forget()
        return self.team(team)

    def sync_sso_teams(self, user_id: int, groups: list[str]) -> None:
        """Make the user a member of exactly the existing teams named in ``groups`` among the
        teams single sign-on gave (teams an admin added by hand are left alone)."""

        def job(conn: Connection) -> None:
            wanted = {
                int(row.id)
                for row in (repo.team_by_name(conn, g) for g in groups[:1000])
                if row is not None
            }
            current = repo.sso_team_ids(conn, user_id)
            for team_id in current - wanted:
                repo.remove_member(conn, team_id, user_id)
            for team_id in wanted - current:
                repo.add_member(conn, team_id, user_id, from_sso=True)

        self.db.write(job)
        self._forget()

    def sso_user(self, issuer: str, subject: str, name: str, email: str | None) -> User:
        """The account of a single sign-on subject, made on first login (the name gets a
        suffix when a local account has it)."""
        at = self.clock()

        def job(conn: Connection) -> int:
            row = repo.user_by_subject(conn, issuer, subject)
            if row is not None:
                return int(row.id)
            chosen, n = name, 1
            while repo.user_by_name(conn, chosen) is not None:
                n += 1
                chosen = f"{name}-{n}"
            return repo.insert_user(
                conn,
                name=chosen,
                password_hash=None,
                is_admin=0,
                disabled=0,
                issuer=issuer,
                subject=subject,
                email=email,
                created_at=at,
                updated_at=at,
            )

        return self.user(self.db.write(job))

    # ---- tokens

    def create_token(
        self,
        name: str,
        *,
        scope: Scope,
        by: Identity,
        service: bool = False,
        expires_in_days: float | None = 90.0,
        owner: str | None = None,
    ) -> tuple[Token, str]:
        """A personal token of ``owner`` (default: the caller), or a service token (no owner,
        roles from its own grants). Returns the token and its secret text, shown once."""
        if not name or len(name) > MAX_NAME or not name.isprintable():
            raise InvalidInput("a token needs a name of 1-250 printable characters", field="name")
        if expires_in_days is not None and not (0 < expires_in_days <= 3650):
            raise InvalidInput("expires_in_days must be in (0, 3650]", field="expires_in_days")
        if not by.authenticated:
            raise Unauthenticated("log in to make a token")
        if by.kind == "token" and by.ceiling < Role.ADMIN:
            # else a stolen token could mint others that outlive its revocation
            raise PermissionDenied(
                "tokens are made by logging in (a password or the web UI), or with an admin token"
            )
        if by.scope is not None and scope.ceiling > by.scope.ceiling:
            raise PermissionDenied(f"a {by.scope.value} token cannot make a {scope.value} token")
        if scope is Scope.ADMIN and not acts_as_admin(by):
            raise PermissionDenied("only an admin makes admin tokens")
        user_id: int | None = None
        if not service:
            owner_name = owner or by.name
            user_id = self.user_named(owner_name).id
            if user_id != by.user_id and not acts_as_admin(by):
                raise PermissionDenied("only an admin makes tokens for someone else")
        elif not acts_as_admin(by):
            raise PermissionDenied("only an admin makes service tokens")
        token_id, text, hashed = secrets.new_token()
        at = self.clock()
        expires = None if expires_in_days is None else at + int(expires_in_days * 86_400_000)
        self.db.write(
            lambda conn: repo.insert_token(
                conn,
                id=token_id,
                name=name,
                kind="service" if service else "personal",
                user_id=user_id,
                secret_hash=hashed,
                scope=scope.value,
                created_by=by.name,
                created_at=at,
                expires_at=expires,
            )
        )
        return self.token(token_id), text

    def token(self, token_id: str) -> Token:
        with self.db.read() as conn:
            for row in repo.tokens(conn):
                if row.id == token_id:
                    return _token(row)
        raise NotFound(f"token {token_id!r} does not exist")

    def tokens(self, of: Identity | None = None) -> list[Token]:
        """Every token (``of`` None: an admin's view), or the caller's own."""
        with self.db.read() as conn:
            rows = repo.tokens(conn, None if of is None else (of.user_id or -1))
        return [_token(r) for r in rows]

    def revoke_token(self, token_id: str, by: Identity) -> Token:
        token = self.token(token_id)
        mine = token.owner is not None and by.user_id is not None and token.owner == by.name
        if not (mine or acts_as_admin(by)):
            raise NotFound(f"token {token_id!r} does not exist")
        self.db.write(lambda conn: repo.revoke_token(conn, token_id, self.clock()))
        self._forget()
        return self.token(token_id)

    # ---- authentication

    def authenticate_token(self, text: str, address: str = "") -> Identity:
        """The identity of an API token; :class:`Unauthenticated` for anything not a live one.

        A verified token is remembered for :data:`TOKEN_CACHE_S` (its expiry is still checked
        on every use); any change to tokens, accounts or teams in this process forgets them."""
        parsed = secrets.parse_token(text)
        if parsed is None:
            raise Unauthenticated("the token is malformed")
        token_id, secret = parsed
        digest = secrets.secret_hash(secret)
        with self._lock:
            hit = self._tokens.get(token_id)
        if hit is not None and hit[0] > time.monotonic() and hmac.compare_digest(hit[1], digest):
            expires_at, identity = hit[2], hit[3]
        else:
            expires_at, identity = self._token_identity(token_id, digest)
            with self._lock:
                if len(self._tokens) > 10_000:
                    self._tokens.clear()
                self._tokens[token_id] = (
                    time.monotonic() + TOKEN_CACHE_S,
                    digest,
                    expires_at,
                    identity,
                )
        now = self.clock()
        if expires_at is not None and expires_at <= now:
            raise Unauthenticated("the token has expired")
        if now - self._touched.get(token_id, 0) >= TOUCH_EVERY_MS:
            self._touched[token_id] = now
            self.db.write(lambda conn: repo.touch_token(conn, token_id, now, address))
        return identity

    def _token_identity(self, token_id: str, digest: str) -> tuple[int | None, Identity]:
        """``(expires at, identity)`` of a token that exists, matches and is not revoked."""
        with self.db.read() as conn:
            row = repo.token_by_id(conn, token_id)
            if row is None or not hmac.compare_digest(digest, row.secret_hash):
                raise Unauthenticated("the token is not valid")
            if row.revoked_at is not None:
                raise Unauthenticated("the token was revoked")
            user = None
            teams: tuple[int, ...] = ()
            if row.user_id is not None:
                user = repo.user_by_id(conn, row.user_id)
                if user is None or user.disabled:
                    raise Unauthenticated("the token's user is disabled")
                teams = repo.team_ids_of(conn, user.id)
        return row.expires_at, Identity(
            name=user.name if user is not None else f"token:{row.name}",
            kind="token",
            user_id=None if user is None else int(user.id),
            token_id=token_id,
            scope=Scope(row.scope),
            is_admin=bool(user.is_admin) if user is not None else False,
            teams=teams,
        )

    def authenticate_password(self, name: str, password: str) -> Identity:
        with self.db.read() as conn:
            row = repo.user_by_name(conn, name)
        ok = secrets.verify_password(password, None if row is None else row.password_hash)
        if row is None or not ok:
            raise Unauthenticated("wrong user name or password")
        if row.disabled:
            raise Unauthenticated(f"user {name!r} is disabled")
        return self.identity_of(int(row.id))

    def identity_of(self, user_id: int, *, via_session: bool = False) -> Identity:
        """The identity of a live account (remembered as verified tokens are)."""
        key = (user_id, via_session)
        with self._lock:
            hit = self._identities.get(key)
        if hit is not None and hit[0] > time.monotonic():
            return hit[1]
        with self.db.read() as conn:
            row = repo.user_by_id(conn, user_id)
            if row is None or row.disabled:
                raise Unauthenticated("the account is gone or disabled")
            teams = repo.team_ids_of(conn, user_id)
        identity = Identity(
            name=row.name,
            kind="user",
            user_id=user_id,
            is_admin=bool(row.is_admin),
            teams=teams,
            via_session=via_session,
        )
        with self._lock:
            if len(self._identities) > 10_000:
                self._identities.clear()
            self._identities[key] = (time.monotonic() + TOKEN_CACHE_S, identity)
        return identity

    def open_session(self, user_id: int) -> tuple[str, str]:
        """``(cookie value, CSRF token)`` of a new web UI session."""
        cookie, csrf = secrets.new_secret(), secrets.new_secret()
        at = self.clock()

        def job(conn: Connection) -> None:
            repo.delete_expired_sessions(conn, at)
            repo.insert_session(
                conn,
                id_hash=secrets.secret_hash(cookie),
                user_id=user_id,
                csrf=csrf,
                created_at=at,
                expires_at=at + SESSION_HOURS * 3_600_000,
            )

        self.db.write(job)
        return cookie, csrf

    def session(self, cookie: str) -> tuple[Identity, str]:
        """The identity and CSRF token of a live session cookie."""
        with self.db.read() as conn:
            row = repo.session_by_hash(conn, secrets.secret_hash(cookie))
        if row is None or row.expires_at <= self.clock():
            raise Unauthenticated("the session has expired; log in again")
        return self.identity_of(int(row.user_id), via_session=True), str(row.csrf)

    def close_session(self, cookie: str) -> None:
        self.db.write(lambda conn: repo.delete_session(conn, secrets.secret_hash(cookie)))

    # ---- grants

    def grant(
        self,
        principal: str,
        kind: Kind,
        resource: str,
        role: Role,
        *,
        by: Identity,
    ) -> Grant:
        """Give ``principal`` ("user:NAME", "team:NAME" or "token:ID") ``role`` on an object
        (or on the server: kind SERVER, resource "")."""
        if kind is Kind.SERVER:
            resource = ""
        if role is Role.ADMIN:
            raise InvalidInput("admin is a user's flag (users update --admin), not a grant")
        pkind, pid, _label = self._principal(principal)
        at = self.clock()
        grant_id = self.db.write(
            lambda conn: repo.upsert_grant(
                conn,
                principal_kind=pkind,
                principal=pid,
                resource_kind=kind.value,
                resource=resource,
                role=role.label,
                granted_by=by.name,
                granted_at=at,
            )
        )
        self._forget()
        return self.grant_by_id(grant_id)

    def grant_by_id(self, grant_id: int) -> Grant:
        with self.db.read() as conn:
            row = repo.grant_by_id(conn, grant_id)
            if row is None:
                raise NotFound(f"grant {grant_id} does not exist")
            return self._grant(conn, row)

    def revoke_grant(self, grant_id: int) -> Grant:
        grant = self.grant_by_id(grant_id)
        self.db.write(lambda conn: repo.delete_grant(conn, grant_id))
        self._forget()
        return grant

    def grants(
        self, kind: Kind | None = None, resource: str | None = None, principal: str | None = None
    ) -> list[Grant]:
        pkind = pid = None
        if principal is not None:
            pkind, pid, _ = self._principal(principal)
        with self.db.read() as conn:
            rows = repo.grant_rows(conn, None if kind is None else kind.value, resource, pkind, pid)
            return [self._grant(conn, r) for r in rows]

    def held_by(self, who: Identity) -> list[Grant]:
        """The grants ``who`` holds: to their user, their teams and their token."""
        principals = [("team", str(t)) for t in who.teams]
        if who.user_id is not None:
            principals.insert(0, ("user", str(who.user_id)))
        if who.token_id is not None:
            principals.append(("token", who.token_id))
        with self.db.read() as conn:
            return [
                self._grant(conn, row)
                for pkind, pid in principals
                for row in repo.grant_rows(conn, principal_kind=pkind, principal=pid)
            ]

    def forget_object(self, kind: Kind, resource: str) -> None:
        """Drop the grants on an object that is gone for good."""
        self.db.write(lambda conn: repo.delete_grants_on(conn, kind.value, resource))
        self._forget()

    def made(self, who: Identity, kind: Kind, resource: str) -> None:
        """``who`` created the object: it becomes its maintainer (its token when it has no
        user)."""
        if not who.authenticated or who.kind == "serving":
            return
        if who.user_id is not None:
            principal, pid = "user", str(who.user_id)
        elif who.token_id is not None:
            principal, pid = "token", who.token_id
        else:
            return
        at = self.clock()
        self.db.write(
            lambda conn: repo.upsert_grant(
                conn,
                principal_kind=principal,
                principal=pid,
                resource_kind=kind.value,
                resource=resource,
                role=Role.MAINTAINER.label,
                granted_by=who.name,
                granted_at=at,
            )
        )
        self._forget()

    # ---- decisions

    def role_on(self, who: Identity, kind: Kind, resource: str) -> Role | None:
        """The highest role ``who`` holds on the object (server-wide grants count), capped by
        the token's scope; None when they hold none."""
        if who.kind == "serving":  # a serving process reads its deployment and model, only
            return Role.VIEWER if (kind.value, resource) in who.reads else None
        if who.is_admin:
            return who.ceiling
        best: Role | None = None
        for rkind, rid, role in self._grants_of(who):
            if rkind == Kind.SERVER.value or (rkind == kind.value and rid == resource):
                found = Role.parse(role)
                if best is None or found > best:
                    best = found
        if best is None:
            return None
        return min(best, who.ceiling)

    def require(self, who: Identity, kind: Kind, resource: str, role: Role) -> None:
        """Raise unless ``who`` holds ``role`` on the object (:class:`Unauthenticated` for an
        anonymous caller, :class:`PermissionDenied` otherwise)."""
        if not who.authenticated:
            raise Unauthenticated("log in or send an API token")
        held = self.role_on(who, kind, resource)
        if held is None or held < role:
            what = "the server" if kind is Kind.SERVER else f"{kind.value} {resource!r}"
            raise PermissionDenied(
                f"{who.name} needs the {role.label} role on {what}",
                needed=role.label,
                held=None if held is None else held.label,
            )

    def readable(self, who: Identity, kind: Kind) -> set[str] | None:
        """The objects of ``kind`` that ``who`` may read; None means all of them."""
        if who.kind == "serving":
            return {name for k, name in who.reads if k == kind.value}
        if who.is_admin:
            return None
        out: set[str] = set()
        for rkind, rid, _role in self._grants_of(who):
            if rkind == Kind.SERVER.value:
                return None
            if rkind == kind.value:
                out.add(rid)
        return out

    # ---- helpers

    def _grants_of(self, who: Identity) -> list[tuple[str, str, str]]:
        key = (who.user_id, who.teams, who.token_id)
        now = time.monotonic()
        with self._lock:
            hit = self._cache.get(key)
            if hit is not None and hit[0] > now:
                return hit[1]
        with self.db.read() as conn:
            found = repo.grants_of(conn, who.user_id, who.teams, who.token_id)
        with self._lock:
            if len(self._cache) > 10_000:
                self._cache.clear()
            self._cache[key] = (now + GRANT_CACHE_S, found)
        return found

    def _forget(self) -> None:
        """Drop the cached grants and verified tokens (something they depend on changed)."""
        with self._lock:
            self._cache.clear()
            self._tokens.clear()
            self._identities.clear()

    def _principal(self, text: str) -> tuple[str, str, str]:
        """``(kind, stored id, label)`` of "user:NAME", "team:NAME" or "token:ID"."""
        kind, _, name = text.partition(":")
        with self.db.read() as conn:
            if kind == "user":
                row = repo.user_by_name(conn, name)
                if row is not None:
                    return "user", str(row.id), text
            elif kind == "team":
                row = repo.team_by_name(conn, name)
                if row is not None:
                    return "team", str(row.id), text
            elif kind == "token":
                row = repo.token_by_id(conn, name)
                if row is not None:
                    return "token", str(row.id), text
            else:
                raise InvalidInput(
                    f"a principal is user:NAME, team:NAME or token:ID, not {text[:80]!r}",
                    field="principal",
                )
        raise NotFound(f"{kind} {name!r} does not exist")

    def _grant(self, conn: Connection, row: Row[Any]) -> Grant:
        label = f"{row.principal_kind}:{row.principal}"
        if row.principal_kind == "user":
            user = repo.user_by_id(conn, int(row.principal))
            label = f"user:{user.name}" if user is not None else label
        elif row.principal_kind == "team":
            found = [t for t in repo.all_teams(conn) if str(t.id) == row.principal]
            label = f"team:{found[0].name}" if found else label
        return Grant(
            id=int(row.id),
            principal_kind=str(row.principal_kind),
            principal=str(row.principal),
            principal_name=label,
            resource_kind=Kind(row.resource_kind),
            resource=str(row.resource),
            role=Role.parse(row.role),
            granted_by=str(row.granted_by),
            granted_at=int(row.granted_at),
        )


def _keep_one_admin(conn: Connection, user_id: int) -> None:
    admins = [r for r in repo.all_users(conn) if r.is_admin and not r.disabled]
    if len(admins) == 1 and int(admins[0].id) == user_id:
        raise InvalidInput("this is the last admin; make another admin first")


def _user(row: Row[Any], teams: tuple[str, ...]) -> User:
    return User(
        id=int(row.id),
        name=str(row.name),
        is_admin=bool(row.is_admin),
        disabled=bool(row.disabled),
        email=row.email,
        sso=row.issuer is not None,
        created_at=int(row.created_at),
        teams=teams,
    )


def _token(row: Row[Any]) -> Token:
    return Token(
        id=str(row.id),
        name=str(row.name),
        kind=str(row.kind),
        owner=row.owner,
        scope=Scope(row.scope),
        created_by=str(row.created_by),
        created_at=int(row.created_at),
        expires_at=row.expires_at,
        revoked_at=row.revoked_at,
        last_used_at=row.last_used_at,
        last_used_from=row.last_used_from,
    )
