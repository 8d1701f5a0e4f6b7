"""A key store of its own (``COREO_KEY_DATABASE_URL``): backups of the operational database
hold no key, so an erasure's crypto-shredding reaches them too (GDPR Art. 17, 25, 32)."""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError
from sqlalchemy import func, select, text
from sqlalchemy.exc import IntegrityError

from coreo.config import Settings
from coreo.db import Database
from coreo.errors import ConfigurationError
from coreo.history.models import EventRecord
from coreo.privacy import crypto, erasure, keystore, transit
from coreo.privacy.keys import master_key, write_key_file
from coreo.privacy.models import DataKey, KeyringEntry
from coreo.profiles import service as profiles
from tests.cli.test_cli import assert_one_line_error, coreo
from tests.conftest import scratch_postgres_database
from tests.identity.conftest import feed_pipeline, message
from tests.privacy.test_crypto import _stored

__all__ = ["feed_pipeline"]

Feed = Callable[..., list[str | None]]


@pytest.fixture
def key_url(database: Database, tmp_path: Path) -> Iterator[str]:
    """A key store beside ``database``: an SQLite file, or a second PostgreSQL database."""
    if database.is_sqlite:
        url = f"sqlite:///{tmp_path / 'keys.db'}"
        yield url
        keystore.key_store(url).close()
        return
    with scratch_postgres_database("coreo_keys") as url:
        yield url
        keystore.key_store(url).close()  # before the database is dropped


@pytest.fixture
def separate(database: Database, settings: Settings, key_url: str) -> Database:
    """``database`` with its keys in the key store at ``key_url`` (given its schema and
    bound, as `coreo migrate` does)."""
    assert keystore.bind(database, keystore.key_store(key_url))
    crypto.enable(database, settings.model_copy(update={"key_database_url": key_url}))
    return database


def _in_database(database: Database) -> tuple[int, int]:
    """(data keys, keyring entries) held by the operational database."""
    with database.engine.connect() as connection:
        return (
            int(connection.scalar(select(func.count()).select_from(DataKey)) or 0),
            int(connection.scalar(select(func.count()).select_from(KeyringEntry)) or 0),
        )


def _in_store(url: str) -> tuple[set[str], set[str]]:
    """(profile ids with a data key, keyring names) held by the key store."""
    store = keystore.key_store(url).database
    assert store is not None
    with store.engine.connect() as connection:
        profiles_ = set(connection.scalars(text("SELECT profile_id FROM privacy_data_keys")))
        names = set(connection.scalars(text("SELECT name FROM privacy_keyring")))
    return profiles_, names


def _sealed_traits(database: Database, ws: str, profile: str) -> dict[str, str]:
    """The person's sealed trait values as a copy or a backup of the database holds them."""
    stored = _stored(database, ws, profile)
    found = {name: str(value).strip('"') for name, (value, _) in stored.items()}
    return {name: value for name, value in found.items() if crypto.is_sealed(value)}


def _anna() -> dict[str, Any]:
    return message("identify", userId="anna-5", traits={"email": "anna5@x.ch", "lastName": "Roth"})


