"""Database access: engine, sessions, workspace scoping, portable column types, migrations.

Embedded mode is one SQLite file (WAL, busy timeout, foreign keys); production is PostgreSQL
through psycopg 3. Callers own transactions: use :meth:`Database.transaction` and pass the
session to service functions, which never commit on their own.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import JSON, DateTime, Engine, ForeignKey, String, create_engine, event, text
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
    "utcnow",
]

JSONValue = JSON().with_variant(JSONB(), "postgresql")


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


class Database:
    """An engine plus session factories; one per process and database URL."""

    def __init__(self, url: str, *, pool_size: int = 10, busy_timeout_ms: int = 5000) -> None:
        self.url = make_url(url)
        kwargs: dict[str, Any] = {"hide_parameters": True, "pool_pre_ping": True}
        if self.url.get_backend_name() == "sqlite":
            if self.url.database and self.url.database != ":memory:":
                Path(self.url.database).parent.mkdir(parents=True, exist_ok=True)
            kwargs["connect_args"] = {"check_same_thread": False}
        else:
            kwargs.update(pool_size=pool_size, max_overflow=pool_size)
        self.engine = create_engine(self.url, **kwargs)
        if self.is_sqlite:
            _install_sqlite_behaviour(self.engine, busy_timeout_ms)
        writer = self.engine.execution_options(sqlite_begin="IMMEDIATE")
        self._readers = sessionmaker(self.engine, class_=CoreoSession, expire_on_commit=False)
        self._writers = sessionmaker(writer, class_=CoreoSession, expire_on_commit=False)

    @classmethod
    def from_settings(cls, settings: Settings) -> Database:
        return cls(
            settings.effective_database_url,
            pool_size=settings.database_pool_size,
            busy_timeout_ms=settings.sqlite_busy_timeout_ms,
        )

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
        if workspace_id is not None:
            session.info["workspace_id"] = workspace_id
        return session

    @contextmanager
    def transaction(
        self, *, workspace_id: str | None = None, write: bool = True
    ) -> Iterator[Session]:
        """Run a unit of work: commit when the block succeeds, roll back when it raises."""
        with self.session(workspace_id=workspace_id, write=write) as session, session.begin():
            yield session

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

    def migrate(self, revision: str = "head") -> None:
        """Upgrade the schema to ``revision`` (default: the newest)."""
        config = self._alembic_config()
        try:
            with self.engine.begin() as connection:
                config.attributes["connection"] = connection
                command.upgrade(config, revision)
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
