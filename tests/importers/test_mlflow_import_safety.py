"""`modelyard import mlflow` reads artifacts only through the source server's own artifact API.

The source is a real `mlflow server` whose experiments place artifacts where a hostile or
misconfigured server would: local files of the importing machine, and other hosts. Another
real HTTP server plays the other host and records every request it gets.
"""

from __future__ import annotations

import http.server
import os
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import orjson
import pytest

from modelyard.errors import PathNotAllowed
from modelyard.importers.artifact_sources import ArtifactSources
from modelyard.importers.mlflow import MlflowImporter
from modelyard.registry.service import RegistryService
from modelyard.store.stores import open_stores
from modelyard.tracking.batches import parse_batch
from modelyard.tracking.service import TrackingService
from tests.importers.mlflow_source import ENV, running_mlflow_server

mlflow = pytest.importorskip("mlflow")
pytestmark = [
    pytest.mark.slow,
    pytest.mark.filterwarnings(
        "ignore::FutureWarning", "ignore::DeprecationWarning", "ignore::UserWarning:mlflow.*"
    ),
]
SECRET = b"aws_secret_access_key = not-for-the-store"
Handler = Callable[[http.server.BaseHTTPRequestHandler], None]


@dataclass
class Recorder:
    """A real HTTP server on 127.0.0.1 that logs every request and answers with ``answer``."""

    url: str = ""
    requests: list[str] = field(default_factory=list)


@contextmanager
def http_server(answer: Handler) -> Iterator[Recorder]:
    record = Recorder()

    class Handle(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            record.requests.append(self.path)
            answer(self)

        do_PUT = do_POST = do_GET

        def log_message(self, format: str, *args: object) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handle)
    record.url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield record
    finally:
        server.shutdown()
        server.server_close()


def _reply(
    handler: http.server.BaseHTTPRequestHandler, status: int, body: bytes, **headers: str
) -> None:
    handler.send_response(status)
    for name, value in headers.items():
        handler.send_header(name.replace("_", "-"), value)
    handler.send_header("content-length", str(len(body)))
    handler.end_headers()
    handler.wfile.write(body)


def _artifact_store(handler: http.server.BaseHTTPRequestHandler) -> None:
    """What an artifact host would answer: one file in every listing, its bytes on GET."""
    if "?" in handler.path or handler.path.rstrip("/").endswith("artifacts"):
        listing = {"files": [{"path": "stolen.txt", "is_dir": False, "file_size": 3}]}
        _reply(handler, 200, orjson.dumps(listing), content_type="application/json")
    else:
        _reply(handler, 200, b"bad", content_type="application/octet-stream")


@dataclass
class Source:
    url: str
    secret_root: Path
    elsewhere: Recorder
    runs: dict[str, str]  # name -> run id


@pytest.fixture(scope="module")
def source(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Source]:
    """A real mlflow server with runs whose artifacts are local files, another host, or its own.

    The server is told to allow host-addressed artifact locations, as a hostile or careless one
    would; the importing side must not follow them.
    """
    from mlflow import MlflowClient

    root = tmp_path_factory.mktemp("mlflow-hostile")
    secret_root = tmp_path_factory.mktemp("home") / ".aws"
    schemes = "http,https,mlflow-artifacts"
    with (
        http_server(_artifact_store) as elsewhere,
        running_mlflow_server(root, MLFLOW_ALLOWED_HOST_ADDRESSED_ARTIFACT_SCHEMES=schemes) as url,
    ):
        client = MlflowClient(url)
        runs: dict[str, str] = {}

        def run_in(name: str, location: str | None) -> str:
            exp = client.create_experiment(name, artifact_location=location)
            run = client.create_run(exp, run_name=name)
            client.log_metric(run.info.run_id, "loss", 0.5)
            client.set_terminated(run.info.run_id)
            runs[name] = run.info.run_id
            return exp

        run_in("local-files", f"file://{secret_root}")
        secret = secret_root / runs["local-files"] / "artifacts" / "credentials"
        secret.parent.mkdir(parents=True)
        secret.write_bytes(SECRET)
        other = run_in("other-host", f"{elsewhere.url}/store")
        client.create_logged_model(other, name="model-elsewhere")
        run_in("other-host-proxy", f"mlflow-artifacts://{elsewhere.url[7:]}/store")
        run_in("own", None)
        client.log_text(runs["own"], "kept", "notes/readme.txt")
        yield Source(url, secret_root, elsewhere, runs)


