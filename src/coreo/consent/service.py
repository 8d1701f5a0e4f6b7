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
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Literal, cast

from sqlalchemy import select
from sqlalchemy.orm import Session

from coreo.audit import service as audit_service
from coreo.consent.models import ConsentRecord
from coreo.consent.purposes import DEFAULT_TAXONOMY, LegalBasis, Purpose, Taxonomy
from coreo.consent.taxonomy import taxonomy_for
from coreo.db import utcnow
from coreo.errors import InvalidInputError, NotFoundError
from coreo.identity.models import Profile
from coreo.identity.service import cluster_members
from coreo.ids import new_id
from coreo.privacy import suppression
from coreo.privacy.keys import proof_hash
from coreo.privacy.models import Suppression

__all__ = [
    "ConsentInput",
    "Decision",
    "Status",
    "check",
    "checker",
    "decide",
    "ledger",
    "notice_hash",
    "record",
    "standing",
    "standing_of",
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


def _purpose(
    name: str, channel: str | None, taxonomy: Taxonomy = DEFAULT_TAXONOMY, *, field: str = "purpose"
) -> Purpose:
    purpose = taxonomy.purpose(name)
    if purpose is None:
        known = ", ".join(taxonomy.purposes)
        raise InvalidInputError(f"unknown purpose {name!r}; this workspace's: {known}", field=field)
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
    taxonomy: Taxonomy | None = None,
) -> ConsentRecord:
    """Append a decision to the ledger (audited as ``consent.recorded``); ``taxonomy``: the
    workspace's, when the caller has read it already."""
    purpose = _purpose(
        consent.purpose, consent.channel, taxonomy or taxonomy_for(session, workspace_id)
    )
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


def _members(session: Session, workspace_id: str, profile_id: str) -> list[str]:
    live = subject(session, workspace_id, profile_id)
    return sorted(cluster_members(session, workspace_id, [live]))


def _records_of(session: Session, workspace_id: str, members: list[str]) -> list[ConsentRecord]:
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


def ledger(session: Session, workspace_id: str, profile_id: str) -> list[ConsentRecord]:
    """Every record about the profile and the profiles merged into it, oldest first."""
    return _records_of(session, workspace_id, _members(session, workspace_id, profile_id))


def standing(
    session: Session, workspace_id: str, profile_id: str
) -> tuple[list[ConsentRecord], list[Suppression]]:
    """The profile's ledger and its restrictions and objections (``decide``'s inputs),
    with the profile's cluster looked up once."""
    return standing_of(session, workspace_id, _members(session, workspace_id, profile_id))


def standing_of(
    session: Session, workspace_id: str, members: list[str]
) -> tuple[list[ConsentRecord], list[Suppression]]:
    """``standing`` for a cluster the caller has looked up (the live profile and those
    merged into it)."""
    flags = suppression.active_for_profiles(session, workspace_id, members)
    return _records_of(session, workspace_id, members), flags


def decide(
    records: Sequence[ConsentRecord],
    purpose_name: str,
    channel: str | None = None,
    flags: Sequence[Suppression] = (),
    taxonomy: Taxonomy = DEFAULT_TAXONOMY,
) -> Decision:
    """The decision the ledger ``records`` (oldest first) gives for a purpose and channel,
    under the profile's restrictions and objections (``flags``, from the suppression list)
    and the workspace's ``taxonomy``."""
    purpose = _purpose(purpose_name, channel, taxonomy)
    if purpose.channels and channel is None:
        raise InvalidInputError(
            f"{purpose.name} is given per channel: name one of {', '.join(purpose.channels)}",
            field="channel",
        )
    decision = _from_ledger(records, purpose, channel)
    for flag in flags:
        if flag.kind == "restriction":
            consented_since = (
                decision.allowed
                and decision.legal_basis == "consent"
                and any(r.id == decision.entry_id and r.at >= flag.created_at for r in records)
            )
            if not consented_since:  # Art. 18(2): only with the person's consent
                return Decision(
                    False,
                    f"processing is restricted since {flag.created_at:%Y-%m-%d} (GDPR Art. 18)",
                    None,
                    flag.id,
                )
        elif flag.kind == "objection" and decision.legal_basis == "legitimate_interest":
            return Decision(
                False,
                f"the person objected on {flag.created_at:%Y-%m-%d} to processing on "
                "legitimate interest (GDPR Art. 21(1))",
                None,
                flag.id,
            )
    return decision


def _from_ledger(
    records: Sequence[ConsentRecord], purpose: Purpose, channel: str | None
) -> Decision:
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


def checker(
    session: Session, workspace_id: str, purpose: str, channel: str | None = None
) -> Callable[[str | None], Decision]:
    """``check`` for many profiles of a workspace at once (an export): the ledger and the
    suppression list are read once; the returned function decides by profile id (a merged
    id counts for its survivor; None, an event no profile was found for, is refused)."""
    taxonomy = taxonomy_for(session, workspace_id)
    _purpose(purpose, channel, taxonomy)
    survivors = {
        str(pid): str(into)
        for pid, into in session.execute(
            select(Profile.id, Profile.merged_into).where(
                Profile.workspace_id == workspace_id, Profile.merged_into.is_not(None)
            )
        )
    }
    records: dict[str, list[ConsentRecord]] = {}
    for row in session.scalars(
        select(ConsentRecord)
        .where(ConsentRecord.workspace_id == workspace_id)
        .order_by(ConsentRecord.at, ConsentRecord.recorded_at, ConsentRecord.id)
    ):
        records.setdefault(survivors.get(row.profile_id, row.profile_id), []).append(row)
    flags: dict[str, list[Suppression]] = {}
    for flag in session.scalars(
        select(Suppression).where(
            Suppression.workspace_id == workspace_id,
            Suppression.profile_id.is_not(None),
            Suppression.lifted_at.is_(None),
        )
    ):
        live = survivors.get(str(flag.profile_id), str(flag.profile_id))
        flags.setdefault(live, []).append(flag)
    decided: dict[str, Decision] = {}
    nobody = Decision(False, "no profile", None, None)

    def decision(profile_id: str | None) -> Decision:
        if profile_id is None:
            return nobody
        live = survivors.get(profile_id, profile_id)
        if live not in decided:
            decided[live] = decide(
                records.get(live, []), purpose, channel, flags.get(live, []), taxonomy
            )
        return decided[live]

    return decision


def check(
    session: Session, workspace_id: str, profile_id: str, purpose: str, channel: str | None = None
) -> Decision:
    """May the profile's personal data be used for ``purpose`` (on ``channel``) now?
    The one policy check: the consent ledger, then the global suppression list."""
    taxonomy = taxonomy_for(session, workspace_id)
    _purpose(purpose, channel, taxonomy)
    records, flags = standing(session, workspace_id, profile_id)
    return decide(records, purpose, channel, flags, taxonomy)
