"""Most fixtures come from modelyard.testing.plugin (registered as a pytest11 entry point)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import modelyard as my
from modelyard.tracking import fluent


def close_sdk() -> None:
    """Close the SDK's clients and forget its runs and tracking URI."""
    for client, batcher in list(fluent._clients.values()):
        batcher.close()
        client.close()
    fluent._clients.clear()
    fluent._stack.clear()
    my.set_tracking_uri(None)


@pytest.fixture
def fresh_sdk(modelyard_home: Path) -> Iterator[None]:
    fluent._stack.clear()
    fluent._clients.clear()
    fluent._experiment = None
    yield
    close_sdk()


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    """One Chromium for the whole session, shared by the UI tests and the single sign-on test
    (two sync Playwright instances cannot run in one thread)."""
    from tests.ui.conftest import chromium

    with chromium() as launched:
        yield launched
