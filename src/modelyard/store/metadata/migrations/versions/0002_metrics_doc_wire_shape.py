"""metrics_doc holds each summary in the API's JSON shape (served without parsing)

Revision ID: 0002
Revises: 0001
"""

import orjson
import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

_FIELDS = ("last", "step", "timestamp", "min", "max", "count")
_runs = sa.table("runs", sa.column("id", sa.String), sa.column("metrics_doc", sa.Text))


def _convert(doc: str, to_wire: bool) -> str:
    data = orjson.loads(doc)
    out: dict[str, object]
    if to_wire:
        out = {k: dict(zip(_FIELDS, v, strict=True)) for k, v in data.items()}
    else:
        out = {k: [v[f] for f in _FIELDS] for k, v in data.items()}
    return orjson.dumps(out).decode()


def _rewrite(to_wire: bool) -> None:
    conn = op.get_bind()
    rows = conn.execute(sa.select(_runs.c.id, _runs.c.metrics_doc)).all()
    updates = [{"rid": rid, "doc": _convert(doc, to_wire)} for rid, doc in rows if doc != "{}"]
    if updates:
        conn.execute(
            _runs.update()
            .where(_runs.c.id == sa.bindparam("rid"))
            .values(metrics_doc=sa.bindparam("doc")),
            updates,
        )


def upgrade() -> None:
    _rewrite(to_wire=True)


def downgrade() -> None:
    _rewrite(to_wire=False)
