"""BentoML side of benchmarks/serving.py: the same fitted model behind an adaptively batched API.

Runs in benchmarks/.bentoml-venv (``bentoml serve serving_bentoml:Bench``), never imported by the
harness. Requests are ``{"rows": [[20 floats], ...]}``; concurrent ones are merged along rows.
"""

from __future__ import annotations

import os

import bentoml  # type: ignore[import-not-found]
import joblib
import numpy as np
import pandas as pd


@bentoml.service
class Bench:
    """One worker (BentoML's default), as every server in the benchmark runs one process."""

    def __init__(self) -> None:
        self.model = joblib.load(os.environ["BENCH_MODEL"])
        self.columns = list(self.model.feature_names_in_)

    # 1,600 rows: every 100-row request of 16 clients fits one batch; the wait is BentoML's default
    @bentoml.api(batchable=True, batch_dim=0, max_batch_size=1600, max_latency_ms=60000)  # type: ignore[untyped-decorator]
    def predict(self, rows: np.ndarray) -> np.ndarray:
        return self.model.predict(pd.DataFrame(rows, columns=self.columns))  # type: ignore[no-any-return]
