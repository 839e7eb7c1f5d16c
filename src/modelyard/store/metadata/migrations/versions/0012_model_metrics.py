"""MLflow 3 completion: logged-model metrics, the models a run read or produced, input tags

Revision ID: 0012
Revises: 0011
"""

import json

import sqlalchemy as sa
from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "logged_model_metrics",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("model_id", sa.String(length=34), nullable=False),
        sa.Column("run_id", sa.String(length=32), nullable=True),
        sa.Column("key", sa.String(length=250), nullable=False),
        sa.Column("value", sa.Float(precision=53), nullable=True),
        sa.Column("step", sa.BigInteger(), nullable=False),
        sa.Column("timestamp", sa.BigInteger(), nullable=False),
        sa.Column("dataset_name", sa.String(length=500), nullable=True),
        sa.Column("dataset_digest", sa.String(length=64), nullable=True),
        sa.ForeignKeyConstraint(
            ["model_id"],
            ["logged_models.id"],
            name=op.f("fk_logged_model_metrics_model_id_logged_models"),
        ),
        sa.ForeignKeyConstraint(
            ["run_id"], ["runs.id"], name=op.f("fk_logged_model_metrics_run_id_runs")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_logged_model_metrics")),
    )
    op.create_index(
        "ix_logged_model_metrics_model_key", "logged_model_metrics", ["model_id", "key"]
    )
    op.create_table(
        "run_models",
        sa.Column("run_id", sa.String(length=32), nullable=False),
        sa.Column("model_id", sa.String(length=34), nullable=False),
        sa.Column("direction", sa.String(length=8), nullable=False),
        sa.Column("step", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(
            ["model_id"], ["logged_models.id"], name=op.f("fk_run_models_model_id_logged_models")
        ),
        sa.ForeignKeyConstraint(["run_id"], ["runs.id"], name=op.f("fk_run_models_run_id_runs")),
        sa.PrimaryKeyConstraint("run_id", "model_id", "direction", name=op.f("pk_run_models")),
    )
    op.create_index("ix_run_models_model", "run_models", ["model_id"])
    with op.batch_alter_table("run_datasets") as batch:
        batch.add_column(sa.Column("tags_doc", sa.Text(), nullable=False, server_default="{}"))
    with op.batch_alter_table("dataset_versions") as batch:
        batch.add_column(sa.Column("reference_digest", sa.String(length=256), nullable=True))
    versions = sa.table(
        "dataset_versions",
        sa.column("dataset_id"),
        sa.column("version"),
        sa.column("tags_doc"),
        sa.column("reference_digest"),
    )
    conn = op.get_bind()
    rows = conn.execute(
        sa.select(versions.c.dataset_id, versions.c.version, versions.c.tags_doc).where(
            versions.c.tags_doc.like('%"reference.digest"%')
        )
    ).all()
    for dataset_id, number, tags_doc in rows:  # references made before this revision
        digest = json.loads(tags_doc).get("reference.digest")
        conn.execute(
            versions.update()
            .where(versions.c.dataset_id == dataset_id, versions.c.version == number)
            .values(reference_digest=digest)
        )


def downgrade() -> None:
    with op.batch_alter_table("dataset_versions") as batch:
        batch.drop_column("reference_digest")
    with op.batch_alter_table("run_datasets") as batch:
        batch.drop_column("tags_doc")
    op.drop_index("ix_run_models_model", table_name="run_models")
    op.drop_table("run_models")
    op.drop_index("ix_logged_model_metrics_model_key", table_name="logged_model_metrics")
    op.drop_table("logged_model_metrics")