def _import(source: str, tmp_path: Path, *extra: str) -> subprocess.CompletedProcess[str]:
    cmd = [
        sys.executable, "-m", "modelyard.cli", "import", "mlflow", "--from", source,
        "--store", f"sqlite:///{tmp_path / 'my.db'}", "--artifacts", str(tmp_path / "artifacts"),
        *extra,
    ]  # fmt: skip
    env = {**os.environ, **ENV, "COLUMNS": "500"}
    return subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=300)


def _stored_bytes(folder: Path) -> bytes:
    return b"".join(p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file())


def test_artifacts_outside_the_source_server_are_refused(source: Source, tmp_path: Path) -> None:
    done = _import(source.url, tmp_path)
    assert done.returncode == 0, done.stderr
    # the other host was never contacted, through any run or model
    assert source.elsewhere.requests == []
    # the local secret was not copied; each refusal is named
    assert SECRET not in _stored_bytes(tmp_path / "artifacts")
    refused = [line for line in done.stderr.splitlines() if line.startswith("refused:")]
    for name in ("local-files", "other-host", "other-host-proxy"):
        assert any(source.runs[name] in line for line in refused), (name, done.stderr)
    assert any("model-elsewhere" in line or "logged model" in line for line in refused)
    assert any("--allow-artifacts-root" in line for line in refused)

    stores = open_stores(f"sqlite:///{tmp_path / 'my.db'}", str(tmp_path / "artifacts"))
    tracking = TrackingService(stores.db, stores.artifacts)
    try:
        for run_id in source.runs.values():  # the runs themselves are imported
            assert tracking.get_run(run_id).metrics["loss"].last == 0.5
        assert tracking.run_artifacts(source.runs["local-files"]).list() == []
        assert tracking.run_artifacts(source.runs["other-host"]).list() == []
        with tracking.run_artifacts(source.runs["own"]).open("notes/readme.txt") as handle:
            assert handle.read() == b"kept"  # the source server's own artifacts are copied
    finally:
        tracking.close()

    # a folder the user names is read: the refused run is copied by the next import
    again = _import(source.url, tmp_path, "--allow-artifacts-root", str(source.secret_root))
    assert again.returncode == 0, again.stderr
    assert source.elsewhere.requests == []
    stores = open_stores(f"sqlite:///{tmp_path / 'my.db'}", str(tmp_path / "artifacts"))
    tracking = TrackingService(stores.db, stores.artifacts)
    try:
        area = tracking.run_artifacts(source.runs["local-files"])
        with area.open("credentials") as handle:
            assert handle.read() == SECRET
    finally:
        tracking.close()


# why each refused location is refused
REFUSALS = {
    "mlflow-artifacts:/1/%2e%2e/%2e%2e/etc": r"must not contain '\.\.'",
    "mlflow-artifacts:/1/../../etc": r"must not contain '\.\.'",
    "mlflow-artifacts://evil.example:5000/1/abc": r"another server \(evil.example:5000\)",
    "mlflow-artifacts://127.0.0.1:5001/1/abc": r"another server \(127.0.0.1:5001\)",
    "http://127.0.0.1:5001/api/2.0/mlflow-artifacts/artifacts/1/abc": "on another host",
    "https://127.0.0.1:5000/api/2.0/mlflow-artifacts/artifacts/1/abc": "on another host",
    "http://127.0.0.1:5000/somewhere/else": "not the source server's artifact API",
    "http://169.254.169.254/latest/meta-data": r"another host \(169.254.169.254\)",
    "file:///etc": "outside the allowed roots",
    "file://otherhost/share": r"another machine \(otherhost\)",
    "/etc/ssh": "outside the allowed roots",
    "s3://bucket/1/abc/artifacts": "s3: locations are not read",
    "gs://bucket/x": "gs: locations are not read",
}


@pytest.mark.parametrize(
    ("uri", "root"),
    [
        ("mlflow-artifacts:/1/abc/artifacts", "1/abc/artifacts"),
        ("mlflow-artifacts://127.0.0.1:5000/1/abc/artifacts", "1/abc/artifacts"),
        ("http://127.0.0.1:5000/api/2.0/mlflow-artifacts/artifacts/1/abc", "1/abc"),
        ("mlflow-artifacts:/1/%2e%2e/%2e%2e/etc", None),
        ("mlflow-artifacts:/1/../../etc", None),
        ("mlflow-artifacts://evil.example:5000/1/abc", None),
        ("mlflow-artifacts://127.0.0.1:5001/1/abc", None),
        ("http://127.0.0.1:5001/api/2.0/mlflow-artifacts/artifacts/1/abc", None),
        ("https://127.0.0.1:5000/api/2.0/mlflow-artifacts/artifacts/1/abc", None),
        ("http://127.0.0.1:5000/somewhere/else", None),
        ("http://169.254.169.254/latest/meta-data", None),
        ("file:///etc", None),
        ("file://otherhost/share", None),
        ("/etc/ssh", None),
        ("s3://bucket/1/abc/artifacts", None),
        ("gs://bucket/x", None),
    ],
)
def test_locations_are_checked_on_the_client_side(uri: str, root: str | None) -> None:
    sources = ArtifactSources("http://127.0.0.1:5000")
    try:
        if root is None:
            with pytest.raises(PathNotAllowed, match=REFUSALS[uri]):
                sources.locate(uri)
        else:
            assert getattr(sources.locate(uri), "root") == root  # noqa: B009
    finally:
        sources.close()


