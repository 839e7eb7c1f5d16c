"""End-to-end UI tests: the built app, served by a live modelyard server, in Debian's chromium.

They skip when the UI is not built or chromium is missing, unless MODELYARD_REQUIRE_UI=1 (the
project's test command sets it, after building the UI). A failing test leaves a screenshot in
test-artifacts/ui/.
"""

from __future__ import annotations

import io
import math
import os
import shutil
import struct
import zlib
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

import httpx
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from rich.console import Console

from modelyard.demo import run_demo
from modelyard.server.app import ServerSettings
from modelyard.testing.server import live_server
from modelyard.tracking.batches import new_run_id
from tests.conftest import close_sdk

SCREENSHOTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "ui"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking"]


def chromium_path() -> str | None:
    return os.environ.get("MODELYARD_CHROMIUM") or shutil.which("chromium")


def _missing() -> str | None:
    if not (resources.files("modelyard.server") / "ui" / "index.html").is_file():
        return "the UI is not built (cd ui && npm ci && npm run build)"
    if chromium_path() is None:
        return "chromium is not installed (apt-get install chromium)"
    try:
        import playwright  # noqa: F401
    except ImportError:
        return "playwright is not installed"
    return None


@contextmanager
def chromium() -> Iterator[Any]:
    """Debian's chromium under Playwright's sync API (a skip, or a failure with
    MODELYARD_REQUIRE_UI=1, when it cannot run). While it runs, this thread's asyncio reports
    Playwright's loop as running: code that needs ``asyncio.run`` uses :func:`tests.aio.run`."""
    reason = _missing()
    if reason:
        if os.environ.get("MODELYARD_REQUIRE_UI") == "1":
            pytest.fail(reason)
        pytest.skip(reason)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        launched = pw.chromium.launch(executable_path=chromium_path(), args=CHROMIUM_ARGS)
        yield launched
        launched.close()


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Any:
    report = yield
    if report.when == "call":
        item.stash.setdefault(_FAILED, False)
        if report.failed:
            item.stash[_FAILED] = True
    return report


_FAILED = pytest.StashKey[bool]()


@pytest.fixture
def page(browser: Any, request: pytest.FixtureRequest) -> Iterator[Any]:
    """A fresh browser page (1400x900); its screenshot is kept when the test fails."""
    context = browser.new_context(viewport={"width": 1400, "height": 900})
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.set_default_timeout(15_000)
    yield page
    if request.node.stash.get(_FAILED, False):
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(SCREENSHOTS / f"{request.node.name}.png"), full_page=True)
    context.close()
    assert not errors, f"uncaught errors in the page: {errors}"


REVIEW_SIZES = ((1440, 900), (1024, 700))


def review_shots(page: Any, name: str, *, full_page: bool = False) -> list[Path]:
    """Screenshots of the page as it is, at 1440x900 and at 1024x700, kept in
    test-artifacts/ui/review/ for people to look at (not compared pixel by pixel). The page's
    viewport is put back afterwards."""
    folder = SCREENSHOTS / "review"
    folder.mkdir(parents=True, exist_ok=True)
    before = page.viewport_size
    paths = []
    for width, height in REVIEW_SIZES:
        page.set_viewport_size({"width": width, "height": height})
        page.wait_for_timeout(150)  # charts follow their container's width
        path = folder / f"{name}-{width}x{height}.png"
        page.screenshot(path=str(path), full_page=full_page)
        paths.append(path)
    if before:
        page.set_viewport_size(before)
    return paths


@dataclass(frozen=True)
class Filled:
    """A live server filled by the test: the demo, plus an experiment of 24 known runs."""

    url: str
    experiment_id: int
    runs: list[dict[str, Any]]  # as created: id, name, params, acc

    def api(self) -> httpx.Client:
        return httpx.Client(base_url=f"{self.url}/api/v1", timeout=30)


def _png() -> bytes:
    """A real 4x4 PNG (red), written without an imaging library."""
    raw = b"".join(b"\x00" + b"\xff\x00\x00" * 4 for _ in range(4))

    def chunk(kind: bytes, data: bytes) -> bytes:
        return (
            struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
        )

    head = struct.pack(">IIBBBBB", 4, 4, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", head)
        + chunk(b"IDAT", zlib.compress(raw))
        + chunk(b"IEND", b"")
    )


