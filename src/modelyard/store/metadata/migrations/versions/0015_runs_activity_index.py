"""The experiments overview's activity (runs and last run time per experiment) from an index

Revision ID: 0015
Revises: 0014
"""

from alembic import op

revision = "0015"
down_revision = "0014"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index(
        "ix_runs_activity",
        "runs",
        ["experiment_id", "lifecycle", "start_time", "end_time"],
        unique=False,
    )


def downgrade() -> None:
    op.drop_index("ix_runs_activity", table_name="runs")
