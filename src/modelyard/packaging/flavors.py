"""One class per model library: how to save without code where possible, and how to load.

The loader picks a flavor from this fixed table by the manifest's ``flavor`` name, and each
flavor declares the file formats it reads and whether loading each can run code. Whether a
package needs trust comes from this table and the files present, never from the manifest: a
model can never add a flavor, add a format or widen what is trusted.
"""

from __future__ import annotations

import functools
import importlib.abc
import sys
import threading
from importlib.machinery import ModuleSpec
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path, PurePosixPath
from types import ModuleType
from typing import Any, ClassVar

from ..errors import InvalidInput, NotTrusted


@functools.cache
def _installed_version(dist: str) -> str | None:
    """Read once per process: parsing a distribution's metadata costs ~1 ms each time."""
    try:
        return version(dist).split("+")[0]
    except PackageNotFoundError:
        return None


class _Hidden(importlib.abc.MetaPathFinder):
    """Makes one package look absent, to imports made by one thread only."""

    def __init__(self, package: str) -> None:
        self.package = package
        self.thread = threading.get_ident()

    def find_spec(self, name: str, path: Any, target: Any = None) -> ModuleSpec | None:
        if threading.get_ident() == self.thread and name.split(".")[0] == self.package:
            raise ModuleNotFoundError(f"No module named {name!r}", name=name)
        return None


_SKOPS_IMPORT = threading.Lock()
_skops: list[ModuleType] = []  # set once skops.io is fully imported


def skops_io() -> ModuleType:
    """``skops.io``, imported without torch unless torch is already loaded.

    skops lists its trusted types by importing every scikit-learn module, and scikit-learn's
    array-API shim then imports torch when it is installed: seconds and ~300 MiB that a
    scikit-learn model never uses. Hidden from this import only (other threads see torch);
    threads that ask meanwhile wait for the whole import, never see half a module.
    """
    if _skops:
        return _skops[0]
    with _SKOPS_IMPORT:
        if not _skops:
            hidden = None if "torch" in sys.modules else _Hidden("torch")
            if hidden is not None:
                sys.meta_path.insert(0, hidden)
            try:
                import skops.io  # noqa: F401 (read back from sys.modules)
            finally:
                if hidden is not None:
                    sys.meta_path.remove(hidden)
            _skops.append(sys.modules["skops.io"])
    return _skops[0]


def installed(*dists: str) -> dict[str, str]:
    found = {dist: _installed_version(dist) for dist in dists}
    return {dist: v for dist, v in found.items() if v is not None}


class Flavor:
    name: ClassVar[str]
    dependencies: ClassVar[tuple[str, ...]] = ("numpy",)
    formats: ClassVar[dict[str, bool]]  # file suffix -> whether loading that format runs code

    def handles(self, model: Any) -> bool:
        raise NotImplementedError

    def save(self, model: Any, folder: Path, options: dict[str, Any]) -> str:
        """Write the model into ``folder``; returns its main file (one of ``formats``)."""
        raise NotImplementedError

    def load(self, folder: Path, file: str, options: dict[str, Any], trusted: bool) -> Any:
        """Called only after the package was checked; code-carrying formats only when trusted."""
        raise NotImplementedError

    def carries_code(self, file: str) -> bool:
        """Whether loading ``file`` can run code, by its suffix; a format not in the table is
        refused."""
        suffix = PurePosixPath(file).suffix
        if suffix not in self.formats:
            raise InvalidInput(
                f"{self.name} models are files ending in {sorted(self.formats)}, not {file!r}",
                field="model_file",
            )
        return self.formats[suffix]

    def untrusted(self, folder: Path, file: str) -> list[str]:
        """What in a code-free file still needs trust (e.g. skops types); read, never loaded."""
        return []


def _refuse(flavor: str, file: str) -> NotTrusted:
    return NotTrusted(
        f"this {flavor} model is saved in a format that runs code when loaded ({file}); "
        "trust its package first (`modelyard models trust NAME VERSION --reason ...`)"
    )


def _module(model: Any) -> str:
    return type(model).__module__.split(".")[0]


class Sklearn(Flavor):
    """skops (no pickle) by default; ``serialization="pickle"`` (joblib) needs trust to load.

    A skops file carries no code, but the types it rebuilds must be in skops' own default
    trusted list; any other type (a custom class, and in recent skops scikit-learn's tree
    storage, whose node indices are not bounds-checked) needs trust too.
    """

    name = "sklearn"
    dependencies = ("scikit-learn", "skops", "numpy", "scipy")
    formats: ClassVar[dict[str, bool]] = {".skops": False, ".joblib": True, ".pkl": True}

    def handles(self, model: Any) -> bool:
        return (
            _module(model) == "sklearn"
            or hasattr(model, "_get_tags")
            or hasattr(model, "__sklearn_tags__")
        )

    def save(self, model: Any, folder: Path, options: dict[str, Any]) -> str:
        if options.get("serialization") == "pickle":
            import joblib

            joblib.dump(model, folder / "model.joblib")
            return "model.joblib"
        sio = skops_io()
        sio.dump(model, folder / "model.skops")
        options["untrusted_types"] = self.untrusted(folder, "model.skops")  # a record only
        return "model.skops"

    def untrusted(self, folder: Path, file: str) -> list[str]:
        """Types outside skops' default trusted list (skops reads the file's schema only)."""
        if self.carries_code(file):
            return []
        import zipfile

        sio = skops_io()
        try:
            return sorted(sio.get_untrusted_types(file=folder / file))
        except zipfile.BadZipFile as exc:  # e.g. a pickle under a .skops name: never unpickled
            raise InvalidInput(f"{file} is not a skops file: {exc}", field="model_file") from exc

    def load(self, folder: Path, file: str, options: dict[str, Any], trusted: bool) -> Any:
        path = folder / file
        if self.carries_code(file):
            if not trusted:
                raise _refuse(self.name, file)
            import joblib

            return joblib.load(path)
        sio = skops_io()
        found = self.untrusted(folder, file)
        if found and not trusted:
            raise NotTrusted(
                f"the model holds types skops does not trust by default: {found}; trust its "
                "package first (`modelyard models trust NAME VERSION --reason ...`)",
                types=found,
            )
        return sio.load(path, trusted=found or None)


