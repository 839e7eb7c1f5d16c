"""The web UI in headless Chromium: 10,000 runs (20 params, 10 metrics each), a chart of
100 runs x 100,000 points, the runs page's chart panel (300 runs x 3 metrics x 5,000 steps) and a
compare of 300 runs x 3 metrics x 5,000 steps, against `modelyard server`; MLflow's UI on the same runs.

    python benchmarks/ui.py                 # both (MLflow in benchmarks/.peer-venv)
    python benchmarks/ui.py --no-peer       # modelyard only
    python benchmarks/ui.py --only compare_300_runs

Needs the built UI (scripts/run or `cd ui && npm run build`) and Debian's chromium.
Results go to benchmarks/results/ui.json (ui-<case>.json with --only).
"""

from __future__ import annotations

import argparse
import json
import math
import os
import random
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent))
from run import ensure_peer, free_port, wait_up

HERE = Path(__file__).resolve().parent
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking"]
# performance.now() when the first row of the runs table is in the page
FIRST_ROW = """
window.__firstRow = null;
new MutationObserver((_, obs) => {
  if (document.querySelector(%s)) { window.__firstRow = performance.now(); obs.disconnect(); }
}).observe(document, {subtree: true, childList: true});
"""
# performance.now() at the next frame (what is in the page has been painted)
NEXT_FRAME = "new Promise(r => requestAnimationFrame(() => r(performance.now())))"
# [duration, bytes] of each /metrics/history request the page made
HISTORY_REQUESTS = (
    "performance.getEntriesByType('resource').filter(e => e.name.includes('/metrics/history'))"
    ".map(e => [e.duration, e.transferSize])"
)


def fill_modelyard(url: str, runs: int, chart_runs: int, chart_points: int) -> list[str]:
    """The runs experiment, then the chart experiment; returns the chart runs' ids."""
    rng = random.Random(7)
    with httpx.Client(base_url=f"{url}/api/v1", timeout=600) as api:
        for start in range(0, runs, 250):
            batches = []
            for i in range(start, min(runs, start + 250)):
                batches.append(
                    {
                        "run_id": f"{i:032x}",
                        "create": {
                            "experiment_name": "ui-bench",
                            "name": f"run-{i:05d}",
                            "start_time": 1_700_000_000_000 + i,
                        },
                        "params": {
                            f"p{j:02d}": str(rng.choice([0.001, 0.01, 0.1, 1, 10]))
                            for j in range(20)
                        },
                        "metrics": [
                            {"key": f"m{k}", "values": [rng.random() for _ in range(10)]}
                            for k in range(10)
                        ],
                        "update": {"status": "FINISHED", "end_time": 1_700_000_100_000 + i},
                    }
                )
            assert api.post("/ingest", json={"batches": batches}).status_code == 200
        ids = []
        for r in range(chart_runs):
            rid = f"c{r:031x}"
            values = [
                math.exp(-s / 20_000) * (1 + 0.1 * math.sin(s / 50 + r)) + 0.01 * rng.random()
                for s in range(chart_points)
            ]
            batch = {
                "run_id": rid,
                "create": {"experiment_name": "ui-chart", "name": f"curve-{r:03d}"},
                "metrics": [{"key": "loss", "values": values}],
                "update": {"status": "FINISHED"},
            }
            assert api.post("/ingest", json={"batches": [batch]}).status_code == 200
            ids.append(rid)
        exp = api.get("/experiments/by-name/ui-bench").json()["id"]
    return [str(exp), *ids]


