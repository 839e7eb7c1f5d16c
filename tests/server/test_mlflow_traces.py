"""MLflow 3 traces from the unmodified ``mlflow`` client against a live modelyard server.

``@mlflow.trace`` and ``mlflow.start_span`` record traces; ``mlflow.get_trace`` reads every
span back (through the artifact API), searches filter, order and page, tags and deletes work,
and modelyard's own API shows the same traces. The first test runs the same code against the
real ``mlflow server`` too and compares what the client gets back.
"""

from __future__ import annotations

import io
import logging
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
os.environ.setdefault("DO_NOT_TRACK", "true")
os.environ["MLFLOW_HTTP_REQUEST_MAX_RETRIES"] = "0"  # a 5xx must fail the test, not retry
os.environ["MLFLOW_HTTP_REQUEST_TIMEOUT"] = "30"

mlflow = pytest.importorskip("mlflow")
from mlflow import MlflowClient  # noqa: E402
from mlflow.entities import SpanType  # noqa: E402
from mlflow.exceptions import MlflowException  # noqa: E402

from modelyard.tracking import trace_data  # noqa: E402

pytestmark = pytest.mark.filterwarnings(
    "ignore::FutureWarning", "ignore::DeprecationWarning", "ignore::UserWarning:mlflow.*"
)


@pytest.fixture
def client(server_url: str) -> Iterator[MlflowClient]:
    mlflow.set_tracking_uri(server_url)
    yield MlflowClient(server_url)
    while mlflow.active_run():
        mlflow.end_run()
    mlflow.set_tracking_uri(None)


@pytest.fixture
def own(server_url: str) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=f"{server_url}/api/v1") as http:
        yield http


