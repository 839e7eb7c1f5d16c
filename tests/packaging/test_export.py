"""An exported bundle serves its model from a fresh virtualenv, without modelyard installed."""

from __future__ import annotations

import ast
import http.client
import json
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from http.server import ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pytest

from modelyard.errors import InvalidInput, MalformedRequest, NotTrusted
from modelyard.listener import free_port
from modelyard.packaging import bundle_server, package
from modelyard.packaging.export import bundle_server as bundle_source
from modelyard.packaging.export import export
from modelyard.registry.client import ModelRegistry


class Tripler:
    def predict(self, x: object) -> object:
        return np.asarray(x) * 3


@pytest.mark.slow
def test_bundle_runs_in_a_fresh_virtualenv(
    server_url: str, modelyard_home: Path, tmp_path: Path
) -> None:
    from sklearn.linear_model import LogisticRegression

    rng = np.random.default_rng(0)
    x = rng.normal(size=(100, 3))
    model = LogisticRegression().fit(x, (x[:, 0] > 0).astype(int))
    with ModelRegistry(server_url) as reg:
        reg.log(model, "exported", input_example=x[:2], aliases=["champion"])
        bundle = reg.export("models:/exported@champion", tmp_path / "bundle")
        reg.log(Tripler(), "unsafe")
        with pytest.raises(NotTrusted, match="runs code when loaded"):
            reg.export("models:/unsafe/1", tmp_path / "refused")
        reg.trust("unsafe", 1, reason="reviewed")
        trusted = reg.export("models:/unsafe/1", tmp_path / "trusted-bundle")
    assert (trusted / "trusted").is_file()
    assert {p.name for p in bundle.iterdir()} >= {
        "model", "_modelyard", "serve.py", "requirements.txt", "Dockerfile",
    }  # fmt: skip
    requirements = (bundle / "requirements.txt").read_text().split()
    assert any(r.startswith("scikit-learn==") for r in requirements)
    assert not any(r.startswith("modelyard") for r in requirements)

    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    python = venv / "bin" / "python"
    subprocess.run(
        [str(python), "-m", "pip", "install", "-q", "--disable-pip-version-check", "-r",
         str(bundle / "requirements.txt")],
        check=True,
        timeout=600,
    )  # fmt: skip
    probe = subprocess.run(
        [str(python), "-c", "import importlib.util as u; print(u.find_spec('modelyard'))"],
        capture_output=True, text=True, check=True,
    )  # fmt: skip
    assert probe.stdout.strip() == "None"
    port = free_port()
    log = (tmp_path / "serve.log").open("w")
    proc = subprocess.Popen(
        [str(python), "-m", "serve", "--port", str(port)], cwd=bundle, stdout=log, stderr=log
    )
    try:
        url = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 60
        while True:
            try:
                health = httpx.get(f"{url}/health")
                break
            except httpx.TransportError:
                assert proc.poll() is None, (tmp_path / "serve.log").read_text()
                assert time.monotonic() < deadline
                time.sleep(0.2)
        assert health.json()["status"] == "ok"
        answer = httpx.post(f"{url}/invocations", json={"inputs": x[:5].tolist()})
        assert answer.json()["predictions"] == model.predict(x[:5]).tolist()
        bad = httpx.post(f"{url}/invocations", content=json.dumps({"nope": 1}))
        assert (bad.status_code, bad.json()["error_code"]) == (400, "MALFORMED_REQUEST")
    finally:
        proc.terminate()
        proc.wait(timeout=10)
        log.close()


def _imported(source: str) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.add(node.module)
    return names


