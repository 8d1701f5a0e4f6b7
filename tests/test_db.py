"""The store: migrations match the models, SQLite pragmas, aware UTC times."""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import Column, MetaData, String, Table, insert, select, text
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import OperationalError

from coreo.db import Base, Database, UTCDateTime, driver_datetime, insert_rows_sqlite
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


@pytest.mark.parametrize(
    "moment",
    [
        datetime(2025, 3, 14, 9, 21, 33, 123000, tzinfo=UTC),
        datetime(2025, 3, 14, 9, 21, 33, tzinfo=UTC),
        datetime(2025, 3, 14, 10, 21, 33, 5, tzinfo=timezone(timedelta(hours=1))),
        datetime(1, 1, 1, tzinfo=UTC),
    ],
)
def test_driver_datetime_is_what_utc_datetime_binds(moment: datetime) -> None:
    column = UTCDateTime()
    for dialect in (sqlite.dialect(), postgresql.psycopg.dialect()):
        bind = column.dialect_impl(dialect).bind_processor(dialect)
        expected = bind(moment) if bind else column.process_bind_param(moment, dialect)
        assert driver_datetime(moment, dialect.name) == expected
    with pytest.raises(ValueError, match="naive"):
        driver_datetime(moment.replace(tzinfo=None), "sqlite")


@pytest.mark.parametrize("count", [0, 1, 5, 100, 300])
def test_insert_rows_sqlite_keeps_every_row_in_order(tmp_path: Path, count: int) -> None:
    database = Database(f"sqlite:///{tmp_path / 'rows.db'}")
    with database.engine.begin() as connection:
        connection.exec_driver_sql("CREATE TABLE t (n INTEGER, s TEXT)")
        insert_rows_sqlite(
            connection, "INSERT INTO t (n, s) VALUES {values}", [(n, f"s{n}") for n in range(count)]
        )
        rows = connection.exec_driver_sql("SELECT n, s FROM t ORDER BY rowid").all()
    assert [tuple(r) for r in rows] == [(n, f"s{n}") for n in range(count)]
    database.dispose()


def test_sqlite_writers_of_a_process_take_turns(tmp_path: Path) -> None:
    # SQLite would serialise the writers too, but only from their first statement on (the
    # session's BEGIN IMMEDIATE), after sleeps in its busy handler; the queue lets one
    # writer at a time into the transaction block.
    database = Database(f"sqlite:///{tmp_path / 'w.db'}")
    with database.transaction() as session:
        session.execute(text("CREATE TABLE t (n INTEGER)"))
    inside = 0
    most_inside = 0
    errors: list[BaseException] = []

    def write(n: int) -> None:
        nonlocal inside, most_inside
        try:
            for _ in range(10):
                with database.transaction() as session:
                    inside += 1
                    most_inside = max(most_inside, inside)
                    session.execute(text("INSERT INTO t VALUES (:n)"), {"n": n})
                    time.sleep(0.002)  # let the other writers try to come in
                    inside -= 1
        except BaseException as error:  # pragma: no cover - reported below
            errors.append(error)

    threads = [threading.Thread(target=write, args=(n,)) for n in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors
    assert most_inside == 1
    with database.engine.connect() as connection:
        assert connection.exec_driver_sql("SELECT count(*) FROM t").scalar() == 40
    database.dispose()


def test_a_stuck_sqlite_writer_still_fails_after_the_busy_timeout(tmp_path: Path) -> None:
    database = Database(f"sqlite:///{tmp_path / 's.db'}", busy_timeout_ms=200)
    with database.transaction() as session:
        session.execute(text("CREATE TABLE t (n INTEGER)"))
    outcome: list[BaseException | None] = []
    with database.transaction() as session:
        session.execute(text("INSERT INTO t VALUES (1)"))

        def second_writer() -> None:
            try:
                with database.transaction() as other:
                    other.execute(text("INSERT INTO t VALUES (2)"))
                outcome.append(None)
            except OperationalError as error:
                outcome.append(error)

        thread = threading.Thread(target=second_writer)
        thread.start()
        thread.join(timeout=10)
    assert len(outcome) == 1 and isinstance(outcome[0], OperationalError)
    assert "locked" in str(outcome[0])
    database.dispose()


def test_an_urgent_sqlite_writer_goes_before_the_waiting_others(tmp_path: Path) -> None:
    """Ingestion (urgent) must not queue behind a busy pipeline's next transactions."""
    database = Database(f"sqlite:///{tmp_path / 'u.db'}")
    with database.transaction() as session:
        session.execute(text("CREATE TABLE t (who TEXT)"))
    order: list[str] = []
    holding, release = threading.Event(), threading.Event()

    def hold() -> None:
        with database.transaction() as session:
            session.execute(text("INSERT INTO t VALUES ('holder')"))
            holding.set()
            release.wait(10)
        order.append("holder")

    def write(who: str, urgent: bool) -> None:
        with database.transaction(urgent=urgent) as session:
            session.execute(text("INSERT INTO t VALUES (:who)"), {"who": who})
            order.append(who)

    holder = threading.Thread(target=hold)
    holder.start()
    assert holding.wait(10)
    assert not database.urgent_writers_waited(within=60)
    background = [threading.Thread(target=write, args=(f"pipeline-{n}", False)) for n in range(3)]
    for thread in background:
        thread.start()
    time.sleep(0.1)  # the pipeline's writers queue first ...
    ingest = threading.Thread(target=write, args=("ingest", True))
    ingest.start()
    time.sleep(0.1)  # ... then ingestion, which finds the lock taken
    assert database.urgent_writers_waited(within=60)
    release.set()
    for thread in [holder, ingest, *background]:
        thread.join(10)
    assert order[:2] == ["holder", "ingest"]
    assert sorted(order[2:]) == ["pipeline-0", "pipeline-1", "pipeline-2"]
    with database.engine.connect() as connection:
        assert connection.exec_driver_sql("SELECT count(*) FROM t").scalar() == 5
    assert not Database("postgresql+psycopg://nowhere/none").urgent_writers_waited(within=60)
    database.dispose()


def test_a_sqlite_writer_may_nest_its_turn(tmp_path: Path) -> None:
    database = Database(f"sqlite:///{tmp_path / 'n.db'}")
    queue = database._sqlite_writers
    assert queue is not None
    with queue.turn(), queue.turn(urgent=True):
        pass
    done = threading.Event()

    def other() -> None:
        with queue.turn():
            done.set()

    thread = threading.Thread(target=other)
    thread.start()
    assert done.wait(5)  # released after the outer turn ended
    thread.join()
    database.dispose()
