"""Which Client a URI gets: a server's REST API for http(s)://, else the embedded store."""

from __future__ import annotations

# Imported here, before the SDK installs its exit flush, so that the shared pools and stores
# these modules close at exit are closed after that flush (atexit runs handlers in reverse).
from modelyard import embedded as embedded
from modelyard.tracking import http as http
from modelyard.tracking.client import Client, is_http, resolve_uri


def client_for(uri: str | None = None) -> Client:
    """``my.Client(uri)``: an HttpClient for a server, a LocalClient for an embedded store."""
    resolved = resolve_uri(uri)
    if is_http(resolved):
        from modelyard.tracking.http_client import HttpClient

        return HttpClient(resolved)
    from modelyard.tracking.local_client import LocalClient

    return LocalClient(resolved)
