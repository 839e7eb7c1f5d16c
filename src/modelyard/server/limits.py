"""ASGI middleware capping request bodies (artifact uploads stream and are exempt)."""

from __future__ import annotations

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from modelyard.errors import PayloadTooLarge
from modelyard.server.errors import error_response

STREAMED = ("/artifacts", "/blobs", "/uploads")  # file bodies stream to disk, capped elsewhere


class BodyLimit:
    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or any(m in scope["path"] for m in STREAMED):
            await self.app(scope, receive, send)
            return
        for name, value in scope["headers"]:
            if name == b"content-length" and value.isdigit() and int(value) > self.max_bytes:
                response = error_response(
                    413,
                    "PAYLOAD_TOO_LARGE",
                    f"request body of {int(value)} bytes exceeds the limit of {self.max_bytes}",
                    limit=self.max_bytes,
                )
                await response(scope, receive, send)
                return
        seen = 0

        async def limited() -> Message:
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > self.max_bytes:
                    raise PayloadTooLarge(
                        f"request body exceeds the limit of {self.max_bytes} bytes",
                        limit=self.max_bytes,
                    )
            return message

        await self.app(scope, limited, send)
