"""Drift of 1,000,000 rows x 50 columns against 100,000: modelyard vs Evidently's DataDriftPreset.

    python benchmarks/drift.py                    # both, one run (Evidently takes ~2 minutes)
    python benchmarks/drift.py --no-peer          # modelyard only
    python benchmarks/drift.py --rows 200000 --reference-rows 20000

The data (seed 0): 40 numeric columns (normal, log-normal, uniform, integers; two with 2 % NaN)
and 10 categorical ones (5 to 30 string categories, one with 1 % nulls). Drift is injected into
DRIFTED only: means and spreads moved, frequencies changed, a new category. Both tables are
written as Parquet once; each tool then runs in its own process (Evidently 0.7.23 in
benchmarks/.evidently-venv, installed on first use), reads the files (timed apart), and is timed
with both tables in memory, its peak RSS sampled every 5 ms above the RSS once the data is
loaded. modelyard gets one untimed call on 1,000 rows first (imports), then three timed ones.
Results go to benchmarks/results/drift.json.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import tracemalloc
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
EVIDENTLY_VENV = HERE / ".evidently-venv"
EVIDENTLY_SPEC = ["evidently==0.7.23", "pandas<3", "psutil"]
NUMERIC, CATEGORICAL = 40, 10
DRIFTED = {"n0", "n5", "n10", "n17", "n22", "n31", "c0", "c4", "c7"}


def make_tables(rows: int, reference_rows: int, folder: Path) -> None:
    """Write reference.parquet and current.parquet (drift only in DRIFTED)."""
    import numpy as np
    import pyarrow as pa
    import pyarrow.parquet as pq

    rng = np.random.default_rng(0)

    def numeric(i: int, n: int, drift: bool) -> Any:
        kind = i % 4
        if kind == 0:
            values = rng.normal(10 * i, 1 + i % 7, n) + (0.5 * (1 + i % 7) if drift else 0)
        elif kind == 1:
            values = rng.lognormal(0, 0.5 + (0.4 if drift else 0), n)
        elif kind == 2:
            values = rng.uniform(0, 100 + (40 if drift else 0), n)
        else:
            return pa.array(rng.integers(0, 1000 - (400 if drift else 0), n))
        if i in (6, 13):  # some missing values on both sides
            values[rng.random(n) < 0.02] = np.nan
        return pa.array(values)

    def categorical(i: int, n: int, drift: bool) -> Any:
        k = 5 + 3 * i
        names = np.array([f"{'abcdefghij'[i]}{j}" for j in range(k)] + ["new"])
        p = 1 / np.arange(1, k + 1)  # Zipf-like
        if drift and i == 7:
            p = np.append(p / p.sum() * 0.8, 0.2)  # a category the reference never had
        else:
            p = np.append(p[::-1] if drift else p, 0.0)
        values = names[rng.choice(k + 1, n, p=p / p.sum())]
        column = pa.array(values)
        if i == 3:
            column = pa.array(
                [None if m else v for v, m in zip(values, rng.random(n) < 0.01, strict=True)]
            )
        return column

    for name, n, shift in (("reference", reference_rows, False), ("current", rows, True)):
        cols: dict[str, Any] = {}
        for i in range(NUMERIC):
            cols[f"n{i}"] = numeric(i, n, shift and f"n{i}" in DRIFTED)
        for i in range(CATEGORICAL):
            cols[f"c{i}"] = categorical(i, n, shift and f"c{i}" in DRIFTED)
        pq.write_table(pa.table(cols), folder / f"{name}.parquet")


class Peak:
    """The process's largest RSS while it runs, sampled every 5 ms."""

    def __init__(self) -> None:
        import psutil

        self.process = psutil.Process()
        self.peak = self.process.memory_info().rss
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)

    def _sample(self) -> None:
        while not self._stop.wait(0.005):
            self.peak = max(self.peak, self.process.memory_info().rss)

    def __enter__(self) -> Peak:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
        self.peak = max(self.peak, self.process.memory_info().rss)


def modelyard_side(folder: Path, runs: int, workers: int | None) -> dict[str, Any]:
    """Read both files, warm up on 1,000 rows, then time ``drift.compare`` on everything."""
    import psutil
    import pyarrow as pa
    import pyarrow.parquet as pq

    from modelyard.monitoring.data_drift import compare

    started = time.perf_counter()
    reference = pq.read_table(folder / "reference.parquet")
    current = pq.read_table(folder / "current.parquet")
    read_s = time.perf_counter() - started
    compare(reference.slice(0, 1000), current.slice(0, 1000), workers=workers)  # imports
    pa.default_memory_pool().release_unused()  # Arrow's pool keeps what reading freed
    gc.collect()
    rss_data = psutil.Process().memory_info().rss
    times, peaks = [], []
    for _ in range(runs):
        with Peak() as peak:
            started = time.perf_counter()
            report = compare(reference, current, workers=workers)
            times.append(time.perf_counter() - started)
        peaks.append(peak.peak)
    tracemalloc.start()  # numpy's buffers and Python's objects, in one more (untimed) run
    compare(reference, current, workers=workers)
    traced = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    return {
        "read_s": read_s,
        "seconds": min(times),
        "seconds_all": times,
        "seconds_median": statistics.median(times),
        "rss_data_mb": rss_data / 2**20,
        "peak_mb": max(peaks) / 2**20,
        "peak_beyond_data_mb": (max(peaks) - rss_data) / 2**20,
        "traced_peak_mb": traced / 2**20,
        "drifted_share": report.drifted_share,
        "columns": {
            c.column: {
                "method": c.method,
                "score": c.score,
                "threshold": c.threshold,
                "drifted": c.drifted,
            }
            for c in report.columns
        },
    }