def test_the_keys_live_in_the_key_store_and_an_erasure_leaves_backups_unreadable(
    separate: Database, key_url: str, tenant: Any, feed_pipeline: Feed
) -> None:
    ws = tenant.workspace_id
    (anna,) = feed_pipeline(_anna())
    (ben,) = feed_pipeline(message("identify", at=1, userId="ben-5", traits={"lastName": "Bär"}))
    assert _in_database(separate) == (0, 0)  # a backup of the database holds no key
    keyed, names = _in_store(key_url)
    assert keyed == {anna, ben} and "hmac" in names
    with separate.transaction(write=False) as session:
        shown = profiles.describe(profiles.view(session, ws, str(anna)))
    assert shown["traits"]["lastName"]["value"] == "Roth"
    backup = _sealed_traits(separate, ws, str(anna))  # taken before the erasure
    assert set(backup) >= {"email", "lastName"}
    with separate.engine.connect() as connection:
        event_backup = connection.scalar(
            select(EventRecord.payload).where(EventRecord.profile_id == anna)
        )
    assert event_backup is not None and "anna5@x.ch" not in event_backup
    with separate.transaction(workspace_id=ws) as session:
        erasure.erase(session, ws, str(anna), tombstone_key=b"k" * 32, actor="dpo")
    assert _in_store(key_url)[0] == {ben}
    with separate.transaction() as session:
        for name, value in backup.items():  # restored from the backup: nothing opens
            with pytest.raises(ConfigurationError, match="no data key"):
                crypto.open_value(session, ws, str(anna), name, value)
        opened = crypto.open_message(session, ws, str(anna), event_backup)
        assert opened["userId"] == opened["traits"]["email"] == "[erased]"
        assert crypto.open_identity(session, ws, "user_id", "i:x", "enc:v1:AAAA", anna) == (
            "[erased]"
        )
    # Reading made no key: the erased person's key stays destroyed, provably.
    assert _in_store(key_url)[0] == {ben}
    with separate.transaction(write=False) as session:
        assert (
            profiles.describe(profiles.view(session, ws, str(ben)))["traits"]["lastName"]["value"]
            == "Bär"
        )


def test_without_a_key_store_a_backup_keeps_the_erased_persons_key(
    database: Database, settings: Settings, tenant: Any, feed_pipeline: Feed
) -> None:
    """Why the key store matters: by default the wrapped key is in the same backup."""
    crypto.enable(database, settings)
    ws = tenant.workspace_id
    (anna,) = feed_pipeline(_anna())
    backup = _sealed_traits(database, ws, str(anna))
    with database.engine.connect() as connection:
        wrapped = connection.scalar(select(DataKey.wrapped).where(DataKey.profile_id == anna))
    assert wrapped is not None
    with database.transaction(workspace_id=ws) as session:
        erasure.erase(session, ws, str(anna), tombstone_key=b"k" * 32, actor="dpo")
    key = crypto._unwrap(
        crypto.kek_of(master_key(settings)), bytes(wrapped), f"coreo/data-key/{ws}/{anna}".encode()
    )
    aad = f"coreo/trait/{ws}/{anna}/lastName".encode()
    assert crypto._open(key, backup["lastName"], aad) == "Roth"  # the backup still opens


def test_keys_are_made_first_and_destroyed_only_when_the_erasure_commits(
    separate: Database, key_url: str, tenant: Any, feed_pipeline: Feed
) -> None:
    ws = tenant.workspace_id
    (anna,) = feed_pipeline(_anna())
    backup = _sealed_traits(separate, ws, str(anna))

    class Abort(Exception):
        pass

    with pytest.raises(Abort), separate.transaction() as session:
        crypto.data_key(session, ws, "prof_rolled_back")
        assert crypto.shred(session, ws, [str(anna)]) == 1
        raise Abort  # an erasure failing midway
    keyed, _ = _in_store(key_url)
    # The new key was committed first: after the rollback it wraps nothing (no data names
    # that profile), which is harmless. The failed erasure destroyed no key: Anna's data,
    # still there, still opens, and the erasure can run again.
    assert keyed == {"prof_rolled_back", str(anna)}
    with separate.transaction(write=False) as session:
        assert crypto.open_value(session, ws, str(anna), "lastName", backup["lastName"]) == "Roth"
    with separate.transaction() as session:
        crypto.shred(session, ws, [str(anna)])
        assert str(anna) in _in_store(key_url)[0]  # until the commit
    assert _in_store(key_url)[0] == {"prof_rolled_back"}
    with separate.transaction() as session:
        with pytest.raises(ConfigurationError):
            crypto.open_value(session, ws, str(anna), "lastName", backup["lastName"])
        session.rollback()


