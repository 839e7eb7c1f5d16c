"""The registry SDK: log a model as a package, load one by URI, trust, aliases.

It calls a server's REST API, or the services of an embedded store in process
(``registry/backends.py``). Loading copies a version's files once into
``MODELYARD_HOME/models/<package digest>`` (the digest is checked), so later loads of the same
version read the local copy. Nothing a server sends is believed: every path and digest is
checked as the server checks its own (the artifact store's ``resolve_under`` and
``clean_digest``) before a byte is written, and only the files the digest-checked manifest
names are written. Files from an embedded store pass the same checks.
"""

from __future__ import annotations

import re
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Self

from modelyard import config
from modelyard.errors import DigestMismatch, InvalidInput, PathNotAllowed
from modelyard.packaging import manifest as mf
from modelyard.packaging import package
from modelyard.store.artifacts.blobs import clean_digest, receive
from modelyard.store.artifacts.paths import clean_relative, resolve_under
from modelyard.tracking.client import resolve_uri
from modelyard.tracking.http import HttpBackend

from .backends import ModelsApi, models_api

_MODEL_URI = re.compile(r"^models:/(?P<name>[^@/]+)(?:@(?P<alias>[^/]+)|/(?P<version>\d+))/?$")
_RUN_URI = re.compile(r"^runs:/(?P<run>[0-9a-f]{32})/(?P<path>.+)$")