def scroll(page: Any, selector: str, name: str, frames: int = 400) -> dict[str, float]:
    """Scroll 150 px per animation frame; frame times and frames over 25 ms (dropped)."""
    deltas = page.evaluate(
        """([sel, n]) => new Promise(done => {
      const el = document.querySelector(sel);
      const deltas = []; let last = performance.now(); let i = 0;
      function step(t) { deltas.push(t - last); last = t; el.scrollTop += 150;
        if (++i < n) requestAnimationFrame(step); else done(deltas.slice(1)); }
      requestAnimationFrame(step);
    })""",
        [selector, frames],
    )
    deltas.sort()
    return {
        f"{name}_frames": len(deltas),
        f"{name}_frame_p50_ms": deltas[len(deltas) // 2],
        f"{name}_frame_p95_ms": deltas[int(len(deltas) * 0.95)],
        f"{name}_dropped_frames": sum(1 for d in deltas if d > 25),
    }


def points_drawn(page: Any, metric: str) -> int:
    """The points a drawn chart holds (after the page merged its runs onto one x grid)."""
    return int(
        page.get_attribute(f"[data-testid=chart-{metric}] [data-ready=true]", "data-points") or 0
    )


def measure_modelyard(
    browser: Any, url: str, experiment: str, chart_ids: list[str], runs: int
) -> dict[str, float]:
    out: dict[str, float] = {}
    page = browser.new_page(viewport={"width": 1440, "height": 900})
    page.add_init_script(FIRST_ROW % json.dumps(".tr[data-run]"))
    page.goto(f"{url}/experiments/{experiment}")
    page.wait_for_function("window.__firstRow !== null", timeout=60_000)
    out["table_first_rows_ms"] = page.evaluate("window.__firstRow")
    page.wait_for_function(
        f"document.querySelector('[data-testid=run-count]').textContent.startsWith('{runs:,} runs') && !document.querySelector('[data-testid=run-count]').textContent.includes('loading')",
        timeout=120_000,
    )
    out["table_all_rows_loaded_ms"] = page.evaluate("performance.now()")
    out.update(scroll(page, "[data-testid=runs-scroll]", "scroll"))
    out["jump_to_end_ms"] = page.evaluate("""() => new Promise(done => {
      const el = document.querySelector('[data-testid=runs-scroll]'); const t0 = performance.now();
      el.scrollTop = el.scrollHeight;
      requestAnimationFrame(() => requestAnimationFrame(() => done(performance.now() - t0)));
    })""")
    # the floor of this browser and machine: the same scroll over static HTML rows, no script
    rows = "".join(
        "<div style='height:30px;display:flex'>"
        + "".join(f"<div style='width:110px'>{i}.{j}</div>" for j in range(35))
        + "</div>"
        for i in range(3000)
    )
    page.set_content(f"<div id=s style='height:800px;overflow:auto'>{rows}</div>")
    out.update(scroll(page, "#s", "static_html_scroll"))
    page.close()

    page = browser.new_page(viewport={"width": 1440, "height": 900})
    page.goto(f"{url}/compare?runs={','.join(chart_ids)}&metrics=loss")
    page.wait_for_selector("[data-testid=chart-loss] [data-ready=true]", timeout=120_000)
    out["chart_first_paint_ms"] = page.evaluate(NEXT_FRAME)
    out["chart_points_drawn"] = points_drawn(page, "loss")
    timing = page.evaluate(HISTORY_REQUESTS)
    if timing:
        out["chart_history_request_ms"], out["chart_history_bytes"] = timing[0]
    page.close()
    return out


def chart_panel_case(
    browser: Any, url: str, runs: int = 300, steps: int = 5_000, metrics: int = 3
) -> dict[str, Any]:
    """The runs page's chart panel: `runs` runs x `metrics` metrics x `steps` steps, from
    opening the page to every line chart drawn (target: 1,500 ms for 300 x 3 x 5,000)."""
    rng = random.Random(11)
    keys = [f"metric_{k}" for k in range(metrics)]
    with httpx.Client(base_url=f"{url}/api/v1", timeout=600) as api:
        for start in range(0, runs, 10):
            batches = [
                {
                    "run_id": f"e{r:031x}",
                    "create": {"experiment_name": "ui-panel", "name": f"panel-{r:03d}"},
                    "params": {"lr": str(rng.choice([0.001, 0.01, 0.1]))},
                    "metrics": [
                        {
                            "key": key,
                            "values": [
                                math.exp(-s / (steps / 4)) * (1 + 0.05 * rng.random()) + k
                                for s in range(steps)
                            ],
                        }
                        for k, key in enumerate(keys)
                    ],
                    "update": {"status": "FINISHED"},
                }
                for r in range(start, min(runs, start + 10))
            ]
            assert api.post("/ingest", json={"batches": batches}).status_code == 200
        experiment = api.get("/experiments/by-name/ui-panel").json()["id"]
    page = browser.new_page(viewport={"width": 1440, "height": 900})
    page.goto(f"{url}/experiments/{experiment}?charts=1&live=0&cm={','.join(keys)}")
    ready = " && ".join(
        f"document.querySelector('[data-testid=chart-{k}] [data-ready=true]')" for k in keys
    )
    page.wait_for_function(ready, timeout=120_000)
    out: dict[str, Any] = {
        "panel": f"{runs} runs x {metrics} metrics x {steps:,} steps",
        "panel_first_paint_ms": page.evaluate(
            "new Promise(r => requestAnimationFrame(() => r(performance.now())))"
        ),
        "panel_points_drawn": sum(
            int(
                page.get_attribute(f"[data-testid=chart-{k}] [data-ready=true]", "data-points") or 0
            )
            for k in keys
        ),
    }
    timing = page.evaluate(
        "performance.getEntriesByType('resource').filter(e => e.name.includes('/metrics/history')).map(e => e.transferSize)"
    )
    out["panel_history_bytes"] = sum(timing)
    page.close()
    return out


def compare_300_runs(
    browser: Any, url: str, runs: int = 300, metrics: int = 3, steps: int = 5000
) -> dict[str, float]:
    """The compare page of 300 runs x 3 metrics x 5,000 steps: when its first chart is drawn
    (from navigation start), when all are, and the history requests it made."""
    rng = random.Random(11)
    ids = [f"d{r:031x}" for r in range(runs)]
    with httpx.Client(base_url=f"{url}/api/v1", timeout=600) as api:
        for start in range(0, runs, 10):
            batches = []
            for r in range(start, min(runs, start + 10)):
                curves = [
                    {
                        "key": f"c{k}",
                        "values": [
                            math.exp(-s / (500 + 50 * k)) + 0.02 * rng.random() + 0.001 * r
                            for s in range(steps)
                        ],
                    }
                    for k in range(metrics)
                ]
                batches.append(
                    {
                        "run_id": ids[r],
                        "create": {"experiment_name": "ui-compare", "name": f"cmp-{r:03d}"},
                        "metrics": curves,
                        "update": {"status": "FINISHED"},
                    }
                )
            assert api.post("/ingest", json={"batches": batches}).status_code == 200
    page = browser.new_page(viewport={"width": 1440, "height": 900})
    page.add_init_script(FIRST_ROW % json.dumps("[data-testid^=chart-] [data-ready=true]"))
    keys = ",".join(f"c{k}" for k in range(metrics))
    page.goto(f"{url}/compare?runs={','.join(ids)}&metrics={keys}")
    page.wait_for_function("window.__firstRow !== null", timeout=120_000, polling=10)
    out: dict[str, float] = {"first_chart_ms": page.evaluate("window.__firstRow")}
    page.wait_for_function(
        f"document.querySelectorAll('[data-testid^=chart-] [data-ready=true]').length === {metrics}",
        timeout=120_000,
    )
    out["all_charts_ms"] = page.evaluate(NEXT_FRAME)
    out["points_drawn_per_chart"] = points_drawn(page, "c0")
    requests = page.evaluate(HISTORY_REQUESTS)
    out["history_requests"] = len(requests)
    out["history_request_ms_max"] = max((ms for ms, _ in requests), default=0)
    out["history_bytes"] = sum(size for _, size in requests)
    page.close()
    return out


def measure_mlflow(browser: Any, python: str, tmp: Path, runs: int) -> dict[str, float]:
    store = tmp / "mlflow"
    store.mkdir()
    db = f"sqlite:///{store}/mlflow.db"
    start = time.perf_counter()
    fill = [
        python,
        str(HERE / "mlflow_fill.py"),
        str(store / "mlflow.db"),
        str(store / "artifacts"),
    ]
    exp = subprocess.run(
        [*fill, str(runs)],
        check=True,
        capture_output=True,
        text=True,
    ).stdout.split()[-1]
    fill_s = time.perf_counter() - start
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    mlflow_bin = str(Path(python).parent / "mlflow")
    proc = subprocess.Popen(
        [
            mlflow_bin,
            "server",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--backend-store-uri",
            db,
            "--artifacts-destination",
            str(store / "artifacts"),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    out: dict[str, float] = {"fill_s": fill_s}
    try:
        wait_up(url, "/health", proc)
        page = browser.new_page(viewport={"width": 1440, "height": 900})
        newest = f"run-{runs - 1:05d}"
        page.add_init_script(
            FIRST_ROW.replace(
                "document.querySelector(%s)",
                f"document.body && document.body.innerText.includes({json.dumps(newest)})",
            )
        )
        page.goto(f"{url}/#/experiments/{exp}/runs")
        page.wait_for_function("window.__firstRow !== null", timeout=120_000, polling=50)
        out["table_first_rows_ms"] = page.evaluate("window.__firstRow")
        out["rows_in_page"] = page.evaluate("document.body.innerText.split('run-').length - 1")
        page.close()
    finally:
        proc.terminate()
        proc.wait(timeout=30)
    return out


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--no-peer", action="store_true")
    parser.add_argument("--runs", type=int, default=10_000)
    parser.add_argument("--chart-runs", type=int, default=100)
    parser.add_argument("--chart-points", type=int, default=100_000)
    parser.add_argument("--panel-runs", type=int, default=300)
    parser.add_argument("--panel-steps", type=int, default=5_000)
    parser.add_argument(
        "--only", choices=["compare_300_runs", "chart_panel"], help="run this case alone"
    )
    args = parser.parse_args()
    from playwright.sync_api import sync_playwright

    chromium = os.environ.get("MODELYARD_CHROMIUM") or shutil.which("chromium")
    results: dict[str, Any] = {
        "runs": args.runs,
        "chart": f"{args.chart_runs} runs x {args.chart_points:,} points",
    }
    with tempfile.TemporaryDirectory() as tmp, sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=chromium, args=ARGS)
        port = free_port()
        url = f"http://127.0.0.1:{port}"
        env = {
            **os.environ,
            "MODELYARD_HOME": str(Path(tmp) / "my"),
            "MODELYARD_SYSTEM_METRICS_INTERVAL": "0",
        }
        proc = subprocess.Popen(
            [sys.executable, "-m", "modelyard.cli", "server", "--port", str(port)],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            wait_up(url, "/health", proc)
            if not args.only:
                start = time.perf_counter()
                experiment, *chart_ids = fill_modelyard(
                    url, args.runs, args.chart_runs, args.chart_points
                )
                results["modelyard_fill_s"] = time.perf_counter() - start
                results["modelyard"] = measure_modelyard(
                    browser, url, experiment, chart_ids, args.runs
                )
            if args.only in (None, "chart_panel"):
                results["chart_panel"] = chart_panel_case(
                    browser, url, args.panel_runs, args.panel_steps
                )
            if args.only in (None, "compare_300_runs"):
                results["compare_300_runs"] = compare_300_runs(browser, url)
        finally:
            proc.terminate()
            proc.wait(timeout=30)
        if not args.no_peer and not args.only:
            results["mlflow"] = measure_mlflow(browser, ensure_peer(), Path(tmp), args.runs)
        browser.close()
    (HERE / "results").mkdir(exist_ok=True)
    name = f"ui-{args.only}.json" if args.only else "ui.json"
    (HERE / "results" / name).write_text(json.dumps(results, indent=2))
    print(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
