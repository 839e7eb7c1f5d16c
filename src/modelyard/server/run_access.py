"""Who may write the runs a request names, checked per run (many runs can share one request).

Every route that writes runs passes its parsed batches through :func:`authorize_batches`
(the native ingest, a run's batch, creating a run, every MLflow run write):

* a run that exists needs ``editor`` on its own experiment, whatever experiment a batch names;
* a new run needs ``editor`` on the experiment it names by id or name, and ``viewer`` on the
  experiment of its parent run;
* a new run naming an experiment that does not exist (by name; ``Default`` when it names
  none) needs a write-capable credential: the experiment is created first, by this caller,
  who becomes its maintainer (if another request created it meanwhile, ``editor`` on it);
* a point for a logged model (``model_metrics``, MLflow 3) needs ``editor`` on the model's
  experiment too (an unknown model is the route's 404);
* with auth on, the authenticated identity is the run's user and its ``mlflow.user`` tag,
  whatever the client sent.

With auth off the batches pass unchanged.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from fastapi import Request

from modelyard.access.entities import Identity, Kind, Role
from modelyard.errors import AlreadyExists, NotFound
from modelyard.server import permissions
from modelyard.server.finders import logged_model_experiment, run_experiments
from modelyard.tracking.entities import DEFAULT_EXPERIMENT, RunBatch, RunCreate
from modelyard.tracking.service import TrackingService

USER_TAG = "mlflow.user"


def authorize_batches(
    request: Request, svc: TrackingService, batches: list[RunBatch]
) -> list[RunBatch]:
    """The batches the caller may apply, each with its user set (PermissionDenied else).

    Every check runs before the one write this may make (an experiment a new run names that
    does not exist yet), so a refused request writes nothing.
    """
    if not getattr(request.app.state.settings, "auth", False):
        return batches
    who: Identity = request.state.identity
    parents = [b.create.parent_id for b in batches if b.create and b.create.parent_id]
    owners = run_experiments(request, [b.run_id for b in batches] + parents)
    named: dict[str, int | None] = {}  # experiments new runs name: id, or None to make
    for batch in batches:
        exp = owners.get(batch.run_id)
        if exp is not None:
            permissions.require(request, Kind.EXPERIMENT, str(exp), Role.EDITOR)
        elif batch.create is not None:
            _check_new_run(request, svc, batch.create, owners, named)
    for model_id in sorted({p.model_id for b in batches for p in b.model_metrics}):
        permissions.require(
            request, Kind.EXPERIMENT, logged_model_experiment(request, model_id), Role.EDITOR
        )
    missing = [name for name, exp_id in named.items() if exp_id is None]
    if missing:
        permissions.require_create(request)
        for name in missing:
            named[name] = _make_experiment(request, svc, name)
    out = []
    for batch in batches:
        spec = batch.create
        if spec is not None and batch.run_id not in owners and spec.experiment_id is None:
            exp_id = named[spec.experiment_name or DEFAULT_EXPERIMENT]
            batch = replace(batch, create=replace(spec, experiment_id=exp_id, experiment_name=None))
        out.append(_owned(batch, who.name))
    return out


def require_runs(request: Request, run_ids: list[str], role: Role = Role.VIEWER) -> None:
    """PermissionDenied unless the caller holds ``role`` on the experiment of every run named
    that exists (the route answers for the others)."""
    if not getattr(request.app.state.settings, "auth", False):
        return
    for exp in sorted(set(run_experiments(request, run_ids).values())):
        permissions.require(request, Kind.EXPERIMENT, str(exp), role)


def _check_new_run(
    request: Request,
    svc: TrackingService,
    spec: RunCreate,
    owners: dict[str, int],
    named: dict[str, int | None],
) -> None:
    if spec.parent_id is not None and spec.parent_id in owners:
        parent_exp = str(owners[spec.parent_id])
        permissions.require(request, Kind.EXPERIMENT, parent_exp, Role.VIEWER)
    if spec.experiment_id is not None:
        permissions.require(request, Kind.EXPERIMENT, str(spec.experiment_id), Role.EDITOR)
        return
    name = spec.experiment_name or DEFAULT_EXPERIMENT
    if name in named:
        return
    try:
        exp_id = svc.get_experiment_by_name(name).id
    except NotFound:
        named[name] = None
        return
    permissions.require(request, Kind.EXPERIMENT, str(exp_id), Role.EDITOR)
    named[name] = exp_id


def _make_experiment(request: Request, svc: TrackingService, name: str) -> int:
    """Create the experiment a new run names; its creator becomes its maintainer (if another
    request made it meanwhile, the caller needs editor on theirs)."""
    try:
        exp = svc.create_experiment(name)
    except AlreadyExists:
        exp = svc.get_experiment_by_name(name)
        permissions.require(request, Kind.EXPERIMENT, str(exp.id), Role.EDITOR)
        return exp.id
    permissions.made(request, Kind.EXPERIMENT, str(exp.id))
    return exp.id


def _owned(batch: RunBatch, user: str) -> RunBatch:
    """The batch with the authenticated user in place of any user name the client sent."""
    changes: dict[str, Any] = {}
    if batch.create is not None and batch.create.user != user:
        changes["create"] = replace(batch.create, user=user)
    if USER_TAG in batch.tags and batch.tags[USER_TAG] != user:
        changes["tags"] = {**batch.tags, USER_TAG: user}
    return replace(batch, **changes) if changes else batch
