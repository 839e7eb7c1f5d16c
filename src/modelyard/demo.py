"""A demo that trains real scikit-learn models in several runs (used by `modelyard server --demo`)."""

from __future__ import annotations

import json
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

DEMO_EXPERIMENT = "demo: wine-like classification"


def demo_token(access: Any) -> str:
    """A day-long token of the server's first admin, made in the server process (the demo of
    a server with auth on logs as that admin); ``access`` is the server's AccessService."""
    from modelyard.access.entities import Scope

    admin = next(u for u in access.users() if u.is_admin and not u.disabled)
    owner = access.identity_of(admin.id)
    _token, secret = access.create_token("demo", scope=Scope.WRITE, by=owner, expires_in_days=1.0)
    return str(secret)


def run_demo(tracking_uri: str, console: Any, token: str | None = None) -> None:
    """Log a small sweep of models, register them, deploy the champion and send it traffic;
    skipped when the demo experiment already has runs. ``token``: what this process sends the
    server (one with auth on; see :func:`demo_token`)."""
    import numpy as np
    from sklearn.datasets import make_classification
    from sklearn.linear_model import SGDClassifier
    from sklearn.metrics import accuracy_score, confusion_matrix, f1_score, log_loss
    from sklearn.model_selection import train_test_split

    import modelyard as my
    from modelyard.errors import NotFound
    from modelyard.tracking import credentials

    if token is not None:
        credentials.use(tracking_uri, token)
    my.set_tracking_uri(tracking_uri)
    with my.Client(tracking_uri) as client:
        try:
            exp = client.get_experiment_by_name(DEMO_EXPERIMENT)
            if client.search_runs([exp.id], max_results=1).runs:
                console.print("demo runs already present; skipping the demo")
                return
        except NotFound:
            pass
    x, y = make_classification(
        n_samples=3000, n_features=20, n_informative=8, n_classes=3, random_state=7
    )
    import pandas as pd

    names = [f"f{j}" for j in range(x.shape[1])]  # named features: monitoring follows them
    frame = pd.DataFrame(x, columns=names)
    x_train, x_test, y_train, y_test = train_test_split(frame, y, test_size=0.25, random_state=7)
    classes = np.unique(y)
    sweep = [
        {"loss": loss, "alpha": alpha, "learning_rate": "optimal"}
        for loss in ("log_loss", "modified_huber")
        for alpha in (1e-4, 1e-3, 1e-2)
    ]
    console.print(f"demo: training {len(sweep)} models into experiment {DEMO_EXPERIMENT!r}")
    import pyarrow as pa

    table = pa.Table.from_pandas(x_train.assign(label=y_train), preserve_index=False)
    train = my.datasets.register("demo-train", table, description="the training split")
    scored: list[tuple[float, dict[str, Any]]] = []
    with my.start_run("sweep", experiment=DEMO_EXPERIMENT, log_system_metrics=False) as parent:
        parent.set_notes("A sweep of SGD classifiers; each child run is one configuration.")
        for i, cfg in enumerate(sweep):
            name = f"sgd-{cfg['loss']}-{cfg['alpha']:g}"
            with my.start_run(name, nested=True, params={**cfg, "epochs": 30}) as run:
                my.datasets.log_input("demo-train", train["version"])
                model = SGDClassifier(random_state=i, **cfg)
                for epoch in range(30):
                    model.partial_fit(x_train, y_train, classes=classes)
                    pred = model.predict(x_test)
                    metrics = {
                        "accuracy": accuracy_score(y_test, pred),
                        "f1_macro": f1_score(y_test, pred, average="macro"),
                    }
                    if hasattr(model, "predict_proba"):
                        metrics["log_loss"] = log_loss(y_test, model.predict_proba(x_test))
                    run.log_metrics(metrics, step=epoch)
                matrix = confusion_matrix(y_test, model.predict(x_test)).tolist()
                with tempfile.TemporaryDirectory() as tmp:
                    folder = Path(tmp)
                    (folder / "confusion_matrix.json").write_text(
                        json.dumps({"labels": classes.tolist(), "matrix": matrix})
                    )
                    _write_predictions(folder / "predictions.csv", y_test, model.predict(x_test))
                    _write_report(folder / "report.html", name, metrics)
                    run.log_artifacts(folder, "eval")
                version = my.models.log(model, "demo-classifier", input_example=x_test[:3])
                scored.append((metrics["accuracy"], version))
            console.print(f"  {name}: accuracy {metrics['accuracy']:.3f}")
        _diverge(my, x_train, y_train, classes, console)
    my.flush()
    best, runner_up = _promote(my, scored, console)
    _deploy(my.get_tracking_uri(), best, runner_up, x_test.to_numpy(), y_test, console)


