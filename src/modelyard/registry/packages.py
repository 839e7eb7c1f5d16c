"""Packaged versions: a modelyard package from uploaded blobs, and trusting its format."""

from __future__ import annotations

from typing import Any

import orjson
from sqlalchemy import Connection

from modelyard.errors import InvalidInput
from modelyard.registry.checks import clean_description, clean_reason
from modelyard.registry.entities import ModelVersion, Stage
from modelyard.registry.part import RegistryPart
from modelyard.store.artifacts.blobs import clean_digest
from modelyard.store.artifacts.paths import clean_relative
from modelyard.store.metadata import registry_repo, runs_repo
from modelyard.store.metadata.sql import now_ms
from modelyard.tracking import validation as v


class Packages(RegistryPart):
    def register_package(
        self,
        name: str,
        files: dict[str, str],
        *,
        user: str,
        run_id: str | None = None,
        description: str = "",
        tags: dict[str, str] | None = None,
        create_only: bool = False,
    ) -> ModelVersion:
        """A new version from uploaded blobs (``{path: sha256}``) that form a modelyard package.

        The manifest is read from the stored ``modelyard.json``, must pass the packaging checks
        (the loader runs the same) and must name exactly these files with these digests; the
        model is created on first use (``create_only``: it must be new, else AlreadyExists).
        A refused package writes nothing.
        """
        from modelyard.packaging import manifest as mf

        clean = {clean_relative(p): clean_digest(d) for p, d in files.items()}
        if mf.MANIFEST not in clean:
            raise InvalidInput(f"a package needs its {mf.MANIFEST}", field="files")
        with self.artifacts.content.open(clean[mf.MANIFEST]) as handle:
            raw = handle.read(4 << 20)
        try:
            manifest = mf.Manifest.from_json(orjson.loads(raw))
        except orjson.JSONDecodeError as exc:
            raise InvalidInput(f"{mf.MANIFEST} is not valid JSON: {exc}") from exc
        mf.check(manifest)  # flavor, formats and the safe claim, paths, dependencies, Python
        named = {p: d for p, d in clean.items() if p != mf.MANIFEST}
        if named != manifest.files:
            raise InvalidInput(
                f"the files sent do not match the digests in {mf.MANIFEST}",
                extra=sorted(set(named) ^ set(manifest.files))[:20],
            )
        rows = self.artifacts.stored(list(clean.items()))
        clean_tags = v.clean_pairs(tags, "tag")
        text = clean_description(description)
        model_name = v.clean_name(name, "model name")
        package: dict[str, Any] = manifest.to_json()

        def job(conn: Connection) -> ModelVersion:
            registry_repo.ensure_model(conn, model_name, user, new=create_only)
            if run_id is not None:
                runs_repo.get(conn, v.clean_run_id(run_id))
            now = now_ms()
            version = ModelVersion(
                name=model_name,
                version=0,
                source=f"package:sha256:{manifest.digest}",
                artifact_prefix="",
                run_id=run_id,
                logged_model_id=None,
                description=text,
                stage=Stage.NONE,
                user=user,
                created_at=now,
                updated_at=now,
                tags=clean_tags,
                package_digest=manifest.digest,
                package=package,
            )
            return registry_repo.create_version(conn, model_name, version, files=rows)

        return self.db.write(job)

    def trust(self, name: str, version: int, user: str, reason: str) -> ModelVersion:
        """Allow a version's package to load although its format can run code (recorded)."""
        why = clean_reason(reason)
        if not why:
            raise InvalidInput("say why this model is trusted (reason)", field="reason")
        return self.db.write(lambda c: registry_repo.trust(c, name, version, user, why))
