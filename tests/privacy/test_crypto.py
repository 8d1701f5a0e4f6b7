"""Encryption at rest with a per-person data key (GDPR Art. 25, 32), crypto-shredding on
erasure, and the rotation of the master key."""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy import event, select, text

from coreo.config import Settings, get_settings
from coreo.db import Base, Database, utcnow
from coreo.errors import ConfigurationError
from coreo.history import service as history
from coreo.identity.models import ProfileIdentity
from coreo.privacy import crypto, erasure
from coreo.privacy.keys import master_key, read_key_file
from coreo.privacy.models import DataKey
from coreo.privacy.sealing import seal_stored
from coreo.profiles import service as profiles
from coreo.profiles.models import ProfileTrait
from tests.cli.test_cli import assert_one_line_error, coreo
from tests.helpers import identity_graph, identity_row
from tests.identity.conftest import feed_pipeline, message

__all__ = ["feed_pipeline"]

Feed = Callable[..., list[str | None]]


@pytest.fixture
def sealed(database: Database, settings: Settings) -> Database:
    crypto.enable(database, settings)
    return database


def _stored(database: Database, ws: str, profile: str) -> dict[str, Any]:
    with database.engine.connect() as connection:
        rows = connection.execute(
            text(
                "SELECT name, value, search_value FROM profile_traits "
                "WHERE workspace_id = :ws AND profile_id = :p"
            ),
            {"ws": ws, "p": profile},
        ).all()
    return {name: (value, search) for name, value, search in rows}


def test_personal_traits_are_sealed_with_the_persons_key(
    sealed: Database, tenant: Any, feed_pipeline: Feed
) -> None:
    ws = tenant.workspace_id
    anna, bea = feed_pipeline(
        message("identify", userId="anna", traits={"email": "Anna@X.ch", "lastName": "Meier",
                                                   "city": "Bern", "address": {"zip": "3011"}}),
        message("identify", at=1, userId="bea", traits={"email": "bea@x.ch", "city": "Bern"}),
    )  # fmt: skip
    raw = _stored(sealed, ws, str(anna))
    for name in ("email", "lastName", "address"):
        value = str(raw[name][0])
        assert "enc:v1:" in value and "Meier" not in value and "3011" not in value
        assert "anna" not in str(raw[name][1]).lower()  # the blind index, not the address
    assert raw["city"] == ('"Bern"', "Bern") or raw["city"] == ("Bern", "Bern")
    with sealed.engine.connect() as connection:
        payloads = (
            connection.execute(
                text("SELECT payload FROM events WHERE profile_id = :p"), {"p": anna}
            )
            .scalars()
            .all()
        )
    assert len(payloads) == 1 and "enc:v1:" in payloads[0]
    assert "Meier" not in payloads[0] and "Bern" in payloads[0]  # personal fields only
    with sealed.transaction(write=False) as session:
        shown = profiles.describe(profiles.view(session, ws, str(anna)))
        (event,) = shown["recent_events"]
        assert event["properties"]["lastName"] == "Meier"  # opened for the API
        assert shown["traits"]["address"]["value"] == {"zip": "3011"}
        assert shown["traits"]["email"]["value"] == "Anna@X.ch"
        hits = profiles.search(session, workspace_id=ws, trait="email", value=" ANNA@x.ch")
        assert [h for h, _ in hits.hits] == [anna]
        assert hits.hits[0][1]["lastName"] == "Meier"
        keys = session.scalars(select(DataKey.profile_id).where(DataKey.workspace_id == ws))
        assert sorted(keys) == sorted([anna, bea])
    # A value is bound to its person and trait: moved elsewhere it does not open.
    with sealed.transaction() as session:
        session.execute(
            text(
                "UPDATE profile_traits SET value = (SELECT value FROM profile_traits "
                "WHERE profile_id = :a AND name = 'email') WHERE profile_id = :b "
                "AND name = 'email'"
            ),
            {"a": anna, "b": bea},
        )
    with sealed.transaction(write=False) as session, pytest.raises(ConfigurationError):
        session.get(ProfileTrait, (ws, str(bea), "email"))


