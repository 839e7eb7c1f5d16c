"""MLflow dataset inputs (``runs/log-inputs``) onto modelyard's datasets and run lineage.

An MLflow dataset only describes data kept elsewhere (name, digest, source, schema, profile),
so it becomes a reference version of the modelyard dataset with that name.
"""

from __future__ import annotations

from typing import Any

import orjson
from fastapi import APIRouter, Depends, Request
from starlette.concurrency import run_in_threadpool

from modelyard.access.entities import Kind, Role
from modelyard.datasets.entities import DatasetUse, DatasetVersion
from modelyard.datasets.service import DatasetsService
from modelyard.errors import InvalidInput
from modelyard.registry.service import RegistryService
from modelyard.server import permissions
from modelyard.server.deps import datasets, registry
from modelyard.server.identity import Identity, identify
from modelyard.server.mlflow import wire
from modelyard.server.responses import JSONOut
from modelyard.tracking import validation as v

router = APIRouter()
CONTEXT_TAG = "mlflow.data.context"


@router.post("/runs/log-inputs")
async def log_inputs(
    request: Request,
    svc: DatasetsService = Depends(datasets),
    reg: RegistryService = Depends(registry),
    who: Identity = Depends(identify),
) -> JSONOut:
    """The run read these datasets: each becomes a reference version of the dataset of its
    name (editor on it; a new dataset makes its creator its maintainer)."""
    m = await wire.fields(request)
    run_id = str(wire.required(m, "run_id"))
    entries = m.get("datasets") or []
    if not isinstance(entries, list):
        raise InvalidInput("datasets must be a list", field="datasets")
    models = m.get("models") or []  # MLflow 3: logged models the run read
    if not isinstance(models, list) or not all(isinstance(x, dict) for x in models):
        raise InvalidInput("models must be a list of {model_id}", field="models")
    model_ids = [(str(wire.required(x, "model_id")), 0) for x in models]

    def job() -> None:
        found = [_dataset_of(entry) for entry in entries]
        new = {name: not svc.exists(name) for name, _ds, _tags in found}
        for name, fresh in new.items():  # every check before the first write
            if fresh:
                permissions.require_create(request)
            else:
                permissions.require(request, Kind.DATASET, name, Role.EDITOR)
        for name, ds, tags in found:
            version = svc.register_reference(
                name,
                str(wire.required(ds, "digest")),
                source=str(ds.get("source") or ""),
                source_type=str(ds.get("source_type") or ""),
                schema=ds.get("schema"),
                profile=ds.get("profile"),
                user=who.name,
                create_only=new[name],
            )
            if new[name]:
                permissions.made(request, Kind.DATASET, name)
                new[name] = False  # the next input of the same dataset adds to it
            context = str(tags.pop(CONTEXT_TAG, None) or "")
            svc.log_use(run_id, version.name, version.version, "input", context, tags)
        if model_ids:
            reg.link_run_models(run_id, model_ids, "input")

    await run_in_threadpool(job)
    return JSONOut({})


def _dataset_of(entry: Any) -> tuple[str, dict[str, Any], dict[str, str]]:
    """(name, dataset, tags) of one MLflow dataset input."""
    ds = entry.get("dataset") if isinstance(entry, dict) else None
    if not isinstance(ds, dict):
        raise InvalidInput("each input needs a dataset", field="datasets")
    raw_tags = entry.get("tags") or []
    if not isinstance(raw_tags, list) or not all(isinstance(t, dict) for t in raw_tags):
        raise InvalidInput("an input's tags are a list of {key, value}", field="datasets")
    raw = {str(wire.required(t, "key")): str(t.get("value") or "") for t in raw_tags}
    tags = v.clean_pairs(raw, "input tag")  # checked before the first write
    return v.clean_name(str(wire.required(ds, "name")), "dataset name"), ds, tags


def dataset_inputs(pairs: list[tuple[DatasetUse, DatasetVersion]]) -> dict[str, Any]:
    """A run's ``inputs`` in MLflow's shape."""
    out = []
    for use, version in pairs:
        schema: Any = version.schema[0] if len(version.schema) == 1 else version.schema
        dataset = {
            "name": version.name,
            "digest": version.tags.get("reference.digest", version.digest[:8]),
            "source_type": version.tags.get("reference.source_type", "modelyard"),
            "source": version.source,
            "schema": orjson.dumps(schema).decode() if schema else "",
            "profile": orjson.dumps(version.profile).decode() if version.profile else "",
        }
        tags = [{"key": CONTEXT_TAG, "value": use.context}] if use.context else []
        tags += wire.pairs(use.tags)
        out.append({"dataset": dataset, "tags": tags})
    return {"dataset_inputs": out} if out else {}
