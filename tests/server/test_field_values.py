"""GET /api/v1/experiments/{id}/values: the distinct values the filter box completes."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from modelyard.tracking.batches import new_run_id
from tests.server.access_world import world


@pytest.fixture
def http(server_url: str) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=f"{server_url}/api/v1", timeout=30) as client:
        yield client


def make_runs(http: httpx.Client, experiment: str, rows: list[dict[str, str]]) -> list[str]:
    ids, batches = [], []
    for i, params in enumerate(rows):
        rid = new_run_id()
        ids.append(rid)
        batches.append(
            {
                "run_id": rid,
                "create": {"experiment_name": experiment, "name": f"r{i}"},
                "params": params,
                "tags": {"team": f"t{i % 2}"},
            }
        )
    assert http.post("/ingest", json={"batches": batches}).status_code == 200
    return ids


def values(http: httpx.Client, exp: int, **query: str | int) -> httpx.Response:
    return http.get(f"/experiments/{exp}/values", params=query)


def test_distinct_values_by_prefix_from_active_runs(http: httpx.Client) -> None:
    rows = [{"lr": "0.1"}, {"lr": "0.01"}, {"lr": "0.1"}, {"lr": "1e-3"}, {"lr": "50%_x"}]
    ids = make_runs(http, "values", rows)
    make_runs(http, "other", [{"lr": "0.5"}])  # another experiment's value never shows
    exp = http.get("/experiments/by-name/values").json()["id"]
    answer = values(http, exp, field="params.lr")
    assert answer.status_code == 200, answer.text
    assert answer.json() == {"field": "params.lr", "values": ["0.01", "0.1", "1e-3", "50%_x"]}
    assert values(http, exp, field="params.lr", prefix="0.0").json()["values"] == ["0.01"]
    # LIKE's wildcards in a prefix are plain characters
    assert values(http, exp, field="params.lr", prefix="5_").json()["values"] == []
    assert values(http, exp, field="params.lr", prefix="50%").json()["values"] == ["50%_x"]
    assert values(http, exp, field="params.lr", limit=2).json()["values"] == ["0.01", "0.1"]
    assert values(http, exp, field="tag.team").json()["values"] == ["t0", "t1"]
    assert values(http, exp, field="status").json()["values"] == ["RUNNING"]
    assert values(http, exp, field="name", prefix="r1").json()["values"] == ["r1"]
    # a deleted run's values are not offered
    assert http.delete(f"/runs/{ids[3]}").status_code == 204
    assert "1e-3" not in values(http, exp, field="params.lr").json()["values"]


@pytest.mark.parametrize(
    ("field", "limit"),
    [("metrics.acc", 5), ("start_time", 5), ("params.", 5), ("params.lr", 0), ("params.lr", 999)],
    ids=["metric", "number-attribute", "no-key", "limit-0", "limit-999"],
)
def test_refuses_fields_without_values_and_bad_limits(
    http: httpx.Client, field: str, limit: int
) -> None:
    make_runs(http, "refused", [{"lr": "0.1"}])
    exp = http.get("/experiments/by-name/refused").json()["id"]
    answer = values(http, exp, field=field, limit=limit)
    assert answer.status_code == 400, answer.text
    assert answer.json()["error_code"] == "INVALID_PARAMETER_VALUE"


def test_unknown_experiment_is_not_found(http: httpx.Client) -> None:
    answer = values(http, 987654, field="params.lr")
    assert (answer.status_code, answer.json()["error_code"]) == (404, "RESOURCE_DOES_NOT_EXIST")


def test_needs_viewer_on_the_experiment(tmp_path: Path) -> None:
    with world(tmp_path) as w:
        for who, status in (("outsider", 403), ("viewer", 200), (None, 401)):
            with w.client(who) as client:
                answer = client.get(
                    f"/api/v1/experiments/{w.exp_id}/values", params={"field": "status"}
                )
                assert answer.status_code == status, (who, answer.text)
                if status == 200:
                    run = client.get(f"/api/v1/runs/{w.run_id}").json()
                    assert run["status"] in answer.json()["values"]
