"""Which values a filter field takes in an experiment: the filter box completes them."""

from __future__ import annotations

import re

from modelyard.errors import InvalidInput
from modelyard.store.metadata import run_values
from modelyard.store.metadata.database import Database

ATTRIBUTES = frozenset({"status", "user", "name"})
MAX_LIMIT = 200
_KIND = {"params": "params", "param": "params", "tags": "tags", "tag": "tags"}
_FIELD = re.compile(r"^(params|param|tags|tag)\.(`[^`]+`|\S.*)$")


def parse_field(field: str) -> tuple[str, str]:
    """``params.lr`` to ``("params", "lr")``; ``status`` to ``("attributes", "status")``."""
    text = field.strip()
    if text.lower() in ATTRIBUTES:
        return "attributes", text.lower()
    m = _FIELD.match(text)
    if not m:
        raise InvalidInput(
            f"values are known for params.<key>, tags.<key>, status, user and name, not {field!r}",
            field="field",
        )
    key = m.group(2)
    if key.startswith("`") and key.endswith("`"):
        key = key[1:-1]
    return _KIND[m.group(1)], key


def field_values(
    db: Database, experiment_id: int, field: str, prefix: str = "", limit: int = 50
) -> list[str]:
    """Distinct values of ``field`` among the experiment's active runs, starting with ``prefix``."""
    if not 1 <= limit <= MAX_LIMIT:
        raise InvalidInput(f"limit must be between 1 and {MAX_LIMIT}", field="limit")
    kind, key = parse_field(field)
    with db.read() as conn:
        return run_values.distinct_values(conn, experiment_id, kind, key, prefix, limit)
