"""Alembic environment: runs migrations on the connection modelyard hands over."""

from alembic import context
from sqlalchemy import create_engine

from modelyard.store.metadata.tables import metadata

connection = context.config.attributes.get("connection")
if connection is None:
    engine = create_engine(context.config.get_main_option("sqlalchemy.url") or "")
    connection = engine.connect()
context.configure(
    connection=connection,
    target_metadata=metadata,
    render_as_batch=connection.dialect.name == "sqlite",
)
with context.begin_transaction():
    context.run_migrations()