def ensure_evidently() -> Path:
    """benchmarks/.evidently-venv with Evidently 0.7.23 (pip install once; then as it is)."""
    python = EVIDENTLY_VENV / "bin" / "python"
    if not python.exists():
        print(f"installing {' '.join(EVIDENTLY_SPEC)} into {EVIDENTLY_VENV} ...", flush=True)
        subprocess.run([sys.executable, "-m", "venv", str(EVIDENTLY_VENV)], check=True)
        (EVIDENTLY_VENV / ".gitignore").write_text("*\n")
        subprocess.run([str(python), "-m", "pip", "install", "-q", *EVIDENTLY_SPEC], check=True)
    return python


def run_side(cmd: list[str]) -> dict[str, Any]:
    done = subprocess.run(cmd, capture_output=True, text=True, cwd=HERE)
    if done.returncode != 0:
        raise SystemExit(f"{cmd[:3]} failed:\n{done.stderr[-4000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])  # type: ignore[no-any-return]


def load() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


def disagreements(ours: dict[str, Any], theirs: dict[str, Any]) -> list[str]:
    out = []
    for name, mine in ours["columns"].items():
        other = theirs["columns"].get(name)
        if other is None:
            out.append(f"{name}: Evidently has no result")
            continue
        if mine["drifted"] != other["drifted"] or mine["method"] != other["method"]:
            out.append(
                f"{name}: modelyard {mine['method']} {mine['score']:.4g} -> {mine['drifted']}, "
                f"Evidently {other['method']} {other['score']:.4g} -> {other['drifted']}"
            )
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--reference-rows", type=int, default=100_000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--workers", type=int, default=None)
    parser.add_argument("--no-peer", action="store_true")
    parser.add_argument("--side", choices=["modelyard"], help=argparse.SUPPRESS)
    parser.add_argument("--data", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.side == "modelyard":
        print(json.dumps(modelyard_side(args.data, args.runs, args.workers)))
        return

    with tempfile.TemporaryDirectory(prefix="drift-bench-") as tmp:
        folder = Path(tmp)
        started = time.perf_counter()
        make_tables(args.rows, args.reference_rows, folder)
        print(
            f"data: {args.rows:,} vs {args.reference_rows:,} rows, "
            f"{NUMERIC} numeric + {CATEGORICAL} categorical columns "
            f"({time.perf_counter() - started:.1f} s to make)",
            flush=True,
        )
        results: dict[str, Any] = {"rows": args.rows, "reference_rows": args.reference_rows}
        cmd = [
            sys.executable,
            str(Path(__file__).resolve()),
            "--side",
            "modelyard",
            "--data",
            str(folder),
            "--runs",
            str(args.runs),
        ]
        if args.workers:
            cmd += ["--workers", str(args.workers)]
        results["load_before_modelyard"] = load()
        results["modelyard"] = run_side(cmd)
        if not args.no_peer:
            python = ensure_evidently()
            results["load_before_evidently"] = load()
            results["evidently"] = run_side(
                [str(python), str(HERE / "drift_evidently.py"), str(folder)]
            )
    report(results)
    out = HERE / "results" / "drift.json"
    out.parent.mkdir(exist_ok=True)
    out.write_text(json.dumps(results, indent=2))
    print(f"\nwritten to {out}")


def report(results: dict[str, Any]) -> None:
    sides = [s for s in ("modelyard", "evidently") if s in results]
    print(
        f"\nload average before: modelyard {results['load_before_modelyard']}"
        + (f", Evidently {results['load_before_evidently']}" if "evidently" in results else "")
    )
    print(f"\n{'':34}" + "".join(f"{s:>14}" for s in sides))
    rows = [
        ("read both Parquet files (s)", "read_s", "{:.2f}"),
        ("drift, both tables in memory (s)", "seconds", "{:.2f}"),
        ("peak RSS beyond the data (MB)", "peak_beyond_data_mb", "{:.0f}"),
        ("RSS with the data loaded (MB)", "rss_data_mb", "{:.0f}"),
        ("drifted share", "drifted_share", "{:.2f}"),
    ]
    for label, key, fmt in rows:
        print(f"{label:34}" + "".join(f"{fmt.format(results[s][key]):>14}" for s in sides))
    mine = results["modelyard"]
    print(
        f"modelyard runs (s): {', '.join(f'{t:.2f}' for t in mine['seconds_all'])}; "
        f"allocated at most {mine['traced_peak_mb']:.0f} MB at once (tracemalloc: numpy and Python)"
    )
    flagged = sorted(n for n, c in mine["columns"].items() if c["drifted"])
    print(f"\nmodelyard flags {len(flagged)}: {', '.join(flagged)}")
    print(f"injected        {len(DRIFTED)}: {', '.join(sorted(DRIFTED))}")
    if "evidently" in results:
        theirs = results["evidently"]
        flagged = sorted(n for n, c in theirs["columns"].items() if c["drifted"])
        print(f"Evidently flags {len(flagged)}: {', '.join(flagged)}")
        differ = disagreements(mine, theirs)
        print(
            "disagreements: "
            + ("none (same method and verdict on every column)" if not differ else "")
        )
        for line in differ:
            print(f"  {line}")
        print(f"\n{'column':8}{'method':>15}{'modelyard':>12}{'Evidently':>12}  drift")
        for name, c in mine["columns"].items():
            other = theirs["columns"].get(name, {})
            print(
                f"{name:8}{c['method']:>15}{c['score']:>12.4g}{other.get('score', float('nan')):>12.4g}"
                f"  {'yes' if c['drifted'] else 'no'}/{'yes' if other.get('drifted') else 'no'}"
            )


if __name__ == "__main__":
    main()