def test_rotation_and_transit_keys_work_in_the_key_store(
    separate: Database, key_url: str, settings: Settings, tenant: Any, feed_pipeline: Feed
) -> None:
    ws = tenant.workspace_id
    (anna,) = feed_pipeline(_anna())
    with separate.transaction() as session:
        old_day = transit._key(session, "20200101", create=True)
        assert old_day is not None
    assert "transit:20200101" in _in_store(key_url)[1]
    with separate.transaction() as session:
        assert "20200101" in transit.destroy_unused_keys(session, None)
    assert "transit:20200101" not in _in_store(key_url)[1]
    old, new = master_key(settings), os.urandom(32)
    counts = crypto.rotate_master(separate, old, new)
    keyed, names = _in_store(key_url)
    assert counts == {"data_keys": len(keyed), "keyring": len(names)}
    assert _in_database(separate) == (0, 0)
    assert len(_unwrapped(key_url, ws, str(anna), new)) == 32
    with pytest.raises(ConfigurationError, match="does not open"):
        _unwrapped(key_url, ws, str(anna), old)


def test_moving_the_keys_into_a_key_store_keeps_everything_readable(
    database: Database, settings: Settings, key_url: str, tenant: Any, feed_pipeline: Feed
) -> None:
    ws = tenant.workspace_id
    crypto.enable(database, settings)  # the keys start in the database
    (anna,) = feed_pipeline(_anna())
    with database.transaction() as session:
        before = crypto.data_key(session, ws, str(anna))
    data_keys, ring = _in_database(database)
    assert data_keys == 1 and ring >= 1
    counts = keystore.move_keys(database, keystore.key_store(key_url))
    assert counts == {"data_keys": 1, "keyring": ring}
    assert _in_database(database) == (0, 0)
    crypto.enable(database, settings.model_copy(update={"key_database_url": key_url}))
    with database.transaction(write=False) as session:
        assert crypto.data_key(session, ws, str(anna)) == before
        shown = profiles.describe(profiles.view(session, ws, str(anna)))
    assert shown["traits"]["email"]["value"] == "anna5@x.ch"
    assert keystore.move_keys(database, keystore.key_store(key_url)) == {
        "data_keys": 0,
        "keyring": 0,
    }  # moving again moves nothing
    with pytest.raises(ValueError, match="operational database itself"):
        keystore.move_keys(database, keystore.key_store(str(database.url)))
    assert _in_store(key_url)[0] == {str(anna)}


def test_the_cli_moves_keys_only_into_a_named_key_store(tmp_path: Path) -> None:
    home = tmp_path / "home"
    assert coreo(home, "init").returncode == 0
    assert_one_line_error(coreo(home, "keys", "move-to-store"), "COREO_KEY_DATABASE_URL")
    url = f"sqlite:///{tmp_path / 'keys.db'}"
    moved = coreo(home, "keys", "move-to-store", COREO_KEY_DATABASE_URL=url)
    assert moved.returncode == 0, moved.stderr
    assert "keyring secret(s) into the key store" in moved.stdout
    # Bound now: a command run without the key store, or with another, stops at once.
    assert_one_line_error(coreo(home, "dlq", "list"), "keys live in the key store")
    other = f"sqlite:///{tmp_path / 'other.db'}"
    assert_one_line_error(
        coreo(home, "dlq", "list", COREO_KEY_DATABASE_URL=other),
        "which COREO_KEY_DATABASE_URL names",
    )
    migrated = coreo(home, "migrate", COREO_KEY_DATABASE_URL=url)
    assert migrated.returncode == 0 and "Keys live in the key store" in migrated.stdout
    assert coreo(home, "dlq", "list", COREO_KEY_DATABASE_URL=url).returncode == 0
    assert_one_line_error(
        coreo(home, "keys", "move-to-store", COREO_KEY_DATABASE_URL="nonsense://"),
        "COREO_KEY_DATABASE_URL",
    )


