"""What a run records about its code and environment: git state, entry point, Python, packages."""

from __future__ import annotations

import functools
import platform
import subprocess
import sys
from importlib import metadata
from pathlib import Path

from modelyard import config

MAX_DIFF_BYTES = 1 << 20


def _git(*args: str, cwd: Path) -> str | None:
    try:
        out = subprocess.run(
            ["git", *args], cwd=cwd, capture_output=True, timeout=5, check=True, text=True
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return out.stdout


def code_tags(
    entry_point: str | None = None, git_diff: bool | None = None
) -> tuple[dict[str, str], str | None]:
    """Tags for the git commit, branch, dirty flag and entry point; and the diff if asked.

    The diff (``git diff HEAD``: uncommitted changes, which may hold secrets) is returned only
    with ``git_diff=True``, or MODELYARD_CAPTURE_GIT_DIFF when ``git_diff`` is None.
    """
    script = entry_point or (sys.argv[0] if sys.argv and sys.argv[0] else "")
    tags = {"my.entry_point": script or "<interactive>"}
    cwd = Path(script).resolve().parent if script and Path(script).exists() else Path.cwd()
    commit = _git("rev-parse", "HEAD", cwd=cwd)
    if commit is None:
        return tags, None
    tags["my.git.commit"] = commit.strip()
    branch = _git("rev-parse", "--abbrev-ref", "HEAD", cwd=cwd)
    if branch:
        tags["my.git.branch"] = branch.strip()
    changed = _git("status", "--porcelain", "--untracked-files=no", cwd=cwd)
    tags["my.git.dirty"] = "true" if changed and changed.strip() else "false"
    if not (config.CAPTURE_GIT_DIFF.get() if git_diff is None else git_diff):
        return tags, None
    diff = _git("diff", "HEAD", cwd=cwd) or ""
    return tags, (diff[:MAX_DIFF_BYTES] if diff.strip() else None)


@functools.cache
def _environment() -> dict[str, str]:
    return {
        "my.python": platform.python_version(),
        "my.os": f"{platform.system()} {platform.release()} ({platform.machine()})",
    }


def environment_tags() -> dict[str, str]:
    """Python and OS of this process (computed once)."""
    return dict(_environment())


@functools.cache
def requirements() -> str:
    """Installed distributions as pinned requirement lines, sorted (read once per process)."""
    pins = {
        f"{d.metadata['Name']}=={d.version}" for d in metadata.distributions() if d.metadata["Name"]
    }
    return "\n".join(sorted(pins, key=str.lower)) + "\n"
