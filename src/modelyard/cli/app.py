"""The `modelyard` command."""

from __future__ import annotations

import typer

from modelyard.cli import (
    access,
    artifacts,
    audit,
    datasets,
    db,
    deploy,
    experiments,
    importing,
    maintenance,
    models,
    monitor,
    predict,
    runs,
    serve,
    server,
)

app = typer.Typer(
    name="modelyard",
    help="Track, version, serve and monitor machine-learning models.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
app.command("server")(server.serve)
app.command("serve")(serve.serve)
app.command("predict")(predict.predict)
app.add_typer(experiments.app, name="experiments")
app.add_typer(runs.app, name="runs")
app.add_typer(models.app, name="models")
app.add_typer(datasets.app, name="datasets")
app.add_typer(db.app, name="db")
app.add_typer(deploy.app, name="deploy")
app.add_typer(importing.app, name="import")
app.add_typer(monitor.app, name="monitor")
app.add_typer(audit.app, name="audit")
app.command("sync")(maintenance.sync)
app.command("gc")(maintenance.gc)
app.add_typer(artifacts.app, name="artifacts")
access.register(app)  # login, logout, whoami, users, teams, tokens, grants


def main() -> None:
    app()
