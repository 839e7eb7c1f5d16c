"""A serving process treats the server's answer as input: a malformed policy changes nothing."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
import pytest

from modelyard.serving import predlog
from modelyard.serving.agent import MAX_VERSIONS, DeploymentAgent
from modelyard.serving.predlog import PredictionLog, Record
from modelyard.serving.state import ServingState

GOOD: dict[str, Any] = {
    "model": "m", "traffic": [{"version": 1, "weight": 100}], "shadow": [], "warm": [],
    "sticky_header": None,
}  # fmt: skip


@pytest.mark.parametrize(
    "policy",
    [
        {},
        {**GOOD, "model": ["m"]},
        {**GOOD, "traffic": [{"version": "x", "weight": 1}]},
        {**GOOD, "traffic": [{"version": 1, "weight": float("inf")}]},
        {**GOOD, "traffic": [{"version": 0, "weight": 100}]},
        {**GOOD, "warm": list(range(1, MAX_VERSIONS + 2))},
        {**GOOD, "sticky_header": "X-User\r\nEvil: 1"},
        {**GOOD, "traffic": "all"},
    ],
)
def test_a_malformed_policy_is_refused_and_loads_nothing(policy: dict[str, Any]) -> None:
    agent = DeploymentAgent("d", "http://127.0.0.1:9", "http://127.0.0.1:1")
    state = ServingState("d")
    try:
        with pytest.raises((ValueError, KeyError, TypeError)):
            agent.apply(state, policy)
        assert state.load_state == {}
        assert state.policy == ([], [], None)
    finally:
        agent._client.close()


def test_an_unreachable_server_keeps_the_last_policy() -> None:
    agent = DeploymentAgent("d", "http://127.0.0.1:9", "http://127.0.0.1:1", interval_s=0.05)
    state = ServingState("d")
    state.set_policy([(1, 100.0)], [], None)
    with pytest.raises(httpx.ConnectError):
        agent.beat(state)
    agent.stop()
    assert state.policy == ([(1, 100.0)], [], None)


def test_a_log_that_cannot_be_written_drops_records_not_requests(tmp_path: Path) -> None:
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("a file where the log's folder should be")
    dropped: list[int] = []
    log = PredictionLog(blocker, flush_s=0.05, dropped=dropped.append)
    for i in range(10):
        log.append(Record(f"r{i}", "d", 1, "live", 1_800_000_000_000, 1.0, 200, "{}", f"[{i}]"))
    log.close()
    assert sum(dropped) == 10
    good = PredictionLog(tmp_path / "log", flush_s=60, max_queue=5, dropped=dropped.append)
    for i in range(8):  # past the bounded queue: counted, never blocking
        good.append(Record(f"q{i}", "d", 1, "live", 1_800_000_000_000, 1.0, 200, "{}", f"[{i}]"))
    good.close()
    assert sum(dropped) == 13
    assert predlog.read(tmp_path / "log", "d").num_rows == 5


def test_the_policy_s_logging_drops_and_hashes_columns_before_the_log(tmp_path: Path) -> None:
    import hashlib
    import hmac

    agent = DeploymentAgent("d", "http://127.0.0.1:9", "http://127.0.0.1:1")
    state = ServingState("d", prediction_log=PredictionLog(tmp_path, flush_s=60))
    key = "ab" * 32
    logging = {"exclude": ["email"], "hash": ["user"], "sample": 1.0, "key": key}
    try:
        for bad in [
            {**logging, "key": "not hex"},
            {**logging, "key": ""},  # a hashed column needs a key
            {**logging, "sample": 0},
            {**logging, "exclude": "email"},
            {**logging, "hash": [7]},
        ]:
            with pytest.raises(ValueError, match="logging"):
                agent.apply(state, {**GOOD, "traffic": [], "logging": bad})
        agent.apply(state, {**GOOD, "traffic": [], "logging": logging})
    finally:
        agent._client.close()
    rows = {"columns": ["user", "email", "x"], "data": [["u-1", "a@b.c", 1.5], [None, "d@e.f", 2]]}
    state.predlog.entry("r1", "d", 1, "live", 1.0, 200, lambda: rows, [0, 1])
    state.predlog.entry("r2", "d", 1, "live", 1.0, 200, lambda: {"data": [[1, 2]]}, [0])
    state.predlog.close()
    logged = {r["request_id"]: r for r in predlog.read(tmp_path, "d").to_pylist()}
    mac = hmac.new(bytes.fromhex(key), b'"u-1"', hashlib.sha256).hexdigest()[:32]
    assert logged["r1"]["inputs"] == (
        '{"columns":["user","x"],"data":[["' + mac + '",1.5],[null,2]]}'
    )
    assert logged["r2"]["inputs"] == "null"  # no column names: cannot be told apart
