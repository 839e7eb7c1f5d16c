"""Registering a model a run logged (an artifact folder, or an MLflow 3 logged model) from the
web UI."""

from __future__ import annotations

from modelyard.errors import InvalidInput
from modelyard.registry.checks import logged_model_id
from modelyard.registry.entities import ModelVersion
from modelyard.registry.packages import Packages
from modelyard.registry.versions import Versions
from modelyard.store.artifacts.paths import clean_relative
from modelyard.store.metadata import logged_models_repo, runs_repo
from modelyard.tracking import validation as v

MANIFEST = "modelyard.json"  # a modelyard package (its manifest is checked as on upload)
MLMODEL = "MLmodel"  # an MLflow model folder


class RunModels(Versions, Packages):
    def register_run_model(
        self,
        name: str,
        run_id: str,
        path: str,
        *,
        user: str,
        description: str = "",
        create_only: bool = False,
    ) -> ModelVersion:
        """A new version of ``name`` from the model folder ``path`` of a run's artifacts: a
        modelyard package (its manifest checked, its files kept) or an MLflow model folder
        (``MLmodel``). The model is created when missing (``create_only``: it must be new)."""
        rid = v.clean_run_id(run_id)
        rel = clean_relative(path, allow_empty=True)
        model_name = v.clean_name(name, "model name")
        with self.db.read() as conn:
            runs_repo.get(conn, rid)
        prefix = f"runs/{rid}/{rel}".rstrip("/")
        files = {f.key: f.digest for f in self.artifacts.files(prefix)}
        if MANIFEST in files:
            return self.register_package(
                model_name,
                files,
                user=user,
                run_id=rid,
                description=description,
                create_only=create_only,
            )
        if MLMODEL not in files:
            raise InvalidInput(
                f"no model in {rel or 'the artifacts'!r} of run {rid}: a model folder holds "
                f"{MLMODEL} or {MANIFEST}",
                field="path",
            )
        return self.create_version(
            model_name,
            f"runs:/{rid}/{rel}".rstrip("/"),
            user=user,
            run_id=rid,
            description=description,
            create_missing=True,
            create_only=create_only,
        )

    def register_logged_model(
        self,
        name: str,
        model_id: str,
        *,
        user: str,
        description: str = "",
        create_only: bool = False,
    ) -> ModelVersion:
        """A new version of ``name`` from an MLflow 3 logged model (``models:/<model id>``);
        the model is created when missing (``create_only``: it must be new)."""
        mid = logged_model_id(model_id)
        model_name = v.clean_name(name, "model name")
        with self.db.read() as conn:
            logged = logged_models_repo.get(conn, mid)
        return self.create_version(
            model_name,
            f"models:/{mid}",
            user=user,
            run_id=logged.run_id,
            logged_model_id=mid,
            description=description,
            create_missing=True,
            create_only=create_only,
        )
