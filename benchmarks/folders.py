"""Many small files: hashing and upload of a folder, cold and again after small changes.

    python benchmarks/folders.py [--files 100000] [--peer-files 5000] [--no-peer]

modelyard registers the folder as a dataset version (parallel hashing, only missing content
sent, small files packed). The peer is `mlflow.log_artifacts` of a folder of the same kind of
files against `mlflow server` (one request per file, so it runs on fewer files and is reported
as files per second).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from run import HERE, ensure_peer, free_port, wait_up


def make_folder(root: Path, n: int) -> None:
    for i in range(n):
        folder = root / f"{i % 100:02d}"
        folder.mkdir(parents=True, exist_ok=True)
        (folder / f"{i}.txt").write_text(f"sample {i} " + "x" * 180)


def modelyard_side(root: Path, n: int, home: Path) -> dict[str, float]:
    env = {**os.environ, "MODELYARD_HOME": str(home), "MODELYARD_SYSTEM_METRICS_INTERVAL": "0"}
    os.environ["MODELYARD_HOME"] = str(home)
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    proc = subprocess.Popen(
        [sys.executable, "-m", "modelyard.cli", "server", "--port", str(port)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        wait_up(url, "/health", proc)
        from modelyard.datasets.client import DatasetRegistry

        with DatasetRegistry(url) as reg:
            start = time.perf_counter()
            reg.register("files", root, profile=False)
            cold = time.perf_counter() - start
            start = time.perf_counter()
            same = reg.register("files", root, profile=False)
            unchanged = time.perf_counter() - start
            for i in range(0, n, n // 100):  # 100 files change
                (root / f"{i % 100:02d}" / f"{i}.txt").write_text(f"changed {i}")
            start = time.perf_counter()
            changed = reg.register("files", root, profile=False)
            incremental = time.perf_counter() - start
        assert same["created"] is False
        assert changed["version"] == 2
    finally:
        proc.terminate()
        proc.wait(timeout=30)
    return {
        "files": n,
        "cold_s": cold,
        "cold_files_per_s": n / cold,
        "unchanged_s": unchanged,
        "100_changed_s": incremental,
    }


PEER = """
import sys, time, mlflow
mlflow.set_tracking_uri(sys.argv[1])
with mlflow.start_run():
    t = time.perf_counter()
    mlflow.log_artifacts(sys.argv[2], "files")
    print("SECONDS", time.perf_counter() - t)
"""


def mlflow_side(root: Path, n: int, tmp: Path) -> dict[str, float]:
    python = ensure_peer()
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    store = tmp / "mlflow"
    store.mkdir()
    proc = subprocess.Popen(
        [str(Path(python).parent / "mlflow"), "server", "--host", "127.0.0.1", "--port", str(port),
         "--backend-store-uri", f"sqlite:///{store}/mlflow.db",
         "--artifacts-destination", str(store / "artifacts")],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        wait_up(url, "/health", proc)
        out = subprocess.run(
            [python, "-c", PEER, url, str(root)],
            capture_output=True,
            text=True,
            check=True,
            env={**os.environ, "MLFLOW_DISABLE_TELEMETRY": "true"},
        )
        seconds = float(next(x for x in out.stdout.splitlines() if x.startswith("SECONDS"))[8:])
    finally:
        proc.terminate()
        proc.wait(timeout=30)
    return {"files": n, "cold_s": seconds, "cold_files_per_s": n / seconds}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--files", type=int, default=100_000)
    parser.add_argument("--peer-files", type=int, default=5_000)
    parser.add_argument("--no-peer", action="store_true")
    args = parser.parse_args()
    results: dict[str, dict[str, float]] = {}
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        make_folder(tmp / "data", args.files)
        results["modelyard"] = modelyard_side(tmp / "data", args.files, tmp / "home")
        if not args.no_peer:
            make_folder(tmp / "peer-data", args.peer_files)
            results["mlflow"] = mlflow_side(tmp / "peer-data", args.peer_files, tmp)
    mine = results["modelyard"]
    print(f"\n{args.files:,} small files, modelyard (dataset version from a folder)")
    print(f"  cold: {mine['cold_s']:.1f} s ({mine['cold_files_per_s']:,.0f} files/s)")
    print(f"  again, unchanged: {mine['unchanged_s']:.2f} s")
    print(f"  again, 100 files changed: {mine['100_changed_s']:.2f} s")
    if "mlflow" in results:
        peer = results["mlflow"]
        ratio = mine["cold_files_per_s"] / peer["cold_files_per_s"]
        print(
            f"mlflow log_artifacts, {args.peer_files:,} files: {peer['cold_s']:.1f} s "
            f"({peer['cold_files_per_s']:,.0f} files/s); modelyard is {ratio:,.1f}x faster per file"
        )
    out = HERE / "results"
    out.mkdir(exist_ok=True)
    (out / "folders.json").write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
