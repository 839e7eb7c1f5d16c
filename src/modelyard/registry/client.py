"""The registry SDK over the REST API: log a model as a package, load one by URI, trust, aliases.

Loading downloads a version's files once into ``MODELYARD_HOME/models/<package digest>`` (the
digest is checked), so later loads of the same version read the local copy.
"""

from __future__ import annotations

import re
import shutil
import tempfile
from pathlib import Path
from typing import Any

from modelyard import config
from modelyard.errors import DigestMismatch, InvalidInput
from modelyard.packaging import manifest as mf
from modelyard.packaging import package
from modelyard.tracking.client import ApiClient, quote_part
from modelyard.tracking.transfer import Uploader

_MODEL_URI = re.compile(r"^models:/(?P<name>[^@/]+)(?:@(?P<alias>[^/]+)|/(?P<version>\d+))/?$")
_RUN_URI = re.compile(r"^runs:/(?P<run>[0-9a-f]{32})/(?P<path>.+)$")


class ModelRegistry(ApiClient):
    def log(
        self,
        model: Any,
        name: str,
        *,
        run_id: str | None = None,
        input_example: Any = None,
        flavor: str | None = None,
        serialization: str | None = None,
        description: str = "",
        tags: dict[str, str] | None = None,
        aliases: tuple[str, ...] | list[str] = (),
    ) -> dict[str, Any]:
        """Package ``model``, upload what the server lacks, register the next version of ``name``."""
        with tempfile.TemporaryDirectory(prefix="modelyard-model-") as tmp:
            folder = Path(tmp) / "model"
            package.save(
                model,
                folder,
                flavor=flavor,
                input_example=input_example,
                serialization=serialization,
            )
            files = {p.relative_to(folder).as_posix(): p for p in folder.rglob("*") if p.is_file()}
            sent = Uploader(self.backend).upload(files)
        body = {
            "files": {k: f.digest for k, f in sent.items()},
            "run_id": run_id,
            "description": description,
            "tags": tags or {},
        }
        version: dict[str, Any] = self.backend.call(
            "POST", f"/models/{quote_part(name)}/versions", body
        )
        for alias in aliases:
            self.set_alias(name, alias, int(version["version"]))
            version.setdefault("aliases", []).append(alias)
        return version

    def load(self, uri: str, *, trusted: bool = False) -> Any:
        """``models:/NAME@ALIAS``, ``models:/NAME/3`` or ``runs:/RUN/path``.

        A registered version loads a code-carrying format only if its digest was trusted on the
        server; ``trusted=True`` is for ``runs:/`` files you vouch for yourself.
        """
        if _MODEL_URI.match(uri):
            folder, version = self.fetch(uri)
            return package.load(folder, trusted=bool(version["trusted"]))
        if m := _RUN_URI.match(uri):
            with tempfile.TemporaryDirectory(prefix="modelyard-run-model-") as tmp:
                folder = Path(tmp)
                self._download_run_folder(m["run"], m["path"].strip("/"), folder)
                return package.load(folder, trusted=trusted)
        raise InvalidInput(f"{uri!r} is not models:/NAME@ALIAS, models:/NAME/N or runs:/RUN/path")

    def fetch(self, uri: str) -> tuple[Path, dict[str, Any]]:
        """The local (cached, digest-checked) folder of a registered version, and the version."""
        m = _MODEL_URI.match(uri)
        if m is None:
            raise InvalidInput(f"{uri!r} is not models:/NAME@ALIAS or models:/NAME/N")
        name, alias, number = m["name"], m["alias"], m["version"]
        ref = f"aliases/{quote_part(alias)}" if alias else f"aliases/v{number}"
        version = self.backend.call(
            "GET", f"/models/{quote_part(name)}/{ref}", params={"files": "true"}
        )
        if not version.get("package_digest"):
            raise InvalidInput(
                f"{uri} is not a modelyard package (registered from {version['source']})"
            )
        return self._fetch(version["package_digest"], version["files"]), version

    def export(self, uri: str, out: str | Path) -> Path:
        """A self-contained serving bundle of a registered version (see packaging/export.py)."""
        from modelyard.packaging.export import export

        folder, version = self.fetch(uri)
        trusted = version["package_digest"] if version["trusted"] else None
        return export(folder, Path(out), trusted_digest=trusted)

    def _fetch(self, digest: str, files: list[dict[str, Any]]) -> Path:
        cache = config.home_dir() / "models" / digest
        if (cache / mf.MANIFEST).is_file():
            return cache
        cache.parent.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(dir=cache.parent, prefix=".download-"))
        try:
            for f in files:
                target = tmp / f["path"]
                target.parent.mkdir(parents=True, exist_ok=True)
                with target.open("wb") as out:
                    for chunk in self.backend.download(f"/blobs/{f['digest']}"):
                        out.write(chunk)
            manifest = mf.read(tmp)
            if manifest.digest != digest:
                raise DigestMismatch(f"downloaded manifest is not package sha256:{digest}")
            mf.verify(tmp, manifest)
            try:
                tmp.rename(cache)  # same folder: atomic
            except OSError:
                if not (cache / mf.MANIFEST).is_file():
                    raise
                shutil.rmtree(tmp, ignore_errors=True)  # another process cached it first
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise
        return cache

    def _download_run_folder(self, run_id: str, path: str, dest: Path) -> None:
        for entry in self.backend.call("GET", f"/runs/{run_id}/artifacts", params={"path": path}):
            rel = f"{path}/{entry['path']}"
            target = dest / entry["path"]
            if entry["is_dir"]:
                self._download_run_folder(run_id, rel, target)
                continue
            target.parent.mkdir(parents=True, exist_ok=True)
            with target.open("wb") as out:
                for chunk in self.backend.download(f"/runs/{run_id}/artifacts/{rel}"):
                    out.write(chunk)

    def get(
        self, name: str, version: int | None = None, alias: str | None = None
    ) -> dict[str, Any]:
        ref = f"aliases/{quote_part(alias)}" if alias else f"versions/{version}"
        found: dict[str, Any] = self.backend.call("GET", f"/models/{quote_part(name)}/{ref}")
        return found

    def set_alias(self, name: str, alias: str, version: int, reason: str = "") -> None:
        body = {"version": version, "reason": reason}
        self.backend.call("PUT", f"/models/{quote_part(name)}/aliases/{quote_part(alias)}", body)

    def rollback(self, name: str, alias: str, reason: str = "") -> dict[str, Any]:
        found: dict[str, Any] = self.backend.call(
            "POST",
            f"/models/{quote_part(name)}/aliases/{quote_part(alias)}/rollback",
            {"reason": reason},
        )
        return found

    def trust(self, name: str, version: int, reason: str) -> dict[str, Any]:
        found: dict[str, Any] = self.backend.call(
            "POST", f"/models/{quote_part(name)}/versions/{version}/trust", {"reason": reason}
        )
        return found

    def propose(
        self,
        name: str,
        version: int,
        stage: str,
        *,
        rules: list[str] | None = None,
        alias: str | None = None,
        reason: str = "",
    ) -> dict[str, Any]:
        """Propose a version for a stage (and an alias), gated by metric rules on approval."""
        body = {"stage": stage, "rules": rules or [], "alias": alias, "reason": reason}
        found: dict[str, Any] = self.backend.call(
            "POST", f"/models/{quote_part(name)}/versions/{version}/promotions", body
        )
        return found

    def decide(self, promotion_id: int, approve: bool, comment: str = "") -> dict[str, Any]:
        verb = "approve" if approve else "reject"
        found: dict[str, Any] = self.backend.call(
            "POST", f"/promotions/{promotion_id}/{verb}", {"comment": comment}
        )
        return found

    def promotions(self, name: str) -> list[dict[str, Any]]:
        found: list[dict[str, Any]] = self.backend.call(
            "GET", f"/models/{quote_part(name)}/promotions"
        )
        return found

    def models(self) -> list[dict[str, Any]]:
        found: list[dict[str, Any]] = self.backend.call(
            "GET", "/models", params={"max_results": 1000}
        )["models"]
        return found

    def history(self, name: str) -> list[dict[str, Any]]:
        events: list[dict[str, Any]] = self.backend.call(
            "GET", f"/models/{quote_part(name)}/history"
        )
        return events