def test_a_merge_reseals_with_the_survivors_key_and_erasure_shreds(
    sealed: Database, tenant: Any, feed_pipeline: Feed
) -> None:
    ws = tenant.workspace_id
    cookie, anna = feed_pipeline(
        message("identify", anonymousId="c-9", traits={"phone": "+41791112233"}),
        message("identify", at=1, anonymousId="c-9", userId="anna", traits={"firstName": "Ann"}),
    )
    assert cookie == anna
    with sealed.transaction(write=False) as session:
        traits = profiles.describe(profiles.view(session, ws, str(anna)))["traits"]
    assert traits["phone"]["value"] == "+41791112233" and traits["firstName"]["value"] == "Ann"
    copy = _stored(sealed, ws, str(anna))  # as a backup or a replica would hold it
    with sealed.transaction(workspace_id=ws) as session:
        erasure.erase(session, ws, str(anna), tombstone_key=b"k" * 32, actor="dpo")
    with sealed.transaction() as session:
        for name, (value, _) in copy.items():
            if crypto.is_sealed(str(value).strip('"')):
                with pytest.raises(ConfigurationError):  # a new key cannot open the old value
                    crypto.open_value(session, ws, str(anna), name, str(value).strip('"'))
        session.rollback()


def _nested(inner: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    return st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner, max_size=3)


JSON = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**53), 2**53) | st.text(max_size=40),
    _nested,
    max_leaves=8,
)


@settings(max_examples=40)
@given(JSON)
def test_any_json_value_comes_back_as_it_was_sealed(value: Any) -> None:
    key = b"d" * 32
    sealed = crypto._seal(key, value, b"aad")
    assert crypto.is_sealed(sealed) and sealed.isascii()
    assert crypto._open(key, sealed, b"aad") == value


def test_rotating_the_master_key_rewraps_everything(tmp_path: Path) -> None:
    home = tmp_path / "home"
    assert coreo(home, "init").returncode == 0
    settings = get_settings(home=home)
    database = Database.from_settings(settings)
    with database.transaction() as session:
        ws = session.scalar(text("SELECT id FROM workspaces"))
        proof = crypto.hash_key(session, "consent-proof")
        session.add(
            ProfileTrait(
                workspace_id=ws, profile_id="prf_1", name="email", value="a@b.ch", source="t",
                observed_at=utcnow(), first_seen_at=utcnow(), message_id=None,
            )
        )  # fmt: skip
    old = read_key_file(home / "master.key")
    rotated = coreo(home, "keys", "rotate-master")
    assert rotated.returncode == 0, rotated.stderr
    assert "Re-wrapped 1 data key(s) and 1 keyring secret(s)" in rotated.stdout
    assert read_key_file(home / "master.key") != old
    fresh = Database.from_settings(get_settings(home=home))  # a running process reads it anew
    with fresh.transaction() as session:
        row = session.get(ProfileTrait, (ws, "prf_1", "email"))
        assert row is not None and row.value == "a@b.ch"
        assert crypto.hash_key(session, "consent-proof") == proof  # hashes stay comparable
    with database.engine.connect() as connection:
        wrapped = connection.scalar(select(DataKey.wrapped))
    aad = f"coreo/data-key/{ws}/prf_1".encode()
    with pytest.raises(ConfigurationError, match="does not open"):
        crypto._unwrap(crypto.kek_of(old), bytes(wrapped), aad)  # the old key opens nothing
    # A process that still held the old key reads the key file again and goes on.
    with database.transaction() as session:
        assert session.get(ProfileTrait, (ws, "prf_1", "email")).value == "a@b.ch"
    assert_one_line_error(
        coreo(home, "keys", "rotate-master", COREO_MASTER_KEY="A" * 43 + "="),
        "--new-key-file",
    )


