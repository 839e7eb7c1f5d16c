"""deployments: the traffic policy of named endpoints, their instances' heartbeats, their history

Revision ID: 0009
Revises: 0008
"""

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "deployments",
        sa.Column("name", sa.String(length=500), nullable=False),
        sa.Column("model_name", sa.String(length=500), nullable=False),
        sa.Column("follow", sa.String(length=255), nullable=True),
        sa.Column("engine", sa.String(length=16), nullable=False),
        sa.Column("port", sa.Integer(), nullable=True),
        sa.Column("replicas", sa.Integer(), nullable=False),
        sa.Column("created_by", sa.String(length=250), nullable=False),
        sa.Column("created_at", sa.BigInteger(), nullable=False),
        sa.Column("updated_at", sa.BigInteger(), nullable=False),
        sa.Column("revision", sa.Integer(), nullable=False),
        sa.Column("policy_doc", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_deployments")),
    )
    op.create_index(op.f("ix_deployments_model_name"), "deployments", ["model_name"], unique=False)
    op.create_table(
        "deployment_instances",
        sa.Column("deployment", sa.String(length=500), nullable=False),
        sa.Column("instance", sa.String(length=255), nullable=False),
        sa.Column("url", sa.Text(), nullable=False),
        sa.Column("last_seen", sa.BigInteger(), nullable=False),
        sa.Column("report_doc", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(
            ["deployment"],
            ["deployments.name"],
            name=op.f("fk_deployment_instances_deployment_deployments"),
        ),
        sa.PrimaryKeyConstraint("deployment", "instance", name=op.f("pk_deployment_instances")),
    )
    op.create_table(
        "deployment_events",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("deployment", sa.String(length=500), nullable=False),
        sa.Column("at", sa.BigInteger(), nullable=False),
        sa.Column("actor", sa.String(length=250), nullable=False),
        sa.Column("action", sa.String(length=32), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("before_doc", sa.Text(), nullable=False),
        sa.Column("after_doc", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_deployment_events")),
    )
    op.create_index(
        "ix_deployment_events_deployment_at",
        "deployment_events",
        ["deployment", "at"],
        unique=False,
    )


def downgrade() -> None:
    op.drop_index("ix_deployment_events_deployment_at", table_name="deployment_events")
    op.drop_table("deployment_events")
    op.drop_table("deployment_instances")
    op.drop_index(op.f("ix_deployments_model_name"), table_name="deployments")
    op.drop_table("deployments")
