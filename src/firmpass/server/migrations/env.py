"""Alembic environment for the team server's tables (run by firmpass.server.db.upgrade)."""
from __future__ import annotations

from alembic import context
from firmpass.server.db import Base, make_engine

config = context.config
target_metadata = Base.metadata


def run() -> None:
    url = config.get_main_option("sqlalchemy.url")
    if context.is_offline_mode():
        context.configure(url=url, target_metadata=target_metadata, literal_binds=True,
                          version_table="fp_alembic_version")
        with context.begin_transaction():
            context.run_migrations()
        return
    engine = make_engine(url)
    with engine.connect() as conn:
        # its own version table: the server may share a PostgreSQL database with the vulnerability store
        context.configure(connection=conn, target_metadata=target_metadata, version_table="fp_alembic_version",
                          render_as_batch=conn.dialect.name == "sqlite")
        with context.begin_transaction():
            context.run_migrations()
    engine.dispose()


run()