def test_local_roots_hold_their_files_in(tmp_path: Path) -> None:
    allowed = tmp_path / "mlruns"
    (allowed / "1" / "r" / "artifacts").mkdir(parents=True)
    (allowed / "1" / "r" / "artifacts" / "link").symlink_to(tmp_path)  # leads out of the root
    sources = ArtifactSources("sqlite:///mlflow.db", [allowed])
    try:
        sources.locate(f"file://{allowed}/1/r/artifacts")
        sources.locate(f"{allowed}/1/r/artifacts")
        with pytest.raises(PathNotAllowed, match="outside the allowed roots"):
            sources.locate(f"file://{allowed}/../secret")
        with pytest.raises(PathNotAllowed, match="outside the allowed roots"):
            sources.locate(f"file://{allowed}/1/r/artifacts/link")
        with pytest.raises(PathNotAllowed, match="tracking server"):
            sources.locate("mlflow-artifacts:/1/r/artifacts")  # --from is not a server
    finally:
        sources.close()
    # a local file store given as --from is readable, nothing else is
    store = ArtifactSources(str(allowed))
    store.locate(f"file://{allowed}/1/r/artifacts")
    with pytest.raises(PathNotAllowed, match="outside the allowed roots"):
        store.locate(f"file://{tmp_path}")


def test_listed_names_and_redirects_from_the_source_are_checked(tmp_path: Path) -> None:
    """A source whose artifact API lists names that leave the folder, and redirects a download."""
    with http_server(_artifact_store) as elsewhere:

        def hostile(handler: http.server.BaseHTTPRequestHandler) -> None:
            if "?" in handler.path:
                files = [
                    {"path": "../../../../escaped.txt", "is_dir": False, "file_size": 3},
                    {"path": "/tmp/absolute.txt", "is_dir": False, "file_size": 3},
                    {"path": "%2e%2e", "is_dir": True},
                    {"path": "..", "is_dir": True},
                    {"path": "a\\..\\b.txt", "is_dir": False, "file_size": 3},
                    {"path": "moved.txt", "is_dir": False, "file_size": 3},
                    {"path": "fine.txt", "is_dir": False, "file_size": 4},
                ]
                _reply(handler, 200, orjson.dumps({"files": files}))
            elif handler.path.endswith("/moved.txt"):
                _reply(handler, 302, b"", location=f"{elsewhere.url}/stolen")
            elif handler.path.endswith("/fine.txt"):
                _reply(handler, 200, b"fine")
            else:
                _reply(handler, 200, b"bad")

        with http_server(hostile) as server:
            stores = open_stores(f"sqlite:///{tmp_path / 'my.db'}", str(tmp_path / "artifacts"))
            tracking = TrackingService(stores.db, stores.artifacts)
            importer = MlflowImporter(
                server.url, tracking, RegistryService(stores.db, stores.artifacts)
            )
            importer.sources = ArtifactSources(server.url)
            rid = "a" * 32
            batch = parse_batch({"run_id": rid, "create": {"experiment_name": "e"}}, 0)
            tracking.ingest([batch], user="t")
            try:
                copied = importer._copy_artifacts(
                    "run x", "mlflow-artifacts:/1/x/artifacts", tracking.run_artifacts(rid)
                )
                names = [a.path for a in tracking.run_artifacts(rid).list()]
            finally:
                importer.sources.close()
                tracking.close()
    assert copied is False  # the run is not marked done: the next import looks again
    assert names == ["fine.txt"]
    assert elsewhere.requests == []  # the redirect was not followed
    assert not list(tmp_path.rglob("escaped.txt"))
    assert not Path("/tmp/absolute.txt").exists()
    assert len(importer.report.refused) == 5
    assert any("redirect" in w for w in importer.report.warnings)
