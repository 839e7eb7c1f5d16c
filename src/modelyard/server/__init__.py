"""The HTTP server: create_app() builds the ASGI app over the domain services."""

from modelyard.server.app import create_app

__all__ = ["create_app"]
