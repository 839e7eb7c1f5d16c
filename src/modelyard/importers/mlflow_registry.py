"""The registry part of an MLflow import: registered models, versions (in an order where a
version copied from another comes after it), stages and aliases."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from typing import Any

from modelyard.errors import InvalidInput, NotFound
from modelyard.registry.service import RegistryService, parse_stage

IMPORT_USER = "mlflow-import"  # who wrote what an import copies (the run's user, the history)
RECORDED_AS = "modelyard.recorded_as"  # the user name the source recorded, kept as a tag
_COPIED = re.compile(r"models:/(?P<name>[^/@]+)(?:/(?P<number>\d+)|@(?P<alias>[^/@]+))/?")


def pages(fetch: Callable[[str | None], Any]) -> Iterator[Any]:
    """Every item of a paged MLflow listing."""
    token = None
    while True:
        page = fetch(token)
        yield from page
        token = page.token
        if not token:
            return


def quote(name: str) -> str:
    return name.replace("'", "\\'")


def recorded_as(tags: dict[str, str], user: str | None) -> dict[str, str]:
    """``tags`` with the source's user name kept as :data:`RECORDED_AS`."""
    return {**tags, RECORDED_AS: user} if user else tags


def source_models(mlflow: Any) -> list[Any]:
    return list(
        pages(lambda token: mlflow.search_registered_models(max_results=100, page_token=token))
    )


def source_versions(mlflow: Any, name: str) -> list[Any]:
    found = pages(
        lambda token: mlflow.search_model_versions(
            f"name = '{quote(name)}'", max_results=1000, page_token=token
        )
    )
    return sorted(found, key=lambda v: int(v.version))


class RegistryCopy:
    """Copies the source's registry; versions keep their numbers, so they go in ascending
    order per model, and a version made from another (``models:/name/N``, as
    ``MlflowClient.copy_model_version`` makes them) waits for that one."""

    def __init__(self, mlflow: Any, registry: RegistryService, report: Any) -> None:
        self.mlflow = mlflow
        self.registry = registry
        self.report = report
        self._models: dict[str, Any] = {}
        self._versions: dict[str, dict[int, Any]] = {}
        self._have: dict[str, set[int]] = {}
        self._busy: set[tuple[str, int]] = set()

    def run(self) -> None:
        for rm in source_models(self.mlflow):
            self._models[rm.name] = rm
            self._versions[rm.name] = {
                int(v.version): v for v in source_versions(self.mlflow, rm.name)
            }
        for rm in self._models.values():
            self._model(rm.name)
        for name, versions in self._versions.items():
            for number in sorted(versions):
                self._version(name, number)
        for rm in self._models.values():
            mine = self.registry.get_model(rm.name)
            for alias, number in dict(rm.aliases).items():
                if mine.aliases.get(alias) == int(number):
                    continue
                if int(number) not in self._have[rm.name]:
                    self.report.warnings.append(
                        f"{rm.name}: alias {alias!r} names version {number}, not imported"
                    )
                    continue
                self.registry.set_alias(rm.name, alias, int(number), user=IMPORT_USER)
                self.report.aliases += 1

    def _model(self, name: str) -> None:
        if name in self._have:
            return
        rm = self._models[name]
        try:
            self.registry.get_model(name)
        except NotFound:
            self.registry.create_model(
                name, description=rm.description or "", tags=dict(rm.tags), user=IMPORT_USER
            )
            self.report.registered_models += 1
        found, _token = self.registry.search_versions(f"name = '{quote(name)}'", max_results=10_000)
        self._have[name] = {v.version for v in found}

    def _version(self, name: str, number: int) -> bool:
        """Import one version (the model's lower numbers and its source version first);
        True when it is in modelyard."""
        if number in self._have[name]:
            return True
        if (name, number) in self._busy:  # a loop MLflow's order makes impossible
            return False
        self._busy.add((name, number))
        try:
            for lower in sorted(n for n in self._versions[name] if n < number):
                self._version(name, lower)
            version = self._versions[name][number]
            source = self._source(version)
            if source is None:
                return False
            try:
                self.registry.create_version(
                    name,
                    source,
                    run_id=version.run_id or None,
                    description=version.description or "",
                    tags=recorded_as(dict(version.tags), version.user_id),
                    user=IMPORT_USER,
                    number=number,
                )
            except (NotFound, InvalidInput) as exc:
                self.report.warnings.append(f"{name} version {number}: {exc.message}; not imported")
                return False
            if version.current_stage and version.current_stage != "None":
                self.registry.update_version(
                    name, number, stage=parse_stage(version.current_stage), user=IMPORT_USER
                )
            self._have[name].add(number)
            self.report.versions += 1
            return True
        finally:
            self._busy.discard((name, number))

    def _source(self, version: Any) -> str | None:
        """The version's source as modelyard accepts it, or None (with a warning)."""
        source = str(version.source)
        what = f"{version.name} version {version.version}"
        if source.startswith(("models:/m-", "runs:/", "mlflow-artifacts:/")):
            return source
        if m := _COPIED.fullmatch(source):
            return self._copied_from(what, m["name"], m["number"], m["alias"])
        if version.run_id and "/artifacts/" in source:
            return f"runs:/{version.run_id}/{source.split('/artifacts/', 1)[1]}"
        self.report.warnings.append(
            f"{what}: source {source!r} is outside MLflow's run and model artifacts; not imported"
        )
        return None

    def _copied_from(
        self, what: str, name: str, number: str | None, alias: str | None
    ) -> str | None:
        """``models:/name/N`` once version N is imported; an alias names the version it names
        in the source now, as MLflow's server resolves one."""
        if name not in self._models:
            self.report.warnings.append(
                f"{what}: its source model {name!r} is not in the source; not imported"
            )
            return None
        self._model(name)
        if alias is not None:
            target = dict(self._models[name].aliases).get(alias)
            if target is None:
                self.report.warnings.append(
                    f"{what}: alias {alias!r} of {name!r} is not set; not imported"
                )
                return None
            number = str(target)
        assert number is not None
        if int(number) not in self._versions[name] or not self._version(name, int(number)):
            self.report.warnings.append(
                f"{what}: its source, version {number} of {name!r}, is not imported; not imported"
            )
            return None
        return f"models:/{name}/{int(number)}"
