"""Rules every name and value must pass before it reaches the store."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Mapping

from modelyard import config
from modelyard.access.secrets import mask
from modelyard.errors import InvalidInput

MAX_KEY_LENGTH = 250
MAX_NAME_LENGTH = 500
MAX_NOTES_BYTES = 1_048_576
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
RUN_ID = re.compile(r"^[0-9a-f]{32}$")
_DIGITS = re.compile(r"^[0-9]{1,19}$")
MAX_INT64 = (1 << 63) - 1
MIN_PARAM_LIMIT = 1024  # MODELYARD_MAX_PARAM_BYTES below this counts as this


def clean_name(value: object, what: str, max_length: int = MAX_NAME_LENGTH) -> str:
    """NFC-normalise a name; refuse empty, over-long or control characters."""
    if not isinstance(value, str):
        raise InvalidInput(f"{what} must be a string, got {type(value).__name__}", field=what)
    name = unicodedata.normalize("NFC", value).strip()
    if not name:
        raise InvalidInput(f"{what} must not be empty", field=what)
    if len(name) > max_length:
        raise InvalidInput(f"{what} is longer than {max_length} characters", field=what)
    if _CONTROL.search(name):
        raise InvalidInput(f"{what} must not contain control characters", field=what)
    if not name.isascii():
        _check_visible(name, what)
    return name


def _check_visible(name: str, what: str) -> None:
    """Refuse lone surrogates and format characters (U+202E and the other direction marks,
    zero-width characters, the BOM): they make two names look alike or read backwards."""
    for ch in name:
        kind = unicodedata.category(ch)
        if kind == "Cs":
            raise InvalidInput(f"{what} is not valid Unicode (a lone surrogate)", field=what)
        if kind == "Cf":
            raise InvalidInput(
                f"{what} must not contain invisible or direction-changing characters "
                f"(found U+{ord(ch):04X})",
                field=what,
            )


def clean_key(value: object, what: str = "key") -> str:
    """A param, metric or tag key."""
    return clean_name(value, what, MAX_KEY_LENGTH)


def clean_value(value: object, what: str) -> str:
    """A param or tag value: stored as text, NFC-normalised, size-capped, and any secret it
    holds (an API token, a cloud key: ``access.secrets.mask``) masked."""
    if isinstance(value, bool):
        text = str(value)
    elif isinstance(value, str):
        text = value
    elif isinstance(value, int | float):
        text = repr(value) if isinstance(value, float) else str(value)
    elif value is None:
        raise InvalidInput(f"{what} must not be null", field=what)
    else:
        text = str(value)
    text = unicodedata.normalize("NFC", text)
    # a text of at most MIN_PARAM_LIMIT // 4 characters fits any allowed limit: skip the lookup
    long = len(text) > MIN_PARAM_LIMIT // 4
    limit = max(MIN_PARAM_LIMIT, config.MAX_PARAM_BYTES.get()) if long else 0
    if limit and len(text.encode()) > limit:
        raise InvalidInput(
            f"{what} is {len(text.encode())} bytes; the limit is {limit} "
            "(MODELYARD_MAX_PARAM_BYTES). Log large content as an artifact.",
            field=what,
            limit=limit,
        )
    if "\x00" in text:
        raise InvalidInput(f"{what} must not contain NUL characters", field=what)
    if not text.isascii() and any(unicodedata.category(c) == "Cs" for c in text):
        raise InvalidInput(f"{what} is not valid Unicode (a lone surrogate)", field=what)
    return mask(text)


def clean_pairs(values: Mapping[str, object] | None, what: str) -> dict[str, str]:
    """Keys and values of params or tags, each cleaned (``what``: "param" or "tag")."""
    return {
        clean_key(k, f"{what} key"): clean_value(x, f"{what} {k!r}")
        for k, x in (values or {}).items()
    }


def plain_int(value: object, what: str) -> int:
    """An id, version or offset sent as text: ASCII digits only (not ``²`` or ``٣``), 64 bits."""
    if not isinstance(value, str) or not _DIGITS.match(value) or int(value) > MAX_INT64:
        raise InvalidInput(f"{what} must be a whole number below 2^63, got {value!r}", field=what)
    return int(value)


def clean_run_id(value: object) -> str:
    if not isinstance(value, str) or not RUN_ID.match(value):
        raise InvalidInput("run id must be 32 lowercase hex characters", field="run_id")
    return value


def clean_text(value: object, what: str, max_chars: int | None = None) -> str:
    """Text a person wrote (a description, a reason, notes): a string of at most ``max_chars``,
    without NUL (PostgreSQL cannot store it, so SQLite must not either) or lone surrogates."""
    if not isinstance(value, str) or (max_chars is not None and len(value) > max_chars):
        limit = f" of at most {max_chars:,} characters" if max_chars is not None else ""
        raise InvalidInput(f"{what} must be text{limit}", field=what)
    if "\x00" in value:
        raise InvalidInput(f"{what} must not contain NUL characters", field=what)
    if not value.isascii() and any(unicodedata.category(c) == "Cs" for c in value):
        raise InvalidInput(f"{what} is not valid Unicode (a lone surrogate)", field=what)
    return value


def clean_notes(value: object) -> str:
    text = clean_text(value, "notes")
    if len(text.encode()) > MAX_NOTES_BYTES:
        raise InvalidInput(f"notes exceed {MAX_NOTES_BYTES} bytes", field="notes")
    return mask(unicodedata.normalize("NFC", text))
