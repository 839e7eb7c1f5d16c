"""The servers of benchmarks/serving.py: their venvs, the model each one serves, and how to start it."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
MLFLOW_VENV = HERE / ".peer-venv"  # shared with run.py
BENTOML_VENV = HERE / ".bentoml-venv"
MLFLOW_SPEC = "mlflow>=3,<4"
NAMES = ("modelyard", "mlflow", "bentoml")
COLUMNS = [f"f{i}" for i in range(20)]
MODEL_NAME = "bench"


@dataclass
class Model:
    """The fitted model on disk and the rows every server is sent."""

    folder: Path  # scratch space for stores, venv homes and logs
    file: Path  # joblib
    one: list[float]
    many: list[list[float]]


@dataclass
class Server:
    """How to start one server and what to send it."""

    name: str
    cmd: list[str]  # "{port}" is replaced by a free port
    path: str  # the predict route
    one_row: bytes
    many_rows: bytes
    env: dict[str, str] = field(default_factory=dict)
    cwd: Path | None = None
    ready_path: str = "/health"  # answers 200 once the model is loaded
    python: str = sys.executable  # the interpreter it runs on


def _sklearn_pin() -> str:
    import sklearn

    return f"scikit-learn=={sklearn.__version__}"  # the same fitted model loads everywhere


def ensure_venv(venv: Path, packages: list[str]) -> Path:
    """A venv beside this file with ``packages`` installed (pip install once; then as it is)."""
    python = venv / "bin" / "python"
    if not python.exists():
        print(f"installing {' '.join(packages)} into {venv} ...", flush=True)
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
        subprocess.run([str(python), "-m", "pip", "install", "-q", *packages], check=True)
    pinned = _sklearn_pin()
    have = subprocess.run(
        [str(python), "-c", "import sklearn; print(sklearn.__version__)"],
        capture_output=True,
        text=True,
    ).stdout.strip()
    if pinned != f"scikit-learn=={have}":
        subprocess.run([str(python), "-m", "pip", "install", "-q", pinned], check=True)
    return python


def training_data(rows: int = 100) -> tuple[Any, Any, Any]:
    """20 float features (make_classification, seed 0): a named-column frame, labels, held-out rows."""
    import pandas as pd
    from sklearn.datasets import make_classification

    x, y = make_classification(
        n_samples=5000 + rows, n_features=20, n_informative=10, random_state=0
    )
    fresh, x, y = x[5000:], x[:5000], y[:5000]  # the rows sent are held out
    return pd.DataFrame(x, columns=COLUMNS), y, fresh  # named, as dataframe_split sends them


def fit(folder: Path, rows: int = 100) -> tuple[Any, Model]:
    """LogisticRegression on ``training_data``, saved with joblib."""
    import joblib
    from sklearn.linear_model import LogisticRegression

    frame, y, fresh = training_data(rows)
    model = LogisticRegression(max_iter=1000).fit(frame, y)
    path = folder / "model.joblib"
    joblib.dump(model, path)
    example = {"columns": COLUMNS, "data": frame.to_numpy()[:5].tolist()}
    (folder / "example.json").write_text(json.dumps(example))
    return model, Model(folder, path, fresh[0].tolist(), fresh.tolist())


def frame(rows: list[list[float]]) -> Any:
    """The rows as the model was fitted on them: a DataFrame with its column names."""
    import pandas as pd

    return pd.DataFrame(rows, columns=COLUMNS)


def bodies(rows: list[list[float]]) -> tuple[bytes, bytes]:
    """The MLflow-style body (dataframe_split) and BentoML's (``rows``) for the same rows."""
    split = {"dataframe_split": {"columns": COLUMNS, "data": rows}}
    return json.dumps(split).encode(), json.dumps({"rows": rows}).encode()


def on_path(python: Path) -> dict[str, str]:
    """PATH with the venv's bin first, as if activated (mlflow runs ``uvicorn`` from PATH)."""
    return {"PATH": f"{python.parent}{os.pathsep}{os.environ.get('PATH', '')}"}


