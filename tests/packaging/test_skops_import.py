"""skops is imported without torch (seconds and ~300 MiB a scikit-learn model never uses)."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

pytest.importorskip("torch")


def test_a_scikit_learn_model_loads_without_importing_torch(tmp_path: Path) -> None:
    script = textwrap.dedent(
        f"""
        import sys
        import numpy as np
        from sklearn.linear_model import LogisticRegression
        from modelyard.packaging import package

        x = np.arange(20.0).reshape(10, 2)
        package.save(LogisticRegression().fit(x, [0, 1] * 5), __import__("pathlib").Path({str(tmp_path / "m")!r}))
        assert "torch" not in sys.modules, "saving imported torch"
        package.load(__import__("pathlib").Path({str(tmp_path / "m")!r}))
        assert "torch" not in sys.modules, "loading imported torch"
        import torch  # still there for whoever needs it, after skops
        print("ok", torch.__version__)
        """
    )
    out = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=300, check=False
    )
    assert out.returncode == 0, out.stderr
    assert out.stdout.startswith("ok")
