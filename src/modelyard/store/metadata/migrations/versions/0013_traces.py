"""MLflow 3 traces: trace infos and the runs they belong to

Revision ID: 0013
Revises: 0012
"""

import sqlalchemy as sa
from alembic import op

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "traces",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("experiment_id", sa.Integer(), nullable=False),
        sa.Column("request_time", sa.BigInteger(), nullable=False),
        sa.Column("execution_duration", sa.BigInteger(), nullable=True),
        sa.Column("state", sa.String(length=32), nullable=False),
        sa.Column("client_request_id", sa.String(length=250), nullable=True),
        sa.Column("request_preview", sa.Text(), nullable=False),
        sa.Column("response_preview", sa.Text(), nullable=False),
        sa.Column("metadata_doc", sa.Text(), nullable=False),
        sa.Column("tags_doc", sa.Text(), nullable=False),
        sa.Column("created_at", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(
            ["experiment_id"], ["experiments.id"], name=op.f("fk_traces_experiment_id_experiments")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_traces")),
    )
    op.create_index("ix_traces_experiment_time", "traces", ["experiment_id", "request_time"])
    op.create_table(
        "trace_runs",
        sa.Column("trace_id", sa.String(length=64), nullable=False),
        sa.Column("run_id", sa.String(length=32), nullable=False),
        sa.ForeignKeyConstraint(
            ["trace_id"], ["traces.id"], name=op.f("fk_trace_runs_trace_id_traces")
        ),
        sa.PrimaryKeyConstraint("trace_id", "run_id", name=op.f("pk_trace_runs")),
    )
    op.create_index("ix_trace_runs_run_id", "trace_runs", ["run_id"])


def downgrade() -> None:
    op.drop_index("ix_trace_runs_run_id", table_name="trace_runs")
    op.drop_table("trace_runs")
    op.drop_index("ix_traces_experiment_time", table_name="traces")
    op.drop_table("traces")