class ModelRegistry:
    """The registry of a server (http://) or of an embedded store (called in process)."""

    def __init__(self, uri: str | None = None) -> None:
        self.uri = resolve_uri(uri)
        self.api: ModelsApi = models_api(self.uri)

    @property
    def backend(self) -> HttpBackend:
        """The server's REST API (InvalidState on an embedded store)."""
        return self.api.http()

    def close(self) -> None:
        self.api.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

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
            sent = self.api.put_files(files)
        body = {
            "files": sent,
            "run_id": run_id,
            "description": description,
            "tags": tags or {},
        }
        version = self.api.register(name, body)
        for alias in aliases:
            self.set_alias(name, alias, int(version["version"]))
            version.setdefault("aliases", []).append(alias)
        return version

    def load(self, uri: str, *, trusted: bool = False) -> Any:
        """``models:/NAME@ALIAS``, ``models:/NAME/3`` or ``runs:/RUN/path``.

        A registered version loads a format that needs trust only if its digest was trusted on
        the server; ``trusted=True`` is for ``runs:/`` files you vouch for yourself.
        """
        if _MODEL_URI.match(uri):
            folder, version = self.fetch(uri)
            digest = version["package_digest"] if version.get("trusted") is True else None
            return package.load(folder, trusted_digest=digest)
        if _RUN_URI.match(uri):
            with tempfile.TemporaryDirectory(prefix="modelyard-run-model-") as tmp:
                return package.load(self.download_run_model(uri, Path(tmp)), trusted=trusted)
        raise InvalidInput(f"{uri!r} is not models:/NAME@ALIAS, models:/NAME/N or runs:/RUN/path")

    def download_run_model(self, uri: str, folder: Path) -> Path:
        """The files of ``runs:/RUN/path`` in ``folder`` (checked when loaded, not here)."""
        m = _RUN_URI.match(uri)
        if m is None:
            raise InvalidInput(f"{uri!r} is not runs:/RUN/path")
        self._download_run_folder(m["run"], clean_relative(m["path"]), folder)
        return folder

    def fetch(self, uri: str) -> tuple[Path, dict[str, Any]]:
        """The local (cached, digest-checked) folder of a registered version, and the version."""
        m = _MODEL_URI.match(uri)
        if m is None:
            raise InvalidInput(f"{uri!r} is not models:/NAME@ALIAS or models:/NAME/N")
        name, alias, number = m["name"], m["alias"], m["version"]
        version = self.api.version(name, alias or f"v{number}", files=True)
        if not version.get("package_digest"):
            raise InvalidInput(
                f"{uri} is not a modelyard package (registered from {version['source']})"
            )
        return self._fetch(version["package_digest"], version["files"]), version

    def export(self, uri: str, out: str | Path) -> Path:
        """A self-contained serving bundle of a registered version (see packaging/export.py)."""
        from modelyard.packaging.export import export

        folder, version = self.fetch(uri)
        trusted = version["package_digest"] if version.get("trusted") is True else None
        return export(folder, Path(out), trusted_digest=trusted)

    def _fetch(self, digest: str, files: list[dict[str, Any]]) -> Path:
        """The package ``digest`` in the local cache, downloaded if absent.

        The manifest comes first: it must hash to ``digest`` and pass the packaging checks;
        then exactly the files it names are written, each checked against its digest.
        """
        expected = clean_digest(digest)
        cache = config.home_dir() / "models" / expected
        if (cache / mf.MANIFEST).is_file():
            if mf.read(cache).digest != expected:
                raise DigestMismatch(
                    f"the cached package in {cache} is not sha256:{expected}; delete that folder"
                )
            return cache
        listed = _listed(files)
        if mf.MANIFEST not in listed:
            raise InvalidInput(f"the server sent no {mf.MANIFEST} for package sha256:{expected}")
        cache.parent.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(dir=cache.parent, prefix=".download-"))
        sizes = _sizes(files)
        try:
            blob = listed[mf.MANIFEST]
            self._download(self.api.blob(blob), tmp, mf.MANIFEST, blob, sizes.get(mf.MANIFEST))
            manifest = mf.read(tmp)
            if manifest.digest != expected:
                raise DigestMismatch(f"downloaded manifest is not package sha256:{expected}")
            mf.check(manifest)
            if {p: d for p, d in listed.items() if p != mf.MANIFEST} != manifest.files:
                raise DigestMismatch(
                    f"the server's file list does not match package sha256:{expected}"
                )
            for rel, blob in manifest.files.items():
                self._download(self.api.blob(blob), tmp, rel, blob, sizes.get(rel))
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

    def _download_run_folder(self, run_id: str, path: str, root: Path, sub: str = "") -> None:
        """The files of a run's artifact folder ``path`` under ``root`` (names checked first)."""
        where = f"{path}/{sub}".rstrip("/")
        listing = self.api.run_listing(run_id, where)
        if not isinstance(listing, list):
            raise InvalidInput(f"the server's listing of {where!r} is not a list")
        for entry in listing:
            name = entry.get("path") if isinstance(entry, dict) else None
            if not isinstance(name, str) or "/" in name or clean_relative(name) != name:
                raise PathNotAllowed(
                    f"the server named a file {name!r} in {where!r}: not a plain file name",
                    path=str(name)[:200],
                )
            rel = f"{sub}/{name}".lstrip("/")
            if entry.get("is_dir") is True:
                self._download_run_folder(run_id, path, root, rel)
            else:
                size = entry.get("size")
                self._download(
                    self.api.run_file(run_id, f"{path}/{rel}"),
                    root,
                    rel,
                    size=size if isinstance(size, int) and size >= 0 else None,
                )

    def _download(
        self,
        body: Iterator[bytes],
        root: Path,
        rel: str,
        digest: str | None = None,
        size: int | None = None,
    ) -> None:
        """Write ``body`` to ``rel`` under ``root``: no more than ``size`` bytes, and with
        ``digest``, bytes that match it."""
        target = resolve_under(root, rel)
        target.parent.mkdir(parents=True, exist_ok=True)
        receive(body, target, digest, size)

    def get(
        self, name: str, version: int | None = None, alias: str | None = None
    ) -> dict[str, Any]:
        return self.api.version(name, alias) if alias else self.api.get(name, int(version or 0))

    def set_alias(self, name: str, alias: str, version: int, reason: str = "") -> None:
        self.api.set_alias(name, alias, version, reason)

    def rollback(self, name: str, alias: str, reason: str = "") -> dict[str, Any]:
        return self.api.rollback(name, alias, reason)

    def trust(self, name: str, version: int, reason: str) -> dict[str, Any]:
        return self.api.trust(name, version, reason)

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
        return self.api.propose(name, version, body)

    def decide(self, promotion_id: int, approve: bool, comment: str = "") -> dict[str, Any]:
        return self.api.decide(promotion_id, approve, comment)

    def promotions(self, name: str) -> list[dict[str, Any]]:
        return self.api.promotions(name)

    def models(self) -> list[dict[str, Any]]:
        return self.api.models()

    def history(self, name: str) -> list[dict[str, Any]]:
        return self.api.history(name)


def _sizes(files: list[dict[str, Any]]) -> dict[str, int]:
    """The sizes a server announced for the files of a list ``_listed`` has checked."""
    return {
        f["path"]: f["size"]
        for f in files
        if isinstance(f.get("size"), int) and not isinstance(f["size"], bool) and f["size"] >= 0
    }


def _listed(files: Any) -> dict[str, str]:
    """A server's file list as ``{path: digest}``, every path and digest checked."""
    if not isinstance(files, list):
        raise InvalidInput("the server's file list is not a list")
    out: dict[str, str] = {}
    for f in files:
        path = f.get("path") if isinstance(f, dict) else None
        if not isinstance(path, str) or clean_relative(path) != path:
            raise PathNotAllowed(f"the server named a package file {path!r}", path=str(path)[:200])
        out[path] = clean_digest(f.get("digest"))
    return out
