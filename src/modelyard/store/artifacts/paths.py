"""The one function that turns an artifact path from a caller into a safe key under a root."""

from __future__ import annotations

import os
import re
import unicodedata
from pathlib import Path
from urllib.parse import unquote

from modelyard.errors import PathNotAllowed

_DRIVE = re.compile(r"^[A-Za-z]:")
MAX_PATH_BYTES = 1024


def clean_relative(path: str, *, allow_empty: bool = False) -> str:
    """A relative artifact path: percent-decoded, NFC, no '..', no absolute, no backslash."""
    if not isinstance(path, str):
        raise PathNotAllowed("artifact path must be a string")
    decoded = path
    for _ in range(3):  # decode nested encodings (%252e%252e -> %2e%2e -> ..)
        nxt = unquote(decoded)
        if nxt == decoded:
            break
        decoded = nxt
    else:
        if unquote(decoded) != decoded:  # still encoded: its key would change if cleaned again
            raise PathNotAllowed(f"artifact path {path!r} is percent-encoded too many times")
    decoded = unicodedata.normalize("NFC", decoded)
    if "\x00" in decoded or "\\" in decoded:
        raise PathNotAllowed(f"artifact path {path!r} contains a backslash or NUL", path=path)
    if decoded.startswith("/") or _DRIVE.match(decoded):
        raise PathNotAllowed(f"artifact path {path!r} must be relative", path=path)
    parts = [p for p in decoded.split("/") if p not in ("", ".")]
    if any(p == ".." for p in parts):
        raise PathNotAllowed(f"artifact path {path!r} must not contain '..'", path=path)
    if not parts and not allow_empty:
        raise PathNotAllowed("artifact path must not be empty", path=path)
    clean = "/".join(parts)
    if len(clean.encode()) > MAX_PATH_BYTES:
        raise PathNotAllowed(f"artifact path is longer than {MAX_PATH_BYTES} bytes", path=path[:80])
    return clean


def resolve_under(root: Path, key: str) -> Path:
    """The filesystem path of ``key`` under ``root``; symlinks may not lead out of the root."""
    clean = clean_relative(key, allow_empty=True)
    real_root = Path(os.path.realpath(root))
    target = Path(os.path.realpath(real_root / clean))
    if target != real_root and real_root not in target.parents:
        raise PathNotAllowed(f"artifact path {key!r} leaves the artifact root", path=key)
    return target
