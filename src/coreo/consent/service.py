"""The consent ledger and the policy check every use of personal data goes through.

``record`` appends a person's decision (granted, denied, withdrawn; or an objection to
direct marketing) with its legal basis, source, notice and proof; nothing is ever
rewritten. ``check(profile, purpose, channel)`` derives the current state from the ledger
at the moment it is asked, so a withdrawal takes effect for the very next check:

1. an objection to direct marketing (GDPR Art. 21(2)) stops every direct-marketing
   purpose (marketing on every channel, and the profiling done for it);
2. otherwise the newest record for the purpose on that channel (or for the purpose as a
   whole) decides: granted allows it on the record's basis, denied or withdrawn does not;
3. with no record, the purpose's default basis applies if it has one (``necessary``:
   contract); otherwise it is not allowed: no consent on record.

A profile's ledger includes the records of the profiles merged into it.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Literal, cast

from sqlalchemy import select
from sqlalchemy.orm import Session

from coreo.audit import service as audit_service
from coreo.consent.models import ConsentRecord
from coreo.consent.purposes import LegalBasis, Purpose, purpose_named
from coreo.db import utcnow
from coreo.errors import InvalidInputError, NotFoundError
from coreo.identity.models import Profile
from coreo.identity.service import cluster_members
from coreo.ids import new_id
from coreo.privacy.keys import proof_hash

__all__ = [
    "ConsentInput",
    "Decision",
    "Status",
    "check",
    "decide",
    "ledger",
    "notice_hash",
    "record",
    "subject",
]

Status = Literal["granted", "denied", "withdrawn"]


@dataclass(frozen=True, slots=True)
class ConsentInput:
    """A person's decision as it reaches us (the proof's IP and user agent in clear; they
    are stored only as keyed hashes)."""

    purpose: str
    status: Status
    legal_basis: LegalBasis = "consent"
    channel: str | None = None
    objection: bool = False
    source: str = "api"
    collection_point: str | None = None
    notice_version: str | None = None
    notice_hash: str | None = None
    at: datetime | None = None
    ip: str | None = None
    user_agent: str | None = None


@dataclass(frozen=True, slots=True)
class Decision:
    """May personal data be used for this purpose (and channel)?"""

    allowed: bool
    reason: str
    legal_basis: LegalBasis | None
    entry_id: str | None  # the ledger record that decided, if one did


def notice_hash(text: str) -> str:
    """The SHA-256 of a notice's text, as the ledger keeps it."""
    return hashlib.sha256(text.encode()).hexdigest()


def _purpose(name: str, channel: str | None, *, field: str = "purpose") -> Purpose:
    purpose = purpose_named(name)
    if purpose is None:
        raise InvalidInputError(f"unknown purpose {name!r}", field=field)
    if channel is not None and channel not in purpose.channels:
        allowed = ", ".join(purpose.channels) or "none (it is not given per channel)"
        raise InvalidInputError(
            f"{name} has no channel {channel!r}; its channels: {allowed}", field="channel"
        )
    return purpose


def subject(session: Session, workspace_id: str, profile_id: str) -> str:
    """The live profile a consent is about (a merged id stands for its survivor)."""
    row = session.execute(
        select(Profile.id, Profile.merged_into).where(
            Profile.workspace_id == workspace_id, Profile.id == profile_id
        )
    ).first()
    if row is None:
        raise NotFoundError(f"no profile {profile_id!r}")
    return str(row.merged_into or row.id)


