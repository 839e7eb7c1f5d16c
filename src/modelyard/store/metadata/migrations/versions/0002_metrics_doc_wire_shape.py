"""metrics_doc in the API's JSON shape (served unparsed); the Default experiment has id 0

Revision ID: 0002
Revises: 0001
"""

import time

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


_experiments = sa.table(
    "experiments",
    sa.column("id", sa.Integer),
    sa.column("name", sa.String),
    sa.column("description", sa.Text),
    sa.column("lifecycle", sa.String),
    sa.column("created_at", sa.BigInteger),
    sa.column("updated_at", sa.BigInteger),
    sa.column("deleted_at", sa.BigInteger),
)


def _default_experiment_at_zero() -> None:
    """MLflow clients address the Default experiment as id 0: create it there, or move it."""
    conn = op.get_bind()
    e = _experiments
    if conn.execute(sa.select(e.c.id).where(e.c.id == 0)).first() is not None:
        return
    old = conn.execute(sa.select(e).where(e.c.name == "Default")).first()
    now = int(time.time() * 1000)
    values = (
        dict(old._mapping)
        if old is not None
        else {"description": "", "lifecycle": "active", "created_at": now, "updated_at": now}
    )
    values.update(id=0, name="Default" if old is None else "Default (moving to id 0)")
    conn.execute(e.insert().values(**values))
    if old is None:
        return
    for table in ("runs", "experiment_tags"):
        t = sa.table(table, sa.column("experiment_id", sa.Integer))
        conn.execute(t.update().where(t.c.experiment_id == old.id).values(experiment_id=0))
    conn.execute(e.delete().where(e.c.id == old.id))
    conn.execute(e.update().where(e.c.id == 0).values(name="Default"))


def upgrade() -> None:
    _rewrite(to_wire=True)
    _default_experiment_at_zero()


def downgrade() -> None:
    _rewrite(to_wire=False)
