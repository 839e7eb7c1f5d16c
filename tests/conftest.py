"""Most fixtures come from modelyard.testing.plugin (registered as a pytest11 entry point)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

import modelyard as my
from modelyard.tracking import fluent


@pytest.fixture
def fresh_sdk(modelyard_home: Path) -> Iterator[None]:
    fluent._stack.clear()
    fluent._clients.clear()
    fluent._experiment = None
    yield
    for client, batcher in list(fluent._clients.values()):
        batcher.close()
        client.close()
    fluent._clients.clear()
    fluent._stack.clear()
    my.set_tracking_uri(None)