def record(
    session: Session,
    workspace_id: str,
    profile_id: str,
    consent: ConsentInput,
    *,
    actor: str,
    proof_key: bytes,
) -> ConsentRecord:
    """Append a decision to the ledger (audited as ``consent.recorded``)."""
    purpose = _purpose(consent.purpose, consent.channel)
    if consent.legal_basis not in purpose.legal_bases:
        bases = ", ".join(purpose.legal_bases)
        raise InvalidInputError(
            f"{purpose.name} cannot rest on {consent.legal_basis}; allowed: {bases}",
            field="legal_basis",
        )
    if consent.objection and not purpose.direct_marketing:
        raise InvalidInputError(
            "an objection (GDPR Art. 21) is recorded against direct marketing: use purpose "
            "marketing or personalisation",
            field="objection",
        )
    if consent.objection and consent.status != "withdrawn":
        raise InvalidInputError("an objection has status withdrawn", field="status")
    now = utcnow()
    at = consent.at or now
    if at > now:
        raise InvalidInputError("a decision cannot lie in the future", field="at")
    row = ConsentRecord(
        id=new_id("cns"),
        workspace_id=workspace_id,
        profile_id=subject(session, workspace_id, profile_id),
        purpose=purpose.name,
        channel=consent.channel,
        status=consent.status,
        objection=consent.objection,
        legal_basis=consent.legal_basis,
        source=consent.source,
        collection_point=consent.collection_point,
        notice_version=consent.notice_version,
        notice_hash=consent.notice_hash,
        ip_hash=proof_hash(proof_key, consent.ip) if consent.ip else None,
        user_agent_hash=proof_hash(proof_key, consent.user_agent) if consent.user_agent else None,
        actor=actor,
        at=at,
        recorded_at=now,
    )
    session.add(row)
    audit_service.record(
        session=session,
        chain=workspace_id,
        actor=actor,
        action="consent.recorded",
        target=f"profile:{row.profile_id}",
        details={
            "record": row.id,
            "purpose": row.purpose,
            "channel": row.channel,
            "status": row.status,
            "objection": row.objection,
            "legal_basis": row.legal_basis,
        },
    )
    session.flush()
    return row


def ledger(session: Session, workspace_id: str, profile_id: str) -> list[ConsentRecord]:
    """Every record about the profile and the profiles merged into it, oldest first."""
    live = subject(session, workspace_id, profile_id)
    members = sorted(cluster_members(session, workspace_id, [live]))
    return list(
        session.scalars(
            select(ConsentRecord)
            .where(
                ConsentRecord.workspace_id == workspace_id,
                ConsentRecord.profile_id.in_(members),
            )
            .order_by(ConsentRecord.at, ConsentRecord.recorded_at, ConsentRecord.id)
        )
    )


def decide(
    records: Sequence[ConsentRecord], purpose_name: str, channel: str | None = None
) -> Decision:
    """The decision the ledger ``records`` (oldest first) gives for a purpose and channel."""
    purpose = _purpose(purpose_name, channel)
    if purpose.channels and channel is None:
        raise InvalidInputError(
            f"{purpose.name} is given per channel: name one of {', '.join(purpose.channels)}",
            field="channel",
        )
    relevant = [
        r
        for r in records
        if r.purpose == purpose.name and (r.channel is None or r.channel == channel)
    ]
    last = relevant[-1] if relevant else None
    objection = next((r for r in reversed(records) if r.objection), None)
    if purpose.direct_marketing and objection is not None:
        lifted = (  # a consent given after the objection lifts it for what it covers
            last is not None
            and last.status == "granted"
            and last.legal_basis == "consent"
            and (last.at, last.recorded_at) > (objection.at, objection.recorded_at)
        )
        if not lifted:
            return Decision(
                False,
                f"the person objected to direct marketing on {objection.at:%Y-%m-%d} "
                "(GDPR Art. 21)",
                None,
                objection.id,
            )
    if last is not None:
        where = f" for {channel}" if channel else ""
        if last.status == "granted":
            return Decision(
                True,
                f"granted{where} on {last.at:%Y-%m-%d} ({last.legal_basis})",
                cast(LegalBasis, last.legal_basis),
                last.id,
            )
        return Decision(False, f"{last.status}{where} on {last.at:%Y-%m-%d}", None, last.id)
    if purpose.default_basis is not None:
        return Decision(
            True, f"no decision on record: {purpose.default_basis}", purpose.default_basis, None
        )
    return Decision(False, "no consent on record", None, None)


def check(
    session: Session, workspace_id: str, profile_id: str, purpose: str, channel: str | None = None
) -> Decision:
    """May the profile's personal data be used for ``purpose`` (on ``channel``) now?"""
    _purpose(purpose, channel)
    return decide(ledger(session, workspace_id, profile_id), purpose, channel)
