"""What a run records about its code: commit, branch, dirty flag; the diff only when asked."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import pytest

import modelyard as my

SECRET = "hunter2-not-committed"


@pytest.fixture
def repo(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A real git repo with one commit and an uncommitted secret; the 'script' runs from it."""
    root = tmp_path / "project"
    root.mkdir()

    def git(*args: str) -> None:
        subprocess.run(
            ["git", "-c", "user.name=t", "-c", "user.email=t@example.com", *args],
            cwd=root,
            check=True,
            capture_output=True,
        )

    git("init", "-q", "-b", "feature")
    (root / "train.py").write_text("print('train')\n")
    (root / "settings.py").write_text("PASSWORD = ''\n")
    git("add", ".")
    git("commit", "-q", "-m", "first")
    (root / "settings.py").write_text(f"PASSWORD = {SECRET!r}\n")
    monkeypatch.chdir(root)
    monkeypatch.setattr(sys, "argv", [str(root / "train.py")])
    return root


def _captured(server_url: str, run_id: str, tmp_path: Path) -> tuple[dict[str, str], str | None]:
    """The run's git tags and its diff artifact (None when there is none), once capture ran."""
    with my.Client(server_url) as client:
        deadline = time.monotonic() + 30
        while not client.list_artifacts(run_id, "environment"):  # uploaded after the diff
            assert time.monotonic() < deadline, "code capture did not finish"
            time.sleep(0.1)
        run = client.get_run(run_id)
        names = {a["path"] for a in client.list_artifacts(run_id, "code")}
        diff = None
        if "diff.patch" in names:
            diff = client.download_artifact(run_id, "code/diff.patch", tmp_path / "d").read_text()
    return run.tags, diff


@pytest.mark.parametrize(
    ("env", "arg", "uploaded"),
    [
        (None, None, False),  # the default: no diff
        ("1", None, True),
        (None, True, True),
        ("1", False, False),  # the argument wins over the setting
    ],
)
def test_the_diff_is_uploaded_only_when_asked(
    repo: Path,
    server_url: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    env: str | None,
    arg: bool | None,
    uploaded: bool,
) -> None:
    if env is None:
        monkeypatch.delenv("MODELYARD_CAPTURE_GIT_DIFF", raising=False)
    else:
        monkeypatch.setenv("MODELYARD_CAPTURE_GIT_DIFF", env)
    my.set_tracking_uri(server_url)
    with my.start_run("git", git_diff=arg) as run:
        run.log_metric("m", 1.0)
    tags, diff = _captured(server_url, run.id, tmp_path)
    head = subprocess.run(
        ["git", "rev-parse", "HEAD"], cwd=repo, capture_output=True, text=True, check=True
    ).stdout.strip()
    assert tags["my.git.commit"] == head
    assert tags["my.git.branch"] == "feature"
    assert tags["my.git.dirty"] == "true"
    assert all(SECRET not in value for value in tags.values())
    if uploaded:
        assert diff is not None
        assert SECRET in diff
    else:
        assert diff is None


def test_a_clean_tree_is_not_dirty(repo: Path, server_url: str, tmp_path: Path) -> None:
    subprocess.run(["git", "checkout", "--", "settings.py"], cwd=repo, check=True)
    my.set_tracking_uri(server_url)
    with my.start_run("clean", git_diff=True) as run:
        pass
    tags, diff = _captured(server_url, run.id, tmp_path)
    assert tags["my.git.dirty"] == "false"
    assert diff is None
