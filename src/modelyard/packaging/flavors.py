"""One class per model library: how to save without code where possible, and how to load.

The loader picks a flavor from this fixed table by the manifest's ``flavor`` name; a model can
never add a flavor or widen what is trusted.
"""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any, ClassVar

from ..errors import InvalidInput, NotTrusted


def installed(*dists: str) -> dict[str, str]:
    out = {}
    for dist in dists:
        try:
            out[dist] = version(dist).split("+")[0]
        except PackageNotFoundError:
            continue
    return out


class Flavor:
    name: ClassVar[str]
    dependencies: ClassVar[tuple[str, ...]] = ("numpy",)

    def handles(self, model: Any) -> bool:
        raise NotImplementedError

    def save(self, model: Any, folder: Path, options: dict[str, Any]) -> tuple[str, bool]:
        """Write the model into ``folder``; returns (main file, whether the format is safe)."""
        raise NotImplementedError

    def load(self, folder: Path, file: str, options: dict[str, Any], trusted: bool) -> Any:
        raise NotImplementedError


def _module(model: Any) -> str:
    return type(model).__module__.split(".")[0]


class Sklearn(Flavor):
    """skops (no pickle) by default; ``serialization="pickle"`` needs trust to load."""

    name = "sklearn"
    dependencies = ("scikit-learn", "skops", "numpy", "scipy")

    def handles(self, model: Any) -> bool:
        return (
            _module(model) == "sklearn"
            or hasattr(model, "_get_tags")
            or hasattr(model, "__sklearn_tags__")
        )

    def save(self, model: Any, folder: Path, options: dict[str, Any]) -> tuple[str, bool]:
        if options.get("serialization") == "pickle":
            import joblib

            joblib.dump(model, folder / "model.joblib")
            return "model.joblib", False
        import skops.io as sio

        sio.dump(model, folder / "model.skops")
        custom = _outside_libraries(sio.get_untrusted_types(file=folder / "model.skops"))
        options["custom_types"] = custom  # loading these needs trust
        return "model.skops", not custom

    def load(self, folder: Path, file: str, options: dict[str, Any], trusted: bool) -> Any:
        path = folder / file
        if file.endswith(".joblib"):
            import joblib

            return joblib.load(path)  # reached only when trusted (the loader checks)
        import skops.io as sio

        found = sio.get_untrusted_types(file=path)
        custom = _outside_libraries(found)
        if custom and not trusted:
            raise NotTrusted(
                f"the model uses types outside the known libraries: {custom}", types=custom
            )
        return sio.load(path, trusted=found or None)


# Types from these installed libraries may be rebuilt by skops: the list is ours, not the model's.
LIBRARY_TYPES = ("sklearn.", "numpy.", "scipy.")


def _outside_libraries(types: list[str]) -> list[str]:
    return [t for t in types if not t.startswith(LIBRARY_TYPES)]


class XGBoost(Flavor):
    """Native UBJSON: trees and parameters only."""

    name = "xgboost"
    dependencies = ("xgboost", "numpy", "scikit-learn")
    _CLASSES = ("XGBClassifier", "XGBRegressor", "XGBRanker", "Booster")

    def handles(self, model: Any) -> bool:
        return _module(model) == "xgboost"

    def save(self, model: Any, folder: Path, options: dict[str, Any]) -> tuple[str, bool]:
        cls = type(model).__name__
        if cls not in self._CLASSES:
            raise InvalidInput(f"xgboost model class {cls} is not one of {self._CLASSES}")
        options["class"] = cls
        model.save_model(folder / "model.ubj")
        return "model.ubj", True

    def load(self, folder: Path, file: str, options: dict[str, Any], trusted: bool) -> Any:
        import xgboost

        cls = options.get("class", "Booster")
        if cls not in self._CLASSES:
            raise InvalidInput(f"xgboost model class {cls!r} is not allowed")
        model = getattr(xgboost, cls)()
        model.load_model(folder / file)
        return model


class LightGBM(Flavor):
    """LightGBM's text model format; a scikit-learn wrapper keeps its classes for predict."""

    name = "lightgbm"
    dependencies = ("lightgbm", "numpy")

    def handles(self, model: Any) -> bool:
        return _module(model) == "lightgbm"

    def save(self, model: Any, folder: Path, options: dict[str, Any]) -> tuple[str, bool]:
        booster = getattr(model, "booster_", model)
        booster.save_model(str(folder / "model.txt"))
        classes = getattr(model, "classes_", None)
        if classes is not None:
            options["classes"] = [c.item() if hasattr(c, "item") else c for c in classes]
        return "model.txt", True

    def load(self, folder: Path, file: str, options: dict[str, Any], trusted: bool) -> Any:
        import lightgbm

        booster = lightgbm.Booster(model_file=str(folder / file))
        classes = options.get("classes")
        return _Classified(booster, classes) if classes is not None else booster