@pytest.fixture(scope="module")
def mlflow_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The real ``mlflow server`` (SQLite backend) on another port, for comparison."""
    root = tmp_path_factory.mktemp("mlflow-server")
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    command = [
        sys.executable, "-m", "mlflow", "server", "--host", "127.0.0.1", "--port", str(port),
        "--backend-store-uri", f"sqlite:///{root / 'mlflow.db'}",
        "--artifacts-destination", str(root / "artifacts"), "--workers", "1",
    ]  # fmt: skip
    log = (root / "server.log").open("wb")
    proc = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, cwd=root)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"{url}/health", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if proc.poll() is not None:
                pytest.skip("mlflow server did not start: " + (root / "server.log").read_text())
            time.sleep(0.5)
        else:
            pytest.skip("mlflow server did not answer within 120 s")
        yield url
    finally:
        proc.terminate()
        proc.wait(30)
        log.close()


# ---- an instrumented "app"


@mlflow.trace(name="answer", span_type=SpanType.CHAIN, attributes={"app": "qa"})  # type: ignore[untyped-decorator]
def answer(question: str) -> str:
    with mlflow.start_span(name="retrieve", span_type=SpanType.RETRIEVER) as span:
        span.set_inputs({"query": question})
        docs = ["doc-1", "doc-2"]
        span.set_outputs({"documents": docs})
        span.set_attribute("top_k", 2)
    return str(generate(question, docs))


@mlflow.trace(span_type=SpanType.LLM)  # type: ignore[untyped-decorator]
def generate(question: str, docs: list[str]) -> str:
    return f"{question} -> {len(docs)} docs"


@mlflow.trace  # type: ignore[untyped-decorator]
def fails(x: int) -> int:
    raise ValueError(f"bad {x}")


def run_app(server: str, experiment: str) -> tuple[str, str]:
    """(trace id, run id) of one traced call inside a run, logged to ``server``."""
    mlflow.set_tracking_uri(server)
    mlflow.set_experiment(experiment)
    with mlflow.start_run() as run:
        assert answer("why?") == "why? -> 2 docs"
    trace_id = mlflow.get_last_active_trace_id()
    assert trace_id is not None
    mlflow.flush_trace_async_logging()
    return trace_id, run.info.run_id


def shape(trace: Any, run_id: str) -> dict[str, Any]:
    """What a client sees of a trace, without ids, times and server-chosen tags."""
    by_id = {s.span_id: s for s in trace.data.spans}
    spans = []
    for s in trace.data.spans:
        attributes = {
            k: v
            for k, v in s.attributes.items()
            if k not in ("mlflow.traceRequestId", "mlflow.spanInputs", "mlflow.spanOutputs")
        }
        spans.append(
            {
                "name": s.name,
                "parent": by_id[s.parent_id].name if s.parent_id else None,
                "type": s.span_type,
                "inputs": s.inputs,
                "outputs": s.outputs,
                "attributes": attributes,
                "status": s.status.status_code.value,
            }
        )
    info = trace.info
    return {
        "state": info.state.value,
        "source_run": info.trace_metadata.get("mlflow.sourceRun") == run_id,
        "name": info.tags.get("mlflow.traceName"),
        "request_preview": info.request_preview,
        "response_preview": info.response_preview,
        "spans": sorted(spans, key=lambda x: x["name"]),
    }


def test_traces_read_back_as_the_mlflow_server_gives_them(
    client: MlflowClient, server_url: str, mlflow_server: str, own: httpx.Client
) -> None:
    ours_id, ours_run = run_app(server_url, "traces-compare")
    theirs_id, theirs_run = run_app(mlflow_server, "traces-compare")
    theirs = mlflow.get_trace(theirs_id)
    mlflow.set_tracking_uri(server_url)
    ours = mlflow.get_trace(ours_id)
    assert ours is not None
    assert theirs is not None
    assert shape(ours, ours_run) == shape(theirs, theirs_run)
    assert shape(ours, ours_run)["spans"][0] == {
        "name": "answer",
        "parent": None,
        "type": "CHAIN",
        "inputs": {"question": "why?"},
        "outputs": "why? -> 2 docs",
        "attributes": {
            "mlflow.spanType": "CHAIN",
            "app": "qa",
            "mlflow.spanFunctionName": "answer",
            "mlflow.spanLogLevel": 10,
        },
        "status": "OK",
    }
    # timings: the root spans the whole call, each child inside it
    root = next(s for s in ours.data.spans if s.parent_id is None)
    for s in ours.data.spans:
        assert root.start_time_ns <= s.start_time_ns <= s.end_time_ns <= root.end_time_ns
    info = ours.info
    assert info.experiment_id == mlflow.get_experiment_by_name("traces-compare").experiment_id
    assert abs(info.request_time - root.start_time_ns // 1_000_000) <= 1
    assert info.execution_duration == theirs.info.execution_duration or info.execution_duration
    assert info.tags["mlflow.artifactLocation"] == (
        f"mlflow-artifacts:/{info.experiment_id}/traces/{ours_id}/artifacts"
    )
    # found by the run they were made in, on both servers
    for server, run_id, trace_id in (
        (server_url, ours_run, ours_id),
        (mlflow_server, theirs_run, theirs_id),
    ):
        mlflow.set_tracking_uri(server)
        exp_id = mlflow.get_run(run_id).info.experiment_id
        found = mlflow.search_traces(locations=[exp_id], run_id=run_id, return_type="list")
        assert [t.info.trace_id for t in found] == [trace_id]
        assert [len(t.data.spans) for t in found] == [3]
    # modelyard's own API: the same trace and spans
    page = own.get(f"/runs/{ours_run}/traces").json()
    assert [t["trace_id"] for t in page["traces"]] == [ours_id]
    one = own.get(f"/traces/{ours_id}").json()
    assert one["info"]["name"] == "answer"
    assert [s["name"] for s in one["spans"]] == ["answer", "retrieve", "generate"]
    retrieve = one["spans"][1]
    assert retrieve["parent_id"] == one["spans"][0]["span_id"]
    assert (retrieve["inputs"], retrieve["outputs"]) == (
        {"query": "why?"},
        {"documents": ["doc-1", "doc-2"]},
    )
    assert retrieve["attributes"]["top_k"] == 2
    assert retrieve["span_type"] == "RETRIEVER"


def make_traces(client: MlflowClient, experiment: str) -> tuple[str, list[str]]:
    """Five traces (one failing, tagged by parity) in a new experiment; ids oldest first."""
    exp_id = client.create_experiment(experiment)
    mlflow.set_experiment(experiment_id=exp_id)
    ids = []
    for i in range(5):
        with mlflow.start_span(name=f"step-{i}") as span:
            span.set_inputs({"i": i})
            mlflow.update_current_trace(tags={"parity": "even" if i % 2 == 0 else "odd"})
        ids.append(span.trace_id)
        time.sleep(0.005)  # distinct request times
    with pytest.raises(ValueError, match="bad 7"):
        fails(7)  # the user's own error, nothing else
    ids.append(mlflow.get_last_active_trace_id() or "")
    mlflow.flush_trace_async_logging()
    return exp_id, ids


def test_search_filters_orders_and_pages(client: MlflowClient) -> None:
    exp_id, ids = make_traces(client, "traces-search")

    def found(filter_string: str | None = None, **kw: Any) -> list[str]:
        page = client.search_traces(
            locations=[exp_id], filter_string=filter_string, include_spans=False, **kw
        )
        return [t.info.trace_id for t in page]

    assert found() == ids[::-1]  # newest first
    assert found("tags.parity = 'even'") == [ids[4], ids[2], ids[0]]
    assert found("attributes.status = 'ERROR'") == [ids[5]]
    assert found("trace.status = 'OK' AND tags.parity = 'odd'") == [ids[3], ids[1]]
    assert found("name = 'step-3'") == [ids[3]]
    assert found("name LIKE 'step-%'", order_by=["timestamp_ms ASC"]) == ids[:5]
    start = client.get_trace(ids[2]).info.request_time
    assert found(f"timestamp_ms >= {start} AND name != 'fails'") == [ids[4], ids[3], ids[2]]
    assert found("metadata.`mlflow.trace_schema.version` = '3'") == ids[::-1]
    assert found("request_metadata.`mlflow.sourceRun` IS NULL") == ids[::-1]
    assert found(f"trace.request_id = '{ids[1]}'") == [ids[1]]
    assert found("execution_time_ms >= 0", order_by=["name DESC"])[0] == ids[4]
    # pages, as the client walks them
    first = client.search_traces(locations=[exp_id], max_results=2, include_spans=False)
    assert [t.info.trace_id for t in first] == [ids[5], ids[4]]
    assert first.token
    second = client.search_traces(
        locations=[exp_id], max_results=2, page_token=first.token, include_spans=False
    )
    assert [t.info.trace_id for t in second] == [ids[3], ids[2]]
    with pytest.raises(MlflowException, match="INVALID_PARAMETER_VALUE") as bad:
        client.search_traces(locations=[exp_id], filter_string="tags.x = ")
    assert bad.value.error_code == "INVALID_PARAMETER_VALUE"
    # with spans: each trace's read back from the artifact store
    traces = client.search_traces(locations=[exp_id], filter_string="name = 'step-1'")
    assert [s.inputs for s in traces[0].data.spans] == [{"i": 1}]


def test_tags_links_and_deletes(client: MlflowClient, own: httpx.Client) -> None:
    exp_id, ids = make_traces(client, "traces-delete")
    client.set_trace_tag(ids[0], "reviewed", "yes")
    assert client.get_trace(ids[0]).info.tags["reviewed"] == "yes"
    client.delete_trace_tag(ids[0], "reviewed")
    assert "reviewed" not in client.get_trace(ids[0]).info.tags
    with pytest.raises(MlflowException, match="RESOURCE_DOES_NOT_EXIST"):
        client.delete_trace_tag(ids[0], "reviewed")
    with pytest.raises(MlflowException, match="RESOURCE_DOES_NOT_EXIST"):
        client.set_trace_tag("tr-" + "0" * 32, "k", "v")

    # a trace linked to a run later is found by that run
    run = client.create_run(exp_id)
    client.link_traces_to_run([ids[1], ids[2]], run.info.run_id)
    by_run = client.search_traces(locations=[exp_id], run_id=run.info.run_id, include_spans=False)
    assert [t.info.trace_id for t in by_run] == [ids[2], ids[1]]
    listed = own.get(f"/runs/{run.info.run_id}/traces").json()["traces"]
    assert [t["trace_id"] for t in listed] == [ids[2], ids[1]]

    assert client.delete_traces(exp_id, trace_ids=[ids[5], "tr-" + "f" * 32]) == 1
    cutoff = client.get_trace(ids[1]).info.request_time
    assert client.delete_traces(exp_id, max_timestamp_millis=cutoff, max_traces=1) == 1
    assert client.delete_traces(exp_id, max_timestamp_millis=cutoff) == 1
    left = client.search_traces(locations=[exp_id], include_spans=False)
    assert [t.info.trace_id for t in left] == [ids[4], ids[3], ids[2]]
    with pytest.raises(MlflowException, match="RESOURCE_DOES_NOT_EXIST"):
        client.get_trace(ids[0])
    assert own.get(f"/traces/{ids[0]}").status_code == 404
    refused = own.post(  # neither ids nor a time: refused, nothing deleted
        f"{client.tracking_uri}/api/2.0/mlflow/traces/delete-traces",
        json={"experiment_id": exp_id},
    )
    assert (refused.status_code, refused.json()["error_code"]) == (400, "INVALID_PARAMETER_VALUE")
    assert len(client.search_traces(locations=[exp_id], include_spans=False)) == 3


def test_user_code_never_sees_an_error(
    client: MlflowClient, server_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    """Traces logged in and out of runs and spans that fail: no warning from the exporter."""
    mlflow.set_experiment("traces-quiet")
    with caplog.at_level(logging.WARNING, logger="mlflow"):
        with mlflow.start_run():
            for i in range(3):
                assert answer(f"q{i}") == f"q{i} -> 2 docs"
        with mlflow.start_span("outside-a-run") as span:
            span.set_outputs(["x" * 10_000])
        mlflow.flush_trace_async_logging()
    failed = [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING]
    assert failed == []
    trace = mlflow.get_trace(span.trace_id)
    assert trace is not None
    assert trace.data.spans[0].outputs == ["x" * 10_000]


def test_span_data_is_bounded(
    client: MlflowClient, server_url: str, own: httpx.Client, monkeypatch: pytest.MonkeyPatch
) -> None:
    exp_id = client.create_experiment("traces-bounds")
    mlflow.set_experiment(experiment_id=exp_id)
    with mlflow.start_span("big") as span:
        span.set_inputs({"blob": "y" * 200_000})
    mlflow.flush_trace_async_logging()
    one = own.get(f"/traces/{span.trace_id}").json()
    shown = one["spans"][0]["inputs"]
    assert isinstance(shown, str)
    assert len(shown) < trace_data.MAX_VALUE_CHARS + 100
    assert shown.endswith("(truncated: 200,011 characters)")

    where = f"{server_url}/api/2.0/mlflow-artifacts/artifacts/{exp_id}/traces/{span.trace_id}"
    monkeypatch.setattr(trace_data, "MAX_SPAN_DATA_BYTES", 1000)
    too_big = httpx.put(f"{where}/artifacts/traces.json", content=b"{" + b" " * 2000 + b"}")
    assert too_big.status_code == 413
    assert too_big.json()["error_code"] == "INVALID_PARAMETER_VALUE"
    monkeypatch.undo()
    garbage = httpx.put(f"{where}/artifacts/traces.json", content=io.BytesIO(b"not json").read())
    assert garbage.status_code == 200
    one = own.get(f"/traces/{span.trace_id}").json()
    assert (one["spans"], one["problem"]) == ([], "the span data is not JSON")
    with pytest.raises(MlflowException, match="corrupted"):
        client.get_trace(span.trace_id)
    # a trace of another experiment is not reachable through this one's path
    other = client.create_experiment("traces-bounds-2")
    wrong = httpx.get(f"{server_url}/api/2.0/mlflow-artifacts/artifacts/{other}/traces/"
                      f"{span.trace_id}/artifacts/traces.json")  # fmt: skip
    assert wrong.status_code == 404


def test_experiment_listing(client: MlflowClient, own: httpx.Client) -> None:
    exp_id, ids = make_traces(client, "traces-listing")
    page = own.get(f"/experiments/{exp_id}/traces", params={"max_results": 4}).json()
    assert [t["trace_id"] for t in page["traces"]] == ids[::-1][:4]
    rest = own.get(
        f"/experiments/{exp_id}/traces",
        params={"max_results": 4, "page_token": page["next_page_token"]},
    ).json()
    assert [t["trace_id"] for t in rest["traces"]] == ids[::-1][4:]
    assert rest["next_page_token"] is None
    errors = own.get(f"/experiments/{exp_id}/traces", params={"filter": "status = 'ERROR'"}).json()
    assert [(t["name"], t["state"]) for t in errors["traces"]] == [("fails", "ERROR")]
    assert own.get("/experiments/987654/traces").status_code == 404


def test_traces_in_a_path_hold_no_traversal(server_url: str, tmp_path: Path) -> None:
    for bad in ("..", "tr-..%2f..", "a%00b"):
        response = httpx.get(f"{server_url}/api/3.0/mlflow/traces/{bad}")
        assert response.status_code in (400, 404), bad
        assert response.json()["error_code"] in ("INVALID_PARAMETER_VALUE", "ENDPOINT_NOT_FOUND")
