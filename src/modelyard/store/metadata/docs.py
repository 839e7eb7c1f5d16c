"""JSON documents kept on a row (tags and params of small tables)."""

from __future__ import annotations

import orjson

from modelyard.errors import NotFound


def merge(
    doc: str | dict[str, str], add: dict[str, str] | None, remove: str | None, owner: str
) -> str:
    """``doc`` with ``add`` set and ``remove`` deleted (NotFound if it is not there)."""
    merged = {**(orjson.loads(doc) if isinstance(doc, str) else doc), **(add or {})}
    if remove is not None:
        if remove not in merged:
            raise NotFound(f"tag {remove!r} is not set on {owner}", key=remove)
        del merged[remove]
    return orjson.dumps(merged).decode()
