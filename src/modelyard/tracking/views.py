"""Saved views: named, shared query strings of an experiment's runs page.

A view is what the page's URL holds after ``?`` (filter, columns, sort, grouping, charts), so
opening it is opening that URL. The query string is checked as one (the characters a URL query
may hold, well-formed percent escapes, UTF-8), bounded, and kept as given except for a ``view``
parameter (a view that names a view). Names are unique per experiment, which holds at most
200 views.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING
from urllib.parse import parse_qsl

from modelyard.errors import InvalidInput, PayloadTooLarge
from modelyard.store.metadata import experiments_repo, views_repo
from modelyard.store.metadata.database import Database
from modelyard.tracking import validation as v
from modelyard.tracking.view_entities import SavedView

if TYPE_CHECKING:
    from sqlalchemy import Connection

MAX_NAME_LENGTH = 200
MAX_QUERY_BYTES = 8192
MAX_FIELDS = 200  # parameters in one query string
MAX_VIEWS = 200  # views of one experiment
# RFC 3986 query characters: unreserved, sub-delims, ":", "@", "/", "?" and "%" escapes
_QUERY_CHARS = re.compile(r"[A-Za-z0-9\-._~!$&'()*+,;=:@/?%]*")
_BAD_ESCAPE = re.compile(r"%(?![0-9A-Fa-f]{2})")


def clean_view_name(value: object) -> str:
    return v.clean_name(value, "view name", MAX_NAME_LENGTH)


def clean_query(value: object) -> str:
    """A runs page's query string (a leading ``?`` is dropped), or InvalidInput saying why not."""
    if not isinstance(value, str):
        raise InvalidInput("query must be a string", field="query")
    size = len(value.encode())
    if size > MAX_QUERY_BYTES:
        raise PayloadTooLarge(
            f"query is {size:,} bytes; the limit is {MAX_QUERY_BYTES:,}", limit=MAX_QUERY_BYTES
        )
    query = value.removeprefix("?")
    if not _QUERY_CHARS.fullmatch(query):
        bad = next(c for c in query if not _QUERY_CHARS.fullmatch(c))
        raise InvalidInput(
            f"query is not a URL query string: {bad!r} must be percent-encoded", field="query"
        )
    if _BAD_ESCAPE.search(query):
        raise InvalidInput("query has a '%' that does not start a %XX escape", field="query")
    try:
        parse_qsl(query, keep_blank_values=True, errors="strict", max_num_fields=MAX_FIELDS)
    except UnicodeDecodeError as exc:
        raise InvalidInput("query's percent escapes are not UTF-8", field="query") from exc
    except ValueError as exc:
        raise InvalidInput(f"query has more than {MAX_FIELDS} parameters", field="query") from exc
    pairs = [p for p in query.split("&") if p and p.split("=", 1)[0] != "view"]
    return "&".join(pairs)


class SavedViews:
    """Saved views over the metadata store; every call names the experiment the view is of."""

    def __init__(self, db: Database) -> None:
        self.db = db

    def list(self, experiment_id: int) -> list[SavedView]:
        """The experiment's views by name."""
        with self.db.read() as conn:
            experiments_repo.get(conn, experiment_id)
            return views_repo.list_of(conn, experiment_id)

    def get(self, experiment_id: int, view_id: int) -> SavedView:
        with self.db.read() as conn:
            return views_repo.get(conn, experiment_id, view_id)

    def create(self, experiment_id: int, name: object, query: object, *, owner: str) -> SavedView:
        clean_name, clean = clean_view_name(name), clean_query(query)

        def job(conn: Connection) -> SavedView:
            experiments_repo.get(conn, experiment_id)
            return views_repo.create(conn, experiment_id, clean_name, clean, owner, MAX_VIEWS)

        return self.db.write(job)

    def update(
        self, experiment_id: int, view_id: int, *, name: object = None, query: object = None
    ) -> SavedView:
        """Rename the view, or give it another query string (what is None stays)."""
        clean_name = None if name is None else clean_view_name(name)
        clean = None if query is None else clean_query(query)
        return self.db.write(
            lambda conn: views_repo.update(conn, experiment_id, view_id, clean_name, clean)
        )

    def delete(self, experiment_id: int, view_id: int) -> None:
        self.db.write(lambda conn: views_repo.delete(conn, experiment_id, view_id))
