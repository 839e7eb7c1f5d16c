"""``my.monitoring``: a short public list, cheap to import, and never shadowed by the domain's
own modules (a submodule named like an SDK function would replace it once imported)."""

from __future__ import annotations

import importlib
import pkgutil
import subprocess
import sys

import modelyard as my
import modelyard.monitoring as monitoring


def test_the_public_list_is_pinned() -> None:
    assert sorted(monitoring.__all__) == [
        "Alerts", "alert_firings", "alert_rules", "create_alert", "drift", "health",
        "log_labels", "log_predictions", "overview", "quality", "report",
    ]  # fmt: skip
    assert my.monitoring is monitoring


def test_importing_every_module_of_the_domain_shadows_no_sdk_function() -> None:
    names = [m.name for m in pkgutil.iter_modules(monitoring.__path__)]
    assert not set(names) & set(monitoring.__all__)
    for name in names:
        importlib.import_module(f"modelyard.monitoring.{name}")
    for name in monitoring.__all__:
        assert callable(getattr(monitoring, name)), name
        assert not isinstance(getattr(monitoring, name), type(monitoring)), name


def test_importing_the_sdk_loads_nothing_heavy() -> None:
    code = (
        "import sys, modelyard as my; my.monitoring.quality; "
        "print(sorted(m for m in ('duckdb', 'pyarrow', 'numpy', 'scipy', 'httpx') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