class _Classified:
    """A LightGBM booster that answers class labels, like the estimator it was saved from."""

    def __init__(self, booster: Any, classes: list[Any]) -> None:
        self.booster, self.classes = booster, classes

    def predict_proba(self, x: Any) -> Any:
        import numpy as np

        raw = np.asarray(self.booster.predict(x))
        return np.column_stack([1 - raw, raw]) if raw.ndim == 1 else raw

    def predict(self, x: Any) -> Any:
        import numpy as np

        return np.asarray(self.classes)[self.predict_proba(x).argmax(axis=1)]


class PyTorch(Flavor):
    """``torch.export`` programs (.pt2): graph and weights, no Python code, no pickle."""

    name = "pytorch"
    dependencies = ("torch", "numpy")

    def handles(self, model: Any) -> bool:
        return _module(model) == "torch"

    def save(self, model: Any, folder: Path, options: dict[str, Any]) -> tuple[str, bool]:
        import torch

        example = options.pop("example", None)
        if example is None:
            raise InvalidInput("a PyTorch model needs input_example (torch.export traces it)")
        x = example if isinstance(example, torch.Tensor) else torch.as_tensor(example)
        batch = torch.export.Dim("batch")
        program = torch.export.export(model.eval(), (x,), dynamic_shapes=({0: batch},))
        torch.export.save(program, folder / "model.pt2")
        return "model.pt2", True

    def load(self, folder: Path, file: str, options: dict[str, Any], trusted: bool) -> Any:
        import torch

        return _Tensors(torch.export.load(folder / file).module())


class _Tensors:
    """Accepts numpy or lists, answers numpy: the same predict() as the other flavors."""

    def __init__(self, module: Any) -> None:
        self.module = module

    def predict(self, x: Any) -> Any:
        import numpy as np
        import torch

        with torch.no_grad():
            out = self.module(torch.as_tensor(np.asarray(x, dtype=np.float32)))
        return out.numpy()


class Onnx(Flavor):
    name = "onnx"
    dependencies = ("onnxruntime", "numpy")

    def handles(self, model: Any) -> bool:
        return type(model).__name__ == "ModelProto"

    def save(self, model: Any, folder: Path, options: dict[str, Any]) -> tuple[str, bool]:
        (folder / "model.onnx").write_bytes(model.SerializeToString())
        return "model.onnx", True

    def load(self, folder: Path, file: str, options: dict[str, Any], trusted: bool) -> Any:
        import onnxruntime

        session = onnxruntime.InferenceSession(
            str(folder / file), providers=["CPUExecutionProvider"]
        )
        return _Session(session)


class _Session:
    def __init__(self, session: Any) -> None:
        self.session = session

    def predict(self, x: Any) -> Any:
        import numpy as np

        first = self.session.get_inputs()[0]
        dtype = np.int64 if "int64" in first.type else np.float32
        return self.session.run(None, {first.name: np.asarray(x, dtype=dtype)})[0]


class Python(Flavor):
    """Any object with ``predict``, saved with cloudpickle: it carries code, so it needs trust."""

    name = "python"
    dependencies = ("cloudpickle", "numpy")

    def handles(self, model: Any) -> bool:
        return callable(getattr(model, "predict", None))

    def save(self, model: Any, folder: Path, options: dict[str, Any]) -> tuple[str, bool]:
        import cloudpickle

        (folder / "model.cloudpickle").write_bytes(cloudpickle.dumps(model))
        return "model.cloudpickle", False

    def load(self, folder: Path, file: str, options: dict[str, Any], trusted: bool) -> Any:
        import pickle

        return pickle.loads((folder / file).read_bytes())  # reached only when trusted


FLAVORS: dict[str, Flavor] = {
    f.name: f for f in (XGBoost(), LightGBM(), PyTorch(), Onnx(), Sklearn(), Python())
}


def for_model(model: Any, name: str | None = None) -> Flavor:
    """The flavor named, or the first that recognises the model (library wrappers before
    scikit-learn, whose estimator API they share; python last)."""
    if name is not None:
        if name not in FLAVORS:
            raise InvalidInput(f"flavor {name!r} is not one of {sorted(FLAVORS)}")
        return FLAVORS[name]
    for flavor in FLAVORS.values():
        if flavor.handles(model):
            return flavor
    raise InvalidInput(
        f"no flavor saves a {type(model).__name__}; give it a predict() method or pick a flavor"
    )
