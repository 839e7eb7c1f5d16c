"""Runs named on pages that list other things (logged models, a model's versions): every run
name such a page shows in one query, not a query per row."""

from __future__ import annotations

from collections.abc import Iterable

from modelyard.store.metadata import runs_repo
from modelyard.store.metadata.database import Database


def run_names(
    db: Database, run_ids: Iterable[str | None], experiments: set[str] | None = None
) -> dict[str, str]:
    """The name of each run among ``run_ids`` that exists (None and unknown ids are left out);
    with ``experiments`` (the ones the caller may read), only of the runs in them."""
    wanted = sorted({r for r in run_ids if r})
    if not wanted:
        return {}
    with db.read() as conn:
        return runs_repo.names_of(conn, wanted, experiments)
