"""Models for the serving tests, importable by the serving subprocess (PYTHONPATH: the repo)."""

from __future__ import annotations

import time
from typing import Any

import numpy as np


class Flaky:
    """Sums each row; a row holding 666 makes it raise, one holding 777 makes it slow (0.3 s)."""

    def __init__(self, offset: float = 0.0) -> None:
        self.offset = offset

    def predict(self, x: Any) -> Any:
        arr = np.asarray(x, dtype="float64")
        if (arr == 666).any():
            raise ValueError("666 is not a number this model takes")
        if (arr == 777).any():
            time.sleep(0.3)
        return arr.sum(axis=1) + self.offset


class Total:
    """Answers one number for the whole batch (not row by row): never batched."""

    def predict(self, x: Any) -> Any:
        return np.asarray([float(np.asarray(x, dtype="float64").sum())])


class Broken:
    """Answers its warm-up (all zeros) and raises on anything else: a regression that loads."""

    def predict(self, x: Any) -> Any:
        arr = np.asarray(x, dtype="float64")
        if arr.any():
            raise RuntimeError("this version is broken")
        return arr.sum(axis=1)
