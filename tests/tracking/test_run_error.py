"""A run whose ``with`` block raised records the exception's type and message for its page."""

from __future__ import annotations

from pathlib import Path

import pytest

import modelyard as my
from modelyard.tracking.fluent import ERROR_TAG, MAX_ERROR_BYTES, error_text
from tests.hostile import hostile_server


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


def test_an_error_naming_undecodable_bytes_is_recorded_readably(uri: str) -> None:
    my.set_tracking_uri(uri)
    name = b"data/caf\xe9-\xff.csv".decode("utf-8", "surrogateescape")  # as os.listdir gives it
    with pytest.raises(FileNotFoundError), my.start_run("bytes", experiment="errors") as run:
        raise FileNotFoundError(f"no file {name}")
    stored = my.get_run(run.id)
    assert stored.status.value == "FAILED"
    assert stored.tags[ERROR_TAG] == "FileNotFoundError: no file data/caf\\xe9-\\xff.csv"
    assert error_text(ValueError("lone \ud800 surrogate")) == "ValueError: lone \\ud800 surrogate"


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        (b'{"error_code": "INVALID_PARAMETER_VALUE", "message": "bad \\udcff \\ud800"}', "bad"),
        (
            b'{"error_code": "RESOURCE_DOES_NOT_EXIST", "message": "m", "details": {"k": "\\udcff"}}',
            "m",
        ),
        ("Ung\u00fcltige Anfrage".encode("latin-1"), "Ung"),
        (b"\xff\xfe\x00\x01", ""),
    ],
    ids=["lone-surrogates", "surrogate-details", "latin-1", "binary"],
)
def test_a_server_error_of_any_bytes_reads_as_valid_text(body: bytes, expected: str) -> None:
    from modelyard.errors import ModelyardError
    from modelyard.tracking.http import HttpBackend

    with hostile_server() as server:
        server.bytes("/api/v1/experiments", body, status=400)
        backend = HttpBackend(server.url)
        try:
            with pytest.raises(ModelyardError) as info:
                backend.call("GET", "/experiments")
        finally:
            backend.close()
    error = info.value
    assert error.message.startswith(expected)
    for text in (str(error), *map(str, error.details.values())):
        assert text.encode().decode() == text  # valid UTF-8 throughout: printable, loggable
    assert error_text(error).encode()
