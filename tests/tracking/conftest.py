"""Every SDK test starts with no active run, no cached clients and an empty MODELYARD_HOME."""

from __future__ import annotations

import pytest


@pytest.fixture(autouse=True)
def _fresh(fresh_sdk: None) -> None:
    """Applies the shared ``fresh_sdk`` fixture to every test in this folder."""
