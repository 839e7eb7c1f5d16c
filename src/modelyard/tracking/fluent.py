"""The SDK's module-level API: ``my.start_run()``, ``my.log_metric()`` and friends."""

from __future__ import annotations

import atexit
import functools
import getpass
import os
import signal
import tempfile
import threading
import time
import unicodedata
from collections.abc import Mapping
from pathlib import Path
from types import FrameType, TracebackType
from typing import Any

from modelyard import config
from modelyard.errors import InvalidInput, InvalidState, ParamConflict, printable
from modelyard.tracking import capture
from modelyard.tracking.batcher import Batcher
from modelyard.tracking.client import Client, resolve_uri
from modelyard.tracking.clients import client_for
from modelyard.tracking.entities import Run
from modelyard.tracking.validation import clean_key, clean_name, clean_value

_lock = threading.RLock()
_uri: str | None = None
_experiment: str | int | None = None
_clients: dict[str, tuple[Client, Batcher]] = {}
_stack: list[ActiveRun] = []
_hooks_installed = False


def set_tracking_uri(uri: str | None) -> None:
    """Log to a server (``http://host:port``) or a store (``sqlite:///path``, a folder, ...)."""
    global _uri
    _uri = uri


def get_tracking_uri() -> str:
    return resolve_uri(_uri)


def set_experiment(name_or_id: str | int) -> None:
    """The experiment new runs go to (created on first use when given by name)."""
    global _experiment
    _experiment = name_or_id


def _connection() -> tuple[Client, Batcher]:
    uri = get_tracking_uri()
    with _lock:
        found = _clients.get(uri)
        if found is None:
            client = client_for(uri)
            batcher = Batcher(
                client,
                config.FLUSH_INTERVAL.get(),
                config.BUFFER_POINTS.get(),
                config.HEARTBEAT_INTERVAL.get(),
            )
            found = _clients[uri] = (client, batcher)
            _install_hooks()
        return found


def create_experiment(name: str, description: str = "", tags: dict[str, str] | None = None) -> int:
    return _connection()[0].create_experiment(name, description, tags).id


ERROR_TAG = "my.error"  # a failed run's exception, as `Type: message`
# under the smallest tag limit a server may set (MODELYARD_MAX_PARAM_BYTES >= 1024), so the
# tag never makes the server refuse the batch that also marks the run FAILED
MAX_ERROR_BYTES = 1000


