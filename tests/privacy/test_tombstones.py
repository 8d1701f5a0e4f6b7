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


def _erase(database: Database, ws: str, *traits: dict[str, Any]) -> None:
    """Resolve one person's identify calls, then erase them (tombstones included)."""
    calls = [message("identify", at=n, userId="anna", traits=t) for n, t in enumerate(traits)]
    first, *_ = _resolve(database, ws, *calls)
    with database.transaction() as session:
        erasure.erase(session, ws, first.annotations["profile_id"], tombstone_key=KEY, actor="dpo")


def _suppressed(database: Database, ws: str, *addresses: str, **context: Any) -> list[bool]:
    """Whether an event of each address (a stranger's cookie each) is dropped as erased."""
    events = _resolve(
        database,
        ws,
        *(
            message("identify", at=10 + n, anonymousId=f"a-{n}", traits={"email": address},
                    **({"context": context} if context else {}))
            for n, address in enumerate(addresses)
        ),
    )  # fmt: skip
    return [e.annotations.get("suppressed") == "erased" for e in events]


VARIANTS = ["anna.meier+shop@gmail.com", "Anna.Meier@googlemail.com", "annameier+news@gmail.com"]


@pytest.mark.parametrize(
    ("erased_under", "later_under", "expected"),
    [
        # The erasure named her mailbox: every variant of it, whatever the keys are now.
        ("mailbox", "mailbox", [True, True, True]),
        ("mailbox", "exact", [True, True, True]),
        # It named her address: that one; its variants only while mailboxes are the key.
        ("exact", "mailbox", [True, True, True]),
        ("exact", "exact", [True, False, False]),
    ],
)
def test_an_erased_address_stays_suppressed_when_the_email_key_changes(
    database: Database, tenant: Tenant, erased_under: Keying, later_under: Keying,
    expected: list[bool],
) -> None:  # fmt: skip
    ws = tenant.workspace_id
    _set_email_key(database, ws, erased_under)
    _erase(database, ws, {"email": "Anna.Meier+shop@gmail.com"})
    _set_email_key(database, ws, later_under)
    assert _suppressed(database, ws, *VARIANTS, "anna.meier@gmx.ch") == [*expected, False]


def test_exact_keys_suppress_no_one_who_shares_a_mailbox_with_an_erased_person(
    database: Database, tenant: Tenant
) -> None:
    """A workspace keys e-mails exactly to keep sub-addresses apart: erasing the holder of
    one leaves the others alone, and a placeholder mailbox tombstones no stranger."""
    ws = tenant.workspace_id
    _set_email_key(database, ws, "exact")
    _erase(database, ws, {"email": "info+anna@shop.ch"}, {"email": "test+anna@test.com"})
    assert _suppressed(database, ws, "info@shop.ch", "info+bob@shop.ch", "test+x@test.com") == [
        False, False, False,
    ]  # fmt: skip
    assert _suppressed(database, ws, "Info+Anna@shop.ch") == [True]
    _set_email_key(database, ws, "mailbox")  # now they are one mailbox; test.com is ignored
    assert _suppressed(database, ws, "info@shop.ch", "test+x@test.com") == [True, False]


def test_new_consent_lifts_an_address_under_the_keys_in_force(
    database: Database, tenant: Tenant
) -> None:
    ws = tenant.workspace_id
    _set_email_key(database, ws, "exact")
    _erase(database, ws, {"email": "anna.meier+shop@gmail.com"})
    _set_email_key(database, ws, "mailbox")
    banner = {"consent": {"categoryPreferences": {"Analytics": True}}}
    assert _suppressed(database, ws, "annameier@gmail.com", **banner) == [False]  # lifted
    assert _suppressed(database, ws, "anna.meier+shop@gmail.com", *VARIANTS) == [False] * 4
