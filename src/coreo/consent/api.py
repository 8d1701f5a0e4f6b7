"""Routes of consent: record a person's decision (``consent:write``), read a profile's
ledger and current state, and ask the policy check (``profiles:read``)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Query, Request
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, model_validator

from coreo.auth.dependencies import require_scope
from coreo.auth.service import Principal
from coreo.consent import service
from coreo.consent.purposes import (
    CHANNEL_PATTERN,
    DEFAULT_TAXONOMY,
    PURPOSE_PATTERN,
    LegalBasis,
    Taxonomy,
)
from coreo.consent.taxonomy import put_taxonomy, taxonomy_for
from coreo.identity.service import cluster_members
from coreo.privacy.crypto import hash_key
from coreo.web.dependencies import AdminKey, CallerSession, require_json_body
from coreo.web.problems import PROBLEM_MEDIA_TYPE
from coreo.web.state import runtime

__all__ = ["router"]

router = APIRouter(prefix="/v1", tags=["consent"])
ReadKey = Annotated[Principal, Depends(require_scope("profiles:read"))]
ConsentKey = Annotated[Principal, Depends(require_scope("consent:write"))]
_NO_PROFILE: dict[int | str, dict[str, Any]] = {
    404: {
        "description": "No such profile.",
        "content": {PROBLEM_MEDIA_TYPE: {"schema": {"$ref": "#/components/schemas/Problem"}}},
    }
}


class Proof(BaseModel):
    model_config = ConfigDict(extra="forbid")

    ip: str | None = Field(None, max_length=100, description="Stored as a keyed hash only.")
    user_agent: str | None = Field(None, max_length=1000, description="Keyed hash only.")


class ConsentWrite(BaseModel):
    model_config = ConfigDict(extra="forbid")

    profile_id: str = Field(min_length=1, max_length=32)
    purpose: str = Field(pattern=PURPOSE_PATTERN, examples=["marketing"])
    channel: str | None = Field(
        None, pattern=CHANNEL_PATTERN, description="Required for marketing.", examples=["email"]
    )
    status: Literal["granted", "denied", "withdrawn"]
    legal_basis: LegalBasis = "consent"
    objection: bool = Field(
        False, description="An objection to direct marketing (GDPR Art. 21): status withdrawn."
    )
    collection_point: str | None = Field(None, max_length=200, examples=["checkout/newsletter"])
    notice_version: str | None = Field(None, max_length=64)
    notice_text: str | None = Field(
        None, max_length=100_000, description="The notice shown; only its SHA-256 is kept."
    )
    notice_hash: str | None = Field(None, pattern=r"^[0-9a-f]{64}$")
    at: AwareDatetime | None = Field(None, description="When the person decided (default: now).")
    proof: Proof | None = None

    @model_validator(mode="after")
    def _one_notice(self) -> ConsentWrite:
        if self.notice_text is not None and self.notice_hash is not None:
            raise ValueError("give notice_text or notice_hash, not both")
        return self


class ConsentRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: str
    profile_id: str
    purpose: str
    channel: str | None
    status: str
    objection: bool
    legal_basis: str
    source: str
    collection_point: str | None
    notice_version: str | None
    notice_hash: str | None
    ip_hash: str | None
    user_agent_hash: str | None
    actor: str
    at: datetime
    recorded_at: datetime


class DecisionRead(BaseModel):
    purpose: str
    channel: str | None
    allowed: bool
    reason: str
    legal_basis: str | None
    entry_id: str | None


class ConsentState(BaseModel):
    profile_id: str
    current: list[DecisionRead] = Field(description="Every purpose (and channel), decided now.")
    records: list[ConsentRead] = Field(description="The ledger, oldest first.")


def _decision(purpose: str, channel: str | None, decision: service.Decision) -> DecisionRead:
    return DecisionRead(
        purpose=purpose,
        channel=channel,
        allowed=decision.allowed,
        reason=decision.reason,
        legal_basis=decision.legal_basis,
        entry_id=decision.entry_id,
    )


@router.post(
    "/consents",
    response_model=ConsentRead,
    status_code=201,
    summary="Record a person's consent decision (append-only)",
    dependencies=[Depends(require_json_body)],
    responses=_NO_PROFILE,
)
def record_consent(
    body: ConsentWrite, request: Request, principal: ConsentKey, session: CallerSession
) -> ConsentRead:
    """Grant, deny or withdraw a purpose (per channel for marketing), or object to direct
    marketing. Withdrawing is as easy as granting and counts for the next check. The IP
    address and user agent are kept as keyed hashes (proof), never in clear."""
    key = hash_key(session, "consent-proof", runtime(request).settings)
    proof = body.proof or Proof()
    row = service.record(
        session,
        principal.workspace_id,
        body.profile_id,
        service.ConsentInput(
            purpose=body.purpose,
            status=body.status,
            legal_basis=body.legal_basis,
            channel=body.channel,
            objection=body.objection,
            source="api",
            collection_point=body.collection_point,
            notice_version=body.notice_version,
            notice_hash=body.notice_hash
            or (service.notice_hash(body.notice_text) if body.notice_text is not None else None),
            at=body.at,
            ip=proof.ip,
            user_agent=proof.user_agent,
        ),
        actor=principal.actor,
        proof_key=key,
    )
    return ConsentRead.model_validate(row)


@router.get(
    "/profiles/{profile_id}/consents",
    response_model=ConsentState,
    summary="A profile's consents: the current decision per purpose and the ledger",
    responses=_NO_PROFILE,
)
def read_consents(profile_id: str, principal: ReadKey, session: CallerSession) -> ConsentState:
    live = service.subject(session, principal.workspace_id, profile_id)
    members = sorted(cluster_members(session, principal.workspace_id, [live]))
    records, flags = service.standing_of(session, principal.workspace_id, members)
    taxonomy = taxonomy_for(session, principal.workspace_id)
    current = [
        _decision(name, channel, service.decide(records, name, channel, flags, taxonomy))
        for name, channel in taxonomy.decisions()
    ]
    return ConsentState(
        profile_id=live,
        current=current,
        records=[ConsentRead.model_validate(r) for r in records],
    )


@router.get(
    "/consents/check",
    response_model=DecisionRead,
    summary="May this profile's data be used for a purpose (and channel) now?",
    responses=_NO_PROFILE,
)
def check_consent(
    principal: ReadKey,
    session: CallerSession,
    profile_id: Annotated[str, Query(min_length=1, max_length=32)],
    purpose: Annotated[str, Query(pattern=PURPOSE_PATTERN)],
    channel: Annotated[str | None, Query(pattern=CHANNEL_PATTERN)] = None,
) -> DecisionRead:
    decision = service.check(session, principal.workspace_id, profile_id, purpose, channel)
    return _decision(purpose, channel, decision)


class PurposesRead(BaseModel):
    taxonomy: Taxonomy
    custom: bool = Field(description="False: the installation's purposes apply.")


@router.get("/purposes", response_model=PurposesRead, summary="The workspace's purposes")
def read_purposes(principal: ReadKey, session: CallerSession) -> PurposesRead:
    """Every purpose with its legal bases, channels, retention and recipients, and how the
    consent banner's categories map onto them."""
    taxonomy = taxonomy_for(session, principal.workspace_id)
    return PurposesRead(taxonomy=taxonomy, custom=taxonomy is not DEFAULT_TAXONOMY)


@router.put(
    "/purposes",
    response_model=PurposesRead,
    summary="Replace the workspace's purposes (admin, audited)",
    dependencies=[Depends(require_json_body)],
)
def replace_purposes(body: Taxonomy, principal: AdminKey, session: CallerSession) -> PurposesRead:
    put_taxonomy(session, principal.workspace_id, body, actor=principal.actor)
    return PurposesRead(taxonomy=body, custom=True)


@router.delete(
    "/purposes", response_model=PurposesRead, summary="Back to the installation's purposes"
)
def reset_purposes(principal: AdminKey, session: CallerSession) -> PurposesRead:
    put_taxonomy(session, principal.workspace_id, None, actor=principal.actor)
    return PurposesRead(taxonomy=DEFAULT_TAXONOMY, custom=False)