def test_every_process_must_name_the_key_store_the_database_is_bound_to(
    separate: Database,
    key_url: str,
    settings: Settings,
    tenant: Any,
    feed_pipeline: Feed,
    tmp_path: Path,
) -> None:
    """A process that names no key store, or another one, touches no key: it would make
    keys nobody finds, or erase by deleting from empty tables while the real key survives."""
    ws = tenant.workspace_id
    (anna,) = feed_pipeline(_anna())
    other = f"sqlite:///{tmp_path / 'other-keys.db'}"
    try:
        for url, error in (
            (None, f"keys live in the key store {keystore.key_store(key_url).store_id}"),
            (other, "has no schema yet: run `coreo migrate`"),
            (other, "every process must name the same one"),  # given a schema meanwhile
        ):
            if error.startswith("every"):
                keystore.key_store(other).migrate()
            crypto.enable(separate, settings.model_copy(update={"key_database_url": url}))
            with separate.transaction() as session, pytest.raises(ConfigurationError, match=error):
                crypto.shred(session, ws, [str(anna)])
            with separate.transaction() as session, pytest.raises(ConfigurationError, match=error):
                crypto.data_key(session, ws, "prof_new")
        assert _in_store(other) == (set(), set())  # nothing was made where nobody looks
    finally:
        keystore.key_store(other).close()
    assert str(anna) in _in_store(key_url)[0]  # nor destroyed
    crypto.enable(separate, settings.model_copy(update={"key_database_url": key_url}))
    with separate.transaction(write=False) as session:
        assert (
            profiles.describe(profiles.view(session, ws, str(anna)))["traits"]["lastName"]["value"]
            == "Roth"
        )


def test_a_database_holding_its_keys_is_bound_only_by_moving_them(
    database: Database, settings: Settings, key_url: str, tenant: Any, feed_pipeline: Feed
) -> None:
    ws = tenant.workspace_id
    crypto.enable(database, settings)  # the keys start in the database
    (anna,) = feed_pipeline(_anna())
    store = keystore.key_store(key_url)
    assert keystore.bind(database, store) is False  # `coreo migrate` says: move them
    crypto.enable(database, settings.model_copy(update={"key_database_url": key_url}))
    with database.transaction() as session, pytest.raises(ConfigurationError, match="move-to"):
        crypto.data_key(session, ws, str(anna))
    keystore.move_keys(database, store)
    with database.transaction(write=False) as session:
        assert crypto.existing_key(session, ws, str(anna)) is not None
    crypto.enable(database, settings)  # a process still without the setting
    with database.transaction() as session, pytest.raises(ConfigurationError, match="set COREO"):
        crypto.data_key(session, ws, str(anna))


def test_a_key_store_must_be_a_file_named_by_an_absolute_path() -> None:
    for url in ("sqlite://", "sqlite:///:memory:", "sqlite:///keys.db", "sqlite:///./k/keys.db"):
        with pytest.raises(ValidationError, match="key_database_url"):
            Settings(key_database_url=url)
    assert Settings(key_database_url="sqlite:////srv/keys.db").key_database_url is not None