def test_a_rotation_never_deadlocks_with_a_transaction_writing_both_key_tables(
    sealed: Database, settings: Settings, tenant: Any
) -> None:
    """A transaction wrote the keyring (a transit key of the day, say) and goes on to a
    data key while a rotation starts. A rotation that locked the data keys and waited for
    the keyring would deadlock with it on PostgreSQL (one of them aborted); both must
    end well, and the new key must open with the new master key."""
    ws = tenant.workspace_id
    old, new = master_key(settings), os.urandom(32)
    ring_written, go = threading.Event(), threading.Event()
    outcome: dict[str, Any] = {}

    def write_both() -> None:
        try:
            with sealed.transaction() as session:
                crypto.keyring_secret(session, "test:racing", create=True)
                ring_written.set()
                assert go.wait(10)
                outcome["key"] = crypto.data_key(session, ws, "prof_racing")
        except Exception as error:  # shown by the assertion below
            outcome["writer"] = error
            ring_written.set()

    def rotate() -> None:
        try:
            outcome["counts"] = crypto.rotate_master(sealed, old, new)
        except Exception as error:  # shown by the assertion below
            outcome["rotation"] = error

    writer, rotation = threading.Thread(target=write_both), threading.Thread(target=rotate)
    writer.start()
    assert ring_written.wait(10)
    rotation.start()
    time.sleep(0.5)
    assert rotation.is_alive()  # waits for the writer
    go.set()
    writer.join(20)
    rotation.join(20)
    assert not writer.is_alive() and not rotation.is_alive()
    assert "writer" not in outcome and "rotation" not in outcome, outcome
    assert outcome["counts"]["data_keys"] == 1 and outcome["counts"]["keyring"] >= 1
    with sealed.engine.connect() as connection:
        wrapped = connection.scalar(
            select(DataKey.wrapped).where(DataKey.profile_id == "prof_racing")
        )
    aad = f"coreo/data-key/{ws}/prof_racing".encode()
    assert crypto._unwrap(crypto.kek_of(new), bytes(wrapped), aad) == outcome["key"]


def test_a_rolled_back_savepoint_leaves_values_opened(
    sealed: Database, tenant: Any, feed_pipeline: Feed
) -> None:
    """Rows a rollback expired are loaded again through "refresh": opened too."""
    ws = tenant.workspace_id
    (anna,) = feed_pipeline(message("identify", userId="anna", traits={"email": "a@x.ch"}))
    with sealed.transaction() as session:
        row = session.get(ProfileTrait, (ws, str(anna), "email"))
        assert row is not None and row.value == "a@x.ch"
        savepoint = session.begin_nested()
        row.value = "b@x.ch"
        session.flush()
        savepoint.rollback()
        assert row.value == "a@x.ch"


def test_values_that_pass_for_sealed_ones_are_refused(
    app_factory: Callable[..., Any], tenant: Any
) -> None:
    with app_factory(worker_enabled=False) as api:
        sent = api.post(
            "/v1/track",
            json={"userId": "u", "event": "X", "properties": {"note": "enc:v1:AAAA"}},
            auth=(tenant.write_token, ""),
        )
    assert sent.status_code == 422 and "sealed data" in sent.json()["detail"]
    with app_factory(worker_enabled=False) as api:  # an identifier is sealed in the history too
        as_user = api.post(
            "/v1/track", json={"userId": "enc:v1:AAAA", "event": "X"}, auth=(tenant.write_token, "")
        )
    assert as_user.status_code == 422 and "sealed data" in as_user.json()["detail"]


ANNA_IDS = {"anna-77", "cookie-77", "anna77@x.ch", "dev-77", "203.0.113.9"}


def _anna(at: int = 0, **extra: Any) -> dict[str, Any]:
    return message(
        "identify",
        at=at,
        userId="anna-77",
        anonymousId="cookie-77",
        traits={"email": "anna77@x.ch", "city": "Bern"},
        context={"device": {"id": "dev-77"}, "ip": "203.0.113.9"},
        **extra,
    )


def _dump(database: Database, *tables: str) -> dict[str, list[dict[str, Any]]]:
    """The tables' rows as a copy or a backup would hold them."""
    with database.engine.connect() as connection:
        return {
            t: [dict(r) for r in connection.execute(select(Base.metadata.tables[t])).mappings()]
            for t in tables
        }


