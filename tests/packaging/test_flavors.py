"""Every flavor saves a real model on small data and loads it back with the same predictions."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from modelyard.errors import DigestMismatch, NotTrusted
from modelyard.packaging import manifest, package


def _data() -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(0)
    x = rng.normal(size=(200, 4)).astype(np.float32)
    y = (x[:, 0] + x[:, 1] > 0).astype(np.int64)
    return x, y


def _sklearn() -> Any:
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    x, y = _data()
    return make_pipeline(StandardScaler(), LogisticRegression()).fit(x, y)


def _forest() -> Any:
    from sklearn.ensemble import RandomForestClassifier
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    x, y = _data()
    return make_pipeline(
        StandardScaler(), RandomForestClassifier(n_estimators=5, random_state=0)
    ).fit(x, y)


def _boosting() -> Any:
    from sklearn.ensemble import GradientBoostingRegressor

    x, _ = _data()
    return GradientBoostingRegressor(n_estimators=5, random_state=0).fit(x, x[:, 1])


def _shifted() -> Any:
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline

    x, y = _data()
    return make_pipeline(Shift(), LogisticRegression()).fit(x, y)


class Shift:
    """A transformer of our own: skops stores its type name, which no default list trusts."""

    def fit(self, x: Any, y: Any = None) -> Shift:
        self.mean_ = np.asarray(x).mean(axis=0)
        return self

    def transform(self, x: Any) -> Any:
        return np.asarray(x) - self.mean_

    def get_params(self, deep: bool = True) -> dict[str, Any]:
        return {}


def _xgboost() -> Any:
    import xgboost

    x, y = _data()
    return xgboost.XGBClassifier(n_estimators=5, max_depth=2).fit(x, y)


def _lightgbm() -> Any:
    import lightgbm

    x, y = _data()
    return lightgbm.LGBMClassifier(n_estimators=5, verbose=-1).fit(x, y)


def _onnx() -> Any:
    from skl2onnx import to_onnx
    from sklearn.linear_model import LogisticRegression

    x, y = _data()
    return to_onnx(LogisticRegression().fit(x, y), x[:1])


@pytest.mark.parametrize(
    ("make", "flavor", "file"),
    [
        (_sklearn, "sklearn", "model.skops"),
        (_xgboost, "xgboost", "model.ubj"),
        (_lightgbm, "lightgbm", "model.txt"),
        (_onnx, "onnx", "model.onnx"),
    ],
)
def test_safe_flavors_round_trip(tmp_path: Path, make: Any, flavor: str, file: str) -> None:
    model = make()
    x, _ = _data()
    saved = package.save(model, tmp_path / "m", input_example=x[:3])
    assert (saved.flavor, saved.model_file, saved.safe) == (flavor, file, True)
    assert saved.signature["inputs"] == [{"type": "tensor", "dtype": "float32", "shape": [-1, 4]}]
    assert "numpy" in saved.dependencies
    loaded = package.load(tmp_path / "m")
    expected = model.predict(x) if flavor != "onnx" else None
    got = loaded.predict(x)
    if flavor == "onnx":
        assert got.shape == (200,)
    else:
        assert np.array_equal(np.asarray(got), np.asarray(expected))
    assert json.loads((tmp_path / "m" / "input_example.json").read_text())["data"][0][0] == float(
        x[0, 0]
    )


@pytest.mark.parametrize(
    ("make", "types"),
    [(_forest, ["sklearn.tree._tree.Tree"]), (_boosting, ["sklearn.tree._tree.Tree"]),
     (_shifted, [f"{__name__}.Shift"])],
    ids=["random-forest", "gradient-boosting", "custom-type"],
)  # fmt: skip
def test_skops_types_outside_its_default_list_need_trust(
    tmp_path: Path, make: Any, types: list[str]
) -> None:
    import skops.io as sio

    if types[0].startswith("sklearn.tree") and not sio.get_untrusted_types(data=sio.dumps(make())):
        pytest.skip("this skops trusts scikit-learn's tree storage by default")
    model = make()
    saved = package.save(model, tmp_path / "m")
    assert (saved.model_file, saved.safe) == ("model.skops", False)
    assert saved.flavor_options["untrusted_types"] == types  # skops' own list, no prefixes
    with pytest.raises(NotTrusted, match=types[0].replace(".", r"\.")) as info:
        package.load(tmp_path / "m")
    assert info.value.details["digest"] == saved.digest
    x, _ = _data()
    loaded = package.load(tmp_path / "m", trusted_digest=saved.digest)
    assert np.array_equal(loaded.predict(x), model.predict(x))
    with pytest.raises(NotTrusted, match="not trusted by default"):
        package.load(tmp_path / "m", trusted_digest="0" * 64)  # trust names one digest


def test_pytorch_programs_need_trust(tmp_path: Path) -> None:
    """torch.export.load unpickles the archive's weights: a .pt2 carries code."""
    torch = pytest.importorskip("torch")
    net = torch.nn.Sequential(torch.nn.Linear(4, 8), torch.nn.ReLU(), torch.nn.Linear(8, 2))
    x, _ = _data()
    saved = package.save(net, tmp_path / "m", input_example=x[:3])
    assert (saved.flavor, saved.model_file, saved.safe) == ("pytorch", "model.pt2", False)
    with pytest.raises(NotTrusted, match="runs code when loaded"):
        package.load(tmp_path / "m")
    loaded = package.load(tmp_path / "m", trusted=True)
    with torch.no_grad():
        expected = net(torch.as_tensor(x)).numpy()
    assert np.allclose(loaded.predict(x), expected, atol=1e-6)  # any batch size


class Doubler:
    def predict(self, x: Any) -> Any:
        return np.asarray(x) * 2


@pytest.mark.parametrize(
    ("model", "options"),
    [(Doubler(), {}), (None, {"serialization": "pickle"})],
    ids=["python-class", "sklearn-pickle"],
)
def test_code_carrying_formats_need_trust(
    tmp_path: Path, model: Any, options: dict[str, Any]
) -> None:
    model = model if model is not None else _sklearn()
    saved = package.save(model, tmp_path / "m", **options)
    assert saved.safe is False
    with pytest.raises(NotTrusted, match="runs code when loaded") as info:
        package.load(tmp_path / "m")
    assert info.value.details["digest"] == saved.digest
    # a manifest edited to claim safety no longer matches the package digest a user trusted
    data = json.loads((tmp_path / "m" / manifest.MANIFEST).read_text())
    data["safe"] = True
    assert manifest.Manifest.from_json(data).digest != saved.digest
    x, _ = _data()
    assert np.asarray(package.load(tmp_path / "m", trusted=True).predict(x)).shape[0] == 200


def test_tampered_files_are_refused(tmp_path: Path) -> None:
    package.save(_sklearn(), tmp_path / "m")
    (tmp_path / "m" / "model.skops").write_bytes(b"swapped")
    with pytest.raises(DigestMismatch, match="does not match its manifest digest"):
        package.load(tmp_path / "m", trusted=True)
