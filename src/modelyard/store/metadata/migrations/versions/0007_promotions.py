"""promotion workflow: proposals, reviews and gate results

Revision ID: 0007
Revises: 0006
"""

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "promotions",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("model_name", sa.String(length=500), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("stage", sa.String(length=16), nullable=False),
        sa.Column("alias", sa.String(length=255), nullable=True),
        sa.Column("rules_doc", sa.Text(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("proposed_by", sa.String(length=250), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("created_at", sa.BigInteger(), nullable=False),
        sa.Column("decided_by", sa.String(length=250), nullable=True),
        sa.Column("decided_at", sa.BigInteger(), nullable=True),
        sa.Column("gates_doc", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_promotions")),
    )
    op.create_index(op.f("ix_promotions_model_name"), "promotions", ["model_name"], unique=False)
    op.create_table(
        "promotion_comments",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("promotion_id", sa.Integer(), nullable=False),
        sa.Column("user", sa.String(length=250), nullable=False),
        sa.Column("verdict", sa.String(length=16), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("at", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(
            ["promotion_id"],
            ["promotions.id"],
            name=op.f("fk_promotion_comments_promotion_id_promotions"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_promotion_comments")),
    )
    op.create_index(
        op.f("ix_promotion_comments_promotion_id"),
        "promotion_comments",
        ["promotion_id"],
        unique=False,
    )


def downgrade() -> None:
    op.drop_index(op.f("ix_promotion_comments_promotion_id"), table_name="promotion_comments")
    op.drop_table("promotion_comments")
    op.drop_index(op.f("ix_promotions_model_name"), table_name="promotions")
    op.drop_table("promotions")
