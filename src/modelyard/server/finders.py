"""Where a request names the object its permission is about (used by server/permissions.py).

A finder reads the request exactly as its route will (the same fields, the same precedence, the
same parsers), so the object checked is the object the route touches. It answers:

* the object's id: an experiment id, a model, dataset or deployment name (a run answers its
  experiment, a logged model its experiment, a promotion its model, an alert rule its target);
* a :class:`Target` when the kind depends on the object (a monitoring target is a deployment,
  else a registered model; an MLflow artifact path is a run's, a logged model's or a version's);
* :data:`NEW` for an object the route will create (checked as a create);
* :data:`UNKNOWN` for an object it cannot name although the route may still reach it: only a
  server-wide role passes (fail closed);
* None when the request names nothing the route can find: the route answers its own 404 or 400.

Lookups that fail with NotFound, InvalidInput or a validation error answer None for that
reason (the route fails the same way); any other error propagates.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, NamedTuple

from fastapi import Request
from pydantic import BaseModel, TypeAdapter, ValidationError

from modelyard.access.entities import Kind
from modelyard.errors import InvalidInput, NotFound
from modelyard.server.guard import parsed_json
from modelyard.server.mlflow import wire
from modelyard.tracking import validation as v
from modelyard.tracking.entities import DEFAULT_EXPERIMENT
from modelyard.tracking.traces import Traces


class Target(NamedTuple):
    kind: Kind
    resource: str


Found = str | Target | None
Finder = Callable[[Request], Found]

NEW = "\x00new"  # an object the route creates: the caller needs a write-capable credential
UNKNOWN = "\x00unknown"  # no name holds a control character, so no grant is on it

_INT = TypeAdapter(int)  # how FastAPI reads an ``int`` path parameter


def finder(find: Finder) -> Finder:
    """``find``, answering None where a lookup fails as the route's would (404 or 400)."""

    def found(request: Request) -> Found:
        try:
            return find(request)
        except (NotFound, InvalidInput, ValidationError):
            return None

    found.__name__ = getattr(find, "__name__", "finder")
    return found


def _services(request: Request) -> Any:
    return request.app.state.services


def _path(request: Request, name: str) -> str:
    return str(request.path_params[name])


def _path_int(request: Request, name: str) -> int:
    return int(_INT.validate_python(request.path_params[name]))


def _body(request: Request, model: type[BaseModel]) -> Any:
    """The JSON body as the route's own schema validates it (ValidationError when invalid)."""
    return model.model_validate(parsed_json(request.scope))


def _name(value: Any, what: str) -> str:
    return v.clean_name(value, what)


# ---- experiments and runs


def experiment_named(request: Request, name: str) -> str:
    return str(_services(request)["tracking"].get_experiment_by_name(name).id)


def run_experiments(request: Request, run_ids: list[str]) -> dict[str, int]:
    """The experiment of each run that exists, each read once per request (the permission
    check and the route's own checks share what was read)."""
    cache: dict[str, int | None] = request.scope.setdefault("modelyard.run_experiments", {})
    wanted = [r for r in dict.fromkeys(run_ids) if r not in cache]
    if wanted:
        found = _services(request)["tracking"].experiments_of(wanted)
        for run_id in wanted:
            cache[run_id] = found.get(run_id)
    return {r: e for r in run_ids if (e := cache[r]) is not None}


def run_experiment(request: Request, run_id: str) -> str:
    """The experiment of a run (NotFound when there is no such run)."""
    found = run_experiments(request, [run_id])
    if run_id not in found:
        raise NotFound(f"run {run_id} does not exist")
    return str(found[run_id])


def new_run_experiment(request: Request, exp_id: int | None, name: str | None) -> str:
    """Where a new run goes: an experiment by id, else by name (Default when none); a name
    that is free is :data:`NEW` (the route creates the experiment)."""
    if exp_id is not None:
        return str(exp_id)
    try:
        return experiment_named(request, name or DEFAULT_EXPERIMENT)
    except NotFound:
        return NEW


def trace_experiment(request: Request, trace_id: str) -> str:
    """The experiment of a trace (NotFound when there is no such trace)."""
    svc = _services(request)["tracking"]
    found = Traces(svc.db, svc.artifacts).experiments_of([trace_id])
    if trace_id not in found:
        raise NotFound(f"trace {trace_id} does not exist")
    return str(found[trace_id])


def logged_model_experiment(request: Request, model_id: str) -> str:
    return str(_services(request)["registry"].get_logged_model(model_id).experiment_id)


def artifact_owner(request: Request, where: str) -> Found:
    """The owner of an MLflow artifact path, read as ``mlflow/artifacts.locate`` reads it: a
    run's or a logged model's experiment, or the model of a version's files."""
    parts = where.strip("/").split("/")
    if parts[0] == "versions":
        if len(parts) < 4 or parts[3] != "artifacts":
            return None
        model_id = v.plain_int(parts[1], "model id")
        v.plain_int(parts[2], "version")
        try:
            return Target(Kind.MODEL, _services(request)["registry"].model_name(model_id))
        except NotFound:
            return Target(Kind.MODEL, UNKNOWN)  # files of a deleted model: admins only
    if len(parts) < 3 or (parts[1] == "models" and len(parts) < 4):
        return None  # above any owner: the route lists nothing
    if parts[1] == "models":
        return logged_model_experiment(request, parts[2])
    if parts[1] == "traces":
        return trace_experiment(request, parts[2])
    return run_experiment(request, parts[1])


