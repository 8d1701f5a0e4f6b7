"""Where the wrapped keys live: the operational database, or a key store of their own.

By default the data keys (``privacy_data_keys``) and the keyring (``privacy_keyring``) are
tables of the operational database, written in the caller's transaction. Then a backup of
that database holds every person's wrapped key beside the data it sealed, and an erasure's
crypto-shredding reaches the live database only.

With ``COREO_KEY_DATABASE_URL`` they live in a database of their own (an SQLite file or a
second PostgreSQL database), which is backed up on its own schedule with short retention.
A backup of the operational database then holds no key: once an erasure has destroyed a
person's data key in the key store, every copy of the person's sealed data is unreadable.

Two databases cannot commit together, so the key store's writes are ordered to fail safe:

* **a new key is committed first**, before the data it seals (it is inserted and committed
  at once, outside the caller's transaction). If the caller's transaction then rolls back,
  the key wraps nothing: a random key under a random profile id, which no data refers to.
* **a destroyed key is destroyed last**: when the erasure that destroys it is about to
  commit, after all of its work succeeded (a ``before_commit`` hook). An erasure that fails
  midway destroys no key and can run again; only a failure of the final commit itself
  leaves data whose key is gone (unreadable, and deleted when the request runs again).
  A purged transit day key, which nothing can need any more, is destroyed at once.

Every process must name the same key store. ``coreo migrate`` gives a key store its
schema and a random **store id**, and binds the operational database to it (a row of
``privacy_key_store_binding``; ``coreo keys move-to-store`` binds a database that held its
keys itself). Before a process touches a key it checks the binding against the store it
was given (and again every half minute): a process that names another store, or none,
stops with an error instead of making or destroying keys where nobody looks for them.
The key store's tables have no foreign keys: the workspaces live elsewhere.
"""

from __future__ import annotations

import secrets
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager, nullcontext
from datetime import datetime
from typing import Any, cast

from sqlalchemy import (
    Column,
    Integer,
    MetaData,
    String,
    Table,
    bindparam,
    delete,
    event,
    func,
    inspect,
    select,
)
from sqlalchemy.exc import OperationalError, ProgrammingError
from sqlalchemy.orm import Session

from coreo.config import Settings, same_database
from coreo.db import CoreoSession, Database, UTCDateTime, conflict_insert, utcnow
from coreo.errors import ConfigurationError
from coreo.privacy.models import DataKey, KeyringEntry, KeyStoreBinding

__all__ = [
    "SCHEMA_VERSION",
    "SEPARATE_TABLES",
    "KeyStore",
    "KeyStoreMismatch",
    "bind",
    "forget_checks",
    "key_store",
    "key_store_of",
    "move_keys",
]

_SHARED_DATA_KEYS = cast(Table, DataKey.__table__)
_SHARED_KEYRING = cast(Table, KeyringEntry.__table__)
_BINDING = cast(Table, KeyStoreBinding.__table__)
SCHEMA_VERSION = 1  # of the key store's own tables; a later change migrates from it
_RECHECK = 30.0  # seconds: a process checks the binding again this often
_MIGRATION_LOCK = 0x636F72656F6B6579  # pg_advisory_xact_lock id of a key store's migration

SEPARATE_TABLES = MetaData()


def _apart(table: Table) -> Table:
    """``table`` as the key store holds it: the same columns, without the foreign keys
    (the workspaces live in the operational database)."""
    columns = (
        Column(c.name, c.type, primary_key=c.primary_key, nullable=c.nullable)
        for c in table.columns
    )
    return Table(table.name, SEPARATE_TABLES, *columns)


_SEPARATE_DATA_KEYS = _apart(_SHARED_DATA_KEYS)
_SEPARATE_KEYRING = _apart(_SHARED_KEYRING)
_SEPARATE_STORE = Table(
    "privacy_key_store",
    SEPARATE_TABLES,
    Column("store_id", String(32), primary_key=True),
    Column("schema_version", Integer, nullable=False),
    Column("created_at", UTCDateTime(), nullable=False),
)
_CHUNK = 500
_OPEN: dict[str | None, KeyStore] = {}  # one per URL and process: one engine each
_OPEN_LOCK = threading.Lock()


class KeyStoreMismatch(ConfigurationError):
    """A process names another key store than the one the database is bound to (or none,
    or one where none is bound): it must not touch a key. The worker stops on it rather
    than dead-lettering events."""