class ActiveRun:
    """A run being logged to. Use as a context manager: an exception marks it FAILED."""

    def __init__(self, run_id: str, client: Client, batcher: Batcher, name: str | None) -> None:
        self.id = run_id
        self.name = name
        self._client = client
        self._batcher = batcher
        self._params: dict[str, str] = {}
        self._keys: dict[str, str] = {}
        self._steps: dict[str, int] = {}
        self._sampler: Any = None
        self._ended = False
        self.experiment: str | int | None = None  # as given at start (children inherit it)

    def __repr__(self) -> str:
        return f"<ActiveRun {self.id} name={self.name!r}>"

    # -- logging
    def _key(self, key: str) -> str:
        clean = self._keys.get(key)
        if clean is None:
            clean = self._keys[key] = clean_key(key, "metric key")
        return clean

    def log_metric(
        self, key: str, value: float, step: int | None = None, timestamp: int | None = None
    ) -> None:
        """Buffer one point; ``step`` defaults to the key's previous step + 1 (from 0)."""
        k = self._keys.get(key) or self._key(key)
        try:
            v = float(value)
        except (TypeError, ValueError) as exc:
            raise InvalidInput(f"metric {key!r}: {value!r} is not a number") from exc
        if step is None:
            step = self._steps.get(k, -1) + 1
        elif type(step) is not int:
            step = int(step)
        self._steps[k] = step
        ts = timestamp if timestamp is not None else int(time.time() * 1000)
        self._batcher.metric(self.id, k, v, step, ts)

    def log_metrics(self, metrics: dict[str, float], step: int | None = None) -> None:
        ts = int(time.time() * 1000)
        for key, value in metrics.items():
            self.log_metric(key, value, step, ts)

    def log_param(self, key: str, value: object) -> None:
        self.log_params({key: value})

    def log_params(self, params: dict[str, object]) -> None:
        """Params are set once: the same value again is fine, a different one is an error."""
        clean: dict[str, str] = {}
        for key, value in params.items():
            k = clean_key(key, "param key")
            v = clean_value(value, f"param {k!r}")
            old = self._params.get(k)
            if old is not None and old != v:
                raise ParamConflict(
                    f"param {k!r} of run {self.id} is already {old!r}; it cannot change to {v!r}",
                    run_id=self.id,
                    key=k,
                )
            clean[k] = v
        self._params.update(clean)
        self._batcher.params(self.id, clean)

    def set_tag(self, key: str, value: object) -> None:
        self.set_tags({key: value})

    def set_tags(self, tags: Mapping[str, object]) -> None:
        clean = {clean_key(k, "tag key"): clean_value(v, f"tag {k!r}") for k, v in tags.items()}
        self._batcher.tags(self.id, clean)

    def set_notes(self, markdown: str) -> None:
        self._batcher.update(self.id, {"notes": markdown})

    def log_artifact(
        self, local_path: str | os.PathLike[str], artifact_path: str | None = None
    ) -> None:
        """Upload a file (``artifact_path`` is its path inside the run; default: its name)."""
        self._batcher.flush()  # the run must exist on the server first
        self._client.log_artifact(self.id, Path(local_path), artifact_path)

    def log_artifacts(self, local_dir: str | os.PathLike[str], artifact_path: str = "") -> None:
        """Upload every file under a folder, keeping its layout."""
        root = Path(local_dir)
        self._batcher.flush()
        from modelyard.tracking.transfer import walk

        files = {f"{artifact_path}/{rel}".lstrip("/"): p for rel, p in walk(root).items()}
        self._client.log_artifacts(self.id, files)

    def list_artifacts(self, path: str = "") -> list[dict[str, Any]]:
        """The files and folders directly under ``path`` among the run's artifacts."""
        self._batcher.flush()  # the run must exist on the server first
        return self._client.list_artifacts(self.id, path)

    def log_text(self, text: str, artifact_path: str) -> None:
        with tempfile.TemporaryDirectory() as tmp:
            path = Path(tmp) / Path(artifact_path).name
            path.write_text(text, encoding="utf-8")
            self.log_artifact(path, artifact_path)

    # -- life
    def flush(self) -> None:
        self._batcher.flush()

    def end(self, status: str = "FINISHED", *, wait: bool = False) -> None:
        """Mark the run ended and start sending what is buffered.

        Returns at once, like every log call; ``wait=True`` returns once the run is stored (or
        journaled). Reads through the SDK (``my.get_run``, ``run.info``, ``my.search_runs``)
        flush first, and exit, SIGTERM and SIGINT flush too.
        """
        with _lock:
            if self._ended:
                return
            self._ended = True
            if self in _stack:
                _stack.remove(self)
        if self._sampler is not None:
            self._sampler.stop()
        self._batcher.update(self.id, {"status": status, "end_time": int(time.time() * 1000)})
        if wait:
            self._batcher.flush()
        else:
            self._batcher.wake()

    @property
    def info(self) -> Run:
        """The run as stored (flushes first)."""
        self._batcher.flush()
        return self._client.get_run(self.id)

    def __enter__(self) -> ActiveRun:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if exc_type is None:
            self.end("FINISHED")
        elif issubclass(exc_type, KeyboardInterrupt | SystemExit):
            self.end("KILLED")
        else:
            if exc is not None:
                try:
                    self.set_tags({ERROR_TAG: error_text(exc)})
                except Exception:  # recording the error must never hide it
                    pass
            self.end("FAILED")


def error_text(exc: BaseException) -> str:
    """What a failed run records of its exception: ``Type: message``, at most
    :data:`MAX_ERROR_BYTES` of UTF-8 (the message only: no traceback, no local variables)."""
    kind = type(exc).__qualname__
    module = type(exc).__module__
    if module not in ("builtins", "__main__"):
        kind = f"{module}.{kind}"
    try:
        message = printable(str(exc))  # bytes decoded with surrogateescape, say
    except Exception:
        message = ""
    text = f"{kind}: {message}" if message else kind
    data = text.encode()
    if len(data) > MAX_ERROR_BYTES:
        text = data[: MAX_ERROR_BYTES - 3].decode(errors="ignore") + "\u2026"
    return text.replace("\x00", "")


