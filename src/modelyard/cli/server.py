"""`modelyard server`"""

from __future__ import annotations

import threading
import time

import typer

from modelyard import config
from modelyard.cli.common import console, err_console
from modelyard.errors import ModelyardError


def serve(
    host: str = typer.Option("127.0.0.1", help="Interface to bind (loopback by default)."),
    port: int = typer.Option(5050, help="TCP port."),
    store: str = typer.Option(
        None, "--store", envvar="MODELYARD_STORE_URI", help="Metadata store URI (default SQLite)."
    ),
    artifacts: str = typer.Option(
        None, "--artifacts", envvar="MODELYARD_ARTIFACTS_URI", help="Artifact root URI or folder."
    ),
    demo: bool = typer.Option(False, "--demo", help="Fill the store with demo runs on start."),
    allowed_hosts: str = typer.Option(
        None,
        "--allowed-hosts",
        envvar="MODELYARD_ALLOWED_HOSTS",
        help="Comma-separated Host names to answer besides loopback and --host ('*': any).",
    ),
    supervise: bool = typer.Option(
        True,
        "--supervise/--no-supervise",
        help="Start and keep a serving process for each deployment (engine 'process').",
    ),
    log_level: str = typer.Option("warning", help="uvicorn log level."),
) -> None:
    """Run the REST API and web UI (and the serving processes of the deployments)."""
    import uvicorn

    from modelyard.listener import uvicorn_config
    from modelyard.server.app import ServerSettings, create_app
    from modelyard.server.guard import allowed_hosts as hosts_for

    settings = ServerSettings(
        store_uri=store or config.default_store_uri(),
        artifacts_uri=artifacts or config.default_artifacts_uri(),
        max_body_bytes=config.MAX_BODY_MB.get() << 20,
        allowed_hosts=hosts_for(host, (allowed_hosts or "").split(",")),
        url=f"http://{_reachable(host)}:{port}",
        supervise=supervise,
    )
    try:
        app = create_app(settings)
    except ModelyardError as exc:
        err_console.print(f"[red]error:[/red] {exc.code}: {exc.message}")
        raise typer.Exit(1) from exc
    server = uvicorn.Server(uvicorn_config(app, host, port, log_level=log_level))
    url = f"http://{host}:{port}"

    def announce() -> None:
        while not server.started:
            if server.should_exit:
                return
            time.sleep(0.02)
        console.print(f"modelyard is serving {settings.store_uri}")
        console.print(f"  artifacts: {settings.artifacts_uri}")
        if settings.allowed_hosts == ("*",):
            err_console.print(
                "[yellow]warning:[/yellow] answering any Host name; name yours with "
                "--allowed-hosts to guard browsers on this network against DNS rebinding"
            )
        if demo:
            from modelyard.demo import run_demo

            run_demo(url, console)
        console.print(f"[bold green]UI and API:[/bold green] {url}  (API docs: {url}/docs)")

    threading.Thread(target=announce, daemon=True).start()
    server.run()


def _reachable(host: str) -> str:
    """The address this machine's serving processes reach the server at."""
    if host in ("0.0.0.0", "", "*"):
        return "127.0.0.1"
    if host == "::":
        return "[::1]"
    return f"[{host}]" if ":" in host else host
