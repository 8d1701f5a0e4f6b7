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
    "restricted",
    "tombstone_forms",
    "tombstoned",
]


def identifier_hash(key: bytes, workspace_id: str, type_: str, value: str) -> str:
    return proof_hash(key, f"{workspace_id}\x1f{type_}\x1f{value}")


def tombstone_forms(identifiers: Iterable[tuple[str, str]]) -> set[tuple[str, str]]:
    """The (type, value) forms a tombstone is made and looked up under: each identifier as
    given, and an e-mail address also as its mailbox (sub-address dropped, Gmail's dots and
    googlemail.com folded). So a tombstone made while the workspace keyed e-mails exactly
    still matches after it switched to mailboxes (and back), and every variant of an erased
    person's mailbox is theirs."""
    forms = set(identifiers)
    for kind, value in list(forms):
        if kind == "email" and (mailbox := email_key(value, mailbox=True)) is not None:
            forms.add((kind, mailbox))
    return forms


def add_tombstones(
    session: Session,
    workspace_id: str,
    key: bytes,
    identifiers: Iterable[tuple[str, str]],
    *,
    request_id: str | None,
) -> int:
    hashes = sorted(
        {identifier_hash(key, workspace_id, t, v) for t, v in tombstone_forms(identifiers)}
    )
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
