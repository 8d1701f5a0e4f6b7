"""Database access: engine, sessions, workspace scoping, portable column types, migrations.

Embedded mode is one SQLite file (WAL, busy timeout, foreign keys); production is PostgreSQL
through psycopg 3. Callers own transactions: use :meth:`Database.transaction` and pass the
session to service functions, which never commit on their own.

SQLite has one writer at a time. Write transactions of one process queue on a lock here
before they ask SQLite for its write lock: SQLite's own busy handler polls with sleeps of
1 to 100 ms, which under concurrent ingestion cost more time than the writes themselves.
Other processes (``coreo worker``, the CLI) still meet the busy timeout as before.

SQLite plans queries from statistics that only ``ANALYZE`` gathers. Without them every
``workspace_id = ?`` looks as selective as a profile id, and reading one profile scanned the
workspace. The first write transaction of a process and then one an hour refresh them,
sampling a bounded number of rows per index (fast on any size), as the SQLite documentation
recommends for long-lived connections.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager, nullcontext
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import (
    JSON,
    Connection,
    DateTime,
    Engine,
    ForeignKey,
    String,
    create_engine,
    event,
    text,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.engine import make_url
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import (
    DeclarativeBase,
    Mapped,
    ORMExecuteState,
    Session,
    mapped_column,
    sessionmaker,
    with_loader_criteria,
)
from sqlalchemy.types import TypeDecorator

from coreo.config import Settings
from coreo.errors import ConfigurationError, ServiceUnavailableError

__all__ = [
    "Base",
    "Database",
    "JSONValue",
    "UTCDateTime",
    "WorkspaceScoped",
    "conflict_insert",
    "driver_connection",
    "driver_datetime",
    "insert_rows_sqlite",
    "utcnow",
]

JSONValue = JSON().with_variant(JSONB(), "postgresql")
_log = logging.getLogger("coreo.db")
# Rows of each index that ANALYZE samples: enough to tell a workspace id from a profile id,
# milliseconds on a database of any size.
STATISTICS_SAMPLE_ROWS = 1000


def utcnow() -> datetime:
    """Return the current time as an aware UTC datetime."""
    return datetime.now(UTC)


class UTCDateTime(TypeDecorator[datetime]):
    """An aware UTC datetime on every backend (SQLite stores it naive, in UTC)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given; Coreo stores aware UTC datetimes only")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def driver_datetime(value: datetime, dialect_name: str) -> datetime | str:
    """``value`` as :class:`UTCDateTime` hands it to the driver (SQLite: SQLAlchemy's text
    format), for hot-path statements that skip SQLAlchemy's per-row type processing."""
    if value.tzinfo is None:
        raise ValueError("naive datetime given; Coreo stores aware UTC datetimes only")
    utc = value.astimezone(UTC)
    if dialect_name != "sqlite":
        return utc
    return (
        f"{utc.year:04d}-{utc.month:02d}-{utc.day:02d} "
        f"{utc.hour:02d}:{utc.minute:02d}:{utc.second:02d}.{utc.microsecond:06d}"
    )


def driver_connection(connection: Connection) -> Any:
    """The DB-API connection (sqlite3 or psycopg) under ``connection``, inside the same
    transaction: hot-path statements run on it directly, skipping SQLAlchemy's per-statement
    result set-up (some 20 µs a statement, more than SQLite takes to run most of them)."""
    driver = connection.connection.driver_connection
    if driver is None:  # pragma: no cover - only after the connection was invalidated
        raise RuntimeError("the database connection is gone")
    return driver


_ROWS_PER_STATEMENT = (128, 64, 32, 16, 8, 4, 2, 1)


