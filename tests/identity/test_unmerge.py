"""Un-merge: a wrong merge is split, both profiles are re-derived from their events, and the
graph never joins them again."""

from __future__ import annotations

import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import select
from typer.testing import CliRunner

from coreo.audit.models import AuditEntry
from coreo.auth.models import Workspace
from coreo.cli import app as cli_app
from coreo.config import get_settings
from coreo.db import Database, utcnow
from coreo.history.models import EventRecord
from coreo.history.stage import HistoryStage
from coreo.identity import service, unmerge
from coreo.identity.identifiers import Identifier
from coreo.identity.models import MergeRecord, Profile, ProfileIdentity, RefusedMerge
from coreo.identity.rules import IdentityRules
from coreo.identity.stage import IdentityStage
from coreo.profiles.stage import rederive_traits
from coreo.runtime.worker import Event
from tests.cli.test_cli import assert_one_line_error, coreo
from tests.helpers import assert_problem, identity_row
from tests.identity.conftest import let_devices_link_known, message
from tests.ingest.conftest import drain, ingest_client

__all__ = ["drain", "ingest_client"]

Feed = Callable[..., list[str | None]]


def graph(database: Database, workspace_id: str) -> dict[str, set[str]]:
    """Each profile's identifiers, as type:value (opened: the table holds them sealed)."""
    with database.transaction(write=False) as session:
        owners = session.scalars(
            select(ProfileIdentity.profile_id)
            .where(ProfileIdentity.workspace_id == workspace_id)
            .distinct()
        ).all()
        held = service.plain_identities(session, workspace_id, owners)
        # Each value is sealed with the key of a profile of its own person's cluster, so
        # erasing that person shreds it (an un-merge re-seals what it moved).
        for row in session.scalars(
            select(ProfileIdentity).where(ProfileIdentity.workspace_id == workspace_id)
        ):
            cluster = service.cluster_members(session, workspace_id, [row.profile_id])
            assert row.sealed is None or row.sealed_by in cluster, (str(row.type), row.profile_id)
        return {p: {str(i) for i in ids} for p, ids in held.items()}


def events_of(database: Database, workspace_id: str) -> dict[str, str | None]:
    with database.transaction(write=False) as session:
        rows = session.scalars(select(EventRecord).where(EventRecord.workspace_id == workspace_id))
        return {r.message_id: r.profile_id for r in rows}


def merge_of(database: Database, merged_id: str) -> MergeRecord:
    """The newest merge of ``merged_id``."""
    with database.transaction(write=False) as session:
        found = session.scalars(
            select(MergeRecord)
            .where(MergeRecord.merged_id == merged_id)
            .order_by(MergeRecord.id.desc())
        ).first()
        assert found is not None
        return found


def undo(database: Database, workspace_id: str, merge_id: str) -> unmerge.Unmerge:
    with database.transaction(workspace_id=workspace_id) as session:
        return unmerge.undo_merge(
            session,
            workspace_id=workspace_id,
            merge_id=merge_id,
            actor="test",
            on_rederive=(rederive_traits,),
        )


