"""The store: migrations match the models, SQLite pragmas, aware UTC times."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import Column, MetaData, String, Table, insert, select, text

from coreo.db import Base, Database, UTCDateTime
from coreo.errors import ConfigurationError, ServiceUnavailableError


def test_migrations_match_the_models(database: Database) -> None:
    with database.engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        assert compare_metadata(context, Base.metadata) == []
    current, head = database.schema_revisions()
    assert current == head is not None


def test_migration_files_are_dated() -> None:
    versions = Path(__file__).parents[1] / "src" / "coreo" / "migrations" / "versions"
    names = [p.name for p in versions.glob("*.py") if p.name != "__init__.py"]
    assert names
    assert all(name[:4].isdigit() and name[4] == "_" for name in names), names


def test_unmigrated_database_is_refused(tmp_path: Path) -> None:
    database = Database(f"sqlite:///{tmp_path / 'empty.db'}")
    with pytest.raises(ConfigurationError, match="coreo migrate"):
        database.require_current_schema()
    database.migrate()
    database.require_current_schema()
    database.migrate()  # idempotent
    database.dispose()


def test_sqlite_pragmas(tmp_path: Path) -> None:
    database = Database(f"sqlite:///{tmp_path / 'p.db'}", busy_timeout_ms=1234)
    with database.engine.connect() as connection:
        assert connection.execute(text("PRAGMA journal_mode")).scalar_one() == "wal"
        assert connection.execute(text("PRAGMA foreign_keys")).scalar_one() == 1
        assert connection.execute(text("PRAGMA busy_timeout")).scalar_one() == 1234
    database.dispose()


def test_sqlite_home_directory_is_created(tmp_path: Path) -> None:
    database = Database(f"sqlite:///{tmp_path / 'deep' / 'er' / 'coreo.db'}")
    database.ping()
    assert (tmp_path / "deep" / "er" / "coreo.db").exists()
    database.dispose()


def test_unreachable_database_is_service_unavailable() -> None:
    database = Database("postgresql+psycopg://coreo:secret@127.0.0.1:1/nothing")
    with pytest.raises(ServiceUnavailableError) as caught:
        database.ping()
    assert "secret" not in caught.value.message and "***" in caught.value.message
    with pytest.raises(ServiceUnavailableError):
        database.migrate()


def test_utc_datetimes_round_trip_aware(database: Database) -> None:
    metadata = MetaData()
    table = Table(
        "tmp_times",
        metadata,
        Column("id", String(8), primary_key=True),
        Column("at", UTCDateTime()),
    )
    metadata.create_all(database.engine)
    try:
        zurich = timezone(timedelta(hours=1))
        moment = datetime(2026, 3, 1, 12, 30, 15, 123456, tzinfo=zurich)
        with database.engine.begin() as connection:
            connection.execute(insert(table).values(id="a", at=moment))
            stored = connection.execute(select(table.c.at)).scalar_one()
        assert stored == moment and stored.tzinfo == UTC
        with pytest.raises(Exception, match="naive"), database.engine.begin() as connection:
            connection.execute(insert(table).values(id="b", at=datetime(2026, 1, 1)))  # noqa: DTZ001
    finally:
        metadata.drop_all(database.engine)
