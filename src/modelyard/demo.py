"""A demo that trains real scikit-learn models in several runs (used by `modelyard server --demo`)."""

from __future__ import annotations

import json
import tempfile
from pathlib import Path
from typing import Any

DEMO_EXPERIMENT = "demo: wine-like classification"


def run_demo(tracking_uri: str, console: Any) -> None:
    """Log a small sweep of models; skipped when the demo experiment already has runs."""
    import numpy as np
    from sklearn.datasets import make_classification
    from sklearn.linear_model import SGDClassifier
    from sklearn.metrics import accuracy_score, confusion_matrix, f1_score, log_loss
    from sklearn.model_selection import train_test_split

    import modelyard as my
    from modelyard.errors import NotFound

    my.set_tracking_uri(tracking_uri)
    client = my.Client(tracking_uri)
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
    x_train, x_test, y_train, y_test = train_test_split(x, y, test_size=0.25, random_state=7)
    classes = np.unique(y)
    sweep = [
        {"loss": loss, "alpha": alpha, "learning_rate": "optimal"}
        for loss in ("log_loss", "modified_huber")
        for alpha in (1e-4, 1e-3, 1e-2)
    ]
    console.print(f"demo: training {len(sweep)} models into experiment {DEMO_EXPERIMENT!r}")
    with my.start_run("sweep", experiment=DEMO_EXPERIMENT, log_system_metrics=False) as parent:
        parent.set_notes("A sweep of SGD classifiers; each child run is one configuration.")
        for i, cfg in enumerate(sweep):
            name = f"sgd-{cfg['loss']}-{cfg['alpha']:g}"
            with my.start_run(name, nested=True, params={**cfg, "epochs": 30}) as run:
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
                    path = Path(tmp) / "confusion_matrix.json"
                    path.write_text(json.dumps({"labels": classes.tolist(), "matrix": matrix}))
                    run.log_artifact(path, "eval/confusion_matrix.json")
            console.print(f"  {name}: accuracy {metrics['accuracy']:.3f}")
    my.flush()
