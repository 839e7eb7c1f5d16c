"""Moving many files to a server fast: hash in parallel, skip what did not change, send only
what the server lacks (small files packed into tar streams, big ones as resumable multipart).

The hash cache (``MODELYARD_HOME/hash-cache.db``) remembers the digest of every file by path,
size, mtime and inode, so hashing a folder again only reads the files that changed.
"""

from __future__ import annotations

import io
import json
import os
import sqlite3
import sys
import tarfile
import threading
from collections.abc import Callable, Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, BinaryIO, cast

from modelyard import config
from modelyard.store.artifacts.blobs import hash_file

if TYPE_CHECKING:
    from modelyard.tracking.http import HttpBackend

PACK_MEMBER_MAX = 4 << 20  # files up to this size travel packed
PACK_BYTES = 64 << 20  # one pack request carries up to this much
PACK_FILES = 20_000
MULTIPART_BYTES = 64 << 20  # files above this go as resumable multipart
PART_BYTES = 32 << 20
WORKERS = max(4, 2 * (os.cpu_count() or 2))


@dataclass(frozen=True, slots=True)
class LocalFile:
    path: Path
    digest: str
    size: int


def walk(root: Path) -> dict[str, Path]:
    """Every file under ``root`` by its relative POSIX path, sorted (os.walk: fast on 100k)."""
    out: dict[str, str] = {}
    base = str(root)
    for dirpath, _dirs, names in os.walk(base):
        rel = os.path.relpath(dirpath, base).replace(os.sep, "/")
        prefix = "" if rel == "." else rel + "/"
        for name in names:
            out[prefix + name] = os.path.join(dirpath, name)
    return {k: Path(out[k]) for k in sorted(out)}


class HashCache:
    """path -> (size, mtime_ns, inode, digest), in a small SQLite file; safe across threads."""

    def __init__(self, path: Path | None = None) -> None:
        self.path = path or config.home_dir() / "hash-cache.db"
        self._lock = threading.Lock()
        self._db = sqlite3.connect(self.path, check_same_thread=False, timeout=30)
        self._db.execute(
            "CREATE TABLE IF NOT EXISTS files (path TEXT PRIMARY KEY, size INTEGER, "
            "mtime INTEGER, inode INTEGER, digest TEXT)"
        )

    def lookup(self, paths: list[Path]) -> dict[Path, tuple[int, int, int, str]]:
        found: dict[Path, tuple[int, int, int, str]] = {}
        with self._lock:
            for i in range(0, len(paths), 500):
                part = [str(p) for p in paths[i : i + 500]]
                marks = ",".join("?" * len(part))
                rows = self._db.execute(
                    f"SELECT path, size, mtime, inode, digest FROM files WHERE path IN ({marks})",
                    part,
                )
                for path, size, mtime, inode, digest in rows:
                    found[Path(path)] = (size, mtime, inode, digest)
        return found

    def store(self, rows: list[tuple[str, int, int, int, str]]) -> None:
        with self._lock, self._db:
            self._db.executemany("INSERT OR REPLACE INTO files VALUES (?, ?, ?, ?, ?)", rows)

    def close(self) -> None:
        self._db.close()


def hash_files(
    paths: list[Path],
    *,
    cache: HashCache | None = None,
    progress: Callable[[int], None] | None = None,
) -> list[LocalFile]:
    """Digest of every file, in the order given; unchanged files are not read again."""
    own = cache is None
    cache = cache or HashCache()
    try:
        absolute = [Path(os.path.abspath(p)) for p in paths]
        known = cache.lookup(absolute)
        out: list[LocalFile | None] = [None] * len(absolute)
        todo: list[tuple[int, Path, os.stat_result]] = []
        for i, path in enumerate(absolute):  # unchanged files: one stat, no read
            st = path.stat()
            hit = known.get(path)
            if hit is not None and hit[:3] == (st.st_size, st.st_mtime_ns, st.st_ino):
                out[i] = LocalFile(path, hit[3], st.st_size)
            else:
                todo.append((i, path, st))

        def one(item: tuple[int, Path, os.stat_result]) -> tuple[int, LocalFile]:
            i, path, _st = item
            blob = hash_file(path)
            return i, LocalFile(path, blob.digest, blob.size)

        fresh: list[tuple[str, int, int, int, str]] = []
        with ThreadPoolExecutor(WORKERS) as pool:
            for n, (i, local) in enumerate(pool.map(one, todo, chunksize=64)):
                out[i] = local
                st = todo[n][2]
                fresh.append((str(local.path), st.st_size, st.st_mtime_ns, st.st_ino, local.digest))
                if progress is not None and n % 256 == 0:
                    progress(len(absolute) - len(todo) + n)
        cache.store(fresh)
        return [f for f in out if f is not None]
    finally:
        if own:
            cache.close()