def insert_rows_sqlite(
    connection: Connection, statement: str, rows: Sequence[tuple[Any, ...]]
) -> None:
    """Run ``statement`` (``INSERT ... VALUES {values} ...``) for ``rows`` on SQLite, many
    rows a statement.

    The driver runs one statement at a time and releases the GIL around each; row by row
    (``executemany``), a writer holding SQLite's lock must win the GIL back after every
    row from the threads parsing requests. Chunk sizes are powers of two, so that the few
    statement texts stay in the driver's statement cache.
    """
    driver = driver_connection(connection)
    start = 0
    while start < len(rows):
        size = next(n for n in _ROWS_PER_STATEMENT if n <= len(rows) - start)
        chunk = rows[start : start + size]
        marks = "(" + ", ".join("?" * len(chunk[0])) + ")"
        values = ", ".join([marks] * size)
        driver.execute(
            statement.format(values=values), tuple(v for row in chunk for v in row)
        ).close()
        start += size


def conflict_insert(session: Session, table: Any) -> postgresql.Insert | sqlite.Insert:
    """An INSERT into ``table`` with the dialect's ``ON CONFLICT`` clauses available
    (``on_conflict_do_nothing``/``on_conflict_do_update``; SQLite and PostgreSQL agree)."""
    if session.get_bind().dialect.name == "postgresql":
        return postgresql.insert(table)
    return sqlite.insert(table)


class Base(DeclarativeBase):
    """Declarative base of every Coreo table."""


class WorkspaceScoped:
    """Mixin for tables holding a workspace's data.

    Sessions opened for a workspace filter every ORM query on these tables to that workspace
    and refuse to flush rows of another one, so a forgotten ``where`` cannot leak data.
    """

    workspace_id: Mapped[str] = mapped_column(
        String(32), ForeignKey("workspaces.id", ondelete="CASCADE"), index=True
    )


class CoreoSession(Session):
    """Session whose ``info['workspace_id']`` (when set) confines it to one workspace."""


@event.listens_for(CoreoSession, "do_orm_execute")
def _confine_queries_to_workspace(state: ORMExecuteState) -> None:
    workspace_id = state.session.info.get("workspace_id")
    if workspace_id is None or not (state.is_select or state.is_update or state.is_delete):
        return
    state.statement = state.statement.options(
        with_loader_criteria(
            WorkspaceScoped,
            lambda cls: cls.workspace_id == workspace_id,
            include_aliases=True,
        )
    )


@event.listens_for(CoreoSession, "before_flush")
def _refuse_foreign_workspace_rows(session: Session, *_: Any) -> None:
    workspace_id = session.info.get("workspace_id")
    if workspace_id is None:
        return
    for obj in list(session.new) + list(session.dirty):
        if isinstance(obj, WorkspaceScoped) and obj.workspace_id != workspace_id:
            raise PermissionError("refusing to write a row of another workspace")


def _install_sqlite_behaviour(engine: Engine, busy_timeout_ms: int) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Let SQLAlchemy's "begin" event emit BEGIN itself (pysqlite's implicit BEGIN cannot
        # be made IMMEDIATE), see the SQLAlchemy docs on pysqlite serializable isolation.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute(f"PRAGMA busy_timeout={int(busy_timeout_ms)}")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection: Any) -> None:
        # Write transactions take the write lock up front: a deferred transaction that reads
        # and then writes fails with SQLITE_BUSY instead of waiting when another writer won.
        mode = connection.get_execution_options().get("sqlite_begin", "DEFERRED")
        connection.exec_driver_sql(f"BEGIN {mode}")


class _WriterQueue:
    """The SQLite writers of this process, one at a time (see the module docstring).

    Urgent writers (ingestion, which a client is waiting on) go before the others: while
    one waits, no other writer takes a turn, so a busy pipeline cannot hold back the
    acceptance of new events for longer than its current transaction.
    """

    def __init__(self, timeout: float) -> None:
        self._changed = threading.Condition(threading.Lock())
        self._owner: int | None = None
        # Re-entrant: a nested write transaction in one thread behaves as before (SQLite
        # makes it wait for the outer one) instead of deadlocking here.
        self._depth = 0
        self._urgent_waiting = 0
        self.urgent_waited_at = float("-inf")  # when an urgent writer last found it taken
        self._timeout = timeout

    @contextmanager
    def turn(self, *, urgent: bool = False) -> Iterator[None]:
        # After the busy timeout the writer goes on without its turn and meets SQLite's own
        # busy handling, so a stuck writer fails as before ("database is locked").
        acquired = self._acquire(urgent)
        try:
            yield
        finally:
            if acquired:
                self._release()

    def _acquire(self, urgent: bool) -> bool:
        me = threading.get_ident()
        with self._changed:
            if self._owner == me:
                self._depth += 1
                return True
            deadline = time.monotonic() + self._timeout
            if urgent:
                self._urgent_waiting += 1
                if self._owner is not None:
                    self.urgent_waited_at = time.monotonic()
            try:
                while self._owner is not None or (not urgent and self._urgent_waiting):
                    remaining = deadline - time.monotonic()
                    if remaining <= 0:
                        return False
                    self._changed.wait(remaining)
                self._owner, self._depth = me, 1
                return True
            finally:
                if urgent:
                    self._urgent_waiting -= 1

    def _release(self) -> None:
        with self._changed:
            self._depth -= 1
            if self._depth == 0:
                self._owner = None
                self._changed.notify_all()