def test_identifiers_are_sealed_at_rest_and_still_resolve_and_read(
    sealed: Database, tenant: Any, feed_pipeline: Feed
) -> None:
    ws = tenant.workspace_id
    (anna,) = feed_pipeline(_anna())
    (again,) = feed_pipeline(message(at=1, anonymousId="cookie-77"))
    (device,) = feed_pipeline(message(at=2, context={"device": {"id": "dev-77"}}))
    assert anna == again == device  # found again by their keys
    stored = _dump(sealed, "profile_identities", "events", "profile_merges")
    assert len(stored["profile_identities"]) == 4 and len(stored["events"]) == 3
    text_at_rest = repr(stored)
    assert not [v for v in ANNA_IDS if v in text_at_rest], "an identifier is stored in clear"
    assert "Bern" in text_at_rest  # not personal: in clear
    with sealed.transaction(write=False) as session:
        shown = profiles.describe(profiles.view(session, ws, str(anna)))
        assert {(i["type"], i["value"]) for i in shown["identities"]} == {
            ("user_id", "anna-77"),
            ("anonymous_id", "cookie-77"),
            ("email", "anna77@x.ch"),
            ("device_id", "dev-77"),
        }
        assert profiles.lookup_given(session, ws, "email", " Anna77@X.ch") == anna
        assert profiles.lookup_given(session, ws, "user_id", "anna-77") == anna
        (first, *_) = history.events_of(session=session, workspace_id=ws, user_id="anna-77")
        opened = crypto.open_message(session, ws, first.profile_id, first.payload)
        assert opened["userId"] == "anna-77" and opened["context"]["ip"] == "203.0.113.9"
        assert opened["context"]["device"]["id"] == "dev-77"
        # A sealed value is bound to its row: moved to another identifier it does not open.
        rows = session.scalars(select(ProfileIdentity).where(ProfileIdentity.workspace_id == ws))
        by_type = {r.type: r for r in rows}
        cookie, user = by_type["anonymous_id"], by_type["user_id"]
        assert (
            crypto.open_identity(
                session, ws, user.type, user.value, cookie.sealed, cookie.sealed_by
            )
            == "[erased]"
        )


def test_erasure_leaves_copies_of_identifiers_unreadable(
    sealed: Database, tenant: Any, feed_pipeline: Feed
) -> None:
    ws = tenant.workspace_id
    (anna,) = feed_pipeline(_anna())
    (ben,) = feed_pipeline(message("identify", at=1, userId="ben-1", anonymousId="cookie-b"))
    backup = _dump(sealed, "profile_identities", "events")  # before the erasure
    with sealed.transaction(workspace_id=ws) as session:
        erasure.erase(session, ws, str(anna), tombstone_key=b"k" * 32, actor="dpo")
    with sealed.transaction() as session:
        copied = backup["profile_identities"]
        read = [
            (r["profile_id"], crypto.open_identity(
                session, ws, r["type"], r["value"], r["sealed"], r["sealed_by"]
            ))
            for r in copied
        ]  # fmt: skip
        assert [v for p, v in read if p == anna] == ["[erased]"] * 4
        assert sorted(v for p, v in read if p == ben) == ["ben-1", "cookie-b"]
        for event in backup["events"]:
            opened = crypto.open_message(session, ws, event["profile_id"], event["payload"])
            if event["profile_id"] == anna:
                assert opened["userId"] == opened["anonymousId"] == "[erased]"
                assert opened["traits"]["email"] == "[erased]"
            else:
                assert opened["userId"] == "ben-1"
        session.rollback()  # opening made fresh keys for the erased: not kept