def test_a_wrong_merge_through_the_pipeline_is_undone_and_stays_undone(
    ingest_client: TestClient,
    drain: Callable[[], None],
    database: Database,
    tenant: Any,
) -> None:
    def send(*calls: dict[str, Any]) -> None:
        response = ingest_client.post(
            "/v1/batch", json={"batch": list(calls)}, auth=(tenant.write_token, "")
        )
        assert response.json()["accepted"] == len(calls), response.text
        drain()

    def at(minute: int) -> str:
        return f"2025-03-01T12:{minute:02d}:00.000Z"

    # Rules under which a cookie links two known people (the defaults keep them apart),
    # so that the mistake below happens.
    let_devices_link_known(database, tenant.workspace_id)
    send(
        {
            "type": "identify",
            "anonymousId": "a-anna",
            "messageId": "anna-1",
            "timestamp": at(0),
            "traits": {"email": "anna@x.ch", "firstName": "Anna"},
        }
    )
    send(
        {
            "type": "identify",
            "anonymousId": "a-ben",
            "messageId": "ben-1",
            "timestamp": at(1),
            "traits": {"email": "ben@x.ch", "firstName": "Ben"},
        }
    )
    # Ben signs up for the newsletter on Anna's laptop: the cookie links the two.
    send(
        {
            "type": "track",
            "event": "Newsletter Signup",
            "anonymousId": "a-anna",
            "messageId": "wrong",
            "timestamp": at(2),
            "context": {"traits": {"email": "ben@x.ch"}},
        }
    )
    send(
        {
            "type": "track",
            "event": "App Opened",
            "anonymousId": "a-ben",
            "messageId": "ben-2",
            "timestamp": at(3),
            "context": {"device": {"id": "dev-ben"}, "traits": {"phone": "+41 79 123 45 67"}},
        },
        {
            "type": "identify",
            "anonymousId": "a-anna",
            "messageId": "anna-2",
            "timestamp": at(4),
            "traits": {"city": "Basel"},
        },
    )
    ws = tenant.workspace_id
    ((anna, merged_graph),) = graph(database, ws).items()
    assert "email:ben@x.ch" in merged_graph and "device_id:dev-ben" in merged_graph
    with database.transaction(write=False) as session:
        (record,) = session.scalars(select(MergeRecord)).all()
    ben = record.merged_id
    assert record.survivor_id == anna
    before = ingest_client.get(f"/v1/profiles/{anna}", headers=tenant.admin).json()
    assert before["traits"]["email"]["value"] == "ben@x.ch"  # the wrong merge shows

    response = ingest_client.post(f"/v1/identity/merges/{record.id}/undo", headers=tenant.admin)
    assert response.status_code == 200, response.text
    body = response.json()
    assert (body["survivor_id"], body["merged_id"], body["merge_id"]) == (anna, ben, record.id)
    assert [f"{i['type']}:{i['value']}" for i in body["merged_identities"]] == [
        "anonymous_id:a-ben",
        "device_id:dev-ben",
        "email:ben@x.ch",
        "phone:+41791234567",
    ]
    assert graph(database, ws) == {
        anna: {"anonymous_id:a-anna", "email:anna@x.ch"},
        ben: {"anonymous_id:a-ben", "device_id:dev-ben", "email:ben@x.ch", "phone:+41791234567"},
    }
    # The newsletter signup carried Ben's e-mail, his identifier of higher priority.
    assert events_of(database, ws) == {
        "anna-1": anna,
        "anna-2": anna,
        "ben-1": ben,
        "wrong": ben,
        "ben-2": ben,
    }
    anna_now = ingest_client.get(f"/v1/profiles/{anna}", headers=tenant.admin).json()
    ben_now = ingest_client.get(f"/v1/profiles/{ben}", headers=tenant.admin)
    assert ben_now.status_code == 200  # no redirect any more
    traits = {k: v["value"] for k, v in anna_now["traits"].items()}
    assert traits == {"email": "anna@x.ch", "firstName": "Anna", "city": "Basel"}
    assert {k: v["value"] for k, v in ben_now.json()["traits"].items()} == {
        "email": "ben@x.ch",
        "firstName": "Ben",
        "phone": "+41791234567",
    }
    assert {e["message_id"] for e in anna_now["recent_events"]} == {"anna-1", "anna-2"}
    (shown,) = anna_now["merges"]
    assert shown["id"] == record.id and shown["undone_at"] is not None

    # The same mistake again is refused, with the reason, and the two stay apart.
    send(
        {
            "type": "track",
            "event": "Newsletter Signup",
            "anonymousId": "a-anna",
            "messageId": "again",
            "timestamp": at(5),
            "context": {"traits": {"email": "ben@x.ch"}},
        }
    )
    assert set(graph(database, ws)) == {anna, ben}
    assert events_of(database, ws)["again"] == ben
    with database.transaction(write=False) as session:
        (refusal,) = session.scalars(select(RefusedMerge)).all()
        entry = session.scalars(
            select(AuditEntry).where(AuditEntry.action == "identity.merge.undone")
        ).one()
        cookie = service.keyed(session, Identifier("anonymous_id", "a-anna")).value
    assert cookie.startswith("i:")  # a refusal names the identifier by its key, sealed
    assert refusal.reason == (
        f"anonymous_id {cookie!r}: {ben} and {anna} were split by undoing merge {record.id}: "
        "they stay apart"
    )
    assert entry.target == f"profile_merges:{record.id}" and entry.details["merged"] == ben

    again = ingest_client.post(f"/v1/identity/merges/{record.id}/undo", headers=tenant.admin)
    assert "already undone" in assert_problem(again, 409, "conflict")["detail"]


