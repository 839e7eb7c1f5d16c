"""The CLI against a live server and a real store, through typer's CliRunner."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import httpx
import numpy as np
import pytest
from typer.testing import CliRunner

from modelyard.cli.app import app
from modelyard.registry.client import ModelRegistry


@pytest.fixture
def cli(server_url: str) -> tuple[CliRunner, str]:
    return CliRunner(), server_url


def run(cli: tuple[CliRunner, str], *args: str) -> str:
    runner, url = cli
    result = runner.invoke(app, [*args, "-u", url])
    assert result.exit_code == 0, (args, result.output, result.exception)
    return result.output


def log_run(url: str, name: str, lr: str, acc: float, experiment: str = "cli") -> str:
    with httpx.Client(base_url=f"{url}/api/v1") as http:
        r = http.post("/runs", json={"experiment_name": experiment, "name": name})
        rid = str(r.json()["id"])
        body = {"params": {"lr": lr}, "metrics": [{"key": "acc", "values": [acc]}]}
        assert http.post(f"/runs/{rid}/log", json=body).status_code == 200
    return rid


def test_experiments_commands(cli: tuple[CliRunner, str]) -> None:
    out = run(cli, "experiments", "create", "exp-a", "-d", "first")
    assert "created experiment" in out
    eid = out.split("created experiment ")[1].split()[0]
    assert "exp-a" in run(cli, "experiments", "list")
    assert f"deleted experiment {eid} (exp-a)" in run(cli, "experiments", "delete", eid)
    assert "exp-a" not in run(cli, "experiments", "list")
    assert "exp-a" in run(cli, "experiments", "list", "--view", "deleted")
    assert f"restored experiment {eid} (exp-a)" in run(cli, "experiments", "restore", eid)
    assert "exp-a" in run(cli, "experiments", "list")


def test_runs_list_show_compare_and_gc(cli: tuple[CliRunner, str]) -> None:
    url = cli[1]
    good = log_run(url, "good-run", "0.1", 0.9)
    bad = log_run(url, "bad-run", "0.5", 0.2)
    listed = run(cli, "runs", "list", "-f", "metrics.acc > 0.5")
    assert good[:8] in listed
    assert bad[:8] not in listed
    shown = run(cli, "runs", "show", good)
    assert "good-run" in shown
    assert good in shown
    assert "0.1" in shown
    compared = run(cli, "runs", "compare", good, bad)
    assert "param lr" in compared
    assert "0.1" in compared
    assert "0.5" in compared
    assert "metric acc" in compared

    assert f"deleted run {bad}" in run(cli, "runs", "delete", bad)
    dry = run(cli, "gc", "--dry-run")
    assert bad in dry
    assert "1 run(s)" in dry
    assert "(dry run)" in dry
    assert "bad-run" in run(cli, "runs", "show", bad)  # a dry run removes nothing
    assert bad in run(cli, "gc")
    gone = httpx.get(f"{url}/api/v1/runs/{bad}")
    assert (gone.status_code, gone.json()["error_code"]) == (404, "RESOURCE_DOES_NOT_EXIST")
    assert "0 run(s)" in run(cli, "gc")


def test_runs_show_names_a_missing_run(cli: tuple[CliRunner, str]) -> None:
    runner, url = cli
    result = runner.invoke(app, ["runs", "show", "0" * 32, "-u", url])
    assert result.exit_code != 0
    assert "RESOURCE_DOES_NOT_EXIST" in result.output


def test_db_upgrade_creates_the_schema(tmp_path: Path) -> None:
    db = tmp_path / "fresh.db"
    result = CliRunner().invoke(app, ["db", "upgrade", "--store", f"sqlite:///{db}"])
    assert result.exit_code == 0, result.output
    with sqlite3.connect(db) as conn:
        tables = {row[0] for row in conn.execute("SELECT name FROM sqlite_master")}
        (version,) = conn.execute("SELECT version_num FROM alembic_version").fetchone()
    assert {"runs", "experiments", "alembic_version"} <= tables
    assert version
    again = CliRunner().invoke(app, ["db", "upgrade", "--store", f"sqlite:///{db}"])
    assert again.exit_code == 0, again.output


def test_models_export_and_reject(cli: tuple[CliRunner, str], tmp_path: Path) -> None:
    from sklearn.linear_model import LinearRegression

    url = cli[1]
    x = np.arange(12.0).reshape(6, 2)
    with ModelRegistry(url) as reg:
        reg.log(LinearRegression().fit(x, x.sum(axis=1)), "cli-model", input_example=x[:2])
        promotion = reg.propose("cli-model", 1, "Production")
    out = run(cli, "models", "export", "models:/cli-model/1", "--out", str(tmp_path / "bundle"))
    assert "bundle written to" in out
    assert (tmp_path / "bundle" / "serve.py").is_file()
    assert (tmp_path / "bundle" / "model" / "modelyard.json").is_file()
    assert f"promotion {promotion['id']} rejected" in run(
        cli, "models", "reject", str(promotion["id"]), "--comment", "not yet"
    )
    again = CliRunner().invoke(app, ["models", "reject", str(promotion["id"]), "-u", url])
    assert again.exit_code != 0  # a decided promotion is not decided twice