def test_an_upgrade_seals_what_an_older_version_stored_in_clear(
    database: Database, settings: Settings, tenant: Any, feed_pipeline: Feed
) -> None:
    """Stored by a Coreo that kept identifiers in clear (here: the store opened without
    keys), then sealed by the upgrade: resolution, reads and lookups go on as before."""
    ws = tenant.workspace_id
    old = feed_pipeline(
        message("identify", anonymousId="cookie-77"),
        message(
            "identify",
            at=1,
            userId="anna-77",
            anonymousId="tablet-7",
            traits={"email": "anna77@x.ch"},
        ),
        message("identify", at=2, userId="anna-77", anonymousId="cookie-77"),  # a merge
        message("identify", at=3, userId="ben-1", anonymousId="tablet-7"),  # a refusal
    )
    anna, ben = old[0], old[3]
    assert old[2] == anna != old[1] and ben not in old[:3]  # the cookie's profile survived
    plain = repr(_dump(database, "profile_identities", "events", "profile_merges"))
    assert "anna-77" in plain and "cookie-77" in plain  # as an older version stored them
    crypto.enable(database, settings)
    assert seal_stored(database) == {
        "profile_identities": 5,
        "events": 4,
        "profile_merges": 1,
        "profile_merge_refusals": 1,
    }
    assert seal_stored(database) == {}  # nothing left in clear
    stored = repr(
        _dump(database, "profile_identities", "events", "profile_merges", "profile_merge_refusals")
    )
    leaks = [v for v in ("anna-77", "cookie-77", "anna77@x.ch", "tablet-7", "ben-1") if v in stored]
    assert not leaks
    later = feed_pipeline(
        message(at=4, userId="anna-77"),
        message(at=5, anonymousId="cookie-77"),
        message(at=6, userId="ben-1", anonymousId="tablet-7"),
    )
    assert later == [anna, anna, ben]  # found by their keys: no new profiles
    graph = identity_graph(database, ws)
    assert graph == {
        "anonymous_id:cookie-77": anna,
        "email:anna77@x.ch": anna,
        "user_id:anna-77": anna,
        "anonymous_id:tablet-7": anna,
        "user_id:ben-1": ben,
    }
    with database.transaction(write=False) as session:
        tablet = identity_row(session, ws, "anonymous_id", "tablet-7")
        assert tablet.shared and len(tablet.users) == 2  # the same two people, by their keys
        (first, *_) = history.events_of(session=session, workspace_id=ws, user_id="anna-77")
        assert crypto.open_message(session, ws, first.profile_id, first.payload)["userId"] == (
            "anna-77"
        )


def test_switching_sealing_on_later_keeps_identifiers_found(
    database: Database, settings: Settings, tenant: Any, feed_pipeline: Feed, tmp_path: Path
) -> None:
    """Stored with sealing off, identifiers are keyed all the same (so nothing is lost
    from sight when it is switched); `coreo keys seal` then seals them."""
    ws = tenant.workspace_id
    crypto.enable(database, settings.model_copy(update={"encrypt_personal_data": False}))
    (anna,) = feed_pipeline(_anna())
    kept = _dump(database, "profile_identities")["profile_identities"]
    assert {r["sealed"] for r in kept} == {"anna-77", "cookie-77", "anna77@x.ch", "dev-77"}
    assert all(r["value"].startswith("i:") and r["sealed_by"] is None for r in kept)
    crypto.enable(database, settings)
    (again,) = feed_pipeline(message(at=1, userId="anna-77"))
    assert again == anna
    assert seal_stored(database) == {"profile_identities": 4, "events": 1}
    stored = repr(_dump(database, "profile_identities", "events"))
    assert not [v for v in ANNA_IDS if v in stored]
    assert identity_graph(database, ws) == {
        "user_id:anna-77": anna,
        "anonymous_id:cookie-77": anna,
        "email:anna77@x.ch": anna,
        "device_id:dev-77": anna,
    }
    home = tmp_path / "home"
    assert coreo(home, "init").returncode == 0
    sealed = coreo(home, "keys", "seal")
    assert sealed.returncode == 0, sealed.stderr
    assert "Identifiers sealed: nothing to do." in sealed.stdout


def test_a_batch_opens_its_peoples_sealed_traits_with_one_key_query(
    sealed: Database, tenant: Any, feed_pipeline: Feed
) -> None:
    people = [f"user-{n}" for n in range(6)]
    feed_pipeline(*(message("identify", userId=u, traits={"email": f"{u}@x.ch"}) for u in people))
    key_reads: list[str] = []

    def capture(_c: Any, _cursor: Any, statement: str, *_: Any) -> None:
        if statement.lstrip().upper().startswith("SELECT") and "data_keys" in statement:
            key_reads.append(statement)

    event.listen(sealed.engine, "before_cursor_execute", capture)
    try:
        ids = feed_pipeline(
            *(
                message("identify", at=1, userId=u, traits={"email": f"{u}@x.ch", "city": "Bern"})
                for u in people
            )
        )
    finally:
        event.remove(sealed.engine, "before_cursor_execute", capture)
    assert len(key_reads) == 1  # the stored e-mails of six people, opened with one query
    with sealed.transaction(write=False) as session:
        shown = profiles.describe(profiles.view(session, tenant.workspace_id, str(ids[0])))
    assert shown["traits"]["email"]["value"] == "user-0@x.ch"
    assert shown["traits"]["city"]["value"] == "Bern"
