"""Tombstones of erased people hold whichever way the workspace keys e-mail addresses:
exactly as given, or by mailbox (sub-address dropped, Gmail's dots folded)."""

from __future__ import annotations

from typing import Any, Literal

import pytest

from coreo.db import Database
from coreo.identity import service as identity_service
from coreo.identity.rules import DEFAULT_RULES
from coreo.identity.stage import IdentityStage
from coreo.privacy import erasure
from coreo.runtime.worker import Event
from tests.conftest import Tenant
from tests.identity.conftest import message

KEY = b"t" * 32
Keying = Literal["exact", "mailbox"]


def _set_email_key(database: Database, ws: str, keying: Keying) -> None:
    with database.transaction() as session:
        rules = DEFAULT_RULES.model_copy(update={"email_key": keying})
        identity_service.put_rules(session, ws, rules, actor="test")


def _resolve(database: Database, ws: str, *messages: dict[str, Any]) -> list[Event]:
    events = [Event(0, n, ws, {"receivedAt": m["timestamp"], **m}) for n, m in enumerate(messages)]
    with database.transaction() as session:
        IdentityStage(tombstone_key=lambda _session: KEY).process(session, events)
    return events


@pytest.mark.parametrize(
    ("erased_under", "later_under"),
    [("exact", "mailbox"), ("mailbox", "exact"), ("exact", "exact"), ("mailbox", "mailbox")],
)
def test_an_erased_address_stays_suppressed_when_the_email_key_changes(
    database: Database, tenant: Tenant, erased_under: Keying, later_under: Keying
) -> None:
    ws = tenant.workspace_id
    _set_email_key(database, ws, erased_under)
    anna = message("identify", userId="anna", traits={"email": "Anna.Meier+shop@gmail.com"})
    (first,) = _resolve(database, ws, anna)
    with database.transaction() as session:
        erasure.erase(session, ws, first.annotations["profile_id"], tombstone_key=KEY, actor="dpo")
    _set_email_key(database, ws, later_under)
    again = [
        message("identify", at=1, traits={"email": address}, anonymousId=f"a-{n}")
        for n, address in enumerate(
            ["anna.meier+shop@gmail.com", "Anna.Meier@googlemail.com", "annameier+news@gmail.com"]
        )
    ]
    stranger = message("identify", at=2, anonymousId="b-1", traits={"email": "anna.meier@gmx.ch"})
    events = _resolve(database, ws, *again, stranger)
    assert [e.annotations.get("suppressed") for e in events] == ["erased"] * 3 + [None]
    assert events[-1].annotations.get("profile_id") is not None  # another mailbox: a person
