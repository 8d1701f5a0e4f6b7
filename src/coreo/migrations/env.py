"""Alembic environment: runs against the connection Coreo hands over (or the configured URL)."""

from __future__ import annotations

from typing import Any, Literal

from alembic import context
from alembic.autogenerate.api import AutogenContext
from sqlalchemy import JSON, Connection, text
from sqlalchemy.types import TypeEngine

import coreo.models  # noqa: F401  (registers every table on Base.metadata)
from coreo.db import Base, Database, UTCDateTime

config = context.config
target_metadata = Base.metadata


def _render_item(type_: str, obj: Any, autogen_context: AutogenContext) -> str | Literal[False]:
    """Render Coreo's column types as plain SQLAlchemy so migrations never import the app."""
    if type_ != "type" or not isinstance(obj, TypeEngine):
        return False
    if isinstance(obj, UTCDateTime):
        return "sa.DateTime(timezone=True)"
    if isinstance(obj, JSON) and "postgresql" in getattr(obj, "_variant_mapping", {}):
        autogen_context.imports.add("from sqlalchemy.dialects import postgresql")
        return 'sa.JSON().with_variant(postgresql.JSONB(), "postgresql")'
    return False


def _run(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
        render_item=_render_item,
    )
    with context.begin_transaction():
        if connection.dialect.name == "postgresql":
            # Two `coreo migrate` runs at once must not interleave.
            connection.execute(text("SELECT pg_advisory_xact_lock(7236150284)"))
        context.run_migrations()


def run_migrations_online() -> None:
    connection = config.attributes.get("connection")
    if connection is not None:
        _run(connection)
        return
    from coreo.config import get_settings

    database = Database.from_settings(get_settings())
    with database.engine.begin() as own_connection:
        _run(own_connection)


if context.is_offline_mode():
    raise SystemExit("offline (--sql) migrations are not supported; run `coreo migrate`")
run_migrations_online()
