"""monitoring: alert rules, their firings and events, and the availability probe's counts

Revision ID: 0010
Revises: 0009
"""

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "alert_rules",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("name", sa.String(length=250), nullable=False),
        sa.Column("deployment", sa.String(length=500), nullable=False),
        sa.Column("metric", sa.String(length=128), nullable=False),
        sa.Column("window_s", sa.Integer(), nullable=False),
        sa.Column("op", sa.String(length=4), nullable=False),
        sa.Column("threshold", sa.Float(), nullable=False),
        sa.Column("for_s", sa.Integer(), nullable=False),
        sa.Column("channels_doc", sa.Text(), nullable=False),
        sa.Column("action", sa.String(length=64), nullable=True),
        sa.Column("enabled", sa.Integer(), nullable=False),
        sa.Column("created_by", sa.String(length=250), nullable=False),
        sa.Column("created_at", sa.BigInteger(), nullable=False),
        sa.Column("updated_at", sa.BigInteger(), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("pending_since", sa.BigInteger(), nullable=True),
        sa.Column("silenced_until", sa.BigInteger(), nullable=True),
        sa.Column("last_value", sa.Float(), nullable=True),
        sa.Column("last_evaluated", sa.BigInteger(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_alert_rules")),
        sa.UniqueConstraint("name", name=op.f("uq_alert_rules_name")),
    )
    op.create_index("ix_alert_rules_deployment", "alert_rules", ["deployment"], unique=False)
    op.create_table(
        "alert_firings",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("rule_id", sa.Integer(), nullable=False),
        sa.Column("rule_name", sa.String(length=250), nullable=False),
        sa.Column("deployment", sa.String(length=500), nullable=False),
        sa.Column("started_at", sa.BigInteger(), nullable=False),
        sa.Column("ended_at", sa.BigInteger(), nullable=True),
        sa.Column("value", sa.Float(), nullable=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("acknowledged_by", sa.String(length=250), nullable=True),
        sa.Column("acknowledged_at", sa.BigInteger(), nullable=True),
        sa.Column("resolved_by", sa.String(length=250), nullable=True),
        sa.Column("notified_at", sa.BigInteger(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_alert_firings")),
    )
    op.create_index(
        "ix_alert_firings_rule_started", "alert_firings", ["rule_id", "started_at"], unique=False
    )
    op.create_index(
        "ix_alert_firings_deployment_started",
        "alert_firings",
        ["deployment", "started_at"],
        unique=False,
    )
    op.create_table(
        "alert_events",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("rule_id", sa.Integer(), nullable=False),
        sa.Column("firing_id", sa.Integer(), nullable=True),
        sa.Column("at", sa.BigInteger(), nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("actor", sa.String(length=250), nullable=False),
        sa.Column("detail_doc", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_alert_events")),
    )
    op.create_index("ix_alert_events_rule_at", "alert_events", ["rule_id", "at"], unique=False)
    op.create_table(
        "monitor_probes",
        sa.Column("deployment", sa.String(length=500), nullable=False),
        sa.Column("minute", sa.BigInteger(), nullable=False),
        sa.Column("ok", sa.Integer(), nullable=False),
        sa.Column("total", sa.Integer(), nullable=False),
        sa.Column("latency_ms_sum", sa.Float(), nullable=False),
        sa.PrimaryKeyConstraint("deployment", "minute", name=op.f("pk_monitor_probes")),
    )


def downgrade() -> None:
    op.drop_table("monitor_probes")
    op.drop_index("ix_alert_events_rule_at", table_name="alert_events")
    op.drop_table("alert_events")
    op.drop_index("ix_alert_firings_deployment_started", table_name="alert_firings")
    op.drop_index("ix_alert_firings_rule_started", table_name="alert_firings")
    op.drop_table("alert_firings")
    op.drop_index("ix_alert_rules_deployment", table_name="alert_rules")
    op.drop_table("alert_rules")
