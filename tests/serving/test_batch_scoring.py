"""`modelyard predict`: a file scored chunk by chunk, checked like a request, written whole."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest
from typer.testing import CliRunner

from modelyard.cli.app import app
from modelyard.errors import InvalidInput
from modelyard.registry.client import ModelRegistry
from modelyard.serving.batch import score_file
from modelyard.serving.loading import load_uri

from .conftest import FEATURES, ModelStore


def customers(n: int) -> pd.DataFrame:
    rng = np.random.default_rng(1)
    frame = pd.DataFrame(rng.normal(size=(n, len(FEATURES))), columns=FEATURES)
    return frame.assign(id=np.arange(n))


def test_a_parquet_file_is_scored_in_chunks(model_store: ModelStore, tmp_path: Path) -> None:
    frame = customers(2_345)
    source = tmp_path / "customers.parquet"
    frame.to_parquet(source, row_group_size=500)
    seen: list[tuple[int, int]] = []
    predictor = load_uri("models:/churn@champion", model_store.uri)
    rows = score_file(
        predictor, source, tmp_path / "scores.parquet", keep=["id"], chunk_rows=400,
        progress=lambda done, total: seen.append((done, total)),
    )  # fmt: skip
    assert rows == 2_345
    out = pq.read_table(tmp_path / "scores.parquet").to_pandas()
    assert out.columns.tolist() == ["id", "prediction"]
    assert out["id"].tolist() == list(range(2_345))
    with ModelRegistry(model_store.uri) as registry:
        model = registry.load("models:/churn@champion")
    assert out["prediction"].tolist() == model.predict(frame[FEATURES]).tolist()
    assert len(seen) > 5  # chunk by chunk, with progress
    assert seen[-1] == (2_345, 2_345)


def test_the_cli_scores_a_csv_into_a_csv(model_store: ModelStore, tmp_path: Path) -> None:
    frame = customers(300)
    frame.to_csv(tmp_path / "in.csv", index=False)
    result = CliRunner().invoke(
        app,
        ["predict", "models:/churn/1", "-i", str(tmp_path / "in.csv"), "-o",
         str(tmp_path / "out.csv"), "--keep", "id", "-u", model_store.uri],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "scored 300 rows" in result.output
    out = pd.read_csv(tmp_path / "out.csv")
    assert out["id"].tolist() == list(range(300))
    assert set(out["prediction"]) <= {0, 1}


def test_a_bad_file_leaves_no_output(model_store: ModelStore, tmp_path: Path) -> None:
    frame = customers(100).drop(columns=["f3"])
    frame.to_parquet(tmp_path / "in.parquet")
    predictor = load_uri("models:/churn/1", model_store.uri)
    with pytest.raises(InvalidInput, match="missing column 'f3'"):
        score_file(predictor, tmp_path / "in.parquet", tmp_path / "out.parquet")
    with pytest.raises(InvalidInput, match="--keep"):
        score_file(predictor, tmp_path / "in.parquet", tmp_path / "out.parquet", keep=["nope"])
    with pytest.raises(InvalidInput, match=r"\.parquet or \.csv"):
        score_file(predictor, tmp_path / "in.parquet", tmp_path / "out.json")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in.parquet"]
    result = CliRunner().invoke(
        app,
        ["predict", "models:/churn/1", "-i", str(tmp_path / "in.parquet"), "-o",
         str(tmp_path / "out.parquet"), "-u", model_store.uri],
    )  # fmt: skip
    assert result.exit_code == 1
    assert "missing column 'f3'" in result.output
