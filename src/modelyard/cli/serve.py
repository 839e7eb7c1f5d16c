"""`modelyard serve`: one model, or one deployment's serving process."""

from __future__ import annotations

import os
from pathlib import Path

import typer

from modelyard import config
from modelyard.cli.common import console, err_console

_ONE_THREAD = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")


def serve(
    uri: str = typer.Argument(
        None,
        help="models:/NAME@ALIAS, models:/NAME/N, runs:/RUN/path, or an exported bundle folder.",
    ),
    deployment: str = typer.Option(
        None, "--deployment", help="Serve this deployment, by the policy the server keeps."
    ),
    server: str = typer.Option(
        None,
        "--server",
        envvar="MODELYARD_TRACKING_URI",
        help="The modelyard server (http://...) the model or the deployment comes from.",
    ),
    host: str = typer.Option("127.0.0.1", help="Interface to bind (loopback by default)."),
    allow_remote: bool = typer.Option(
        False,
        "--allow-remote",
        help="Bind an address other machines reach: anyone who reaches it can call the model "
        "(modelyard serve has no caller tokens yet).",
    ),
    port: int = typer.Option(8080, help="TCP port (0: any free port)."),
    max_batch_rows: int = typer.Option(
        None, help="Most rows merged into one model call (MODELYARD_SERVE_MAX_BATCH_ROWS)."
    ),
    max_wait_ms: float = typer.Option(
        None, help="Most added wait for a batch, in ms (MODELYARD_SERVE_MAX_WAIT_MS)."
    ),
    prediction_log: Path = typer.Option(
        None, help="Folder of the Parquet prediction log (MODELYARD_PREDICTION_LOG)."
    ),
    no_prediction_log: bool = typer.Option(False, "--no-prediction-log", help="Log nothing."),
    log_sample: float = typer.Option(1.0, min=0.0, max=1.0, help="Share of requests logged."),
    log_exclude: list[str] | None = typer.Option(
        None, "--log-exclude", help="An input column the prediction log never keeps (repeatable)."
    ),
    log_hash: list[str] | None = typer.Option(
        None,
        "--log-hash",
        help="An input column the prediction log keeps as HMAC-SHA256 (repeatable). "
        "A deployment's processes take both from its logging policy instead.",
    ),
    log_hash_key_file: Path = typer.Option(
        None,
        "--log-hash-key-file",
        help="File holding the hashing key (made when missing), so hashes match across "
        "restarts; default: a key of this process only.",
    ),
    max_body_mb: int = typer.Option(64, min=1, help="Largest request body, in MiB."),
    trusted: bool = typer.Option(
        False, "--trusted", help="Vouch for a runs:/ model's files (registered ones use trust)."
    ),
    log_level: str = typer.Option("warning", help="uvicorn log level."),
) -> None:
    """Serve a model over HTTP: POST /predict and /invocations, /health, /ready, /metrics."""
    for var in _ONE_THREAD:  # before numpy loads: BLAS threads spinning per call cost more than
        os.environ.setdefault(var, "1")  # they give to small calls on a busy server
    from modelyard.serving.process import ServeOptions, hash_key, run
    from modelyard.serving.state import BatchOptions

    if (uri is None) == (deployment is None):
        err_console.print("[red]error:[/red] give a model URI or --deployment NAME (one of them)")
        raise typer.Exit(2)
    if not _loopback(host) and not allow_remote:
        err_console.print(
            f"[red]error:[/red] {host} is reachable from other machines and modelyard serve "
            "checks no caller tokens yet: pass --allow-remote to serve it there anyway"
        )
        raise typer.Exit(2)
    log_dir = None if no_prediction_log else prediction_log or config.prediction_log_dir()
    options = ServeOptions(
        host=host,
        port=port,
        batching=BatchOptions(
            max_rows=max_batch_rows or config.SERVE_MAX_BATCH_ROWS.get(),
            max_wait_ms=config.SERVE_MAX_WAIT_MS.get() if max_wait_ms is None else max_wait_ms,
        ),
        prediction_log=log_dir,
        log_sample=log_sample,
        log_exclude=tuple(log_exclude or ()),
        log_hash=tuple(log_hash or ()),
        log_key=hash_key(log_hash_key_file) if log_hash else b"",
        max_body=max_body_mb << 20,
        log_level=log_level,
    )

    def announce(url: str) -> None:
        what = f"deployment {deployment}" if deployment else uri
        console.print(f"[bold green]serving[/bold green] {what} on {url}  (POST {url}/predict)")
        if log_dir is not None:
            console.print(f"  prediction log: {log_dir}")

    if deployment is not None:
        from modelyard.serving.agent import DeploymentAgent

        if not server or not server.startswith(("http://", "https://")):
            err_console.print(
                "[red]error:[/red] --deployment needs --server http://HOST:PORT "
                "(or MODELYARD_TRACKING_URI) naming the modelyard server"
            )
            raise typer.Exit(2)
        run(deployment, options, lambda url: DeploymentAgent(deployment, server, url), announce)
        return

    from modelyard.serving.loading import load_uri
    from modelyard.serving.state import OneModel

    name = _name_of(uri)
    run(
        name,
        options,
        lambda _url: OneModel(lambda: load_uri(uri, server, trusted=trusted)),
        announce,
    )


def _loopback(host: str) -> bool:
    import ipaddress

    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False  # a host name: it may resolve to anything


def _name_of(uri: str) -> str:
    """What the metrics and the prediction log call a model served on its own."""
    if uri.startswith("models:/"):
        return uri.removeprefix("models:/").split("/")[0].split("@")[0] or "model"
    return Path(uri).name or "model"
