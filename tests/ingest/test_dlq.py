"""The dead-letter queue: list, inspect, replay from the failing stage, purge, audit."""

from __future__ import annotations

from collections.abc import Callable, Sequence

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from coreo.db import Database
from coreo.eventlog.sql import SqlEventLog
from coreo.history.stage import HistoryStage
from coreo.runtime.pipeline import default_stages
from coreo.runtime.worker import Event, Worker
from tests.conftest import Tenant
from tests.helpers import assert_problem
from tests.ingest.conftest import stored_events


class PoisonStage:
    """Fails on events named "Poison", as a buggy stage would."""

    name = "poison-check"

    def process(self, session: Session, events: Sequence[Event]) -> None:
        if any(e.message.get("event") == "Poison" for e in events):
            raise RuntimeError("cannot handle poison")


def _letters(client: TestClient, tenant: Tenant, **params: str) -> list[dict[str, object]]:
    response = client.get("/v1/dead-letters", headers=tenant.admin, params=params)
    assert response.status_code == 200, response.text
    items: list[dict[str, object]] = response.json()["items"]
    return items


def test_validation_failures_are_listed_inspected_and_replayed(
    app_factory: Callable[..., TestClient], tenant: Tenant, database: Database
) -> None:
    auth = (tenant.write_token, "")
    big = {"userId": "u1", "event": "Big", "properties": {"blob": "x" * 3000}}
    with app_factory(worker_enabled=False, ingest_max_message_bytes=2048) as client:
        batch = {"batch": [{"type": "track", **big}, {"type": "track", "event": "NoId"}]}
        assert client.post("/v1/batch", json=batch, auth=auth).json()["accepted"] == 0
        letters = _letters(client, tenant)
        assert {letter["event_name"] for letter in letters} == {"Big", "NoId"}
        one = client.get(f"/v1/dead-letters/{letters[0]['id']}", headers=tenant.admin).json()
        assert one["payload"]["event"] == letters[0]["event_name"] and one["stage"] == "validation"
        assert [x["event_name"] for x in _letters(client, tenant, event="NoId")] == ["NoId"]
        still = client.post("/v1/dead-letters/replay", headers=tenant.admin, json={}).json()
        assert still["replayed"] == [] and len(still["failed"]) == 2
    # The limit is raised: the big event now passes, the one without identity still not.
    with app_factory(worker_enabled=False, ingest_max_message_bytes=32_768) as client:
        result = client.post("/v1/dead-letters/replay", headers=tenant.admin, json={}).json()
        assert len(result["replayed"]) == 1 and len(result["failed"]) == 1
        open_letters = _letters(client, tenant)
        assert [x["event_name"] for x in open_letters] == ["NoId"]
        assert open_letters[0]["replay_count"] == 2
        assert [x["event_name"] for x in _letters(client, tenant, status="replayed")] == ["Big"]
        log = SqlEventLog(database, 8)
        Worker(database, log, default_stages()).drain()
        assert [e["event"] for e in stored_events(database, tenant.workspace_id)] == ["Big"]
        purged = client.post(
            "/v1/dead-letters/purge", headers=tenant.admin, json={"status": "open"}
        )
        assert purged.json() == {"purged": 1}
        assert _letters(client, tenant) == []
        actions = [
            e["action"] for e in client.get("/v1/audit", headers=tenant.admin).json()["items"]
        ]
        assert "dead_letters.replayed" in actions and "dead_letters.purged" in actions


def test_processing_failures_are_replayed_into_the_log(
    app_factory: Callable[..., TestClient], tenant: Tenant, database: Database
) -> None:
    auth = (tenant.write_token, "")
    with app_factory(worker_enabled=False) as client:
        batch = {
            "batch": [
                {"type": "track", "userId": "u1", "event": name, "messageId": f"m-{name}"}
                for name in ("Fine", "Poison", "Also Fine")
            ]
        }
        assert client.post("/v1/batch", json=batch, auth=auth).json()["accepted"] == 3
        log = SqlEventLog(database, 8)
        worker = Worker(database, log, [PoisonStage(), HistoryStage()])
        worker.drain()
        assert worker.dead_letters == 1
        assert sorted(e["event"] for e in stored_events(database, tenant.workspace_id)) == [
            "Also Fine",
            "Fine",
        ]
        [letter] = _letters(client, tenant)
        assert letter["stage"] == "poison-check" and "cannot handle poison" in letter["reason"]
        # The stage is fixed (the normal pipeline); the replay goes back through the log.
        result = client.post(
            "/v1/dead-letters/replay", headers=tenant.admin, json={"ids": [letter["id"]]}
        ).json()
        assert result == {"replayed": [letter["id"]], "failed": {}}
        Worker(database, log, default_stages()).drain()
        assert len(stored_events(database, tenant.workspace_id)) == 3


def test_dead_letters_are_confined_and_guarded(
    ingest_client: TestClient, make_tenant: Callable[[str], Tenant]
) -> None:
    a, b = make_tenant("alpha"), make_tenant("beta")
    ingest_client.post("/v1/track", json={"event": "x"}, auth=(a.write_token, ""))
    [letter] = _letters(ingest_client, a)
    assert _letters(ingest_client, b) == []
    assert_problem(
        ingest_client.get(f"/v1/dead-letters/{letter['id']}", headers=b.admin), 404, "not-found"
    )
    assert_problem(
        ingest_client.get("/v1/dead-letters", auth=(a.write_token, "")), 403, "forbidden"
    )
    assert_problem(
        ingest_client.post("/v1/dead-letters/purge", headers=a.admin, json={}),
        422,
        "validation-failed",
    )


@pytest.mark.parametrize("body", [{"ids": ["dl_nope"]}])
def test_replaying_an_unknown_letter_is_404(
    ingest_client: TestClient, tenant: Tenant, body: dict[str, object]
) -> None:
    assert_problem(
        ingest_client.post("/v1/dead-letters/replay", headers=tenant.admin, json=body),
        404,
        "not-found",
    )