def _fill(api: httpx.Client) -> tuple[int, list[dict[str, Any]]]:
    batches, runs = [], []
    for i in range(24):
        rid = new_run_id()
        params = {"lr": ("0.001", "0.01", "0.1")[i % 3], "optimizer": ("adam", "sgd")[i % 2]}
        acc = round(0.5 + i * 0.02, 4)
        batch: dict[str, Any] = {
            "run_id": rid,
            "create": {
                "experiment_name": "ui-e2e",
                "name": f"run-{i:02d}",
                "start_time": 1_700_000_000_000 + i,
            },
            "params": params,
            "metrics": [
                {"key": "acc", "values": [acc * (s + 1) / 50 for s in range(50)]},
                {"key": "loss", "values": [1.0 / (s + 1 + i) for s in range(50)]},
            ],
        }
        if i != 0:  # run-00 stays RUNNING
            batch["update"] = {"status": "FINISHED", "end_time": 1_700_000_060_000 + i}
        batches.append(batch)
        runs.append({"id": rid, "name": f"run-{i:02d}", "params": params, "acc": acc})
    long_id = new_run_id()
    batches.append(
        {
            "run_id": long_id,
            "create": {
                "experiment_name": "ui-e2e",
                "name": "long",
                "start_time": 1_699_000_000_000,
            },
            "metrics": [
                {"key": "wave", "values": [math.sin(s / 50) + (s == 2500) * 5 for s in range(5000)]}
            ],
            "update": {"status": "FINISHED"},
        }
    )
    runs.append({"id": long_id, "name": "long", "params": {}, "acc": None})
    assert api.post("/ingest", json={"batches": batches}).status_code == 200
    first = runs[0]["id"]
    buf = io.BytesIO()
    pq.write_table(pa.table({"feature": [1.5, 2.5, 3.5], "label": ["a", "b", "c"]}), buf)
    files = {
        "plot.png": _png(),
        "data/table.csv": b"x,y\n" + b"".join(b"%d,%d\n" % (i, i * i) for i in range(30)),
        "data/t.parquet": buf.getvalue(),
        "report.html": b"<html><body><h1 id='r'>Report body</h1></body></html>",
        "eval/confusion_matrix.json": b'{"labels": ["cat", "dog"], "matrix": [[8, 2], [1, 9]]}',
        "notes.txt": "caf\u00e9 notes\n".encode(),
    }
    for path, data in files.items():
        assert api.put(f"/runs/{first}/artifacts/{path}", content=data).status_code == 201
    exp = api.get("/experiments/by-name/ui-e2e").json()
    return int(exp["id"]), runs


@pytest.fixture(scope="module")
def filled(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Filled]:
    tmp = tmp_path_factory.mktemp("ui")
    settings = ServerSettings(
        store_uri=f"sqlite:///{tmp / 'store.db'}", artifacts_uri=str(tmp / "artifacts")
    )
    with live_server(settings, supervise=True) as url, pytest.MonkeyPatch.context() as mp:
        mp.setenv("MODELYARD_HOME", str(tmp / "home"))
        mp.setenv("MODELYARD_SYSTEM_METRICS_INTERVAL", "0")
        run_demo(url, Console(file=io.StringIO()))
        close_sdk()
        with httpx.Client(base_url=f"{url}/api/v1", timeout=30) as api:
            experiment_id, runs = _fill(api)
        yield Filled(url, experiment_id, runs)


# JavaScript: the mean colour (0 black .. 255 white) of a uPlot canvas' y-axis labels, to tell
# which theme a chart was drawn in.
AXIS_INK = """canvas => {
  // the mean colour of the y axis' labels: the opaque pixels left of the plotting area
  const ctx = canvas.getContext('2d');
  const w = Math.floor(canvas.width * 0.06);
  const data = ctx.getImageData(0, 0, w, canvas.height).data;
  let sum = 0, n = 0;
  for (let i = 0; i < data.length; i += 4) {
    if (data[i + 3] > 200) { sum += (data[i] + data[i + 1] + data[i + 2]) / 3; n++; }
  }
  return n ? sum / n : null;
}"""