def _diverge(my: Any, x_train: Any, y_train: Any, classes: Any, console: Any) -> None:
    """One more configuration whose learning rate is far too high: scikit-learn's own overflow
    error fails the run, which the web UI shows as a failed run with its error."""
    from sklearn.linear_model import SGDClassifier

    cfg = {"loss": "squared_hinge", "alpha": 1e-4, "learning_rate": "constant", "eta0": 1e300}
    try:
        with my.start_run("sgd-eta0-too-high", nested=True, params={**cfg, "epochs": 30}):
            SGDClassifier(random_state=0, **cfg).partial_fit(x_train, y_train, classes=classes)
    except ValueError as exc:
        console.print(f"  sgd-eta0-too-high: failed as expected ({exc})")


def _write_predictions(path: Path, truth: Any, predicted: Any) -> None:
    """The test split's labels beside the model's, as CSV (previewed as a table in the UI)."""
    lines = ["row,label,predicted,correct"]
    lines += [
        f"{i},{t},{p},{int(t == p)}" for i, (t, p) in enumerate(zip(truth, predicted, strict=True))
    ]
    path.write_text("\n".join(lines) + "\n")


def _write_report(path: Path, name: str, metrics: dict[str, float]) -> None:
    """A small HTML evaluation report (shown sandboxed in the UI)."""
    rows = "".join(f"<tr><td>{k}</td><td>{v:.4f}</td></tr>" for k, v in metrics.items())
    path.write_text(
        f"<!doctype html><html><body style='font-family:sans-serif'><h2>Evaluation of {name}</h2>"
        f"<table border='1' cellpadding='4'><tr><th>metric</th><th>value</th></tr>{rows}</table>"
        "</body></html>"
    )


def _promote(my: Any, scored: list[tuple[float, dict[str, Any]]], console: Any) -> tuple[int, int]:
    """The best version becomes champion; the runner-up is proposed, gated on accuracy."""
    from modelyard.registry.client import ModelRegistry

    ranked = sorted(scored, key=lambda pair: -pair[0])
    best, runner_up = ranked[0][1]["version"], ranked[1][1]["version"]
    with ModelRegistry(my.get_tracking_uri()) as registry:
        registry.set_alias("demo-classifier", "champion", best, reason="best accuracy of the sweep")
        registry.set_alias("demo-classifier", "challenger", runner_up, reason="runner-up")
        registry.propose(
            "demo-classifier",
            runner_up,
            "production",
            rules=["accuracy >= champion.accuracy"],
            alias="champion",
            reason="could the runner-up replace the champion?",
        )
    console.print(f"demo: demo-classifier@champion is version {best}; version {runner_up} proposed")
    return int(best), int(runner_up)


DEMO_DEPLOYMENT = "demo-classifier"


