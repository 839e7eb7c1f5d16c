"""Rows of users, teams, API tokens, grants and UI sessions (see modelyard.access)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from sqlalchemy import Connection, Row, and_, delete, or_, select, update

from modelyard.store.metadata.tables import (
    api_tokens,
    grants,
    team_members,
    teams,
    ui_sessions,
    users,
)


def user_by_name(conn: Connection, name: str) -> Row[Any] | None:
    return conn.execute(select(users).where(users.c.name == name)).first()


def user_by_id(conn: Connection, user_id: int) -> Row[Any] | None:
    return conn.execute(select(users).where(users.c.id == user_id)).first()


def user_by_subject(conn: Connection, issuer: str, subject: str) -> Row[Any] | None:
    return conn.execute(
        select(users).where(users.c.issuer == issuer, users.c.subject == subject)
    ).first()


def all_users(conn: Connection) -> Sequence[Row[Any]]:
    return conn.execute(select(users).order_by(users.c.name)).all()


def count_users(conn: Connection) -> int:
    return len(conn.execute(select(users.c.id).limit(1)).all())


def insert_user(conn: Connection, **values: Any) -> int:
    result = conn.execute(users.insert().values(**values))
    return int(result.inserted_primary_key[0])  # type: ignore[index]


def update_user(conn: Connection, user_id: int, **values: Any) -> None:
    conn.execute(update(users).where(users.c.id == user_id).values(**values))


def delete_user(conn: Connection, user_id: int) -> None:
    conn.execute(
        delete(grants).where(grants.c.principal_kind == "user", grants.c.principal == str(user_id))
    )
    token_ids = [
        r[0] for r in conn.execute(select(api_tokens.c.id).where(api_tokens.c.user_id == user_id))
    ]
    if token_ids:
        conn.execute(
            delete(grants).where(
                grants.c.principal_kind == "token", grants.c.principal.in_(token_ids)
            )
        )
    conn.execute(delete(api_tokens).where(api_tokens.c.user_id == user_id))
    conn.execute(delete(team_members).where(team_members.c.user_id == user_id))
    conn.execute(delete(ui_sessions).where(ui_sessions.c.user_id == user_id))
    conn.execute(delete(users).where(users.c.id == user_id))


# ---- teams


def team_by_name(conn: Connection, name: str) -> Row[Any] | None:
    return conn.execute(select(teams).where(teams.c.name == name)).first()


def all_teams(conn: Connection) -> Sequence[Row[Any]]:
    return conn.execute(select(teams).order_by(teams.c.name)).all()


def insert_team(conn: Connection, name: str, at: int) -> int:
    result = conn.execute(teams.insert().values(name=name, created_at=at))
    return int(result.inserted_primary_key[0])  # type: ignore[index]


def delete_team(conn: Connection, team_id: int) -> None:
    conn.execute(
        delete(grants).where(grants.c.principal_kind == "team", grants.c.principal == str(team_id))
    )
    conn.execute(delete(team_members).where(team_members.c.team_id == team_id))
    conn.execute(delete(teams).where(teams.c.id == team_id))


def team_ids_of(conn: Connection, user_id: int) -> tuple[int, ...]:
    rows = conn.execute(select(team_members.c.team_id).where(team_members.c.user_id == user_id))
    return tuple(sorted(int(r[0]) for r in rows))


def team_names_of(conn: Connection, user_id: int) -> tuple[str, ...]:
    rows = conn.execute(
        select(teams.c.name)
        .join(team_members, team_members.c.team_id == teams.c.id)
        .where(team_members.c.user_id == user_id)
        .order_by(teams.c.name)
    )
    return tuple(str(r[0]) for r in rows)


def members_of(conn: Connection, team_id: int) -> list[str]:
    rows = conn.execute(
        select(users.c.name)
        .join(team_members, team_members.c.user_id == users.c.id)
        .where(team_members.c.team_id == team_id)
        .order_by(users.c.name)
    )
    return [str(r[0]) for r in rows]


def add_member(conn: Connection, team_id: int, user_id: int, from_sso: bool = False) -> None:
    exists = conn.execute(
        select(team_members.c.team_id).where(
            team_members.c.team_id == team_id, team_members.c.user_id == user_id
        )
    ).first()
    if exists is None:
        conn.execute(
            team_members.insert().values(team_id=team_id, user_id=user_id, from_sso=int(from_sso))
        )


def remove_member(conn: Connection, team_id: int, user_id: int) -> int:
    result = conn.execute(
        delete(team_members).where(
            team_members.c.team_id == team_id, team_members.c.user_id == user_id
        )
    )
    return int(result.rowcount or 0)


def sso_team_ids(conn: Connection, user_id: int) -> set[int]:
    rows = conn.execute(
        select(team_members.c.team_id).where(
            team_members.c.user_id == user_id, team_members.c.from_sso == 1
        )
    )
    return {int(r[0]) for r in rows}


# ---- tokens


def token_by_id(conn: Connection, token_id: str) -> Row[Any] | None:
    return conn.execute(select(api_tokens).where(api_tokens.c.id == token_id)).first()


def tokens(conn: Connection, user_id: int | None = None) -> Sequence[Row[Any]]:
    query = select(api_tokens, users.c.name.label("owner")).outerjoin(
        users, users.c.id == api_tokens.c.user_id
    )
    if user_id is not None:
        query = query.where(api_tokens.c.user_id == user_id)
    return conn.execute(query.order_by(api_tokens.c.created_at)).all()


def insert_token(conn: Connection, **values: Any) -> None:
    conn.execute(api_tokens.insert().values(**values))


def revoke_token(conn: Connection, token_id: str, at: int) -> int:
    result = conn.execute(
        update(api_tokens)
        .where(api_tokens.c.id == token_id, api_tokens.c.revoked_at.is_(None))
        .values(revoked_at=at)
    )
    return int(result.rowcount or 0)


def touch_token(conn: Connection, token_id: str, at: int, address: str) -> None:
    conn.execute(
        update(api_tokens)
        .where(api_tokens.c.id == token_id)
        .values(last_used_at=at, last_used_from=address[:64])
    )


# ---- grants


def principals_filter(user_id: int | None, team_ids: Iterable[int], token_id: str | None) -> Any:
    """Rows granted to any of these principals."""
    parts = []
    if user_id is not None:
        parts.append(and_(grants.c.principal_kind == "user", grants.c.principal == str(user_id)))
    team_list = [str(t) for t in team_ids]
    if team_list:
        parts.append(and_(grants.c.principal_kind == "team", grants.c.principal.in_(team_list)))
    if token_id is not None:
        parts.append(and_(grants.c.principal_kind == "token", grants.c.principal == token_id))
    return or_(*parts) if parts else grants.c.id < 0


def grants_of(
    conn: Connection, user_id: int | None, team_ids: Iterable[int], token_id: str | None
) -> list[tuple[str, str, str]]:
    """``(resource kind, resource, role)`` of every grant to these principals."""
    rows = conn.execute(
        select(grants.c.resource_kind, grants.c.resource, grants.c.role).where(
            principals_filter(user_id, team_ids, token_id)
        )
    )
    return [(str(k), str(r), str(role)) for k, r, role in rows]


def grant_rows(
    conn: Connection,
    resource_kind: str | None = None,
    resource: str | None = None,
    principal_kind: str | None = None,
    principal: str | None = None,
) -> Sequence[Row[Any]]:
    query = select(grants)
    if resource_kind is not None:
        query = query.where(grants.c.resource_kind == resource_kind)
    if resource is not None:
        query = query.where(grants.c.resource == resource)
    if principal_kind is not None:
        query = query.where(grants.c.principal_kind == principal_kind)
    if principal is not None:
        query = query.where(grants.c.principal == principal)
    return conn.execute(query.order_by(grants.c.id)).all()


def grant_by_id(conn: Connection, grant_id: int) -> Row[Any] | None:
    return conn.execute(select(grants).where(grants.c.id == grant_id)).first()


def find_grant(
    conn: Connection, principal_kind: str, principal: str, resource_kind: str, resource: str
) -> Row[Any] | None:
    return conn.execute(
        select(grants).where(
            grants.c.principal_kind == principal_kind,
            grants.c.principal == principal,
            grants.c.resource_kind == resource_kind,
            grants.c.resource == resource,
        )
    ).first()


def upsert_grant(conn: Connection, **values: Any) -> int:
    found = find_grant(
        conn,
        values["principal_kind"],
        values["principal"],
        values["resource_kind"],
        values["resource"],
    )
    if found is not None:
        conn.execute(update(grants).where(grants.c.id == found.id).values(**values))
        return int(found.id)
    result = conn.execute(grants.insert().values(**values))
    return int(result.inserted_primary_key[0])  # type: ignore[index]


def delete_grant(conn: Connection, grant_id: int) -> int:
    result = conn.execute(delete(grants).where(grants.c.id == grant_id))
    return int(result.rowcount or 0)


def delete_grants_on(conn: Connection, resource_kind: str, resource: str) -> None:
    conn.execute(
        delete(grants).where(grants.c.resource_kind == resource_kind, grants.c.resource == resource)
    )


# ---- sessions


def insert_session(conn: Connection, **values: Any) -> None:
    conn.execute(ui_sessions.insert().values(**values))


def session_by_hash(conn: Connection, id_hash: str) -> Row[Any] | None:
    return conn.execute(select(ui_sessions).where(ui_sessions.c.id_hash == id_hash)).first()


def delete_session(conn: Connection, id_hash: str) -> None:
    conn.execute(delete(ui_sessions).where(ui_sessions.c.id_hash == id_hash))


def delete_expired_sessions(conn: Connection, now: int) -> None:
    conn.execute(delete(ui_sessions).where(ui_sessions.c.expires_at < now))


def sessions_of(conn: Connection, user_id: int) -> list[str]:
    rows = conn.execute(select(ui_sessions.c.id_hash).where(ui_sessions.c.user_id == user_id))
    return [str(r[0]) for r in rows]
