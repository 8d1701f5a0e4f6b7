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

The key store's two tables are created on first use (they have no foreign keys: the
workspaces live elsewhere).
"""

from __future__ import annotations

import threading
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime
from typing import Any, cast

from sqlalchemy import (
    Column,
    LargeBinary,
    MetaData,
    String,
    Table,
    bindparam,
    delete,
    event,
    select,
)
from sqlalchemy.orm import Session

from coreo.db import CoreoSession, Database, UTCDateTime, conflict_insert
from coreo.errors import ConfigurationError
from coreo.privacy.models import DataKey, KeyringEntry

__all__ = ["SEPARATE_TABLES", "KeyStore", "key_store", "move_keys"]

_SHARED_DATA_KEYS = cast(Table, DataKey.__table__)
_SHARED_KEYRING = cast(Table, KeyringEntry.__table__)

SEPARATE_TABLES = MetaData()
_SEPARATE_DATA_KEYS = Table(
    "privacy_data_keys",
    SEPARATE_TABLES,
    Column("workspace_id", String(32), primary_key=True),
    Column("profile_id", String(32), primary_key=True),
    Column("wrapped", LargeBinary, nullable=False),
    Column("created_at", UTCDateTime(), nullable=False),
)
_SEPARATE_KEYRING = Table(
    "privacy_keyring",
    SEPARATE_TABLES,
    Column("name", String(40), primary_key=True),
    Column("wrapped", LargeBinary, nullable=False),
    Column("created_at", UTCDateTime(), nullable=False),
)
_CHUNK = 500
_OPEN: dict[str | None, KeyStore] = {}  # one per URL and process: one engine each
_OPEN_LOCK = threading.Lock()


def key_store(url: str | None) -> KeyStore:
    """The process's key store at ``url`` (None: the operational database's tables)."""
    with _OPEN_LOCK:
        found = _OPEN.get(url)
        if found is None:
            found = _OPEN[url] = KeyStore(url)
        return found


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

    def __init__(self, url: str | None) -> None:
        self.url = url
        self._database: Database | None = None

    @property
    def separate(self) -> bool:
        """Whether the keys live in a database of their own (committed at once)."""
        return self.url is not None

    @property
    def database(self) -> Database | None:
        """The key store's own database (opened and its tables made on first use)."""
        if self.url is None:
            return None
        with _OPEN_LOCK:
            if self._database is None:
                database = Database(self.url)
                SEPARATE_TABLES.create_all(database.engine, checkfirst=True)
                self._database = database
            return self._database

    def close(self) -> None:
        """Close the key store's connections (it opens again on next use)."""
        if self._database is not None:
            self._database.dispose()
            self._database = None

    @contextmanager
    def tables_in(self, session: Session, *, write: bool) -> Iterator[tuple[Session, Table, Table]]:
        """The session to work in and the two tables, in the caller's transaction or in
        one of the key store's own (committed on leaving): ``coreo keys rotate-master``
        works on every key in one of these."""
        database = self.database
        if database is None:
            yield session, _SHARED_DATA_KEYS, _SHARED_KEYRING
            return
        with database.transaction(write=write) as own:
            yield own, _SEPARATE_DATA_KEYS, _SEPARATE_KEYRING

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

    def add_keys(self, session: Session, rows: Sequence[dict[str, Any]]) -> None:
        """Insert wrapped data keys (``workspace_id``, ``profile_id``, ``wrapped``,
        ``created_at``); a profile that has one already keeps its own."""
        if not rows:
            return
        with self.tables_in(session, write=True) as (own, keys, _):
            own.connection().execute(conflict_insert(own, keys).on_conflict_do_nothing(), rows)

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
            wrapped = own.connection().scalar(select(ring.c.wrapped).where(ring.c.name == name))
        return None if wrapped is None else bytes(wrapped)

    def add_keyring_entry(
        self, session: Session, name: str, wrapped: bytes, created_at: datetime
    ) -> bytes:
        """Insert the entry unless one of that name exists; return the entry kept."""
        with self.tables_in(session, write=True) as (own, _, ring):
            connection = own.connection()
            connection.execute(
                conflict_insert(own, ring)
                .values(name=name, wrapped=wrapped, created_at=created_at)
                .on_conflict_do_nothing()
            )
            kept = connection.scalar(select(ring.c.wrapped).where(ring.c.name == name))
        if kept is None:  # destroyed as it was made (a purge): never seal with it
            raise ConfigurationError(f"the keyring's secret {name!r} could not be made")
        return bytes(kept)

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


def move_keys(database: Database, store: KeyStore) -> dict[str, int]:
    """Move every data key and keyring entry of ``database`` into ``store`` (a key store of
    its own): copied and committed there first, then deleted from ``database``. A key the
    store already holds under the same name stays as the store has it when the two agree;
    when they differ, nothing is moved (an error names how many differ)."""
    if store.database is None:
        raise ValueError("set COREO_KEY_DATABASE_URL to the key store first")
    if store.database.url == database.url:
        raise ValueError("COREO_KEY_DATABASE_URL names the operational database itself")
    with database.transaction() as session:
        connection = session.connection()
        shared_keys = connection.execute(select(_SHARED_DATA_KEYS)).mappings().all()
        shared_ring = connection.execute(select(_SHARED_KEYRING)).mappings().all()
        with store.database.transaction() as own:
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
    return {"data_keys": len(shared_keys), "keyring": len(shared_ring)}
