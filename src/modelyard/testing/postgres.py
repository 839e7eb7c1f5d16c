"""A throwaway PostgreSQL cluster on 127.0.0.1 for tests (initdb + pg_ctl, as 'postgres' when root)."""

from __future__ import annotations

import glob
import os
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from modelyard.listener import free_port


def find_bin_dir() -> Path | None:
    candidates = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"), reverse=True)
    if candidates:
        return Path(candidates[0]).parent
    found = shutil.which("pg_ctl")
    return Path(found).parent if found else None


def _run(cmd: list[str], as_postgres: bool) -> None:
    if as_postgres:
        cmd = ["runuser", "-u", "postgres", "--", *cmd]
    subprocess.run(cmd, check=True, capture_output=True, timeout=120)


@contextmanager
def postgres_cluster() -> Iterator[str]:
    """Start a cluster, yield its SQLAlchemy URL, stop and remove it afterwards."""
    bin_dir = find_bin_dir()
    if bin_dir is None:
        raise RuntimeError("PostgreSQL is not installed (Debian: apt-get install postgresql)")
    as_postgres = os.geteuid() == 0
    root = Path(tempfile.mkdtemp(prefix="modelyard-pg-"))
    data = root / "data"
    if as_postgres:
        shutil.chown(root, "postgres")
    port = free_port()
    try:
        _run(
            [
                str(bin_dir / "initdb"),
                "-D",
                str(data),
                "-U",
                "modelyard",
                "-A",
                "trust",
                "--no-sync",
                "-E",
                "UTF8",
                "--locale=C",
            ],
            as_postgres,
        )
        _run(
            [
                str(bin_dir / "pg_ctl"),
                "-D",
                str(data),
                "-w",
                "-t",
                "60",
                "-l",
                str(root / "log"),
                "-o",
                f"-p {port} -c listen_addresses=127.0.0.1 -k {root} -c fsync=off",
                "start",
            ],
            as_postgres,
        )
        try:
            yield f"postgresql+psycopg://modelyard@127.0.0.1:{port}/postgres"
        finally:
            _run([str(bin_dir / "pg_ctl"), "-D", str(data), "-m", "immediate", "stop"], as_postgres)
    finally:
        shutil.rmtree(root, ignore_errors=True)


def create_database(admin_url: str, name: str) -> str:
    """A fresh database on the cluster; returns its URL."""
    import psycopg

    dsn = admin_url.replace("postgresql+psycopg://", "postgresql://")
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    return admin_url.rsplit("/", 1)[0] + f"/{name}"