def _deploy(
    uri: str,
    best: int,
    runner_up: int,
    rows: Any,
    truth: Any,
    console: Any,
    wait_s: float = 120.0,
) -> str | None:
    """Deploy the champion (the runner-up in its shadow), set two alert rules, and send it a
    minute of traffic whose second half drifts, with labels arriving late, so the Deployments
    and Monitoring pages have something live; the address, or None when nothing serves it."""
    from modelyard.serving.client import Deployments

    with Deployments(uri) as deployments:
        deployments.create(
            DEMO_DEPLOYMENT,
            "models:/demo-classifier@champion",
            rollout={"strategy": "canary", "steps": [10, 50, 100], "interval_s": 30},
            reason="demo: serve the champion",
        )
        deployments.set_traffic(
            DEMO_DEPLOYMENT,
            {best: 100},
            shadow=[runner_up],
            reason="demo: the runner-up answers in the shadow, compared, never returned",
        )
        url = _ready_endpoint(deployments, wait_s)
    _alert_rules(uri)
    if url is None:
        console.print("demo: no serving process reported in (is the server supervising?)")
        return None
    threading.Thread(
        target=_send_traffic,
        args=(url, rows.tolist(), truth.tolist(), uri),
        name="modelyard-demo-traffic",
        daemon=True,
    ).start()
    console.print(f"demo: deployment {DEMO_DEPLOYMENT} answers at {url}/predict; sending traffic")
    return url


def _alert_rules(uri: str) -> None:
    """Two rules on the demo deployment: its realized accuracy, and the drift of its inputs."""
    from modelyard.monitoring.alerts_client import Alerts

    with Alerts(uri) as alerts:
        alerts.create_rule(
            "demo: accuracy below 0.6", DEMO_DEPLOYMENT, "accuracy", op="<", threshold=0.6,
            window="1h",
        )  # fmt: skip
        alerts.create_rule(
            "demo: inputs drifted", DEMO_DEPLOYMENT, "drift_share", op=">", threshold=0.04,
            window="1h",
        )  # fmt: skip


def _ready_endpoint(deployments: Any, wait_s: float) -> str | None:
    import httpx

    deadline = time.monotonic() + wait_s
    while time.monotonic() < deadline:
        for instance in deployments.get(DEMO_DEPLOYMENT)["instances"]:
            if instance["stale"]:
                continue
            try:
                if httpx.get(instance["url"] + "/ready", timeout=2).status_code == 200:
                    return str(instance["url"])
            except httpx.HTTPError:
                pass
        time.sleep(0.5)
    return None


DRIFTED = 3  # the feature whose values shift in the second half of the demo's traffic


def _send_traffic(
    url: str, rows: list[list[float]], truth: list[int], uri: str, seconds: float = 60.0
) -> None:
    """About 20 requests a second for a minute, from a few made-up users; from half-time on,
    feature f3 shifts (drift), and the true labels of the answered requests arrive in batches
    every ten seconds, as a feedback system would send them."""
    import httpx

    from modelyard.errors import ModelyardError
    from modelyard.monitoring.client import monitoring_api

    names = [f"f{j}" for j in range(len(rows[0]))]
    start = time.monotonic()
    end = start + seconds
    pending: dict[str, int] = {}
    sent_labels = start
    api = monitoring_api(uri)
    with httpx.Client(base_url=url, timeout=10) as http:
        i = 0
        while time.monotonic() < end:
            row = list(rows[i % len(rows)])
            if time.monotonic() - start > seconds / 2:
                row[DRIFTED] += 2.5
            rid = f"demo-{int(start)}-{i}"
            try:
                answer = http.post(
                    "/predict",
                    json={"dataframe_split": {"columns": names, "data": [row]}},
                    headers={"X-User-Id": f"user-{i % 50}", "X-Request-Id": rid},
                )
            except httpx.HTTPError:
                break
            if answer.status_code == 200 and i % 10 < 8:  # most outcomes become known
                pending[rid] = int(truth[i % len(truth)])
            i += 1
            if time.monotonic() - sent_labels > 10 and pending:
                sent_labels = time.monotonic()
                time.sleep(1.5)  # the serving process writes its log once a second
                try:
                    api.add_labels(DEMO_DEPLOYMENT, [
                        {"request_id": k, "row": 0, "label": v} for k, v in pending.items()
                    ])  # fmt: skip
                except ModelyardError:
                    pass
                pending = {}
            time.sleep(0.05)
    api.close()
