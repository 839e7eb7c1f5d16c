"""A server with auth on and one object of every kind, for the permission tests.

Users ``viewer``, ``editor`` and ``maintainer`` hold that role on one experiment (with a run,
a metric, an artifact and a logged model), one registered model (a version, an alias, a
promotion), one dataset and one deployment (an alert rule with a firing); ``outsider`` holds
nothing; ``admin`` is the server's admin. Each has a write token (the admin an admin token),
and the maintainer a read token too. The objects are made through the services of the same
app the server runs, so grant changes take effect at once.
"""

from __future__ import annotations

import io
import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
from fastapi import FastAPI

from modelyard.access.entities import Kind, Role, Scope
from modelyard.access.service import AccessService
from modelyard.server.app import ServerSettings, create_app
from modelyard.server.background import serve_app
from modelyard.store.artifacts.uploads import Uploads
from modelyard.store.metadata import alerts_repo, registry_repo
from modelyard.tracking import batches
from modelyard.tracking.entities import RunCreate
from modelyard.tracking.trace_entities import SOURCE_RUN, TraceInfo, TraceState
from modelyard.tracking.traces import Traces

ADMIN_PASSWORD = "admin-password-1"
PASSWORD = "password-1234"
ROLES = ("viewer", "editor", "maintainer")
USERS = (*ROLES, "outsider")
SPENT = ("delete_model", "rename_model")  # routes that take a registered model away
QUIET = {
    "MODELYARD_RATE_LIMIT": "0",  # hundreds of refused requests in a second, on purpose
    "MODELYARD_ALERT_INTERVAL": "0",  # the firing made below stays as it is
}


@dataclass
class World:
    url: str
    app: FastAPI
    tokens: dict[str, str]  # who -> bearer secret: USERS, "admin", "maintainer-read"
    exp_id: int
    exp_name: str
    run_id: str
    logged_model: str
    model: str
    model_id: int
    dataset: str
    deployment: str
    promotion: int
    rule: int
    firing: int
    digest: str
    upload: str
    scratch: dict[str, str] = field(default_factory=dict)  # a model to spend per route
    trace: str = ""  # a trace in the experiment

    def model_for(self, fn: str, path: str) -> str:
        """The model a route acts on: its own for a route that deletes or renames it."""
        copy = "-ajax" if path.startswith("/ajax-api") else ""
        return self.scratch.get(f"{fn}{copy}", self.model)

    @property
    def services(self) -> dict[str, Any]:
        found: dict[str, Any] = self.app.state.services
        return found

    @property
    def access(self) -> AccessService:
        found: AccessService = self.services["access"]
        return found

    def client(self, who: str | None) -> httpx.Client:
        headers = {} if who is None else {"Authorization": f"Bearer {self.tokens[who]}"}
        return httpx.Client(base_url=self.url, headers=headers, timeout=60)


@contextmanager
def quiet_server() -> Iterator[None]:
    saved = {k: os.environ.get(k) for k in QUIET}
    os.environ.update(QUIET)
    try:
        yield
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


@contextmanager
def world(root: Path) -> Iterator[World]:
    settings = ServerSettings(
        store_uri=f"sqlite:///{root / 'meta.db'}",
        artifacts_uri=str(root / "artifacts"),
        auth=True,
        admin_password=ADMIN_PASSWORD,
    )
    with quiet_server():
        app = create_app(settings)
        with serve_app(app) as url:
            yield _populate(app, url)


