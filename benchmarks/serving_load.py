"""Load for benchmarks/serving.py: wrk runs (with the client's CPU share), a Python client, raw predict."""

from __future__ import annotations

import json
import os
import shutil
import signal
import statistics
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import psutil

WRK_INSTALL = "apt-get install -y wrk  (Debian's package; run apt-get update first)"

# wrk runs this in each of its threads: POST the body file, then print one JSON line of totals.
LUA = """\
local f = assert(io.open(%s, "rb"))
wrk.method = "POST"
wrk.body = f:read("*a")
f:close()
wrk.headers["Content-Type"] = "application/json"

done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    'WRK_JSON {"requests": %%d, "duration_us": %%d, "p50_us": %%d, "p99_us": %%d, '
    .. '"status_errors": %%d, "socket_errors": %%d}\\n',
    summary.requests, summary.duration, latency:percentile(50), latency:percentile(99),
    e.status, e.connect + e.read + e.write + e.timeout))
end
"""


@dataclass
class Load:
    """What one load run measured."""

    requests: int
    seconds: float
    p50_ms: float
    p99_ms: float
    errors: int
    client_cpu_share: float = 0.0  # of the whole machine (all cores)

    @property
    def rate(self) -> float:
        return self.requests / self.seconds if self.seconds else 0.0


def wrk_path() -> str:
    found = shutil.which("wrk")
    if found is None:
        raise SystemExit(f"wrk is not installed: {WRK_INSTALL}")
    return found


def write_lua(body_file: Path) -> Path:
    script = body_file.with_suffix(".lua")
    script.write_text(LUA % json.dumps(str(body_file)))
    return script


def _cpu_seconds(pid: int) -> float:
    """utime + stime of a process from /proc/<pid>/stat (it may be a zombie not yet reaped)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    ticks = int(fields[11]) + int(fields[12])  # fields 14 and 15 of proc(5), after pid and comm
    return ticks / os.sysconf("SC_CLK_TCK")


@dataclass
class WrkRun:
    """wrk running in the background (``start_wrk``), until its duration ends or ``finish``."""

    proc: subprocess.Popen[str]
    started: float

    def finish(self, interrupt: bool = False) -> Load:
        """Its totals; ``interrupt`` ends it now (on SIGINT wrk stops and reports what it did)."""
        if interrupt and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)
        os.waitid(os.P_PID, self.proc.pid, os.WEXITED | os.WNOWAIT)  # exited, still in /proc
        wall = time.perf_counter() - self.started
        cpu = _cpu_seconds(self.proc.pid)
        out, err = self.proc.communicate()
        line = next((x for x in out.splitlines() if x.startswith("WRK_JSON ")), None)
        if self.proc.returncode != 0 or line is None:
            raise RuntimeError(f"wrk failed ({self.proc.returncode}): {err.strip() or out.strip()}")
        got: dict[str, int] = json.loads(line.removeprefix("WRK_JSON "))
        return Load(
            requests=got["requests"],
            seconds=got["duration_us"] / 1e6,
            p50_ms=got["p50_us"] / 1000,
            p99_ms=got["p99_us"] / 1000,
            errors=got["status_errors"] + got["socket_errors"],
            client_cpu_share=cpu / wall / (os.cpu_count() or 1),
        )


def start_wrk(url: str, script: Path, threads: int, clients: int, seconds: float) -> WrkRun:
    """``wrk -tT -cC -dS --latency`` in the background."""
    cmd = [
        wrk_path(),
        f"-t{threads}",
        f"-c{clients}",
        f"-d{seconds:g}s",
        "--timeout",
        "30s",
        "--latency",
        "-s",
        str(script),
        url,
    ]
    started = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    return WrkRun(proc, started)


def run_wrk(url: str, script: Path, threads: int, clients: int, seconds: float) -> Load:
    """A whole wrk run; the client's CPU is read before its exit status is collected."""
    return start_wrk(url, script, threads, clients, seconds).finish()


def run_httpx(url: str, body: bytes, seconds: float) -> Load:
    """One Python client on one kept-alive connection, one request at a time."""
    times: list[float] = []
    errors = 0
    headers = {"content-type": "application/json"}
    with httpx.Client(timeout=30) as client:
        cpu, begin = time.process_time(), time.perf_counter()
        while (now := time.perf_counter()) - begin < seconds:
            answer = client.post(url, content=body, headers=headers)
            times.append(time.perf_counter() - now)
            errors += answer.status_code != 200
        elapsed = time.perf_counter() - begin
        cpu = time.process_time() - cpu
    ordered = sorted(times)
    return Load(
        requests=len(times),
        seconds=elapsed,
        p50_ms=statistics.median(ordered) * 1000,
        p99_ms=ordered[int(len(ordered) * 0.99)] * 1000,
        errors=errors,
        client_cpu_share=cpu / elapsed / (os.cpu_count() or 1),
    )


def calls_per_second(call: Callable[[], object], rounds: int = 10, seconds: float = 0.3) -> float:
    """Best of ``rounds`` short rounds of calling ``call`` (the least disturbed by other load)."""
    best = 0.0
    for _ in range(rounds):
        n = 0
        begin = time.perf_counter()
        while time.perf_counter() - begin < seconds:
            for _ in range(10):
                call()
            n += 10
        best = max(best, n / (time.perf_counter() - begin))
    return best


def raw_predict(model: Any, one_row_body: bytes, many_rows_body: bytes) -> dict[str, float]:
    """The model's predict in this process on what a server hands it: a DataFrame of the JSON rows."""
    import pandas as pd

    one = json.loads(one_row_body)["dataframe_split"]
    many = json.loads(many_rows_body)["dataframe_split"]
    one_df = pd.DataFrame(one["data"], columns=one["columns"])
    many_df = pd.DataFrame(many["data"], columns=many["columns"])
    rows = len(many["data"])
    return {
        "raw_1row_build_calls_s": calls_per_second(
            lambda: model.predict(pd.DataFrame(one["data"], columns=one["columns"]))
        ),
        "raw_1row_prebuilt_calls_s": calls_per_second(lambda: model.predict(one_df)),
        "raw_100rows_build_rows_s": rows
        * calls_per_second(
            lambda: model.predict(pd.DataFrame(many["data"], columns=many["columns"]))
        ),
        "raw_100rows_prebuilt_rows_s": rows * calls_per_second(lambda: model.predict(many_df)),
    }


def tree_rss_mib(pid: int) -> float:
    """Resident memory of a process and all its descendants."""
    root = psutil.Process(pid)
    total = 0
    for p in [root, *root.children(recursive=True)]:
        try:
            total += p.memory_info().rss
        except psutil.Error:
            pass
    return total / 2**20


def tree_cpu_seconds(pid: int) -> float:
    """User + system CPU of a process and its live descendants so far."""
    root = psutil.Process(pid)
    total = 0.0
    for p in [root, *root.children(recursive=True)]:
        try:
            t = p.cpu_times()
            total += t.user + t.system
        except psutil.Error:
            pass
    return total