def test_a_key_wrapped_while_the_master_key_was_rotated_is_wrapped_anew(
    separate: Database,
    key_url: str,
    settings: Settings,
    tenant: Any,
    feed_pipeline: Feed,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Another process rotates the master key after this one wrapped a new key under the
    old one and before it inserted it: the insert's own transaction sees the rotated
    keyring, and the key is wrapped anew (it would open with no master key otherwise)."""
    ws = tenant.workspace_id
    feed_pipeline(_anna())  # this process knows the old key-encryption key
    key_file = settings.home / "master.key"
    old, new = master_key(settings), write_key_file(key_file.with_name("master.key.next"))
    insert = keystore.KeyStore.add_keys

    def rotated_first(self: keystore.KeyStore, *args: Any) -> None:
        crypto.rotate_master(separate, old, new)
        key_file.with_name("master.key.next").replace(key_file)
        insert(self, *args)

    monkeypatch.setattr(keystore.KeyStore, "add_keys", rotated_first)
    with separate.transaction() as session:
        made = crypto.data_key(session, ws, "prof_late")
    assert _unwrapped(key_url, ws, "prof_late", new) == made


def test_rotation_waits_for_a_key_being_added_and_wraps_it_too(
    separate: Database,
    key_url: str,
    settings: Settings,
    tenant: Any,
    feed_pipeline: Feed,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A key inserted and found current, but not committed yet, when the rotation starts:
    the rotation waits for it (a table lock on PostgreSQL, SQLite's single writer) and
    re-wraps it with the others."""
    ws = tenant.workspace_id
    feed_pipeline(_anna())
    old, new = master_key(settings), os.urandom(32)
    checked, go = threading.Event(), threading.Event()
    real = crypto._rotated

    def slow_commit(*args: Any) -> bool:
        found = real(*args)
        checked.set()
        assert go.wait(10)
        return found

    monkeypatch.setattr(crypto, "_rotated", slow_commit)
    made: dict[str, Any] = {}

    def add() -> None:
        try:
            with separate.transaction() as session:
                made["key"] = crypto.data_key(session, ws, "prof_racing")
        except Exception as error:  # shown by the assertion below
            made["error"] = error
            checked.set()

    adding = threading.Thread(target=add)
    rotating = threading.Thread(target=crypto.rotate_master, args=(separate, old, new))
    adding.start()
    assert checked.wait(10)
    rotating.start()
    time.sleep(0.5)
    assert rotating.is_alive()  # waits for the key being added
    go.set()
    adding.join(10)
    rotating.join(10)
    assert not adding.is_alive() and not rotating.is_alive()
    assert "error" not in made, made["error"]
    assert _unwrapped(key_url, ws, "prof_racing", new) == made["key"]


def _unwrapped(url: str, ws: str, profile: str, master: bytes) -> bytes:
    """The data key the key store holds for ``profile``, unwrapped with ``master``."""
    store = keystore.key_store(url).database
    assert store is not None
    with store.engine.connect() as connection:
        wrapped = connection.scalar(
            text("SELECT wrapped FROM privacy_data_keys WHERE profile_id = :p"), {"p": profile}
        )
    assert wrapped is not None
    aad = f"coreo/data-key/{ws}/{profile}".encode()
    return crypto._unwrap(crypto.kek_of(master), bytes(wrapped), aad)


def test_a_process_that_checked_before_a_move_writes_no_key_after_it(
    database: Database,
    settings: Settings,
    key_url: str,
    tenant: Any,
    feed_pipeline: Feed,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The binding is read again before every key write, and once more after it in the
    same transaction: a process that last checked before another one moved the keys
    makes or destroys no key where nobody looks any more."""
    ws = tenant.workspace_id
    crypto.enable(database, settings)  # the keys start in the database
    (anna,) = feed_pipeline(_anna())
    keystore.move_keys(database, keystore.key_store(key_url))
    shared = keystore.key_store(None)
    where = database.url.render_as_string(hide_password=False)
    shared._checked[where] = time.monotonic()  # as a process that checked just before
    with pytest.raises(keystore.KeyStoreMismatch), database.transaction() as session:
        crypto.shred(session, ws, [str(anna)])
    with pytest.raises(keystore.KeyStoreMismatch), database.transaction() as session:
        crypto.data_key(session, ws, "prof_new")
    # Even a write that passed its check before the move committed is rolled back.
    monkeypatch.setattr(keystore.KeyStore, "check", lambda *_, **__: None)
    with pytest.raises(keystore.KeyStoreMismatch), database.transaction() as session:
        crypto.data_key(session, ws, "prof_racing")
    assert _in_database(database) == (0, 0)
    assert str(anna) in _in_store(key_url)[0]


def test_a_database_is_bound_to_one_key_store_only(
    database: Database, key_url: str, tmp_path: Path
) -> None:
    assert keystore.bind(database, keystore.key_store(key_url))
    other = keystore.key_store(f"sqlite:///{tmp_path / 'other.db'}")
    try:
        with pytest.raises(keystore.KeyStoreMismatch, match="not in \\(none: no schema\\)"):
            keystore.bind(database, other)
        assert not (tmp_path / "other.db").exists() or other.database is not None
        other.migrate()
        with pytest.raises(keystore.KeyStoreMismatch, match=f"not in {other.store_id}"):
            keystore.bind(database, other)
    finally:
        other.close()
    with pytest.raises(IntegrityError), database.transaction() as session:  # one row, ever
        session.execute(
            text("INSERT INTO privacy_key_store_binding VALUES (2, 'x', CURRENT_TIMESTAMP)")
        )
    with pytest.raises(ValidationError, match="operational database itself"):
        Settings(database_url=str(database.url), key_database_url=str(database.url))