def test_serve_py_is_the_bundle_server_on_the_vendored_loader(tmp_path: Path) -> None:
    from sklearn.linear_model import LinearRegression

    x = np.arange(12.0).reshape(6, 2)
    package.save(LinearRegression().fit(x, x.sum(axis=1)), tmp_path / "m")
    bundle = export(tmp_path / "m", tmp_path / "bundle")
    served = (bundle / "serve.py").read_text()
    assert served == bundle_source()
    module = Path(bundle_server.__file__).read_text()
    assert served == module.replace("from modelyard.", "from _modelyard.")
    assert not (bundle / "_modelyard" / "packaging" / "bundle_server.py").exists()
    stdlib = set(sys.stdlib_module_names)
    foreign = {n for n in _imported(served) if n.split(".")[0] not in stdlib}
    assert foreign == {
        "_modelyard.errors", "_modelyard.serving.predictor", "_modelyard.serving.requests",
    }  # fmt: skip
    for name in ("errors.py", "packaging/manifest.py", "packaging/package.py"):
        assert (bundle / "_modelyard" / name).is_file()
    for name in ("requests.py", "inputs.py", "predictor.py"):  # modelyard serve's own code
        source = (Path(bundle_server.__file__).parent.parent / "serving" / name).read_text()
        copy = (bundle / "_modelyard" / "serving" / name).read_text()
        assert copy == source.replace("from modelyard.", "from _modelyard.")
        assert "from modelyard" not in copy


def test_answer_reads_mlflow_shapes_and_names_a_refusal(tmp_path: Path) -> None:
    from sklearn.linear_model import LinearRegression

    x = np.arange(12.0).reshape(6, 2)
    package.save(LinearRegression().fit(x, x.sum(axis=1)), tmp_path / "m", input_example=x[:2])
    predictor = bundle_server.load(export(tmp_path / "m", tmp_path / "bundle"))
    for shape in ("inputs", "instances"):
        got = bundle_server.answer(predictor, b'{"%s": [[1, 2]]}' % shape.encode())
        assert got["predictions"] == pytest.approx([3.0])
    with pytest.raises(MalformedRequest, match="not JSON"):
        bundle_server.answer(predictor, b"{nope")
    with pytest.raises(MalformedRequest, match="send"):
        bundle_server.answer(predictor, b'{"nope": 1}')
    with pytest.raises(InvalidInput, match="'data' list"):
        bundle_server.answer(predictor, b'{"dataframe_split": {"data": 3}}')
    with pytest.raises(InvalidInput, match="shape") as caught:
        bundle_server.answer(predictor, b'{"inputs": [[1, 2, 3]]}')
    assert caught.value.details["field"] == "inputs"


@pytest.fixture
def served(tmp_path: Path) -> Iterator[tuple[str, Any]]:
    """The bundle server's handler over a real model, on a port of 127.0.0.1, in a thread."""
    from sklearn.linear_model import LinearRegression

    x = np.arange(12.0).reshape(6, 2)
    model = LinearRegression().fit(x, x.sum(axis=1))
    saved = package.save(model, tmp_path / "m")
    bundle = export(tmp_path / "m", tmp_path / "bundle")
    loaded = bundle_server.load(bundle)
    assert loaded.digest == saved.digest
    server = ThreadingHTTPServer(("127.0.0.1", 0), bundle_server.make_handler(loaded))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", model
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


def test_bundle_server_answers_over_http(served: tuple[str, Any]) -> None:
    url, model = served
    health = httpx.get(f"{url}/health").json()
    assert health["status"] == "ok"
    rows = [[1.0, 2.0], [3.0, 5.0]]
    answer = httpx.post(f"{url}/invocations", json={"inputs": rows})
    assert answer.json() == {"predictions": model.predict(np.asarray(rows)).tolist()}
    for method, path, body, status, code in [
        ("POST", "/invocations", b'{"nope": 1}', 400, "MALFORMED_REQUEST"),
        ("POST", "/invocations", b"{nope", 400, "MALFORMED_REQUEST"),
        ("POST", "/invocations", b'{"inputs": [[1.0]]}', 400, "INVALID_PARAMETER_VALUE"),
        ("POST", "/elsewhere", b"{}", 404, "RESOURCE_DOES_NOT_EXIST"),
        ("GET", "/elsewhere", None, 404, "RESOURCE_DOES_NOT_EXIST"),
    ]:
        r = httpx.request(method, f"{url}{path}", content=body)
        assert (r.status_code, r.json()["error_code"]) == (status, code), (path, body)
    # a declared length over the cap is refused before any of the body is read
    conn = http.client.HTTPConnection(url.removeprefix("http://"), timeout=30)
    conn.putrequest("POST", "/invocations")
    conn.putheader("Content-Length", str(bundle_server.MAX_BODY + 1))
    conn.endheaders()
    big = conn.getresponse()
    assert (big.status, json.loads(big.read())["error_code"]) == (413, "PAYLOAD_TOO_LARGE")
    conn.close()