def test_profiles_merged_before_come_back_and_later_ones_follow_their_links(
    feed_pipeline: Feed, database: Database, tenant: Any
) -> None:
    ws = tenant.workspace_id
    s, m, m2 = feed_pipeline(
        message(at=0, anonymousId="s1"),
        message(at=1, anonymousId="m1"),
        message(at=2, anonymousId="m2"),
    )
    feed_pipeline(message(at=3, anonymousId="m2", userId="ben"))
    feed_pipeline(message(at=4, anonymousId="m1", userId="ben"))  # m2's profile joins m
    assert merge_of(database, m2).survivor_id == m
    feed_pipeline(message(at=5, anonymousId="s1", context={"device": {"id": "d"}}))
    feed_pipeline(message(at=6, anonymousId="m1", context={"device": {"id": "d"}}))  # wrong
    wrong = merge_of(database, m)
    assert wrong.survivor_id == s
    n, k = feed_pipeline(message(at=7, anonymousId="n1"), message(at=8, anonymousId="k1"))
    feed_pipeline(message(at=9, anonymousId="n1", userId="ben"))  # n joins through m's login
    feed_pipeline(message(at=10, anonymousId="k1", context={"device": {"id": "d"}}))
    feed_pipeline(message("identify", 11, userId="ben", traits={"email": "ben@x.ch"}))
    assert set(graph(database, ws)) == {s}

    done = undo(database, ws, wrong.id)
    assert done.profiles_moved == [n]
    held = graph(database, ws)
    assert held[s] == {"anonymous_id:s1", "anonymous_id:k1", "device_id:d"}
    assert held[m] == {
        "anonymous_id:m1",
        "anonymous_id:m2",
        "user_id:ben",
        "anonymous_id:n1",
        "email:ben@x.ch",
    }
    with database.transaction(write=False) as session:
        merged_into = {p.id: p.merged_into for p in session.scalars(select(Profile))}
        superseded = session.get(MergeRecord, merge_of(database, n).id)
    assert merged_into == {s: None, m: None, m2: m, n: m, k: s}
    assert superseded is not None and superseded.survivor_id == m
    assert "undoing merge" in superseded.reason
    # Later, a profile merged into m is kept apart from s as well.
    (p,) = feed_pipeline(message(at=12, anonymousId="p1"))
    feed_pipeline(message(at=13, anonymousId="p1", userId="ben"))
    assert merge_of(database, p).survivor_id == m
    feed_pipeline(message(at=14, anonymousId="p1", context={"device": {"id": "s1x"}}))
    (last,) = feed_pipeline(message(at=15, anonymousId="s1", context={"device": {"id": "s1x"}}))
    assert last == m  # named by the device, of higher priority; s1 is refused
    assert set(graph(database, ws)) == {s, m}
    with database.transaction(write=False) as session:
        reasons = session.scalars(select(RefusedMerge.reason)).all()
    assert any(f"split by undoing merge {wrong.id}" in r for r in reasons)


def test_the_survivor_merged_away_must_be_undone_first(
    feed_pipeline: Feed, database: Database, tenant: Any, client: TestClient
) -> None:
    ws = tenant.workspace_id
    t, s, m = feed_pipeline(
        message(at=0, anonymousId="t1"),
        message(at=1, anonymousId="s1"),
        message(at=2, anonymousId="m1"),
    )
    feed_pipeline(message(at=3, anonymousId="s1", context={"device": {"id": "sm"}}))
    feed_pipeline(message(at=4, anonymousId="m1", context={"device": {"id": "sm"}}))
    first = merge_of(database, m)
    feed_pipeline(message(at=5, anonymousId="t1", userId="u"))
    feed_pipeline(message(at=6, anonymousId="s1", userId="u"))
    second = merge_of(database, s)
    assert (first.survivor_id, second.survivor_id) == (s, t)
    refused = client.post(f"/v1/identity/merges/{first.id}/undo", headers=tenant.admin)
    detail = assert_problem(refused, 409, "conflict")["detail"]
    assert second.id in detail and "undo that merge first" in detail
    undo(database, ws, second.id)
    undo(database, ws, first.id)
    assert graph(database, ws) == {
        t: {"anonymous_id:t1", "user_id:u"},
        s: {"anonymous_id:s1", "device_id:sm"},
        m: {"anonymous_id:m1"},
    }


