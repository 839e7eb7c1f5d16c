"""Who acts and what they may do: identities, roles, token scopes, grants (plain values)."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import IntEnum, StrEnum


class Role(IntEnum):
    """Roles, each including the ones below: read < write < manage (grants, delete) < admin."""

    VIEWER = 1
    EDITOR = 2
    MAINTAINER = 3
    ADMIN = 4

    @property
    def label(self) -> str:
        return self.name.lower()

    @classmethod
    def parse(cls, text: str) -> Role:
        try:
            return cls[text.strip().upper()]
        except KeyError:
            raise ValueError(
                f"unknown role {text!r}; one of viewer, editor, maintainer, admin"
            ) from None


class Scope(StrEnum):
    """What a token may do at most, whatever the roles of its owner."""

    READ = "read"
    WRITE = "write"
    ADMIN = "admin"

    @property
    def ceiling(self) -> Role:
        return {Scope.READ: Role.VIEWER, Scope.WRITE: Role.MAINTAINER, Scope.ADMIN: Role.ADMIN}[
            self
        ]


class Kind(StrEnum):
    """What a role is granted on."""

    SERVER = "server"
    EXPERIMENT = "experiment"
    MODEL = "model"
    DATASET = "dataset"
    DEPLOYMENT = "deployment"


@dataclass(frozen=True, slots=True)
class Identity:
    """The caller of a service: who (``name``), how they proved it (``kind``) and what bounds it.

    ``kind``: "user" (a password, a session or single sign-on), "token" (an API token),
    "serving" (a serving process's deployment token), "local" (in-process, no server: the
    operating-system user), "anonymous" (nobody proved anything; auth off or a public route).
    """

    name: str
    kind: str = "anonymous"
    user_id: int | None = None
    token_id: str | None = None
    scope: Scope | None = None  # a token's ceiling; None: no ceiling (a user's own session)
    is_admin: bool = False
    teams: tuple[int, ...] = field(default=())
    via_session: bool = False  # from the web UI's cookie: writes must carry the CSRF token
    deployment: str | None = None  # a serving token's deployment
    reads: tuple[tuple[str, str], ...] = ()  # (kind, name) a serving token may read, only

    @property
    def authenticated(self) -> bool:
        return self.kind not in ("anonymous", "local")

    @property
    def ceiling(self) -> Role:
        """The highest role this credential may use."""
        top = Role.ADMIN if self.is_admin else Role.MAINTAINER
        return min(top, self.scope.ceiling) if self.scope is not None else top


ANONYMOUS = Identity("anonymous")


@dataclass(frozen=True, slots=True)
class Grant:
    id: int
    principal_kind: str  # user | team | token
    principal: str  # the user's or team's id, or the token's id
    principal_name: str
    resource_kind: Kind
    resource: str  # "" for the server
    role: Role
    granted_by: str
    granted_at: int

    def to_json(self) -> dict[str, object]:
        return {
            "id": self.id,
            "principal_kind": self.principal_kind,
            "principal": self.principal_name,
            "resource_kind": self.resource_kind.value,
            "resource": self.resource,
            "role": self.role.label,
            "granted_by": self.granted_by,
            "granted_at": self.granted_at,
        }


@dataclass(frozen=True, slots=True)
class User:
    id: int
    name: str
    is_admin: bool
    disabled: bool
    email: str | None
    sso: bool
    created_at: int
    teams: tuple[str, ...] = ()

    def to_json(self) -> dict[str, object]:
        return {
            "id": self.id,
            "name": self.name,
            "is_admin": self.is_admin,
            "disabled": self.disabled,
            "email": self.email,
            "sso": self.sso,
            "created_at": self.created_at,
            "teams": list(self.teams),
        }


@dataclass(frozen=True, slots=True)
class Token:
    id: str
    name: str
    kind: str  # personal | service
    owner: str | None  # the user's name of a personal token
    scope: Scope
    created_by: str
    created_at: int
    expires_at: int | None
    revoked_at: int | None
    last_used_at: int | None
    last_used_from: str | None

    def to_json(self) -> dict[str, object]:
        return {
            "id": self.id,
            "name": self.name,
            "kind": self.kind,
            "owner": self.owner,
            "scope": self.scope.value,
            "created_by": self.created_by,
            "created_at": self.created_at,
            "expires_at": self.expires_at,
            "revoked_at": self.revoked_at,
            "last_used_at": self.last_used_at,
            "last_used_from": self.last_used_from,
        }