def _bound(session: Session) -> str | None:
    """The store id the operational database of ``session`` is bound to (None: none)."""
    try:
        return session.connection().scalar(select(_BINDING.c.store_id))
    except (OperationalError, ProgrammingError) as error:
        if _BINDING.name not in str(error.orig):
            raise
        raise ConfigurationError(
            "the database has no key-store binding table: run `coreo migrate`"
        ) from None


_LOCK_NOT_AVAILABLE = "55P03"  # SQLSTATE of a lock wait that hit lock_timeout
LOCK_TRY_SECONDS = 10.0  # how long _lock waits in short turns before it waits in line


def _lock(session: Session, tables: Iterable[Table]) -> None:
    """On PostgreSQL, keep other transactions from adding or changing rows of ``tables``
    until this one ends (readers go on); an SQLite writer is alone anyway.

    Waiting for one table while holding the other would deadlock with a transaction that
    wrote the second and goes on to the first (a worker batch that made the transit key of
    the day, then a data key). So for ``LOCK_TRY_SECONDS`` it waits in turns shorter than
    half the server's ``deadlock_timeout``, in line with the other lockers, each turn in a
    savepoint whose rollback gives back what it took; then it waits as long as it takes,
    and PostgreSQL's deadlock detector settles what is left (or cancels an autovacuum)."""
    if session.get_bind().dialect.name != "postgresql":
        return
    statement = f"LOCK TABLE {', '.join(t.name for t in tables)} IN SHARE ROW EXCLUSIVE MODE"
    connection = session.connection()
    deadlock_ms = connection.exec_driver_sql(
        "SELECT setting::int FROM pg_settings WHERE name = 'deadlock_timeout'"
    ).scalar_one()
    turn_ms = max(1, deadlock_ms // 2)
    deadline, pause = time.monotonic() + LOCK_TRY_SECONDS, 0.005
    while time.monotonic() < deadline:
        try:
            with session.begin_nested():  # a turn that times out gives back what it took
                # asked of the session again: that is what emits the SAVEPOINT
                connection = session.connection()
                connection.exec_driver_sql(f"SET LOCAL lock_timeout = {turn_ms}")
                connection.exec_driver_sql(statement)
                connection.exec_driver_sql("SET LOCAL lock_timeout TO DEFAULT")
            return
        except OperationalError as error:
            if getattr(error.orig, "sqlstate", None) != _LOCK_NOT_AVAILABLE:
                raise
        time.sleep(pause)
        pause = min(pause * 2, 0.1)
    connection.exec_driver_sql(statement)


def key_store(url: str | None, *, pool_size: int = 10, busy_timeout_ms: int = 5000) -> KeyStore:
    """The process's key store at ``url`` (None: the operational database's tables); the
    connection settings count when it is first opened."""
    with _OPEN_LOCK:
        found = _OPEN.get(url)
        if found is None:
            found = _OPEN[url] = KeyStore(url, pool_size=pool_size, busy_timeout_ms=busy_timeout_ms)
        return found


def forget_checks() -> None:
    """Check every binding again on next use (after this process bound or moved keys)."""
    with _OPEN_LOCK:
        for store in _OPEN.values():
            store._checked.clear()


def key_store_of(settings: Settings) -> KeyStore:
    """The key store ``settings`` name (``COREO_KEY_DATABASE_URL``), opened with the
    database's pool size and SQLite busy timeout."""
    return key_store(
        settings.key_database_url,
        pool_size=settings.database_pool_size,
        busy_timeout_ms=settings.sqlite_busy_timeout_ms,
    )


HMAC = "hmac"  # the keyring's HMAC secret: every process checks its master key against it
Rewrap = Callable[[bytes | None], Sequence[dict[str, Any]] | None]
"""Given the keyring's HMAC entry as an insert's transaction sees it: None when the new
keys' wrapping still opens it, else the rows wrapped under the current master key."""

_DOOMED = "coreo.keys_to_destroy"  # session.info: data keys destroyed at its commit


@event.listens_for(CoreoSession, "before_commit")
def _destroy_doomed_keys(session: Session) -> None:
    """Destroy the data keys the committing transaction shredded, in the key store of
    their own, just before it commits: a failure here fails the commit."""
    for store, workspace_id, ids in session.info.pop(_DOOMED, []):
        store._delete_now(session, workspace_id, ids)


@event.listens_for(CoreoSession, "after_rollback")
def _spare_doomed_keys(session: Session) -> None:
    """A rolled-back transaction destroys no key (its data stays, readable)."""
    session.info.pop(_DOOMED, None)


class KeyStore:
    """The wrapped data keys and keyring entries of one installation.

    Every method takes the caller's session: with the keys in the operational database
    (``url`` None) it works in that session's transaction, as any other table; with a key
    store of their own it works in a short transaction of the key store, committed before
    the method returns (see the module docstring for the order this gives).
    """

    def __init__(
        self, url: str | None, *, pool_size: int = 10, busy_timeout_ms: int = 5000
    ) -> None:
        self.url = url
        self._options = {"pool_size": pool_size, "busy_timeout_ms": busy_timeout_ms}
        self._database: Database | None = None
        self._store_id: str | None = None
        self._checked: dict[str, float] = {}  # operational database → when its binding held

    @property
    def separate(self) -> bool:
        """Whether the keys live in a database of their own (committed at once)."""
        return self.url is not None

    @property
    def database(self) -> Database | None:
        """The key store's own database (opened on first use)."""
        if self.url is None:
            return None
        with _OPEN_LOCK:
            if self._database is None:
                self._database = Database(self.url, **self._options)
            return self._database

    @property
    def display_url(self) -> str:
        """Where the keys are, safe to print (a password masked)."""
        database = self.database
        return "(the operational database)" if database is None else database.display_url

    def close(self) -> None:
        """Close the key store's connections (it opens again on next use)."""
        if self._database is not None:
            self._database.dispose()
            self._database = None
        self._store_id = None
        self._checked.clear()

    # -- schema, identity and binding --------------------------------------------------------

    def migrate(self) -> str:
        """Give the key store its tables and its store id, unless it has them; return the
        id. Safe to run from several processes at once (one transaction, serialised)."""
        database = self.database
        if database is None:
            raise ValueError("the keys live in the operational database: it has no key store")
        try:
            return self._migrate(database)
        except OperationalError:
            raise ConfigurationError(
                f"cannot reach the key store at {database.display_url}"
            ) from None

    def _migrate(self, database: Database) -> str:
        with database.transaction() as own:
            connection = own.connection()
            if not database.is_sqlite:  # SQLite's write transaction is serialised already
                connection.execute(select(func.pg_advisory_xact_lock(_MIGRATION_LOCK)))
            SEPARATE_TABLES.create_all(connection, checkfirst=True)
            found = connection.execute(select(_SEPARATE_STORE)).first()
            if found is None:
                store_id = secrets.token_hex(16)
                connection.execute(
                    _SEPARATE_STORE.insert().values(
                        store_id=store_id, schema_version=SCHEMA_VERSION, created_at=utcnow()
                    )
                )
                found = connection.execute(select(_SEPARATE_STORE)).one()
        return self._identify(found.store_id, found.schema_version)

    @property
    def store_id(self) -> str:
        """The key store's id (``coreo migrate`` gives it one); an error names the command
        when the store has no schema yet or one from a newer Coreo."""
        if self._store_id is not None:
            return self._store_id
        database = self.database
        if database is None:
            raise ValueError("the keys live in the operational database: it has no store id")
        try:
            with database.engine.connect() as connection:
                if not inspect(connection).has_table(_SEPARATE_STORE.name):
                    found = None
                else:
                    found = connection.execute(select(_SEPARATE_STORE)).first()
        except OperationalError:
            raise ConfigurationError(
                f"cannot reach the key store at {database.display_url}"
            ) from None
        if found is None:
            raise ConfigurationError(
                f"the key store at {database.display_url} has no schema yet: run `coreo migrate`"
            )
        return self._identify(found.store_id, found.schema_version)

    def _identify(self, store_id: str, version: int) -> str:
        if version > SCHEMA_VERSION:
            raise ConfigurationError(
                f"the key store's schema is version {version}, from a newer Coreo than this "
                f"one (which knows version {SCHEMA_VERSION})"
            )
        self._store_id = store_id
        return store_id

    def check(self, session: Session, *, fresh: bool = False) -> None:
        """Refuse to touch a key unless the operational database of ``session`` keeps its
        keys where this store is: bound to this key store, or (no key store) to none.
        Checked on first use and again every half minute; ``fresh``: now (before a key is
        written or destroyed)."""
        where = session.get_bind().engine.url.render_as_string(hide_password=False)
        due = time.monotonic() - self._checked.get(where, float("-inf")) >= _RECHECK
        if not (due or fresh):
            return
        if due:
            self._store_id = None  # a key store replaced at the same URL is found out too
        bound = _bound(session)
        if not self.separate:
            if bound is not None:
                raise KeyStoreMismatch(
                    f"this database's keys live in the key store {bound}: set "
                    "COREO_KEY_DATABASE_URL to it in every process"
                )
        elif bound is None:
            raise KeyStoreMismatch(
                "this database is not bound to the key store COREO_KEY_DATABASE_URL names: "
                "run `coreo migrate`, or `coreo keys move-to-store` when it holds its keys"
            )
        elif bound != self.store_id:
            raise KeyStoreMismatch(
                f"COREO_KEY_DATABASE_URL names the key store {self.store_id}, but this "
                f"database's keys live in the key store {bound}: every process must name "
                "the same one"
            )
        self._checked[where] = time.monotonic()

    @contextmanager
    def tables_in(
        self, session: Session, *, write: bool, exclusive: bool = False
    ) -> Iterator[tuple[Session, Table, Table]]:
        """The session to work in and the two tables, in the caller's transaction or in
        one of the key store's own (committed on leaving), once ``check`` has found the
        operational database of ``session`` bound to this store. ``exclusive``: no other
        transaction adds or changes a key until this one ends (``coreo keys rotate-master``
        re-wraps every key in one of these; an SQLite writer is alone anyway)."""
        self.check(session, fresh=write)
        database = self.database
        tables = (
            (_SHARED_DATA_KEYS, _SHARED_KEYRING)
            if database is None
            else (_SEPARATE_DATA_KEYS, _SEPARATE_KEYRING)
        )
        work: AbstractContextManager[Session] = (
            nullcontext(session) if database is None else database.transaction(write=write)
        )
        with work as own:
            if exclusive:
                _lock(own, tables)
            yield own, tables[0], tables[1]
            if write and database is None and _bound(own) is not None:
                # Bound meanwhile (`coreo keys move-to-store` committed after the check):
                # what this transaction wrote went where nobody looks. Roll it back.
                raise KeyStoreMismatch(
                    "this database's keys moved to a key store while this process wrote "
                    "one: set COREO_KEY_DATABASE_URL to it in every process"
                )

    # -- data keys ---------------------------------------------------------------------------

    def wrapped_keys(
        self, session: Session, workspace_id: str, profile_ids: Iterable[str]
    ) -> dict[str, bytes]:
        """The wrapped data keys of these profiles that exist."""
        wanted = sorted(set(profile_ids))
        found: dict[str, bytes] = {}
        if not wanted:
            return found
        with self.tables_in(session, write=False) as (own, keys, _):
            connection = own.connection()
            for start in range(0, len(wanted), _CHUNK):
                rows = connection.execute(
                    select(keys.c.profile_id, keys.c.wrapped).where(
                        keys.c.workspace_id == workspace_id,
                        keys.c.profile_id.in_(wanted[start : start + _CHUNK]),
                    )
                )
                found.update((profile_id, bytes(wrapped)) for profile_id, wrapped in rows)
        return found

    def add_keys(self, session: Session, rows: Sequence[dict[str, Any]], rewrap: Rewrap) -> None:
        """Insert wrapped data keys (``workspace_id``, ``profile_id``, ``wrapped``,
        ``created_at``); a profile that has one already keeps its own.

        ``rewrap`` is given the keyring's HMAC entry as the insert's own transaction sees
        it, after the insert: when the master key was rotated while the keys were wrapped,
        it returns the rows wrapped anew, which replace them (``coreo keys rotate-master``
        locks the tables on PostgreSQL, so it re-wraps every key committed before it and
        sees none committed after it)."""
        if not rows:
            return
        with self.tables_in(session, write=True) as (own, keys, ring):
            connection = own.connection()
            connection.execute(conflict_insert(own, keys).on_conflict_do_nothing(), rows)
            again = rewrap(_entry(connection, ring, HMAC))
            if again:
                replace = (
                    keys.update()
                    .where(
                        keys.c.workspace_id == bindparam("ws"),
                        keys.c.profile_id == bindparam("profile"),
                        keys.c.wrapped == bindparam("was"),
                    )
                    .values(wrapped=bindparam("now"))
                )
                connection.execute(
                    replace,
                    [
                        {"ws": old["workspace_id"], "profile": old["profile_id"]}
                        | {"was": old["wrapped"], "now": new["wrapped"]}
                        for old, new in zip(rows, again, strict=True)
                    ],
                )

    def delete_keys(self, session: Session, workspace_id: str, profile_ids: Iterable[str]) -> int:
        """Destroy these profiles' data keys; return how many there are.

        In a key store of its own they are destroyed when the caller's transaction is about
        to commit, after all of its work succeeded (``before_commit``): an erasure that
        fails midway keeps the keys of the data it leaves, and can run again."""
        ids = sorted(set(profile_ids))
        if not ids:
            return 0
        if self.separate:
            found = sorted(self.wrapped_keys(session, workspace_id, ids))
            pending: list[tuple[KeyStore, str, list[str]]] = session.info.setdefault(_DOOMED, [])
            pending.append((self, workspace_id, found))
            return len(found)
        return self._delete_now(session, workspace_id, ids)

    def _delete_now(self, session: Session, workspace_id: str, ids: list[str]) -> int:
        deleted = 0
        with self.tables_in(session, write=True) as (own, keys, _):
            connection = own.connection()
            for start in range(0, len(ids), _CHUNK):
                result = connection.execute(
                    delete(keys).where(
                        keys.c.workspace_id == workspace_id,
                        keys.c.profile_id.in_(ids[start : start + _CHUNK]),
                    )
                )
                deleted += int(result.rowcount or 0)
        return deleted

    # -- keyring -----------------------------------------------------------------------------

    def keyring_entry(self, session: Session, name: str) -> bytes | None:
        with self.tables_in(session, write=False) as (own, _, ring):
            return _entry(own.connection(), ring, name)

    def add_keyring_entry(
        self,
        session: Session,
        name: str,
        wrapped: bytes,
        created_at: datetime,
        rewrap: Callable[[bytes | None], bytes | None],
    ) -> bytes:
        """Insert the entry unless one of that name exists; return the entry kept.
        ``rewrap`` as for ``add_keys``: the entry wrapped anew, or None."""
        with self.tables_in(session, write=True) as (own, _, ring):
            connection = own.connection()
            connection.execute(
                conflict_insert(own, ring)
                .values(name=name, wrapped=wrapped, created_at=created_at)
                .on_conflict_do_nothing()
            )
            again = rewrap(_entry(connection, ring, HMAC))
            if again is not None:
                connection.execute(
                    ring.update()
                    .where(ring.c.name == name, ring.c.wrapped == wrapped)
                    .values(wrapped=again)
                )
            kept = _entry(connection, ring, name)
        if kept is None:  # destroyed as it was made (a purge): never seal with it
            raise ConfigurationError(f"the keyring's secret {name!r} could not be made")
        return kept

    def keyring_names(self, session: Session, prefix: str) -> list[str]:
        with self.tables_in(session, write=False) as (own, _, ring):
            return list(
                own.connection().scalars(
                    select(ring.c.name).where(ring.c.name.startswith(prefix, autoescape=True))
                )
            )

    def delete_keyring_entries(self, session: Session, names: Sequence[str]) -> None:
        if not names:
            return
        with self.tables_in(session, write=True) as (own, _, ring):
            own.connection().execute(delete(ring).where(ring.c.name.in_(list(names))))


def _holds_keys(connection: Any) -> bool:
    """Whether the operational database holds keys of its own (in its tables)."""
    return any(
        connection.execute(select(table.c[0]).limit(1)).first() is not None
        for table in (_SHARED_DATA_KEYS, _SHARED_KEYRING)
    )


def _entry(connection: Any, ring: Table, name: str) -> bytes | None:
    """The keyring entry ``name`` as the connection's transaction sees it."""
    wrapped = connection.scalar(select(ring.c.wrapped).where(ring.c.name == name))
    return None if wrapped is None else bytes(wrapped)


def _elsewhere(bound: str, store_id: str) -> KeyStoreMismatch:
    return KeyStoreMismatch(
        f"this database's keys live in the key store {bound}, not in {store_id} "
        "(which COREO_KEY_DATABASE_URL names)"
    )


def _claim(session: Session, store_id: str) -> str | None:
    """Lock the binding and the database's key tables (PostgreSQL: until the transaction
    ends, so that no key is added meanwhile) and return the store id the database is bound
    to: None or ``store_id`` (bound to another store is an error)."""
    _lock(session, (_BINDING, _SHARED_DATA_KEYS, _SHARED_KEYRING))
    bound = _bound(session)
    if bound is not None and bound != store_id:
        raise _elsewhere(bound, store_id)
    return bound


def _bind_now(session: Session, store_id: str) -> None:
    session.execute(_BINDING.insert().values(id=1, store_id=store_id, bound_at=utcnow()))


def _apart_from(database: Database, store: KeyStore) -> Database:
    """The key store's own database; ValueError when there is none, or when it is
    ``database`` itself."""
    if store.database is None:
        raise ValueError("set COREO_KEY_DATABASE_URL to the key store first")
    if same_database(str(store.database.url), str(database.url)):
        raise ValueError("COREO_KEY_DATABASE_URL names the operational database itself")
    return store.database


def bind(database: Database, store: KeyStore) -> bool:
    """Bind ``database`` to ``store`` (given its schema and id first) unless it is bound:
    True when it is now; False when it holds keys of its own, which ``move_keys`` moves
    (and binds). An error when it is bound to another store, or when ``store`` is the
    database itself. A database bound already is only read."""
    try:
        _apart_from(database, store)
    except ValueError as error:
        raise ConfigurationError(str(error)) from None
    with database.transaction(write=False) as session:
        bound = _bound(session)
    if bound is not None:  # never makes a key store at a mistyped URL
        try:
            store_id = store.store_id
        except ConfigurationError:
            store_id = "(none: no schema)"
        if bound != store_id:
            raise _elsewhere(bound, store_id)
        return True
    store_id = store.migrate()
    with database.transaction() as session:
        if _claim(session, store_id) is None:
            if _holds_keys(session.connection()):
                return False
            _bind_now(session, store_id)
    forget_checks()
    return True


def move_keys(database: Database, store: KeyStore) -> dict[str, int]:
    """Move every data key and keyring entry of ``database`` into ``store`` (a key store of
    its own) and bind the database to it: copied and committed there first, then deleted
    from ``database``. A key the store already holds under the same name stays as the
    store has it when the two agree; when they differ, nothing is moved (an error names
    how many differ)."""
    keys_database = _apart_from(database, store)
    store_id = store.migrate()
    with database.transaction() as session:
        bound = _claim(session, store_id)
        connection = session.connection()
        shared_keys = connection.execute(select(_SHARED_DATA_KEYS)).mappings().all()
        shared_ring = connection.execute(select(_SHARED_KEYRING)).mappings().all()
        with keys_database.transaction() as own:
            there = own.connection()
            moving = ((_SEPARATE_DATA_KEYS, shared_keys), (_SEPARATE_KEYRING, shared_ring))
            for table, rows in moving:
                if rows:
                    insert = conflict_insert(own, table).on_conflict_do_nothing()
                    there.execute(insert, [dict(r) for r in rows])
            held = {
                (r.workspace_id, r.profile_id): bytes(r.wrapped)
                for r in there.execute(select(_SEPARATE_DATA_KEYS)).all()
            }
            ring = {r.name: bytes(r.wrapped) for r in there.execute(select(_SEPARATE_KEYRING))}
            differ = sum(
                held.get((r["workspace_id"], r["profile_id"])) != bytes(r["wrapped"])
                for r in shared_keys
            ) + sum(ring.get(r["name"]) != bytes(r["wrapped"]) for r in shared_ring)
            if differ:
                raise ValueError(
                    f"{differ} key(s) of the database differ from the key store's under the "
                    "same name: nothing was moved"
                )
        if shared_keys:  # only what was copied: a key made meanwhile stays
            copied = delete(_SHARED_DATA_KEYS).where(
                _SHARED_DATA_KEYS.c.workspace_id == bindparam("ws"),
                _SHARED_DATA_KEYS.c.profile_id == bindparam("profile"),
            )
            connection.execute(
                copied, [{"ws": r["workspace_id"], "profile": r["profile_id"]} for r in shared_keys]
            )
        names = [row["name"] for row in shared_ring]
        if names:
            connection.execute(delete(_SHARED_KEYRING).where(_SHARED_KEYRING.c.name.in_(names)))
        if bound is None:
            _bind_now(session, store_id)
    forget_checks()
    return {"data_keys": len(shared_keys), "keyring": len(shared_ring)}
