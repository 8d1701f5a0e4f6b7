"""Routes of identity resolution: the workspace's identity rules, run the master-record
matcher, decide queued pairs, undo a wrong merge."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Query, Request
from fastapi.concurrency import run_in_threadpool
from pydantic import BaseModel, ConfigDict, Field, model_validator
from sqlalchemy import select

from coreo.auth.dependencies import require_scope
from coreo.auth.service import Principal
from coreo.identity import master, unmerge
from coreo.identity import service as identity_service
from coreo.identity.matching import MatchConfig
from coreo.identity.models import IdentityRulesRow, MatchReview
from coreo.identity.rules import DEFAULT_RULES, IdentityRules
from coreo.profiles.stage import merge_traits, rederive_traits
from coreo.traits.stage import merge_computed_traits, rederive_computed_traits
from coreo.web.dependencies import AdminKey, CallerSession, require_json_body
from coreo.web.problems import PROBLEM_MEDIA_TYPE
from coreo.web.state import runtime

__all__ = ["router"]

router = APIRouter(prefix="/v1/identity", tags=["identity"])
ReadKey = Annotated[Principal, Depends(require_scope("profiles:read"))]
WriteKey = Annotated[Principal, Depends(require_scope("profiles:write"))]


class RulesRead(BaseModel):
    rules: IdentityRules
    version: int = Field(description="0 while the workspace uses the defaults.")
    default: bool
    updated_at: datetime | None
    updated_by: str | None


def _rules(row: IdentityRulesRow | None) -> RulesRead:
    if row is None:
        return RulesRead(
            rules=DEFAULT_RULES, version=0, default=True, updated_at=None, updated_by=None
        )
    return RulesRead(
        rules=IdentityRules.model_validate(row.rules),
        version=row.version,
        default=False,
        updated_at=row.updated_at,
        updated_by=row.updated_by,
    )


@router.get("/rules", response_model=RulesRead, summary="The workspace's identity rules")
def read_rules(principal: ReadKey, session: CallerSession) -> RulesRead:
    """Which identifier types link profiles, their priority and limits, where identifiers
    are read from, how e-mail addresses are keyed and which placeholders are ignored. A
    workspace that never set its own answers the defaults (``default: true``)."""
    return _rules(session.get(IdentityRulesRow, principal.workspace_id))


@router.put(
    "/rules",
    response_model=RulesRead,
    summary="Replace the workspace's identity rules (admin)",
    dependencies=[Depends(require_json_body)],
)
def put_rules(body: IdentityRules, principal: AdminKey, session: CallerSession) -> RulesRead:
    """The whole rule set, as ``GET`` returns it under ``rules``; a field left out takes its
    default. The rules apply to events resolved from now on; profiles already linked stay
    as they are. Audited as ``identity.rules_changed``."""
    row = identity_service.put_rules(session, principal.workspace_id, body, actor=principal.actor)
    return _rules(row)


@router.delete(
    "/rules", response_model=RulesRead, summary="Return to the default identity rules (admin)"
)
def reset_rules(principal: AdminKey, session: CallerSession) -> RulesRead:
    identity_service.put_rules(session, principal.workspace_id, None, actor=principal.actor)
    return _rules(None)


class MatchRunRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    sources: list[str] = Field(
        default_factory=lambda: list(master.MASTER_SOURCES),
        min_length=1,
        description="Trait sources whose profiles are master records.",
    )
    auto_merge: float = Field(0.99, gt=0, le=1)
    review: float | None = Field(
        None, gt=0, le=1, description="Default: 0.5, or auto_merge when that is lower."
    )

    @model_validator(mode="after")
    def _ordered(self) -> MatchRunRequest:
        if self.review is not None and self.review > self.auto_merge:
            raise ValueError("review must not exceed auto_merge")
        return self


class MatchRunRead(BaseModel):
    records: int
    pairs: int
    merged: int
    refused: int
    queued: int


class ReviewRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: str
    left_id: str
    right_id: str
    probability: float
    weight: float
    explanation: list[dict[str, Any]]
    status: Literal["open", "accepted", "rejected"]
    created_at: datetime
    decided_at: datetime | None
    decided_by: str | None
    outcome: str | None


class ReviewPage(BaseModel):
    items: list[ReviewRead]


@router.post(
    "/matching/run",
    response_model=MatchRunRead,
    summary="Match master records: merge sure pairs, queue likely ones for review",
    dependencies=[Depends(require_json_body)],
)
async def run_matching(
    body: MatchRunRequest, request: Request, principal: WriteKey
) -> MatchRunRead:
    review = body.review if body.review is not None else min(0.5, body.auto_merge)
    settings = runtime(request).settings
    config = MatchConfig(
        auto_merge=body.auto_merge,
        review=review,
        backend=settings.matching_backend.value,
        spark_master=settings.matching_spark_master,
    )
    run = await run_in_threadpool(
        master.run_matching,
        runtime(request).database,
        workspace_id=principal.workspace_id,
        actor=principal.actor,
        sources=body.sources,
        config=config,
        on_merge=(merge_traits, merge_computed_traits),
    )
    return MatchRunRead(
        records=run.records,
        pairs=run.pairs,
        merged=run.merged,
        refused=run.refused,
        queued=run.queued,
    )


@router.get("/reviews", response_model=ReviewPage, summary="Pairs waiting for a decision")
def list_reviews(
    principal: ReadKey,
    session: CallerSession,
    status: Annotated[Literal["open", "accepted", "rejected"], Query()] = "open",
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
) -> ReviewPage:
    rows = session.scalars(
        select(MatchReview)
        .where(MatchReview.workspace_id == principal.workspace_id, MatchReview.status == status)
        .order_by(MatchReview.probability.desc(), MatchReview.id)
        .limit(limit)
    )
    return ReviewPage(items=[ReviewRead.model_validate(r) for r in rows])


def _decide(
    session: CallerSession, principal: Principal, review_id: str, accept: bool
) -> ReviewRead:
    review = master.decide_review(
        session,
        workspace_id=principal.workspace_id,
        review_id=review_id,
        accept=accept,
        actor=principal.actor,
        on_merge=(merge_traits, merge_computed_traits),
    )
    return ReviewRead.model_validate(review)


@router.post("/reviews/{review_id}/accept", response_model=ReviewRead, summary="Merge the pair")
def accept_review(review_id: str, principal: WriteKey, session: CallerSession) -> ReviewRead:
    return _decide(session, principal, review_id, accept=True)


@router.post("/reviews/{review_id}/reject", response_model=ReviewRead, summary="Keep them apart")
def reject_review(review_id: str, principal: WriteKey, session: CallerSession) -> ReviewRead:
    return _decide(session, principal, review_id, accept=False)


class IdentifierRead(BaseModel):
    type: str
    value: str


class UnmergeRead(BaseModel):
    """An undone merge: the two profiles, now kept apart for good, and what each holds."""

    merge_id: str
    survivor_id: str
    merged_id: str
    split_id: str
    undone_at: datetime
    survivor_identities: list[IdentifierRead]
    merged_identities: list[IdentifierRead]
    events_moved: int = Field(description="Events now attributed to the other profile.")
    profiles_moved: list[str] = Field(
        description="Profiles merged in after the undone merge that went with the merged one."
    )


@router.post(
    "/merges/{merge_id}/undo",
    response_model=UnmergeRead,
    summary="Undo a wrong merge: split the profiles and re-derive both from their events",
    responses={
        409: {
            "content": {PROBLEM_MEDIA_TYPE: {"schema": {"$ref": "#/components/schemas/Problem"}}},
            "description": "Already undone, or the survivor was merged away since.",
        }
    },
)
def undo_merge(merge_id: str, principal: WriteKey, session: CallerSession) -> UnmergeRead:
    """The merged profile comes back with the identifiers it brought and those its events
    link to it since; events and traits are re-derived from the history, and the two are
    never merged again. Audited as ``identity.merge.undone``."""
    done = unmerge.undo_merge(
        session,
        workspace_id=principal.workspace_id,
        merge_id=merge_id,
        actor=principal.actor,
        on_rederive=(rederive_traits, rederive_computed_traits),
    )
    held = done.identities
    return UnmergeRead(
        merge_id=done.merge_id,
        survivor_id=done.survivor_id,
        merged_id=done.merged_id,
        split_id=done.split_id,
        undone_at=done.undone_at,
        survivor_identities=[
            IdentifierRead(type=i.type, value=i.value) for i in held[done.survivor_id]
        ],
        merged_identities=[
            IdentifierRead(type=i.type, value=i.value) for i in held[done.merged_id]
        ],
        events_moved=done.events_moved,
        profiles_moved=done.profiles_moved,
    )
