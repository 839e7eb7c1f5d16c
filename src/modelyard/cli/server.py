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
    auth: bool = typer.Option(
        False,
        "--auth",
        envvar="MODELYARD_AUTH",
        help="Access control: accounts, tokens and roles (an admin is made on first start).",
    ),
    insecure_no_auth: bool = typer.Option(
        False,
        "--insecure-no-auth",
        help="Bind an address other than loopback without --auth (anyone who reaches it may "
        "read, change and delete everything).",
    ),
    tls_cert: str = typer.Option(
        None, "--tls-cert", help="PEM certificate (chain): serve https instead of http."
    ),
    tls_key: str = typer.Option(None, "--tls-key", help="PEM private key of --tls-cert."),
    log_level: str = typer.Option("warning", help="uvicorn log level."),
) -> None:
    """Run the REST API and web UI (and the serving processes of the deployments)."""
    import uvicorn

    from modelyard.access.oidc import OidcSettings
    from modelyard.listener import uvicorn_config
    from modelyard.server.app import ServerSettings, create_app
    from modelyard.server.guard import allowed_hosts as hosts_for

    if bool(tls_cert) != bool(tls_key):
        err_console.print("[red]error:[/red] --tls-cert and --tls-key go together")
        raise typer.Exit(2)
    if not auth and not _loopback(host) and not insecure_no_auth:
        err_console.print(
            f"[red]error:[/red] binding {host} without --auth lets anyone who reaches it "
            "read, change and delete everything; add --auth (accounts and tokens), or "
            "--insecure-no-auth if a network you trust guards it"
        )
        raise typer.Exit(2)
    scheme = "https" if tls_cert else "http"
    try:
        settings = ServerSettings(
            store_uri=store or config.default_store_uri(),
            artifacts_uri=artifacts or config.default_artifacts_uri(),
            max_body_bytes=config.MAX_BODY_MB.get() << 20,
            allowed_hosts=hosts_for(host, (allowed_hosts or "").split(",")),
            url=f"{scheme}://{_reachable(host)}:{port}",
            supervise=supervise,
            auth=auth,
            tls=bool(tls_cert),
            admin_password=config.ADMIN_PASSWORD.get() or None,
            oidc=OidcSettings.from_config(),
        )
        app = create_app(settings)
    except ModelyardError as exc:
        err_console.print(f"[red]error:[/red] {exc.code}: {exc.message}")
        raise typer.Exit(1) from exc
    tls = {"ssl_certfile": tls_cert, "ssl_keyfile": tls_key} if tls_cert else {}
    server = uvicorn.Server(uvicorn_config(app, host, port, log_level=log_level, **tls))
    url = f"{scheme}://{host}:{port}"

    def announce() -> None:
        while not server.started:
            if server.should_exit:
                return
            time.sleep(0.02)
        console.print(f"modelyard is serving {settings.store_uri}")
        if not auth and not _loopback(host):
            err_console.print(
                f"[bold red]warning:[/bold red] no access control on {host} "
                "(--insecure-no-auth): anyone who reaches this server may read, change and "
                "delete everything"
            )
        elif auth:
            console.print("  access control: on (accounts, tokens and roles)")
        if settings.oidc is not None:
            console.print(
                f"  single sign-on: {settings.oidc.issuer}"
                + ("" if auth else " (off: needs --auth)")
            )
        console.print(f"  artifacts: {settings.artifacts_uri}")
        if settings.allowed_hosts == ("*",):
            err_console.print(
                "[yellow]warning:[/yellow] answering any Host name; name yours with "
                "--allowed-hosts to guard browsers on this network against DNS rebinding"
            )
        if demo:
            from modelyard.demo import demo_token, run_demo

            run_demo(url, console, demo_token(app.state.services["access"]) if auth else None)
        console.print(f"[bold green]UI and API:[/bold green] {url}  (API docs: {url}/docs)")

    threading.Thread(target=announce, daemon=True).start()
    server.run()


def _loopback(host: str) -> bool:
    """Whether ``host`` names this machine's loopback interface only."""
    import ipaddress

    name = host.strip().strip("[]").lower()
    if name == "localhost":
        return True
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False


def _reachable(host: str) -> str:
    """The address this machine's serving processes reach the server at."""
    if host in ("0.0.0.0", "", "*"):
        return "127.0.0.1"
    if host == "::":
        return "[::1]"
    return f"[{host}]" if ":" in host else host