class Database:
    """An engine plus session factories; one per process and database URL."""

    def __init__(
        self,
        url: str,
        *,
        pool_size: int = 10,
        busy_timeout_ms: int = 5000,
        statistics_interval: float = 3600.0,
    ) -> None:
        """``statistics_interval``: seconds between refreshes of SQLite's planner
        statistics (the first write transaction of the process refreshes them too)."""
        self.url = make_url(url)
        kwargs: dict[str, Any] = {"hide_parameters": True}
        if self.url.get_backend_name() == "sqlite":
            if self.url.database and self.url.database != ":memory:":
                Path(self.url.database).parent.mkdir(parents=True, exist_ok=True)
            # No ping before each checkout (as for PostgreSQL): a file does not hang up.
            kwargs["connect_args"] = {"check_same_thread": False}
        else:
            kwargs.update(pool_size=pool_size, max_overflow=pool_size, pool_pre_ping=True)
        self.engine = create_engine(self.url, **kwargs)
        if self.is_sqlite:
            _install_sqlite_behaviour(self.engine, busy_timeout_ms)
        writer = self.engine.execution_options(sqlite_begin="IMMEDIATE")
        self._writer_engine = writer
        # Put in every session's ``info`` (the encryption of personal data: coreo.privacy.crypto).
        self.session_info: dict[str, Any] = {}
        self._readers = sessionmaker(self.engine, class_=CoreoSession, expire_on_commit=False)
        self._writers = sessionmaker(writer, class_=CoreoSession, expire_on_commit=False)
        self._sqlite_writers = _WriterQueue(busy_timeout_ms / 1000) if self.is_sqlite else None
        self.statistics_interval = statistics_interval
        # A file, not ":memory:": a fresh pool would open a fresh, empty in-memory database.
        self._keeps_statistics = self.is_sqlite and self.url.database not in (None, "", ":memory:")
        self._statistics_due = time.monotonic()

    @classmethod
    def from_settings(cls, settings: Settings) -> Database:
        from coreo.privacy.crypto import enable  # privacy builds on db: imported here

        database = cls(
            settings.effective_database_url,
            pool_size=settings.database_pool_size,
            busy_timeout_ms=settings.sqlite_busy_timeout_ms,
        )
        enable(database, settings)
        return database

    @property
    def is_sqlite(self) -> bool:
        return self.url.get_backend_name() == "sqlite"

    @property
    def display_url(self) -> str:
        """The URL with its password masked, safe to print and log."""
        return self.url.render_as_string(hide_password=True)

    def session(self, *, workspace_id: str | None = None, write: bool = False) -> Session:
        """Open a session, confined to ``workspace_id`` when given."""
        session = (self._writers if write else self._readers)()
        session.info.update(self.session_info)
        if workspace_id is not None:
            session.info["workspace_id"] = workspace_id
        return session

    @contextmanager
    def transaction(
        self, *, workspace_id: str | None = None, write: bool = True, urgent: bool = False
    ) -> Iterator[Session]:
        """Run a unit of work: commit when the block succeeds, roll back when it raises.

        ``urgent``: on SQLite, this write goes before the process's other waiting writers
        (ingestion, which a client waits on, before the pipeline).
        """
        with (
            self._writer_turn(write, urgent=urgent),
            self.session(workspace_id=workspace_id, write=write) as session,
            session.begin(),
        ):
            yield session
        if write and self._keeps_statistics and time.monotonic() >= self._statistics_due:
            self.refresh_statistics()

    def refresh_statistics(self) -> None:
        """Gather SQLite's planner statistics (``ANALYZE``, sampled) and start new
        connections, which load them; PostgreSQL's autovacuum keeps its own. A failure
        (another process holds the write lock) is logged and retried a minute later."""
        if not self._keeps_statistics:
            return
        self._statistics_due = time.monotonic() + self.statistics_interval
        try:
            with self._writer_turn(True), self._writer_engine.connect() as connection:
                connection.exec_driver_sql(f"PRAGMA analysis_limit={STATISTICS_SAMPLE_ROWS}")
                connection.exec_driver_sql("ANALYZE")
                connection.commit()
        except OperationalError as error:
            _log.warning("could not refresh the query planner's statistics: %s", error)
            self._statistics_due = time.monotonic() + min(60.0, self.statistics_interval)
            return
        # Open connections keep the statistics they loaded; checked-out ones are closed
        # when returned.
        self.engine.dispose()

    def _writer_turn(self, write: bool, *, urgent: bool = False) -> AbstractContextManager[Any]:
        """This process's turn to write to SQLite (a no-op for readers and PostgreSQL)."""
        if write and self._sqlite_writers is not None:
            return self._sqlite_writers.turn(urgent=urgent)
        return nullcontext()

    def urgent_writers_waited(self, within: float) -> bool:
        """Whether an urgent writer of this process had to wait for SQLite's write lock in
        the last ``within`` seconds (never on PostgreSQL, whose writers do not queue for the
        whole database): long write transactions should then be cut shorter."""
        writers = self._sqlite_writers
        return writers is not None and time.monotonic() - writers.urgent_waited_at <= within

    def ping(self) -> None:
        """Raise ServiceUnavailableError unless the database answers a trivial query."""
        try:
            with self.engine.connect() as connection:
                connection.execute(text("SELECT 1"))
        except OperationalError:
            raise ServiceUnavailableError(
                f"cannot reach the database at {self.display_url}"
            ) from None

    def dispose(self) -> None:
        self.engine.dispose()

    # -- migrations --------------------------------------------------------------------------

    def _alembic_config(self) -> Config:
        config = Config()
        config.set_main_option("script_location", "coreo:migrations")
        config.set_main_option(
            "file_template",
            "%%(year)d_%%(month).2d_%%(day).2d_%%(hour).2d%%(minute).2d-%%(rev)s_%%(slug)s",
        )
        return config

    def migrate(self, revision: str = "head") -> tuple[str | None, str | None]:
        """Upgrade the schema to ``revision`` (default: the newest); returns the revisions
        before and after (before None: a new database)."""
        config = self._alembic_config()
        try:
            with self.engine.begin() as connection:
                before = MigrationContext.configure(connection).get_current_revision()
                config.attributes["connection"] = connection
                command.upgrade(config, revision)
                return before, MigrationContext.configure(connection).get_current_revision()
        except OperationalError:
            raise ServiceUnavailableError(
                f"cannot migrate the database at {self.display_url}: connection failed"
            ) from None

    def schema_revisions(self) -> tuple[str | None, str | None]:
        """Return (current revision of the database, newest revision shipped)."""
        head = ScriptDirectory.from_config(self._alembic_config()).get_current_head()
        try:
            with self.engine.connect() as connection:
                current = MigrationContext.configure(connection).get_current_revision()
        except OperationalError:
            raise ServiceUnavailableError(
                f"cannot reach the database at {self.display_url}"
            ) from None
        return current, head

    def require_current_schema(self) -> None:
        """Raise ConfigurationError when the schema is not at the newest revision."""
        current, head = self.schema_revisions()
        if current != head:
            raise ConfigurationError(
                f"database schema is at revision {current or 'none'}, this Coreo needs {head}; "
                "run `coreo migrate`"
            )
