"""`modelyard deploy` against a live server: create, split, promote, roll back, history."""

from __future__ import annotations

import httpx
from typer.testing import CliRunner

from modelyard.cli.app import app
from tests.serving.test_deployments_api import make_model


def test_deploy_commands(server_url: str) -> None:
    runner = CliRunner()

    def run(*args: str, code: int = 0) -> str:
        result = runner.invoke(app, ["deploy", *args, "-u", server_url])
        assert result.exit_code == code, (args, result.output, result.exception)
        return result.output

    with httpx.Client(base_url=server_url) as api:
        make_model(api, "churn", 5)
    out = run("create", "churn-api", "--model", "models:/churn@champion", "--strategy", "canary")
    assert "deployment churn-api: churn v1, following @champion" in out
    assert "v1=100%" in run("list")

    out = run("set-traffic", "churn-api", "3=90", "4=10", "--shadow", "5",
              "--sticky-header", "X-User-Id", "--reason", "ab-test")  # fmt: skip
    assert "churn-api: v3=90%, v4=10%; shadow v5" in out
    shown = run("show", "churn-api")
    assert "sticky header: X-User-Id" in shown
    assert "shadow: v5" in shown

    assert "rolling out v4 canary, loading" in run(
        "promote", "churn-api", "4", "--reason", "retrained"
    )
    assert "churn-api: v3=90%, v4=10%" in run("rollback", "churn-api", "--reason", "not today")

    history = run("history", "churn-api")
    for text in ("create", "set-traffic", "ab-test", "promote", "rollback"):
        assert text in history

    bad = run("set-traffic", "churn-api", "3=50", code=1)
    assert "INVALID_PARAMETER_VALUE" in bad
    assert "sum to 100" in bad
    assert "is not VERSION=WEIGHT" in run("set-traffic", "churn-api", "3:100", code=1)
    assert "RESOURCE_DOES_NOT_EXIST" in run("promote", "churn-api", "9", code=1)

    assert "deleted deployment churn-api" in run("delete", "churn-api", "--reason", "done")
    assert "churn-api" not in run("list")
    assert "done" in run("history", "churn-api")