def test_matching_is_refused_for_split_profiles(
    feed_pipeline: Feed, database: Database, tenant: Any
) -> None:
    ws = tenant.workspace_id
    s, m = feed_pipeline(message(at=0, anonymousId="s1"), message(at=1, anonymousId="m1"))
    feed_pipeline(message(at=2, anonymousId="s1", userId="u"))
    feed_pipeline(message(at=3, anonymousId="m1", userId="u"))
    undo(database, ws, merge_of(database, m).id)
    with database.transaction(workspace_id=ws) as session:
        service.lock_workspace(session, ws)
        resolver = service.Resolver(session, ws, service.rules_for(session, ws))
        assert resolver.merge_profiles(s, m, reason="master records match", at=utcnow()) is None
        (refusal,) = session.scalars(select(RefusedMerge)).all()
    assert refusal.identifier_type == "match"
    assert refusal.reason.startswith("master records match: ") and "split" in refusal.reason


def test_undo_needs_the_write_scope_and_a_known_merge(
    client: TestClient, database: Database, tenant: Any
) -> None:
    missing = client.post("/v1/identity/merges/mrg_nope/undo", headers=tenant.admin)
    assert_problem(missing, 404, "not-found")
    write_only = client.post(
        "/v1/identity/merges/mrg_nope/undo", headers=tenant.bearer(tenant.write_token)
    )
    assert_problem(write_only, 403, "forbidden")


def test_undo_waits_for_a_worker_holding_the_identity_lock(
    feed_pipeline: Feed, database: Database, tenant: Any
) -> None:
    """The worker's batch and the un-merge serialise: the un-merge sees the batch's result."""

    ws = tenant.workspace_id
    s, m = feed_pipeline(message(at=0, anonymousId="s1"), message(at=1, anonymousId="m1"))
    feed_pipeline(message(at=2, anonymousId="m1", userId="u"))
    feed_pipeline(message(at=3, anonymousId="s1", userId="u"))
    record = merge_of(database, m)
    batch_started, results = threading.Event(), []

    def worker() -> None:
        late = message(at=4, userId="u", context={"traits": {"email": "u@x.ch"}})
        with database.transaction() as session:
            events = [Event(0, 0, ws, {**late, "receivedAt": late["timestamp"]})]
            IdentityStage().process(session, events)  # takes the lock
            batch_started.set()
            HistoryStage().process(session, events)
            results.append(events[0].annotations["profile_id"])
            threading.Event().wait(0.5)  # still holding it

    thread = threading.Thread(target=worker)
    thread.start()
    assert batch_started.wait(10)
    done = undo(database, ws, record.id)
    thread.join()
    assert results == [s] and done.merged_id == m
    # The un-merge ran after the batch: it saw the new e-mail and gave it to u's profile.
    assert graph(database, ws)[m] == {"anonymous_id:m1", "user_id:u", "email:u@x.ch"}


def test_cli_unmerge(tmp_path: Path) -> None:
    home = tmp_path / "home"
    runner = CliRunner()
    env = {"COREO_HOME": str(home), "COLUMNS": "200"}
    assert runner.invoke(cli_app, ["init"], env=env).exit_code == 0
    database = Database.from_settings(get_settings(home=home))
    with database.transaction(write=False) as session:
        ws = session.scalars(select(Workspace.id)).one()
    for batch in (
        [message(at=0, anonymousId="s1"), message(at=1, anonymousId="m1")],
        [message(at=2, anonymousId="s1", userId="u")],
        [message(at=3, anonymousId="m1", userId="u")],
    ):
        with database.transaction() as session:
            IdentityStage().process(session, [Event(0, n, ws, b) for n, b in enumerate(batch)])
    with database.transaction(write=False) as session:
        (record,) = session.scalars(select(MergeRecord)).all()
    database.dispose()
    result = runner.invoke(cli_app, ["identity", "unmerge", record.id], env=env)
    assert result.exit_code == 0, result.output
    assert f"Undid merge {record.id}" in result.output and "for good" in result.output
    assert_one_line_error(coreo(home, "identity", "unmerge", record.id), "already undone")
    assert_one_line_error(coreo(home, "identity", "unmerge", "mrg_nope"), "no merge 'mrg_nope'")


