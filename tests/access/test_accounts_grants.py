"""Grants over REST on a live server with auth on: who may give and take roles, who sees which
grants, and that a grant (or its removal) takes effect on the next request."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import httpx
import pytest

from tests.access.live import ADMIN_PASSWORD, api, auth_on, basic, bearer, unique
from tests.access.test_accounts import error


@dataclass
class People:
    url: str
    admin: httpx.Client
    alice: httpx.Client  # made the experiment: its maintainer
    bob: httpx.Client
    carol: httpx.Client
    names: dict[str, str]
    experiment: str


@pytest.fixture(scope="module")
def people(tmp_path_factory: pytest.TempPathFactory) -> Iterator[People]:
    root = tmp_path_factory.mktemp("grants")
    with auth_on(root) as url, api(url, basic("admin", ADMIN_PASSWORD)) as admin:
        names, clients = {}, {}
        for who in ("alice", "bob", "carol"):
            name = unique(who)
            assert admin.post("/users", json={"name": name, "password": "pw-" + name}).is_success
            with api(url, basic(name, "pw-" + name)) as client:
                secret = client.post("/tokens", json={"name": "t"}).json()["secret"]
            names[who], clients[who] = name, api(url, bearer(secret))
        made = clients["alice"].post("/experiments", json={"name": unique("exp")})
        assert made.status_code == 201, made.text
        try:
            yield People(
                url, admin, clients["alice"], clients["bob"], clients["carol"], names,
                str(made.json()["id"]),
            )  # fmt: skip
        finally:
            for client in clients.values():
                client.close()


def grant(
    client: httpx.Client, principal: str, role: str, kind: str, resource: str
) -> httpx.Response:
    body = {"principal": principal, "role": role, "kind": kind, "resource": resource}
    return client.post("/grants", json=body)


def test_a_maintainer_grants_and_takes_back_a_role_effective_at_once(people: People) -> None:
    exp, bob = people.experiment, f"user:{people.names['bob']}"
    assert error(people.bob.get(f"/experiments/{exp}")) == (403, "PERMISSION_DENIED")
    assert error(grant(people.bob, bob, "viewer", "experiment", exp)) == (403, "PERMISSION_DENIED")

    given = grant(people.alice, bob, "viewer", "experiment", exp)
    assert given.status_code == 201, given.text
    body = given.json()
    assert (body["principal"], body["role"], body["resource_kind"], body["resource"]) == (
        bob,
        "viewer",
        "experiment",
        exp,
    )
    assert body["granted_by"] == people.names["alice"]
    assert people.bob.get(f"/experiments/{exp}").status_code == 200
    # a viewer neither changes the experiment nor gives roles on it
    renamed = people.bob.patch(f"/experiments/{exp}", json={"name": "mine now"})
    assert error(renamed) == (403, "PERMISSION_DENIED")
    escalate = grant(people.bob, bob, "maintainer", "experiment", exp)
    assert error(escalate) == (403, "PERMISSION_DENIED")
    roles = people.bob.get("/auth/me").json()["roles"]
    assert [(r["resource_kind"], r["resource"], r["role"]) for r in roles] == [
        ("experiment", exp, "viewer")
    ]

    # a second grant to the same principal on the same object replaces the first
    raised = grant(people.alice, bob, "editor", "experiment", exp)
    assert raised.status_code == 201
    assert raised.json()["id"] == body["id"]
    assert raised.json()["role"] == "editor"

    # the bystander can neither see nor remove it; the grantee sees it but cannot remove it
    assert error(people.carol.delete(f"/grants/{body['id']}")) == (404, "RESOURCE_DOES_NOT_EXIST")
    assert error(people.bob.delete(f"/grants/{body['id']}")) == (403, "PERMISSION_DENIED")
    taken = people.alice.delete(f"/grants/{body['id']}")
    assert taken.status_code == 200
    assert taken.json()["role"] == "editor"
    assert error(people.bob.get(f"/experiments/{exp}")) == (403, "PERMISSION_DENIED")
    assert error(people.alice.delete(f"/grants/{body['id']}"))[0] == 404


def test_grants_to_teams_reach_their_members(people: People) -> None:
    team = unique("team")
    assert people.admin.post("/teams", json={"name": team}).status_code == 201
    people.admin.put(f"/teams/{team}/members/{people.names['carol']}")
    given = grant(people.alice, f"team:{team}", "viewer", "experiment", people.experiment)
    assert given.status_code == 201, given.text
    assert people.carol.get(f"/experiments/{people.experiment}").status_code == 200
    people.admin.delete(f"/teams/{team}/members/{people.names['carol']}")
    assert error(people.carol.get(f"/experiments/{people.experiment}"))[0] == 403
    people.admin.delete(f"/teams/{team}")  # its grants go with it
    assert all(
        g["principal"] != f"team:{team}" for g in people.admin.get("/grants").json()["grants"]
    )


def test_who_sees_which_grants(people: People) -> None:
    exp = people.experiment
    bob, carol = f"user:{people.names['bob']}", f"user:{people.names['carol']}"
    other = people.admin.post("/experiments", json={"name": unique("admins")}).json()["id"]
    on_other = grant(people.admin, carol, "viewer", "experiment", str(other))
    assert on_other.status_code == 201
    mine = grant(people.alice, bob, "viewer", "experiment", exp).json()

    def seen(client: httpx.Client, **params: str) -> set[int]:
        answer = client.get("/grants", params=params)
        assert answer.status_code == 200, answer.text
        return {g["id"] for g in answer.json()["grants"]}

    everything = seen(people.admin)
    assert {mine["id"], on_other.json()["id"]} <= everything
    assert mine["id"] in seen(people.alice)  # on an object she maintains
    assert on_other.json()["id"] not in seen(people.alice)
    assert seen(people.bob) == {mine["id"]}  # his own only
    assert seen(people.carol) == {on_other.json()["id"]}
    assert seen(people.admin, principal=bob) == {mine["id"]}
    on_it = people.admin.get("/grants", params={"kind": "experiment", "resource": str(other)})
    assert {(g["principal"], g["role"]) for g in on_it.json()["grants"]} == {
        ("user:admin", "maintainer"),  # its creator
        (carol, "viewer"),
    }
    assert seen(people.bob, principal="user:no-such-user") == set()  # no existence oracle
    assert error(people.admin.get("/grants", params={"principal": "user:no-such-user"}))[0] == 404
    assert error(people.admin.get("/grants", params={"kind": "planet"}))[0] == 400
    people.alice.delete(f"/grants/{mine['id']}")


def test_grant_inputs_and_limits(people: People) -> None:
    exp, bob = people.experiment, f"user:{people.names['bob']}"
    for body, expected in (
        ({"principal": bob, "role": "admin", "kind": "experiment", "resource": exp}, 400),
        ({"principal": bob, "role": "viewer", "kind": "planet", "resource": exp}, 400),
        ({"principal": "root", "role": "viewer", "kind": "experiment", "resource": exp}, 400),
        (
            {"principal": "user:nobody-x", "role": "viewer", "kind": "experiment", "resource": exp},
            404,
        ),
        (
            {"principal": "team:nobody-x", "role": "viewer", "kind": "experiment", "resource": exp},
            404,
        ),
        ({"principal": bob, "role": "viewer", "kind": "experiment", "resource": "abc"}, 400),
        ({"principal": bob, "role": "viewer", "kind": "experiment", "resource": "987654"}, 404),
        ({"principal": bob, "role": "viewer", "kind": "model", "resource": "no-such-model"}, 404),
        ({"principal": bob, "role": "viewer", "kind": "dataset", "resource": "no-such-data"}, 404),
        ({"principal": bob, "role": "viewer", "kind": "deployment", "resource": "no-such"}, 404),
        ({"principal": bob, "role": "viewer", "kind": "model", "resource": ""}, 400),
        ({"principal": bob, "role": "viewer"}, 400),
    ):
        answer = people.admin.post("/grants", json=body)
        assert answer.status_code == expected, (body, answer.text)
    # non-maintainers learn nothing about objects they cannot manage
    for resource in (exp, "987654"):
        answer = grant(people.carol, bob, "viewer", "experiment", resource)
        assert error(answer) == (403, "PERMISSION_DENIED")
    # only an admin gives server-wide roles; a maintainer's read token gives nothing
    assert error(grant(people.alice, bob, "viewer", "server", ""))[0] == 403
    with api(people.url, basic(people.names["alice"], "pw-" + people.names["alice"])) as alice:
        read = alice.post("/tokens", json={"name": "r", "scope": "read"}).json()["secret"]
    with api(people.url, bearer(read)) as reader:
        assert error(grant(reader, bob, "viewer", "experiment", exp))[0] == 403
    # an experiment's id is stored in one spelling
    padded = grant(people.alice, bob, "viewer", "experiment", "0" + exp)
    assert padded.status_code == 201
    assert padded.json()["resource"] == exp
    people.alice.delete(f"/grants/{padded.json()['id']}")


def test_server_wide_roles_and_token_principals(people: People) -> None:
    carol = f"user:{people.names['carol']}"
    wide = grant(people.admin, carol, "viewer", "server", "ignored")
    assert wide.status_code == 201
    assert wide.json()["resource"] == ""
    assert people.carol.get(f"/experiments/{people.experiment}").status_code == 200
    people.admin.delete(f"/grants/{wide.json()['id']}")
    assert error(people.carol.get(f"/experiments/{people.experiment}"))[0] == 403
    service = people.admin.post("/tokens", json={"name": "ci", "service": True}).json()
    given = grant(
        people.alice, f"token:{service['token']['id']}", "editor", "experiment", people.experiment
    )
    assert given.status_code == 201
    assert given.json()["principal_kind"] == "token"
    with api(people.url, bearer(service["secret"])) as ci:
        assert ci.get(f"/experiments/{people.experiment}").status_code == 200
        me = ci.get("/auth/me").json()
        assert [g["id"] for g in me["roles"]] == [given.json()["id"]]


def test_grant_changes_reach_the_audit_log_with_before_and_after(people: People) -> None:
    bob = f"user:{people.names['bob']}"
    first = grant(people.alice, bob, "viewer", "experiment", people.experiment).json()
    grant(people.alice, bob, "editor", "experiment", people.experiment)
    people.alice.delete(f"/grants/{first['id']}")
    found = people.admin.get("/audit", params={"actor": people.names["alice"], "limit": 1000})
    assert found.status_code == 200, found.text
    changes = [
        (r["action"], r["object_kind"], r["object_id"], r["changes"])
        for r in found.json()["records"]
        if "/grants" in r["action"]
    ][-3:]
    (made, raised, taken) = changes
    assert made[:3] == ("POST /api/v1/grants", "experiment", people.experiment)
    assert made[3]["before"] is None
    assert made[3]["after"]["role"] == "viewer"
    assert (raised[3]["before"]["role"], raised[3]["after"]["role"]) == ("viewer", "editor")
    assert taken[0] == "DELETE /api/v1/grants/{grant_id}"
    assert taken[3]["before"]["role"] == "editor"
    assert taken[3]["after"] is None
