"""A run whose ``with`` block raised records the exception's type and message for its page."""

from __future__ import annotations

from pathlib import Path

import pytest

import modelyard as my
from modelyard.tracking.fluent import ERROR_TAG, MAX_ERROR_BYTES, error_text


class ShapeError(ValueError):
    pass


@pytest.fixture(params=["server", "embedded"])
def uri(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "server":
        return str(request.getfixturevalue("server_url"))
    return f"sqlite:///{tmp_path / 'embedded.db'}"


def test_failed_run_records_its_error_and_a_finished_one_none(uri: str) -> None:
    my.set_tracking_uri(uri)
    with pytest.raises(ShapeError), my.start_run("bad", experiment="errors") as bad:
        raise ShapeError("expected 3 columns, got 4")
    with my.start_run("good", experiment="errors") as good:
        pass
    stored = my.get_run(bad.id)
    assert stored.status.value == "FAILED"
    assert stored.tags[ERROR_TAG] == f"{__name__}.ShapeError: expected 3 columns, got 4"
    assert ERROR_TAG not in my.get_run(good.id).tags


def test_interrupted_run_is_killed_without_an_error(uri: str) -> None:
    my.set_tracking_uri(uri)
    with pytest.raises(KeyboardInterrupt), my.start_run("stopped", experiment="errors") as run:
        raise KeyboardInterrupt
    stored = my.get_run(run.id)
    assert stored.status.value == "KILLED"
    assert ERROR_TAG not in stored.tags


def test_error_text_is_bounded_and_secrets_in_it_are_masked(server_url: str) -> None:
    assert error_text(RuntimeError("boom")) == "RuntimeError: boom"
    assert error_text(KeyError()) == "KeyError"
    long = error_text(RuntimeError("\u00e9" * 5000))
    assert len(long.encode()) <= MAX_ERROR_BYTES
    assert long.startswith("RuntimeError: \u00e9")
    assert long.endswith("\u2026")
    my.set_tracking_uri(server_url)
    secret = "myt_abcdefghijkl_" + "A" * 43
    with pytest.raises(RuntimeError), my.start_run("leaky", experiment="errors") as run:
        raise RuntimeError(f"cannot connect with token {secret}")
    stored = my.get_run(run.id).tags[ERROR_TAG]
    assert stored.startswith("RuntimeError: cannot connect with token myt_")
    assert secret not in stored
