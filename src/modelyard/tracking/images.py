"""``my.log_image``: an image of the active run, stored as ``images/<key>/step_<n>.png``.

The runs page shows one key's images side by side across runs, with a step slider. numpy
arrays are encoded here (no imaging library needed); PIL images are saved by PIL.
"""

from __future__ import annotations

import re
import struct
import tempfile
import threading
import zlib
from pathlib import Path
from typing import Any

from modelyard.errors import InvalidInput
from modelyard.tracking.validation import MAX_INT64, clean_key

FOLDER = "images"
_REFUSED = ("\\", "%", "?", "#")  # a separator elsewhere, or read as a URL's own syntax
_PNG_COLOUR = {1: 0, 3: 2, 4: 6}  # channels -> PNG colour type (grey, RGB, RGBA)
_steps: dict[tuple[str, str], int] = {}
_STEP_FILE = re.compile(r"(?:.*/)?step_(\d{1,19})\.png")
_lock = threading.Lock()


def image_key(key: object) -> str:
    """A key naming a folder under ``images/`` (``val/samples`` nests); never leaves it."""
    clean = clean_key(key, "image key")
    bad = next((c for c in _REFUSED if c in clean), None)
    if bad is not None:
        raise InvalidInput(f"image key {clean!r} must not contain {bad!r}", field="key")
    if any(part in ("", ".", "..") for part in clean.split("/")):
        raise InvalidInput(
            f"image key {clean!r} must be folder names separated by single '/' "
            "(no leading or trailing '/', no '.' or '..')",
            field="key",
        )
    return clean


def image_path(key: str, step: int) -> str:
    """Where the image of ``key`` at ``step`` is stored among the run's artifacts."""
    return f"{FOLDER}/{key}/step_{step}.png"


def _clean_step(step: object) -> int:
    if type(step) is not int or not 0 <= step <= MAX_INT64:
        raise InvalidInput(f"image step must be a whole number >= 0, got {step!r}", field="step")
    return step


def encode_png(pixels: Any) -> bytes:
    """A PNG of a uint8 array shaped HxW, HxWx3 or HxWx4."""
    import numpy as np

    height, width = pixels.shape[:2]
    channels = 1 if pixels.ndim == 2 else pixels.shape[2]
    rows = np.ascontiguousarray(pixels).reshape(height, width * channels)
    raw = np.hstack([np.zeros((height, 1), np.uint8), rows]).tobytes()  # filter 0 per row

    def chunk(kind: bytes, data: bytes) -> bytes:
        crc = struct.pack(">I", zlib.crc32(kind + data))
        return struct.pack(">I", len(data)) + kind + data + crc

    head = struct.pack(">IIBBBBB", width, height, 8, _PNG_COLOUR[channels], 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", head)
        + chunk(b"IDAT", zlib.compress(raw, 6))
        + chunk(b"IEND", b"")
    )


def _array_pixels(image: Any) -> Any:
    """uint8 pixels of an array: uint8 as is, floats in 0..1 scaled to 0..255."""
    import numpy as np

    arr = np.asarray(image)
    if arr.ndim == 3 and arr.shape[2] == 1:
        arr = arr[:, :, 0]
    if arr.ndim not in (2, 3) or (arr.ndim == 3 and arr.shape[2] not in (3, 4)):
        raise InvalidInput(
            f"an image array must be shaped HxW, HxWx3 or HxWx4, got {arr.shape}", field="image"
        )
    if arr.shape[0] == 0 or arr.shape[1] == 0:
        raise InvalidInput(f"an image array must not be empty, got {arr.shape}", field="image")
    if arr.dtype == np.uint8:
        return arr
    if arr.dtype.kind == "f":
        if not np.isfinite(arr).all() or arr.min() < 0 or arr.max() > 1:
            raise InvalidInput(
                "a float image's values must be finite and within 0..1", field="image"
            )
        return np.rint(arr * 255).astype(np.uint8)
    raise InvalidInput(
        f"an image array must be uint8 (0..255) or float (0..1), got {arr.dtype}", field="image"
    )


def _pil_png(image: Any) -> bytes:
    import io

    if image.mode not in ("1", "L", "LA", "P", "RGB", "RGBA", "I", "I;16"):
        image = image.convert("RGBA" if "A" in image.mode else "RGB")
    out = io.BytesIO()
    image.save(out, format="PNG")
    return out.getvalue()


def png_bytes(image: object) -> bytes:
    """The PNG of a numpy array (or anything with ``__array__``) or of a PIL image."""
    if type(image).__module__.startswith("PIL."):
        from PIL import Image

        if isinstance(image, Image.Image):
            return _pil_png(image)
    if hasattr(image, "__array__"):
        return encode_png(_array_pixels(image))
    raise InvalidInput(
        f"an image must be a numpy array or a PIL image, got {type(image).__name__}", field="image"
    )


def _last_stored_step(run: Any, key: str) -> int:
    """The highest step of ``key`` among the run's artifacts (-1 when none): a resumed run's
    next image goes after the ones it logged before."""
    steps = [
        int(match.group(1))
        for row in run.list_artifacts(f"{FOLDER}/{key}")
        if not row.get("is_dir") and (match := _STEP_FILE.fullmatch(str(row.get("path", ""))))
    ]
    return max(steps, default=-1)


def log_image(key: str, image: object, step: int | None = None) -> str:
    """Log ``image`` under ``key`` for the active run; returns its artifact path.

    ``step`` defaults to the key's last step + 1 (from 0; a resumed run goes on after the steps
    it already has); logging the same key and step again replaces that image.
    """
    from modelyard.tracking.fluent import _require_run

    clean = image_key(key)
    chosen = None if step is None else _clean_step(step)
    data = png_bytes(image)
    run = _require_run()
    with _lock:
        if chosen is None:
            last = _steps.get((run.id, clean))
            chosen = (_last_stored_step(run, clean) if last is None else last) + 1
        _steps[(run.id, clean)] = chosen
    path = image_path(clean, chosen)
    with tempfile.TemporaryDirectory() as tmp:
        local = Path(tmp) / "image.png"
        local.write_bytes(data)
        run.log_artifact(local, path)
    return path
