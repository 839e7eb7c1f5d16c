"""JSON responses rendered with orjson (numpy arrays included)."""

from __future__ import annotations

from typing import Any

import orjson
from starlette.responses import Response


class JSONOut(Response):
    media_type = "application/json"

    def render(self, content: Any) -> bytes:
        return orjson.dumps(content, option=orjson.OPT_SERIALIZE_NUMPY)
