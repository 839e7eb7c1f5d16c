"""Bodies of the access-control routes (/api/v1/auth, tokens, users, teams, grants), by direction.

Values the access service checks (names, passwords, e-mail, scopes, roles) pass through as sent,
so a bad one gets its INVALID_PARAMETER_VALUE with ``details.field`` naming it.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field


class _In(BaseModel):
    model_config = ConfigDict(extra="forbid")


class LoginIn(_In):
    name: str = Field(max_length=1000)
    password: str = Field(max_length=4096)


class PasswordChangeIn(_In):
    current: str = Field(max_length=4096)
    new: str


class TokenCreateIn(_In):
    name: str
    scope: Literal["read", "write", "admin"] = "write"
    expires_in_days: float | None = Field(90.0, description="null: never expires")
    service: bool = False
    owner: str | None = Field(None, description="a personal token of another user (admins)")


class UserCreateIn(_In):
    name: str
    password: str | None = Field(None, description="null: no password (single sign-on only)")
    is_admin: bool = False
    email: str | None = None


class UserUpdateIn(_In):
    password: str | None = None
    is_admin: bool | None = None
    disabled: bool | None = None
    email: str | None = Field(None, description='"" clears it')


class TeamCreateIn(_In):
    name: str


class GrantCreateIn(_In):
    principal: str = Field(description="user:NAME, team:NAME or token:ID")
    kind: Literal["server", "experiment", "model", "dataset", "deployment"]
    resource: str = Field("", max_length=1000, description='the object ("" for the server)')
    role: Literal["viewer", "editor", "maintainer"]


class UserOut(BaseModel):
    id: int
    name: str
    is_admin: bool
    disabled: bool
    email: str | None
    sso: bool
    created_at: int
    teams: list[str]


class SessionOut(BaseModel):
    auth: bool
    sso: bool
    user: UserOut | None
    csrf: str | None


class TokenOut(BaseModel):
    id: str
    name: str
    kind: Literal["personal", "service"]
    owner: str | None
    scope: Literal["read", "write", "admin"]
    created_by: str
    created_at: int
    expires_at: int | None
    revoked_at: int | None
    last_used_at: int | None
    last_used_from: str | None


class TokenCreatedOut(BaseModel):
    token: TokenOut
    secret: str = Field(description="the token itself (myt_...), shown this once")


class TokensOut(BaseModel):
    tokens: list[TokenOut]


class UsersOut(BaseModel):
    users: list[UserOut]


class TeamOut(BaseModel):
    name: str
    members: list[str]


class TeamsOut(BaseModel):
    teams: list[TeamOut]


class GrantOut(BaseModel):
    id: int
    principal_kind: Literal["user", "team", "token"]
    principal: str
    resource_kind: str
    resource: str
    role: str
    granted_by: str
    granted_at: int


class GrantsOut(BaseModel):
    grants: list[GrantOut]


class TokenRefOut(BaseModel):
    id: str
    scope: str


class MeOut(BaseModel):
    name: str
    user: UserOut | None = Field(description="null for a service token")
    via: Literal["session", "token", "password"]
    token: TokenRefOut | None
    roles: list[GrantOut]