class Uploader:
    """Sends blobs to a modelyard server; every step is safe to repeat."""

    def __init__(self, backend: HttpBackend, *, show_progress: bool | None = None) -> None:
        self.backend = backend
        self.show_progress = sys.stderr.isatty() if show_progress is None else show_progress

    def upload(self, files: Mapping[str, Path]) -> dict[str, LocalFile]:
        """Make sure the server holds every file's content; returns name -> LocalFile."""
        names = list(files)
        with self._progress(len(names), "hashing") as tick:
            hashed = hash_files([files[n] for n in names], progress=tick)
        by_name = dict(zip(names, hashed, strict=True))
        unique = {f.digest: f for f in hashed}
        missing: list[str] = []
        digests = list(unique)
        for i in range(0, len(digests), 100_000):
            answer = self.backend.call(
                "POST", "/blobs/missing", {"digests": digests[i : i + 100_000]}
            )
            missing.extend(answer["missing"])
        todo = [unique[d] for d in missing]
        total = sum(f.size for f in todo)
        with self._progress(total, "uploading", unit="bytes") as tick:
            sent = 0
            small = [f for f in todo if f.size <= PACK_MEMBER_MAX]
            for pack in _packs(small):
                self.backend.upload(
                    "/blobs/pack",
                    _tar_stream(pack),
                    method="POST",
                    content_type="application/x-tar",
                )
                sent += sum(f.size for f in pack)
                tick(sent)
            with ThreadPoolExecutor(4) as pool:
                for f in pool.map(self._send_one, [f for f in todo if f.size > PACK_MEMBER_MAX]):
                    sent += f.size
                    tick(sent)
        return by_name

    def _send_one(self, local: LocalFile) -> LocalFile:
        if local.size <= MULTIPART_BYTES:
            with local.path.open("rb") as handle:
                self.backend.upload(f"/blobs/{local.digest}", handle)
        else:
            self._multipart(local)
        return local

    def _multipart(self, local: LocalFile) -> None:
        """Parts of PART_BYTES; an upload id saved beside the hash cache lets a rerun resume."""
        state = config.home_dir() / "uploads" / f"{local.digest}.json"
        state.parent.mkdir(parents=True, exist_ok=True)
        upload_id, have = None, {}
        if state.exists():
            upload_id = json.loads(state.read_text())["upload_id"]
            try:
                parts = self.backend.call("GET", f"/uploads/{upload_id}")["parts"]
                have = {p["number"]: p["size"] for p in parts}
            except Exception:
                upload_id = None
        if upload_id is None:
            upload_id = self.backend.call("POST", "/uploads")["upload_id"]
            state.write_text(json.dumps({"upload_id": upload_id}))
        count = (local.size + PART_BYTES - 1) // PART_BYTES
        with local.path.open("rb") as handle:
            for number in range(1, count + 1):
                length = min(PART_BYTES, local.size - (number - 1) * PART_BYTES)
                if have.get(number) == length:
                    continue
                handle.seek((number - 1) * PART_BYTES)
                window = cast(BinaryIO, _Window(handle, length))
                self.backend.upload(f"/uploads/{upload_id}/{number}", window)
        self.backend.call("POST", f"/uploads/{upload_id}/complete", {"digest": local.digest})
        state.unlink(missing_ok=True)

    def _progress(self, total: int, what: str, unit: str = "files") -> Any:
        from contextlib import contextmanager

        @contextmanager
        def bar() -> Iterator[Callable[[int], None]]:
            if not self.show_progress or total == 0:
                yield lambda _done: None
                return
            from rich.progress import Progress

            with Progress(transient=True) as progress:
                task = progress.add_task(f"{what} ({unit})", total=total)
                yield lambda done: progress.update(task, completed=done)

        return bar()


class _Window(io.RawIOBase):
    """``length`` bytes of an open file from its current position."""

    def __init__(self, handle: Any, length: int) -> None:
        self._handle, self._left = handle, length

    def readable(self) -> bool:
        return True

    def read(self, n: int = -1) -> bytes:
        n = self._left if n < 0 else min(n, self._left)
        data: bytes = self._handle.read(n)
        self._left -= len(data)
        return data


def _packs(files: list[LocalFile]) -> Iterator[list[LocalFile]]:
    pack: list[LocalFile] = []
    size = 0
    for f in files:
        if pack and (size + f.size > PACK_BYTES or len(pack) >= PACK_FILES):
            yield pack
            pack, size = [], 0
        pack.append(f)
        size += f.size
    if pack:
        yield pack


def _tar_stream(files: list[LocalFile]) -> io.BytesIO:
    """A plain tar of the files, each named by its digest (at most PACK_BYTES in memory)."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for f in files:
            info = tarfile.TarInfo(f.digest)
            info.size = f.size
            with f.path.open("rb") as handle:
                tar.addfile(info, handle)
    buf.seek(0)
    return buf