def _populate(app: FastAPI, url: str) -> World:
    services = app.state.services
    access: AccessService = services["access"]
    admin = access.identity_of(access.user_named("admin").id)
    tokens = {"admin": access.create_token("admin", scope=Scope.ADMIN, by=admin)[1]}
    for name in USERS:
        user = access.create_user(name, PASSWORD, by=admin)
        tokens[name] = access.create_token(name, scope=Scope.WRITE, by=access.identity_of(user.id))[
            1
        ]
    maintainer = access.identity_of(access.user_named("maintainer").id)
    tokens["maintainer-read"] = access.create_token("ro", scope=Scope.READ, by=maintainer)[1]

    tracking, registry, datasets = services["tracking"], services["registry"], services["datasets"]
    exp = tracking.create_experiment("perm-exp")
    run = tracking.create_run(RunCreate(experiment_id=exp.id), user="admin")
    tracking.log_artifact(run.id, "a.txt", io.BytesIO(b"a,b\n1,2\n"))
    batch = {"run_id": run.id, "params": {"p": "1"}, "metrics": [{"key": "loss", "values": [1]}]}
    tracking.ingest([batches.parse_batch(batch, 0)], user="admin")
    logged = registry.create_logged_model(exp.id, "lm", run_id=run.id)
    trace = Traces(tracking.db, tracking.artifacts).start(
        TraceInfo("tr-" + "a" * 32, exp.id, 1, 5, TraceState.OK, {SOURCE_RUN: run.id})
    )

    spend = {f"{fn}{copy}": f"perm-spend-{fn}{copy}" for fn in SPENT for copy in ("", "-ajax")}
    models = ("perm-model", *spend.values())
    for name in models:
        registry.create_model(name, user="admin")
        registry.create_version(name, f"runs:/{run.id}/a.txt", run_id=run.id, user="admin")
        registry.set_alias(name, "champion", 1, "admin")
    with registry.db.read() as conn:
        model_id = registry_repo.model_id(conn, "perm-model")  # its versions' files: versions/<id>
    promotion = services["promotions"].propose("perm-model", 1, "Staging", user="admin")

    datasets.register_reference("perm-data", "abc123", source="s3://bucket/data.csv", user="admin")
    datasets.log_use(run.id, "perm-data", 1)

    deployments = services["deployments"]
    deployments.create("perm-deploy", "models:/perm-model/1", user="admin", engine="external")
    alerts = services["alerts"]
    rule = alerts.create_rule(
        "high-errors", "perm-deploy", "error_rate", window="5m", op=">", threshold=0.5, user="a"
    )
    firing = alerts.db.write(lambda c: alerts_repo.open_firing(c, rule, alerts.clock(), 0.9))

    blob = app.state.artifacts.content.put(io.BytesIO(b"blob bytes"))
    upload = Uploads(app.state.artifacts).create()

    grants = [
        (Kind.EXPERIMENT, str(exp.id)),
        *((Kind.MODEL, name) for name in models),
        (Kind.DATASET, "perm-data"),
        (Kind.DEPLOYMENT, "perm-deploy"),
    ]
    for role in ROLES:
        for kind, resource in grants:
            access.grant(f"user:{role}", kind, resource, Role.parse(role), by=admin)
    access.create_team("perm-team")
    access.create_user("spend-user", PASSWORD, by=admin)
    return World(
        url=url,
        app=app,
        tokens=tokens,
        exp_id=exp.id,
        exp_name=exp.name,
        run_id=run.id,
        logged_model=logged.id,
        model="perm-model",
        model_id=model_id,
        dataset="perm-data",
        deployment="perm-deploy",
        promotion=promotion.id,
        rule=rule.id,
        firing=firing.id,
        digest=blob.digest,
        upload=upload,
        scratch=spend,
        trace=trace.id,
    )


@dataclass
class Secret:
    """Objects only the admin may read."""

    exp_id: int
    run_ids: list[str]
    model: str
    logged_model: str
    dataset: str


def hide(w: World) -> Secret:
    """Make a second experiment (three runs), model, logged model and dataset nobody holds a
    role on."""
    tracking, registry = w.services["tracking"], w.services["registry"]
    exp = tracking.create_experiment("secret-exp")
    runs = [tracking.create_run(RunCreate(experiment_id=exp.id), user="admin") for _ in range(3)]
    for run in runs:
        batch = {"run_id": run.id, "metrics": [{"key": "loss", "values": [0.1]}]}
        tracking.ingest([batches.parse_batch(batch, 0)], user="admin")
        tracking.log_artifact(run.id, "a.txt", io.BytesIO(b"secret"))
    registry.create_model("secret-model", user="admin")
    registry.create_version("secret-model", f"runs:/{runs[0].id}", user="admin")
    logged = registry.create_logged_model(exp.id, "secret-lm", run_id=runs[0].id)
    w.services["datasets"].register_reference("secret-data", "d", source="s3://x", user="admin")
    return Secret(exp.id, [r.id for r in runs], "secret-model", logged.id, "secret-data")