class XGBoost(Flavor):
    """Native UBJSON: trees and parameters only."""

    name = "xgboost"
    dependencies = ("xgboost", "numpy", "scikit-learn")
    formats: ClassVar[dict[str, bool]] = {".ubj": False, ".json": False}
    _CLASSES = ("XGBClassifier", "XGBRegressor", "XGBRanker", "Booster")

    def handles(self, model: Any) -> bool:
        return _module(model) == "xgboost"

    def save(self, model: Any, folder: Path, options: dict[str, Any]) -> str:
        cls = type(model).__name__
        if cls not in self._CLASSES:
            raise InvalidInput(f"xgboost model class {cls} is not one of {self._CLASSES}")
        options["class"] = cls
        model.save_model(folder / "model.ubj")
        return "model.ubj"

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
    formats: ClassVar[dict[str, bool]] = {".txt": False}

    def handles(self, model: Any) -> bool:
        return _module(model) == "lightgbm"

    def save(self, model: Any, folder: Path, options: dict[str, Any]) -> str:
        booster = getattr(model, "booster_", model)
        booster.save_model(str(folder / "model.txt"))
        classes = getattr(model, "classes_", None)
        if classes is not None:
            options["classes"] = [c.item() if hasattr(c, "item") else c for c in classes]
        return "model.txt"

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
    """``torch.export`` programs (.pt2): graph and weights, no Python source.

    ``torch.export.load`` unpickles the weights and constants in the archive (torch's own docs:
    never load one from an untrusted source), so a .pt2 needs trust like any pickle.
    """

    name = "pytorch"
    dependencies = ("torch", "numpy")
    formats: ClassVar[dict[str, bool]] = {".pt2": True}

    def handles(self, model: Any) -> bool:
        return _module(model) == "torch"

    def save(self, model: Any, folder: Path, options: dict[str, Any]) -> str:
        import torch

        example = options.pop("example", None)
        if example is None:
            raise InvalidInput("a PyTorch model needs input_example (torch.export traces it)")
        x = example if isinstance(example, torch.Tensor) else torch.as_tensor(example)
        batch = torch.export.Dim("batch")
        program = torch.export.export(model.eval(), (x,), dynamic_shapes=({0: batch},))
        torch.export.save(program, folder / "model.pt2")
        return "model.pt2"

    def load(self, folder: Path, file: str, options: dict[str, Any], trusted: bool) -> Any:
        if self.carries_code(file) and not trusted:
            raise _refuse(self.name, file)
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
    formats: ClassVar[dict[str, bool]] = {".onnx": False}

    def handles(self, model: Any) -> bool:
        return type(model).__name__ == "ModelProto"

    def save(self, model: Any, folder: Path, options: dict[str, Any]) -> str:
        (folder / "model.onnx").write_bytes(model.SerializeToString())
        return "model.onnx"

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
    formats: ClassVar[dict[str, bool]] = {".cloudpickle": True}  # every format here is code

    def handles(self, model: Any) -> bool:
        return callable(getattr(model, "predict", None))

    def save(self, model: Any, folder: Path, options: dict[str, Any]) -> str:
        import cloudpickle

        (folder / "model.cloudpickle").write_bytes(cloudpickle.dumps(model))
        return "model.cloudpickle"

    def load(self, folder: Path, file: str, options: dict[str, Any], trusted: bool) -> Any:
        if not trusted:
            raise _refuse(self.name, file)
        import pickle

        return pickle.loads((folder / file).read_bytes())


FLAVORS: dict[str, Flavor] = {
    f.name: f for f in (XGBoost(), LightGBM(), PyTorch(), Onnx(), Sklearn(), Python())
}


def named(name: str) -> Flavor:
    """The flavor of this name from the fixed table; any other name is refused."""
    flavor = FLAVORS.get(name) if isinstance(name, str) else None
    if flavor is None:
        raise InvalidInput(
            f"flavor {name!r} is not one of {sorted(FLAVORS)}: nothing loads it", field="flavor"
        )
    return flavor


def for_model(model: Any, name: str | None = None) -> Flavor:
    """The flavor named, or the first that recognises the model (library wrappers before
    scikit-learn, whose estimator API they share; python last)."""
    if name is not None:
        return named(name)
    for flavor in FLAVORS.values():
        if flavor.handles(model):
            return flavor
    raise InvalidInput(
        f"no flavor saves a {type(model).__name__}; give it a predict() method or pick a flavor"
    )
