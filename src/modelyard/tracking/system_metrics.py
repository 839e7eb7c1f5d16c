"""Background sampling of CPU, memory, disk and network I/O, and GPUs when nvidia-ml-py is there."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

MB = 1024 * 1024


def _gpu_reader() -> Callable[[], dict[str, float]] | None:
    try:
        import pynvml

        pynvml.nvmlInit()
        count = pynvml.nvmlDeviceGetCount()
    except Exception:  # not installed, no driver, no GPU
        return None
    handles = [pynvml.nvmlDeviceGetHandleByIndex(i) for i in range(count)]

    def read() -> dict[str, float]:
        out: dict[str, float] = {}
        for i, handle in enumerate(handles):
            util = pynvml.nvmlDeviceGetUtilizationRates(handle)
            mem = pynvml.nvmlDeviceGetMemoryInfo(handle)
            out[f"system/gpu{i}_utilization_percent"] = float(util.gpu)
            out[f"system/gpu{i}_memory_percent"] = 100.0 * mem.used / max(mem.total, 1)
        return out

    return read


class SystemMetricsSampler:
    """Calls ``log(metrics, step)`` every ``interval`` seconds until stopped."""

    def __init__(self, log: Callable[[dict[str, float], int], None], interval: float) -> None:
        self.log = log
        self.interval = interval
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="modelyard-sysmetrics", daemon=True)

    def start(self) -> SystemMetricsSampler:
        self._thread.start()
        return self

    def sample(self, psutil: Any, last: dict[str, float]) -> dict[str, float]:
        mem = psutil.virtual_memory()
        disk = psutil.disk_io_counters()
        net = psutil.net_io_counters()
        now = {
            "disk_read": disk.read_bytes / MB if disk else 0.0,
            "disk_write": disk.write_bytes / MB if disk else 0.0,
            "net_sent": net.bytes_sent / MB if net else 0.0,
            "net_recv": net.bytes_recv / MB if net else 0.0,
        }
        values = {
            "system/cpu_percent": psutil.cpu_percent(interval=None),
            "system/memory_percent": float(mem.percent),
            "system/memory_used_mb": (mem.total - mem.available) / MB,
            "system/disk_read_mb": now["disk_read"] - last.get("disk_read", now["disk_read"]),
            "system/disk_write_mb": now["disk_write"] - last.get("disk_write", now["disk_write"]),
            "system/network_sent_mb": now["net_sent"] - last.get("net_sent", now["net_sent"]),
            "system/network_received_mb": now["net_recv"] - last.get("net_recv", now["net_recv"]),
        }
        last.update(now)
        return values

    def _loop(self) -> None:
        import psutil

        gpus = _gpu_reader()
        last: dict[str, float] = {}
        psutil.cpu_percent(interval=None)
        step = 0
        while not self._stop.wait(self.interval if step else min(self.interval, 1.0)):
            values = self.sample(psutil, last)
            if gpus is not None:
                values.update(gpus())
            self.log(values, step)
            step += 1

    def stop(self) -> None:
        self._stop.set()
