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


def test_threads_loading_at_once_wait_for_the_whole_import(tmp_path: Path) -> None:
    """Two versions loading on two threads (a serving process warming both) while skops is
    first imported: neither sees a half-imported module."""
    save = textwrap.dedent(
        f"""
        import pathlib, numpy as np
        from sklearn.linear_model import LogisticRegression
        from modelyard.packaging import package
        x = np.arange(20.0).reshape(10, 2)
        for i in range(4):
            package.save(LogisticRegression().fit(x, [0, 1] * 5), pathlib.Path({str(tmp_path)!r}) / f"m{{i}}")
        """
    )
    load = textwrap.dedent(
        f"""
        import pathlib, threading
        from modelyard.packaging import package
        errors = []
        def run(i):
            try:
                package.load(pathlib.Path({str(tmp_path)!r}) / f"m{{i}}")
            except Exception as exc:
                errors.append(repr(exc))
        threads = [threading.Thread(target=run, args=(i,)) for i in range(4)]
        for t in threads: t.start()
        for t in threads: t.join()
        assert not errors, errors
        print("ok")
        """
    )
    for code in (save, load):  # the load runs in a fresh process: skops not imported yet
        out = subprocess.run(
            [sys.executable, "-c", code], capture_output=True, text=True, timeout=300, check=False
        )
        assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "ok"