# ---- registry, datasets, deployments, monitoring


def model_or_new(request: Request, name: str) -> str:
    try:
        _services(request)["registry"].get_model(name)
    except NotFound:
        return NEW
    return name


def dataset_or_new(request: Request, name: str) -> str:
    return name if _services(request)["datasets"].exists(name) else NEW


def monitoring_target(request: Request, name: str) -> Target:
    """A deployment called ``name``, else a registered model (as monitoring resolves them);
    a name that is neither is checked as a deployment."""
    services = _services(request)
    try:
        services["deployments"].get(name)
    except NotFound:
        try:
            services["registry"].get_model(name)
        except NotFound:
            return Target(Kind.DEPLOYMENT, name)
        return Target(Kind.MODEL, name)
    return Target(Kind.DEPLOYMENT, name)


# ---- the finders of the native routes


@finder
def experiment_id(request: Request) -> Found:
    return str(_path_int(request, "experiment_id"))


@finder
def experiment_by_name(request: Request) -> Found:
    return experiment_named(request, _path(request, "name"))


@finder
def run(request: Request) -> Found:
    return run_experiment(request, _path(request, "run_id"))


@finder
def new_run(request: Request) -> Found:
    from modelyard.server.schemas import RunCreateIn

    spec = _body(request, RunCreateIn)
    name = None if spec.experiment_name is None else _name(spec.experiment_name, "experiment")
    return new_run_experiment(request, spec.experiment_id, name)


@finder
def trace(request: Request) -> Found:
    return trace_experiment(request, _path(request, "trace_id"))


@finder
def model(request: Request) -> Found:
    return _name(_path(request, "name"), "model name")


@finder
def model_new(request: Request) -> Found:
    return model_or_new(request, _name(_path(request, "name"), "model name"))


@finder
def promotion(request: Request) -> Found:
    found = _services(request)["promotions"].get(_path_int(request, "promotion_id"))
    return str(found.name)


@finder
def dataset(request: Request) -> Found:
    return _name(_path(request, "name"), "dataset name")


@finder
def dataset_new(request: Request) -> Found:
    return dataset_or_new(request, _name(_path(request, "name"), "dataset name"))


@finder
def deployment(request: Request) -> Found:
    return _path(request, "name")


@finder
def deployment_model(request: Request) -> Found:
    """The model a new deployment serves (``models:/NAME@ALIAS`` or ``models:/NAME/N``)."""
    from modelyard.server.schemas import DeploymentCreateIn
    from modelyard.serving import checks

    return checks.model_uri(_body(request, DeploymentCreateIn).model)[0]


@finder
def monitored(request: Request) -> Found:
    return monitoring_target(request, _path(request, "name"))


@finder
def alert_rule(request: Request) -> Found:
    rule = _services(request)["alerts"].get_rule(_path_int(request, "rule_id"))
    return monitoring_target(request, rule.deployment)


@finder
def alert_firing(request: Request) -> Found:
    firing = _services(request)["alerts"].get_firing(_path_int(request, "firing_id"))
    return monitoring_target(request, firing.deployment)


@finder
def new_alert_rule(request: Request) -> Found:
    from modelyard.server.alert_schemas import AlertRuleIn

    name = _name(_body(request, AlertRuleIn).deployment, "deployment")
    return monitoring_target(request, name)


# ---- the finders of the MLflow routes (the message: a GET's query, else the JSON body)


@finder
def m_experiment(request: Request) -> Found:
    m = wire.message(request)
    return str(wire.experiment_id(wire.required(m, "experiment_id")))


@finder
def m_experiment_by_name(request: Request) -> Found:
    m = wire.message(request)
    return experiment_named(request, str(wire.required(m, "experiment_name")))


@finder
def m_run(request: Request) -> Found:
    return run_experiment(request, wire.run_id(wire.message(request)))


@finder
def m_run_id_only(request: Request) -> Found:
    """``run_id`` alone (``runs/log-inputs`` does not read ``run_uuid``)."""
    return run_experiment(request, str(wire.required(wire.message(request), "run_id")))


@finder
def m_new_run(request: Request) -> Found:
    exp = wire.message(request).get("experiment_id")
    if exp in (None, "", "0", 0):
        return new_run_experiment(request, None, DEFAULT_EXPERIMENT)
    return str(wire.experiment_id(exp))


@finder
def m_model(request: Request) -> Found:
    return _name(str(wire.required(wire.message(request), "name")), "model name")


@finder
def m_logged_model(request: Request) -> Found:
    return logged_model_experiment(request, _path(request, "model_id"))


@finder
def m_artifact(request: Request) -> Found:
    return artifact_owner(request, _path(request, "path"))


@finder
def m_artifact_listing(request: Request) -> Found:
    return artifact_owner(request, request.query_params.get("path", ""))


@finder
def m_new_trace(request: Request) -> Found:
    """The experiment of the trace a ``StartTraceV3`` message records."""
    trace = wire.message(request).get("trace")
    info = trace.get("trace_info") if isinstance(trace, dict) else None
    location = info.get("trace_location") if isinstance(info, dict) else None
    where = location.get("mlflow_experiment") if isinstance(location, dict) else None
    if not isinstance(where, dict):
        return None
    return str(wire.experiment_id(wire.required(where, "experiment_id")))