def test_the_replay_lets_no_device_join_two_units_that_each_know_a_person() -> None:
    """As the resolver refuses it: a later unit holding a login is not joined to a side
    holding another one by a device they share; a cookie of a unit without a person's
    identifier still joins, and so does the device when the rules let devices link."""
    rules = IdentityRules()
    sides = unmerge._Sides("S", "M")
    sam, lea, device = (
        Identifier("user_id", "sam"),
        Identifier("user_id", "lea"),
        Identifier("device_id", "d"),
    )
    cookie = Identifier("anonymous_id", "c")
    owner = {sam: "S", lea: "L", device: "L", cookie: "K"}
    rows = {i: type("Row", (), {"shared": False})() for i in owner}
    knowing = {"S", "L"}
    assert unmerge._replay_unit([sam, device], owner, rows, sides, rules, knowing) == "S"
    assert sides.find("L") == "L"  # kept apart
    assert unmerge._replay_unit([sam, cookie], owner, rows, sides, rules, knowing) == "S"
    assert sides.find("K") == "S"  # K knew nobody: joined
    lenient = IdentityRules(devices_link_known=True)
    assert unmerge._replay_unit([sam, device], owner, rows, sides, lenient, knowing) == "S"
    assert sides.find("L") == "S"


def test_undoing_a_wrong_merge_keeps_a_shared_family_tablet_from_joining_the_two_again(
    ingest_client: TestClient,
    drain: Callable[[], None],
    database: Database,
    tenant: Any,
) -> None:
    """End to end with the default rules: two people use one tablet (no merge: a device
    never joins two known people); a mistyped loyalty card merges them. Undoing the merge
    replays their events: every event goes back where the resolver put it before, the
    tablet stays with one of them, and later tablet events join nobody."""

    def send(*calls: dict[str, Any]) -> None:
        response = ingest_client.post(
            "/v1/batch", json={"batch": list(calls)}, auth=(tenant.write_token, "")
        )
        assert response.json()["accepted"] == len(calls), response.text
        drain()

    def call(message_id: str, minute: int, cookie: str, *, tablet: bool = True,
             **traits: str) -> dict[str, Any]:  # fmt: skip
        device = {"device": {"id": "family-tablet"}} if tablet else {}
        return {"type": "identify", "messageId": message_id, "anonymousId": cookie,
                "timestamp": f"2025-03-01T12:{minute:02d}:00.000Z", "traits": traits,
                "context": device}  # fmt: skip

    ws = tenant.workspace_id
    send(call("anna-1", 0, "a-anna", email="anna@x.ch", loyaltyCard="L-1"))
    send(call("ben-1", 1, "a-ben", tablet=False, email="ben@x.ch"))  # on his phone
    send(call("ben-2", 2, "a-ben"))  # then on the tablet
    assert len(graph(database, ws)) == 2  # the tablet joined nobody
    before = events_of(database, ws)
    # Ben's shop account gets Anna's loyalty card number, mistyped: the card merges them.
    send(call("ben-3", 3, "a-ben", tablet=False, email="ben@x.ch", loyaltyCard="L-1"))
    ((anna, merged),) = graph(database, ws).items()
    assert {"email:anna@x.ch", "email:ben@x.ch", "loyalty_card:L-1"} <= merged
    ben = _other_of(database, ws, anna)

    undone = ingest_client.post(
        f"/v1/identity/merges/{merge_of(database, ben).id}/undo", headers=tenant.admin
    )
    assert undone.status_code == 200, undone.text
    after = graph(database, ws)
    assert set(after) == {anna, ben}
    assert {"email:anna@x.ch", "anonymous_id:a-anna", "device_id:family-tablet"} <= after[anna]
    assert {"email:ben@x.ch", "anonymous_id:a-ben"} <= after[ben]
    assert "device_id:family-tablet" not in after[ben]
    # Every event goes back where the resolver put it before the merge.
    assert events_of(database, ws) == {**before, "ben-3": ben}
    assert before["anna-1"] == anna and before["ben-1"] == ben
    # The tablet again, with both: still two people.
    send(call("anna-3", 4, "a-anna"), call("ben-4", 5, "a-ben"))
    assert set(graph(database, ws)) == {anna, ben}


