"""The datasets SDK: register a file, folder or table as a version (server or embedded store).

Tables (pandas, polars, Arrow) are stored as one Parquet file. The schema and the profile are
computed here, where the data is; only content the server lacks is uploaded.
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any, Self

from modelyard.datasets import profile as prof
from modelyard.datasets.backends import DatasetsApi, datasets_api
from modelyard.errors import InvalidInput
from modelyard.tracking.client import resolve_uri
from modelyard.tracking.transfer import walk

MAX_PROFILE_BYTES = 2 << 30  # folders of tables larger than this are not profiled


class DatasetRegistry:
    """The datasets of a server (http://) or of an embedded store (called in process)."""

    def __init__(self, uri: str | None = None) -> None:
        self.uri = resolve_uri(uri)
        self.api: DatasetsApi = datasets_api(self.uri)

    def close(self) -> None:
        self.api.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def register(
        self,
        name: str,
        data: Any,
        *,
        description: str = "",
        tags: dict[str, str] | None = None,
        profile: bool = True,
    ) -> dict[str, Any]:
        """Register ``data`` (a path, a DataFrame or an Arrow table) as a version of ``name``.

        The same content registered again returns the version that already holds it.
        """
        with tempfile.TemporaryDirectory(prefix="modelyard-dataset-") as tmp:
            files, table, source = _collect(data, Path(tmp), profile)
            body: dict[str, Any] = {
                "source": source,
                "description": description,
                "tags": tags or {},
            }
            if table is not None:
                body.update(
                    num_rows=table.num_rows, schema=prof.schema(table), profile=prof.profile(table)
                )
            body["files"] = self.api.put_files(files)
        return self.api.register(name, body)

    def get(
        self, name: str, version: int | str = "latest", *, files: bool = False
    ) -> dict[str, Any]:
        return self.api.get(name, version, files=files)

    def download(self, name: str, version: int | str, dest: str | Path) -> Path:
        """Write a version's files under ``dest`` (their digests are checked)."""
        from modelyard.store.artifacts.blobs import clean_digest, receive
        from modelyard.store.artifacts.paths import resolve_under

        found = self.get(name, version, files=True)
        root = Path(dest)
        root.mkdir(parents=True, exist_ok=True)
        for f in found["files"]:
            target = resolve_under(root, f["path"])
            digest = clean_digest(f["digest"])  # a server's answer, checked like an upload
            size = f.get("size")
            target.parent.mkdir(parents=True, exist_ok=True)
            receive(self.api.blob(digest), target, digest, size if isinstance(size, int) else None)
        return root

    def log_use(
        self, run_id: str, name: str, version: int, direction: str = "input", context: str = ""
    ) -> dict[str, Any]:
        body = {"name": name, "version": version, "direction": direction, "context": context}
        return self.api.log_use(run_id, body)


def _collect(data: Any, tmp: Path, profile: bool) -> tuple[dict[str, Path], Any, str]:
    """(files to upload, the table to profile or None, a description of the source)."""
    if isinstance(data, str | Path):
        path = Path(data).expanduser()
        if path.is_file():
            table = prof.to_table(path) if profile and path.suffix.lower() in prof.TABULAR else None
            return {path.name: path}, table, str(path.resolve())
        if path.is_dir():
            files = walk(path)
            if not files:
                raise InvalidInput(f"folder {path} holds no files")
            return files, _folder_table(files, profile), str(path.resolve())
        raise InvalidInput(f"{path} does not exist")
    import pyarrow.parquet as pq

    table = prof.to_table(data)
    target = tmp / "data.parquet"
    pq.write_table(table, target)
    return {"data.parquet": target}, table if profile else None, type(data).__module__.split(".")[0]


def _folder_table(files: dict[str, Path], profile: bool) -> Any:
    """One table over a folder of Parquet files (a partitioned dataset), when it is one."""
    paths = list(files.values())
    if not profile or not all(p.suffix.lower() == ".parquet" for p in paths):
        return None
    if sum(p.stat().st_size for p in paths) > MAX_PROFILE_BYTES:
        return None
    import pyarrow.dataset as ds

    return ds.dataset([str(p) for p in paths], format="parquet").to_table()
