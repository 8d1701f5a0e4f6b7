"""Completeness cases: one person's identifiers that the data ties together.

`benchmarks/identity_graph.py` classifies every identifier that ends outside its person's
main profile. The resolver links everything the events link as it reads them; what stayed
apart although the data says it is one person (class ``c-unread``: e-mail variants of one
mailbox, a guest checkout's buyer, a loyalty card in the traits) is pinned here, linked
since the identity rules key e-mail by mailbox and read those fields (``sources``).
"""

from __future__ import annotations

from pathlib import Path

import pytest

import coreo.sim
from coreo.ingest.imports.mapping import load_mapping, row_to_message
from tests.identity.conftest import Feed, message

MAPPINGS = Path(coreo.sim.__file__).parent / "mappings"


@pytest.mark.parametrize(
    "variant",
    ["annameier@gmail.com", "anna.meier@googlemail.com", "anna.meier+shop@gmail.com"],
    ids=["gmail-dots", "googlemail", "sub-address"],
)
def test_variants_of_one_mailbox_are_one_person(feed: Feed, variant: str) -> None:
    login, newsletter = feed(
        message("identify", 0, userId="u1", traits={"email": "anna.meier@gmail.com"}),
        message("identify", 1, anonymousId="nl-1", traits={"email": variant}),
    )
    assert login == newsletter


def test_a_guest_checkout_links_the_session_to_the_buyer(feed: Feed) -> None:
    login, checkout = feed(
        message("identify", 0, userId="u1", traits={"email": "anna@example.ch"}),
        message(
            at=1,
            event="Order Completed",
            anonymousId="cookie-1",
            properties={"order_id": "o1", "email": "anna@example.ch"},
        ),
    )
    assert login == checkout


def test_a_loyalty_card_in_the_traits_links_the_till_receipts(feed: Feed) -> None:
    login, receipt = feed(
        message("identify", 0, userId="u1", traits={"loyaltyCard": "2990000000017"}),
        message(
            at=1,
            event="Order Completed",
            anonymousId="pos-T1",
            context={"externalIds": [{"type": "loyalty_card", "id": "2990000000017"}]},
        ),
    )
    assert login == receipt


def test_a_newsletter_row_links_to_the_mails_sent_to_its_subscriber(feed: Feed) -> None:
    """The e-mail tool sends a subscriber without a login as anonymousId = subscriber id."""
    mapping = load_mapping(MAPPINGS / "newsletter.yml")
    row = {
        "subscriber_id": "nl-00000001",
        "email": "anna.meier@gmail.com",
        "first_name": "Anna",
        "language": "de",
        "status": "subscribed",
        "subscribed_at": "2025-01-02",
        "unsubscribed_at": "",
        "source": "store",
    }
    imported = row_to_message(row, mapping) | {"messageId": "import-1"}
    mail = message(
        at=1,
        event="Email Delivered",
        anonymousId="nl-00000001",
        context={"traits": {"email": "anna.meier@googlemail.com"}},
    )
    assert imported["anonymousId"] == "nl-00000001"
    first, second = feed(imported, mail)
    assert first == second
