"""A modelyard server in a process of its own: its peak memory can be read, its disk limited.

``prefix`` runs the server under another command (``unshare`` with a mount made just for it:
the mount lives and dies with the server's own mount namespace). ``fsize`` sets RLIMIT_FSIZE
after the stores are open, so the server's next file writes past it fail with EFBIG.
"""

from __future__ import annotations

import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx

from modelyard.listener import free_port

LAUNCH = textwrap.dedent(
    """
    import resource, signal, sys
    import uvicorn
    from modelyard.server.app import ServerSettings, create_app
    store, artifacts, port, fsize = sys.argv[1:3] + [int(a) for a in sys.argv[3:5]]
    app = create_app(ServerSettings(store_uri=store, artifacts_uri=artifacts))
    if fsize:
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # past the limit: EFBIG, not death
        resource.setrlimit(resource.RLIMIT_FSIZE, (fsize, fsize))
    uvicorn.run(app, host="127.0.0.1", port=port, log_level="warning")
    """
)


@dataclass(frozen=True)
class ServerProcess:
    url: str
    pid: int

    def _status(self, field: str) -> int:
        for line in Path(f"/proc/{self.pid}/status").read_text().splitlines():
            if line.startswith(field + ":"):
                return int(line.split()[1]) * 1024
        raise LookupError(field)

    def rss(self) -> int:
        return self._status("VmRSS")

    def peak_rss(self) -> int:
        """The most memory the process has held since it started (or since reset_peak)."""
        return self._status("VmHWM")

    def reset_peak(self) -> None:
        """Start the peak again from the current size (Linux >= 4.0), where allowed."""
        try:
            Path(f"/proc/{self.pid}/clear_refs").write_text("5")
        except OSError:
            pass  # then the peak since the start, which is no lower

    def sees(self, path: Path) -> Path:
        """``path`` as the server sees it (through its own mounts)."""
        return Path(f"/proc/{self.pid}/root") / path.relative_to("/")


@contextmanager
def server_process(
    tmp_path: Path, *, prefix: Sequence[str] = (), fsize: int = 0
) -> Iterator[ServerProcess]:
    """A server on ``tmp_path/server.db`` and ``tmp_path/artifacts``; stopped on exit."""
    port = free_port()
    log = (tmp_path / "server.log").open("wb")
    args = [
        f"sqlite:///{tmp_path / 'server.db'}",
        str(tmp_path / "artifacts"),
        str(port),
        str(fsize),
    ]
    proc = subprocess.Popen(
        [*prefix, sys.executable, "-c", LAUNCH, *args],
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                if httpx.get(f"{url}/ready", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(
                    f"server did not start: {(tmp_path / 'server.log').read_text()[-2000:]}"
                )
            time.sleep(0.05)
        yield ServerProcess(url, proc.pid)
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        log.close()


def mount_allowed(tmp_path: Path) -> str:
    """Why a private mount cannot be made here ('' when it can): unshare and mount need root
    (CAP_SYS_ADMIN), which a container without privileges does not have."""
    probe = tmp_path / "mount-probe"
    probe.mkdir()
    try:
        done = subprocess.run(
            ["unshare", "--mount", "--propagation", "private", "mount", "-t", "tmpfs",
             "-o", "size=64k", "tmpfs", str(probe)],
            capture_output=True, text=True, timeout=30,
        )  # fmt: skip
    except FileNotFoundError:
        return "no unshare command"
    finally:
        probe.rmdir()
    return "" if done.returncode == 0 else f"no private mounts here: {done.stderr.strip()}"
