"""The global suppression list: erasure tombstones, restrictions and objections.

* An erased person leaves one tombstone per identifier: the keyed hash (HMAC-SHA256 under a
  key derived from the master key) of workspace, identifier type and value. The pipeline
  drops later events carrying such an identifier, unless the event itself carries new
  consent: then the tombstones it matched are lifted and the person starts afresh.
* A restriction (GDPR Art. 18) or an objection (Art. 21(1)) names a live profile; the
  policy check (``coreo.consent.service.check``) applies them to every purpose.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Sequence
from datetime import datetime
from typing import Literal

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from coreo.db import utcnow
from coreo.identity.rules import email_key
from coreo.ids import new_id
from coreo.privacy.keys import proof_hash
from coreo.privacy.models import Suppression

__all__ = [
    "active_for_profiles",
    "add_flag",
    "add_tombstones",
    "any_tombstones",
    "identifier_hash",
    "lift",
    "lookup_forms",
    "restricted",
    "tombstone_forms",
    "tombstoned",
]


def identifier_hash(key: bytes, workspace_id: str, type_: str, value: str) -> str:
    return proof_hash(key, f"{workspace_id}\x1f{type_}\x1f{value}")


# An e-mail tombstone also names the erased address's mailbox (``email_key`` with
# ``mailbox``: sub-address dropped, Gmail's dots and googlemail.com folded), under one of
# two types, by the workspace's ``email_key`` at the erasure:
_WHOLE_MAILBOX = "email:mailbox"  # mailbox keys then: every variant of it was the person's
_IF_MAILBOX_KEYS = "email:exact"  # exact keys then: its mailbox, while mailbox keys are used


def _mailboxes(identifiers: Iterable[tuple[str, str]]) -> set[str]:
    return {
        mailbox
        for kind, value in identifiers
        if kind == "email" and (mailbox := email_key(value, mailbox=True)) is not None
    }


def tombstone_forms(
    identifiers: Iterable[tuple[str, str]], *, mailbox_keys: bool
) -> set[tuple[str, str]]:
    """The (type, value) forms an erased person's identifiers are tombstoned under, while
    the workspace keys e-mail addresses by mailbox (``mailbox_keys``) or exactly: each as
    stored, and each e-mail address's mailbox too (see ``lookup_forms``)."""
    listed = set(identifiers)
    kind = _WHOLE_MAILBOX if mailbox_keys else _IF_MAILBOX_KEYS
    return listed | {(kind, mailbox) for mailbox in _mailboxes(listed)}


def lookup_forms(
    identifiers: Iterable[tuple[str, str]], *, mailbox_keys: bool
) -> set[tuple[str, str]]:
    """The forms an event's identifiers (keyed as the rules in force key them) are looked up
    under. An address matches a tombstone when the two are one identifier under the rules
    of the erasure or under those in force: an erasure under mailbox keys covers every
    variant of the mailbox whatever the rules are now; one under exact keys covers its
    address, and its variants only while the workspace keys e-mails by mailbox. So a
    tombstone holds when ``email_key`` changes, and a workspace that keys exactly (to keep
    ``info+anna@shop.ch`` and ``info@shop.ch`` apart) suppresses no one who shares a
    mailbox with an erased person."""
    listed = set(identifiers)
    mailboxes = _mailboxes(listed)
    listed |= {(_WHOLE_MAILBOX, mailbox) for mailbox in mailboxes}
    if mailbox_keys:
        listed |= {(_IF_MAILBOX_KEYS, mailbox) for mailbox in mailboxes}
    return listed


def add_tombstones(
    session: Session,
    workspace_id: str,
    key: bytes,
    identifiers: Iterable[tuple[str, str]],
    *,
    request_id: str | None,
    mailbox_keys: bool,
) -> int:
    """Tombstone the identifiers (``tombstone_forms``); returns how many tombstones name
    them."""
    forms = tombstone_forms(identifiers, mailbox_keys=mailbox_keys)
    hashes = sorted({identifier_hash(key, workspace_id, t, v) for t, v in forms})
    now = utcnow()
    known = set(tombstoned(session, workspace_id, hashes))
    for key_hash in hashes:
        if key_hash not in known:
            session.add(
                Suppression(
                    id=new_id("sup"),
                    workspace_id=workspace_id,
                    kind="erasure",
                    key_hash=key_hash,
                    request_id=request_id,
                    created_at=now,
                )
            )
    session.flush()
    return len(hashes)


def tombstoned(session: Session, workspace_id: str, hashes: Collection[str]) -> dict[str, str]:
    """The hashes among ``hashes`` with a live tombstone → its id."""
    if not hashes:
        return {}
    rows = session.execute(
        select(Suppression.key_hash, Suppression.id).where(
            Suppression.workspace_id == workspace_id,
            Suppression.kind == "erasure",
            Suppression.lifted_at.is_(None),
            Suppression.key_hash.in_(sorted(hashes)),
        )
    )
    return {str(h): str(i) for h, i in rows}


def any_tombstones(session: Session, workspace_id: str) -> bool:
    return (
        session.scalar(
            select(Suppression.id)
            .where(
                Suppression.workspace_id == workspace_id,
                Suppression.kind == "erasure",
                Suppression.lifted_at.is_(None),
            )
            .limit(1)
        )
        is not None
    )


def add_flag(
    session: Session,
    workspace_id: str,
    profile_id: str,
    kind: Literal["restriction", "objection"],
    *,
    request_id: str | None,
) -> Suppression:
    existing = active_for_profiles(session, workspace_id, [profile_id])
    for row in existing:
        if row.kind == kind:
            return row
    row = Suppression(
        id=new_id("sup"),
        workspace_id=workspace_id,
        kind=kind,
        profile_id=profile_id,
        request_id=request_id,
        created_at=utcnow(),
    )
    session.add(row)
    session.flush()
    return row


def active_for_profiles(
    session: Session, workspace_id: str, profile_ids: Sequence[str]
) -> list[Suppression]:
    """Live restrictions and objections of these profiles, oldest first."""
    return list(
        session.scalars(
            select(Suppression)
            .where(
                Suppression.workspace_id == workspace_id,
                Suppression.profile_id.in_(sorted(profile_ids)),
                Suppression.lifted_at.is_(None),
            )
            .order_by(Suppression.created_at, Suppression.id)
        )
    )


def restricted(session: Session, workspace_id: str, profile_ids: Collection[str]) -> set[str]:
    """The profiles among ``profile_ids`` under a live restriction."""
    if not profile_ids:
        return set()
    return {
        str(p)
        for p in session.scalars(
            select(Suppression.profile_id).where(
                Suppression.workspace_id == workspace_id,
                Suppression.kind == "restriction",
                Suppression.lifted_at.is_(None),
                Suppression.profile_id.in_(sorted(profile_ids)),
            )
        )
    }


def lift(
    session: Session, workspace_id: str, ids: Collection[str], reason: str, *, at: datetime
) -> None:
    if ids:
        session.execute(
            update(Suppression)
            .where(Suppression.workspace_id == workspace_id, Suppression.id.in_(sorted(ids)))
            .values(lifted_at=at, lifted_reason=reason)
        )
