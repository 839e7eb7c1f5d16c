"""content-addressed artifacts: the file index and orphaned blobs

Files already stored under ``runs/`` and ``models/`` keys are moved into blobs the first time
a store opens them (ArtifactRepository.adopt_legacy), since this migration sees no artifacts.

Revision ID: 0004
Revises: 0003
"""

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    key = sa.String(length=1536).with_variant(sa.String(length=1536, collation="C"), "postgresql")
    op.create_table(
        "artifact_files",
        sa.Column("key", key, nullable=False),
        sa.Column("digest", sa.String(length=64), nullable=False),
        sa.Column("size", sa.BigInteger(), nullable=False),
        sa.Column("created_at", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("key", name=op.f("pk_artifact_files")),
    )
    op.create_index(op.f("ix_artifact_files_digest"), "artifact_files", ["digest"], unique=False)
    op.create_table(
        "artifact_orphans",
        sa.Column("digest", sa.String(length=64), nullable=False),
        sa.Column("since", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("digest", name=op.f("pk_artifact_orphans")),
    )


def downgrade() -> None:
    op.drop_table("artifact_orphans")
    op.drop_index(op.f("ix_artifact_files_digest"), table_name="artifact_files")
    op.drop_table("artifact_files")