def test_undoing_a_merge_keeps_a_later_person_off_the_side_their_device_points_to(
    ingest_client: TestClient,
    drain: Callable[[], None],
    database: Database,
    tenant: Any,
) -> None:
    """Three people end in one cluster: Ben merges into Anna through a family e-mail (the
    wrong merge), and Carl joins later through the same e-mail, after he had used Ben's
    tablet (which joined nobody: a device never joins two known people). Undoing Ben's
    merge replays the events: the tablet must not carry Carl to Ben's side either, so Carl
    stays with Anna, where his own merge put him."""

    def send(message_id: str, minute: int, cookie: str, *, tablet: bool = False,
             user: str | None = None, **traits: str) -> None:  # fmt: skip
        device = {"device": {"id": "ben-tablet"}} if tablet else {}
        call = {"type": "identify", "messageId": message_id, "anonymousId": cookie,
                "timestamp": f"2025-03-01T12:{minute:02d}:00.000Z", "traits": traits,
                "context": device, **({"userId": user} if user else {})}  # fmt: skip
        response = ingest_client.post(
            "/v1/batch", json={"batch": [call]}, auth=(tenant.write_token, "")
        )
        assert response.json()["accepted"] == 1, response.text
        drain()

    ws = tenant.workspace_id
    with database.transaction() as session:  # a device is shared after five people only:
        lenient = IdentityRules(shared_after_users=5)  # the device rule alone keeps apart
        service.put_rules(session, ws, lenient, actor="test")
    send("anna-1", 0, "a-anna", email="family@x.ch")
    send("ben-1", 1, "a-ben", tablet=True, user="ben")
    send("ben-2", 2, "a-ben", user="ben", email="family@x.ch")  # the wrong merge
    send("carl-1", 3, "a-carl", loyaltyCard="C-7")
    send("carl-2", 4, "a-carl", tablet=True, loyaltyCard="C-7")  # Ben's tablet: refused
    assert len(graph(database, ws)) == 2  # the tablet joined nobody
    send("carl-3", 5, "a-carl", loyaltyCard="C-7", email="family@x.ch")  # Carl joins
    ((anna, merged),) = graph(database, ws).items()
    assert {"user_id:ben", "loyalty_card:C-7", "device_id:ben-tablet"} <= merged
    with database.transaction(write=False) as session:
        merges = session.scalars(
            select(MergeRecord).where(MergeRecord.workspace_id == ws).order_by(MergeRecord.id)
        ).all()
    assert [m.survivor_id for m in merges] == [anna, anna]
    ben, carl = merges[0].merged_id, merges[1].merged_id

    undone = ingest_client.post(f"/v1/identity/merges/{merges[0].id}/undo", headers=tenant.admin)
    assert undone.status_code == 200, undone.text
    with database.transaction(write=False) as session:
        tablet = identity_row(session, ws, "device_id", "ben-tablet")
        assert tablet is not None and not tablet.shared
    after = graph(database, ws)
    assert set(after) == {anna, ben}
    assert after[ben] == {"user_id:ben", "anonymous_id:a-ben", "device_id:ben-tablet"}
    assert {"email:family@x.ch", "loyalty_card:C-7", "anonymous_id:a-carl"} <= after[anna]
    events = events_of(database, ws)
    assert {m: events[m] for m in ("ben-1", "ben-2", "carl-2")} == {
        "ben-1": ben, "ben-2": ben, "carl-2": carl
    }  # fmt: skip
    with database.transaction(write=False) as session:
        assert session.get(Profile, carl).merged_into == anna  # his own merge stands


def _other_of(database: Database, workspace_id: str, survivor: str) -> str:
    """The profile merged into ``survivor`` (the only merge of the workspace)."""
    with database.transaction(write=False) as session:
        (record,) = session.scalars(
            select(MergeRecord).where(MergeRecord.workspace_id == workspace_id)
        ).all()
    assert record.survivor_id == survivor
    return record.merged_id