def modelyard_available() -> bool:
    """Whether this checkout has ``modelyard serve`` yet."""
    probe = [sys.executable, "-m", "modelyard.cli", "serve", "--help"]
    return subprocess.run(probe, capture_output=True).returncode == 0


def modelyard(m: Model) -> Server:
    """Register the model in an embedded store (``my.models.log``) and serve models:/bench/1."""
    env = {
        "MODELYARD_HOME": str(m.folder / "modelyard-home"),
        "MODELYARD_TRACKING_URI": str(m.folder / "modelyard-store"),
        "MODELYARD_SYSTEM_METRICS_INTERVAL": "0",
        **on_path(Path(sys.executable)),
    }
    register = (
        "import json, sys, joblib, pandas as pd, modelyard as my\n"
        "example = pd.DataFrame(**json.load(open(sys.argv[2])))\n"
        f"my.models.log(joblib.load(sys.argv[1]), {MODEL_NAME!r}, input_example=example)\n"
    )
    subprocess.run(
        [sys.executable, "-c", register, str(m.file), str(m.folder / "example.json")],
        env={**os.environ, **env},
        check=True,
    )
    cmd = [sys.executable, "-m", "modelyard.cli", "serve", f"models:/{MODEL_NAME}/1"]
    one, many = bodies([m.one]), bodies(m.many)
    return Server(
        "modelyard",
        [*cmd, "--host", "127.0.0.1", "--port", "{port}"],
        "/invocations",
        one[0],
        many[0],
        env,
        ready_path="/ready",  # a version loaded, warmed up and routed
    )


def mlflow(m: Model) -> Server:
    """``mlflow.sklearn.save_model`` of the same model, served by ``mlflow models serve``."""
    python = ensure_venv(MLFLOW_VENV, [MLFLOW_SPEC, "httpx"])
    target = m.folder / "mlflow-model"
    save = (
        "import json, sys, joblib, pandas as pd, mlflow.sklearn\n"
        "example = pd.DataFrame(**json.load(open(sys.argv[2])))\n"
        "mlflow.sklearn.save_model(joblib.load(sys.argv[1]), sys.argv[3],\n"
        "    input_example=example, pip_requirements=['scikit-learn'])\n"
    )
    args = [str(m.file), str(m.folder / "example.json"), str(target)]
    subprocess.run([str(python), "-W", "ignore", "-c", save, *args], check=True)
    mlflow_bin = str(python.parent / "mlflow")
    cmd = [mlflow_bin, "models", "serve", "-m", str(target), "--env-manager", "local"]
    one, many = bodies([m.one]), bodies(m.many)
    return Server(
        "mlflow",
        [*cmd, "--host", "127.0.0.1", "--port", "{port}"],
        "/invocations",
        one[0],
        many[0],
        on_path(python),
        ready_path="/ping",  # the scoring server's app is built after the model loads
        python=str(python),
    )


def bentoml(m: Model) -> Server:
    """serving_bentoml.py (adaptive batching on) in its own venv, loading the joblib file."""
    python = ensure_venv(BENTOML_VENV, ["bentoml", "scikit-learn", "joblib", "pandas"])
    cmd = [str(python.parent / "bentoml"), "serve", "serving_bentoml:Bench"]
    one, many = bodies([m.one]), bodies(m.many)
    env = {
        "BENCH_MODEL": str(m.file),
        "BENTOML_HOME": str(m.folder / "bentoml-home"),
        "BENTOML_DO_NOT_TRACK": "true",
        **on_path(python),
    }
    return Server(
        "bentoml",
        [*cmd, "--host", "127.0.0.1", "--port", "{port}"],
        "/predict",
        one[1],
        many[1],
        env,
        cwd=HERE,
        ready_path="/readyz",
        python=str(python),
    )
