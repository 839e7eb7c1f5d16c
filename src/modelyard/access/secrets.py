"""Credentials as text: API tokens (made, parsed, hashed), passwords (argon2), and masking.

A token is ``myt_<id>_<secret>``: the id finds its row, the SHA-256 of the secret is compared in
constant time (a token is 256 random bits, so a fast hash is enough; argon2 is for passwords,
which people choose). :func:`mask` hides tokens and well-known secret shapes in any text.
"""

from __future__ import annotations

import functools
import hashlib
import hmac
import re
import secrets
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from argon2 import PasswordHasher

TOKEN_PREFIX = "myt_"
_TOKEN = re.compile(r"^myt_([a-z0-9]{12})_([A-Za-z0-9_-]{43})$")
MIN_PASSWORD = 8


def new_token() -> tuple[str, str, str]:
    """``(token id, the whole token to show once, the hash to store)``."""
    token_id = "".join(secrets.choice("abcdefghijklmnopqrstuvwxyz0123456789") for _ in range(12))
    secret = secrets.token_urlsafe(32)
    return token_id, f"{TOKEN_PREFIX}{token_id}_{secret}", secret_hash(secret)


def parse_token(text: str) -> tuple[str, str] | None:
    """``(token id, secret)`` of a well-formed token, else None."""
    found = _TOKEN.match(text.strip())
    return (found.group(1), found.group(2)) if found else None


def secret_hash(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def secret_matches(secret: str, stored_hash: str) -> bool:
    return hmac.compare_digest(secret_hash(secret), stored_hash)


def new_secret(nbytes: int = 32) -> str:
    """A random URL-safe secret (session ids, CSRF tokens, generated passwords)."""
    return secrets.token_urlsafe(nbytes)


@functools.cache
def _hasher() -> PasswordHasher:
    from argon2 import PasswordHasher  # loaded by the server, not by the SDK's masking

    return PasswordHasher()  # argon2id with the library's (RFC 9106 low-memory) parameters


def hash_password(password: str) -> str:
    return _hasher().hash(password)


def verify_password(password: str, stored_hash: str | None) -> bool:
    """True when ``password`` matches; a missing hash still costs one hash (no timing oracle)."""
    if stored_hash is None:
        _hasher().hash(password)
        return False
    from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

    try:
        return _hasher().verify(stored_hash, password)
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


# Well-known secret shapes: ours, then AWS access keys, GitHub, Slack, OpenAI-style keys.
# Masking keeps a short prefix so people can tell which secret it was.
_SECRET_SHAPES = re.compile(
    r"myt_[a-z0-9]{12}_[A-Za-z0-9_-]{43}"
    r"|mys_[A-Za-z0-9_-]{43}"  # a deployment's serving token
    r"|\b(?:AKIA|ASIA)[A-Z0-9]{16}\b"
    r"|\bgh[pousr]_[A-Za-z0-9]{36,}\b"
    r"|\bxox[abprs]-[A-Za-z0-9-]{10,}\b"
    r"|\bsk-[A-Za-z0-9_-]{20,}\b"
)
# Private key blocks, found by their markers in one pass each (a regex spanning BEGIN to END
# scans ahead from every BEGIN: 64 KiB of BEGIN markers took a second of CPU).
_KEY_BEGIN = re.compile(r"-----BEGIN [A-Z ]{0,40}PRIVATE KEY-----")
_KEY_END = re.compile(r"-----END [A-Z ]{0,40}PRIVATE KEY-----")
MAX_KEY_BLOCK = 8192  # characters between the markers


# Every shape holds one of these: texts without any (nearly all) skip the slower search above.
_HINTS = re.compile(r"my[ts]_|AKIA|ASIA|gh[pousr]_|xox[abprs]-|sk-|PRIVATE KEY")


def _may_hold(text: str) -> bool:
    return (
        len(text) >= 16
        and ("_" in text or "-" in text or "AKIA" in text or "ASIA" in text)
        and _HINTS.search(text) is not None
    )


def _key_blocks(text: str) -> list[tuple[int, int]]:
    """``(start, end)`` of each private key block: a BEGIN marker and the first END marker
    after it, at most :data:`MAX_KEY_BLOCK` characters on; linear in the text."""
    if "PRIVATE KEY" not in text:
        return []
    ends = [(m.start(), m.end()) for m in _KEY_END.finditer(text)]
    out: list[tuple[int, int]] = []
    i = 0  # the first END marker not yet passed
    for begin in _KEY_BEGIN.finditer(text):
        if out and begin.start() < out[-1][1]:
            continue  # inside the block just found
        while i < len(ends) and ends[i][0] < begin.end():
            i += 1
        if i == len(ends):
            break
        if ends[i][0] - begin.end() <= MAX_KEY_BLOCK:
            out.append((begin.start(), ends[i][1]))
    return out


def mask(text: str) -> str:
    """``text`` with every secret it holds replaced by its first characters and ``****``."""
    if not _may_hold(text):
        return text
    blocks = _key_blocks(text)
    if blocks:
        parts, at = [], 0
        for start, stop in blocks:
            parts += [text[at:start], text[start : start + 4], "****"]
            at = stop
        text = "".join([*parts, text[at:]])
    return _SECRET_SHAPES.sub(lambda m: m.group(0)[:4] + "****", text)


def holds_secret(text: str) -> bool:
    return _may_hold(text) and (_SECRET_SHAPES.search(text) is not None or bool(_key_blocks(text)))
