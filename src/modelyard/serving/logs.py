"""The serving processes' own log files (what `modelyard deploy logs` shows)."""

from __future__ import annotations

from pathlib import Path

from modelyard import config
from modelyard.serving.predlog import folder_name

MAX_LINES = 10_000
_TAIL_BYTES = 1 << 20  # the last MiB holds far more than MAX_LINES lines of a normal log


def log_file(deployment: str, folder: Path | None = None) -> Path:
    """Where the supervisor appends a deployment's serving processes' output."""
    return (folder or config.deployment_logs_dir()) / f"{folder_name(deployment)}.log"


def tail(deployment: str, lines: int = 200, folder: Path | None = None) -> list[str]:
    """The last ``lines`` lines (at most MAX_LINES, from at most the last MiB); [] if none."""
    path = log_file(deployment, folder)
    try:
        with path.open("rb") as f:
            size = f.seek(0, 2)
            f.seek(max(0, size - _TAIL_BYTES))
            data = f.read()
    except FileNotFoundError:
        return []
    text = data.decode("utf-8", errors="replace").splitlines()
    if len(data) == _TAIL_BYTES and text:
        text = text[1:]  # the first line was cut
    return text[-max(0, min(lines, MAX_LINES)) :] if lines > 0 else []