def start_run(
    name: str | None = None,
    *,
    experiment: str | int | None = None,
    run_id: str | None = None,
    nested: bool = False,
    parent_run_id: str | None = None,
    tags: dict[str, object] | None = None,
    params: dict[str, object] | None = None,
    log_system_metrics: bool | None = None,
    capture_code: bool = True,
    git_diff: bool | None = None,
) -> ActiveRun:
    """Start (or, with ``run_id``, resume) a run. Returns at once: creation is batched too.

    ``capture_code`` records, in the background, the git commit, branch and dirty flag and the
    installed packages (``environment/requirements.txt``). ``git_diff=True`` also uploads the
    uncommitted changes (``code/diff.patch``); default MODELYARD_CAPTURE_GIT_DIFF, off.
    """
    client, batcher = _connection()
    with _lock:
        if _stack and not nested and parent_run_id is None:
            raise InvalidState(
                f"run {_stack[-1].id} is still active; end it or pass nested=True",
                run_id=_stack[-1].id,
            )
        parent = parent_run_id or (_stack[-1].id if _stack and nested else None)
    if run_id is not None:
        batcher.flush()  # the run may still be in this process's buffer
        existing = client.get_run(run_id)
        run = ActiveRun(existing.id, client, batcher, existing.name)
        run.experiment = existing.experiment_id
        run._params = dict(existing.params)
        run._steps = {k: m.step for k, m in existing.metrics.items()}
        batcher.update(run.id, {"status": "RUNNING"})
    else:
        import uuid

        new_id = uuid.uuid4().hex
        if experiment is not None:
            target: str | int | None = experiment
        elif nested and _stack and parent == _stack[-1].id:
            target = _stack[-1].experiment  # a child run lives where its parent does
        else:
            target = _experiment
        spec: dict[str, Any] = {
            "name": clean_name(name, "run name") if name is not None else None,
            "parent_id": parent,
            "start_time": int(time.time() * 1000),
            "user": _user(),
        }
        if isinstance(target, int):
            spec["experiment_id"] = target
        else:
            spec["experiment_name"] = unicodedata.normalize("NFC", target or "Default")
        batcher.create(new_id, spec)
        run = ActiveRun(new_id, client, batcher, spec["name"])
        run.experiment = target
        run.set_tags(capture.environment_tags())
        if capture_code:
            threading.Thread(target=_capture_code, args=(run, git_diff), daemon=True).start()
    if tags:
        run.set_tags(tags)
    if params:
        run.log_params(params)
    interval = config.SYSTEM_METRICS_INTERVAL.get()
    if (log_system_metrics if log_system_metrics is not None else interval > 0) and interval > 0:
        from modelyard.tracking.system_metrics import SystemMetricsSampler

        run._sampler = SystemMetricsSampler(
            lambda values, step: run.log_metrics(values, step), interval
        ).start()
    with _lock:
        _stack.append(run)
    return run


@functools.cache
def _user() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return "unknown"


def _capture_code(run: ActiveRun, git_diff: bool | None = None) -> None:
    """Git commit, branch, dirty flag (and diff if asked), packages (in a background thread)."""
    try:
        tags, diff = capture.code_tags(git_diff=git_diff)
        run.set_tags(tags)
        if diff is not None:
            run.log_text(diff, "code/diff.patch")
        run.log_text(capture.requirements(), "environment/requirements.txt")
    except Exception:  # capture is best effort and must never break training
        return


def active_run() -> ActiveRun | None:
    with _lock:
        return _stack[-1] if _stack else None


def _require_run() -> ActiveRun:
    run = active_run()
    if run is None:
        run = start_run()
    return run


def end_run(status: str = "FINISHED", *, wait: bool = False) -> None:
    run = active_run()
    if run is not None:
        run.end(status, wait=wait)


def log_metric(key: str, value: float, step: int | None = None) -> None:
    _require_run().log_metric(key, value, step)


def log_metrics(metrics: dict[str, float], step: int | None = None) -> None:
    _require_run().log_metrics(metrics, step)


def log_param(key: str, value: object) -> None:
    _require_run().log_param(key, value)


def log_params(params: dict[str, object]) -> None:
    _require_run().log_params(params)


def set_tag(key: str, value: object) -> None:
    _require_run().set_tag(key, value)


def set_tags(tags: Mapping[str, object]) -> None:
    _require_run().set_tags(tags)


def log_artifact(local_path: str | os.PathLike[str], artifact_path: str | None = None) -> None:
    _require_run().log_artifact(local_path, artifact_path)


def log_artifacts(local_dir: str | os.PathLike[str], artifact_path: str = "") -> None:
    _require_run().log_artifacts(local_dir, artifact_path)


def flush() -> None:
    """Send everything buffered, for every tracking URI used in this process."""
    for _client, batcher in list(_clients.values()):
        batcher.flush()


def get_run(run_id: str) -> Run:
    flush()
    return _connection()[0].get_run(run_id)


def search_runs(
    filter: str | None = None,
    *,
    experiment_ids: list[int] | None = None,
    order_by: list[str] | None = None,
    max_results: int = 1000,
) -> list[Run]:
    flush()
    page = _connection()[0].search_runs(experiment_ids, filter, order_by, max_results)
    return page.runs


# -- exit, SIGTERM and SIGINT: buffered points reach the store
def _shutdown(status: str) -> None:
    """End the open runs and send what is buffered, journaling what the time limit leaves."""
    deadline = time.monotonic() + config.EXIT_FLUSH_TIMEOUT.get()
    with _lock:
        runs = list(reversed(_stack))
    for run in runs:
        try:
            run.end(status)
        except Exception:
            pass
    for _client, batcher in list(_clients.values()):
        try:
            batcher.close(timeout=max(0.0, deadline - time.monotonic()))
        except Exception:
            pass


def _on_sigterm(signum: int, frame: FrameType | None) -> None:
    _shutdown("KILLED")
    signal.signal(signum, signal.SIG_DFL)
    os.kill(os.getpid(), signum)


def _install_hooks() -> None:
    global _hooks_installed
    if _hooks_installed:
        return
    _hooks_installed = True
    atexit.register(_shutdown, "FINISHED")
    in_main = threading.current_thread() is threading.main_thread()
    if in_main and signal.getsignal(signal.SIGTERM) in (signal.SIG_DFL, None):
        signal.signal(signal.SIGTERM, _on_sigterm)
