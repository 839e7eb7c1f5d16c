"""`import modelyard` stays cheap and the public API is a short, pinned list."""

from __future__ import annotations

import subprocess
import sys

import modelyard


def test_import_is_light() -> None:
    code = (
        "import sys, modelyard; "
        "heavy = [m for m in ('numpy', 'sqlalchemy', 'fastapi', 'httpx', 'pandas', 'sklearn') "
        "if m in sys.modules]; print(','.join(heavy))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""


def test_public_api_is_pinned() -> None:
    assert modelyard.__all__ == [
        "ActiveRun",
        "Client",
        "__version__",
        "active_run",
        "create_experiment",
        "datasets",
        "deployments",
        "end_run",
        "flush",
        "get_run",
        "get_tracking_uri",
        "log_artifact",
        "log_artifacts",
        "log_image",
        "log_metric",
        "log_metrics",
        "log_param",
        "log_params",
        "models",
        "monitoring",
        "search_runs",
        "set_experiment",
        "set_tag",
        "set_tags",
        "set_tracking_uri",
        "start_run",
    ]
    for name in modelyard.__all__:
        assert getattr(modelyard, name) is not None
