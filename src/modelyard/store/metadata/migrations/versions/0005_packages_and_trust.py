"""packaged versions (manifest, digest), model cards and trust decisions

Revision ID: 0005
Revises: 0004
"""

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("model_versions") as batch:
        batch.add_column(sa.Column("package_digest", sa.String(length=64), nullable=True))
        batch.add_column(sa.Column("package_doc", sa.Text(), nullable=True))
    with op.batch_alter_table("registered_models") as batch:
        batch.add_column(sa.Column("card", sa.Text(), server_default="", nullable=False))
    op.create_table(
        "trusted_packages",
        sa.Column("digest", sa.String(length=64), nullable=False),
        sa.Column("user", sa.String(length=250), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("at", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("digest", name=op.f("pk_trusted_packages")),
    )


def downgrade() -> None:
    op.drop_table("trusted_packages")
    with op.batch_alter_table("registered_models") as batch:
        batch.drop_column("card")
    with op.batch_alter_table("model_versions") as batch:
        batch.drop_column("package_doc")
        batch.drop_column("package_digest")
